#pragma once
// The one model interface (issue 14): what lora/, learn/, run/, tasks/ and
// cli/ need from a model, for every family. Above src/model no code names a
// family; a family is chosen once, by model::load_model (model/loader.h).
// Implementations: t5::T5Model (src/t5), the Llama family's model (src/llama).
// Immutable once built; every method is const and may run concurrently.

#include "io/tensor_map.h"
#include "model/family.h"
#include "model/generation_config.h"
#include "model/linear.h"
#include "model/projections.h"
#include "model/tokenizer.h"
#include "model/weight_store.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::model {

// (input, target) pairs laid out the way the family computes its loss, on
// the model's device. Built by LanguageModel::make_pairs; code above the
// model reads only `labels` (which target tokens count) and the row count.
struct PairBatch {
  // [B, S] int64. T5: the inputs, right-padded with pad. Llama: prompt then
  // target, right-padded.
  at::Tensor input_ids, attention_mask;
  // [B, T] int64: the target ids the loss is reported on, -100 on padding.
  // token_losses()[b, j] is the cross-entropy of the j-th target token of row b.
  at::Tensor labels;
  at::Tensor decoder_input_ids;  // T5: labels shifted right (HF `_shift_right`), [B, T]
  at::Tensor target_start;       // Llama: [B] position of the first target token in input_ids

  int64_t rows() const { return input_ids.size(0); }
  // Where HF's loss reads target token j of row b when it flattens the
  // batch's logits to [B * per_row, vocab]: its index within the row, [B, T]
  // int64 on the CPU (entries under labels == -100 unused), with per_row set.
  // Seq2seq (no target_start): j, per_row = T. Causal (after HF's shift):
  // target_start[b] - 1 + j, per_row = S - 1. learn::hf_batch_loss uses it to
  // round the batch loss as HF does.
  at::Tensor hf_loss_positions(int64_t* per_row) const;
  // Every row repeated `times` times, block after block ([r0..rB-1, r0..rB-1, ...]):
  // the layout of batched candidates, group g of a LowRankSet taking block g.
  PairBatch repeat(int64_t times) const;
  // The same batch on `device` (host copies for bookkeeping off the GPU).
  PairBatch to(const at::Device& device) const;
};

// Greedy decoding settings. Stop conditions beyond EOS and max_new_tokens
// (causal LMs' stop strings) arrive as a predicate, so that the model needs
// no tokenizer: learn::generate builds it from text stop strings.
struct GenerationOptions {
  int64_t max_new_tokens = 256;
  bool record_step_logits = false;  // keep the lm-head logits of every step
  // Called with a row's new tokens after each step; true ends that row
  // (its last token kept). Empty: EOS and max_new_tokens only.
  std::function<bool(const TokenIds&)> stop;
};

struct Generation {
  std::vector<TokenIds> new_tokens;  // per prompt: generated tokens only, EOS and padding excluded
  // Per prompt: the EOS id that ended its row (HF generate keeps it in its
  // output, and decode(skip_special_tokens=True) drops it only when it is a
  // special token: an EOS id of generation_config.json may not be), -1 when
  // none did (max_new_tokens, a stop).
  std::vector<int64_t> ended_by;
  // Encoder-decoder models: the decoder's start token, which HF's output
  // begins with (decoded with the rest: dropped only when special, as T5's
  // default start, the pad token, is).
  std::optional<int64_t> decoder_start;
  at::Tensor step_logits;            // [steps, B, vocab] float32 when recorded
  // Bool scalar on the model's device: every logit of every step, of the
  // rows still generating, was finite (model::fold_finite_logits; no host
  // sync per step). learn::generate refuses predictions made otherwise.
  at::Tensor all_finite;
};

// `unfinished` [B] int64 (1: the row still generates) with the rows whose
// `next` token [B] is one of `generation`'s EOS ids set to 0 (HF greedy
// search: unfinished_sequences * prod(next != eos_i)).
at::Tensor keep_open(const at::Tensor& unfinished, const at::Tensor& next, const GenerationConfig& generation);

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  virtual Family family() const = 0;
  // The LoRA-targetable projections, indexed by site (LowRankSet index).
  virtual const ProjectionRegistry& projections() const = 0;
  virtual const WeightStore& weights() const = 0;
  virtual std::shared_ptr<const WeightStore> shared_weights() const = 0;
  c10::Device device() const { return weights().device(); }
  // The same architecture on other weights (a merged composition; a full
  // fine-tune). Throws as the constructor does on a missing or misshapen tensor.
  virtual std::shared_ptr<const LanguageModel> with_weights(std::shared_ptr<const WeightStore> weights) const = 0;

  // Pairs of token ids (Tokenizer::encode_input / encode_target) as one
  // padded batch on the model's device. Throws std::invalid_argument when
  // empty or the counts differ.
  virtual PairBatch make_pairs(const std::vector<TokenIds>& inputs, const std::vector<TokenIds>& targets) const = 0;
  // Per-target-token cross-entropy [B, T] (float32, 0 where labels == -100)
  // under no adapter or `lora`, whose G groups cut the B rows (one
  // composition per group: batched candidates).
  virtual at::Tensor token_losses(const PairBatch& batch, const LowRankSet* lora = nullptr) const = 0;
  // HF `model(**batch).loss`: mean cross-entropy over labels != -100 (float32
  // at least; differentiable for training).
  virtual at::Tensor loss(const PairBatch& batch, const LowRankSet* lora = nullptr) const = 0;
  // Whether the model takes right padding out itself on this device (T5 on
  // the CPU): callers need not group examples by length then.
  virtual bool packs_padding() const { return false; }

  // Greedy decoding as HF generate(num_beams=1), with a key/value cache:
  // rows stop at EOS, at max_new_tokens or when options.stop says so.
  virtual Generation generate(const std::vector<TokenIds>& prompts, const GenerationOptions& options,
                              const LowRankSet* lora = nullptr) const = 0;
  // Text stop strings evaluation harnesses use for this family when the
  // user gives none: none for T5 (it stops at </s>); {"\n\n", "Q:"} for causal LMs.
  virtual std::vector<std::string> default_stop_strings() const { return {}; }

  // PEFT's task_type of adapters for this model ("SEQ_2_SEQ_LM", "CAUSAL_LM"):
  // what exports write and adapter loading requires when a config states one.
  virtual std::string peft_task_type() const = 0;
  // PEFT's default LoRA target_modules for the family (its
  // TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING): T5 {"q", "v"},
  // Llama and Mistral {"q_proj", "v_proj"}.
  virtual std::vector<std::string> default_lora_targets() const = 0;
  // PEFT 0.7.1's default IA3 feedforward_modules for the config's model_type
  // (TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING), used when an
  // adapter_config.json gives null: T5 {"wo"}, Llama {"down_proj"}; nullopt
  // where PEFT has none (Mistral: PEFT asks for the field).
  virtual std::optional<std::vector<std::string>> default_ia3_feedforward() const = 0;
  // The projection names target_modules may use, for error messages
  // ("T5's are q, k, v, o, wi or wi_0/wi_1, wo").
  virtual std::string target_modules_hint() const = 0;

  // config.json + model.safetensors of this architecture holding `tensors`
  // (compose --merge, train --mode full), under `dir`, created if needed.
  virtual void save(const std::string& dir, const io::TensorMap& tensors) const = 0;
};

}  // namespace lorahub::model
