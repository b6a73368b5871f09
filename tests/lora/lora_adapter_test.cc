// PEFT adapters: parity of each fixture adapter with PEFT, and refusals.

#include "lora/lora_adapter.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "lora/composition.h"
#include "lora/peft_export.h"
#include "lora/tiny_pool.h"
#include "llama/tiny_llama.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

namespace lorahub::lora {
namespace {

namespace fs = std::filesystem;
using testing::golden;
using testing::golden_batch;
using testing::lora_dir;
using testing::rel_diff;
using testing::tiny_model;

// A copy of adapter 0 whose tensors and config the test may change.
std::string adapter_copy(const std::string& tag, const std::function<void(io::TensorMap&, nlohmann::json&)>& edit) {
  const std::string dir = testing::temp_dir(tag);
  auto tensors = io::read_safetensors(lora_dir(0) + "/adapter_model.safetensors").tensors;
  auto config = io::read_json_file(lora_dir(0) + "/adapter_config.json");
  edit(tensors, config);
  io::write_safetensors(dir + "/adapter_model.safetensors", tensors);
  io::write_json_file(dir + "/adapter_config.json", config);
  return dir;
}

// "[i, j]" of the first non-finite element of the case's lora_B, found by
// a second path (python-side layout: row-major scan).
std::string nonfinite_index(const std::string& dir) {
  const auto t = io::read_safetensors(dir + "/adapter_model.safetensors")
                     .tensors.at("base_model.model.decoder.block.1.layer.1.EncDecAttention.v.lora_B.weight");
  for (int64_t i = 0; i < t.size(0); ++i) {
    for (int64_t j = 0; j < t.size(1); ++j) {
      if (!std::isfinite(t[i][j].item<float>())) return std::to_string(i) + ", " + std::to_string(j);
    }
  }
  return "none";
}

std::string load_error(const std::string& dir) {
  try {
    load_adapter(dir, tiny_model());
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " loaded";
  return "";
}

TEST(LoraAdapter, ConfigAndModulesAreRead) {
  const LoraAdapter ad = load_adapter(lora_dir(0), tiny_model());
  EXPECT_EQ(ad.r, 4);
  EXPECT_DOUBLE_EQ(ad.scale(), 2.0);
  EXPECT_EQ(ad.modules.size(), 12u);  // 24 tensors: q, v of enc self, dec self, dec cross, 2 layers
  EXPECT_EQ(ad.base_model_name_or_path, "base");
  EXPECT_TRUE(ad.modules.count("decoder.block.1.layer.1.EncDecAttention.v"));
  EXPECT_TRUE(targets_module(ad, "encoder.block.0.layer.0.SelfAttention.q"));
  EXPECT_FALSE(targets_module(ad, "encoder.block.0.layer.0.SelfAttention.k"));
}

TEST(LoraAdapter, EachAdapterMatchesPeftLosses) {
  at::NoGradGuard no_grad;
  const auto batch = golden_batch();
  for (int i = 0; i < 5; ++i) {
    const LoraPool single = LoraPool::load(tiny_model(), {lora_dir(i)});
    const auto set = compose(single, at::ones({1}, at::kDouble), Method::kLoraHub);
    const double loss = tiny_model().loss(batch.input_ids, batch.attention_mask, batch.labels, &set).item<double>();
    const auto& g = golden()["adapters"][i];
    EXPECT_LT(rel_diff(loss, g["hf_batch_loss"].get<double>()), 1e-5) << i;
    EXPECT_LT(rel_diff(loss / 6, g["lorahub_get_loss"].get<double>()), 1e-5) << i;
  }
}

TEST(LoraAdapter, Lora0LogitsAndGreedyMatchPeft) {
  at::NoGradGuard no_grad;
  const auto& g = golden()["adapters"][0];
  const LoraPool single = LoraPool::load(tiny_model(), {lora_dir(0)});
  const auto set = compose(single, at::ones({1}, at::kDouble), Method::kLoraHub);
  const auto ex = testing::ids(golden()["examples"][0]["input_ids"]);
  const auto x = at::tensor(ex, at::kLong).unsqueeze(0);
  const auto labels = at::tensor(testing::ids(golden()["examples"][0]["label_ids"]), at::kLong).unsqueeze(0);
  const auto logits = tiny_model().logits(x, at::ones_like(x), t5::shift_right(labels, 0, 0), &set);
  EXPECT_LT((logits[0] - testing::float_tensor(g["logits_input0"])).abs().max().item<double>(), 1e-4);
  EXPECT_LT(rel_diff(tiny_model().loss(x, at::ones_like(x), labels, &set).item<double>(), g["loss_input0"].get<double>()), 1e-5);
  for (size_t k = 0; k < golden()["examples"].size(); ++k) {
    const auto xi = at::tensor(testing::ids(golden()["examples"][k]["input_ids"]), at::kLong).unsqueeze(0);
    const auto out = tiny_model().greedy(xi, at::ones_like(xi), {12, false}, &set);
    EXPECT_EQ(t5::rows_to_ids(out.ids, false)[0], testing::ids(g["greedy"]["single"][k]["ids"])) << k;
  }
  const auto batch = golden_batch();
  const auto out = tiny_model().greedy(batch.input_ids, batch.attention_mask, {12, false}, &set);
  EXPECT_TRUE(at::equal(out.ids, testing::long_tensor(g["greedy"]["batched"]["ids"])));
}

TEST(LoraAdapter, BinAndSafetensorsLoadIdentically) {
  const std::string dir = testing::temp_dir("bin-adapter");
  fs::copy_file(lora_dir(3) + "/adapter_config.json", dir + "/adapter_config.json");
  fs::copy_file(lora_dir(3) + "/adapter_model.bin", dir + "/adapter_model.bin");
  const LoraAdapter from_bin = load_adapter(dir, tiny_model());
  const LoraAdapter from_st = load_adapter(lora_dir(3), tiny_model());
  ASSERT_EQ(from_bin.modules.size(), from_st.modules.size());
  for (const auto& [m, p] : from_st.modules) {
    EXPECT_TRUE(at::equal(p.a, from_bin.modules.at(m).a)) << m;
    EXPECT_TRUE(at::equal(p.b, from_bin.modules.at(m).b)) << m;
  }
}

TEST(LoraAdapter, RegexTargetModulesAreHonoured) {
  const std::string ok = adapter_copy("regex", [](io::TensorMap&, nlohmann::json& c) {
    c["target_modules"] = R"(.*(SelfAttention|EncDecAttention)\.(q|v))";
  });
  EXPECT_EQ(load_adapter(ok, tiny_model()).modules.size(), 12u);
  const std::string narrow = adapter_copy("regex-narrow", [](io::TensorMap&, nlohmann::json& c) {
    c["target_modules"] = R"(encoder\..*\.q)";
  });
  EXPECT_NE(load_error(narrow).find("is not named by target_modules"), std::string::npos);
}

TEST(LoraAdapter, BadAdaptersFailByName) {
  const std::string key_b = "base_model.model.encoder.block.1.layer.0.SelfAttention.v.lora_B.weight";
  struct Case {
    std::string tag, expected;
    std::function<void(io::TensorMap&, nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"missing-b", "module 'encoder.block.1.layer.0.SelfAttention.v' has lora_A but no lora_B",
       [&](io::TensorMap& t, nlohmann::json&) { t.erase(key_b); }},
      {"wrong-shape", "tensor '" + key_b + "' has shape [64, 3], expected [64, 4]",
       [&](io::TensorMap& t, nlohmann::json&) { t[key_b] = at::zeros({64, 3}); }},
      {"unknown-target", "module 'encoder.block.7.layer.0.SelfAttention.q' is not a projection of the base model",
       [&](io::TensorMap& t, nlohmann::json&) {
         t["base_model.model.encoder.block.7.layer.0.SelfAttention.q.lora_A.weight"] = at::zeros({4, 64});
         t["base_model.model.encoder.block.7.layer.0.SelfAttention.q.lora_B.weight"] = at::zeros({64, 4});
       }},
      {"stray-tensor", "tensor 'base_model.model.lm_head.weight' is not a LoRA A or B weight",
       [&](io::TensorMap& t, nlohmann::json&) { t["base_model.model.lm_head.weight"] = at::zeros({2, 2}); }},
      // A PeftModel.state_dict() dump: PEFT 0.7.1's loader reads no weight from these keys (base model).
      {"adapter-named", "adapter_model.safetensors: tensor '" + key_b.substr(0, key_b.size() - 7) +
                            ".default.weight' holds an adapter name (a PeftModel.state_dict() dump): PEFT's loader "
                            "reads no weight from it and gives the base model; write the adapter with "
                            "PeftModel.save_pretrained (keys base_model.model.<module>.lora_A.weight)",
       [&](io::TensorMap& t, nlohmann::json&) {
         t[key_b.substr(0, key_b.size() - 7) + ".default.weight"] = t.at(key_b);
         t.erase(key_b);
       }},
      {"bad-r", "field 'r': expected an integer, found string",
       [&](io::TensorMap&, nlohmann::json& c) { c["r"] = "four"; }},
      {"not-lora", "field 'peft_type': expected \"LORA\", found \"IA3\"",
       [&](io::TensorMap&, nlohmann::json& c) { c["peft_type"] = "IA3"; }},
  };
  for (const auto& c : cases) {
    const std::string dir = adapter_copy(c.tag, c.edit);
    const std::string msg = load_error(dir);
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.tag << ": " << msg;
    EXPECT_NE(msg.find(dir), std::string::npos) << c.tag << ": " << msg;
  }
  // A corrupt weight file.
  const std::string dir = testing::temp_dir("corrupt");
  fs::copy_file(lora_dir(0) + "/adapter_config.json", dir + "/adapter_config.json");
  testing::write_file(dir + "/adapter_model.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{}");
  EXPECT_NE(load_error(dir).find(dir + "/adapter_model.safetensors: invalid safetensors file"), std::string::npos);
  EXPECT_NE(load_error("/no/adapter").find("/no/adapter: not a PEFT adapter"), std::string::npos);
}

TEST(LoraPool, IncompatibleModulesAreNamedWithTheReason) {
  auto pool_error = [](const std::vector<std::string>& dirs) {
    try {
      LoraPool::load(tiny_model(), dirs);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string other_base = adapter_copy("other-base", [](io::TensorMap&, nlohmann::json& c) {
    c["base_model_name_or_path"] = "google/flan-t5-large";
  });
  EXPECT_NE(pool_error({lora_dir(0), other_base}).find("base model 'google/flan-t5-large' but the other modules adapt 'base'"),
            std::string::npos);
  const std::string rank8 = adapter_copy("rank8", [](io::TensorMap& t, nlohmann::json& c) {
    c["r"] = 8;
    for (auto& [k, v] : t) v = k.find("lora_A") != std::string::npos ? at::zeros({8, 64}) : at::zeros({64, 8});
  });
  EXPECT_NE(pool_error({lora_dir(0), rank8}).find("rank 8 but the other modules have rank 4"), std::string::npos);
  const std::string fewer = adapter_copy("fewer", [](io::TensorMap& t, nlohmann::json& c) {
    c["target_modules"] = {"q"};
    for (auto it = t.begin(); it != t.end();) it = it->first.find(".v.lora_") != std::string::npos ? t.erase(it) : ++it;
  });
  EXPECT_NE(pool_error({lora_dir(0), fewer}).find("adapts 6 projections, the other modules 12"), std::string::npos);
}

// ---- adapter_config.json fields that change the numbers (issue 16) ----------

std::string case_dir(const std::string& name) { return testing::shared_dir() + "/cases/" + name; }

// The LoraHub loss (batch mean / examples) of one adapter at weight 1 on the
// six golden examples (= ../shared/cases/shots6.jsonl).
double adapter_loss(const std::string& dir) {
  at::NoGradGuard no_grad;
  const LoraPool single = LoraPool::load(tiny_model(), {dir});
  const auto set = compose(single, at::ones({1}, at::kDouble), Method::kLoraHub);
  const auto batch = golden_batch();
  return tiny_model().loss(batch.input_ids, batch.attention_mask, batch.labels, &set).item<double>() / 6;
}

// The cases' losses are printed to 8 digits from a float32 forward pass.
constexpr double kCaseTolerance = 1e-6;

TEST(LoraConfig, RsloraScalesByAlphaOverSqrtR) {
  const LoraAdapter ad = load_adapter(case_dir("rslora_r4_a8"), tiny_model());
  EXPECT_TRUE(ad.use_rslora);
  EXPECT_DOUBLE_EQ(ad.scale(), 8.0 / std::sqrt(4.0));
  EXPECT_LT(rel_diff(adapter_loss(case_dir("rslora_r4_a8")), 1.6356751), kCaseTolerance);
  // Second path: lora0's tensors with lora_alpha 16 and plain scaling, scale 16 / 4 = 4.
  const std::string alpha16 = adapter_copy("alpha16", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = 16; });
  EXPECT_NEAR(adapter_loss(case_dir("rslora_r4_a8")), adapter_loss(alpha16), 1e-6);
  // r 16: sqrt(16) = 4, r = 16: the two rules differ by a factor 4.
  LoraAdapter r16;
  r16.r = 16;
  r16.lora_alpha = 8;
  r16.use_rslora = true;
  EXPECT_DOUBLE_EQ(r16.scale(), 2.0);
}

// delta W = scale * B A is float32: a scale past its range is refused by
// field at load (it used to fail later in a tensor conversion, naming nothing).
TEST(LoraConfig, EffectiveScaleOutsideFloat32IsRefusedByField) {
  const std::string big =
      adapter_copy("alpha-1e300", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = 1e300; });
  EXPECT_EQ(load_error(big),
            big +
                "/adapter_config.json: field 'lora_alpha': the effective scale lora_alpha / r = "
                "2.5e+299 is not representable in float32 (|scale| <= 3.40282e+38)");
  const std::string neg = adapter_copy("alpha-neg", [](io::TensorMap&, nlohmann::json& c) {
    c["lora_alpha"] = -4e39;  // the sign does not matter: |scale| = 1e39
  });
  EXPECT_NE(load_error(neg).find("field 'lora_alpha': the effective scale lora_alpha / r = -1e+39 is not"),
            std::string::npos);
  const std::string pattern = adapter_copy("alpha-pattern-1e300", [](io::TensorMap&, nlohmann::json& c) {
    c["alpha_pattern"] = {{"EncDecAttention.v", 1e300}};
  });
  EXPECT_EQ(load_error(pattern),
            pattern +
                "/adapter_config.json: field 'alpha_pattern': the effective scale "
                "alpha_pattern['EncDecAttention.v'] / r = 2.5e+299 is not representable in "
                "float32 (|scale| <= 3.40282e+38)");
  // A scale inside float32's range loads (whether its losses stay finite is checked where they are computed).
  const std::string edge =
      adapter_copy("alpha-edge", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = 1e38; });
  EXPECT_DOUBLE_EQ(load_adapter(edge, tiny_model()).scale(), 2.5e37);
}

TEST(LoraConfig, AllLinearTargetsEveryProjection) {
  const LoraAdapter ad = load_adapter(case_dir("lora_all_linear"), tiny_model());
  EXPECT_TRUE(ad.target_all_linear);
  EXPECT_EQ(ad.modules.size(), 12u);
  EXPECT_LT(rel_diff(adapter_loss(case_dir("lora_all_linear")), golden()["adapters"][0]["lorahub_get_loss"].get<double>()),
            1e-5);
  for (const auto& p : tiny_model().sites().all()) EXPECT_TRUE(targets_module(ad, p.module)) << p.module;
  // A pair on a feed-forward projection: "all-linear" takes it, ["q", "v"] does not.
  auto add_wo = [](io::TensorMap& t) {
    t["base_model.model.encoder.block.0.layer.1.DenseReluDense.wo.lora_A.weight"] = at::full({4, 128}, 0.01);
    t["base_model.model.encoder.block.0.layer.1.DenseReluDense.wo.lora_B.weight"] = at::full({64, 4}, 0.01);
  };
  const std::string all = adapter_copy("all-linear-wo", [&](io::TensorMap& t, nlohmann::json& c) {
    add_wo(t);
    c["target_modules"] = "all-linear";
  });
  EXPECT_EQ(load_adapter(all, tiny_model()).modules.size(), 13u);
  const std::string listed = adapter_copy("list-wo", [&](io::TensorMap& t, nlohmann::json&) { add_wo(t); });
  EXPECT_NE(load_error(listed).find("module 'encoder.block.0.layer.1.DenseReluDense.wo' is not named by target_modules"),
            std::string::npos);
}

TEST(LoraConfig, FanInFanOutKeepsLinearLayoutAndWarns) {
  const std::string dir = adapter_copy("fifo", [](io::TensorMap&, nlohmann::json& c) { c["fan_in_fan_out"] = true; });
  ::testing::internal::CaptureStderr();
  const LoraAdapter ad = load_adapter(dir, tiny_model());
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "warning: " + dir + "/adapter_config.json: fan_in_fan_out is set to True but the target modules are "
                 "torch Linear layers; setting fan_in_fan_out to False (as PEFT does)\n");
  const LoraAdapter plain = load_adapter(lora_dir(0), tiny_model());
  for (const auto& [m, p] : plain.modules) {
    EXPECT_TRUE(at::equal(p.a, ad.modules.at(m).a)) << m;
    EXPECT_TRUE(at::equal(p.b, ad.modules.at(m).b)) << m;
  }
}

TEST(LoraConfig, UnknownKeysAreWarnedByName) {
  const std::string dir = adapter_copy("unknown-key", [](io::TensorMap&, nlohmann::json& c) {
    c["lora_scaling_mode"] = "fancy";
    c["use_magic"] = false;
  });
  ::testing::internal::CaptureStderr();
  load_adapter(dir, tiny_model());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "warning: " + dir + "/adapter_config.json: field 'lora_scaling_mode' is not known to lorahub and is ignored\n"
            "warning: " + dir + "/adapter_config.json: field 'use_magic' is not known to lorahub and is ignored\n");
  ::testing::internal::CaptureStderr();
  load_adapter(lora_dir(0), tiny_model());  // PEFT 0.7.1's own keys: silence
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  // A pool repeats its keys in every module: each is warned about once per process (break16d).
  ::testing::internal::CaptureStderr();
  load_adapter(dir, tiny_model());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// PEFT 0.2 / 0.3 configs (the LoraHub paper's modules) carry enable_lora: null and merge_weights:
// false: quiet at those values; enable_lora set (MergedLinear, a fused projection) is refused.
TEST(LoraConfig, OldPeftKeysPassQuietlyAtTheirHarmlessValues) {
  const std::string old = adapter_copy("peft-0.2", [](io::TensorMap&, nlohmann::json& c) {
    c["enable_lora"] = nullptr;
    c["merge_weights"] = false;
  });
  ::testing::internal::CaptureStderr();
  const LoraAdapter ad = load_adapter(old, tiny_model());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(ad.modules.size(), load_adapter(lora_dir(0), tiny_model()).modules.size());
  const std::string merged = adapter_copy("peft-0.2-merged", [](io::TensorMap&, nlohmann::json& c) {
    c["enable_lora"] = {true, false, true};
  });
  try {
    load_adapter(merged, tiny_model());
    ADD_FAILURE() << "enable_lora accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), merged + "/adapter_config.json: field 'enable_lora': PEFT 0.2's MergedLinear (one "
                                              "fused projection, LoRA on some of its outputs) is not supported; "
                                              "expected null, found [true,false,true]");
  }
}

