// model::read_generation_config: where transformers 4.36's generate takes
// its settings from, and the settings that change greedy outputs, honoured
// or refused by name (break16d F1). Numbers of decoding with them are
// compared with transformers itself in tests/export/hf_inputs_test.py.
#include "model/generation_config.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace lorahub::model {
namespace {

// A directory with config.json `config` and, unless null, generation_config.json `generation`.
std::string model_dir(const std::string& tag, const nlohmann::json& config, const nlohmann::json& generation) {
  const std::string dir = testing::temp_dir("generation-" + tag);
  testing::write_file(dir + "/config.json", config.dump());
  if (!generation.is_null()) testing::write_file(dir + "/generation_config.json", generation.dump());
  return dir;
}

GenerationConfig t5_defaults() {  // what T5Config::generation_defaults gives for the tiny fixture
  GenerationConfig g;
  g.eos_token_ids = {1};
  g.decoder_start_token_id = 0;
  return g;
}

std::string error_of(const std::string& dir) {
  try {
    read_generation_config(dir, t5_defaults());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(GenerationConfig, TheFileReplacesConfigJsonUnlessItIsACopyOfIt) {
  const nlohmann::json config = {{"model_type", "t5"}, {"eos_token_id", 1}, {"decoder_start_token_id", 0}};
  // No file: config.json's ids (GenerationConfig.from_model_config).
  GenerationConfig g = read_generation_config(model_dir("none", config, nullptr), t5_defaults());
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(g.decoder_start(), 0);
  // "_from_model_config": true: generate rebuilds the settings from config.json, whatever the file says.
  g = read_generation_config(model_dir("copy", config, {{"_from_model_config", true}, {"eos_token_id", {1, 357}},
                                                        {"decoder_start_token_id", 5}}),
                             t5_defaults());
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(g.decoder_start(), 0);
  // transformers tests the field's Python truth value: the string "true" counts, 0 does not.
  g = read_generation_config(model_dir("copy-str", config, {{"_from_model_config", "true"}, {"eos_token_id", {1, 357}}}),
                             t5_defaults());
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1}));
  g = read_generation_config(model_dir("copy-0", config, {{"_from_model_config", 0}, {"eos_token_id", {1, 357}}}),
                             t5_defaults());
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 357}));
  // A saved generation config: its own ids, a list of EOS ids included (Llama 3 Instruct).
  const std::string own = model_dir("own", config, {{"eos_token_id", {1, 357}}, {"decoder_start_token_id", 5},
                                                    {"transformers_version", "4.36.2"}});
  g = read_generation_config(own, t5_defaults());
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 357}));
  EXPECT_TRUE(g.ends_at(357));
  EXPECT_FALSE(g.ends_at(2));
  EXPECT_EQ(g.decoder_start(), 5);
  EXPECT_EQ(g.source, own + "/generation_config.json");
  // Ids it does not give are unset (not config.json's): no EOS; the decoder starts at bos_token_id.
  g = read_generation_config(model_dir("bos", config, {{"bos_token_id", 3}}), t5_defaults());
  EXPECT_TRUE(g.eos_token_ids.empty());
  EXPECT_EQ(g.decoder_start(), 3);
  const std::string neither = model_dir("neither", config, {{"eos_token_id", 1}});
  try {
    read_generation_config(neither, t5_defaults()).decoder_start();
    ADD_FAILURE() << "a decoder without a first token";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), neither + "/generation_config.json: neither decoder_start_token_id nor "
                                     "bos_token_id is set, so the decoder has no first token (transformers' generate "
                                     "raises too); give decoder_start_token_id (T5: 0, the pad token)");
  }
  const std::string bad = model_dir("bad-eos", config, {{"eos_token_id", "1"}});
  EXPECT_EQ(error_of(bad), bad + "/generation_config.json: field 'eos_token_id': expected a token id or a list of token "
                                 "ids, found string");
}

