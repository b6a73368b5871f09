// LoraHub and CAT compositions against the reference implementation's numbers.

#include "lora/composition.h"
#include "t5/runtime.h"

#include "learn/objective.h"
#include "lora/tiny_pool.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace lorahub::lora {
namespace {

using testing::golden;
using testing::golden_batch;
using testing::rel_diff;
using testing::tiny_model;
using testing::tiny_pool;

at::Tensor weights_of(const nlohmann::json& j) { return at::tensor(j.get<std::vector<double>>(), at::kDouble); }

std::vector<t5::TokenIds> field(const char* name, int n = 6) {
  std::vector<t5::TokenIds> out;
  for (int i = 0; i < n; ++i) out.push_back(testing::ids(golden()["examples"][i][name]));
  return out;
}

double batch_loss(const t5::T5Model& model, const model::LowRankSet* set) {
  const auto b = golden_batch();
  return model.loss(b.input_ids, b.attention_mask, b.labels, set).item<double>();
}

class Composition : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
};

TEST_F(Composition, LoraHubComposedMatricesMatchReference) {
  const auto& g = golden()["lorahub_composition"];
  const auto set = compose(tiny_pool(), weights_of(g["weights"]), Method::kLoraHub);
  const int site = tiny_model().site_index("encoder.block.0.layer.0.SelfAttention.q");
  ASSERT_GE(site, 0);
  const auto& u = set.by_site[static_cast<size_t>(site)];
  EXPECT_DOUBLE_EQ(u.scale, 2.0);
  EXPECT_LT((u.a[0] - testing::float_tensor(g["composed_example"]["lora_A"])).abs().max().item<double>(), 1e-6);
  EXPECT_LT((u.b[0] - testing::float_tensor(g["composed_example"]["lora_B"])).abs().max().item<double>(), 1e-6);
}

// Under a bfloat16 model the pool stays float32 and compositions are
// computed in float32: the same numbers as under the float32 model, so two
// candidates 2^-10 apart (one bfloat16 weight to 8 significant bits) still
// compose differently, and a merge rounds W + s B A once.
TEST_F(Composition, Bfloat16ModelsComposeInFloat32) {
  const auto ck = t5::load_checkpoint(testing::tiny_dir() + "/base", at::kBFloat16, testing::test_device());
  const t5::T5Model bf16(ck.config, ck.weights);
  const LoraPool pool = LoraPool::load(bf16, testing::lora_dirs());
  const at::Tensor w = at::tensor({0.5, 0.25, -0.125, 0.75, 0.3, 0.5 + 1.0 / 1024, 0.25, -0.125, 0.75, 0.3}, at::kDouble)
                           .view({2, 5});
  for (const Method m : {Method::kLoraHub, Method::kCat}) {
    const auto set = compose(pool, w, m);
    const auto ref = compose(tiny_pool(), w, m);
    for (const PoolTarget& t : pool.targets()) {
      const auto& u = set.by_site[static_cast<size_t>(t.site)];
      const auto& r = ref.by_site[static_cast<size_t>(t.site)];
      EXPECT_EQ(u.a.scalar_type(), at::kFloat);
      EXPECT_TRUE(at::equal(u.a, r.a) && at::equal(u.b, r.b)) << t.module;
      EXPECT_FALSE(at::equal(u.a[0], u.a[1])) << t.module;
    }
  }
  const auto merged = merge(bf16, pool, w[0], Method::kLoraHub);
  const auto ref = compose(tiny_pool(), w[0], Method::kLoraHub);
  for (const PoolTarget& t : pool.targets()) {
    const auto& r = ref.by_site[static_cast<size_t>(t.site)];
    const at::Tensor& base = bf16.weights().tensors().at(t.module + ".weight");
    const at::Tensor once = (base.to(at::kFloat) + at::matmul(r.b[0], r.a[0]) * r.scale).to(at::kBFloat16);
    EXPECT_TRUE(at::equal(merged->tensors().at(t.module + ".weight"), once)) << t.module;
  }
}