TEST(LoraConfig, LayersToTransformIsReadAsEveryPeftVersionReadsIt) {
  // The layer of a module, worked out by hand on the tiny T5's names
  // ("encoder.block.<b>.layer.<l>.SelfAttention.q", 2 blocks): PEFT 0.7.1
  // (check_target_module_exists) takes, without layers_pattern, the first of
  // layers, h, block, blocks, layer for which re.match(".*.<p>\.(\d+)\.*")
  // matches: "block", the block index b. Newer PEFT takes the last
  // ".<name>.<n>." (r".*\.[^.]*\.(\d+)\."): the sub-layer l (0 self, 1 cross
  // attention). [0, 1] wraps every q and v under both: accepted, and the
  // pattern both read alike ("block") is kept for exports.
  const std::string sub01 = adapter_copy("layers-01", [](io::TensorMap&, nlohmann::json& c) { c["layers_to_transform"] = {0, 1}; });
  const LoraAdapter both = load_adapter(sub01, tiny_model());
  EXPECT_EQ(both.modules.size(), 12u);
  EXPECT_EQ(both.layers_pattern, (std::vector<std::string>{"block"}));
  EXPECT_EQ(target_config(both)["layers_pattern"], nlohmann::json({"block"}));
  // [1]: block 1's self attention is layer 1 for PEFT 0.7.1, layer 0 for newer PEFT.
  const std::string sub1 = adapter_copy("layers-1", [](io::TensorMap&, nlohmann::json& c) { c["layers_to_transform"] = {1}; });
  EXPECT_EQ(load_error(sub1),
            sub1 + "/adapter_config.json: field 'layers_to_transform': module 'encoder.block.1.layer.0.SelfAttention.q' "
            "is in layer 1 (the number after 'block') under PEFT 0.7.1's rule (no layers_pattern: the first of layers, "
            "h, block, blocks, layer) but in layer 0 (the number after 'layer') under newer PEFT's (the last "
            "'.<name>.<n>.'), so [1] would wrap it in one and not the other; give layers_pattern (\"block\" for the "
            "layers PEFT 0.7.1 reads, \"layer\" for those newer PEFT reads)");
  // With layers_pattern "block": the block index under both.
  const std::string block1 = adapter_copy("layers-block1", [](io::TensorMap& t, nlohmann::json& c) {
    c["layers_to_transform"] = {1};
    c["layers_pattern"] = "block";
    for (auto it = t.begin(); it != t.end();) it = it->first.find(".block.0.") != std::string::npos ? t.erase(it) : ++it;
  });
  const LoraAdapter ad = load_adapter(block1, tiny_model());
  EXPECT_EQ(ad.modules.size(), 6u);
  EXPECT_FALSE(targets_module(ad, "encoder.block.0.layer.0.SelfAttention.q"));
  EXPECT_TRUE(targets_module(ad, "encoder.block.1.layer.0.SelfAttention.q"));
  // "lock": PEFT 0.7.1's ".*.lock\.(\d+)\.*" matches inside "block" (any
  // character before it), newer PEFT's ".*\.lock\.(\d+)\." does not.
  const std::string lock = adapter_copy("layers-lock", [](io::TensorMap&, nlohmann::json& c) {
    c["layers_to_transform"] = {0, 1};
    c["layers_pattern"] = "lock";
  });
  EXPECT_NE(load_error(lock).find("field 'layers_to_transform': module 'encoder.block.0.layer.0.SelfAttention.q' is in "
                                  "layer 0 (the number after 'lock') under PEFT 0.7.1's rule but in no layer (not "
                                  "wrapped) under newer PEFT's, so [0,1] would wrap it in one and not the other; give a "
                                  "layers_pattern both rules read alike"),
            std::string::npos)
      << load_error(lock);
  const std::pair<std::function<void(nlohmann::json&)>, std::string> refused[] = {
      {[](nlohmann::json& c) { c["layers_to_transform"] = nlohmann::json::array(); },
       "field 'layers_to_transform': an empty list: PEFT 0.7.1 then wraps no module (and raises), newer PEFT every layer"},
      {[](nlohmann::json& c) { c["layers_to_transform"] = {0}; c["layers_pattern"] = nlohmann::json::array(); },
       "field 'layers_pattern': an empty list: PEFT 0.7.1 reads it as no layer restriction, newer PEFT as no pattern"},
      {[](nlohmann::json& c) { c["layers_to_transform"] = {0}; c["layers_pattern"] = "(block)"; },
       "field 'layers_pattern': '(block)' has a capturing group, which PEFT would read as the layer number"},
      {[](nlohmann::json& c) { c["layers_to_transform"] = {0}; c["layers_pattern"] = "block|layer"; },
       "field 'layers_pattern': 'block|layer' has a '|' outside a group"},
      {[](nlohmann::json& c) { c["layers_to_transform"] = {0}; c["layers_pattern"] = "(?P<n>block)"; },
       "field 'layers_pattern': '(?P<n>block)' uses a named group"},
      {[](nlohmann::json& c) { c["layers_to_transform"] = {0}; c["layers_pattern"] = "block)"; },
       "field 'layers_pattern': expected a regular expression, found 'block)'"},
      {[](nlohmann::json& c) { c["target_modules"] = ".*q"; c["layers_to_transform"] = {1}; },
       "field 'layers_to_transform': cannot be used when target_modules is a string"},
  };
  for (const auto& [edit, expected] : refused) {
    const std::string dir = adapter_copy("layers-refused", [&](io::TensorMap&, nlohmann::json& c) { edit(c); });
    EXPECT_NE(load_error(dir).find(dir + "/adapter_config.json: " + expected), std::string::npos) << load_error(dir);
  }
}

