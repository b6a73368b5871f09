#include "model/factory.h"

#include "llama/init.h"
#include "llama/llama_model.h"
#include "t5/init.h"
#include "t5/t5_model.h"
#include "text/llama_tokenizer.h"
#include "text/tokenizer.h"

#include <map>
#include <stdexcept>

namespace lorahub::model {
namespace {

void check_shape(Family family, const ModelShape& s) {
  const std::string what = std::string(family_name(family)) + " model: ";
  if (s.vocab_size < 1)
    throw std::invalid_argument(what + "vocab_size must be positive, found " + std::to_string(s.vocab_size));
  if (s.width < 1 || s.layers < 1 || s.heads < 1 || s.ffn < 1 || s.kv_heads < 0) {
    throw std::invalid_argument(what + "width, layers, heads and ffn must be positive");
  }
  if (s.width % s.heads != 0) {
    throw std::invalid_argument(what + "width " + std::to_string(s.width) + " is not a multiple of heads " +
                                std::to_string(s.heads));
  }
  const int64_t kv = s.kv_heads ? s.kv_heads : s.heads;
  if (s.heads % kv != 0) {
    throw std::invalid_argument(what + "heads " + std::to_string(s.heads) +
                                " is not a multiple of kv_heads " + std::to_string(kv));
  }
  if (family == Family::kT5 && kv != s.heads)
    throw std::invalid_argument(what + "kv_heads: T5 has no grouped-query attention; expected 0");
}

std::shared_ptr<const WeightStore> store(io::TensorMap tensors) {
  return std::make_shared<WeightStore>(std::move(tensors), std::map<std::string, std::string>{},
                                       "random init", c10::kFloat, c10::kCPU);
}

}  // namespace

std::shared_ptr<const LanguageModel> new_model(Family family, const ModelShape& s, uint64_t seed) {
  check_shape(family, s);
  if (family == Family::kLlama) {
    llama::LlamaConfig c;
    c.vocab_size = s.vocab_size;
    c.hidden_size = s.width;
    c.intermediate_size = s.ffn;
    c.num_hidden_layers = s.layers;
    c.num_attention_heads = s.heads;
    c.num_key_value_heads = s.kv_heads ? s.kv_heads : s.heads;
    c.max_position_embeddings = s.max_positions;
    c.tie_word_embeddings = false;
    return std::make_shared<llama::LlamaModel>(c, store(llama::random_llama_weights(c, seed)));
  }
  t5::T5Config c;
  c.vocab_size = s.vocab_size;
  c.d_model = s.width;
  c.d_kv = s.width / s.heads;
  c.num_heads = s.heads;
  c.d_ff = s.ffn;
  c.num_layers = s.layers;
  c.num_decoder_layers = s.layers;
  c.feed_forward_proj = "gated-gelu";
  c.tie_word_embeddings = false;
  c.resolve_activation("t5 model");
  return std::make_shared<t5::T5Model>(c, store(t5::random_t5_weights(c, seed)));
}

std::shared_ptr<const Tokenizer> train_tokenizer(Family family, const TokenizerTraining& t,
                                                 const std::string& dir) {
  if (family == Family::kLlama)
    return std::make_shared<text::LlamaTokenizer>(text::LlamaTokenizer::train(t, dir));
  return std::make_shared<text::T5Tokenizer>(text::T5Tokenizer::train(t, dir));
}

}  // namespace lorahub::model
