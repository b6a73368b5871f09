// t5::activate against the closed forms of transformers 4.36's ACT2FN
// modules (activations.py), evaluated in double precision here.
#include "t5/layers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace lorahub::t5 {
namespace {

double gelu_erf(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(Activations, MatchTheirClosedForms) {
  const std::vector<std::pair<Activation, std::function<double(double)>>> forms = {
      {Activation::kRelu, [](double x) { return std::max(x, 0.0); }},
      {Activation::kGelu, gelu_erf},
      {Activation::kGeluTanh, gelu_tanh},
      {Activation::kSilu, [](double x) { return x * sigmoid(x); }},
      {Activation::kQuickGelu, [](double x) { return x * sigmoid(1.702 * x); }},
      {Activation::kRelu2, [](double x) { return x > 0 ? x * x : 0.0; }},
      {Activation::kRelu6, [](double x) { return std::min(std::max(x, 0.0), 6.0); }},
      {Activation::kLeakyRelu, [](double x) { return x > 0 ? x : 0.01 * x; }},
      {Activation::kSigmoid, sigmoid},
      {Activation::kTanh, [](double x) { return std::tanh(x); }},
      {Activation::kLinear, [](double x) { return x; }},
      {Activation::kMish, [](double x) { return x * std::tanh(std::log1p(std::exp(x))); }},
      {Activation::kGelu10, [](double x) { return std::min(std::max(gelu_erf(x), -10.0), 10.0); }},
      {Activation::kLaplace, [](double x) { return 0.5 * (1 + std::erf((x - 0.707107) / (0.282095 * std::sqrt(2.0)))); }},
  };
  const at::Tensor x = at::linspace(-12, 12, 241, at::kDouble);  // steps of 0.1, through 0, 6 and +-10's GELU
  for (const auto& [act, f] : forms) {
    const at::Tensor y = activate(act, x);
    for (int64_t i = 0; i < x.size(0); ++i) {
      const double xi = x[i].item<double>();
      EXPECT_NEAR(y[i].item<double>(), f(xi), 1e-12 * (1 + std::abs(f(xi)))) << static_cast<int>(act) << " at " << xi;
    }
  }
  // The erf and tanh GELUs differ where the test above can tell them apart.
  EXPECT_GT(std::abs(gelu_erf(-2.5) - gelu_tanh(-2.5)), 1e-4);
}

}  // namespace
}  // namespace lorahub::t5