TEST(LoraConfig, ExportWithoutALayersPatternListsTheModules) {
  // layers_to_transform with no layers_pattern both PEFT rules read alike
  // (none was found at load) is never written as is: the export names the
  // adapted modules one by one (PEFT's list rule: an entry equal to the name).
  LoraAdapter ad;
  ad.target_modules = {"q", "v"};
  ad.layers_to_transform = {0};
  const std::vector<std::string> modules = {"encoder.block.0.layer.0.SelfAttention.q",
                                            "encoder.block.0.layer.0.SelfAttention.v"};
  const nlohmann::json t = export_target_config({&ad}, modules, tiny_model().projections());
  EXPECT_EQ(t["target_modules"], nlohmann::json(modules));
  EXPECT_TRUE(t["layers_to_transform"].is_null());
  EXPECT_TRUE(t["layers_pattern"].is_null());
  ad.layers_pattern = {"block"};  // with one, the adapter's own fields
  EXPECT_EQ(export_target_config({&ad}, modules, tiny_model().projections()), target_config(ad));
}

TEST(LoraConfig, LayersToTransformOnLlamaNamesReadsAlike) {
  // "model.layers.<n>.self_attn.q_proj": PEFT 0.7.1's first common pattern
  // "layers" and newer PEFT's last ".<name>.<n>." both read n; "layers"
  // becomes explicit for exports.
  const std::string dir = testing::temp_dir("llama-layers-1");
  const std::string src = testing::llama_dir() + "/lora/lora0";
  auto tensors = io::read_safetensors(src + "/adapter_model.safetensors").tensors;
  for (auto it = tensors.begin(); it != tensors.end();) {
    it = it->first.find(".layers.1.") == std::string::npos ? tensors.erase(it) : ++it;
  }
  auto config = io::read_json_file(src + "/adapter_config.json");
  config["layers_to_transform"] = 1;
  io::write_safetensors(dir + "/adapter_model.safetensors", tensors);
  io::write_json_file(dir + "/adapter_config.json", config);
  const LoraAdapter ad = load_adapter(dir, testing::llama_model());
  EXPECT_EQ(ad.modules.size(), tensors.size() / 2);
  EXPECT_EQ(ad.layers_pattern, (std::vector<std::string>{"layers"}));
  EXPECT_FALSE(targets_module(ad, "model.layers.0.self_attn.q_proj"));
  EXPECT_TRUE(targets_module(ad, "model.layers.1.self_attn.q_proj"));
}

