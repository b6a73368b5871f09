#include "model/generation_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace lorahub::model {
namespace {

// What makes a value of a field change greedy outputs (transformers 4.36
// GenerationMixin._get_generation_mode / _get_logits_processor / validate).
enum class Test {
  kSet,        // any value but null
  kNotOne,     // a value other than null and 1
  kAboveZero,  // a value other than null and <= 0
};

struct Rule {
  const char* key;
  Test test;
  const char* what;      // what transformers does with it
  const char* expected;  // the values that leave greedy decoding as it is
};

// Each field of GenerationConfig that changes the tokens of greedy decoding
// and that lorahub does not implement. (min_length, min_new_tokens and
// penalty_alpha depend on other fields: refuse_unimplemented.)
const Rule kRefused[] = {
    {"num_beams", Test::kNotOne, "beam search", "1 (or null)"},
    {"constraints", Test::kSet, "constrained beam search", "null"},
    {"force_words_ids", Test::kSet, "constrained beam search", "null"},
    {"diversity_penalty", Test::kAboveZero, "group beam search (transformers raises for it in greedy search)", "0"},
    {"repetition_penalty", Test::kNotOne, "a repetition penalty", "1.0"},
    {"encoder_repetition_penalty", Test::kNotOne, "a repetition penalty on the input's tokens", "1.0"},
    {"no_repeat_ngram_size", Test::kAboveZero, "n-gram blocking", "0"},
    {"encoder_no_repeat_ngram_size", Test::kAboveZero, "n-gram blocking on the input's n-grams", "0"},
    {"bad_words_ids", Test::kSet, "banned token sequences", "null"},
    {"forced_bos_token_id", Test::kSet, "a forced first token", "null"},
    {"forced_eos_token_id", Test::kSet, "a forced last token", "null"},
    {"forced_decoder_ids", Test::kSet, "forced tokens at given steps", "null"},
    {"suppress_tokens", Test::kSet, "suppressed tokens", "null"},
    {"begin_suppress_tokens", Test::kSet, "tokens suppressed at the first step", "null"},
    {"sequence_bias", Test::kSet, "biased token sequences", "null"},
    {"exponential_decay_length_penalty", Test::kSet, "a length penalty on the EOS logit", "null"},
    {"guidance_scale", Test::kNotOne, "classifier-free guidance", "null or 1"},
    {"max_time", Test::kSet, "a wall-clock limit (outputs that depend on the machine's speed)", "null"},
    {"num_return_sequences", Test::kNotOne, "several sequences per input (transformers raises for it in greedy search)",
     "1"},
};

bool changes_outputs(const nlohmann::json& v, Test test) {
  if (v.is_null()) return false;
  switch (test) {
    case Test::kSet: return true;
    case Test::kNotOne: return !(v.is_number() && v.get<double>() == 1.0);
    case Test::kAboveZero: return !(v.is_number() && v.get<double>() <= 0.0);
  }
  return true;
}

[[noreturn]] void refuse(const io::JsonFields& f, const std::string& key, const std::string& what,
                         const std::string& expected) {
  f.fail(key, what + " is not implemented (lorahub decodes greedily, as generate(num_beams=1, do_sample=False), "
                     "ending rows at eos_token_id); expected " + expected + ", found " + f.at(key).dump());
}

// The checks of the doc that gives generate its settings; `g` holds its ids.
void refuse_unimplemented(const io::JsonFields& f, const nlohmann::json& doc, const GenerationConfig& g) {
  for (const Rule& r : kRefused) {
    if (doc.contains(r.key) && changes_outputs(doc.at(r.key), r.test)) refuse(f, r.key, r.what, r.expected);
  }
  // MinLength / MinNewTokensLengthLogitsProcessor hold EOS back; without an EOS they do nothing.
  for (const char* key : {"min_length", "min_new_tokens"}) {
    if (!g.eos_token_ids.empty() && doc.contains(key) && changes_outputs(doc.at(key), Test::kAboveZero)) {
      refuse(f, key, "a minimum length (EOS held back)", "0 (or null)");
    }
  }
  // Contrastive search: penalty_alpha > 0 with top_k > 1 (top_k's default is 50).
  if (doc.contains("penalty_alpha") && changes_outputs(doc.at("penalty_alpha"), Test::kAboveZero)) {
    const nlohmann::json top_k = doc.contains("top_k") ? doc.at("top_k") : nlohmann::json(50);
    if (!top_k.is_number() || top_k.get<double>() > 1) {
      refuse(f, "penalty_alpha", "contrastive search (penalty_alpha > 0 with top_k " + top_k.dump() + ")",
             "null or 0");
    }
  }
  if (doc.contains("do_sample") && doc.at("do_sample").is_boolean() && doc.at("do_sample").get<bool>()) {
    io::warn_once(f.file() + ": do_sample",
                  "warning: " + f.file() + ": field 'do_sample' is true, but lorahub decodes greedily (as "
                  "generate(do_sample=False)); temperature, top_k, top_p and the other sampling settings are not used");
  }
}

// GenerationConfig's fields in transformers 4.36 (GenerationConfig.__init__), metadata included.
const std::vector<std::string> kKnownKeys = {
    "max_length", "max_new_tokens", "min_length", "min_new_tokens", "early_stopping", "max_time", "do_sample",
    "num_beams", "num_beam_groups", "penalty_alpha", "use_cache", "temperature", "top_k", "top_p", "typical_p",
    "epsilon_cutoff", "eta_cutoff", "diversity_penalty", "repetition_penalty", "encoder_repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "bad_words_ids", "force_words_ids", "renormalize_logits", "constraints",
    "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty",
    "suppress_tokens", "begin_suppress_tokens", "forced_decoder_ids", "sequence_bias", "guidance_scale", "low_memory",
    "num_return_sequences", "output_attentions", "output_hidden_states", "output_scores", "return_dict_in_generate",
    "pad_token_id", "bos_token_id", "eos_token_id", "encoder_no_repeat_ngram_size", "decoder_start_token_id",
    "num_assistant_tokens", "num_assistant_tokens_schedule", "generation_kwargs", "_from_model_config",
    "_commit_hash", "transformers_version"};

std::optional<int64_t> read_id(const io::JsonFields& f, const std::string& key) {
  if (!f.has(key)) return std::nullopt;
  const int64_t id = f.get_int(key);
  if (id < 0) f.fail(key, "expected a token id >= 0, found " + std::to_string(id));
  return id;
}

}  // namespace

