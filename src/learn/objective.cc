#include "learn/objective.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace lorahub::learn {

FewShotObjective::FewShotObjective(const model::LanguageModel& model, const lora::LoraPool& pool,
                                   const std::vector<model::TokenIds>& inputs,
                                   const std::vector<model::TokenIds>& targets, ObjectiveOptions options)
    : model_(model), pool_(pool), options_(options), pass_(options.candidates_per_pass) {
  if (inputs.empty()) throw std::invalid_argument("LoraHub objective: no examples");
  if (options_.batch_size < 0) throw std::invalid_argument("LoraHub objective: negative batch size");
  if (options_.candidates_per_pass < 1) throw std::invalid_argument("LoraHub objective: candidates_per_pass < 1");
  const auto device = model.weights().device();

  // Length groups: examples sorted by input length; a group grows while its
  // padded size stays within 1.25x its real tokens.
  std::vector<int64_t> order(inputs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return inputs[a].size() < inputs[b].size(); });
  std::vector<std::vector<int64_t>> members;
  size_t real = 0;
  for (size_t j = 0; options_.pack_examples && j < order.size(); ++j) {
    const size_t len = inputs[static_cast<size_t>(order[j])].size();
    if (members.empty() || len * (members.back().size() + 1) * 4 > (real + len) * 5) {
      members.emplace_back();
      real = 0;
    }
    members.back().push_back(order[j]);
    real += len;
  }
  // The whole batch comes last: one candidate at a time it is the faster
  // (fewer, larger calls), and it is the reference's computation.
  members.push_back(order);
  for (auto& m : members) {
    std::sort(m.begin(), m.end());
    std::vector<model::TokenIds> in, out;
    for (int64_t i : m) {
      in.push_back(inputs[static_cast<size_t>(i)]);
      out.push_back(targets[static_cast<size_t>(i)]);
    }
    Group g;
    g.examples = m;
    g.index = at::tensor(m, at::kLong).to(device);
    g.batch = model.make_pairs(in, out);
    groups_.push_back(std::move(g));
  }
  host_batch_ = whole().batch.to(at::kCPU);
}

at::Tensor candidate_matrix(const std::vector<std::vector<double>>& rows, int64_t n) {
  at::Tensor w = at::empty({static_cast<int64_t>(rows.size()), n}, at::kDouble);
  double* out = w.data_ptr<double>();
  for (const auto& row : rows) {
    if (static_cast<int64_t>(row.size()) != n) {
      throw std::invalid_argument("candidate weights: a row of " + std::to_string(row.size()) + " weights for " +
                                  std::to_string(n) + " modules");
    }
    out = std::copy(row.begin(), row.end(), out);
  }
  return w;
}

std::vector<double> FewShotObjective::reduce(const at::Tensor& token_ce, int64_t candidates) const {
  const int64_t k = num_examples();
  const model::PairBatch& batch = whole().batch;
  std::vector<double> out(static_cast<size_t>(candidates));
  if (options_.normalization == LossNormalization::kTokenMean) {
    const at::Tensor ce = token_ce.view({candidates, k, -1}).to(at::kDouble);
    const at::Tensor counted = (batch.labels != -100).to(at::kDouble);  // [k, T]
    const at::Tensor loss = (ce.sum({1, 2}) / counted.sum()).to(at::kCPU).contiguous();  // the one copy to the host
    std::copy(loss.data_ptr<double>(), loss.data_ptr<double>() + candidates, out.begin());
    return out;
  }
  // lorahub's default_get_loss: train_loss += outputs.loss (a float32 tensor)
  // per batch, then float(train_loss) / len(dataset).
  const at::Tensor ce = token_ce.view({candidates, k, -1}).to(at::kCPU, at::kFloat);  // the one copy to the host
  const int64_t b = options_.batch_size > 0 ? options_.batch_size : k;
  for (int64_t p = 0; p < candidates; ++p) {
    float sum = 0.0f;
    for (int64_t start = 0; start < k; start += b) {
      const int64_t len = std::min(b, k - start);
      sum += hf_batch_loss(ce[p].narrow(0, start, len), host_batch_, start, len);
    }
    out[static_cast<size_t>(p)] = static_cast<double>(sum) / static_cast<double>(k);
  }
  return out;
}

