// Parity of the T5 engine with Hugging Face transformers (golden.json).

#include "t5/t5_model.h"

#include "t5/runtime.h"
#include "t5/tiny_model.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace lorahub::t5 {
namespace {

using testing::golden;
using testing::golden_batch;
using testing::ids;
using testing::rel_diff;
using testing::tiny_model;

// The model runs on testing::test_device() ($LORAHUB_TEST_DEVICE: the GPU
// check kit runs these tests on cuda); golden tensors are on the CPU.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.cpu().to(at::kFloat) - b.cpu().to(at::kFloat)).abs().max().item<double>();
}

bool equal_ids(const at::Tensor& a, const at::Tensor& b) { return at::equal(a.cpu(), b.cpu()); }

at::Tensor row(const std::vector<int64_t>& v) { return testing::on_test_device(at::tensor(v, at::kLong).unsqueeze(0)); }

class T5Parity : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
};

TEST_F(T5Parity, EncoderLastHiddenStateMatches) {
  const auto x = row(ids(golden()["examples"][0]["input_ids"]));
  const auto h = tiny_model().encode(x, at::ones_like(x))[0];
  const auto expected = testing::float_tensor(golden()["base"]["encoder_last_hidden_state_input0"]);
  EXPECT_LT(max_abs_diff(h, expected), 1e-4);
}

TEST_F(T5Parity, TeacherForcedLogitsAndLossMatch) {
  const auto& g = golden()["base"];
  const auto x = row(ids(golden()["examples"][0]["input_ids"]));
  const auto labels = row(ids(golden()["examples"][0]["label_ids"]));
  EXPECT_TRUE(equal_ids(shift_right(labels, 0, 0), row(ids(g["decoder_input_ids_input0"]))));
  const auto logits = tiny_model().logits(x, at::ones_like(x), row(ids(g["decoder_input_ids_input0"])));
  EXPECT_LT(max_abs_diff(logits[0], testing::float_tensor(g["logits_input0"])), 1e-4);
  const double loss = tiny_model().loss(x, at::ones_like(x), labels).item<double>();
  EXPECT_LT(rel_diff(loss, g["loss_input0"].get<double>()), 1e-5);
}

TEST_F(T5Parity, PaddedBatchLossesMatch) {
  const auto& g = golden()["base"];
  const auto batch = golden_batch();
  EXPECT_TRUE(equal_ids(batch.input_ids, testing::long_tensor(golden()["batch"]["input_ids"])));
  EXPECT_TRUE(equal_ids(batch.attention_mask, testing::long_tensor(golden()["batch"]["attention_mask"])));
  EXPECT_TRUE(equal_ids(batch.labels, testing::long_tensor(golden()["batch"]["labels"])));
  const double loss = tiny_model().loss(batch.input_ids, batch.attention_mask, batch.labels).item<double>();
  EXPECT_LT(rel_diff(loss, g["hf_batch_loss"].get<double>()), 1e-5);
  // lorahub's default_get_loss: one batch, divided by the number of examples.
  EXPECT_LT(rel_diff(loss / 6.0, g["lorahub_get_loss"].get<double>()), 1e-5);
}

TEST_F(T5Parity, PackedEncoderEqualsThePaddedPathOnRealTokens) {
  // The golden batch's rows, repeated three times as candidates repeat the
  // examples: the encoder on packed rows (padding taken out) against the
  // padded, masked path on every real position, and on the loss.
  if (!testing::test_device().is_cpu()) GTEST_SKIP() << "the packed encoder is a CPU path";
  const auto batch = golden_batch();
  const at::Tensor x = batch.input_ids.repeat({3, 1}), mask = batch.attention_mask.repeat({3, 1});
  const at::Tensor labels = batch.labels.repeat({3, 1});
  const at::Tensor real = mask.to(at::kBool).unsqueeze(-1);
  at::Tensor padded, packed;
  double padded_loss = 0, packed_loss = 0;
  {
    const PackedEncoderScope off(false);
    padded = tiny_model().encode(x, mask);
    padded_loss = tiny_model().loss(x, mask, labels).item<double>();
  }
  {
    const PackedEncoderScope on(true);
    packed = tiny_model().encode(x, mask);
    packed_loss = tiny_model().loss(x, mask, labels).item<double>();
  }
  EXPECT_LT(max_abs_diff(packed.masked_fill(~real, 0), padded.masked_fill(~real, 0)), 1e-5);
  EXPECT_LT(rel_diff(packed_loss, padded_loss), 1e-6);
  // The packed path leaves 0 at padded positions, the padded one does not:
  // the packed path did run.
  EXPECT_EQ(packed.masked_fill(real, 0).abs().max().item<double>(), 0.0);
  EXPECT_GT(padded.masked_fill(real, 0).abs().max().item<double>(), 1e-3);
}

