#pragma once
// Fused float32 CPU kernels for inference on small shapes, where ATen 1.13
// spends more on dispatch and separate passes than on arithmetic: the
// attention of one head over one sequence (for the packed encoder,
// PackedRows), and T5's gated GELU. Each runs 8 floats at a time; where the
// CPU has AVX2 (a second clone of the function, picked at load time), one
// instruction does 8.

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
// float32 rounding).
void softmax_rows(float* s, int64_t rows, int64_t cols, const float* bias, int64_t ld_bias);

// out[i] = gelu_tanh(a[i]) * b[i] for i < n (b nullptr: gelu_tanh(a[i])),
// gelu_tanh(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), HF's
// gelu_new, computed without cancellation as x e/(1 + e) or x/(1 + e) with
// e = exp(-2|u|). `out` may be `a` or `b`.
void gelu_tanh(const float* a, const float* b, float* out, int64_t n);

}  // namespace lorahub::t5::cpu
