#include "learn/objective.h"

#include "t5/t5_model.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lorahub::learn {

FewShotObjective::FewShotObjective(const t5::T5Model& model, const lora::LoraPool& pool,
                                   const std::vector<t5::TokenIds>& inputs, const std::vector<t5::TokenIds>& targets,
                                   ObjectiveOptions options)
    : model_(model), pool_(pool), options_(options) {
  if (inputs.empty()) throw std::invalid_argument("LoraHub objective: no examples");
  if (options_.batch_size < 0) throw std::invalid_argument("LoraHub objective: negative batch size");
  if (options_.candidates_per_pass < 1) throw std::invalid_argument("LoraHub objective: candidates_per_pass < 1");
  const auto device = model.weights().device();
  batch_ = t5::make_batch(inputs, targets, model.config().pad_token_id);
  batch_.input_ids = batch_.input_ids.to(device);
  batch_.attention_mask = batch_.attention_mask.to(device);
  batch_.labels = batch_.labels.to(device);
  decoder_input_ids_ = t5::shift_right(batch_.labels, model.config().decoder_start_token_id, model.config().pad_token_id);
}

std::vector<double> FewShotObjective::reduce(const at::Tensor& token_ce, int64_t candidates) const {
  const int64_t k = num_examples();
  const at::Tensor ce = token_ce.view({candidates, k, -1}).to(at::kDouble);
  const at::Tensor counted = (batch_.labels != -100).to(at::kDouble);  // [k, T]
  at::Tensor loss;
  if (options_.normalization == LossNormalization::kTokenMean) {
    loss = ce.sum({1, 2}) / counted.sum();
  } else {
    const int64_t b = options_.batch_size > 0 ? options_.batch_size : k;
    loss = at::zeros({candidates}, ce.options());
    for (int64_t start = 0; start < k; start += b) {
      const int64_t len = std::min(b, k - start);
      // Each batch loss is a float32 scalar in the reference (HF's
      // outputs.loss); rounding ours the same way keeps the optimizer's
      // view of the objective on the reference's grid.
      const at::Tensor batch_mean = ce.narrow(1, start, len).sum({1, 2}) / counted.narrow(0, start, len).sum();
      loss = loss + batch_mean.to(at::kFloat).to(at::kDouble);
    }
    loss = loss / static_cast<double>(k);
  }
  const at::Tensor cpu = loss.to(at::kCPU).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + candidates);
}

std::vector<double> FewShotObjective::losses(const at::Tensor& weights) const {
  at::NoGradGuard no_grad;
  const at::Tensor w = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
  if (w.dim() != 2 || w.size(1) != pool_.size()) {
    throw std::invalid_argument("LoraHub objective: weights of shape " + std::string(c10::str(weights.sizes())) +
                                " for " + std::to_string(pool_.size()) + " modules");
  }
  std::vector<double> out;
  for (int64_t start = 0; start < w.size(0); start += options_.candidates_per_pass) {
    const int64_t q = std::min(options_.candidates_per_pass, w.size(0) - start);
    const t5::LowRankSet set = lora::compose(pool_, w.narrow(0, start, q), options_.method);
    const at::Tensor logits = model_.logits(batch_.input_ids.repeat({q, 1}), batch_.attention_mask.repeat({q, 1}),
                                            decoder_input_ids_.repeat({q, 1}), &set);
    const auto part = reduce(t5::token_cross_entropy(logits, batch_.labels.repeat({q, 1})), q);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

double FewShotObjective::l1_term(const at::Tensor& w) const {
  return options_.l1_weight * w.to(at::kDouble).abs().mean().item<double>();
}

std::vector<double> FewShotObjective::objectives(const at::Tensor& weights) const {
  const at::Tensor w = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
  std::vector<double> out = losses(w);
  for (size_t p = 0; p < out.size(); ++p) out[p] += l1_term(w[static_cast<int64_t>(p)]);
  return out;
}

double FewShotObjective::base_loss() const {
  at::NoGradGuard no_grad;
  const at::Tensor logits = model_.logits(batch_.input_ids, batch_.attention_mask, decoder_input_ids_);
  return reduce(t5::token_cross_entropy(logits, batch_.labels), 1)[0];
}

}  // namespace lorahub::learn
