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
    check_vocab(dir, *out.tokenizer, ck.config.vocab_size, "tokenizer.model: its pieces and added tokens");
    return out;
  }
  // Weights first: their errors are the ones a bad directory reports.
  const t5::Checkpoint ck = t5::load_checkpoint(dir, dtype, device);
  out.model = std::make_shared<t5::T5Model>(ck.config, ck.weights,
                                            read_generation_config(dir, ck.config.generation_defaults()));
  const auto tok = std::make_shared<text::T5Tokenizer>(text::T5Tokenizer::from_dir(dir));
  check_vocab(dir, *tok, ck.config.vocab_size,
              "tokenizer_config.json: field 'extra_ids': " + std::to_string(tok->extra_ids()) + " sentinels after the " +
                  std::to_string(tok->vocab_size() - tok->extra_ids()) + " pieces of spiece.model");
  out.tokenizer = tok;
  return out;
}

}  // namespace lorahub::model
