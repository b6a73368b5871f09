// Exported compositions load back (here and, by their format, in PEFT).

#include "lora/peft_export.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "lora/merge_methods.h"
#include "lora/tiny_pool.h"
#include "model/non_finite.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>

namespace lorahub::lora {
namespace {

using testing::golden;
using testing::rel_diff;
using testing::tiny_model;
using testing::tiny_pool;

double loss_with(const t5::T5Model& model, const model::LowRankSet* set) {
  const auto b = testing::golden_batch();
  return model.loss(b.input_ids, b.attention_mask, b.labels, set).item<double>();
}

TEST(PeftExport, ExportedCompositionReloadsWithTheSameNumbers) {
  at::NoGradGuard no_grad;
  const at::Tensor w = at::tensor(golden()["lorahub_composition"]["weights"].get<std::vector<double>>(), at::kDouble);
  for (Method m : {Method::kLoraHub, Method::kCat}) {
    const std::string dir = testing::temp_dir("export-" + method_name(m));
    write_peft_adapter(dir, composed_adapter(tiny_pool(), w, m), tiny_pool().target_modules(), "base", "SEQ_2_SEQ_LM");
    const auto original = compose(tiny_pool(), w, m);
    const LoraPool reloaded = LoraPool::load(tiny_model(), {dir});
    EXPECT_EQ(reloaded.rank(), m == Method::kLoraHub ? 4 : 20);
    const auto set = compose(reloaded, at::ones({1}, at::kDouble), Method::kLoraHub);
    EXPECT_LT(rel_diff(loss_with(tiny_model(), &set), loss_with(tiny_model(), &original)), 1e-6) << method_name(m);

    // PEFT's adapter_config.json keys, as in the fixture's (written by PEFT).
    const auto ours = io::read_json_file(dir + "/adapter_config.json");
    const auto peft = io::read_json_file(testing::lora_dir(0) + "/adapter_config.json");
    std::vector<std::string> ours_keys, peft_keys;
    for (auto it = ours.begin(); it != ours.end(); ++it) ours_keys.push_back(it.key());
    for (auto it = peft.begin(); it != peft.end(); ++it) peft_keys.push_back(it.key());
    EXPECT_EQ(ours_keys, peft_keys);
    if (m == Method::kLoraHub) EXPECT_EQ(ours, peft);  // same r, alpha, targets, base
  }
}

// Copies of fixture adapters 0..2 with their config edited.
std::vector<std::string> edited_copies(const std::string& tag, const std::function<void(nlohmann::json&)>& edit) {
  std::vector<std::string> dirs;
  for (int i = 0; i < 3; ++i) {
    const std::string dir = testing::temp_dir(tag + std::to_string(i));
    std::filesystem::copy_file(testing::lora_dir(i) + "/adapter_model.safetensors", dir + "/adapter_model.safetensors");
    auto config = io::read_json_file(testing::lora_dir(i) + "/adapter_config.json");
    edit(config);
    io::write_json_file(dir + "/adapter_config.json", config);
    dirs.push_back(dir);
  }
  return dirs;
}

// Every composition the product exports (LoraHub, CAT, CAT with one weight
// per target; as a PEFT adapter and merged) reloads in the product with the
// same loss, for every form of target_modules, which the export keeps as it
// was (a string stays a string: never a regex inside a list).
TEST(PeftExport, EveryCompositionRoundTripsForEveryTargetForm) {
  at::NoGradGuard no_grad;
  struct Form {
    std::string tag;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Form> forms = {
      {"regex", [](nlohmann::json& c) { c["target_modules"] = R"(.*(SelfAttention|EncDecAttention)\.(q|v))"; }},
      {"all-linear", [](nlohmann::json& c) { c["target_modules"] = "all-linear"; }},
      {"layers", [](nlohmann::json& c) { c["layers_to_transform"] = {0, 1}; }},
      {"rslora", [](nlohmann::json& c) { c["use_rslora"] = true; }},  // scale 8 / sqrt(4) = 4
  };
  for (const auto& form : forms) {
    const auto dirs = edited_copies("rt-" + form.tag, form.edit);
    const LoraPool pool = LoraPool::load(tiny_model(), dirs);
    const auto original_config = io::read_json_file(dirs[0] + "/adapter_config.json");
    const int64_t l = static_cast<int64_t>(pool.targets().size());
    struct Case {
      Method method;
      at::Tensor w;
      bool per_target;
    };
    const std::vector<Case> cases = {
        {Method::kLoraHub, at::tensor(std::vector<double>{0.7, -0.4, 0.25}, at::kDouble), false},
        {Method::kCat, at::tensor(std::vector<double>{0.7, -0.4, 0.25}, at::kDouble), false},
        {Method::kCat, at::linspace(-1, 1, 3 * l, at::kDouble).view({3, l}), true},
    };
    for (const auto& c : cases) {
      const std::string what = form.tag + " " + method_name(c.method) + (c.per_target ? " per target" : "");
      const auto original = compose(pool, c.w, c.method, c.per_target);
      const double expected = loss_with(tiny_model(), &original);
      const std::string dir = testing::temp_dir("rt-out");
      write_peft_adapter(dir, composed_adapter(pool, c.w, c.method, c.per_target), pool.target_modules(), "base", "SEQ_2_SEQ_LM");
      const auto config = io::read_json_file(dir + "/adapter_config.json");
      EXPECT_EQ(config["target_modules"], original_config["target_modules"]) << what;
      EXPECT_EQ(config["layers_to_transform"], original_config["layers_to_transform"]) << what;
      const LoraPool reloaded = LoraPool::load(tiny_model(), {dir});
      const auto set = compose(reloaded, at::ones({1}, at::kDouble), Method::kLoraHub);
      EXPECT_LT(rel_diff(loss_with(tiny_model(), &set), expected), 1e-6) << what;
      const t5::T5Model merged_model(tiny_model().config(), merge(tiny_model(), pool, c.w, c.method, c.per_target));
      EXPECT_LT(rel_diff(loss_with(merged_model, nullptr), expected), 1e-5) << what;
    }
    if (form.tag == "rslora") EXPECT_DOUBLE_EQ(pool.scale(), 4.0);
  }
}

// compose --method <merge method> (issue 16): the export names its targets
// so that it reloads to the same modules with the same numbers: the
// modules' own target fields when they agree (a regex stays a string), else
// an explicit list of the projections (short names when they name exactly
// the merged modules, full names otherwise), never a regex or "all-linear"
// inside a list. Oracle: the merged adapter folded into the weights before
// export (merged_weights), against the reloaded file applied at run time.
TEST(PeftExport, MergeMethodExportsReloadWithTheirTargets) {
  at::NoGradGuard no_grad;
  const auto regex = edited_copies("mm-regex", [](nlohmann::json& c) { c["target_modules"] = R"(.*\.(q|v))"; });
  const auto all_linear = edited_copies("mm-all", [](nlohmann::json& c) { c["target_modules"] = "all-linear"; });
  // Block 0 only, said two ways (layers_to_transform with a pattern; a list of dotted names).
  std::vector<std::string> block0;
  for (int i = 0; i < 2; ++i) {
    const std::string dir = testing::temp_dir("mm-block0-" + std::to_string(i));
    io::TensorMap kept;
    for (const auto& [k, t] : io::read_tensor_file(testing::lora_dir(i) + "/adapter_model.safetensors")) {
      if (k.find(".block.0.") != std::string::npos) kept[k] = t;
    }
    io::write_safetensors(dir + "/adapter_model.safetensors", kept, {{"format", "pt"}});
    auto config = io::read_json_file(testing::lora_dir(i) + "/adapter_config.json");
    config["layers_to_transform"] = {0};
    config["layers_pattern"] = "block";
    if (i == 1) config["target_modules"] = {"SelfAttention.q", "SelfAttention.v", "EncDecAttention.q", "EncDecAttention.v"};
    io::write_json_file(dir + "/adapter_config.json", config);
    block0.push_back(dir);
  }
  std::vector<std::string> block0_names;
  for (const auto& p : tiny_model().projections().all()) {
    if (p.module.find(".block.0.") != std::string::npos && (p.leaf() == "q" || p.leaf() == "v")) block0_names.push_back(p.module);
  }
  std::sort(block0_names.begin(), block0_names.end());
  struct Form {
    std::string tag;
    std::vector<std::string> dirs;
    nlohmann::json target_modules;
  };
  const std::vector<Form> forms = {
      {"regex", {regex[0], regex[1]}, R"(.*\.(q|v))"},
      {"all-linear + list", {all_linear[0], testing::lora_dir(1)}, {"q", "v"}},
      {"regex + list", {regex[0], testing::lora_dir(1)}, {"q", "v"}},
      {"block 0, two spellings", block0, block0_names},
  };
  for (const auto& form : forms) {
    std::vector<LoraAdapter> adapters;
    for (const auto& d : form.dirs) adapters.push_back(load_adapter(d, tiny_model()));
    std::vector<const LoraAdapter*> sources;
    for (const auto& a : adapters) sources.push_back(&a);
    for (Method m : {Method::kCat, Method::kLinear, Method::kSvd, Method::kTies}) {
      const std::string what = form.tag + " " + method_name(m);
      MergeOptions o;
      o.method = m;
      o.density = m == Method::kTies ? 0.5 : 1.0;
      const ComposedAdapter merged = merge_adapters(adapters, {0.7, -0.4}, o);
      std::vector<std::string> modules;
      for (const auto& [key, t] : merged.tensors) {
        std::string module;
        bool is_a = false;
        if (parse_peft_key(key, module, is_a) && is_a) modules.push_back(module);
      }
      const nlohmann::json targets = export_target_config(sources, modules, tiny_model().projections());
      EXPECT_EQ(targets["target_modules"], form.target_modules) << what;
      const std::string dir = testing::temp_dir("mm-out");
      write_peft_adapter(dir, merged, targets, "base", "SEQ_2_SEQ_LM");
      const LoraPool reloaded = LoraPool::load(tiny_model(), {dir});
      EXPECT_EQ(static_cast<size_t>(reloaded.targets().size()), modules.size()) << what;
      const auto set = compose(reloaded, at::ones({1}, at::kDouble), Method::kLoraHub);
      const t5::T5Model merged_model(tiny_model().config(), merged_weights(tiny_model().weights(), merged));
      EXPECT_LT(rel_diff(loss_with(tiny_model(), &set), loss_with(merged_model, nullptr)), 1e-5) << what;
    }
  }
}

TEST(PeftExport, NonFiniteCompositionsAreNeverWritten) {
  at::NoGradGuard no_grad;
  const std::string dir = testing::temp_dir("never-nan") + "/out";
  at::Tensor w = at::zeros({5}, at::kDouble);
  w[0] = std::numeric_limits<double>::infinity();
  try {
    write_merged_checkpoint(dir, tiny_model(), tiny_pool(), w, Method::kLoraHub, testing::tiny_dir() + "/base");
    ADD_FAILURE() << "merged an infinite weight";
  } catch (const model::NonFiniteError& e) {
    // Refused where any composition is folded into weights (WeightStore::with_replaced), before a file is
    // written; the message names the model directory (nothing is written to its weight file).
    EXPECT_EQ(std::string(e.what()),
              "the in-memory merged weights of " + testing::tiny_dir() +
                  "/base (LoRA "
                  "composition): tensor 'decoder.block.0.layer.0.SelfAttention.q.weight' is not "
                  "finite (the composition weights or the modules overflow float32; nothing was "
                  "written)");
  }
  try {
    write_peft_adapter(dir, composed_adapter(tiny_pool(), w, Method::kCat), tiny_pool().target_modules(), "base", "SEQ_2_SEQ_LM");
    ADD_FAILURE() << "exported an infinite weight";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": PEFT adapter not written: its tensor "
                                     "'base_model.model.decoder.block.0.layer.0.SelfAttention.q.lora_A.weight' is not "
                                     "finite (the composition weights or the modules overflow float32)");
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(PeftExport, MergedCheckpointLoadsAsAPlainModel) {
  at::NoGradGuard no_grad;
  const at::Tensor w = at::tensor(golden()["lorahub_composition"]["weights"].get<std::vector<double>>(), at::kDouble);
  const std::string dir = testing::temp_dir("merged");
  write_merged_checkpoint(dir, tiny_model(), tiny_pool(), w, Method::kLoraHub, testing::tiny_dir() + "/base");
  const auto ck = t5::load_checkpoint(dir);
  const t5::T5Model model(ck.config, ck.weights);
  EXPECT_LT(rel_diff(loss_with(model, nullptr), golden()["lorahub_composition"]["merged"]["hf_batch_loss"].get<double>()), 1e-5);
  EXPECT_TRUE(io::file_exists(dir + "/spiece.model"));
}

}  // namespace
}  // namespace lorahub::lora
