// Gradient training: losses fall, exported adapters reproduce themselves,
// gradients agree with finite differences.

#include "learn/trainer.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "lora/ia3_adapter.h"
#include "lora/lora_pool.h"
#include "lora/peft_export.h"
#include "model/non_finite.h"
#include "t5/tiny_model.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lorahub::learn {
namespace {

using testing::golden;
using testing::golden_batch;
using testing::rel_diff;
using testing::tiny_model;

std::vector<t5::TokenIds> field(const char* name) {
  std::vector<t5::TokenIds> out;
  for (const auto& ex : golden()["examples"]) out.push_back(testing::ids(ex[name]));
  return out;
}

double loss_on_all(const t5::T5Model& model, const model::LowRankSet* set) {
  at::NoGradGuard no_grad;
  const auto b = golden_batch();
  return model.loss(b.input_ids, b.attention_mask, b.labels, set).item<double>();
}

TEST(Trainer, LoraLossFallsAndTheExportedAdapterReproducesIt) {
  TrainOptions o;
  o.rank = 4;
  o.alpha = 8;
  o.lr = 1e-2;
  o.steps = 60;
  o.batch_size = 6;
  const double before = loss_on_all(tiny_model(), nullptr);
  const TrainResult r = train(tiny_model(), field("input_ids"), field("label_ids"), o);
  const double after = loss_on_all(tiny_model(), &r.adaptation);
  EXPECT_LT(after, 0.5 * before) << "before " << before << " after " << after;
  EXPECT_EQ(r.step_losses.size(), 60u);
  EXPECT_LT(rel_diff(loss_on_all(tiny_model(), nullptr), before), 1e-12);  // base untouched

  const std::string dir = testing::temp_dir("trained-lora");
  lora::write_peft_adapter(dir, r.adapter, r.target_modules, "base", "SEQ_2_SEQ_LM");
  const auto pool = lora::LoraPool::load(tiny_model(), {dir});
  EXPECT_EQ(pool.rank(), 4);
  const auto set = lora::compose(pool, at::ones({1}, at::kDouble), lora::Method::kLoraHub);
  EXPECT_LT(rel_diff(loss_on_all(tiny_model(), &set), after), 1e-5);
}

// A model whose loss is NaN before any update: the message blames the model or
// data, not the learning rate; a loss that turns NaN after updates is a
// divergence. Both are model::NonFiniteError (a failed trial in `lorahub run`).
TEST(Trainer, NonFiniteLossBeforeAnyUpdateIsNotCalledADivergence) {
  TrainOptions o;
  o.rank = 4;
  o.steps = 2;
  for (const TrainMode mode : {TrainMode::kLora, TrainMode::kFull, TrainMode::kIa3}) {
    o.mode = mode;
    try {
      train(testing::tiny_model_with_nan(), field("input_ids"), field("label_ids"), o);
      ADD_FAILURE() << "trained a NaN model";
    } catch (const model::NonFiniteError& e) {
      EXPECT_EQ(std::string(e.what()),
                "train: the loss is nan before any update (step 1 of 2): the model's weights or "
                "config, its adapters or modules, or the data give non-finite numbers (nothing "
                "was written)");
    }
  }
  o.mode = TrainMode::kFull;
  o.lr = 1e30;
  o.steps = 5;
  try {
    train(tiny_model(), field("input_ids"), field("label_ids"), o);
    ADD_FAILURE() << "lr 1e30 did not diverge";
  } catch (const model::NonFiniteError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find("train: the loss is nan at step "), 0u) << msg;
    EXPECT_NE(msg.find("training diverged; lower the learning rate (nothing was written)"), std::string::npos)
        << msg;
    EXPECT_EQ(msg.find("step 1 of"), std::string::npos) << msg;
  }
}

TEST(Trainer, Ia3AndFullFineTuningLearnToo) {
  const double before = loss_on_all(tiny_model(), nullptr);
  TrainOptions o;
  o.mode = TrainMode::kIa3;
  o.lr = 5e-2;
  o.steps = 60;
  const TrainResult ia3 = train(tiny_model(), field("input_ids"), field("label_ids"), o);
  const double ia3_loss = loss_on_all(tiny_model(), &ia3.adaptation);
  EXPECT_LT(ia3_loss, 0.8 * before);
  // Exported in PEFT's IA3 layout and read back: the same loss; k and v
  // scale outputs ([out, 1]), wo (feed-forward) its input ([1, in]).
  const std::string dir = testing::temp_dir("trained-ia3");
  lora::write_peft_ia3_adapter(dir, tiny_model(), ia3.adaptation, "base");
  EXPECT_EQ(lora::peft_type(dir), "IA3");
  const auto config = io::read_json_file(dir + "/adapter_config.json");
  EXPECT_EQ(config["target_modules"], nlohmann::json({"k", "v", "wo"}));
  EXPECT_EQ(config["feedforward_modules"], nlohmann::json({"wo"}));
  const auto file = io::read_safetensors(dir + "/adapter_model.safetensors");
  EXPECT_EQ(file.tensors.at("base_model.model.encoder.block.0.layer.0.SelfAttention.k.ia3_l").sizes(),
            at::IntArrayRef({tiny_model().config().inner_dim(), 1}));
  EXPECT_EQ(file.tensors.at("base_model.model.decoder.block.1.layer.2.DenseReluDense.wo.ia3_l").sizes(),
            at::IntArrayRef({1, tiny_model().config().d_ff}));
  const auto loaded = lora::load_peft_ia3_adapter(dir, tiny_model());
  EXPECT_LT(rel_diff(loss_on_all(tiny_model(), &loaded), ia3_loss), 1e-6);
  o.mode = TrainMode::kFull;
  o.lr = 3e-3;
  o.steps = 40;
  const TrainResult full = train(tiny_model(), field("input_ids"), field("label_ids"), o);
  const t5::T5Model tuned(tiny_model().config(), full.weights);
  EXPECT_LT(loss_on_all(tuned, nullptr), 0.5 * before);
  EXPECT_LT(rel_diff(loss_on_all(tiny_model(), nullptr), before), 1e-12);
}

