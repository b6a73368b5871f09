#include "learn/trainer.h"

#include "lora/lora_adapter.h"
#include "model/non_finite.h"
#include "model/target_modules.h"
#include "model/weight_store.h"
#include "util/random.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace lorahub::learn {
TrainMode parse_train_mode(const std::string& name, const std::string& what) {
  for (const auto& e : kTrainModeNames) {
    if (name == e.name) return e.value;
  }
  throw std::invalid_argument(what + ": expected lora, full or ia3, found \"" + name + "\"");
}

model::LowRankSet init_lora(const model::LanguageModel& model, const TrainOptions& o, std::vector<std::string>* modules) {
  if (o.rank < 1) throw std::invalid_argument("LoRA rank must be at least 1");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.init_seed.value_or(o.seed));
  model::LowRankSet set;
  set.by_site.resize(static_cast<size_t>(model.projections().size()));
  const std::vector<std::string> targets = o.targets.empty() ? model.default_lora_targets() : o.targets;
  for (int s : model::TargetModules::list(targets).select(model.projections())) {
    const std::string& m = model.projections().at(s).module;
    const at::Tensor& w = model.weights().tensors().at(m + ".weight");
    const int64_t out = w.size(0), in = w.size(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    model::LowRankUpdate u;
    const auto master = at::TensorOptions().dtype(model::at_least_float_type(w.scalar_type())).device(w.device());
    u.a = (at::rand({1, o.rank, in}, gen, at::kFloat) * (2 * bound) - bound).to(master);
    u.b = at::zeros({1, out, o.rank}, master);
    u.scale = o.alpha / static_cast<double>(o.rank);
    set.by_site[static_cast<size_t>(s)] = u;
    if (modules) modules->push_back(m);
  }
  if (modules && modules->empty()) throw std::invalid_argument("LoRA targets name no projection of the model");
  return set;
}

model::LowRankSet init_ia3(const model::LanguageModel& model) {
  using model::ProjectionRole;
  model::LowRankSet set;
  set.scales.resize(static_cast<size_t>(model.projections().size()));
  for (size_t s = 0; s < static_cast<size_t>(model.projections().size()); ++s) {
    const model::Projection& p = model.projections().at(static_cast<int>(s));
    const at::Tensor& w = model.weights().tensors().at(p.module + ".weight");
    const auto master = w.options().dtype(model::at_least_float_type(w.scalar_type()));
    if (p.role == ProjectionRole::kAttentionKey || p.role == ProjectionRole::kAttentionValue) {
      set.scales[s] = {at::ones({w.size(0)}, master), false};
    } else if (p.is_feed_forward_out()) {
      set.scales[s] = {at::ones({w.size(1)}, master), true};
    }
  }
  return set;
}

namespace {
// With weight decay, AdamW also multiplies the weights by 1 - lr * weight_decay
// each step: a decay too large for the learning rate diverges as well.
std::string diverged(const std::string& what, const std::string& found, int64_t step, int64_t steps, double lr,
                     double weight_decay) {
  std::ostringstream o;
  o << what << ": " << found << " at step " << step << " of " << steps << " (AdamW lr " << lr;
  if (weight_decay != 0) o << ", weight decay " << weight_decay;
  o << "): training diverged; lower the learning rate";
  if (weight_decay != 0) {
    o << " or the weight decay (each step scales the weights by 1 - lr x weight decay = " << 1 - lr * weight_decay << ")";
  }
  o << " (nothing was written)";
  return o.str();
}
// Scales the gradients by clip / (norm + 1e-6) when their global L2 norm
// exceeds `clip` (torch.nn.utils.clip_grad_norm_), computed on the device
// with no host round trip: one sync-free sum, one multiply per parameter.
void clip_grad_norm(const std::vector<at::Tensor>& params, double clip) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> squares;
  for (const auto& p : params) {
    if (p.grad().defined()) squares.push_back(p.grad().pow(2).sum().to(at::kDouble));
  }
  if (squares.empty()) return;
  const at::Tensor norm = at::stack(squares).sum().sqrt();
  const at::Tensor factor = at::clamp_max(clip / (norm + 1e-6), 1.0);
  for (const auto& p : params) {
    if (p.grad().defined()) p.mutable_grad().mul_(factor.to(p.grad().scalar_type()));
  }
}
}  // namespace

