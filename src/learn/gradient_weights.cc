#include "learn/gradient_weights.h"

#include "learn/trainer.h"
#include "util/random.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace lorahub::learn {

at::Tensor composition_loss(const model::LanguageModel& model, const lora::LoraPool& pool, const model::PairBatch& batch,
                            const at::Tensor& w, lora::Method method, bool per_target, double l1_weight) {
  const model::LowRankSet set = lora::compose(pool, w, method, per_target);
  at::Tensor loss = model.loss(batch, &set).to(at::kDouble);
  if (l1_weight != 0) loss = loss + l1_weight * w.abs().mean();
  return loss;
}

namespace {

void check(const GradientOptions& o, size_t examples) {
  auto fail = [](const std::string& why) { return std::invalid_argument("gradient weights: " + why); };
  if (examples == 0) throw fail("no examples");
  if (o.method != lora::Method::kCat && o.method != lora::Method::kLoraHub) {
    throw fail("method " + lora::method_name(o.method) + ": expected cat or lorahub");
  }
  if (o.per_target && o.method != lora::Method::kCat) throw fail("per-target weights are defined for cat only");
  if (!(o.lr > 0)) throw fail("learning rate must be positive");
  if (o.batch_size < 1) throw fail("batch size must be at least 1");
  if (o.epochs < 1 && o.steps < 1) throw fail("give epochs or steps >= 1");
  if (!(o.validation_fraction >= 0 && o.validation_fraction < 1)) throw fail("validation fraction outside [0, 1)");
}

model::PairBatch batch_of(const model::LanguageModel& model, const std::vector<int64_t>& idx,
                          const std::vector<model::TokenIds>& inputs, const std::vector<model::TokenIds>& targets) {
  std::vector<model::TokenIds> in, out;
  for (const int64_t i : idx) {
    in.push_back(inputs[static_cast<size_t>(i)]);
    out.push_back(targets[static_cast<size_t>(i)]);
  }
  return model.make_pairs(in, out);
}

// The training / validation split and the per-epoch batches of training indices.
struct Split {
  std::vector<int64_t> train, validation;
};

Split split(size_t n, const GradientOptions& o, util::Rng& rng) {
  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  util::shuffle(all, rng);
  int64_t held = static_cast<int64_t>(std::llround(o.validation_fraction * static_cast<double>(n)));
  if (o.validation_fraction > 0) held = std::max<int64_t>(held, 1);
  if (held >= static_cast<int64_t>(n)) {
    throw std::invalid_argument("gradient weights: a validation fraction of " + std::to_string(o.validation_fraction) +
                                " leaves no training example of " + std::to_string(n));
  }
  Split s;
  s.validation.assign(all.begin(), all.begin() + held);
  s.train.assign(all.begin() + held, all.end());
  std::sort(s.validation.begin(), s.validation.end());
  return s;
}

}  // namespace

GradientResult learn_weights_by_gradient(const model::LanguageModel& model, const lora::LoraPool& pool,
                                         const std::vector<model::TokenIds>& inputs,
                                         const std::vector<model::TokenIds>& targets, const GradientOptions& o) {
  check(o, inputs.size());
  util::Rng rng(o.seed ^ 0xca7ULL);
  const Split sp = split(inputs.size(), o, rng);
  const int64_t n = pool.size(), l = static_cast<int64_t>(pool.targets().size());
  at::Tensor w = o.per_target ? at::full({n, l}, 1.0 / static_cast<double>(n), at::kDouble)
                              : at::full({n}, 1.0 / static_cast<double>(n), at::kDouble);
  w.requires_grad_(true);
  torch::optim::AdamW adamw({w}, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  const model::PairBatch val = sp.validation.empty() ? model::PairBatch{} : batch_of(model, sp.validation, inputs, targets);

  GradientResult result;
  result.validation = sp.validation;
  auto validate = [&](int64_t step) {
    GradientStep& h = result.history.back();
    if (sp.validation.empty()) return;
    at::NoGradGuard no_grad;
    h.val_loss = composition_loss(model, pool, val, w, o.method, o.per_target).item<double>();
    if (step == 0 || h.val_loss < result.best_val_loss) {
      result.best_val_loss = h.val_loss;
      result.best_step = step;
      result.weights = w.detach().clone();
    }
  };
  result.history.push_back({0, std::numeric_limits<double>::quiet_NaN()});
  validate(0);

  const auto per_epoch = static_cast<int64_t>((sp.train.size() + static_cast<size_t>(o.batch_size) - 1) /
                                              static_cast<size_t>(o.batch_size));
  const int64_t total = o.steps > 0 ? o.steps : o.epochs * per_epoch;
  std::vector<int64_t> order = sp.train;
  for (int64_t step = 1; step <= total; ++step) {
    const int64_t k = (step - 1) % per_epoch;
    if (k == 0) util::shuffle(order, rng);
    const auto first = order.begin() + k * o.batch_size;
    const std::vector<int64_t> idx(first, first + std::min<int64_t>(o.batch_size, order.end() - first));
    adamw.zero_grad();
    const at::Tensor loss =
        composition_loss(model, pool, batch_of(model, idx, inputs, targets), w, o.method, o.per_target, o.l1_weight);
    const double loss_value = finite_loss(loss, step, total, o.lr, o.weight_decay, "gradient weights");
    loss.backward();
    adamw.step();
    result.history.push_back({step, loss_value});
    const bool epoch_end = k == per_epoch - 1;
    if (o.eval_every > 0 ? step % o.eval_every == 0 || step == total : epoch_end || step == total) validate(step);
    if (o.on_step) o.on_step(result.history.back());
  }
  require_finite_parameters({w}, total, o.lr, o.weight_decay, "gradient weights");
  result.final_weights = w.detach().clone();
  if (sp.validation.empty()) {
    result.weights = result.final_weights;
    result.best_step = total;
  }
  return result;
}

}  // namespace lorahub::learn
