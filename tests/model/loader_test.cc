// model::load_model on the tiny-t5 fixture: the family-neutral interface
// (tokenizer, pairs, token losses, loss, generation) against golden.json,
// and the refusals of model types this build does not run.
#include "model/loader.h"

#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace lorahub::model {
namespace {

using testing::golden;
using testing::ids;
using testing::rel_diff;

const LoadedModel& tiny() {
  static const LoadedModel m = load_model(testing::tiny_dir() + "/base");
  return m;
}

std::vector<TokenIds> encoded(bool input) {
  std::vector<TokenIds> out;
  for (const auto& ex : golden()["examples"]) {
    out.push_back(input ? tiny().tokenizer->encode_input(ex["input"]) : tiny().tokenizer->encode_target(ex["target"]));
  }
  return out;
}

TEST(LoadModel, T5TokenizerBehindTheInterface) {
  EXPECT_EQ(tiny().model->family(), Family::kT5);
  EXPECT_EQ(model_family(testing::tiny_dir() + "/base"), Family::kT5);
  const auto& ex = golden()["examples"];
  for (size_t i = 0; i < ex.size(); ++i) {
    EXPECT_EQ(encoded(true)[i], ids(ex[i]["input_ids"])) << i;
    EXPECT_EQ(encoded(false)[i], ids(ex[i]["label_ids"])) << i;
  }
  EXPECT_EQ(tiny().tokenizer->pad_id(), golden()["tokenizer"]["pad_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().tokenizer->eos_id(), golden()["tokenizer"]["eos_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().tokenizer->vocab_size(), golden()["tokenizer"]["vocab_size"].get<int64_t>());
}

TEST(LoadModel, PairsAndLossesMatchGolden) {
  at::NoGradGuard no_grad;
  const PairBatch b = tiny().model->make_pairs(encoded(true), encoded(false));
  EXPECT_TRUE(at::equal(b.input_ids, testing::long_tensor(golden()["batch"]["input_ids"])));
  EXPECT_TRUE(at::equal(b.labels, testing::long_tensor(golden()["batch"]["labels"])));
  const double hf = golden()["base"]["hf_batch_loss"].get<double>();
  EXPECT_LT(rel_diff(tiny().model->loss(b).item<double>(), hf), 1e-5);
  // Token losses: zero on padding, their mean over counted tokens is HF's loss.
  const at::Tensor ce = tiny().model->token_losses(b);
  EXPECT_EQ(ce.sizes(), b.labels.sizes());
  EXPECT_EQ(ce.masked_select(b.labels == -100).abs().sum().item<double>(), 0.0);
  EXPECT_LT(rel_diff(ce.sum().item<double>() / (b.labels != -100).sum().item<double>(), hf), 1e-5);
  // Repeated rows (batched candidates) give the same losses, block after block.
  const at::Tensor twice = tiny().model->token_losses(b.repeat(2));
  EXPECT_TRUE(at::allclose(twice.narrow(0, 0, b.rows()), ce, 0, 1e-6));
  EXPECT_TRUE(at::allclose(twice.narrow(0, b.rows(), b.rows()), ce, 0, 1e-6));
  // The same architecture on the same weights.
  EXPECT_EQ(tiny().model->with_weights(tiny().model->shared_weights())->loss(b).item<double>(),
            tiny().model->loss(b).item<double>());
}

TEST(LoadModel, GenerationReturnsNewTokensOnly) {
  at::NoGradGuard no_grad;
  GenerationOptions o;
  o.max_new_tokens = 12;
  const auto inputs = encoded(true);
  const Generation g = tiny().model->generate(inputs, o);
  const auto& batched = golden()["base"]["greedy"]["batched"]["ids"];
  ASSERT_EQ(g.new_tokens.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    TokenIds expected = ids(batched[i]);
    expected.erase(expected.begin());  // the decoder start token
    EXPECT_EQ(g.new_tokens[i], expected) << i;
  }
  // A stop condition ends a row after the token that triggers it.
  o.stop = [](const TokenIds& t) { return t.size() >= 3; };
  const Generation stopped = tiny().model->generate({inputs[0]}, o);
  const TokenIds first = ids(batched[0]);
  EXPECT_EQ(stopped.new_tokens[0], TokenIds(first.begin() + 1, first.begin() + 4));
}

std::string model_dir_with(const std::string& tag, const std::string& config_json) {
  const std::string dir = testing::temp_dir(tag);
  testing::write_file(dir + "/config.json", config_json);
  return dir;
}

std::string error_of(const std::string& dir) {
  try {
    load_model(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(LoadModel, DispatchesOrRefusesModelTypesByName) {
  // llama and mistral go to the Llama engine (tests/llama/loader_test.cc): a
  // config alone then lacks its weights.
  const std::string llama = model_dir_with("llama", R"({"model_type": "llama"})");
  EXPECT_EQ(error_of(llama), llama + ": no weights (model.safetensors, pytorch_model.bin or a sharded *.index.json)");
  const std::string mistral = model_dir_with("mistral", R"({"model_type": "mistral"})");
  EXPECT_EQ(error_of(mistral), mistral + ": no weights (model.safetensors, pytorch_model.bin or a sharded *.index.json)");
  const std::string bert = model_dir_with("bert", R"({"model_type": "bert"})");
  EXPECT_EQ(error_of(bert), bert + "/config.json: field 'model_type': expected one of t5, llama, mistral, found 'bert'");
  EXPECT_EQ(error_of("/nonexistent/model"), "/nonexistent/model: model directory does not exist");
  EXPECT_EQ(model_family(model_dir_with("mistral", R"({"model_type": "mistral"})")), Family::kLlama);
}

// The Llama family through the same interface (tiny-llama golden.json:
// prompt_ids / target_ids and the causal batch loss of its 6 examples).
TEST(LoadModel, LlamaBehindTheSameInterface) {
  at::NoGradGuard no_grad;
  const std::string dir = testing::shared_dir() + "/fixtures/tiny-llama";
  const nlohmann::json g = nlohmann::json::parse(testing::read_file(dir + "/golden.json"));
  const LoadedModel m = load_model(dir + "/base");
  EXPECT_EQ(m.model->family(), Family::kLlama);
  EXPECT_EQ(m.model->peft_task_type(), "CAUSAL_LM");
  std::vector<TokenIds> inputs, targets;
  for (const auto& ex : g["examples"]) {
    inputs.push_back(m.tokenizer->encode_input(ex["input"]));
    targets.push_back(m.tokenizer->encode_target(ex["target"]));
    EXPECT_EQ(inputs.back(), ids(ex["prompt_ids"]));
    EXPECT_EQ(targets.back(), ids(ex["target_ids"]));
  }
  const PairBatch b = m.model->make_pairs(inputs, targets);
  EXPECT_LT(rel_diff(m.model->loss(b).item<double>(), g["base"]["batch_loss"].get<double>()), 1e-5);
  const at::Tensor ce = m.model->token_losses(b);
  EXPECT_LT(rel_diff(ce.sum().item<double>() / (b.labels != -100).sum().item<double>(), g["base"]["batch_loss"].get<double>()),
            1e-5);
}

}  // namespace
}  // namespace lorahub::model