TEST(LoraConfig, AlphaPatternScalesItsModules) {
  // PEFT: alpha_pattern {"EncDecAttention.v": 16} gives those modules scale 16 / 4.
  const std::string patterned = adapter_copy("alpha-pattern", [](io::TensorMap&, nlohmann::json& c) {
    c["alpha_pattern"] = {{"EncDecAttention.v", 16}};
  });
  // Second path: the same modules' B doubled by hand (scale 8 / 4 = 2 -> 4).
  const std::string doubled = adapter_copy("alpha-by-hand", [](io::TensorMap& t, nlohmann::json&) {
    for (auto& [k, v] : t) {
      if (k.find("EncDecAttention.v.lora_B") != std::string::npos) v = v * 2;
    }
  });
  EXPECT_NEAR(adapter_loss(patterned), adapter_loss(doubled), 1e-6);
  EXPECT_GT(std::abs(adapter_loss(patterned) - adapter_loss(lora_dir(0))), 1e-4);
  const std::string rank = adapter_copy("rank-pattern", [](io::TensorMap&, nlohmann::json& c) {
    c["rank_pattern"] = {{"SelfAttention.q", 8}};
  });
  EXPECT_NE(load_error(rank).find("field 'rank_pattern': module 'encoder.block.0.layer.0.SelfAttention.q' gets rank 8 "
                                  "from key 'SelfAttention.q', but per-module ranks are not supported (r = 4)"),
            std::string::npos);
  const std::string same = adapter_copy("rank-pattern-same", [](io::TensorMap&, nlohmann::json& c) {
    c["rank_pattern"] = {{"SelfAttention.q", 4}};
  });
  EXPECT_EQ(load_adapter(same, tiny_model()).modules.size(), 12u);
  // Keys are regexes to PEFT (re.match(".*\.<key>$")): held to the same syntax rule as target_modules.
  const std::string anchored = adapter_copy("alpha-pattern-z", [](io::TensorMap&, nlohmann::json& c) {
    c["alpha_pattern"] = {{"q\\Z", 16}};
  });
  EXPECT_NE(load_error(anchored).find("adapter_config.json: field 'alpha_pattern': 'q\\Z' uses '\\Z' (character 2)"),
            std::string::npos)
      << load_error(anchored);
  const std::string unbalanced = adapter_copy("alpha-pattern-paren", [](io::TensorMap&, nlohmann::json& c) {
    c["alpha_pattern"] = {{"q)", 16}};
  });
  EXPECT_NE(load_error(unbalanced).find("adapter_config.json: field 'alpha_pattern': expected a regular expression, "
                                        "found 'q)'"),
            std::string::npos)
      << load_error(unbalanced);
}

