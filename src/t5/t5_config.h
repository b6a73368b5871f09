#pragma once
// The fields of a Hugging Face T5 `config.json` that the engine uses.

#include <string>

namespace lorahub::t5 {

enum class Activation { kRelu, kGelu, kGeluTanh, kSilu };

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  // "relu" (T5 v1.0) or "gated-gelu" (v1.1 / Flan), as in feed_forward_proj.
  std::string feed_forward_proj = "relu";
  bool is_gated = false;
  Activation activation = Activation::kRelu;
  // Tied: lm_head = shared embedding and the decoder output is scaled by
  // d_model^-0.5 first (v1.0). Untied: separate lm_head, no scaling.
  bool tie_word_embeddings = true;
  int64_t decoder_start_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t pad_token_id = 0;

  int64_t inner_dim() const { return num_heads * d_kv; }

  // Parses and checks `<path>` (a config.json). Errors name the file and field.
  static T5Config from_file(const std::string& path);
  // The same, on the text of a config.json; `source` names it in errors.
  static T5Config from_text(const std::string& text, const std::string& source);
  // Sets is_gated/activation from feed_forward_proj; throws on an unknown one.
  void resolve_activation(const std::string& source);
  std::string to_json() const;
};

}  // namespace lorahub::t5
