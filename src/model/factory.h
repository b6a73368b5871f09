#pragma once
// Models of a family built from nothing, for training from scratch (the demo
// world): the family's config from a family-neutral shape, its initial
// weights, and a vocabulary trained with its tokenizer conventions. With
// load_model (model/loader.h), the one place that turns a Family into a
// family's code; part of lorahub_model_loader, which links every family.

#include "model/family.h"
#include "model/language_model.h"
#include "model/tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::model {

// The size of a model, whatever its family.
struct ModelShape {
  int64_t vocab_size = 0;
  int64_t width = 128;          // T5 d_model, Llama hidden_size
  int64_t layers = 2;           // T5: encoder and decoder layers each; Llama: decoder layers
  int64_t heads = 4;            // attention heads; head size width / heads (T5 d_kv)
  int64_t kv_heads = 0;         // Llama num_key_value_heads (0: heads); T5: 0 or heads
  int64_t ffn = 256;            // T5 d_ff (gated-gelu), Llama intermediate_size (SwiGLU)
  int64_t max_positions = 512;  // Llama max_position_embeddings (T5 has relative positions)
};

// A model of `family` and `shape` with fresh weights from `seed`, float32 on
// the CPU, initialised as Hugging Face does for the family (t5/init.h,
// llama/init.h). T5: v1.1 (gated-gelu, untied lm_head), 32 relative-position
// buckets. Llama: `llama`, SwiGLU, untied lm_head, rope_theta 1e4, RMSNorm
// eps 1e-6, BOS 1, EOS 2, no pad token. LanguageModel::save writes it as the
// family's config.json + model.safetensors. Throws std::invalid_argument
// "<family> model: <field> ..." when the shape does not fit (a vocabulary
// of 0, width not a multiple of heads, heads not a multiple of kv_heads).
std::shared_ptr<const LanguageModel> new_model(Family family, const ModelShape& shape, uint64_t seed);

// Trains a SentencePiece vocabulary on `training` with the family's
// conventions and writes the tokenizer files of a Hugging Face directory of
// that family into `dir` (T5: spiece.model + tokenizer_config.json; Llama:
// tokenizer.model + tokenizer_config.json + special_tokens_map.json; see
// text::T5Tokenizer::train, text::LlamaTokenizer::train); returns the
// tokenizer read back from them. Throws std::runtime_error when training fails.
std::shared_ptr<const Tokenizer> train_tokenizer(Family family, const TokenizerTraining& training,
                                                 const std::string& dir);

}  // namespace lorahub::model