TEST_F(Composition, LoraHubLossesL1AndScoreMatchReference) {
  const auto& g = golden()["lorahub_composition"];
  const at::Tensor w = weights_of(g["weights"]);
  const auto set = compose(tiny_pool(), w, Method::kLoraHub);
  EXPECT_LT(rel_diff(batch_loss(tiny_model(), &set), g["hf_batch_loss"].get<double>()), 1e-5);

  const learn::FewShotObjective objective(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), {});
  const double loss = objective.losses(w)[0];
  EXPECT_LT(rel_diff(loss, g["lorahub_get_loss"].get<double>()), 1e-5);
  const double l1 = objective.l1_term(w);
  EXPECT_NEAR(l1, g["l1_term"].get<double>(), 1e-9);
  EXPECT_NEAR(l1, 0.05 * (0.5 + 0.3 + 1.2 + 0.0 + 0.7) / 5, 1e-12);
  const double score = objective.objectives(w)[0];
  EXPECT_NEAR(score, loss + l1, 1e-9);
  EXPECT_LT(rel_diff(score, g["get_score"].get<double>()), 1e-5);
}

TEST_F(Composition, LoraHubLogitsAndGreedyMatchReference) {
  const auto& g = golden()["lorahub_composition"];
  const auto set = compose(tiny_pool(), weights_of(g["weights"]), Method::kLoraHub);
  const auto x = at::tensor(testing::ids(golden()["examples"][0]["input_ids"]), at::kLong).unsqueeze(0);
  const auto labels = at::tensor(testing::ids(golden()["examples"][0]["label_ids"]), at::kLong).unsqueeze(0);
  const auto logits = tiny_model().logits(x, at::ones_like(x), t5::shift_right(labels, 0, 0), &set);
  EXPECT_LT((logits[0] - testing::float_tensor(g["logits_input0"])).abs().max().item<double>(), 1e-4);
  EXPECT_LT(rel_diff(tiny_model().loss(x, at::ones_like(x), labels, &set).item<double>(), g["loss_input0"].get<double>()), 1e-5);
  const auto out = tiny_model().greedy(x, at::ones_like(x), {12, true}, &set);
  EXPECT_EQ(t5::rows_to_ids(out.ids, false)[0], testing::ids(g["greedy"]["single"][0]["ids"]));
  EXPECT_LT((out.step_logits.select(1, 0) - testing::float_tensor(g["greedy"]["step_logits_input0"])).abs().max().item<double>(), 1e-4);
  const auto b = golden_batch();
  const auto batched = tiny_model().greedy(b.input_ids, b.attention_mask, {12, false}, &set);
  EXPECT_TRUE(at::equal(batched.ids, testing::long_tensor(g["greedy"]["batched"]["ids"])));
}

TEST_F(Composition, MergedPathMatchesReferenceAndRuntimePath) {
  const auto& g = golden()["lorahub_composition"];
  const at::Tensor w = weights_of(g["weights"]);
  const t5::T5Model merged(tiny_model().config(), merge(tiny_model(), tiny_pool(), w, Method::kLoraHub));
  EXPECT_LT(rel_diff(batch_loss(merged, nullptr), g["merged"]["hf_batch_loss"].get<double>()), 1e-5);
  const auto set = compose(tiny_pool(), w, Method::kLoraHub);
  EXPECT_LT(rel_diff(batch_loss(merged, nullptr), batch_loss(tiny_model(), &set)), 1e-5);
  const auto b = golden_batch();
  const auto out = merged.greedy(b.input_ids, b.attention_mask, {12, false});
  EXPECT_TRUE(at::equal(out.ids, testing::long_tensor(g["greedy"]["batched"]["ids"])));
  // The base model and the pool are untouched.
  EXPECT_LT(rel_diff(batch_loss(tiny_model(), nullptr), golden()["base"]["hf_batch_loss"].get<double>()), 1e-5);
}