// A bfloat16 model trains float32 master parameters: IA3 vectors start at
// 1.0, where a bfloat16 step is 2^-7, so AdamW's steps of about lr = 1e-3
// would all round away on bfloat16 parameters (the vectors would stay
// exactly 1). Full fine-tuning of a bfloat16 model is refused.
TEST(Trainer, Bfloat16ModelsTrainFloat32MasterParameters) {
  const auto ck = t5::load_checkpoint(testing::tiny_dir() + "/base", at::kBFloat16, testing::test_device());
  const t5::T5Model bf16(ck.config, ck.weights);
  TrainOptions o;
  o.mode = TrainMode::kIa3;
  o.lr = 1e-3;
  o.steps = 3;
  const TrainResult ia3 = train(bf16, field("input_ids"), field("label_ids"), o);
  double moved = 0;
  for (const auto& s : ia3.adaptation.scales) {
    if (!s.defined()) continue;
    EXPECT_EQ(s.vector.scalar_type(), at::kFloat);
    moved = std::max(moved, (s.vector - 1).abs().max().item<double>());
  }
  EXPECT_GT(moved, 0.5 * o.lr);      // at least half of one AdamW step survived
  EXPECT_LT(moved, 1.5 * o.steps * o.lr);  // and no bfloat16 jump of 2^-7
  o.mode = TrainMode::kLora;
  const TrainResult lora = train(bf16, field("input_ids"), field("label_ids"), o);
  for (const auto& u : lora.adaptation.by_site) {
    if (u.defined()) EXPECT_EQ(u.b.scalar_type(), at::kFloat);
  }
  o.mode = TrainMode::kFull;
  try {
    train(bf16, field("input_ids"), field("label_ids"), o);
    ADD_FAILURE() << "full fine-tuning of a bfloat16 model was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("full fine-tuning of a BFloat16 model"), std::string::npos) << e.what();
  }
}

TEST(Trainer, SameSeedSameTraining) {
  TrainOptions o;
  o.rank = 2;
  o.steps = 5;
  o.batch_size = 2;
  o.seed = 9;
  const auto a = train(tiny_model(), field("input_ids"), field("label_ids"), o);
  const auto b = train(tiny_model(), field("input_ids"), field("label_ids"), o);
  EXPECT_EQ(a.step_losses, b.step_losses);
}

TEST(Trainer, InitSeedFixesTheLoraInitialisationAlone) {
  // Modules trained under one init_seed start from the same A (B = 0) and
  // differ through their batch order only; without it the seed decides both.
  TrainOptions o;
  o.rank = 2;
  o.targets = {"q", "v"};
  o.seed = 1;
  o.init_seed = 7;
  const auto shared1 = init_lora(tiny_model(), o, nullptr);
  o.seed = 2;
  const auto shared2 = init_lora(tiny_model(), o, nullptr);
  o.init_seed.reset();
  const auto own2 = init_lora(tiny_model(), o, nullptr);
  int sites = 0;
  for (size_t s = 0; s < shared1.by_site.size(); ++s) {
    if (!shared1.by_site[s].defined()) continue;
    ++sites;
    EXPECT_TRUE(at::equal(shared1.by_site[s].a, shared2.by_site[s].a));
    EXPECT_FALSE(at::equal(shared2.by_site[s].a, own2.by_site[s].a));
    EXPECT_EQ(shared1.by_site[s].b.abs().max().item<float>(), 0.0f);
  }
  EXPECT_EQ(sites, 12);  // q and v of 2 encoder self-, 2 decoder self- and 2 cross-attentions
}

TEST(Trainer, LoraGradientsMatchFiniteDifferences) {
  // The fixture model in float64, a LoRA with non-zero B, and central differences.
  const auto ck = t5::load_checkpoint(testing::tiny_dir() + "/base", at::kDouble);
  const t5::T5Model model(ck.config, ck.weights);
  TrainOptions o;
  o.rank = 2;
  o.targets = {"q", "v", "wo"};
  model::LowRankSet set = init_lora(model, o, nullptr);
  at::manual_seed(4);
  std::vector<at::Tensor> params;
  for (auto& u : set.by_site) {
    if (!u.defined()) continue;
    u.b = 0.1 * at::randn_like(u.b);
    u.a.requires_grad_(true);
    u.b.requires_grad_(true);
    params.push_back(u.a);
    params.push_back(u.b);
  }
  const auto b = golden_batch(3);
  auto loss = [&] { return model.loss(b.input_ids, b.attention_mask, b.labels, &set); };
  const at::Tensor l = loss();
  l.backward();
  const double eps = 1e-6;
  int checked = 0;
  for (size_t p = 0; p < params.size(); p += 5) {
    at::Tensor flat = params[p].detach().view({-1});
    const at::Tensor grad = params[p].grad().view({-1});
    for (int64_t idx : {int64_t{0}, flat.size(0) / 2, flat.size(0) - 1}) {
      at::NoGradGuard no_grad;
      const double orig = flat[idx].item<double>();
      flat[idx] = orig + eps;
      const double up = loss().item<double>();
      flat[idx] = orig - eps;
      const double down = loss().item<double>();
      flat[idx] = orig;
      const double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(grad[idx].item<double>(), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "param " << p << " index " << idx;
      ++checked;
    }
  }
  EXPECT_GE(checked, 12);
}

}  // namespace
}  // namespace lorahub::learn
