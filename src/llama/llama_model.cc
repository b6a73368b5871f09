#include "llama/llama_model.h"

#include "llama/checkpoint.h"
#include "llama/llama_names.h"
#include "model/non_finite.h"

#include <ATen/ATen.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace lorahub::llama {
namespace {

at::Tensor pad_rows(const std::vector<TokenIds>& rows, int64_t fill, bool left) {
  size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  at::Tensor out = at::full({static_cast<int64_t>(rows.size()), static_cast<int64_t>(longest)}, fill, at::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t offset = left ? longest - rows[i].size() : 0;
    for (size_t j = 0; j < rows[i].size(); ++j) acc[i][offset + j] = rows[i][j];
  }
  return out;
}

std::vector<TokenIds> ones_like_rows(const std::vector<TokenIds>& rows) {
  std::vector<TokenIds> ones;
  for (const auto& r : rows) ones.emplace_back(r.size(), 1);
  return ones;
}

// torch.finfo(dtype).min, HF's masked-position value.
double lowest(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16: return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kDouble: return std::numeric_limits<double>::lowest();
    default: return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

}  // namespace

at::Tensor hf_labels(const model::PairBatch& pairs) {
  at::Tensor full = at::full(pairs.input_ids.sizes(), -100, at::kLong);
  const at::Tensor start = pairs.target_start.to(at::kCPU);
  const at::Tensor lab = pairs.labels.to(at::kCPU);
  for (int64_t b = 0; b < full.size(0); ++b) {
    const int64_t s = start[b].item<int64_t>();
    for (int64_t j = 0; j < lab.size(1) && s + j < full.size(1); ++j) full[b][s + j] = lab[b][j];
  }
  return full;
}

model::PairBatch make_causal_pairs(const std::vector<TokenIds>& prompts, const std::vector<TokenIds>& targets,
                                   int64_t pad_id) {
  if (prompts.empty()) throw std::invalid_argument("make_causal_pairs: no examples");
  if (prompts.size() != targets.size()) {
    throw std::invalid_argument("make_causal_pairs: " + std::to_string(prompts.size()) + " prompts but " +
                                std::to_string(targets.size()) + " targets");
  }
  std::vector<TokenIds> rows;
  std::vector<int64_t> starts;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) {
      throw std::invalid_argument("make_causal_pairs: example " + std::to_string(i) +
                                  " has an empty prompt (a causal LM needs a first token, e.g. BOS)");
    }
    TokenIds row = prompts[i];
    row.insert(row.end(), targets[i].begin(), targets[i].end());
    rows.push_back(std::move(row));
    starts.push_back(static_cast<int64_t>(prompts[i].size()));
  }
  model::PairBatch b;
  b.input_ids = pad_rows(rows, pad_id, false);
  b.attention_mask = pad_rows(ones_like_rows(rows), 0, false);
  b.labels = pad_rows(targets, -100, false);
  if (b.labels.size(1) == 0) b.labels = at::full({b.input_ids.size(0), 0}, -100, at::kLong);
  b.target_start = at::tensor(starts, at::kLong);
  return b;
}

std::pair<at::Tensor, at::Tensor> left_pad(const std::vector<TokenIds>& prompts, int64_t pad_id) {
  if (prompts.empty()) throw std::invalid_argument("left_pad: no prompts");
  return {pad_rows(prompts, pad_id, true), pad_rows(ones_like_rows(prompts), 0, true)};
}

LlamaModel::LlamaModel(const LlamaConfig& config, std::shared_ptr<const WeightStore> weights,
                       std::optional<model::GenerationConfig> generation)
    : config_(config),
      generation_(generation ? std::move(*generation) : config.generation_defaults()),
      weights_(std::move(weights)),
      rotary_(config) {
  const WeightStore& w = *weights_;
  const LlamaConfig& c = config_;
  embed_tokens_ = w.get(names::kEmbedTokens, {c.vocab_size, c.hidden_size});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    Layer l;
    l.input_norm = model::RmsNorm(w, names::input_layernorm(i), c.hidden_size, c.rms_norm_eps);
    l.attn = Attention(w, sites_, i, c);
    l.post_attention_norm = model::RmsNorm(w, names::post_attention_layernorm(i), c.hidden_size, c.rms_norm_eps);
    l.mlp = Mlp(w, sites_, i, c);
    layers_.push_back(std::move(l));
  }
  norm_ = model::RmsNorm(w, names::kFinalNorm, c.hidden_size, c.rms_norm_eps);
  lm_head_ = c.tie_word_embeddings ? embed_tokens_ : w.get(names::kLmHead, {c.vocab_size, c.hidden_size});
}

