// PEFT LoRA adapters on the Llama engine through lora/ (load_adapter,
// LoraPool, compose, merge) against PEFT 0.7.1 / lorahub numbers in
// tiny-llama/golden.json.

#include "lora/composition.h"
#include "lora/lora_pool.h"

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

}  // namespace
}  // namespace lorahub::llama
