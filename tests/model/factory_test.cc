// model::new_model and model::train_tokenizer (model/factory.h): fresh
// models of each family with the shape asked for and Hugging Face's
// initialisation, written with LanguageModel::save and read back by the
// other code path, load_model.
#include "model/factory.h"

#include "io/json_file.h"
#include "model/loader.h"
#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <stdexcept>

namespace lorahub::model {
namespace {

using R = ProjectionRole;
const std::vector<ProjectionRole> kAllRoles = {R::kAttentionQuery,  R::kAttentionKey,  R::kAttentionValue,
                                               R::kAttentionOutput, R::kFeedForwardIn, R::kFeedForwardUp,
                                               R::kFeedForwardOut};

int64_t parameter_count(const LanguageModel& m) {
  int64_t n = 0;
  for (const auto& [name, t] : m.weights().tensors()) n += t.numel();
  return n;
}

TEST(Factory, FreshLlamaHasTheShapeAndHfInitialisation) {
  const ModelShape s{300, 64, 2, 4, 2, 96, 128};
  const auto m = new_model(Family::kLlama, s, 5);
  EXPECT_EQ(m->family(), Family::kLlama);
  EXPECT_EQ(m->peft_task_type(), "CAUSAL_LM");
  EXPECT_EQ(m->projections().size(), 2 * 7);
  EXPECT_EQ(m->projections().leaves({R::kAttentionQuery, R::kAttentionValue}),
            (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(m->projections().leaves(kAllRoles),
            (std::vector<std::string>{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                      "down_proj"}));
  // Embeddings and the untied lm_head; per layer q, o [d, d], k, v [kv * head, d],
  // gate, up, down [f, d], two norms; the final norm.
  const int64_t d = 64, f = 96, kv = 2 * (64 / 4);
  EXPECT_EQ(parameter_count(*m), 2 * 300 * d + 2 * (2 * d * d + 2 * kv * d + 3 * d * f + 2 * d) + d);
  EXPECT_EQ(m->weights().tensors().at("model.layers.1.self_attn.k_proj.weight").sizes(),
            (std::vector<int64_t>{kv, d}));
  // RMSNorm weights are one; every matrix ~ N(0, 0.02^2): the sample standard
  // deviation of n draws is within 6 standard errors (0.02 / sqrt(2n)) of 0.02.
  std::vector<at::Tensor> matrices;
  for (const auto& [name, t] : m->weights().tensors()) {
    if (t.dim() == 1) {
      EXPECT_TRUE(at::equal(t, at::ones_like(t))) << name;
    } else {
      matrices.push_back(t.flatten());
    }
  }
  const at::Tensor all = at::cat(matrices).to(at::kDouble);
  const double n = static_cast<double>(all.numel());
  EXPECT_LT(std::abs(all.std().item<double>() - 0.02), 6 * 0.02 / std::sqrt(2 * n));
  EXPECT_LT(std::abs(all.mean().item<double>()), 6 * 0.02 / std::sqrt(n));
  // Deterministic for a seed.
  const auto again = new_model(Family::kLlama, s, 5), other = new_model(Family::kLlama, s, 6);
  const std::string q = "model.layers.0.self_attn.q_proj.weight";
  EXPECT_TRUE(at::equal(m->weights().tensors().at(q), again->weights().tensors().at(q)));
  EXPECT_FALSE(at::equal(m->weights().tensors().at(q), other->weights().tensors().at(q)));
}

TEST(Factory, FreshT5IsAnUntiedGatedV11) {
  const auto m = new_model(Family::kT5, {100, 64, 2, 4, 0, 96, 512}, 1);
  EXPECT_EQ(m->family(), Family::kT5);
  // Encoder: self-attention q, k, v, o and wi_0, wi_1, wo; decoder adds cross-attention.
  EXPECT_EQ(m->projections().size(), 2 * 7 + 2 * 11);
  EXPECT_EQ(m->projections().leaves(kAllRoles),
            (std::vector<std::string>{"q", "k", "v", "o", "wi_0", "wi_1", "wo"}));
  EXPECT_EQ(m->weights().tensors().count("lm_head.weight"), 1u);
  EXPECT_EQ(m->weights().tensors().at("encoder.block.0.layer.0.SelfAttention.q.weight").sizes(),
            (std::vector<int64_t>{64, 64}));  // heads x d_kv (64 / 4), d_model
  EXPECT_EQ(m->weights().tensors().at("decoder.block.1.layer.2.DenseReluDense.wi_1.weight").sizes(),
            (std::vector<int64_t>{96, 64}));
}

std::string error_of(Family family, const ModelShape& s) {
  try {
    new_model(family, s, 0);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Factory, ShapesThatDoNotFitAreRefusedByField) {
  EXPECT_EQ(error_of(Family::kLlama, {100, 65, 1, 4, 0, 8, 64}),
            "llama model: width 65 is not a multiple of heads 4");
  EXPECT_EQ(error_of(Family::kLlama, {100, 64, 1, 4, 3, 8, 64}),
            "llama model: heads 4 is not a multiple of kv_heads 3");
  EXPECT_EQ(error_of(Family::kLlama, {0, 64, 1, 4, 0, 8, 64}),
            "llama model: vocab_size must be positive, found 0");
  EXPECT_NE(error_of(Family::kT5, {100, 64, 1, 4, 2, 8, 64}).find("t5 model: kv_heads"), std::string::npos);
}

// Each family: a vocabulary, a fresh model saved as the family's checkpoint;
// load_model reads the same tokenizer, tensors and losses back.
TEST(Factory, SavedModelsLoadBackThroughTheLoader) {
  for (Family family : {Family::kT5, Family::kLlama}) {
    const std::string dir = testing::temp_dir(std::string("factory-") + family_name(family));
    TokenizerTraining t;
    t.corpus = dir + "/corpus.txt";
    t.vocab_size = family == Family::kLlama ? 300 : 100;
    {
      std::ofstream c(t.corpus);
      for (int i = 0; i < 40; ++i) c << "Give the first word.\nQ: List: red fox " << i << "\nA: red\n";
    }
    const auto tokenizer = train_tokenizer(family, t, dir);
    const auto fresh = new_model(family, {tokenizer->vocab_size(), 32, 1, 2, 0, 48, 64}, 2);
    io::TensorMap tensors;
    for (const auto& [name, w] : fresh->weights().tensors()) tensors[name] = w;
    fresh->save(dir, tensors);
    EXPECT_EQ(io::read_json_file(dir + "/config.json").value("model_type", "t5"), family_name(family));
    const LoadedModel loaded = load_model(dir);
    EXPECT_EQ(loaded.model->family(), family);
    EXPECT_EQ(loaded.tokenizer->encode_input("Q: List: red fox\nA:"),
              tokenizer->encode_input("Q: List: red fox\nA:"));
    EXPECT_EQ(loaded.tokenizer->eos_id(), tokenizer->eos_id());
    ASSERT_EQ(loaded.model->weights().tensors().size(), tensors.size());
    for (const auto& [name, w] : tensors)
      EXPECT_TRUE(at::equal(loaded.model->weights().tensors().at(name), w)) << name;
    at::NoGradGuard no_grad;
    const auto pairs =
        fresh->make_pairs({tokenizer->encode_input("Give the first word.\nQ: List: red fox\nA:")},
                          {tokenizer->encode_target("red")});
    EXPECT_TRUE(at::equal(fresh->token_losses(pairs), loaded.model->token_losses(pairs)))
        << family_name(family);
  }
}

}  // namespace
}  // namespace lorahub::model
