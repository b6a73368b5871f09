#pragma once
// LlamaForCausalLM (and MistralForCausalLM) as transformers 4.36 computes it:
// embeddings, decoder layers (RMSNorm, rotary grouped-query attention,
// SwiGLU), final norm, lm_head; teacher-forced logits and losses of
// right-padded batches, greedy decoding of left-padded batches with a
// key/value cache. float32 or bfloat16 (the weights' dtype).
// Immutable once built; every method is const and may run concurrently.

#include "llama/layers.h"
#include "llama/llama_config.h"
#include "model/language_model.h"
#include "model/linear.h"
#include "model/projections.h"
#include "model/rms_norm.h"
#include "model/weight_store.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

namespace lorahub::llama {

using model::TokenIds;

// (input, target) pairs as the causal LM computes their loss
// (fixtures/tiny-llama/README.md): row b is prompt + target, right-padded
// with `pad_id` (mask 0); labels [B, T] hold the target ids (-100 on
// padding), T the longest target; target_start[b] is the position of the
// first target token (= prompt length). Throws std::invalid_argument when
// empty, the counts differ or a prompt is empty.
model::PairBatch make_causal_pairs(const std::vector<TokenIds>& prompts, const std::vector<TokenIds>& targets,
                                   int64_t pad_id = 0);
// HF's labels [B, S] of such pairs: -100 on prompt and padding, the target
// ids on their positions (what LlamaForCausalLM(labels=...) takes).
at::Tensor hf_labels(const model::PairBatch& pairs);

// Prompts LEFT-padded with `pad_id` for generation: input_ids, attention_mask [B, S].
std::pair<at::Tensor, at::Tensor> left_pad(const std::vector<TokenIds>& prompts, int64_t pad_id = 0);

struct GreedyOptions {
  int64_t max_new_tokens = 256;
  bool record_step_logits = false;
  // Called after each step with an unfinished row's new tokens so far; true
  // ends that row, its last token kept (e.g. a stop string appeared).
  std::function<bool(const TokenIds& new_tokens)> stop;
};

struct GreedyOutput {
  at::Tensor new_ids;      // [B, steps]: generated tokens, EOS included, pad after a row ended (HF generate)
  at::Tensor step_logits;  // [steps, B, vocab] float32 raw lm_head logits, when recorded
  // Per row, its generated tokens until it ended: EOS excluded, the token
  // that made `stop` true included.
  std::vector<TokenIds> new_tokens;
  std::vector<int64_t> ended_by;  // per row: the EOS id that ended it, -1 when none did
  at::Tensor all_finite;  // bool scalar: model::fold_finite_logits over the steps
};

class LlamaModel final : public model::LanguageModel {
 public:
  // Resolves every weight; throws naming the file and tensor on a missing or
  // misshapen one. The store is shared, never modified.
  // `generation`: the directory's generation settings
  // (model::read_generation_config); nullopt: config.generation_defaults().
  LlamaModel(const LlamaConfig& config, std::shared_ptr<const WeightStore> weights,
             std::optional<model::GenerationConfig> generation = std::nullopt);

  const LlamaConfig& config() const { return config_; }
  const model::GenerationConfig& generation_config() const { return generation_; }
  const WeightStore& weights() const override { return *weights_; }
  std::shared_ptr<const WeightStore> shared_weights() const override { return weights_; }
  // q/k/v/o_proj, gate/up/down_proj of every layer, in forward order
  // ("model.layers.0.self_attn.q_proj"), indexed by site.
  const model::ProjectionRegistry& sites() const { return sites_; }
  using model::LanguageModel::device;