TEST_F(Composition, CatMatchesPeftAddWeightedAdapter) {
  const auto& g = golden()["cat_composition"];
  const at::Tensor w = weights_of(g["weights"]);
  const auto set = compose(tiny_pool(), w, Method::kCat);
  EXPECT_EQ(set.by_site[static_cast<size_t>(tiny_pool().targets()[0].site)].a.size(1), 20);  // rank 5 * 4
  EXPECT_LT(rel_diff(batch_loss(tiny_model(), &set), g["hf_batch_loss"].get<double>()), 1e-5);
  const auto x = at::tensor(testing::ids(golden()["examples"][0]["input_ids"]), at::kLong).unsqueeze(0);
  const auto labels = at::tensor(testing::ids(golden()["examples"][0]["label_ids"]), at::kLong).unsqueeze(0);
  const auto logits = tiny_model().logits(x, at::ones_like(x), t5::shift_right(labels, 0, 0), &set);
  EXPECT_LT((logits[0] - testing::float_tensor(g["logits_input0"])).abs().max().item<double>(), 1e-4);
  // Merged CAT (sum of w_i s B_i A_i folded in) agrees with the runtime path.
  const t5::T5Model merged(tiny_model().config(), merge(tiny_model(), tiny_pool(), w, Method::kCat));
  EXPECT_LT(rel_diff(batch_loss(merged, nullptr), g["manual_delta_w"]["hf_batch_loss"].get<double>()), 1e-5);
  // Per-target weights whose columns repeat the per-module weights are the same composition.
  const int64_t l = static_cast<int64_t>(tiny_pool().targets().size());
  const auto per_target = compose(tiny_pool(), w.unsqueeze(1).expand({5, l}).contiguous(), Method::kCat, true);
  EXPECT_LT(rel_diff(batch_loss(tiny_model(), &per_target), g["hf_batch_loss"].get<double>()), 1e-5);
  // ...and zeroing one target's column removes exactly that projection's update.
  at::Tensor wt = w.unsqueeze(1).expand({5, l}).contiguous();
  wt.select(1, 0).zero_();
  const auto partial = compose(tiny_pool(), wt, Method::kCat, true);
  EXPECT_EQ(partial.by_site[static_cast<size_t>(tiny_pool().targets()[0].site)].a.abs().max().item<double>(), 0.0);
}

TEST_F(Composition, BatchedCandidatesEqualSequentialEvaluations) {
  at::manual_seed(3);
  const at::Tensor w = at::rand({16, 5}, at::kDouble) * 3.0 - 1.5;
  // Packed: the whole batch in one pass, padding taken out by the model (the
  // CPU default); padded: the length groups (what a GPU runs).
  for (bool packed : {true, false}) {
    const t5::PackedEncoderScope scope(packed);
    for (Method m : {Method::kLoraHub, Method::kCat}) {
      learn::ObjectiveOptions batched_opts;
      batched_opts.method = m;
      batched_opts.candidates_per_pass = 16;
      learn::ObjectiveOptions single_opts = batched_opts;
      single_opts.candidates_per_pass = 1;
      single_opts.pack_examples = false;  // one padded batch, as the reference
      const learn::FewShotObjective batched(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), batched_opts);
      const learn::FewShotObjective single(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), single_opts);
      // The six examples (inputs of 37 to 140 tokens) fall into several length
      // groups, which only the padded path uses.
      EXPECT_EQ(batched.num_groups() > 1, !packed);
      EXPECT_EQ(single.num_groups(), 1);
      const auto all = batched.losses(w);
      ASSERT_EQ(all.size(), 16u);
      for (int64_t p = 0; p < 16; ++p) {
        const double one = single.losses(w[p])[0];
        EXPECT_LT(rel_diff(all[static_cast<size_t>(p)], one), 1e-5) << method_name(m) << " candidate " << p;
        // Third path: the merged model's batch loss, normalised like lorahub.
        const t5::T5Model merged(tiny_model().config(), merge(tiny_model(), tiny_pool(), w[p], m));
        EXPECT_LT(rel_diff(one, batch_loss(merged, nullptr) / 6), 1e-5) << method_name(m) << " candidate " << p;
      }
    }
  }
}

TEST_F(Composition, LossNormalisations) {
  const at::Tensor w = at::zeros({5}, at::kDouble);
  learn::ObjectiveOptions opts;
  opts.batch_size = 2;  // three batches of 2: sum of batch means / 6
  const learn::FewShotObjective lorahub(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), opts);
  double expected = 0;
  const auto inputs = field("input_ids"), labels = field("label_ids");
  for (int start = 0; start < 6; start += 2) {
    std::vector<t5::TokenIds> in(inputs.begin() + start, inputs.begin() + start + 2);
    std::vector<t5::TokenIds> out(labels.begin() + start, labels.begin() + start + 2);
    const auto b = t5::make_batch(in, out, 0);
    expected += tiny_model().loss(b.input_ids, b.attention_mask, b.labels).item<double>();
  }
  EXPECT_LT(rel_diff(lorahub.losses(w)[0], expected / 6), 1e-5);
  EXPECT_LT(rel_diff(lorahub.base_loss(), expected / 6), 1e-5);
  opts.normalization = learn::LossNormalization::kTokenMean;
  const learn::FewShotObjective mean(tiny_model(), tiny_pool(), field("input_ids"), field("label_ids"), opts);
  EXPECT_LT(rel_diff(mean.losses(w)[0], golden()["base"]["hf_batch_loss"].get<double>()), 1e-5);
}

}  // namespace
}  // namespace lorahub::lora