double finite_loss(const at::Tensor& loss, int64_t step, int64_t steps, double lr, double weight_decay,
                   const std::string& what) {
  const double v = loss.item<double>();
  if (std::isfinite(v)) return v;
  const std::string found = std::string("the loss is ") + (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
  if (step == 1) {  // no update yet: the learning rate cannot be the cause
    throw model::NonFiniteError(what + ": " + found + " before any update (step 1 of " +
                                std::to_string(steps) +
                                "): the model's weights or config, its adapters or modules, or the data give "
                                "non-finite numbers (nothing was written)");
  }
  throw model::NonFiniteError(diverged(what, found, step, steps, lr, weight_decay));
}

void require_finite_parameters(const std::vector<at::Tensor>& params, int64_t steps, double lr, double weight_decay,
                               const std::string& what) {
  for (const auto& p : params) {
    if (!at::isfinite(p.detach()).all().item<bool>()) {
      throw model::NonFiniteError(
          diverged(what, "the trained parameters are not finite", steps, steps, lr, weight_decay));
    }
  }
}

namespace {

// LoRA: A and B of every adapted projection (init_lora), as trainable parameters.
std::vector<at::Tensor> lora_parameters(const model::LanguageModel& model, const TrainOptions& o, TrainResult& result) {
  result.adaptation = init_lora(model, o, &result.target_names);
  result.target_modules = o.targets.empty() ? model.default_lora_targets() : o.targets;
  std::vector<at::Tensor> params;
  for (auto& u : result.adaptation.by_site) {
    if (!u.defined()) continue;
    u.a.requires_grad_(true);
    u.b.requires_grad_(true);
    params.push_back(u.a);
    params.push_back(u.b);
  }
  return params;
}

// IA3: the scaling vectors (init_ia3), as trainable parameters.
std::vector<at::Tensor> ia3_parameters(const model::LanguageModel& model, TrainResult& result) {
  result.adaptation = init_ia3(model);
  std::vector<at::Tensor> params;
  for (auto& s : result.adaptation.scales) {
    if (!s.defined()) continue;
    s.vector.requires_grad_(true);
    params.push_back(s.vector);
  }
  return params;
}

// Full fine-tuning: a copy of the weights (result.weights) whose floating-point
// tensors are the parameters; returns the model on the copy.
std::shared_ptr<const model::LanguageModel> full_parameters(const model::LanguageModel& model, TrainResult& result,
                                                            std::vector<at::Tensor>& params) {
  if (model.weights().dtype() != at::kFloat && model.weights().dtype() != at::kDouble) {
    throw std::invalid_argument(
        "train: full fine-tuning of a " + std::string(c10::toString(model.weights().dtype())) +
        " model would lose every update below half an ulp of its weights (at lr 3e-5 most of them); "
        "load the model in float32 (--dtype float32, runtime.dtype: float32)");
  }
  io::TensorMap copy;
  for (const auto& [name, t] : model.weights().tensors()) {
    at::Tensor c = t.clone();
    if (c.is_floating_point()) {
      c.requires_grad_(true);
      params.push_back(c);
    }
    copy.emplace(name, c);
  }
  result.weights = std::make_shared<model::WeightStore>(std::move(copy), std::map<std::string, std::string>{},
                                                     "fine-tuned " + model.weights().origin(model.projections().at(0).module + ".weight"),
                                                     model.weights().dtype(), model.weights().device());
  return model.with_weights(result.weights);
}

// Batches walk through seeded shuffles of the examples, epoch after epoch.
class BatchOrder {
 public:
  BatchOrder(size_t examples, uint64_t seed) : rng_(seed ^ 0x5eedULL), order_(examples), cursor_(examples) {
    std::iota(order_.begin(), order_.end(), 0);
  }
  // The index of the next example.
  size_t next() {
    if (cursor_ == order_.size()) {
      util::shuffle(order_, rng_);
      cursor_ = 0;
    }
    return order_[cursor_++];
  }

 private:
  util::Rng rng_;
  std::vector<size_t> order_;
  size_t cursor_;
};

// o.steps AdamW steps of `net` (the model, or its full fine-tuning copy) on
// `params`, with warmup and clipping; each step's batch loss goes to `losses`.
void run_steps(const model::LanguageModel& model, const model::LanguageModel& net,
               const std::vector<model::TokenIds>& inputs, const std::vector<model::TokenIds>& targets,
               const TrainOptions& o, const std::vector<at::Tensor>& params, const model::LowRankSet* adaptation,
               std::vector<double>& losses) {
  torch::optim::AdamW adamw(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  BatchOrder order(inputs.size(), o.seed);
  const size_t batch = std::min(static_cast<size_t>(o.batch_size), inputs.size());
  for (int64_t step = 0; step < o.steps; ++step) {
    std::vector<model::TokenIds> in, out;
    while (in.size() < batch) {
      const size_t i = order.next();
      in.push_back(inputs[i]);
      out.push_back(targets[i]);
    }
    const model::PairBatch b = model.make_pairs(in, out);
    adamw.zero_grad();
    const at::Tensor loss = net.loss(b, adaptation);
    const double loss_value = finite_loss(loss, step + 1, o.steps, o.lr, o.weight_decay, "train");
    loss.backward();
    if (o.clip_norm > 0) clip_grad_norm(params, o.clip_norm);
    if (o.warmup_steps > 0) {
      const double lr = o.lr * std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps));
      static_cast<torch::optim::AdamWOptions&>(adamw.param_groups()[0].options()).lr(lr);
    }
    adamw.step();
    losses.push_back(loss_value);
    if (o.on_step) o.on_step(step, losses.back());
  }
}

// LoRA: the trained A and B as a PEFT state dict (float32, on the CPU).
void fill_peft_adapter(const model::LanguageModel& model, const TrainOptions& o, TrainResult& result) {
  result.adapter.r = o.rank;
  result.adapter.lora_alpha = o.alpha;
  for (size_t s = 0; s < static_cast<size_t>(model.projections().size()); ++s) {
    const auto& u = result.adaptation.by_site[s];
    if (!u.defined()) continue;
    const std::string& module = model.projections().at(static_cast<int>(s)).module;
    result.adapter.tensors[lora::peft_key(module, true)] = u.a[0].detach().to(at::kCPU, at::kFloat).contiguous();
    result.adapter.tensors[lora::peft_key(module, false)] = u.b[0].detach().to(at::kCPU, at::kFloat).contiguous();
  }
}

}  // namespace

