// PEFT LoRA adapters on the Llama engine through lora/ (load_adapter,
// LoraPool, compose, merge) against PEFT 0.7.1 / lorahub numbers in
// tiny-llama/golden.json.

#include "lora/composition.h"
#include "lora/lora_pool.h"
#include "lora/merge_methods.h"

#include "llama/tiny_llama.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace lorahub::llama {
namespace {

using testing::llama_golden;
using testing::llama_model;
using testing::rel_diff;

const lora::LoraPool& pool() {
  static const lora::LoraPool p = [] {
    std::vector<std::string> dirs;
    for (int i = 0; i < 5; ++i) dirs.push_back(testing::llama_dir() + "/lora/lora" + std::to_string(i));
    return lora::LoraPool::load(llama_model(), dirs);
  }();
  return p;
}

double batch_loss(const LlamaModel& m, const model::LowRankSet* s) {
  return m.loss(m.make_pairs(testing::llama_prompts(), testing::llama_targets()), s).item<double>();
}

at::Tensor weights(const std::vector<double>& w) { return at::tensor(w, at::kDouble).to(at::kFloat); }

class LlamaLoraParity : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
};

TEST_F(LlamaLoraParity, PoolHoldsEveryProjectionOfEveryLayer) {
  EXPECT_EQ(pool().size(), 5);
  EXPECT_EQ(pool().rank(), 4);
  EXPECT_DOUBLE_EQ(pool().scale(), 2.0);
  EXPECT_EQ(pool().targets().size(), 14u);
}

TEST_F(LlamaLoraParity, EachAdapterAloneMatchesPeft) {
  for (int i = 0; i < 5; ++i) {
    std::vector<double> w(5, 0.0);
    w[static_cast<size_t>(i)] = 1.0;
    const model::LowRankSet s = lora::compose(pool(), weights(w), lora::Method::kLoraHub);
    const double loss = batch_loss(llama_model(), &s);
    EXPECT_LT(rel_diff(loss, llama_golden()["adapters"][static_cast<size_t>(i)]["batch_loss"].get<double>()), 1e-5) << i;
  }
}

TEST_F(LlamaLoraParity, LorahubCompositionUnmergedAndMerged) {
  const auto& g = llama_golden()["lorahub_composition"];
  const at::Tensor w = weights(g["weights"].get<std::vector<double>>());
  const model::LowRankSet s = lora::compose(pool(), w, lora::Method::kLoraHub);
  const double loss = batch_loss(llama_model(), &s);
  EXPECT_LT(rel_diff(loss, g["batch_loss"].get<double>()), 1e-5);
  EXPECT_LT(rel_diff(loss / 6.0, g["lorahub_loss"].get<double>()), 1e-5);
  const LlamaModel merged(llama_model().config(), lora::merge(llama_model(), pool(), w, lora::Method::kLoraHub));
  EXPECT_LT(rel_diff(batch_loss(merged, nullptr), g["merged"]["batch_loss"].get<double>()), 1e-5);
}

TEST_F(LlamaLoraParity, CatAndPerModuleCat) {
  const auto& g = llama_golden()["peft_add_weighted_adapter"]["cat"];
  const model::LowRankSet s = lora::compose(pool(), weights(g["weights"].get<std::vector<double>>()), lora::Method::kCat);
  EXPECT_LT(rel_diff(batch_loss(llama_model(), &s), g["batch_loss"].get<double>()), 1e-5);
  const auto& pm = llama_golden()["cat_per_module"];
  const int64_t targets = static_cast<int64_t>(pool().targets().size());
  at::Tensor w = at::zeros({5, targets}, at::kFloat);
  for (int64_t t = 0; t < targets; ++t) {
    const auto& row = pm["weights"][pool().targets()[static_cast<size_t>(t)].module + ".weight"];
    for (int64_t i = 0; i < 5; ++i) w[i][t] = row[static_cast<size_t>(i)].get<double>();
  }
  const model::LowRankSet per = lora::compose(pool(), w, lora::Method::kCat, /*per_target=*/true);
  EXPECT_LT(rel_diff(batch_loss(llama_model(), &per), pm["batch_loss"].get<double>()), 1e-5);
}

// PEFT add_weighted_adapter merges (lora/merge_methods.h) folded into the
// Llama's weights: the losses PEFT recorded for the merged adapters.
class LlamaMergeLosses : public LlamaLoraParity {
 protected:
  static const std::vector<lora::LoraAdapter>& adapters() {  // (a pool keeps only its stacks, not the adapters' tensors)
    static const std::vector<lora::LoraAdapter> a = [] {
      std::vector<lora::LoraAdapter> v;
      for (int i = 0; i < 5; ++i) {
        v.push_back(lora::load_adapter(testing::llama_dir() + "/lora/lora" + std::to_string(i), llama_model()));
      }
      return v;
    }();
    return a;
  }
  // The model with the merge of every adapter (weights w) folded in: its losses against golden entry g.
  static void expect_losses(const std::vector<double>& w, const lora::MergeOptions& o, const nlohmann::json& g,
                            const std::string& what) {
    const LlamaModel merged(llama_model().config(),
                            lora::merged_weights(llama_model().weights(), lora::merge_adapters(adapters(), w, o)));
    const double loss = batch_loss(merged, nullptr);
    std::printf("%s: batch loss %.9f (PEFT %.9f)\n", what.c_str(), loss, g["batch_loss"].get<double>());
    EXPECT_LT(rel_diff(loss, g["batch_loss"].get<double>()), 1e-5) << what;
    EXPECT_LT(rel_diff(loss / 6.0, g["lorahub_loss"].get<double>()), 1e-5) << what;
  }
};

TEST_F(LlamaMergeLosses, LinearCatSvdAdaptersOfPeft071) {
  const auto& g = llama_golden()["peft_add_weighted_adapter"];
  for (const char* type : {"linear", "cat", "svd"}) {
    lora::MergeOptions o;
    o.method = lora::parse_method(type, "type", true);
    expect_losses(g[type]["weights"].get<std::vector<double>>(), o, g[type], type);
  }
}

TEST_F(LlamaMergeLosses, TaskArithmeticTiesMagnitudePruneOnEveryModule) {
  // merge_utils of PEFT v0.19.1 on every target's A and B (all_modules_v0.19.1):
  // the weights, density and majority sign of peft_merge_utils.
  const auto& mu = llama_golden()["peft_merge_utils"];
  ASSERT_EQ(mu["majority_sign_method"].get<std::string>(), "total");
  const auto w = mu["weights"].get<std::vector<double>>();
  for (const auto& [name, method] : std::vector<std::pair<std::string, lora::Method>>{
           {"task_arithmetic", lora::Method::kLinear}, {"ties", lora::Method::kTies},
           {"magnitude_prune", lora::Method::kMagnitudePrune}}) {
    lora::MergeOptions o;
    o.method = method;
    o.density = method == lora::Method::kLinear ? 1.0 : mu["density"].get<double>();
    expect_losses(w, o, mu["all_modules_v0.19.1"][name], name);
  }
}

}  // namespace
}  // namespace lorahub::llama