TEST(LoraConfig, FieldsNotImplementedAreRefusedByName) {
  EXPECT_EQ(load_error(case_dir("dora_without_magnitude")),
            case_dir("dora_without_magnitude") + "/adapter_config.json: field 'use_dora': DoRA (weight-decomposed LoRA, "
            "magnitude vectors) is not supported; expected false");
  struct Case {
    std::string tag, expected;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"bias-all", "field 'bias': expected \"none\" (LoRA biases are not supported)", [](nlohmann::json& c) { c["bias"] = "all"; }},
      {"save", "field 'modules_to_save': not supported; expected null, found [\"lm_head\"]",
       [](nlohmann::json& c) { c["modules_to_save"] = {"lm_head"}; }},
      {"replication", "field 'layer_replication': not supported; expected null, found [[0,1]]",
       [](nlohmann::json& c) { c["layer_replication"] = {{0, 1}}; }},
      {"lora-bias", "field 'lora_bias': LoRA biases are not supported; expected false",
       [](nlohmann::json& c) { c["lora_bias"] = true; }},
      {"pissa", "field 'init_lora_weights': \"pissa_niter_4\" changed the base weights at initialisation",
       [](nlohmann::json& c) { c["init_lora_weights"] = "pissa_niter_4"; }},
      {"olora", "field 'init_lora_weights': \"OLoRA\" changed the base weights at initialisation",
       [](nlohmann::json& c) { c["init_lora_weights"] = "OLoRA"; }},
      // Issue 16 (break16c F7): values PEFT does not know are refused by name (PEFT: "Unknown initialization").
      {"bogus", "field 'init_lora_weights': expected true, false, \"gaussian\", \"eva\" or \"orthogonal\" "
                "(initialisations that leave the base model as it is), found \"bogus\" (PEFT: unknown initialization)",
       [](nlohmann::json& c) { c["init_lora_weights"] = "bogus"; }},
      {"pissa-case", "field 'init_lora_weights': expected true, false, \"gaussian\", \"eva\" or \"orthogonal\" "
                "(initialisations that leave the base model as it is), found \"PiSSA\" (PEFT: unknown initialization)",
       [](nlohmann::json& c) { c["init_lora_weights"] = "PiSSA"; }},
      {"number", "field 'init_lora_weights': expected true, false, \"gaussian\", \"eva\" or \"orthogonal\" "
                "(initialisations that leave the base model as it is), found 1.5", [](nlohmann::json& c) { c["init_lora_weights"] = 1.5; }},
  };
  for (const auto& c : cases) {
    const std::string dir = adapter_copy(c.tag, [&](io::TensorMap&, nlohmann::json& j) { c.edit(j); });
    EXPECT_NE(load_error(dir).find(dir + "/adapter_config.json: " + c.expected), std::string::npos) << load_error(dir);
  }
  // Accepted: empty collections and null mean "not used", as PEFT writes them.
  const std::string empty = adapter_copy("empty-fields", [](io::TensorMap&, nlohmann::json& c) {
    c["modules_to_save"] = nlohmann::json::array();
    c["use_dora"] = false;
    c["init_lora_weights"] = "gaussian";
  });
  EXPECT_EQ(load_adapter(empty, tiny_model()).modules.size(), 12u);
  for (const char* init : {"Gaussian", "eva", "orthogonal"}) {  // PEFT's inits that leave the base as it is
    const std::string dir = adapter_copy(std::string("init-") + init, [&](io::TensorMap&, nlohmann::json& c) {
      c["init_lora_weights"] = init;
    });
    EXPECT_EQ(load_adapter(dir, tiny_model()).modules.size(), 12u) << init;
  }
}

