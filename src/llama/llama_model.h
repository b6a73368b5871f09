#pragma once
// LlamaForCausalLM (and MistralForCausalLM) as transformers 4.36 computes it:
// embeddings, decoder layers (RMSNorm, rotary grouped-query attention,
// SwiGLU), final norm, lm_head; teacher-forced logits and losses of
// right-padded batches, greedy decoding of left-padded batches with a
// key/value cache. float32 or bfloat16 (the weights' dtype).
// Immutable once built; every method is const and may run concurrently.

#include "llama/layers.h"
#include "llama/llama_config.h"
#include "model/linear.h"
#include "model/projections.h"
#include "model/rms_norm.h"
#include "model/weight_store.h"

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

namespace lorahub::llama {

using TokenIds = std::vector<int64_t>;

// (input, target) pairs as the causal LM computes their loss: row b is
// prompt + target, right-padded with `pad_id` (mask 0); labels [B, T] hold
// the target ids (-100 on padding), T the longest target; target_start[b] is
// the position of the first target token (= prompt length).
struct CausalBatch {
  at::Tensor input_ids;       // [B, S] int64
  at::Tensor attention_mask;  // [B, S] int64
  at::Tensor labels;          // [B, T] int64
  at::Tensor target_start;    // [B] int64
  // HF's labels [B, S]: -100 on prompt and padding, the target ids on their
  // positions (what LlamaForCausalLM(labels=...) takes).
  at::Tensor full_labels() const;
};
CausalBatch make_causal_batch(const std::vector<TokenIds>& prompts, const std::vector<TokenIds>& targets,
                              int64_t pad_id = 0);

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
  // Row b's generated tokens up to, not including, EOS or the end.
  std::vector<TokenIds> tokens(int64_t eos_id) const;
};

class LlamaModel {
 public:
  // Resolves every weight; throws naming the file and tensor on a missing or
  // misshapen one. The store is shared, never modified.
  LlamaModel(const LlamaConfig& config, std::shared_ptr<const WeightStore> weights);

  const LlamaConfig& config() const { return config_; }
  const WeightStore& weights() const { return *weights_; }
  std::shared_ptr<const WeightStore> shared_weights() const { return weights_; }
  // q/k/v/o_proj, gate/up/down_proj of every layer, in forward order
  // ("model.layers.0.self_attn.q_proj"), indexed by site.
  const model::ProjectionRegistry& sites() const { return sites_; }

  // lm_head logits [B, S, vocab] of a right-padded batch (positions 0..S-1).
  at::Tensor logits(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LowRankSet* lora = nullptr) const;
  // HF output_hidden_states: L + 1 tensors [B, S, hidden]: the embeddings,
  // the outputs of layers 1..L-1, and model.norm(output of layer L).
  std::vector<at::Tensor> hidden_states(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                        const LowRankSet* lora = nullptr) const;
  // Cross-entropy of each target token [B, T] (float32, 0 where labels ==
  // -100): token j of row b is predicted by the logits at target_start - 1 + j.
  at::Tensor token_losses(const CausalBatch& batch, const LowRankSet* lora = nullptr) const;
  // LlamaForCausalLM(labels=full_labels).loss: the mean over the batch's target tokens.
  at::Tensor loss(const CausalBatch& batch, const LowRankSet* lora = nullptr) const;
  // Greedy decoding as HF generate(do_sample=False, num_beams=1) of a
  // left-padded batch: position ids cumsum(mask) - 1 (1 on padding), a
  // key/value cache; a row ends at EOS or when options.stop says so; all
  // end after max_new_tokens.
  GreedyOutput greedy(const at::Tensor& input_ids, const at::Tensor& attention_mask, const GreedyOptions& options,
                      const LowRankSet* lora = nullptr) const;

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
  // One greedy step's bookkeeping: picks tokens from `logits` [B, vocab].
  at::Tensor pick(const at::Tensor& logits, at::Tensor& unfinished, const GreedyOptions& options,
                  std::vector<TokenIds>& so_far) const;

  LlamaConfig config_;
  std::shared_ptr<const WeightStore> weights_;
  model::ProjectionRegistry sites_;
  at::Tensor embed_tokens_, lm_head_;
  std::vector<Layer> layers_;
  model::RmsNorm norm_;
  RotaryEmbedding rotary_;
};

}  // namespace lorahub::llama
