#include "t5/t5_model.h"

#include "model/non_finite.h"
#include "t5/batch.h"
#include "t5/checkpoint.h"
#include "t5/runtime.h"
#include "t5/t5_names.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lorahub::t5 {

using names::Stack;

T5Model::T5Model(const T5Config& config, std::shared_ptr<const WeightStore> weights,
                 std::optional<model::GenerationConfig> generation)
    : config_(config),
      generation_(generation ? std::move(*generation) : config.generation_defaults()),
      weights_(std::move(weights)) {
  const WeightStore& w = *weights_;
  const T5Config& c = config_;
  shared_ = w.get(names::kShared, {c.vocab_size, c.d_model});
  lm_head_ = c.tie_word_embeddings ? shared_ : w.get(names::kLmHead, {c.vocab_size, c.d_model});
  for (Stack s : {Stack::kEncoder, Stack::kDecoder}) {
    const int64_t n = s == Stack::kEncoder ? c.num_layers : c.num_decoder_layers;
    auto& blocks = s == Stack::kEncoder ? encoder_ : decoder_;
    for (int64_t i = 0; i < n; ++i) {
      Block b;
      b.self_norm = RmsNorm(w, names::layer_norm(s, i, 0), c.d_model, c.layer_norm_epsilon);
      b.self_attn = Attention(w, names::self_attention(s, i), c, sites_);
      if (s == Stack::kDecoder) {
        b.cross_norm = RmsNorm(w, names::layer_norm(s, i, 1), c.d_model, c.layer_norm_epsilon);
        b.cross_attn = Attention(w, names::cross_attention(i), c, sites_);
      }
      b.ffn_norm = RmsNorm(w, names::layer_norm(s, i, names::ffn_layer(s)), c.d_model, c.layer_norm_epsilon);
      b.ffn = FeedForward(w, names::feed_forward(s, i), c, sites_);
      blocks.push_back(std::move(b));
    }
  }
  // Only the first layer of each stack owns a relative-position table; the
  // others reuse its bias.
  encoder_bias_ = RelativePositionBias(w, names::relative_attention_bias(Stack::kEncoder), c, true);
  decoder_bias_ = RelativePositionBias(w, names::relative_attention_bias(Stack::kDecoder), c, false);
  encoder_final_norm_ = RmsNorm(w, names::final_layer_norm(Stack::kEncoder), c.d_model, c.layer_norm_epsilon);
  decoder_final_norm_ = RmsNorm(w, names::final_layer_norm(Stack::kDecoder), c.d_model, c.layer_norm_epsilon);
}

bool T5Model::packs_padding() const { return shared_.device().is_cpu() && packed_encoder(); }

at::Tensor T5Model::embed(const at::Tensor& ids) const {
  return at::embedding(shared_, ids.to(shared_.device()));
}

namespace {
// HF's masked-position bias: the lowest value of the compute dtype (float's
// for float64 too, which is as good as -inf after softmax and stays finite).
double mask_value(at::ScalarType dtype) {
  return dtype == at::kBFloat16 ? -3.3895313892515355e38 : static_cast<double>(std::numeric_limits<float>::lowest());
}
}  // namespace

namespace {
// The encoder runs on packed rows (PackedRows) for inference on the CPU
// with a right-padded mask: it skips the padding, and its attention is the
// fused kernel (t5/cpu_kernels.h) even where there is none. Empty lengths
// otherwise. (Training keeps the padded path, whose backward is a few large
// ops; a GPU prefers those too.)
PackedRows packed_rows(const at::Tensor& mask, const at::Tensor& position_bias) {
  PackedRows p;
  if (at::GradMode::is_enabled() || !mask.device().is_cpu() || mask.dim() != 2) return p;
  const at::Tensor m = mask.to(at::kLong);
  const at::Tensor len = m.sum(1).contiguous();
  const int64_t batch = mask.size(0), s = mask.size(1);
  if (!at::equal(m, (at::arange(s, m.options()).unsqueeze(0) < len.unsqueeze(1)).to(at::kLong))) return p;
  const int64_t* l = len.data_ptr<int64_t>();
  // The shortest period of the lengths (candidates repeat the examples).
  int64_t n = 1;
  for (; n < batch; ++n) {
    if (batch % n != 0) continue;
    bool periodic = true;
    for (int64_t b = n; b < batch && periodic; ++b) periodic = l[b] == l[b % n];
    if (periodic) break;
  }
  p.lengths.assign(l, l + n);
  for (int64_t e = 0, off = 0; e < n; off += l[e], ++e) p.offsets.push_back(off);
  p.index = at::nonzero(m.reshape(-1)).squeeze(1);  // row-major: repeat, example, position
  p.position_bias = position_bias;
  p.batch = batch;
  p.length = s;
  return p;
}
}  // namespace

at::Tensor T5Model::mask_bias(const at::Tensor& mask) const {
  // 0 where attended, the dtype's lowest where not.
  const at::Tensor m = mask.to(shared_.device(), shared_.scalar_type());
  return ((1.0 - m) * mask_value(shared_.scalar_type())).unsqueeze(1).unsqueeze(1);
}

