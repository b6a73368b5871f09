// config.json of the Llama family: defaults and refusals that name the file and field.

#include "llama/llama_config.h"

#include "llama/checkpoint.h"
#include "io/safetensors.h"
#include "llama/tiny_llama.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <ATen/core/grad_mode.h>

namespace lorahub::llama {
namespace {

std::string fixture_config() { return testing::read_file(testing::llama_dir() + "/base/config.json"); }

// The fixture's config.json with `key` replaced by `value` (JSON text), or removed when empty.
std::string edited(const std::string& key, const std::string& value) {
  nlohmann::json doc = nlohmann::json::parse(fixture_config());
  if (value.empty()) {
    doc.erase(key);
  } else {
    doc[key] = nlohmann::json::parse(value);
  }
  return doc.dump();
}

std::string error_of(const std::string& text) {
  try {
    LlamaConfig::from_text(text, "dir/config.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(LlamaConfig, FixtureConfigReadsAsDocumented) {
  const LlamaConfig c = LlamaConfig::from_file(testing::llama_dir() + "/base/config.json");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 600);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.kv_groups(), 2);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.max_position_embeddings, 256);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling, RopeScaling::kNone);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.pad_token_id.has_value());
  EXPECT_FALSE(c.sliding_window.has_value());
  // to_json reads back to the same numbers.
  const LlamaConfig back = LlamaConfig::from_text(c.to_json(), "to_json");
  EXPECT_EQ(back.to_json(), c.to_json());
}

TEST(LlamaConfig, HeadsNotDivisibleByKeyValueHeadsNameFileAndField) {
  const std::string msg = error_of(edited("num_key_value_heads", "3"));
  EXPECT_NE(msg.find("dir/config.json: field 'num_key_value_heads'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found 3"), std::string::npos) << msg;
}

TEST(LlamaConfig, MissingRopeThetaAndKeyValueHeadsTakeTheirDefaults) {
  EXPECT_DOUBLE_EQ(LlamaConfig::from_text(edited("rope_theta", ""), "c").rope_theta, 10000.0);
  EXPECT_EQ(LlamaConfig::from_text(edited("num_key_value_heads", ""), "c").num_key_value_heads, 4);
  EXPECT_EQ(LlamaConfig::from_text(edited("num_key_value_heads", "null"), "c").num_key_value_heads, 4);
}

