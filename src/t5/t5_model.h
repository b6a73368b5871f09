#pragma once
// T5ForConditionalGeneration: encoder, decoder, lm head, greedy decoding;
// the T5 family's model::LanguageModel.
// Immutable once built; every method is const and may run concurrently.

#include "t5/layers.h"
#include "model/language_model.h"
#include "model/linear.h"
#include "t5/t5_config.h"
#include "model/weight_store.h"

#include <functional>

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::t5 {

struct GreedyOptions {
  int64_t max_new_tokens = 256;
  bool record_step_logits = false;  // keep the lm-head logits of every step
  // Called with a row's tokens after each step (decoder start excluded);
  // true ends the row as </s> would. Empty: </s> and max_new_tokens only.
  std::function<bool(const model::TokenIds&)> stop;
};

struct GreedyOutput {
  at::Tensor ids;          // [B, 1 + steps]: decoder start, then tokens; pad after </s>
  at::Tensor step_logits;  // [steps, B, vocab] when recorded
  at::Tensor all_finite;   // bool scalar: model::fold_finite_logits over the steps
};

class T5Model final : public model::LanguageModel {
 public:
  // Resolves every weight; throws naming the file and tensor on a missing or
  // misshapen one. The store is shared, never modified. `generation`: the
  // directory's generation settings (model::read_generation_config);
  // nullopt: config.generation_defaults().
  T5Model(const T5Config& config, std::shared_ptr<const WeightStore> weights,
          std::optional<model::GenerationConfig> generation = std::nullopt);

  const T5Config& config() const { return config_; }
  const model::GenerationConfig& generation_config() const { return generation_; }
  const WeightStore& weights() const override { return *weights_; }
  std::shared_ptr<const WeightStore> shared_weights() const override { return weights_; }
  // The projections that accept low-rank updates
  // ("encoder.block.0.layer.0.SelfAttention.q"), indexed by site.
  const model::ProjectionRegistry& sites() const { return sites_; }
  int site_index(const std::string& module) const { return sites_.find(module); }  // -1 when absent

  // Whether inference passes take right padding out themselves (PackedRows:
  // weights on the CPU, t5::packed_encoder() on); callers need not group
  // examples by length then.
  bool packs_padding() const override;

  // model::LanguageModel (see there). Pairs: inputs right-padded with pad,
  // labels padded with -100, decoder inputs the labels shifted right
  // (lorahub's preprocess_function); token losses from logits() below.
  model::Family family() const override { return model::Family::kT5; }
  const model::ProjectionRegistry& projections() const override { return sites_; }
  std::shared_ptr<const model::LanguageModel> with_weights(std::shared_ptr<const WeightStore> weights) const override;
  model::PairBatch make_pairs(const std::vector<model::TokenIds>& inputs,
                              const std::vector<model::TokenIds>& targets) const override;
  at::Tensor token_losses(const model::PairBatch& batch, const LowRankSet* lora = nullptr) const override;
  at::Tensor loss(const model::PairBatch& batch, const LowRankSet* lora = nullptr) const override;
  // greedy() on the prompts right-padded with pad; tokens up to the first EOS id.
  model::Generation generate(const std::vector<model::TokenIds>& prompts, const model::GenerationOptions& options,
                             const LowRankSet* lora = nullptr) const override;
  void save(const std::string& dir, const io::TensorMap& tensors) const override;
  std::string peft_task_type() const override { return "SEQ_2_SEQ_LM"; }
  std::vector<std::string> default_lora_targets() const override { return {"q", "v"}; }
  std::optional<std::vector<std::string>> default_ia3_feedforward() const override {
    return std::vector<std::string>{"wo"};
  }
  std::string target_modules_hint() const override { return "T5's are q, k, v, o, wi or wi_0/wi_1, wo"; }

  // Encoder output after the final norm, [B, S, d_model]. Values at masked
  // positions are unspecified (0 when the encoder ran packed); nothing reads them.
  at::Tensor encode(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const LowRankSet* lora = nullptr) const;
  // Teacher-forced lm-head logits [B, T, vocab].
  at::Tensor decode(const at::Tensor& decoder_input_ids, const at::Tensor& encoder_hidden,
                    const at::Tensor& encoder_mask, const LowRankSet* lora = nullptr) const;
  at::Tensor logits(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                    const at::Tensor& decoder_input_ids, const LowRankSet* lora = nullptr) const;
  // HF `model(**batch).loss`: mean token cross-entropy over labels != -100;
  // decoder inputs are the labels shifted right.
  at::Tensor loss(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                  const at::Tensor& labels, const LowRankSet* lora = nullptr) const;
  // Greedy decoding with a key/value cache, as HF generate(num_beams=1):
  // the decoder starts at generation_config().decoder_start() (throws
  // std::invalid_argument when there is none); a row ends at any of its EOS
  // ids; stops when every row has ended or after max_new_tokens.
  GreedyOutput greedy(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                      const GreedyOptions& options, const LowRankSet* lora = nullptr) const;

 private:
  struct Block {
    RmsNorm self_norm, cross_norm, ffn_norm;
    Attention self_attn, cross_attn;
    FeedForward ffn;
  };
  struct DecoderState;  // per-layer caches of one greedy run
  // Encoder output as the decoder reads it: [B, S, d], or packed rows
  // [G, M, d] (packed.lengths not empty), whose cross-attention keys and
  // values are projected on real tokens only.
  struct Encoded {
    at::Tensor hidden;
    PackedRows packed;
  };

  at::Tensor embed(const at::Tensor& ids) const;
  at::Tensor mask_bias(const at::Tensor& mask) const;  // [B, S] -> [B, 1, 1, S] additive
  Encoded encode_states(const at::Tensor& input_ids, const at::Tensor& attention_mask, const LowRankSet* lora) const;
  at::Tensor decode_states(const at::Tensor& decoder_input_ids, const Encoded& encoder, const at::Tensor& encoder_mask,
                           const LowRankSet* lora) const;
  // The encoder blocks and final norm: `hidden` [B, S, d] with `bias`, or
  // packed rows [G, M, d] with `packed` (see PackedRows).
  at::Tensor run_encoder(const at::Tensor& hidden, const at::Tensor& bias, const PackedRows* packed,
                         const LowRankSet* lora) const;
  at::Tensor run_decoder(const at::Tensor& hidden, const at::Tensor& self_bias, const Encoded& encoder,
                         const at::Tensor& cross_bias, std::vector<AttentionCache>* caches,
                         const LowRankSet* lora) const;
  at::Tensor lm_head(const at::Tensor& decoder_out) const;

  T5Config config_;
  model::GenerationConfig generation_;
  std::shared_ptr<const WeightStore> weights_;
  model::ProjectionRegistry sites_;
  at::Tensor shared_, lm_head_;
  std::vector<Block> encoder_, decoder_;
  RelativePositionBias encoder_bias_, decoder_bias_;
  RmsNorm encoder_final_norm_, decoder_final_norm_;
};

}  // namespace lorahub::t5
