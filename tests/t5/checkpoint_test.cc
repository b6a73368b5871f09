// Loading Hugging Face checkpoints: formats, shards, aliases, and refusals.

#include "t5/checkpoint.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "t5/t5_model.h"
#include "t5/tiny_model.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>

namespace lorahub::t5 {
namespace {

namespace fs = std::filesystem;
using testing::tiny_dir;

// A copy of the fixture's config with weights given as a tensor map.
std::string make_model_dir(const std::string& tag, const io::TensorMap& tensors) {
  const std::string dir = testing::temp_dir(tag);
  fs::copy_file(tiny_dir() + "/base/config.json", dir + "/config.json");
  io::write_safetensors(dir + "/model.safetensors", tensors);
  return dir;
}

std::string load_error(const std::string& dir) {
  try {
    const auto ck = load_checkpoint(dir);
    T5Model model(ck.config, ck.weights);
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " loaded";
  return "";
}

TEST(Checkpoint, BinAndSafetensorsLoadIdentically) {
  const std::string dir = testing::temp_dir("bin-only");
  fs::copy_file(tiny_dir() + "/base/config.json", dir + "/config.json");
  fs::copy_file(tiny_dir() + "/base/pytorch_model.bin", dir + "/pytorch_model.bin");
  const auto from_bin = load_checkpoint(dir);
  const auto& st = testing::tiny_checkpoint().weights->tensors();
  const auto& bin = from_bin.weights->tensors();
  ASSERT_EQ(st.size(), bin.size());
  for (const auto& [name, t] : st) EXPECT_TRUE(at::equal(t, bin.at(name))) << name;
}

TEST(Checkpoint, ShardedCheckpointLoadsAllShards) {
  const auto& all = testing::tiny_checkpoint().weights->tensors();
  io::TensorMap first, second;
  nlohmann::json index;
  int i = 0;
  for (const auto& [name, t] : all) {
    const bool one = (i++ % 2) == 0;
    (one ? first : second)[name] = t;
    index["weight_map"][name] = one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  const std::string dir = testing::temp_dir("sharded");
  fs::copy_file(tiny_dir() + "/base/config.json", dir + "/config.json");
  io::write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  io::write_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  io::write_json_file(dir + "/model.safetensors.index.json", index);
  const auto ck = load_checkpoint(dir);
  ASSERT_EQ(ck.weights->tensors().size(), all.size());
  for (const auto& [name, t] : all) EXPECT_TRUE(at::equal(t, ck.weights->tensors().at(name))) << name;
  EXPECT_EQ(ck.weights->origin("lm_head.weight").find(dir), 0u);

  // A tensor listed in the index but absent from its shard is named.
  index["weight_map"]["encoder.extra.weight"] = "model-00001-of-00002.safetensors";
  io::write_json_file(dir + "/model.safetensors.index.json", index);
  const std::string msg = load_error(dir);
  EXPECT_NE(msg.find("missing tensor 'encoder.extra.weight'"), std::string::npos) << msg;
  index["weight_map"].erase("encoder.extra.weight");

  // Issue 16: a shard's tensor the index leaves out, or places in the other shard, is refused
  // (transformers loads each tensor from the shard its index names; here the last file read would win).
  const std::string moved = all.begin()->first;  // in shard 1
  const std::string first_shard = dir + "/model-00001-of-00002.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  index["weight_map"][moved] = "model-00002-of-00002.safetensors";
  io::write_json_file(index_path, index);
  EXPECT_EQ(load_error(dir), first_shard + ": tensor '" + moved + "' is placed in model-00002-of-00002.safetensors by " +
                                 index_path);
  index["weight_map"].erase(moved);
  io::write_json_file(index_path, index);
  EXPECT_EQ(load_error(dir), first_shard + ": tensor '" + moved + "' is not listed in " + index_path);
  index["weight_map"][moved] = "../model-00001-of-00002.safetensors";
  io::write_json_file(index_path, index);
  EXPECT_EQ(load_error(dir), index_path + ": field 'weight_map." + moved + "': expected the name of a shard file beside "
                                 "the index, found \"../model-00001-of-00002.safetensors\"");
}

TEST(Checkpoint, EmbedTokensAliasShared) {
  io::TensorMap tensors = testing::tiny_checkpoint().weights->tensors();
  tensors["encoder.embed_tokens.weight"] = tensors.at("shared.weight");
  tensors.erase("shared.weight");
  const auto ck = load_checkpoint(make_model_dir("alias", tensors));
  EXPECT_TRUE(at::equal(ck.weights->tensors().at("shared.weight"),
                        testing::tiny_checkpoint().weights->tensors().at("shared.weight")));
}

// Issue 16 (break16c F2): a tied config over a file whose own lm_head.weight (or a stack's
// embed_tokens) differs from shared.weight is refused; an equal copy is dropped.
TEST(Checkpoint, TiedCopiesThatDifferFromSharedAreRefused) {
  const io::TensorMap fixture = testing::tiny_checkpoint().weights->tensors();
  ASSERT_TRUE(fixture.count("lm_head.weight"));
  ASSERT_FALSE(at::equal(fixture.at("lm_head.weight"), fixture.at("shared.weight")));
  nlohmann::json config = io::read_json_file(tiny_dir() + "/base/config.json");
  config["tie_word_embeddings"] = true;
  std::string dir = make_model_dir("tied-own-head", fixture);
  io::write_json_file(dir + "/config.json", config);
  EXPECT_EQ(load_error(dir), dir + "/config.json: field 'tie_word_embeddings' is true, but " + dir +
                                 "/model.safetensors holds its own 'lm_head.weight', which differs from "
                                 "'shared.weight' (transformers would load one into the other, silently); set it to "
                                 "false (the head is its own tensor) or remove the stored head");
  io::TensorMap same = fixture;
  same["lm_head.weight"] = fixture.at("shared.weight").clone();
  dir = make_model_dir("tied-equal-head", same);
  io::write_json_file(dir + "/config.json", config);
  EXPECT_FALSE(load_checkpoint(dir).weights->contains("lm_head.weight"));
  io::TensorMap stale = fixture;
  stale["decoder.embed_tokens.weight"] = fixture.at("shared.weight") * 2;
  dir = make_model_dir("stale-embed-tokens", stale);
  EXPECT_NE(load_error(dir).find(dir + ": T5 ties each stack's embed_tokens to 'shared.weight', but " + dir +
                                 "/model.safetensors holds its own 'decoder.embed_tokens.weight', which differs"),
            std::string::npos);
}

// Issue 16 (break16c F3): a base tensor stored as F64 with a value past float32's range is
// refused at load (transformers loads it as inf), naming the file, tensor and value.
TEST(Checkpoint, F64ValuesPastFloat32AreRefused) {
  io::TensorMap tensors = testing::tiny_checkpoint().weights->tensors();
  const std::string name = "encoder.block.0.layer.0.SelfAttention.q.weight";
  tensors[name] = tensors.at(name).to(at::kDouble);
  tensors[name][0][1] = 1e39;
  const std::string dir = make_model_dir("f64-past-float32", tensors);
  EXPECT_EQ(load_error(dir), dir + "/model.safetensors: tensor '" + name + "' holds 1e+39 at [0, 1], outside float32's "
                             "range (stored as F64; weights are computed in float32 or bfloat16, where it is inf)");
}

TEST(Checkpoint, MissingAndMisshapenTensorsAreNamed) {
  io::TensorMap tensors = testing::tiny_checkpoint().weights->tensors();
  tensors.erase("decoder.block.1.layer.1.EncDecAttention.v.weight");
  std::string dir = make_model_dir("missing", tensors);
  std::string msg = load_error(dir);
  EXPECT_NE(msg.find(dir + "/model.safetensors: missing tensor 'decoder.block.1.layer.1.EncDecAttention.v.weight'"),
            std::string::npos) << msg;

  tensors = testing::tiny_checkpoint().weights->tensors();
  tensors["encoder.block.0.layer.1.DenseReluDense.wo.weight"] = at::zeros({64, 100});
  dir = make_model_dir("shape", tensors);
  msg = load_error(dir);
  EXPECT_NE(msg.find("tensor 'encoder.block.0.layer.1.DenseReluDense.wo.weight' has shape [64, 100], expected [64, 128]"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find(dir + "/model.safetensors"), std::string::npos) << msg;
}

TEST(Checkpoint, TruncatedWeightsAndBadConfigFail) {
  std::string dir = testing::temp_dir("trunc");
  fs::copy_file(tiny_dir() + "/base/config.json", dir + "/config.json");
  const std::string bytes = testing::read_file(tiny_dir() + "/base/model.safetensors");
  testing::write_file(dir + "/model.safetensors", bytes.substr(0, bytes.size() - 1000));
  std::string msg = load_error(dir);
  EXPECT_NE(msg.find(dir + "/model.safetensors: invalid safetensors file: tensor '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("past the end of the data"), std::string::npos) << msg;

  dir = testing::temp_dir("config");
  auto config = io::read_json_file(tiny_dir() + "/base/config.json");
  config["d_model"] = "sixty-four";
  io::write_json_file(dir + "/config.json", config);
  msg = load_error(dir);
  EXPECT_EQ(msg, dir + "/config.json: field 'd_model': expected an integer, found string");

  config["d_model"] = 64;
  for (const double eps : {-1.0, 0.0}) {  // rsqrt(var + eps) would be NaN or inf in silence (issue 16)
    config["layer_norm_epsilon"] = eps;
    io::write_json_file(dir + "/config.json", config);
    EXPECT_EQ(load_error(dir),
              dir + "/config.json: field 'layer_norm_epsilon': expected a finite number > 0, found " +
                  config["layer_norm_epsilon"].dump());
  }
  config.erase("layer_norm_epsilon");  // absent: HF's default 1e-6
  config["feed_forward_proj"] = "gated-bogus";
  config.erase("dense_act_fn");
  io::write_json_file(dir + "/config.json", config);
  msg = load_error(dir);
  EXPECT_NE(msg.find(dir + "/config.json: field 'feed_forward_proj': expected an activation of transformers' ACT2FN "
                           "(relu, gelu, "),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("found \"bogus\""), std::string::npos) << msg;

  EXPECT_NE(load_error("/no/such/model").find("/no/such/model: model directory does not exist"), std::string::npos);
  config["feed_forward_proj"] = "gated-gelu";
  io::write_json_file(dir + "/config.json", config);
  EXPECT_NE(load_error(dir).find("no weights"), std::string::npos);
}

// transformers 4.36 T5Config: feed_forward_proj gives is_gated_act and dense_act_fn, which the file's
// own values replace (break16d F2); the numbers of each activation are compared with transformers in
// tests/export/hf_inputs_test.py.
TEST(Checkpoint, ActivationAndGatingAreReadAsTransformersReadsThem) {
  nlohmann::json doc = io::read_json_file(tiny_dir() + "/base/config.json");  // gated-gelu, dense_act_fn gelu_new
  auto read = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json d = doc;
    edit(d);
    return T5Config::from_text(d.dump(), "dir/config.json");
  };
  auto error = [&](const std::function<void(nlohmann::json&)>& edit) {
    try {
      read(edit);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  T5Config c = read([](nlohmann::json& d) { d["dense_act_fn"] = "relu"; });
  EXPECT_TRUE(c.is_gated);
  EXPECT_EQ(c.activation, Activation::kRelu);
  c = read([](nlohmann::json& d) { d.erase("dense_act_fn"); d.erase("is_gated_act"); });
  EXPECT_EQ(c.dense_act_fn, "gelu_new");  // "gated-gelu" means the tanh approximation
  c = read([](nlohmann::json& d) { d.erase("dense_act_fn"); d.erase("is_gated_act"); d["feed_forward_proj"] = "gelu"; });
  EXPECT_EQ(c.activation, Activation::kGelu);  // erf GELU, not gated
  EXPECT_FALSE(c.is_gated);
  c = read([](nlohmann::json& d) { d["feed_forward_proj"] = "gated-bogus"; });  // dense_act_fn replaces its activation
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_EQ(error([](nlohmann::json& d) { d["feed_forward_proj"] = "double-gated-gelu"; }),
            "dir/config.json: field 'feed_forward_proj': expected \"<activation>\" or \"gated-<activation>\", found "
            "\"double-gated-gelu\"");
  EXPECT_EQ(error([](nlohmann::json& d) { d["dense_act_fn"] = nullptr; }),  // transformers: KeyError on ACT2FN[None]
            "dir/config.json: field 'dense_act_fn': expected an activation name, found null");
  const std::string msg = error([](nlohmann::json& d) { d["dense_act_fn"] = "gelu_bogus"; });
  EXPECT_EQ(msg.rfind("dir/config.json: field 'dense_act_fn': expected an activation of transformers' ACT2FN (relu, ", 0),
            0u) << msg;
  // Every name of ACT2FN reads and writes back.
  for (const auto& e : kActivationNames) {
    const T5Config named = read([&](nlohmann::json& d) { d["dense_act_fn"] = e.name; });
    EXPECT_EQ(named.activation, e.value) << e.name;
    EXPECT_EQ(T5Config::from_text(named.to_json(), "c").activation, e.value) << e.name;
  }
  // is_gated_act replaces the gating feed_forward_proj gives; weights of the other form are refused by name.
  doc["is_gated_act"] = false;
  const std::string dir = testing::temp_dir("is-gated-false");
  io::write_json_file(dir + "/config.json", doc);
  fs::copy_file(tiny_dir() + "/base/model.safetensors", dir + "/model.safetensors");
  EXPECT_EQ(load_error(dir),
            dir + "/config.json: field 'is_gated_act': false builds a non-gated feed-forward ('wi'), but " + dir +
                "/model.safetensors holds 'encoder.block.0.layer.1.DenseReluDense.wi_0.weight' of a gated one "
                "(transformers would initialise 'wi' at random); expected true");
}

// transformers' _relative_position_bucket divides by log(max_distance / max_exact), max_exact =
// num_buckets / 2 in the decoder and / 4 in the encoder: a distance at or below it, or fewer than 4
// buckets, give buckets outside the table ("index out of range"): refused at load (break16d).
TEST(Checkpoint, RelativeBucketsThatBreakTheFormulaAreRefused) {
  const nlohmann::json doc = io::read_json_file(tiny_dir() + "/base/config.json");  // 32 buckets
  auto error = [&](const char* key, int64_t value) {
    nlohmann::json d = doc;
    d[key] = value;
    try {
      T5Config::from_text(d.dump(), "dir/config.json");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("relative_attention_max_distance", 8),
            "dir/config.json: field 'relative_attention_max_distance': expected more than "
            "relative_attention_num_buckets / 2 = 16 (the decoder's exact buckets: the log-spaced ones divide by "
            "log(max_distance / 16), which must be > 0), found 8");
  EXPECT_NE(error("relative_attention_max_distance", 16), "");
  EXPECT_EQ(error("relative_attention_max_distance", 17), "");
  EXPECT_EQ(error("relative_attention_num_buckets", 3),
            "dir/config.json: field 'relative_attention_num_buckets': expected at least 4 (the encoder's exact "
            "buckets, num_buckets / 4 per direction, must not be 0), found 3");
}

}  // namespace
}  // namespace lorahub::t5
