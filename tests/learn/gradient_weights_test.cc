// Gradient-learned composition weights on the tiny-t5 fixture: autograd
// against central finite differences in float64, the loss falls, the model
// and modules stay bit-identical, best-checkpoint selection, and a planted
// module (targets from its own greedy outputs) wins the weights.

#include "learn/gradient_weights.h"

#include "lora/tiny_pool.h"
#include "t5/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>

namespace lorahub::learn {
namespace {

using testing::golden;
using testing::ids;
using testing::tiny_model;
using testing::tiny_pool;

std::vector<t5::TokenIds> field(const char* name) {
  std::vector<t5::TokenIds> out;
  for (const auto& e : golden()["examples"]) out.push_back(ids(e[name]));
  return out;
}

// The golden examples as the model's pairs.
model::PairBatch golden_pairs(const model::LanguageModel& model) {
  return model.make_pairs(field("input_ids"), field("label_ids"));
}

// w = 1/N + a fixed, non-symmetric perturbation (so no |w| sits at 0).
at::Tensor probe_weights(at::IntArrayRef shape) {
  const int64_t numel = c10::multiply_integers(shape);
  at::Tensor k = at::arange(numel, at::kDouble);
  return (0.2 + 0.3 * at::sin(1.7 * k + 0.4)).view(shape);
}

void expect_gradient_matches_differences(const model::LanguageModel& model, const lora::LoraPool& pool, at::Tensor w,
                                         lora::Method method, bool per_target) {
  const auto batch = golden_pairs(model);
  const double l1 = 0.05;
  w = w.clone().requires_grad_(true);
  composition_loss(model, pool, batch, w, method, per_target, l1).backward();
  const at::Tensor grad = w.grad().clone();
  at::Tensor fd = at::zeros_like(grad);
  const double h = 1e-5;
  at::NoGradGuard no_grad;
  const at::Tensor flat = w.detach().clone().view(-1);
  for (int64_t j = 0; j < flat.numel(); ++j) {
    at::Tensor plus = flat.clone(), minus = flat.clone();
    plus[j] += h;
    minus[j] -= h;
    const double fp = composition_loss(model, pool, batch, plus.view(w.sizes()), method, per_target, l1).item<double>();
    const double fm = composition_loss(model, pool, batch, minus.view(w.sizes()), method, per_target, l1).item<double>();
    fd.view(-1)[j] = (fp - fm) / (2 * h);
  }
  const double scale = fd.abs().max().item<double>();
  const double err = (grad - fd).abs().max().item<double>() / scale;
  std::printf("%s%s: %lld weights, max |grad - fd| / max |fd| = %.3g (max |fd| %.3g)\n",
              lora::method_name(method).c_str(), per_target ? " per target" : "",
              static_cast<long long>(w.numel()), err, scale);
  EXPECT_GT(scale, 1e-3);
  EXPECT_LT(err, 1e-5);
}

TEST(GradientWeights, GradientsEqualCentralDifferencesInFloat64) {
  const auto ck = t5::load_checkpoint(testing::tiny_dir() + "/base", at::kDouble, at::kCPU);
  const t5::T5Model model(ck.config, ck.weights);
  const lora::LoraPool pool = lora::LoraPool::load(model, testing::lora_dirs());
  ASSERT_EQ(pool.targets().front().a.scalar_type(), at::kDouble);
  const int64_t n = pool.size(), l = static_cast<int64_t>(pool.targets().size());
  expect_gradient_matches_differences(model, pool, probe_weights({n, l}), lora::Method::kCat, true);
  expect_gradient_matches_differences(model, pool, probe_weights({n}), lora::Method::kCat, false);
  expect_gradient_matches_differences(model, pool, probe_weights({n}), lora::Method::kLoraHub, false);
}

TEST(GradientWeights, LossFallsAndModelAndModulesStayBitIdentical) {
  std::vector<at::Tensor> before;
  for (const auto& [name, t] : tiny_model().weights().tensors()) before.push_back(t.clone());
  for (const auto& t : tiny_pool().targets()) {
    before.push_back(t.a.clone());
    before.push_back(t.b.clone());
  }
  GradientOptions o;
  o.per_target = true;
  o.lr = 0.05;
  o.epochs = 15;
  o.batch_size = 3;
  const auto r = learn_weights_by_gradient(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), o);
  at::NoGradGuard no_grad;
  const int64_t n = tiny_pool().size(), l = static_cast<int64_t>(tiny_pool().targets().size());
  const double initial = composition_loss(tiny_model(), tiny_pool(), golden_pairs(tiny_model()),
                                          at::full({n, l}, 1.0 / static_cast<double>(n), at::kDouble),
                                          lora::Method::kCat, true).item<double>();
  const double learned =
      composition_loss(tiny_model(), tiny_pool(), golden_pairs(tiny_model()), r.weights, lora::Method::kCat, true).item<double>();
  std::printf("per-target CAT: loss %.6f at 1/N -> %.6f after %zu steps\n", initial, learned, r.history.size() - 1);
  EXPECT_LT(learned, 0.9 * initial);
  EXPECT_EQ(r.weights.sizes(), (at::IntArrayRef{n, l}));
  EXPECT_EQ(r.history.size(), 1u + 15u * 2u);  // 6 examples in batches of 3
  size_t k = 0;
  for (const auto& [name, t] : tiny_model().weights().tensors()) EXPECT_TRUE(at::equal(t, before[k++])) << name;
  for (const auto& t : tiny_pool().targets()) {
    EXPECT_TRUE(at::equal(t.a, before[k++])) << t.module;
    EXPECT_TRUE(at::equal(t.b, before[k++])) << t.module;
    EXPECT_FALSE(t.a.requires_grad());
  }
}

TEST(GradientWeights, ValidationSplitKeepsTheBestCheckpoint) {
  GradientOptions o;
  o.method = lora::Method::kLoraHub;
  o.lr = 0.3;  // large steps: the validation loss goes up and down
  o.epochs = 8;
  o.batch_size = 2;
  o.validation_fraction = 0.34;  // 2 of 6
  o.seed = 3;
  const auto in = field("input_ids"), out = field("label_ids");
  const auto r = learn_weights_by_gradient(tiny_model(), tiny_pool(), in, out, o);
  ASSERT_EQ(r.validation.size(), 2u);
  double best = INFINITY;
  int64_t best_step = -1;
  for (const auto& h : r.history) {
    if (!std::isnan(h.val_loss) && h.val_loss < best) {
      best = h.val_loss;
      best_step = h.step;
    }
  }
  EXPECT_EQ(r.best_step, best_step);
  EXPECT_EQ(r.best_val_loss, best);
  // The kept weights give that loss on the held-out examples (a second evaluation).
  std::vector<t5::TokenIds> vin, vout;
  for (const int64_t i : r.validation) {
    vin.push_back(in[static_cast<size_t>(i)]);
    vout.push_back(out[static_cast<size_t>(i)]);
  }
  at::NoGradGuard no_grad;
  const double again = composition_loss(tiny_model(), tiny_pool(), tiny_model().make_pairs(vin, vout), r.weights,
                                        lora::Method::kLoraHub, false).item<double>();
  EXPECT_NEAR(again, best, 1e-6 * std::abs(best));
  std::printf("validation: best step %lld of %zu, loss %.6f\n", static_cast<long long>(r.best_step),
              r.history.size() - 1, best);
}

TEST(GradientWeights, PlantedModuleWinsTheWeights) {
  // Targets: the greedy outputs of module `planted` alone (CAT one-hot).
  const int64_t planted = 2, n = tiny_pool().size();
  const auto in = field("input_ids");
  std::vector<t5::TokenIds> out;
  {
    at::NoGradGuard no_grad;
    at::Tensor onehot = at::zeros({n}, at::kDouble);
    onehot[planted] = 1.0;
    const model::LowRankSet set = lora::compose(tiny_pool(), onehot, lora::Method::kCat);
    const auto b = t5::make_input_batch(in, 0);
    t5::GreedyOptions g;
    g.max_new_tokens = 12;
    const auto ids = tiny_model().greedy(b.input_ids, b.attention_mask, g, &set).ids;
    for (auto row : t5::rows_to_ids(ids, true)) {
      const auto eos = std::find(row.begin(), row.end(), tiny_model().config().eos_token_ids.front());
      if (eos != row.end()) row.erase(eos + 1, row.end());
      out.push_back(row);
    }
  }
  GradientOptions o;
  o.lr = 0.05;
  o.epochs = 30;
  o.batch_size = 3;
  const auto r = learn_weights_by_gradient(tiny_model(), tiny_pool(), in, out, o);
  std::printf("planted module %lld: learned weights", static_cast<long long>(planted));
  for (int64_t i = 0; i < n; ++i) std::printf(" %.4f", r.weights[i].item<double>());
  std::printf("\n");
  EXPECT_EQ(r.weights.argmax().item<int64_t>(), planted);
  for (int64_t i = 0; i < n; ++i) {
    if (i != planted) {
      EXPECT_GT(r.weights[planted].item<double>(), r.weights[i].item<double>() + 0.1);
    }
  }
}

TEST(GradientWeights, BadOptionsAreRefused) {
  const auto in = field("input_ids"), out = field("label_ids");
  GradientOptions o;
  o.method = lora::Method::kLoraHub;
  o.per_target = true;
  EXPECT_THROW(learn_weights_by_gradient(tiny_model(), tiny_pool(), in, out, o), std::invalid_argument);
  o = GradientOptions{};
  o.validation_fraction = 1.0;
  EXPECT_THROW(learn_weights_by_gradient(tiny_model(), tiny_pool(), in, out, o), std::invalid_argument);
  o = GradientOptions{};
  o.method = lora::Method::kTies;
  EXPECT_THROW(learn_weights_by_gradient(tiny_model(), tiny_pool(), in, out, o), std::invalid_argument);
}

}  // namespace
}  // namespace lorahub::learn