T5Model::Encoded T5Model::encode_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                         const LowRankSet* lora) const {
  TORCH_CHECK(input_ids.dim() == 2, "encode: input_ids must be [batch, length]");
  const int64_t s = input_ids.size(1);
  const at::Tensor position = encoder_bias_.forward(s, s);
  Encoded out;
  out.packed = packs_padding() ? packed_rows(attention_mask, position) : PackedRows{};
  if (out.packed.lengths.empty()) {
    out.hidden = run_encoder(embed(input_ids), position + mask_bias(attention_mask), nullptr, lora);
    return out;
  }
  // Real tokens only, [G, M].
  const at::Tensor ids = input_ids.to(shared_.device()).reshape(-1).index_select(0, out.packed.index);
  out.hidden = run_encoder(embed(ids.view({out.packed.repeats(), out.packed.tokens()})), {}, &out.packed, lora);
  return out;
}

at::Tensor T5Model::encode(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const LowRankSet* lora) const {
  const Encoded e = encode_states(input_ids, attention_mask, lora);
  return e.packed.lengths.empty() ? e.hidden : unpack(e.hidden, e.packed);
}

at::Tensor T5Model::run_encoder(const at::Tensor& hidden, const at::Tensor& bias, const PackedRows* packed,
                                const LowRankSet* lora) const {
  at::Tensor h = hidden;
  for (const Block& b : encoder_) {
    h = h + b.self_attn.forward(b.self_norm.forward(h), {}, bias, nullptr, lora, packed);
    h = h + b.ffn.forward(b.ffn_norm.forward(h), lora);
  }
  return encoder_final_norm_.forward(h);
}

at::Tensor T5Model::run_decoder(const at::Tensor& hidden, const at::Tensor& self_bias, const Encoded& encoder,
                                const at::Tensor& cross_bias, std::vector<AttentionCache>* caches,
                                const LowRankSet* lora) const {
  const PackedRows* packed = encoder.packed.lengths.empty() ? nullptr : &encoder.packed;
  at::Tensor h = hidden;
  for (size_t i = 0; i < decoder_.size(); ++i) {
    const Block& b = decoder_[i];
    AttentionCache* self_cache = caches ? &(*caches)[2 * i] : nullptr;
    AttentionCache* cross_cache = caches ? &(*caches)[2 * i + 1] : nullptr;
    h = h + b.self_attn.forward(b.self_norm.forward(h), {}, self_bias, self_cache, lora);
    h = h + b.cross_attn.forward(b.cross_norm.forward(h), encoder.hidden, cross_bias, cross_cache, lora, packed);
    h = h + b.ffn.forward(b.ffn_norm.forward(h), lora);
  }
  return decoder_final_norm_.forward(h);
}

at::Tensor T5Model::lm_head(const at::Tensor& decoder_out) const {
  // v1.0 (tied) rescales before the shared projection; v1.1/Flan does not.
  const at::Tensor x = config_.tie_word_embeddings
                           ? decoder_out * std::pow(static_cast<double>(config_.d_model), -0.5)
                           : decoder_out;
  return at::matmul(x, lm_head_.t());
}

at::Tensor T5Model::decode(const at::Tensor& decoder_input_ids, const at::Tensor& encoder_hidden,
                           const at::Tensor& encoder_mask, const LowRankSet* lora) const {
  return decode_states(decoder_input_ids, Encoded{encoder_hidden, {}}, encoder_mask, lora);
}

at::Tensor T5Model::decode_states(const at::Tensor& decoder_input_ids, const Encoded& encoder,
                                  const at::Tensor& encoder_mask, const LowRankSet* lora) const {
  const int64_t t = decoder_input_ids.size(1);
  const auto opts = at::TensorOptions().dtype(shared_.scalar_type()).device(shared_.device());
  const at::Tensor causal = at::ones({t, t}, opts).tril();
  const at::Tensor self_bias =
      decoder_bias_.forward(t, t) + ((1.0 - causal) * mask_value(shared_.scalar_type())).view({1, 1, t, t});
  const at::Tensor h = run_decoder(embed(decoder_input_ids), self_bias, encoder, mask_bias(encoder_mask), nullptr, lora);
  return lm_head(h);
}

at::Tensor T5Model::logits(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const at::Tensor& decoder_input_ids, const LowRankSet* lora) const {
  return decode_states(decoder_input_ids, encode_states(input_ids, attention_mask, lora), attention_mask, lora);
}

at::Tensor T5Model::loss(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                         const at::Tensor& labels, const LowRankSet* lora) const {
  const at::Tensor dec_in = shift_right(labels, config_.decoder_start_token_id, config_.pad_token_id);
  const at::Tensor lg = logits(input_ids, attention_mask, dec_in, lora);
  return mean_token_cross_entropy(lg, labels.to(lg.device()));
}

namespace {
// 0 for the rows `stop` ends after the tokens so far (decoder start excluded), 1 otherwise.
at::Tensor stopped_rows(const std::vector<at::Tensor>& tokens, const std::function<bool(const model::TokenIds&)>& stop) {
  const at::Tensor ids = at::cat(tokens, 1);
  std::vector<int64_t> keep;
  for (const auto& row : rows_to_ids(ids, true)) keep.push_back(stop(row) ? 0 : 1);
  return at::tensor(keep, at::kLong).to(ids.device());
}
}  // namespace