at::Tensor LlamaModel::mask_bias(const at::Tensor& mask2d, int64_t t, int64_t past) const {
  const auto device = embed_tokens_.device();
  const int64_t keys = mask2d.size(1);
  const auto lopts = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor query = at::arange(past, past + t, lopts).view({t, 1});
  const at::Tensor key = at::arange(keys, lopts).view({1, keys});
  at::Tensor allowed = key <= query;  // [T, K]
  if (config_.sliding_window) allowed = allowed.logical_and(key > query - *config_.sliding_window);
  allowed = allowed.unsqueeze(0).logical_and(mask2d.to(device).to(at::kBool).unsqueeze(1));  // [B, T, K]
  const at::ScalarType dtype = embed_tokens_.scalar_type();
  return at::zeros(allowed.sizes(), embed_tokens_.options())
      .masked_fill_(allowed.logical_not(), lowest(dtype))
      .unsqueeze(1);
}

at::Tensor LlamaModel::run(const at::Tensor& ids, const at::Tensor& position_ids, const at::Tensor& mask,
                           std::vector<KvCache>* caches, const LowRankSet* lora,
                           std::vector<at::Tensor>* all) const {
  TORCH_CHECK(ids.dim() == 2, "llama: input_ids must be [batch, length]");
  const int64_t past = caches && !caches->empty() ? (*caches)[0].length : 0;
  auto [cos, sin] = rotary_.cos_sin(position_ids.to(embed_tokens_.device()), past + ids.size(1),
                                    embed_tokens_.scalar_type());
  at::Tensor h = at::embedding(embed_tokens_, ids.to(embed_tokens_.device()));
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (all) all->push_back(h);  // the embeddings, then layers 1..L-1 (HF: layer L only after the norm)
    const Layer& l = layers_[i];
    KvCache* cache = caches ? &(*caches)[i] : nullptr;
    h = h + l.attn.forward(l.input_norm.forward(h), cos, sin, mask, cache, lora);
    h = h + l.mlp.forward(l.post_attention_norm.forward(h), lora);
  }
  h = norm_.forward(h);
  if (all) all->push_back(h);
  return h;
}

at::Tensor LlamaModel::lm_head(const at::Tensor& hidden) const { return at::matmul(hidden, lm_head_.t()); }

at::Tensor LlamaModel::logits(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                              const LowRankSet* lora) const {
  const int64_t s = input_ids.size(1);
  const at::Tensor positions = at::arange(s, at::kLong).unsqueeze(0).expand({input_ids.size(0), s});
  return lm_head(run(input_ids, positions, mask_bias(attention_mask, s, 0), nullptr, lora, nullptr));
}

std::vector<at::Tensor> LlamaModel::hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                  const LowRankSet* lora) const {
  const int64_t s = input_ids.size(1);
  const at::Tensor positions = at::arange(s, at::kLong).unsqueeze(0).expand({input_ids.size(0), s});
  std::vector<at::Tensor> all;
  run(input_ids, positions, mask_bias(attention_mask, s, 0), nullptr, lora, &all);
  return all;
}

at::Tensor LlamaModel::token_losses(const model::PairBatch& batch, const LowRankSet* lora) const {
  const int64_t rows = batch.input_ids.size(0), s = batch.input_ids.size(1), t = batch.labels.size(1);
  const at::Tensor positions = at::arange(s, at::kLong).unsqueeze(0).expand({rows, s});
  const at::Tensor h = run(batch.input_ids, positions, mask_bias(batch.attention_mask, s, 0), nullptr, lora, nullptr);
  // Hidden states that predict the targets, [B, T, hidden]; only those reach lm_head.
  const auto device = h.device();
  const at::Tensor offsets = at::arange(t, at::TensorOptions().dtype(at::kLong).device(device)).view({1, t});
  const at::Tensor where = (batch.target_start.to(device).view({rows, 1}) - 1 + offsets).clamp(0, s - 1);
  const at::Tensor picked = h.gather(1, where.unsqueeze(-1).expand({rows, t, h.size(-1)}));
  const at::Tensor lg = model::at_least_float(lm_head(picked));
  const at::Tensor labels = batch.labels.to(device);
  return at::cross_entropy_loss(lg.reshape({-1, lg.size(-1)}), labels.reshape({-1}), {}, at::Reduction::None, -100)
      .view({rows, t});
}

at::Tensor LlamaModel::loss(const model::PairBatch& batch, const LowRankSet* lora) const {
  const at::Tensor losses = token_losses(batch, lora);
  const at::Tensor count = (batch.labels.to(losses.device()) != -100).sum();
  return losses.sum() / count;
}

