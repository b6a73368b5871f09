// PEFT adapters: parity of each fixture adapter with PEFT, and refusals.

#include "lora/lora_adapter.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "lora/composition.h"
#include "lora/tiny_pool.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

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

}  // namespace
}  // namespace lorahub::lora