TEST(LoraPool, CompatibilityIsOnTheEffectiveScale) {
  // rslora r 4 alpha 8 (scale 4) composes with plain r 4 alpha 16 (scale 4) ...
  const std::string alpha16 = adapter_copy("pool-alpha16", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = 16; });
  const LoraPool pool = LoraPool::load(tiny_model(), {case_dir("rslora_r4_a8"), alpha16});
  EXPECT_DOUBLE_EQ(pool.scale(), 4.0);
  EXPECT_DOUBLE_EQ(pool.lora_alpha(), 16.0);
  // ... and not with lora0 (scale 2), although lora_alpha and r are equal.
  try {
    LoraPool::load(tiny_model(), {lora_dir(0), case_dir("rslora_r4_a8")});
    ADD_FAILURE() << "composed";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "cannot compose LoRA module '" + case_dir("rslora_r4_a8") + "' with '" + lora_dir(0) +
                                         "': scale 4 (lora_alpha 8 / sqrt(r 4), use_rslora) but the other modules have "
                                         "scale 2 (lora_alpha 8 / r 4)");
  }
}

// The update merge() folds into each weight, against s_m * B A computed here
// from the file's tensors in double (s_m: the scale the test expects for module m).
void expect_merged_deltas(const LoraPool& pool, const at::Tensor& w, const std::function<double(const std::string&)>& scale_of) {
  at::NoGradGuard no_grad;
  const auto merged = merge(tiny_model(), pool, w, Method::kLoraHub);
  const auto tensors = io::read_safetensors(lora_dir(0) + "/adapter_model.safetensors").tensors;
  for (const auto& t : pool.targets()) {
    const at::Tensor a = tensors.at(peft_key(t.module, true)).to(at::kDouble);
    const at::Tensor b = tensors.at(peft_key(t.module, false)).to(at::kDouble);
    const at::Tensor expected = scale_of(t.module) * w.sum().item<double>() * w.sum().item<double>() * at::matmul(b, a);
    const std::string name = t.module + ".weight";
    const at::Tensor got = merged->tensors().at(name).to(at::kDouble) - tiny_model().weights().tensors().at(name).to(at::kDouble);
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5 * expected.abs().max().item<double>()) << t.module;
  }
}