  // lm_head logits [B, S, vocab] of a right-padded batch (positions 0..S-1).
  at::Tensor logits(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LowRankSet* lora = nullptr) const;
  // HF output_hidden_states: L + 1 tensors [B, S, hidden]: the embeddings,
  // the outputs of layers 1..L-1, and model.norm(output of layer L).
  std::vector<at::Tensor> hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                        const LowRankSet* lora = nullptr) const;
  // Cross-entropy of each target token [B, T] (float32, 0 where labels ==
  // -100): token j of row b is predicted by the logits at target_start - 1 + j.
  at::Tensor token_losses(const model::PairBatch& batch, const LowRankSet* lora = nullptr) const override;
  // LlamaForCausalLM(labels=hf_labels(batch)).loss: the mean over the batch's target tokens.
  at::Tensor loss(const model::PairBatch& batch, const LowRankSet* lora = nullptr) const override;
  // Greedy decoding as HF generate(do_sample=False, num_beams=1) of a
  // left-padded batch: position ids cumsum(mask) - 1 (1 on padding), a
  // key/value cache; a row ends at EOS or when options.stop says so; all
  // end after max_new_tokens.
  GreedyOutput greedy(const at::Tensor& input_ids, const at::Tensor& attention_mask, const GreedyOptions& options,
                      const LowRankSet* lora = nullptr) const;

  // model::LanguageModel (see there): pairs by make_causal_pairs (pad 0),
  // generation by greedy() on the left-padded prompts, tokens up to EOS;
  // default stop strings {"\n\n", "Q:"} as evaluation harnesses use for base models.
  model::Family family() const override { return model::Family::kLlama; }
  const model::ProjectionRegistry& projections() const override { return sites_; }
  std::shared_ptr<const model::LanguageModel> with_weights(std::shared_ptr<const WeightStore> weights) const override;
  model::PairBatch make_pairs(const std::vector<TokenIds>& inputs,
                              const std::vector<TokenIds>& targets) const override;
  model::Generation generate(const std::vector<TokenIds>& prompts, const model::GenerationOptions& options,
                             const LowRankSet* lora = nullptr) const override;
  std::vector<std::string> default_stop_strings() const override { return {"\n\n", "Q:"}; }
  std::string peft_task_type() const override { return "CAUSAL_LM"; }
  std::vector<std::string> default_lora_targets() const override { return {"q_proj", "v_proj"}; }
  std::optional<std::vector<std::string>> default_ia3_feedforward() const override {
    if (config_.model_type == "llama") return std::vector<std::string>{"down_proj"};
    return std::nullopt;
  }
  std::string target_modules_hint() const override {
    return "Llama's are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj";
  }
  // config.json + model.safetensors (llama/checkpoint.h save_checkpoint).
  void save(const std::string& dir, const io::TensorMap& tensors) const override;

 private:
  struct Layer {
    model::RmsNorm input_norm, post_attention_norm;
    Attention attn;
    Mlp mlp;
  };
  // Additive mask [B, 1, T, K] for T queries after `past` cached positions:
  // causal, padding (mask2d [B, K]) and Mistral's sliding window, 0 or the
  // dtype's lowest.
  at::Tensor mask_bias(const at::Tensor& mask2d, int64_t t, int64_t past) const;
  // The layers and final norm on embeddings of `ids` [B, T] at `position_ids`;
  // `caches` one per layer or null; `all` collects hidden states when given.
  at::Tensor run(const at::Tensor& ids, const at::Tensor& position_ids, const at::Tensor& mask,
                 std::vector<KvCache>* caches, const LowRankSet* lora, std::vector<at::Tensor>* all) const;
  at::Tensor lm_head(const at::Tensor& hidden) const;
  // One greedy step's bookkeeping: picks tokens from `logits` [B, vocab];
  // a row that ends at an EOS id gets it in `ended_by`.
  at::Tensor pick(const at::Tensor& logits, at::Tensor& unfinished, const GreedyOptions& options,
                  std::vector<TokenIds>& so_far, std::vector<int64_t>& ended_by) const;

  LlamaConfig config_;
  model::GenerationConfig generation_;
  std::shared_ptr<const WeightStore> weights_;
  model::ProjectionRegistry sites_;
  at::Tensor embed_tokens_, lm_head_;
  std::vector<Layer> layers_;
  model::RmsNorm norm_;
  RotaryEmbedding rotary_;
};

}  // namespace lorahub::llama