TEST_F(T5Parity, GreedySingleOutputsAndStepLogitsMatch) {
  const auto& g = golden()["base"]["greedy"];
  const auto& examples = golden()["examples"];
  for (size_t k = 0; k < examples.size(); ++k) {
    const auto x = row(ids(examples[k]["input_ids"]));
    const auto out = tiny_model().greedy(x, at::ones_like(x), {12, k == 0});
    EXPECT_TRUE(equal_ids(out.ids, row(ids(g["single"][k]["ids"])))) << "example " << k << ": " << out.ids;
    if (k == 0) {
      EXPECT_LT(max_abs_diff(out.step_logits.select(1, 0), testing::float_tensor(g["step_logits_input0"])), 1e-4);
    }
  }
}

TEST_F(T5Parity, GreedyFlagsNonFiniteLogits) {
  const auto batch = golden_batch();
  GreedyOptions four;
  four.max_new_tokens = 4;
  EXPECT_TRUE(tiny_model().greedy(batch.input_ids, batch.attention_mask, four).all_finite.item<bool>());
  EXPECT_FALSE(testing::tiny_model_with_nan()
                   .greedy(batch.input_ids, batch.attention_mask, four)
                   .all_finite.item<bool>());
  // Through the model interface, which learn::generate reads.
  std::vector<model::TokenIds> prompts;
  for (const auto& ex : golden()["examples"]) prompts.push_back(testing::ids(ex["input_ids"]));
  model::GenerationOptions g;
  g.max_new_tokens = 4;
  EXPECT_FALSE(testing::tiny_model_with_nan().generate(prompts, g).all_finite.item<bool>());
  EXPECT_TRUE(tiny_model().generate(prompts, g).all_finite.item<bool>());
}

TEST_F(T5Parity, GreedyBatchedWithPaddingMatches) {
  const auto batch = golden_batch();
  const auto out = tiny_model().greedy(batch.input_ids, batch.attention_mask, {12, false});
  EXPECT_TRUE(equal_ids(out.ids, testing::long_tensor(golden()["base"]["greedy"]["batched"]["ids"]))) << out.ids;
}

TEST_F(T5Parity, CachedStepLogitsEqualTeacherForcedLogitsOfTheOutput) {
  // Second code path: decoding step by step with the KV cache must give the
  // logits of one teacher-forced pass over the produced sequence.
  const auto batch = golden_batch();
  const auto out = tiny_model().greedy(batch.input_ids, batch.attention_mask, {12, true});
  const auto dec_in = out.ids.narrow(1, 0, out.ids.size(1) - 1);
  const auto tf = tiny_model().logits(batch.input_ids, batch.attention_mask, dec_in);
  EXPECT_LT(max_abs_diff(out.step_logits.transpose(0, 1), tf), 2e-5);
}

TEST_F(T5Parity, StopsAtEosForEveryRow) {
  // With a large budget every row ends with </s> followed only by padding.
  const auto batch = golden_batch();
  const auto out = tiny_model().greedy(batch.input_ids, batch.attention_mask, {64, false});
  for (const auto& r : rows_to_ids(out.ids.cpu(), true)) {
    const auto eos = std::find(r.begin(), r.end(), 1);
    if (eos == r.end()) {
      EXPECT_EQ(static_cast<int64_t>(r.size()), 64);
      continue;
    }
    for (auto it = eos + 1; it != r.end(); ++it) EXPECT_EQ(*it, 0);
  }
}

TEST_F(T5Parity, Bfloat16RunsCloseToFloat32) {
  const auto ck = load_checkpoint(testing::tiny_dir() + "/base", at::kBFloat16, testing::test_device());
  const T5Model bf16(ck.config, ck.weights);
  EXPECT_EQ(bf16.weights().dtype(), at::kBFloat16);
  const auto batch = golden_batch();
  const double loss = bf16.loss(batch.input_ids, batch.attention_mask, batch.labels).item<double>();
  EXPECT_LT(rel_diff(loss, golden()["base"]["hf_batch_loss"].get<double>()), 0.03);
}

}  // namespace
}  // namespace lorahub::t5
