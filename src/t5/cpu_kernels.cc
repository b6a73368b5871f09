#include "t5/cpu_kernels.h"

#include <cblas.h>

#include <cstring>
#include <limits>

// The helpers below take and return 32-byte vectors; they are always
// inlined into their caller's clone, so no call crosses the ABI GCC warns of.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace lorahub::t5::cpu {
namespace {

// Eight floats as one value: GCC and Clang lower the arithmetic to AVX2 in
// the avx2 clone of a function, to SSE pairs in the default one.
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline f8 load(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline f8 broadcast(float x) { return f8{} + x; }
[[gnu::always_inline]] inline f8 max(f8 a, f8 b) { return a > b ? a : b; }
[[gnu::always_inline]] inline float max(float a, float b) { return a > b ? a : b; }
[[gnu::always_inline]] inline f8 abs(f8 a) { return a < 0.0f ? -a : a; }
[[gnu::always_inline]] inline float abs(float a) { return a < 0.0f ? -a : a; }
// `if_negative` where u < 0, `otherwise` elsewhere.
[[gnu::always_inline]] inline f8 select_negative(f8 u, f8 if_negative, f8 otherwise) { return u < 0.0f ? if_negative : otherwise; }
[[gnu::always_inline]] inline float select_negative(float u, float if_negative, float otherwise) {
  return u < 0.0f ? if_negative : otherwise;
}
[[gnu::always_inline]] inline i8 to_int(f8 x) { return __builtin_convertvector(x, i8); }
[[gnu::always_inline]] inline int32_t to_int(float x) { return static_cast<int32_t>(x); }
[[gnu::always_inline]] inline f8 from_bits(i8 b) { return (f8)b; }  // a vector cast keeps the bits
[[gnu::always_inline]] inline float from_bits(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// `r` where t >= limit, 0 below.
[[gnu::always_inline]] inline f8 zero_below(f8 t, float limit, f8 r) { return t < limit ? f8{} : r; }
[[gnu::always_inline]] inline float zero_below(float t, float limit, float r) { return t < limit ? 0.0f : r; }

// exp(x) for x <= 0 (a softmax argument less its row maximum), the same
// arithmetic for one float or eight: x log2(e) = n + f with n an integer and
// |f| <= 1/2, 2^f by its Taylor polynomial of degree 7 (relative error
// below 1e-8), 2^n in the exponent bits. Results below 2^-126 (float32's
// smallest normal) are 0.
template <class V>
[[gnu::always_inline]] inline V exp_nonpositive(V x) {
  const V t = x * 1.4426950408889634f;
  const V clamped = max(t, V{} + -126.0f);
  const V n = (clamped + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
  const V f = (clamped - n) * 0.6931471805599453f;    // 2^(t - n) = e^f
  V p = V{} + 1.0f / 5040;
  p = p * f + 1.0f / 720;
  p = p * f + 1.0f / 120;
  p = p * f + 1.0f / 24;
  p = p * f + 1.0f / 6;
  p = p * f + 0.5f;
  p = p * f + 1.0f;
  p = p * f + 1.0f;
  return zero_below(t, -126.0f, p * from_bits((to_int(n) + 127) << 23));
}

}  // namespace

__attribute__((target_clones("avx2", "default"))) void softmax_rows(float* s, int64_t rows, int64_t cols,
                                                                    const float* bias, int64_t ld_bias) {
  const int64_t wide = cols / 8 * 8;
  for (int64_t i = 0; i < rows; ++i) {
    float* r = s + i * cols;
    const float* b = bias ? bias + i * ld_bias : nullptr;
    f8 m8 = broadcast(std::numeric_limits<float>::lowest());
    for (int64_t j = 0; j < wide; j += 8) {
      f8 x = load(r + j);
      if (b) x += load(b + j);
      store(r + j, x);
      m8 = max(m8, x);
    }
    float m = std::numeric_limits<float>::lowest();
    for (int lane = 0; lane < 8; ++lane) m = max(m, m8[lane]);
    for (int64_t j = wide; j < cols; ++j) {
      if (b) r[j] += b[j];
      m = max(m, r[j]);
    }
    f8 sum8{};
    for (int64_t j = 0; j < wide; j += 8) {
      const f8 e = exp_nonpositive(load(r + j) - m);
      store(r + j, e);
      sum8 += e;
    }
    float sum = 0;
    for (int lane = 0; lane < 8; ++lane) sum += sum8[lane];
    for (int64_t j = wide; j < cols; ++j) sum += r[j] = exp_nonpositive(r[j] - m);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < wide; j += 8) store(r + j, load(r + j) * inv);
    for (int64_t j = wide; j < cols; ++j) r[j] *= inv;
  }
}

namespace {
// x e / (1 + e) for u < 0, x / (1 + e) otherwise, e = exp(-2|u|): gelu_tanh
// as x (1 + tanh u) / 2 without cancellation.
template <class V>
[[gnu::always_inline]] inline V gelu_tanh_of(V x) {
  const V u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  const V e = exp_nonpositive(-2.0f * abs(u));
  return select_negative(u, x * e, x) / (1.0f + e);
}
}  // namespace

__attribute__((target_clones("avx2", "default"))) void gelu_tanh(const float* a, const float* b, float* out,
                                                                 int64_t n) {
  const int64_t wide = n / 8 * 8;
  for (int64_t i = 0; i < wide; i += 8) {
    f8 y = gelu_tanh_of(load(a + i));
    if (b) y *= load(b + i);
    store(out + i, y);
  }
  for (int64_t i = wide; i < n; ++i) out[i] = gelu_tanh_of(a[i]) * (b ? b[i] : 1.0f);
}

void attention(const float* q, int64_t ld_q, const float* k, int64_t ld_k, const float* v, int64_t ld_v,
               int64_t q_len, int64_t k_len, int64_t d, const float* bias, int64_t ld_bias, float* out,
               int64_t ld_out, float* scores) {
  const auto m = static_cast<int>(q_len), n = static_cast<int>(k_len), dk = static_cast<int>(d);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, dk, 1.0f, q, static_cast<int>(ld_q), k,
              static_cast<int>(ld_k), 0.0f, scores, n);
  softmax_rows(scores, q_len, k_len, bias, ld_bias);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, dk, n, 1.0f, scores, n, v, static_cast<int>(ld_v), 0.0f,
              out, static_cast<int>(ld_out));
}

}  // namespace lorahub::t5::cpu
