#include "t5/t5_config.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace lorahub::t5 {

namespace {

T5Config from_json(const nlohmann::json& doc, const std::string& path) {
  io::JsonFields f(doc, path);
  T5Config c;
  const std::string model_type = f.get_string("model_type", "t5");
  if (model_type != "t5") f.fail("model_type", "expected \"t5\", found \"" + model_type + "\"");
  c.vocab_size = f.get_int("vocab_size");
  c.d_model = f.get_int("d_model");
  c.d_kv = f.get_int("d_kv");
  c.d_ff = f.get_int("d_ff");
  c.num_layers = f.get_int("num_layers");
  c.num_decoder_layers = f.get_int("num_decoder_layers", c.num_layers);
  c.num_heads = f.get_int("num_heads");
  c.relative_attention_num_buckets = f.get_int("relative_attention_num_buckets", 32);
  c.relative_attention_max_distance = f.get_int("relative_attention_max_distance", 128);
  c.layer_norm_epsilon = f.get_double_above("layer_norm_epsilon", 0, 1e-6);
  c.feed_forward_proj = f.get_string("feed_forward_proj", "relu");
  c.tie_word_embeddings = f.get_bool("tie_word_embeddings", true);
  c.decoder_start_token_id = f.get_int("decoder_start_token_id", 0);
  c.eos_token_id = f.get_int("eos_token_id", 1);
  c.pad_token_id = f.get_int("pad_token_id", 0);
  for (const char* key : {"vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                          "relative_attention_num_buckets", "relative_attention_max_distance"}) {
    if (f.has(key) && f.get_int(key) <= 0) f.fail(key, "expected a positive integer");
  }
  if (c.num_decoder_layers <= 0) f.fail("num_decoder_layers", "expected a positive integer");
  try {
    c.resolve_activation(path);
  } catch (const std::invalid_argument& e) {
    f.fail("feed_forward_proj", e.what());
  }
  return c;
}

}  // namespace

T5Config T5Config::from_file(const std::string& path) { return from_json(io::read_json_file(path), path); }

T5Config T5Config::from_text(const std::string& text, const std::string& source) {
  return from_json(io::parse_json_text(text, source), source);
}

void T5Config::resolve_activation(const std::string& source) {
  // HF: "gated-<act>" or "<act>"; "gated-gelu" means the tanh approximation.
  std::string act = feed_forward_proj;
  is_gated = false;
  if (act.rfind("gated-", 0) == 0) {
    is_gated = true;
    act = act.substr(6);
  }
  if (act == "relu") {
    activation = Activation::kRelu;
  } else if (act == "gelu") {
    activation = is_gated ? Activation::kGeluTanh : Activation::kGelu;
  } else if (act == "gelu_new") {
    activation = Activation::kGeluTanh;
  } else if (act == "silu") {
    activation = Activation::kSilu;
  } else {
    throw std::invalid_argument("expected relu, gelu, gated-gelu or gated-silu, found \"" +
                                feed_forward_proj + "\"");
  }
}

std::string T5Config::to_json() const {
  nlohmann::ordered_json j;
  j["architectures"] = {"T5ForConditionalGeneration"};
  j["d_ff"] = d_ff;
  j["d_kv"] = d_kv;
  j["d_model"] = d_model;
  j["decoder_start_token_id"] = decoder_start_token_id;
  j["dense_act_fn"] = activation == Activation::kRelu ? "relu"
                      : activation == Activation::kGelu ? "gelu"
                      : activation == Activation::kSilu ? "silu" : "gelu_new";
  j["dropout_rate"] = 0.0;
  j["eos_token_id"] = eos_token_id;
  j["feed_forward_proj"] = feed_forward_proj;
  j["is_encoder_decoder"] = true;
  j["is_gated_act"] = is_gated;
  j["layer_norm_epsilon"] = layer_norm_epsilon;
  j["model_type"] = "t5";
  j["num_decoder_layers"] = num_decoder_layers;
  j["num_heads"] = num_heads;
  j["num_layers"] = num_layers;
  j["pad_token_id"] = pad_token_id;
  j["relative_attention_max_distance"] = relative_attention_max_distance;
  j["relative_attention_num_buckets"] = relative_attention_num_buckets;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["vocab_size"] = vocab_size;
  return j.dump(2);
}

}  // namespace lorahub::t5