TrainResult train(const model::LanguageModel& model, const std::vector<model::TokenIds>& inputs,
                  const std::vector<model::TokenIds>& targets, const TrainOptions& o) {
  if (inputs.empty() || inputs.size() != targets.size()) throw std::invalid_argument("train: no examples");
  if (o.steps < 1 || o.batch_size < 1) throw std::invalid_argument("train: steps and batch size must be positive");
  at::AutoGradMode grad_on(true);  // callers may evaluate under NoGradGuard
  TrainResult result;
  std::vector<at::Tensor> params;
  std::shared_ptr<const model::LanguageModel> full;  // full fine-tuning trains a copy
  if (o.mode == TrainMode::kLora) {
    params = lora_parameters(model, o, result);
  } else if (o.mode == TrainMode::kIa3) {
    params = ia3_parameters(model, result);
  } else {
    full = full_parameters(model, result, params);
  }
  const model::LowRankSet* adaptation = o.mode == TrainMode::kFull ? nullptr : &result.adaptation;
  run_steps(model, full ? *full : model, inputs, targets, o, params, adaptation, result.step_losses);
  require_finite_parameters(params, o.steps, o.lr, o.weight_decay, "train");
  for (auto& p : params) p.requires_grad_(false);
  if (o.mode == TrainMode::kLora) fill_peft_adapter(model, o, result);
  return result;
}

}  // namespace lorahub::learn
