#include "llama/llama_config.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace lorahub::llama {
namespace {

// MistralConfig's defaults where they differ from LlamaConfig's (4.36).
void mistral_defaults(LlamaConfig& c) {
  c.intermediate_size = 14336;
  c.num_key_value_heads = 8;
  c.max_position_embeddings = 4096 * 32;
  c.sliding_window = 4096;
}

void read_rope_scaling(const io::JsonFields& f, const nlohmann::json& doc, const std::string& path, LlamaConfig& c) {
  if (!f.has("rope_scaling")) return;
  if (c.model_type == "mistral") f.fail("rope_scaling", "MistralConfig (transformers 4.36) has no rope_scaling; expected null");
  const nlohmann::json& rs = doc.at("rope_scaling");
  if (!rs.is_object()) f.fail("rope_scaling", std::string("expected null or an object, found ") + rs.type_name());
  io::JsonFields s(rs, path, "rope_scaling");
  for (auto it = rs.begin(); it != rs.end(); ++it) {
    if (it.key() != "type" && it.key() != "factor") s.fail(it.key(), "not implemented (expected only type and factor)");
  }
  const std::string type = s.get_string("type");
  if (type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
  } else if (type == "dynamic") {
    c.rope_scaling = RopeScaling::kDynamic;
  } else {
    s.fail("type", "expected \"linear\" or \"dynamic\", found \"" + type + "\"");
  }
  c.rope_scaling_factor = s.get_double_above("factor", 1);
}

void read_shape(const io::JsonFields& f, const nlohmann::json& doc, LlamaConfig& c) {
  c.vocab_size = f.get_int("vocab_size", c.vocab_size);
  c.hidden_size = f.get_int("hidden_size", c.hidden_size);
  c.intermediate_size = f.get_int("intermediate_size", c.intermediate_size);
  c.num_hidden_layers = f.get_int("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = f.get_int("num_attention_heads", c.num_attention_heads);
  // Absent or null: num_attention_heads, except an absent one for Mistral (its default 8).
  if (f.has("num_key_value_heads")) {
    c.num_key_value_heads = f.get_int("num_key_value_heads");
  } else if (c.model_type != "mistral" || doc.contains("num_key_value_heads")) {
    c.num_key_value_heads = c.num_attention_heads;
  }
  c.max_position_embeddings = f.get_int("max_position_embeddings", c.max_position_embeddings);
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "max_position_embeddings"}) {
    if (f.has(key) && f.get_int(key) <= 0) f.fail(key, "expected a positive integer");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    f.fail("num_attention_heads", "expected a divisor of hidden_size " + std::to_string(c.hidden_size) + ", found " +
                                      std::to_string(c.num_attention_heads));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    f.fail("num_key_value_heads", "expected a divisor of num_attention_heads " +
                                      std::to_string(c.num_attention_heads) + ", found " +
                                      std::to_string(c.num_key_value_heads));
  }
  if (f.has("head_dim") && f.get_int("head_dim") != c.head_dim()) {
    f.fail("head_dim", "not implemented: expected hidden_size / num_attention_heads = " + std::to_string(c.head_dim()));
  }
}

// Fields whose other values would change the numbers in ways not implemented.
void refuse_unimplemented(const io::JsonFields& f, const LlamaConfig& c) {
  const std::string act = f.get_string("hidden_act", "silu");
  if (act != "silu") f.fail("hidden_act", "expected \"silu\", found \"" + act + "\"");
  if (f.has("pretraining_tp") && f.get_int("pretraining_tp") != 1) {
    f.fail("pretraining_tp", "expected 1 (the sliced tensor-parallel matmuls are not implemented), found " +
                                 std::to_string(f.get_int("pretraining_tp")));
  }
  if (f.get_bool("mlp_bias", false)) f.fail("mlp_bias", "not implemented (transformers 4.36 has no MLP biases)");
  if (c.model_type == "mistral" && f.get_bool("attention_bias", false)) {
    f.fail("attention_bias", "MistralConfig (transformers 4.36) has no attention biases; expected false");
  }
}

LlamaConfig from_json(const nlohmann::json& doc, const std::string& path) {
  if (!doc.is_object()) throw std::invalid_argument(path + ": expected a JSON object");
  io::JsonFields f(doc, path);
  LlamaConfig c;
  c.model_type = f.get_string("model_type");
  if (c.model_type == "mistral") {
    mistral_defaults(c);
  } else if (c.model_type != "llama") {
    f.fail("model_type", "expected \"llama\" or \"mistral\", found \"" + c.model_type + "\"");
  }
  read_shape(f, doc, c);
  refuse_unimplemented(f, c);
  c.rms_norm_eps = f.get_double_above("rms_norm_eps", 0, c.rms_norm_eps);
  c.rope_theta = f.get_double_above("rope_theta", 0, c.rope_theta);
  read_rope_scaling(f, doc, path, c);
  if (c.model_type == "llama") c.attention_bias = f.get_bool("attention_bias", false);
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", false);
  c.bos_token_id = f.get_int("bos_token_id", c.bos_token_id);
  c.eos_token_ids = model::read_token_ids(f, "eos_token_id", c.eos_token_ids);
  if (f.has("pad_token_id")) c.pad_token_id = f.get_int("pad_token_id");
  if (c.model_type == "mistral") {
    c.sliding_window = f.has("sliding_window") ? std::optional<int64_t>(f.get_int("sliding_window")) : std::nullopt;
    if (c.sliding_window && *c.sliding_window <= 0) f.fail("sliding_window", "expected a positive integer or null");
  }
  return c;
}

}  // namespace

LlamaConfig LlamaConfig::from_file(const std::string& path) { return from_json(io::read_json_file(path), path); }

LlamaConfig LlamaConfig::from_text(const std::string& text, const std::string& source) {
  return from_json(io::parse_json_text(text, source), source);
}

model::GenerationConfig LlamaConfig::generation_defaults() const {
  model::GenerationConfig g;
  g.eos_token_ids = eos_token_ids;
  g.bos_token_id = bos_token_id;
  g.source = "config.json";
  return g;
}

std::string LlamaConfig::to_json() const {
  nlohmann::ordered_json j;
  const bool mistral = model_type == "mistral";
  j["architectures"] = {mistral ? "MistralForCausalLM" : "LlamaForCausalLM"};
  if (!mistral) j["attention_bias"] = attention_bias;
  j["bos_token_id"] = bos_token_id;
  j["eos_token_id"] = eos_token_ids.size() == 1 ? nlohmann::ordered_json(eos_token_ids[0])
                                                : nlohmann::ordered_json(eos_token_ids);
  j["hidden_act"] = "silu";
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["model_type"] = model_type;
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads;
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (!mistral) j["pretraining_tp"] = 1;
  j["rms_norm_eps"] = rms_norm_eps;
  if (!mistral) {
    if (rope_scaling == RopeScaling::kNone) {
      j["rope_scaling"] = nullptr;
    } else {
      j["rope_scaling"] = {{"type", rope_scaling == RopeScaling::kLinear ? "linear" : "dynamic"},
                           {"factor", rope_scaling_factor}};
    }
  }
  j["rope_theta"] = rope_theta;
  if (mistral) j["sliding_window"] = sliding_window ? nlohmann::ordered_json(*sliding_window) : nlohmann::ordered_json();
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = "float32";
  j["vocab_size"] = vocab_size;
  return j.dump(2);
}

}  // namespace lorahub::llama