TEST(LoraPool, CompatibilityIsDecidedPerProjectionOnTheEffectiveScale) {
  // alpha_pattern gives lora0's q modules scale 16 / 4 = 4 where lora0 has 2: refused, naming the projection.
  const std::string q16 = adapter_copy("pool-q16", [](io::TensorMap&, nlohmann::json& c) { c["alpha_pattern"] = {{"q", 16}}; });
  try {
    LoraPool::load(tiny_model(), {lora_dir(0), q16});
    ADD_FAILURE() << "composed";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "cannot compose LoRA module '" + q16 + "' with '" + lora_dir(0) + "': scale 4 "
              "(alpha_pattern: lora_alpha 16 / r 4) on 'decoder.block.0.layer.0.SelfAttention.q' but the other "
              "modules have scale 2 (lora_alpha 8 / r 4) there");
  }
  // lora_alpha 16 everywhere and lora_alpha 8 with alpha_pattern 16 on q and v: scale 4 on every
  // projection, so they compose; at w = (0.5, 0.5) the composition is lora0's tensors at scale 4,
  // whose loss the cases give (rslora_r4_a8's expected value, "also what lora0's tensors give with lora_alpha 16").
  const std::string alpha16 = adapter_copy("pool-a16", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = 16; });
  const std::string qv16 = adapter_copy("pool-qv16", [](io::TensorMap&, nlohmann::json& c) {
    c["alpha_pattern"] = {{"q", 16}, {"v", 16}};
  });
  {
    at::NoGradGuard no_grad;
    const LoraPool pool = LoraPool::load(tiny_model(), {alpha16, qv16});
    const auto set = compose(pool, at::full({2}, 0.5, at::kDouble), Method::kLoraHub);
    const auto batch = golden_batch();
    EXPECT_LT(rel_diff(tiny_model().loss(batch.input_ids, batch.attention_mask, batch.labels, &set).item<double>() / 6,
                       1.6356751), kCaseTolerance);
  }
  // Modules sharing one alpha_pattern compose with a scale per projection: q 4, v 2.
  const std::string q16b = adapter_copy("pool-q16b", [](io::TensorMap&, nlohmann::json& c) { c["alpha_pattern"] = {{"q", 16}}; });
  const LoraPool shared = LoraPool::load(tiny_model(), {q16, q16b});
  const at::Tensor w = at::tensor(std::vector<double>{0.7, 0.5}, at::kDouble);
  const auto leaf_scale = [](const std::string& m) { return m.back() == 'q' ? 4.0 : 2.0; };
  expect_merged_deltas(shared, w, leaf_scale);
  // ... and its export (one lora_alpha, q's ratio folded into B) reloads to the same update.
  {
    at::NoGradGuard no_grad;
    const std::string out = testing::temp_dir("pool-q16-export");
    write_peft_adapter(out, composed_adapter(shared, w, Method::kLoraHub), shared.target_modules(), "", "SEQ_2_SEQ_LM");
    const LoraPool reloaded = LoraPool::load(tiny_model(), {out});
    expect_merged_deltas(reloaded, at::ones({1}, at::kDouble), [&](const std::string& m) {
      return leaf_scale(m) * 1.2 * 1.2;  // w sums to 1.2, folded into the exported tensors
    });
  }
  // A negative lora_alpha (PEFT accepts it): scale -8 / 4 = -2, alone or with itself.
  const std::string negative = adapter_copy("pool-neg", [](io::TensorMap&, nlohmann::json& c) { c["lora_alpha"] = -8; });
  const LoraPool neg = LoraPool::load(tiny_model(), {negative, negative});
  EXPECT_DOUBLE_EQ(neg.scale(), -2.0);
  expect_merged_deltas(neg, at::tensor(std::vector<double>{0.25, 0.5}, at::kDouble), [](const std::string&) { return -2.0; });
}