float hf_batch_loss(const at::Tensor& token_ce, const model::PairBatch& batch, int64_t first, int64_t n) {
  int64_t per_row = 0;
  const at::Tensor where = batch.hf_loss_positions(&per_row).narrow(0, first, n);
  const at::Tensor counted = batch.labels.narrow(0, first, n).to(at::kCPU) != -100;
  const at::Tensor flat = (at::arange(n, at::kLong).view({n, 1}) * per_row + where).masked_select(counted);
  // log-probabilities as nll_loss reads them (one class), at HF's indices.
  at::Tensor logp = at::zeros({n * per_row, 1}, at::kFloat);
  at::Tensor target = at::full({n * per_row}, -100, at::kLong);
  logp.view({-1}).index_put_({flat}, -token_ce.to(at::kCPU, at::kFloat).masked_select(counted));
  target.index_put_({flat}, at::zeros({flat.numel()}, at::kLong));
  return at::nll_loss(logp, target, {}, at::Reduction::Mean, -100).item<float>();
}

std::vector<double> FewShotObjective::losses(const at::Tensor& weights) const {
  c10::InferenceMode inference;  // cheaper than NoGradGuard: no version counters or views tracked
  const at::Tensor w = weights.dim() == 1 ? weights.unsqueeze(0) : weights;
  if (w.dim() != 2 || w.size(1) != pool_.size()) {
    throw std::invalid_argument("LoraHub objective: weights of shape " + std::string(c10::str(weights.sizes())) +
                                " for " + std::to_string(pool_.size()) + " modules");
  }
  // Token losses of every chunk stay on the device until one copy in reduce().
  std::vector<at::Tensor> chunks;
  for (int64_t start = 0; start < w.size(0);) {
    const int64_t q = std::min(pass_, w.size(0) - start);
    try {
      chunks.push_back(chunk_token_losses(w.narrow(0, start, q)));
    } catch (const c10::OutOfMemoryError&) {
      if (q == 1) throw;
      pass_ = q / 2;
      std::fprintf(stderr, "note: LoraHub objective: out of device memory at %lld candidates per pass; %lld from now on\n",
                   static_cast<long long>(q), static_cast<long long>(pass_));
      continue;
    }
    start += q;
  }
  return reduce(at::cat(chunks).view({w.size(0) * num_examples(), -1}), w.size(0));
}

at::Tensor FewShotObjective::chunk_token_losses(const at::Tensor& w) const {
  const int64_t q = w.size(0);
  const model::LowRankSet set = lora::compose(pool_, w, options_.method);
  // Token losses [q, k, T] gathered from each group's pass; rows are
  // candidate-major, as the grouped low-rank products need.
  at::Tensor token_ce =
      at::zeros({q, num_examples(), whole().batch.labels.size(1)}, whole().batch.labels.options().dtype(at::kFloat));
  // Several candidates: the length groups if any; one: the whole batch.
  const bool pack = q > 1 && use_groups();
  const size_t first = pack ? 0 : groups_.size() - 1, end = pack ? groups_.size() - 1 : groups_.size();
  for (size_t gi = first; gi < end; ++gi) {
    const Group& g = groups_[gi];
    const at::Tensor ce = model_.token_losses(g.batch.repeat(q), &set);
    const int64_t n = static_cast<int64_t>(g.examples.size());
    token_ce.narrow(2, 0, ce.size(1)).index_copy_(1, g.index, ce.view({q, n, -1}));
  }
  return token_ce;
}

bool FewShotObjective::use_groups() const {
  return options_.pack_examples && groups_.size() > 2 && !model_.packs_padding();
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
  c10::InferenceMode inference;  // cheaper than NoGradGuard: no version counters or views tracked
  const Group& g = whole();
  return reduce(model_.token_losses(g.batch), 1)[0];
}

}  // namespace lorahub::learn