bool GenerationConfig::ends_at(int64_t id) const {
  return std::find(eos_token_ids.begin(), eos_token_ids.end(), id) != eos_token_ids.end();
}

int64_t GenerationConfig::decoder_start() const {
  if (decoder_start_token_id) return *decoder_start_token_id;
  if (bos_token_id) return *bos_token_id;
  throw std::invalid_argument(source + ": neither decoder_start_token_id nor bos_token_id is set, so the decoder has "
                                       "no first token (transformers' generate raises too); give "
                                       "decoder_start_token_id (T5: 0, the pad token)");
}

std::vector<int64_t> read_token_ids(const io::JsonFields& f, const std::string& key, std::vector<int64_t> fallback) {
  if (!f.has(key)) return f.is_null(key) ? std::vector<int64_t>{} : fallback;
  const nlohmann::json& v = f.at(key);
  std::vector<int64_t> ids;
  if (v.is_number_integer()) {
    ids.push_back(v.get<int64_t>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) f.fail(key, "expected a token id or a list of token ids, found " + v.dump());
      ids.push_back(e.get<int64_t>());
    }
  } else {
    f.fail(key, std::string("expected a token id or a list of token ids, found ") + v.type_name());
  }
  for (int64_t id : ids) {
    if (id < 0) f.fail(key, "expected token ids >= 0, found " + v.dump());
  }
  return ids;
}

namespace {
// A JSON value's truth value once json.load has made it a Python object.
bool truthy(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return (v.is_array() || v.is_object()) && !v.empty();
}
}  // namespace

GenerationConfig read_generation_config(const std::string& dir, const GenerationConfig& from_config) {
  const std::string file = dir + "/generation_config.json";
  if (std::filesystem::is_regular_file(file)) {
    const nlohmann::json doc = io::read_json_file(file);
    if (!doc.is_object()) throw std::invalid_argument(file + ": expected a JSON object");
    const io::JsonFields f(doc, file);
    // transformers tests the field's Python truth value: "true", 1, [0] count too.
    const bool copy_of_config = doc.contains("_from_model_config") && truthy(doc.at("_from_model_config"));
    if (!copy_of_config) {
      GenerationConfig g;
      g.source = file;
      g.eos_token_ids = read_token_ids(f, "eos_token_id", {});
      g.decoder_start_token_id = read_id(f, "decoder_start_token_id");
      g.bos_token_id = read_id(f, "bos_token_id");
      refuse_unimplemented(f, doc, g);
      f.warn_unknown(kKnownKeys);
      return g;
    }
  }
  GenerationConfig g = from_config;
  g.source = dir + "/config.json";
  const nlohmann::json doc = io::read_json_file(g.source);
  if (doc.is_object()) refuse_unimplemented(io::JsonFields(doc, g.source), doc, g);
  return g;
}

}  // namespace lorahub::model
