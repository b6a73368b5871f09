#pragma once
// The fields of a Hugging Face T5 `config.json` that the engine uses.

#include "model/generation_config.h"
#include "util/names.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::t5 {

// The feed-forward activations of transformers 4.36's ACT2FN (activations.py),
// each as its module computes it:
//   kRelu relu; kGelu erf GELU x/2 (1 + erf(x/sqrt 2)); kGeluTanh the tanh
//   approximation x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (NewGELU,
//   FastGELU, AccurateGELU, PytorchGELUTanh: one formula); kSilu x sigmoid(x);
//   kQuickGelu x sigmoid(1.702 x); kRelu2 relu(x)^2; kRelu6 min(max(x, 0), 6);
//   kLeakyRelu slope 0.01 below 0; kSigmoid; kTanh; kLinear x; kMish
//   x tanh(softplus(x)); kGelu10 erf GELU clipped to [-10, 10]; kLaplace
//   (1 + erf((x - 0.707107) / (0.282095 sqrt 2))) / 2.
enum class Activation {
  kRelu, kGelu, kGeluTanh, kSilu, kQuickGelu, kRelu2, kRelu6, kLeakyRelu, kSigmoid, kTanh, kLinear, kMish, kGelu10,
  kLaplace,
};
// ACT2FN's names (aliases map to one value; the first prints).
inline constexpr util::Name<Activation> kActivationNames[] = {
    {Activation::kRelu, "relu"},           {Activation::kGelu, "gelu"},
    {Activation::kGelu, "gelu_python"},    {Activation::kGeluTanh, "gelu_new"},
    {Activation::kGeluTanh, "gelu_pytorch_tanh"}, {Activation::kGeluTanh, "gelu_fast"},
    {Activation::kGeluTanh, "gelu_accurate"}, {Activation::kSilu, "silu"},
    {Activation::kSilu, "swish"},          {Activation::kQuickGelu, "quick_gelu"},
    {Activation::kRelu2, "relu2"},         {Activation::kRelu6, "relu6"},
    {Activation::kLeakyRelu, "leaky_relu"}, {Activation::kSigmoid, "sigmoid"},
    {Activation::kTanh, "tanh"},           {Activation::kLinear, "linear"},
    {Activation::kMish, "mish"},           {Activation::kGelu10, "gelu_10"},
    {Activation::kLaplace, "laplace"},
};

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
  // "relu" (T5 v1.0) or "gated-gelu" (v1.1 / Flan): "[gated-]<act>".
  std::string feed_forward_proj = "relu";
  // As transformers 4.36's T5Config: derived from feed_forward_proj (gated
  // when it starts with "gated-"; the activation its last part, "gated-gelu"
  // meaning gelu_new), then replaced by config.json's own `is_gated_act` and
  // `dense_act_fn` where given (PretrainedConfig sets the saved values over
  // the derived ones; T5LayerFF reads these two).
  bool is_gated = false;
  std::string dense_act_fn = "relu";  // an ACT2FN name (kActivationNames)
  Activation activation = Activation::kRelu;
  // The field that decided is_gated, for messages: "feed_forward_proj" or "is_gated_act".
  std::string gating_field = "feed_forward_proj";
  // Tied: lm_head = shared embedding and the decoder output is scaled by
  // d_model^-0.5 first (v1.0). Untied: separate lm_head, no scaling.
  bool tie_word_embeddings = true;
  int64_t decoder_start_token_id = 0;   // shift_right of the labels (and generation, see below)
  std::vector<int64_t> eos_token_ids = {1};  // config.json eos_token_id: an id or a list
  int64_t pad_token_id = 0;

  int64_t inner_dim() const { return num_heads * d_kv; }
  // The generation settings config.json gives (GenerationConfig.from_model_config):
  // its eos ids and decoder_start_token_id; model::read_generation_config
  // replaces them by generation_config.json's where that file has its own.
  model::GenerationConfig generation_defaults() const;

  // Parses and checks `<path>` (a config.json). Errors name the file and field.
  static T5Config from_file(const std::string& path);
  // The same, on the text of a config.json; `source` names it in errors.
  static T5Config from_text(const std::string& text, const std::string& source);
  // Sets is_gated, dense_act_fn and activation from feed_forward_proj (as
  // T5Config.__init__ derives them); throws std::invalid_argument on a
  // malformed value or an activation ACT2FN does not name.
  void resolve_activation(const std::string& source);
  std::string to_json() const;
};

}  // namespace lorahub::t5
