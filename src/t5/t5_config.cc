#include "t5/t5_config.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace lorahub::t5 {

namespace {

// transformers 4.36 T5Config.__init__: "[gated-]<act>" gives is_gated and the
// activation's name, "gated-gelu" meaning gelu_new (for backward
// compatibility); false for another form (T5Config raises ValueError).
bool split_feed_forward_proj(const std::string& proj, bool& gated, std::string& act) {
  const size_t dash = proj.find('-');
  gated = proj.substr(0, dash) == "gated";
  act = dash == std::string::npos ? proj : proj.substr(dash + 1);
  if (proj == "gated-gelu") act = "gelu_new";
  return dash == std::string::npos || (gated && act.find('-') == std::string::npos);
}

// "" and `out` set when transformers' ACT2FN names `name`; otherwise what is wrong, listing the names.
std::string unknown_activation(const std::string& name, Activation& out) {
  for (const auto& e : kActivationNames) {
    if (name == e.name) {
      out = e.value;
      return "";
    }
  }
  return "expected an activation of transformers' ACT2FN (" + util::names_list(kActivationNames) + "), found \"" +
         name + "\"";
}

// transformers' T5Attention._relative_position_bucket: offsets below
// max_exact = buckets / 2 (per direction: the encoder's bidirectional
// buckets are halved first, max_exact = num_buckets / 4; the decoder's
// max_exact = num_buckets / 2) get a bucket each, the rest
// max_exact + log(offset / max_exact) / log(max_distance / max_exact) *
// (buckets - max_exact). That needs max_exact >= 1 in both stacks and
// log(max_distance / max_exact) > 0 in both (the decoder's max_exact is
// the larger); otherwise it divides by zero or a negative number and
// yields bucket indices outside the table (transformers fails with "index
// out of range", or gives buckets that decrease with the distance).
void check_relative_buckets(const io::JsonFields& f, const T5Config& c) {
  const int64_t buckets = c.relative_attention_num_buckets;
  if (buckets < 4) {
    f.fail("relative_attention_num_buckets", "expected at least 4 (the encoder's exact buckets, num_buckets / 4 per "
                                             "direction, must not be 0), found " + std::to_string(buckets));
  }
  if (c.relative_attention_max_distance <= buckets / 2) {
    f.fail("relative_attention_max_distance",
           "expected more than relative_attention_num_buckets / 2 = " + std::to_string(buckets / 2) +
               " (the decoder's exact buckets: the log-spaced ones divide by log(max_distance / " +
               std::to_string(buckets / 2) + "), which must be > 0), found " +
               std::to_string(c.relative_attention_max_distance));
  }
}

// The feed-forward as transformers 4.36 builds it: derived from
// feed_forward_proj, then config.json's own dense_act_fn and is_gated_act
// over it (PretrainedConfig sets saved attributes over derived ones).
void read_activation(const io::JsonFields& f, T5Config& c) {
  std::string act;
  if (!split_feed_forward_proj(c.feed_forward_proj, c.is_gated, act)) {
    f.fail("feed_forward_proj", "expected \"<activation>\" or \"gated-<activation>\", found \"" + c.feed_forward_proj + "\"");
  }
  // null: transformers looks ACT2FN[None] up and fails (KeyError).
  if (f.is_null("dense_act_fn")) f.fail("dense_act_fn", "expected an activation name, found null");
  const bool own_act = f.has("dense_act_fn");
  c.dense_act_fn = own_act ? f.get_string("dense_act_fn") : act;
  if (const std::string problem = unknown_activation(c.dense_act_fn, c.activation); !problem.empty()) {
    f.fail(own_act ? "dense_act_fn" : "feed_forward_proj", problem);
  }
  if (f.has("is_gated_act")) {
    c.is_gated = f.get_bool("is_gated_act", c.is_gated);
    c.gating_field = "is_gated_act";
  }
}

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
  c.eos_token_ids = model::read_token_ids(f, "eos_token_id", {1});
  c.pad_token_id = f.get_int("pad_token_id", 0);
  for (const char* key : {"vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                          "relative_attention_num_buckets", "relative_attention_max_distance"}) {
    if (f.has(key) && f.get_int(key) <= 0) f.fail(key, "expected a positive integer");
  }
  if (c.num_decoder_layers <= 0) f.fail("num_decoder_layers", "expected a positive integer");
  check_relative_buckets(f, c);
  read_activation(f, c);
  return c;
}

}  // namespace

T5Config T5Config::from_file(const std::string& path) { return from_json(io::read_json_file(path), path); }

T5Config T5Config::from_text(const std::string& text, const std::string& source) {
  return from_json(io::parse_json_text(text, source), source);
}

void T5Config::resolve_activation(const std::string& source) {
  std::string act;
  if (!split_feed_forward_proj(feed_forward_proj, is_gated, act)) {
    throw std::invalid_argument(source + ": feed_forward_proj: expected \"<activation>\" or \"gated-<activation>\", "
                                "found \"" + feed_forward_proj + "\"");
  }
  dense_act_fn = act;
  gating_field = "feed_forward_proj";
  if (const std::string problem = unknown_activation(act, activation); !problem.empty()) {
    throw std::invalid_argument(source + ": feed_forward_proj: " + problem);
  }
}

model::GenerationConfig T5Config::generation_defaults() const {
  model::GenerationConfig g;
  g.eos_token_ids = eos_token_ids;
  g.decoder_start_token_id = decoder_start_token_id;
  g.source = "config.json";
  return g;
}

std::string T5Config::to_json() const {
  nlohmann::ordered_json j;
  j["architectures"] = {"T5ForConditionalGeneration"};
  j["d_ff"] = d_ff;
  j["d_kv"] = d_kv;
  j["d_model"] = d_model;
  j["decoder_start_token_id"] = decoder_start_token_id;
  j["dense_act_fn"] = dense_act_fn;
  j["dropout_rate"] = 0.0;
  j["eos_token_id"] = eos_token_ids.size() == 1 ? nlohmann::ordered_json(eos_token_ids[0])
                                                : nlohmann::ordered_json(eos_token_ids);
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