GreedyOutput T5Model::greedy(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                             const GreedyOptions& options, const LowRankSet* lora) const {
  const int64_t batch = input_ids.size(0);
  const Encoded encoder = encode_states(input_ids, attention_mask, lora);
  const at::Tensor cross_bias = mask_bias(attention_mask);
  const int64_t steps = options.max_new_tokens;
  std::vector<AttentionCache> caches(2 * decoder_.size());
  for (size_t i = 0; i < decoder_.size(); ++i) caches[2 * i].capacity = steps;
  // Bias of every (query, key) pair up to `steps`; step s uses row s, keys <= s.
  const at::Tensor full_bias = decoder_bias_.forward(steps, steps);

  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(shared_.device());
  at::Tensor ids = at::full({batch, 1}, generation_.decoder_start(), long_opts);
  at::Tensor unfinished = at::ones({batch}, long_opts);
  std::vector<at::Tensor> tokens{ids}, step_logits;
  at::Tensor current = ids, all_finite;
  for (int64_t s = 0; s < steps; ++s) {
    const at::Tensor bias = full_bias.narrow(2, s, 1).narrow(3, 0, s + 1);
    const at::Tensor h = run_decoder(embed(current), bias, encoder, cross_bias, &caches, lora);
    const at::Tensor lg = lm_head(h).select(1, 0);  // [B, vocab]
    if (options.record_step_logits) step_logits.push_back(lg.to(at::kFloat));
    model::fold_finite_logits(all_finite, lg, unfinished);
    at::Tensor next = lg.argmax(-1);
    next = next * unfinished + config_.pad_token_id * (1 - unfinished);
    unfinished = model::keep_open(unfinished, next, generation_);
    current = next.unsqueeze(1);
    tokens.push_back(current);
    if (options.stop) unfinished = unfinished * stopped_rows(tokens, options.stop);
    if (unfinished.max().item<int64_t>() == 0) break;
  }
  GreedyOutput out;
  out.ids = at::cat(tokens, 1);
  out.all_finite = all_finite;
  if (options.record_step_logits) out.step_logits = at::stack(step_logits, 0);
  return out;
}

std::shared_ptr<const model::LanguageModel> T5Model::with_weights(std::shared_ptr<const WeightStore> weights) const {
  return std::make_shared<T5Model>(config_, std::move(weights), generation_);
}

model::PairBatch T5Model::make_pairs(const std::vector<model::TokenIds>& inputs,
                                     const std::vector<model::TokenIds>& targets) const {
  const Seq2SeqBatch b = make_batch(inputs, targets, config_.pad_token_id);
  const auto device = weights_->device();
  model::PairBatch p;
  p.input_ids = b.input_ids.to(device);
  p.attention_mask = b.attention_mask.to(device);
  p.labels = b.labels.to(device);
  p.decoder_input_ids = shift_right(p.labels, config_.decoder_start_token_id, config_.pad_token_id);
  return p;
}

at::Tensor T5Model::token_losses(const model::PairBatch& batch, const LowRankSet* lora) const {
  return token_cross_entropy(logits(batch.input_ids, batch.attention_mask, batch.decoder_input_ids, lora), batch.labels);
}

at::Tensor T5Model::loss(const model::PairBatch& batch, const LowRankSet* lora) const {
  const at::Tensor lg = logits(batch.input_ids, batch.attention_mask, batch.decoder_input_ids, lora);
  return mean_token_cross_entropy(lg, batch.labels.to(lg.device()));
}

model::Generation T5Model::generate(const std::vector<model::TokenIds>& prompts, const model::GenerationOptions& options,
                                    const LowRankSet* lora) const {
  const Seq2SeqBatch b = make_input_batch(prompts, config_.pad_token_id);
  const auto device = weights_->device();
  const GreedyOutput g = greedy(b.input_ids.to(device), b.attention_mask.to(device),
                                {options.max_new_tokens, options.record_step_logits, options.stop}, lora);
  model::Generation out;
  for (auto& row : rows_to_ids(g.ids, true)) {
    // After an EOS or a stop a row holds only padding.
    const auto eos = std::find_if(row.begin(), row.end(), [this](int64_t id) { return generation_.ends_at(id); });
    out.ended_by.push_back(eos == row.end() ? -1 : *eos);
    row.erase(eos, row.end());
    for (size_t n = 1; options.stop && n < row.size(); ++n) {
      if (options.stop(model::TokenIds(row.begin(), row.begin() + static_cast<long>(n)))) row.resize(n);
    }
    out.new_tokens.push_back(std::move(row));
  }
  out.decoder_start = generation_.decoder_start();
  out.step_logits = g.step_logits;
  out.all_finite = g.all_finite;
  return out;
}

void T5Model::save(const std::string& dir, const io::TensorMap& tensors) const { save_checkpoint(dir, config_, tensors); }

}  // namespace lorahub::t5
