// IA3 adapters against PEFT 0.7.1's own numbers (tiny-t5/golden_ia3.json):
// which side of each projection a vector scales, losses, logits, greedy.

#include "lora/ia3_adapter.h"

#include "t5/tiny_model.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace lorahub::lora {
namespace {

using testing::golden;
using testing::golden_batch;
using testing::rel_diff;
using testing::tiny_model;

const nlohmann::json& golden_ia3() {
  static const nlohmann::json j = nlohmann::json::parse(testing::read_file(testing::tiny_dir() + "/golden_ia3.json"));
  return j;
}

std::string ia3_dir(int i) { return testing::tiny_dir() + "/ia3/ia3_" + std::to_string(i); }

at::Tensor row(const std::vector<int64_t>& v) { return at::tensor(v, at::kLong).view({1, -1}); }

double batch_loss(const model::LowRankSet& set) {
  const auto b = golden_batch();
  return tiny_model().loss(b.input_ids, b.attention_mask, b.labels, &set).item<double>();
}

class Ia3Parity : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
};

TEST_F(Ia3Parity, EachVectorScalesTheSidePeftScales) {
  const model::LowRankSet set = load_peft_ia3_adapter(ia3_dir(0), tiny_model());
  int found = 0;
  for (const auto& m : golden_ia3()["modules"]) {
    const int site = tiny_model().site_index(m["module"].get<std::string>());
    ASSERT_GE(site, 0) << m["module"];
    const model::SiteScale* s = set.scale_at(site);
    ASSERT_NE(s, nullptr) << m["module"];
    EXPECT_EQ(s->on_input, m["scales"].get<std::string>() == "input") << m["module"];
    EXPECT_EQ(s->vector.numel(), s->on_input ? m["in_features"].get<int64_t>() : m["out_features"].get<int64_t>());
    ++found;
  }
  int defined = 0;
  for (const auto& s : set.scales) defined += s.defined();
  EXPECT_EQ(defined, found);  // no projection scaled that PEFT leaves alone
}

TEST_F(Ia3Parity, LossesLogitsAndGreedyMatchPeft) {
  for (int i = 0; i < 2; ++i) {
    const auto& g = golden_ia3()["adapters"][static_cast<size_t>(i)];
    const model::LowRankSet set = load_peft_ia3_adapter(ia3_dir(i), tiny_model());
    const double loss = batch_loss(set);
    EXPECT_LT(rel_diff(loss, g["hf_batch_loss"].get<double>()), 1e-5) << "ia3_" << i;
    EXPECT_LT(rel_diff(loss / 6.0, g["lorahub_get_loss"].get<double>()), 1e-5) << "ia3_" << i;

    const auto& ex = golden()["examples"];
    const auto x = row(testing::ids(ex[0]["input_ids"]));
    const auto labels = row(testing::ids(ex[0]["label_ids"]));
    const auto dec = row(testing::ids(golden()["base"]["decoder_input_ids_input0"]));
    const at::Tensor logits = tiny_model().logits(x, at::ones_like(x), dec, &set)[0];
    EXPECT_LT((logits - testing::float_tensor(g["logits_input0"])).abs().max().item<double>(), 1e-4) << "ia3_" << i;
    EXPECT_LT(rel_diff(tiny_model().loss(x, at::ones_like(x), labels, &set).item<double>(), g["loss_input0"].get<double>()),
              1e-5);
    for (size_t k = 0; k < ex.size(); ++k) {
      const auto xk = row(testing::ids(ex[k]["input_ids"]));
      const auto out = tiny_model().greedy(xk, at::ones_like(xk), {12, false}, &set);
      EXPECT_TRUE(at::equal(out.ids, row(testing::ids(g["greedy"]["single"][k]["ids"])))) << "ia3_" << i << " example " << k;
    }
  }
}

TEST_F(Ia3Parity, BinLoadsAsSafetensors) {
  // adapter_model.bin alone beside the config: PEFT's difference is 0.0.
  const std::string dir = testing::temp_dir("ia3-bin");
  for (const char* f : {"adapter_config.json", "adapter_model.bin"}) {
    std::filesystem::copy_file(ia3_dir(1) + "/" + f, dir + "/" + f);
  }
  const double from_bin = batch_loss(load_peft_ia3_adapter(dir, tiny_model()));
  EXPECT_EQ(from_bin, batch_loss(load_peft_ia3_adapter(ia3_dir(1), tiny_model())));
  EXPECT_EQ(golden_ia3()["adapters"][1]["bin_vs_safetensors_abs_loss_diff"].get<double>(), 0.0);
}