// Every field that changes greedy outputs in a way lorahub does not implement, with the
// value that turns it on: refused by name, in generation_config.json and in config.json.
TEST(GenerationConfig, FieldsThatChangeGreedyOutputsAreRefusedByName) {
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"num_beams", 4},
      {"constraints", nlohmann::json::array({1})},
      {"force_words_ids", nlohmann::json::array({nlohmann::json::array({5})})},
      {"diversity_penalty", 0.5},
      {"repetition_penalty", 1.5},
      {"encoder_repetition_penalty", 0.9},
      {"no_repeat_ngram_size", 2},
      {"encoder_no_repeat_ngram_size", 3},
      {"bad_words_ids", nlohmann::json::array({nlohmann::json::array({5})})},
      {"forced_bos_token_id", 4},
      {"forced_eos_token_id", 1},
      {"forced_decoder_ids", nlohmann::json::array({nlohmann::json::array({1, 5})})},
      {"suppress_tokens", nlohmann::json::array({5})},
      {"begin_suppress_tokens", nlohmann::json::array({5})},
      {"sequence_bias", nlohmann::json::object()},
      {"exponential_decay_length_penalty", nlohmann::json::array({5, 1.5})},
      {"guidance_scale", 1.5},
      {"max_time", 10},
      {"num_return_sequences", 2},
      {"min_length", 3},
      {"min_new_tokens", 2},
      {"penalty_alpha", 0.6},
  };
  for (const auto& [key, value] : cases) {
    for (const bool in_config : {false, true}) {
      nlohmann::json config = {{"eos_token_id", 1}};
      nlohmann::json generation = {{"eos_token_id", 1}, {"decoder_start_token_id", 0}};
      (in_config ? config : generation)[key] = value;
      const std::string dir = model_dir(key + (in_config ? "-c" : "-g"), config, in_config ? nullptr : generation);
      const std::string file = dir + (in_config ? "/config.json" : "/generation_config.json");
      const std::string msg = error_of(dir);
      EXPECT_EQ(msg.rfind(file + ": field '" + key + "': ", 0), 0u) << key << ": " << msg;
      EXPECT_NE(msg.find("is not implemented (lorahub decodes greedily"), std::string::npos) << msg;
      EXPECT_NE(msg.find("found " + value.dump()), std::string::npos) << msg;
    }
  }
  const std::string ngram = model_dir("ngram", {}, {{"no_repeat_ngram_size", 2}});
  EXPECT_EQ(error_of(ngram),
            ngram + "/generation_config.json: field 'no_repeat_ngram_size': n-gram blocking is not implemented (lorahub "
                "decodes greedily, as generate(num_beams=1, do_sample=False), ending rows at eos_token_id); expected 0, "
                "found 2");
  // The values that leave greedy decoding as it is pass; so do min_length without an EOS (nothing held
  // back) and penalty_alpha with top_k 1 (greedy, not contrastive search).
  const nlohmann::json neutral = {
      {"num_beams", 1},           {"repetition_penalty", 1.0}, {"no_repeat_ngram_size", 0}, {"bad_words_ids", nullptr},
      {"guidance_scale", 1},      {"min_new_tokens", nullptr}, {"num_return_sequences", 1}, {"max_length", 20},
      {"max_new_tokens", 7},      {"early_stopping", true},    {"length_penalty", 2.0},     {"num_beam_groups", 1},
      {"renormalize_logits", true}, {"remove_invalid_values", true}, {"pad_token_id", 0},   {"use_cache", false},
      {"output_scores", true},    {"temperature", 0.6},        {"top_p", 0.9},              {"eos_token_id", 1},
      {"decoder_start_token_id", 0}};
  EXPECT_EQ(error_of(model_dir("neutral", {}, neutral)), "");
  EXPECT_EQ(error_of(model_dir("min-no-eos", {}, {{"min_length", 5}, {"bos_token_id", 0}})), "");
  EXPECT_EQ(error_of(model_dir("alpha-top1", {}, {{"penalty_alpha", 0.6}, {"top_k", 1}, {"bos_token_id", 0}})), "");
}

TEST(GenerationConfig, SamplingAndUnknownKeysAreWarnedAboutOncePerProcess) {
  const std::string dir = model_dir("sample", {}, {{"do_sample", true}, {"temperature", 0.6}, {"top_p", 0.9},
                                                   {"eos_token_id", {128001, 128009}}, {"zz_unknown", 1},
                                                   {"bos_token_id", 128000}});
  ::testing::internal::CaptureStderr();
  read_generation_config(dir, t5_defaults());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "warning: " + dir + "/generation_config.json: field 'do_sample' is true, but lorahub decodes greedily (as "
            "generate(do_sample=False)); temperature, top_k, top_p and the other sampling settings are not used\n"
            "warning: " + dir + "/generation_config.json: field 'zz_unknown' is not known to lorahub and is ignored\n");
  ::testing::internal::CaptureStderr();
  read_generation_config(dir, t5_defaults());  // a pool loads the same base many times: said once
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ::testing::internal::CaptureStderr();
  read_generation_config(model_dir("quiet", {}, {{"do_sample", false}, {"temperature", 0.6}}), t5_defaults());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace lorahub::model
