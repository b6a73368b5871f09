// model::load_model dispatches llama (and mistral) directories to the Llama
// engine and tokenizer; the loaded pair reproduces golden.json.

#include "model/loader.h"

#include "io/safetensors.h"
#include "llama/tiny_llama.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace lorahub::model {
namespace {

TEST(LlamaLoader, TinyLlamaLoadsAsTheLlamaFamilyAndMatchesGolden) {
  at::NoGradGuard no_grad;
  const std::string base = testing::llama_dir() + "/base";
  EXPECT_EQ(model_family(base), Family::kLlama);
  const LoadedModel m = load_model(base);
  EXPECT_EQ(m.model->family(), Family::kLlama);
  EXPECT_EQ(m.model->default_stop_strings(), (std::vector<std::string>{"\n\n", "Q:"}));
  std::vector<TokenIds> inputs, targets;
  for (const auto& ex : testing::llama_golden()["examples"]) {
    inputs.push_back(m.tokenizer->encode_input(ex["input"]));
    targets.push_back(m.tokenizer->encode_target(ex["target"]));
    EXPECT_EQ(inputs.back(), testing::ids(ex["prompt_ids"]));
    EXPECT_EQ(targets.back(), testing::ids(ex["target_ids"]));
  }
  const double loss = m.model->loss(m.model->make_pairs(inputs, targets)).item<double>();
  EXPECT_LT(testing::rel_diff(loss, testing::llama_golden()["base"]["batch_loss"].get<double>()), 1e-5);
  EXPECT_EQ(load_tokenizer(base)->decode(testing::ids(testing::llama_golden()["base"]["greedy"]["single"][0]["new_ids"])),
            testing::llama_golden()["base"]["greedy"]["single"][0]["text"].get<std::string>());
}

TEST(LlamaLoader, MistralConfigLoadsTheLlamaCodeWithItsWindow) {
  const std::string dir = testing::temp_dir("mistral-dir");
  for (const char* f : {"model.safetensors", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    std::filesystem::copy_file(testing::llama_dir() + "/base/" + f, dir + "/" + f);
  }
  nlohmann::json cfg = nlohmann::json::parse(testing::read_file(testing::llama_dir() + "/base/config.json"));
  cfg["model_type"] = "mistral";
  cfg.erase("rope_scaling");
  cfg.erase("attention_bias");
  cfg["sliding_window"] = 4;
  testing::write_file(dir + "/config.json", cfg.dump());
  const LoadedModel m = load_model(dir);
  const auto* llama = dynamic_cast<const llama::LlamaModel*>(m.model.get());
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->config().sliding_window.value_or(0), 4);
}

// Issue 16 (break16c F2): tie_word_embeddings true over a file holding its own, different
// lm_head.weight is refused naming the field and the tensor; an equal head is fine.
TEST(LlamaLoader, TiedConfigOverADifferentStoredHeadIsRefused) {
  const io::TensorMap fixture = testing::llama_checkpoint().weights->tensors();
  nlohmann::json cfg = nlohmann::json::parse(testing::read_file(testing::llama_dir() + "/base/config.json"));
  cfg["tie_word_embeddings"] = true;
  auto dir_with = [&](const std::string& tag, const io::TensorMap& tensors) {
    const std::string dir = testing::temp_dir(tag);
    testing::write_file(dir + "/config.json", cfg.dump());
    io::write_safetensors(dir + "/model.safetensors", tensors);
    return dir;
  };
  std::string dir = dir_with("llama-tied-own-head", fixture);
  try {
    llama::load_checkpoint(dir);
    ADD_FAILURE() << "loaded";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              dir + "/config.json: field 'tie_word_embeddings' is true, but " + dir + "/model.safetensors holds its "
              "own 'lm_head.weight', which differs from 'model.embed_tokens.weight' (transformers would load one "
              "into the other, silently); set it to false (the head is its own tensor) or remove the stored head");
  }
  io::TensorMap same = fixture;
  same["lm_head.weight"] = fixture.at("model.embed_tokens.weight").clone();
  dir = dir_with("llama-tied-equal-head", same);
  EXPECT_FALSE(llama::load_checkpoint(dir).weights->contains("lm_head.weight"));
}

TEST(LlamaLoader, SavedCheckpointLoadsBack) {
  at::NoGradGuard no_grad;
  const LoadedModel m = load_model(testing::llama_dir() + "/base");
  const std::string dir = testing::temp_dir("llama-saved");
  m.model->save(dir, m.model->weights().tensors());
  const llama::Checkpoint back = llama::load_checkpoint(dir);
  EXPECT_EQ(back.config.to_json(), testing::llama_checkpoint().config.to_json());
  for (const auto& [name, t] : m.model->weights().tensors()) EXPECT_TRUE(at::equal(back.weights->tensors().at(name), t)) << name;
}

}  // namespace
}  // namespace lorahub::model
