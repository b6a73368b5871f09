// Exported compositions load back (here and, by their format, in PEFT).

#include "lora/peft_export.h"

#include "io/json_file.h"
#include "io/tensor_file.h"
#include "lora/tiny_pool.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
    write_peft_adapter(dir, composed_adapter(tiny_pool(), w, m), tiny_pool().target_modules(), "base");
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
