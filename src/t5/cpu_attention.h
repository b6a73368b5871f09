#pragma once
// Self-attention of one head over one sequence on the CPU, float32, fused:
// two BLAS products around a vectorised softmax. For the packed encoder
// (PackedRows), whose per-example blocks are too small for ATen's bmm, which
// dispatches one GEMM per (row, head) and runs softmax and bias as separate
// passes.

#include <cstdint>

namespace lorahub::t5::cpu {

// out = softmax(q k^T + bias) v, without scaling (T5's convention).
// q, k, v: `len` rows of `d` floats, rows `ld_q`, `ld_k`, `ld_v` apart;
// bias: `len` rows of `len` floats, `ld_bias` apart (nullptr: none); out:
// `len` rows of `d`, `ld_out` apart. `scores` is scratch of len * len floats.
void attention_head(const float* q, int64_t ld_q, const float* k, int64_t ld_k, const float* v, int64_t ld_v,
                    int64_t len, int64_t d, const float* bias, int64_t ld_bias, float* out, int64_t ld_out,
                    float* scores);

// Row-wise softmax of `rows` x `cols` floats (rows `cols` apart), in place,
// after adding `bias` (rows `ld_bias` apart; nullptr: none). exp is a
// degree-7 polynomial after range reduction (relative error below 1e-8 past
// float32 rounding), run 8 lanes wide; where the CPU has AVX2 (a second
// clone of the function, picked at load time), one instruction does 8.
void softmax_rows(float* s, int64_t rows, int64_t cols, const float* bias, int64_t ld_bias);

}  // namespace lorahub::t5::cpu