TEST(LoraAdapter, NonFiniteTensorsAreRefusedByFileAndTensor) {
  for (const std::string name : {"lora2_nan", "lora2_inf"}) {
    EXPECT_EQ(load_error(case_dir(name)),
              case_dir(name) + "/adapter_model.safetensors: tensor "
              "'base_model.model.decoder.block.1.layer.1.EncDecAttention.v.lora_B.weight' holds " +
              (name == "lora2_nan" ? "NaN" : "inf") + " at [" + nonfinite_index(case_dir(name)) +
              "]; weights must be finite (the file is damaged or its training diverged)");
  }
  // Another site, another sign, and a lora_A.
  const std::string key = "base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight";
  const std::string minus_inf = adapter_copy("minus-inf", [&](io::TensorMap& t, nlohmann::json&) {
    t[key] = t[key].clone();
    t[key][2][5] = -std::numeric_limits<float>::infinity();
  });
  EXPECT_EQ(load_error(minus_inf), minus_inf + "/adapter_model.safetensors: tensor '" + key +
                                       "' holds -inf at [2, 5]; weights must be finite (the file is damaged or its "
                                       "training diverged)");
  // Issue 16 (break16c F3): an F64 tensor whose finite value overflows float32 (PEFT loads it as inf).
  const std::string huge = adapter_copy("f64-huge", [&](io::TensorMap& t, nlohmann::json&) {
    t[key] = t[key].to(at::kDouble);
    t[key][1][3] = -1e39;
  });
  EXPECT_EQ(load_error(huge), huge + "/adapter_model.safetensors: tensor '" + key + "' holds -1e+39 at [1, 3], outside "
                                     "float32's range (stored as F64; weights are computed in float32 or bfloat16, "
                                     "where it is inf)");
  const std::string fits = adapter_copy("f64-fits", [&](io::TensorMap& t, nlohmann::json&) {
    t[key] = t[key].to(at::kDouble);
    t[key][1][3] = 3e38;
  });
  EXPECT_NO_THROW(load_adapter(fits, tiny_model()));
}

}  // namespace
}  // namespace lorahub::lora