// One rule for every real-valued setting (io::JsonFields::get_double_above):
// a negative or zero epsilon gives NaN logits in silence (issue 16).
TEST(LlamaConfig, RealValuedSettingsMustBeFiniteAndPositive) {
  EXPECT_EQ(error_of(edited("rms_norm_eps", "-1.0")),
            "dir/config.json: field 'rms_norm_eps': expected a finite number > 0, found -1.0");
  EXPECT_EQ(error_of(edited("rms_norm_eps", "0")),
            "dir/config.json: field 'rms_norm_eps': expected a finite number > 0, found 0");
  EXPECT_EQ(error_of(edited("rope_theta", "-10000")),
            "dir/config.json: field 'rope_theta': expected a finite number > 0, found -10000");
  EXPECT_EQ(error_of(edited("rms_norm_eps", "\"1e-6\"")),
            "dir/config.json: field 'rms_norm_eps': expected a number, found string");
  EXPECT_EQ(error_of(edited("rope_scaling", R"({"type": "linear", "factor": 1})")),
            "dir/config.json: field 'rope_scaling.factor': expected a finite number > 1, found 1");
  EXPECT_DOUBLE_EQ(LlamaConfig::from_text(edited("rms_norm_eps", "1e-5"), "c").rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(LlamaConfig::from_text(edited("rms_norm_eps", "null"), "c").rms_norm_eps,
                   1e-6);  // the default
}

TEST(LlamaConfig, RopeScalingLinearAndDynamicReadOthersRefused) {
  const LlamaConfig lin = LlamaConfig::from_text(edited("rope_scaling", R"({"type": "linear", "factor": 2.0})"), "c");
  EXPECT_EQ(lin.rope_scaling, RopeScaling::kLinear);
  EXPECT_DOUBLE_EQ(lin.rope_scaling_factor, 2.0);
  EXPECT_EQ(LlamaConfig::from_text(edited("rope_scaling", R"({"type": "dynamic", "factor": 4})"), "c").rope_scaling,
            RopeScaling::kDynamic);
  std::string msg = error_of(edited("rope_scaling", R"({"type": "yarn", "factor": 2.0})"));
  EXPECT_NE(msg.find("dir/config.json: field 'rope_scaling.type'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("yarn"), std::string::npos) << msg;
  msg = error_of(edited("rope_scaling", R"({"type": "linear", "factor": 0.5})"));
  EXPECT_NE(msg.find("field 'rope_scaling.factor'"), std::string::npos) << msg;
  msg = error_of(edited("rope_scaling", R"({"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192})"));
  EXPECT_NE(msg.find("field 'rope_scaling."), std::string::npos) << msg;
}

TEST(LlamaConfig, UnknownModelTypeAndUnimplementedFieldsAreRefusedByName) {
  std::string msg = error_of(edited("model_type", "\"gpt2\""));
  EXPECT_NE(msg.find("dir/config.json: field 'model_type'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gpt2"), std::string::npos) << msg;
  EXPECT_NE(error_of(edited("model_type", "")).find("field 'model_type': missing"), std::string::npos);
  EXPECT_NE(error_of(edited("hidden_act", "\"gelu\"")).find("field 'hidden_act'"), std::string::npos);
  EXPECT_NE(error_of(edited("pretraining_tp", "2")).find("field 'pretraining_tp'"), std::string::npos);
  EXPECT_NE(error_of(edited("num_attention_heads", "5")).find("field 'num_attention_heads'"), std::string::npos);
  EXPECT_NE(error_of(edited("eos_token_id", "[2, \"3\"]")).find("field 'eos_token_id': expected a token id or a list"),
            std::string::npos);
  EXPECT_NE(error_of(edited("head_dim", "32")).find("field 'head_dim'"), std::string::npos);
}

// Llama 3.1's config.json lists several end-of-sequence ids: generation stops at any (break16d F1).
TEST(LlamaConfig, EosTokenIdIsAnIdOrAList) {
  EXPECT_EQ(LlamaConfig::from_text(edited("eos_token_id", "[2, 3]"), "c").eos_token_ids, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(LlamaConfig::from_text(edited("eos_token_id", "7"), "c").eos_token_ids, (std::vector<int64_t>{7}));
  EXPECT_EQ(LlamaConfig::from_text(edited("eos_token_id", "null"), "c").eos_token_ids, (std::vector<int64_t>{}));
  const LlamaConfig two = LlamaConfig::from_text(edited("eos_token_id", "[2, 3]"), "c");
  EXPECT_EQ(LlamaConfig::from_text(two.to_json(), "c").eos_token_ids, two.eos_token_ids);
  EXPECT_EQ(two.generation_defaults().eos_token_ids, two.eos_token_ids);
}

TEST(LlamaConfig, MistralReadsItsSlidingWindowAndDefaults) {
  nlohmann::json doc = nlohmann::json::parse(fixture_config());
  doc["model_type"] = "mistral";
  doc.erase("rope_scaling");
  doc.erase("attention_bias");
  doc.erase("num_key_value_heads");
  doc["num_attention_heads"] = 16;
  doc["sliding_window"] = 8;
  const LlamaConfig c = LlamaConfig::from_text(doc.dump(), "c");
  EXPECT_EQ(c.model_type, "mistral");
  ASSERT_TRUE(c.sliding_window.has_value());
  EXPECT_EQ(*c.sliding_window, 8);
  EXPECT_EQ(c.num_key_value_heads, 8);  // MistralConfig's default when absent
  doc["sliding_window"] = nullptr;
  EXPECT_FALSE(LlamaConfig::from_text(doc.dump(), "c").sliding_window.has_value());
  doc["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_NE(error_of(doc.dump()).find("field 'rope_scaling'"), std::string::npos);
}

TEST(LlamaCheckpoint, BinAndSafetensorsLoadIdentically) {
  const std::string dir = testing::temp_dir("llama-bin-only");
  for (const char* f : {"config.json", "pytorch_model.bin"}) {
    std::filesystem::copy_file(testing::llama_dir() + "/base/" + f, dir + "/" + f);
  }
  const Checkpoint bin = load_checkpoint(dir);
  const Checkpoint st = testing::llama_checkpoint();
  EXPECT_NE(bin.weights->origin("lm_head.weight").find("pytorch_model.bin"), std::string::npos);
  ASSERT_EQ(bin.weights->tensors().size(), st.weights->tensors().size());
  for (const auto& [name, t] : st.weights->tensors()) {
    ASSERT_TRUE(bin.weights->contains(name)) << name;
    EXPECT_TRUE(at::equal(bin.weights->tensors().at(name), t)) << name;
  }
  at::NoGradGuard no_grad;
  const LlamaModel from_bin(bin.config, bin.weights);
  const model::PairBatch b = make_causal_pairs(testing::llama_prompts(), testing::llama_targets());
  EXPECT_TRUE(at::equal(from_bin.token_losses(b), testing::llama_model().token_losses(b)));
}

TEST(LlamaCheckpoint, ShardedIndexAndTiedEmbeddings) {
  // Two shards with an index, as save_pretrained(max_shard_size=...) writes them.
  const std::string dir = testing::temp_dir("llama-sharded");
  std::filesystem::copy_file(testing::llama_dir() + "/base/config.json", dir + "/config.json");
  io::TensorMap a, b;
  nlohmann::json map;
  for (const auto& [name, t] : testing::llama_checkpoint().weights->tensors()) {
    const bool first = name.find("layers.1.") == std::string::npos;
    (first ? a : b)[name] = t;
    map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  io::write_safetensors(dir + "/model-00001-of-00002.safetensors", a);
  io::write_safetensors(dir + "/model-00002-of-00002.safetensors", b);
  testing::write_file(dir + "/model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  const Checkpoint sharded = load_checkpoint(dir);
  EXPECT_EQ(sharded.weights->tensors().size(), 21u);
  EXPECT_NE(sharded.weights->origin("model.layers.1.mlp.up_proj.weight").find("00002-of-00002"), std::string::npos);
  // Tied while the shards hold a head of their own that differs: two readings
  // (ours and transformers', which loads one into the other), so refused.
  nlohmann::json cfg = nlohmann::json::parse(fixture_config());
  cfg["tie_word_embeddings"] = true;
  testing::write_file(dir + "/config.json", cfg.dump());
  try {
    load_checkpoint(dir);
    ADD_FAILURE() << "a tied config with a different stored lm_head was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'tie_word_embeddings' is true"), std::string::npos) << e.what();
  }
  // Without the stored head: lm_head is embed_tokens.
  a.erase("lm_head.weight");
  map.erase("lm_head.weight");
  io::write_safetensors(dir + "/model-00001-of-00002.safetensors", a);
  testing::write_file(dir + "/model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  const Checkpoint tied = load_checkpoint(dir);
  EXPECT_FALSE(tied.weights->contains("lm_head.weight"));
  at::NoGradGuard no_grad;
  const LlamaModel model(tied.config, tied.weights);
  const at::Tensor x = at::tensor(std::vector<int64_t>{1, 5, 9}, at::kLong).unsqueeze(0);
  const at::Tensor h = model.hidden_states(x, at::ones_like(x)).back();
  const at::Tensor expected = at::matmul(h, tied.weights->tensors().at("model.embed_tokens.weight").t());
  EXPECT_LT(testing::max_abs_diff(model.logits(x, at::ones_like(x)), expected), 1e-5);
}

TEST(LlamaCheckpoint, MissingTensorNamesFileAndTensor) {
  const std::string dir = testing::temp_dir("llama-missing");
  std::filesystem::copy_file(testing::llama_dir() + "/base/config.json", dir + "/config.json");
  io::TensorMap t = testing::llama_checkpoint().weights->tensors();
  t.erase("model.layers.1.self_attn.k_proj.weight");
  io::write_safetensors(dir + "/model.safetensors", t);
  const Checkpoint ck = load_checkpoint(dir);
  try {
    LlamaModel m(ck.config, ck.weights);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.layers.1.self_attn.k_proj.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir + "/model.safetensors"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace lorahub::llama
