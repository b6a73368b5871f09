#include "model/loader.h"

#include "llama/checkpoint.h"
#include "model/generation_config.h"
#include "llama/llama_model.h"
#include "t5/checkpoint.h"
#include "t5/t5_model.h"
#include "text/llama_tokenizer.h"
#include "text/tokenizer.h"

#include <stdexcept>
#include <string>

namespace lorahub::model {
namespace {

// A token id past the embedding table fails ("index out of range") at the
// first text that uses it: refused at load instead, naming the source.
void check_vocab(const std::string& dir, const Tokenizer& tok, int64_t model_vocab, const std::string& source) {
  if (tok.vocab_size() <= model_vocab) return;
  throw std::invalid_argument(dir + "/" + source + " need a vocabulary of " + std::to_string(tok.vocab_size()) +
                              " ids, but config.json's vocab_size is " + std::to_string(model_vocab));
}

constexpr const char* kLlamaVocabSource = "tokenizer.model: its pieces and added tokens";
std::string t5_vocab_source(const text::T5Tokenizer& tok) {
  return "tokenizer_config.json: field 'extra_ids': " + std::to_string(tok.extra_ids()) + " sentinels after the " +
         std::to_string(tok.vocab_size() - tok.extra_ids()) + " pieces of spiece.model";
}

}  // namespace

std::shared_ptr<const Tokenizer> load_tokenizer(const std::string& dir) {
  if (model_family(dir) == Family::kLlama) {
    return std::make_shared<text::LlamaTokenizer>(text::LlamaTokenizer::from_dir(dir));
  }
  return std::make_shared<text::T5Tokenizer>(text::T5Tokenizer::from_dir(dir));
}

LoadedModel load_model(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  LoadedModel out;
  if (model_family(dir) == Family::kLlama) {  // llama and mistral
    const llama::Checkpoint ck = llama::load_checkpoint(dir, dtype, device);
    out.model = std::make_shared<llama::LlamaModel>(ck.config, ck.weights,
                                                    read_generation_config(dir, ck.config.generation_defaults()));
    out.tokenizer = std::make_shared<text::LlamaTokenizer>(text::LlamaTokenizer::from_dir(dir));
    check_vocab(dir, *out.tokenizer, ck.config.vocab_size, kLlamaVocabSource);
    return out;
  }
  // Weights first: their errors are the ones a bad directory reports.
  const t5::Checkpoint ck = t5::load_checkpoint(dir, dtype, device);
  out.model = std::make_shared<t5::T5Model>(ck.config, ck.weights,
                                            read_generation_config(dir, ck.config.generation_defaults()));
  const auto tok = std::make_shared<text::T5Tokenizer>(text::T5Tokenizer::from_dir(dir));
  check_vocab(dir, *tok, ck.config.vocab_size, t5_vocab_source(*tok));
  out.tokenizer = tok;
  return out;
}

void check_model_files(const std::string& dir) {
  if (model_family(dir) == Family::kLlama) {
    const auto config = llama::LlamaConfig::from_file(dir + "/config.json");
    read_generation_config(dir, config.generation_defaults());
    check_vocab(dir, text::LlamaTokenizer::from_dir(dir), config.vocab_size, kLlamaVocabSource);
    return;
  }
  const auto config = t5::T5Config::from_file(dir + "/config.json");
  read_generation_config(dir, config.generation_defaults());
  const auto tok = text::T5Tokenizer::from_dir(dir);
  check_vocab(dir, tok, config.vocab_size, t5_vocab_source(tok));
}

}  // namespace lorahub::model
