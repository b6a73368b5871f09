#include "model/loader.h"

#include "llama/checkpoint.h"
#include "llama/llama_model.h"
#include "t5/checkpoint.h"
#include "t5/t5_model.h"
#include "text/llama_tokenizer.h"
#include "text/tokenizer.h"

namespace lorahub::model {

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
    out.model = std::make_shared<llama::LlamaModel>(ck.config, ck.weights);
    out.tokenizer = std::make_shared<text::LlamaTokenizer>(text::LlamaTokenizer::from_dir(dir));
    return out;
  }
  // Weights first: their errors are the ones a bad directory reports.
  const t5::Checkpoint ck = t5::load_checkpoint(dir, dtype, device);
  out.model = std::make_shared<t5::T5Model>(ck.config, ck.weights);
  out.tokenizer = std::make_shared<text::T5Tokenizer>(text::T5Tokenizer::from_dir(dir));
  return out;
}

}  // namespace lorahub::model
