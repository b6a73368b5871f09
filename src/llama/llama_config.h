#pragma once
// The fields of a Hugging Face Llama / Mistral `config.json` (transformers
// 4.36 LlamaConfig / MistralConfig) that change the numbers. A field that
// would change them in a way this engine does not implement is refused by
// name (std::invalid_argument "<file>: field '<name>': ...").

#include "model/generation_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::llama {

// rope_scaling (LlamaConfig._rope_scaling_validation): null, or
// {"type": "linear" | "dynamic", "factor": > 1}.
enum class RopeScaling { kNone, kLinear, kDynamic };

struct LlamaConfig {
  std::string model_type = "llama";  // "llama" or "mistral"
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // absent: num_attention_heads (multi-head attention)
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling = RopeScaling::kNone;
  double rope_scaling_factor = 1.0;
  bool attention_bias = false;  // q/k/v/o_proj with biases (llama only)
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;
  std::vector<int64_t> eos_token_ids = {2};  // config.json eos_token_id: an id or a list (Llama 3.1)
  std::optional<int64_t> pad_token_id;  // Llama defines none
  // Mistral: a query attends to the last `sliding_window` positions (itself
  // included) only; none for llama or when null.
  std::optional<int64_t> sliding_window;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t kv_groups() const { return num_attention_heads / num_key_value_heads; }  // query heads per kv head
  // The generation settings config.json gives (GenerationConfig.from_model_config):
  // its eos and bos ids; model::read_generation_config replaces them by
  // generation_config.json's where that file has its own.
  model::GenerationConfig generation_defaults() const;

  // Parses and checks `<path>` (a config.json). Errors name the file and field.
  static LlamaConfig from_file(const std::string& path);
  // The same, on the text of a config.json; `source` names it in errors.
  static LlamaConfig from_text(const std::string& text, const std::string& source);
  // A config.json that from_text reads back to this config.
  std::string to_json() const;
};

}  // namespace lorahub::llama