// A copy of ia3_0 with its adapter_config.json edited.
std::string ia3_copy(const std::string& tag, const std::function<void(nlohmann::json&)>& edit) {
  const std::string dir = testing::temp_dir(tag);
  std::filesystem::copy_file(ia3_dir(0) + "/adapter_model.safetensors", dir + "/adapter_model.safetensors");
  auto config = nlohmann::json::parse(testing::read_file(ia3_dir(0) + "/adapter_config.json"));
  edit(config);
  std::ofstream(dir + "/adapter_config.json") << config.dump();
  return dir;
}

std::string ia3_error(const std::string& dir) {
  try {
    load_peft_ia3_adapter(dir, tiny_model());
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " loaded";
  return "";
}

// The adapter_config.json rules of LoRA adapters (lora/peft_config.h) hold for IA3 too (issue 16).
TEST(Ia3Config, FollowsTheRulesOfLoraConfigs) {
  // Unknown keys and fan_in_fan_out are warned about by name, the numbers unchanged.
  const std::string warned = ia3_copy("ia3-warned", [](nlohmann::json& c) {
    c["zzz_scaling"] = 2;
    c["fan_in_fan_out"] = true;
  });
  ::testing::internal::CaptureStderr();
  const double loss = batch_loss(load_peft_ia3_adapter(warned, tiny_model()));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "warning: " + warned + "/adapter_config.json: field 'zzz_scaling' is not known to lorahub and is ignored\n"
            "warning: " + warned + "/adapter_config.json: fan_in_fan_out is set to True but the target modules are "
            "torch Linear layers; setting fan_in_fan_out to False (as PEFT does)\n");
  EXPECT_LT(rel_diff(loss, golden_ia3()["adapters"][0]["hf_batch_loss"].get<double>()), 1e-5);
  // Refused, as for LoRA: modules_to_save; a tensor of a module target_modules does not name (PEFT
  // would not wrap wo); feedforward_modules outside target_modules (PEFT's IA3Config check); a
  // target that names no projection; another task type.
  struct Case {
    std::string tag, expected;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"ia3-save", "/adapter_config.json: field 'modules_to_save': not supported; expected null, found [\"lm_head\"]",
       [](nlohmann::json& c) { c["modules_to_save"] = {"lm_head"}; }},
      {"ia3-no-wo", "/adapter_model.safetensors: tensor 'base_model.model.decoder.block.0.layer.2.DenseReluDense.wo.ia3_l': "
       "'decoder.block.0.layer.2.DenseReluDense.wo' is not named by target_modules in ",
       [](nlohmann::json& c) {
         c["target_modules"] = {"k", "v"};
         c["feedforward_modules"] = nlohmann::json::array();
       }},
      {"ia3-ff-subset", "/adapter_config.json: field 'feedforward_modules': 'wo' is not in target_modules (PEFT: "
       "feedforward_modules should be a subset of target_modules)",
       [](nlohmann::json& c) { c["target_modules"] = {"k", "v"}; }},
      {"ia3-typo", "/adapter_config.json: field 'target_modules': 'wout' names no projection of the base model",
       [](nlohmann::json& c) { c["target_modules"] = {"k", "v", "wout"}; }},
      {"ia3-task", "/adapter_config.json: field 'task_type': expected \"SEQ_2_SEQ_LM\" for a t5 model, found \"CAUSAL_LM\"",
       [](nlohmann::json& c) { c["task_type"] = "CAUSAL_LM"; }},
  };
  for (const auto& c : cases) {
    const std::string dir = ia3_copy(c.tag, c.edit);
    EXPECT_EQ(ia3_error(dir).rfind(dir + c.expected, 0), 0u) << ia3_error(dir);
  }
}

// Issue 16 (break16c F7): feedforward_modules null gets PEFT 0.7.1's family default (T5 ["wo"]),
// as PEFT fills it on loading: the same numbers as the fixture's explicit ["wo"].
TEST(Ia3Config, NullFeedforwardModulesGetPeftsFamilyDefault) {
  at::NoGradGuard no_grad;
  const std::string dir = ia3_copy("ia3-ff-null", [](nlohmann::json& c) {
    ASSERT_EQ(c["feedforward_modules"], nlohmann::json({"wo"}));
    c["feedforward_modules"] = nullptr;
  });
  EXPECT_LT(rel_diff(batch_loss(load_peft_ia3_adapter(dir, tiny_model())),
                     golden_ia3()["adapters"][0]["hf_batch_loss"].get<double>()),
            1e-5);
}

}  // namespace
}  // namespace lorahub::lora
