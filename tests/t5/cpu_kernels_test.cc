// The fused CPU attention against ATen in float64: the softmax alone (its
// polynomial exp, its 8-wide and scalar parts), then whole heads read from
// strided rows as the packed encoder passes them.

#include "t5/cpu_kernels.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace lorahub::t5 {
namespace {

TEST(CpuKernels, SoftmaxRowsEqualsFloat64SoftmaxOfScoresPlusBias) {
  at::manual_seed(3);
  // Widths below, at and around the 8-lane width; scores spread wide enough
  // that some probabilities are ~1e-30.
  for (int64_t cols : {1, 7, 8, 9, 16, 140, 333}) {
    const int64_t rows = 5, ld_bias = cols + 3;
    const at::Tensor scores = at::randn({rows, cols}) * 20;
    const at::Tensor bias = at::randn({rows, ld_bias}) * 5;
    for (bool with_bias : {false, true}) {
      at::Tensor s = scores.clone();
      cpu::softmax_rows(s.data_ptr<float>(), rows, cols, with_bias ? bias.data_ptr<float>() : nullptr, ld_bias);
      // The oracle takes the float32 sums the kernel sees. The kernel then
      // rounds x - max and (x - max) log2(e) to float32 (half an ulp each,
      // 6e-8 relative), which moves exp(x - max) by up to 1.2e-7 |x - max|
      // relative: the bound, beside 1e-6 for the rest.
      const at::Tensor x = (with_bias ? scores + bias.narrow(1, 0, cols) : scores).to(at::kDouble);
      const at::Tensor want = at::softmax(x, -1);
      const at::Tensor bound = 1e-6 + 1.2e-7 * (std::get<0>(x.max(-1, true)) - x);
      const at::Tensor rel = (s.to(at::kDouble) - want).abs() / want;
      const at::Tensor shown = want > 1e-30;  // above the kernel's 2^-126 floor
      EXPECT_EQ((rel > bound).logical_and(shown).sum().item<int64_t>(), 0)
          << cols << " columns: " << (rel / bound).masked_select(shown).max().item<double>() << " of the bound";
      EXPECT_LT((s.to(at::kDouble).sum(-1) - 1).abs().max().item<double>(), 1e-6) << cols << " columns";
    }
  }
}

TEST(CpuKernels, AttentionHeadEqualsFloat64AttentionOnStridedRows) {
  at::manual_seed(4);
  const int64_t heads = 3, d = 16, len = 37, inner = heads * d;
  // Rows of [len, heads * d] projections, as the packed encoder holds them.
  const at::Tensor q = at::randn({len, inner}), k = at::randn({len, inner}), v = at::randn({len, inner});
  const at::Tensor bias = at::randn({heads, 50, 50});
  at::Tensor out = at::zeros({len, inner});
  std::vector<float> scratch(static_cast<size_t>(len * len));
  for (int64_t h = 0; h < heads; ++h) {
    cpu::attention(q.data_ptr<float>() + h * d, inner, k.data_ptr<float>() + h * d, inner,
                        v.data_ptr<float>() + h * d, inner, len, len, d, bias.data_ptr<float>() + h * 50 * 50, 50,
                        out.data_ptr<float>() + h * d, inner, scratch.data());
  }
  auto heads_of = [&](const at::Tensor& x) { return x.to(at::kDouble).view({len, heads, d}).transpose(0, 1); };
  const at::Tensor p = at::softmax(at::matmul(heads_of(q), heads_of(k).transpose(1, 2)) +
                                       bias.narrow(1, 0, len).narrow(2, 0, len).to(at::kDouble), -1);
  const at::Tensor want = at::matmul(p, heads_of(v)).transpose(0, 1).reshape({len, inner});
  EXPECT_LT((out.to(at::kDouble) - want).abs().max().item<double>(), 1e-5);
}

TEST(CpuKernels, GeluTanhEqualsTheFormulaInFloat64) {
  // Both tails, the middle, values past float32's cube (x^3 overflows), and
  // lengths around the 8-lane width; with and without the gate.
  at::manual_seed(5);
  for (int64_t n : {1, 8, 13, 1000}) {
    at::Tensor a = at::randn({n}) * 4;
    if (n == 13) a = at::tensor({-1e20f, -50.f, -9.f, -3.f, -0.5f, -1e-6f, 0.f, 1e-6f, 0.5f, 3.f, 9.f, 50.f, 1e20f});
    const at::Tensor b = at::randn({n});
    const at::Tensor x = a.to(at::kDouble);
    // x/2 (1 + tanh u) in float64 with 1 + tanh u = 2 / (1 + exp(-2u)),
    // which keeps the far negative tail (~1e-28 at x = -9) that 1 + tanh u
    // rounds to 0; exp(-2u) overflowing to inf gives the exact 0.
    const at::Tensor u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3));
    const at::Tensor want = (x / (1 + at::exp(-2 * u))).nan_to_num(0, 0, 0);
    for (bool gated : {false, true}) {
      at::Tensor out = at::empty({n});
      cpu::gelu_tanh(a.data_ptr<float>(), gated ? b.data_ptr<float>() : nullptr, out.data_ptr<float>(), n);
      const at::Tensor w = gated ? want * b.to(at::kDouble) : want;
      // u itself is rounded in float32 (four operations, up to 2.4e-7
      // relative), which moves exp(-2|u|) by 2|u| times that: the bound is
      // 1e-6 + 5e-7 |u| relative, or 1e-30 absolute where the value is ~0.
      const at::Tensor err = (out.to(at::kDouble) - w).abs();
      EXPECT_EQ((err > w.abs() * (1e-6 + 5e-7 * u.abs()) + 1e-30).sum().item<int64_t>(), 0)
          << n << " values, gated " << gated << ": worst " << (err / (w.abs() + 1e-30)).max().item<double>();
    }
  }
}

}  // namespace
}  // namespace lorahub::t5