at::Tensor LlamaModel::pick(const at::Tensor& logits, at::Tensor& unfinished, const GreedyOptions& options,
                            std::vector<TokenIds>& so_far, std::vector<int64_t>& ended_by) const {
  const int64_t pad = config_.pad_token_id.value_or(0);
  at::Tensor next = logits.argmax(-1);
  next = next * unfinished + pad * (1 - unfinished);
  const at::Tensor was_open = unfinished.to(at::kCPU);
  unfinished = model::keep_open(unfinished, next, generation_);
  const at::Tensor next_cpu = next.to(at::kCPU), open = unfinished.to(at::kCPU);
  for (int64_t b = 0; b < next_cpu.size(0); ++b) {
    auto& row = so_far[static_cast<size_t>(b)];
    if (!open[b].item<int64_t>()) {  // ended before, or by EOS now (not kept in the row)
      if (was_open[b].item<int64_t>()) ended_by[static_cast<size_t>(b)] = next_cpu[b].item<int64_t>();
      continue;
    }
    row.push_back(next_cpu[b].item<int64_t>());
    if (options.stop && options.stop(row)) unfinished[b] = 0;
  }
  return next;
}

GreedyOutput LlamaModel::greedy(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                const GreedyOptions& options, const LowRankSet* lora) const {
  const auto device = embed_tokens_.device();
  const int64_t batch = input_ids.size(0), s = input_ids.size(1), steps = options.max_new_tokens;
  std::vector<KvCache> caches(layers_.size());
  for (auto& c : caches) c.capacity = s + steps;
  at::Tensor mask = attention_mask.to(device, at::kLong);
  // HF prepare_inputs_for_generation: cumsum(mask) - 1, 1 on padding.
  auto positions = [](const at::Tensor& m) { return (m.cumsum(-1) - 1).masked_fill_(m == 0, 1); };
  at::Tensor h = run(input_ids, positions(mask), mask_bias(mask, s, 0), &caches, lora, nullptr);
  at::Tensor unfinished = at::ones({batch}, at::TensorOptions().dtype(at::kLong).device(device));
  std::vector<at::Tensor> tokens, step_logits;
  std::vector<TokenIds> so_far(static_cast<size_t>(batch));
  std::vector<int64_t> ended_by(static_cast<size_t>(batch), -1);
  at::Tensor all_finite;
  for (int64_t step = 0; step < steps; ++step) {
    const at::Tensor lg = model::at_least_float(lm_head(h.select(1, h.size(1) - 1)));  // [B, vocab]
    if (options.record_step_logits) step_logits.push_back(lg.to(at::kFloat));
    model::fold_finite_logits(all_finite, lg, unfinished);
    const at::Tensor next = pick(lg, unfinished, options, so_far, ended_by);
    tokens.push_back(next.unsqueeze(1));
    if (unfinished.max().item<int64_t>() == 0 || step + 1 == steps) break;
    mask = at::cat({mask, at::ones({batch, 1}, mask.options())}, 1);
    const int64_t past = caches[0].length;
    h = run(next.unsqueeze(1), positions(mask).narrow(1, past, 1), mask_bias(mask, 1, past), &caches, lora, nullptr);
  }
  GreedyOutput out;
  out.new_tokens = std::move(so_far);
  out.ended_by = std::move(ended_by);
  out.all_finite = all_finite;
  out.new_ids = tokens.empty() ? at::zeros({batch, 0}, at::kLong) : at::cat(tokens, 1);
  if (options.record_step_logits && !step_logits.empty()) out.step_logits = at::stack(step_logits, 0);
  return out;
}

std::shared_ptr<const model::LanguageModel> LlamaModel::with_weights(std::shared_ptr<const WeightStore> weights) const {
  return std::make_shared<LlamaModel>(config_, std::move(weights), generation_);
}

model::PairBatch LlamaModel::make_pairs(const std::vector<TokenIds>& inputs,
                                        const std::vector<TokenIds>& targets) const {
  model::PairBatch b = make_causal_pairs(inputs, targets, config_.pad_token_id.value_or(0));
  const auto device = embed_tokens_.device();
  b.input_ids = b.input_ids.to(device);
  b.attention_mask = b.attention_mask.to(device);
  b.labels = b.labels.to(device);
  b.target_start = b.target_start.to(device);
  return b;
}

model::Generation LlamaModel::generate(const std::vector<TokenIds>& prompts, const model::GenerationOptions& options,
                                       const LowRankSet* lora) const {
  auto [ids, mask] = left_pad(prompts, config_.pad_token_id.value_or(0));
  GreedyOptions greedy_options;
  greedy_options.max_new_tokens = options.max_new_tokens;
  greedy_options.record_step_logits = options.record_step_logits;
  greedy_options.stop = options.stop;
  GreedyOutput out = greedy(ids, mask, greedy_options, lora);
  model::Generation g;
  g.new_tokens = std::move(out.new_tokens);
  g.ended_by = std::move(out.ended_by);
  g.step_logits = out.step_logits;
  g.all_finite = out.all_finite;
  return g;
}

void LlamaModel::save(const std::string& dir, const io::TensorMap& tensors) const {
  save_checkpoint(dir, config_, tensors);
}

}  // namespace lorahub::llama
