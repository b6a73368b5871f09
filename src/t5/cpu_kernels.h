#pragma once
// Fused float32 CPU kernels for inference on small shapes, where ATen 1.13
// spends more on dispatch and separate passes than on arithmetic: the
// attention of one head over one sequence (its bmm runs one GEMM per
// (row, head), and bias and softmax as separate passes), and T5's gated
// GELU. Each runs 8 floats at a time; where the
// CPU has AVX2 (a second clone of the function, picked at load time), one
// instruction does 8.

#include <cstdint>

namespace lorahub::t5::cpu {

// out = softmax(q k^T + bias) v, without scaling (T5's convention), for one
// head of one sequence: q `q_len` rows of `d` floats, rows `ld_q` apart; k
// and v `k_len` rows, `ld_k` and `ld_v` apart; bias `q_len` rows of `k_len`
// floats, `ld_bias` apart (nullptr: none; masked keys carry the lowest
// float and get weight 0); out `q_len` rows of `d`, `ld_out` apart.
// `scores` is scratch of q_len * k_len floats.
void attention(const float* q, int64_t ld_q, const float* k, int64_t ld_k, const float* v, int64_t ld_v,
               int64_t q_len, int64_t k_len, int64_t d, const float* bias, int64_t ld_bias, float* out,
               int64_t ld_out, float* scores);

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
