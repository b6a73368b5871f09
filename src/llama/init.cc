#include "llama/init.h"

#include "llama/llama_names.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace lorahub::llama {

io::TensorMap random_llama_weights(const LlamaConfig& c, uint64_t seed, double std) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  io::TensorMap w;
  auto normal = [&](int64_t rows, int64_t cols) { return at::randn({rows, cols}, gen, at::kFloat) * std; };
  const int64_t h = c.hidden_size, kv = c.num_key_value_heads * c.head_dim();
  w[names::kEmbedTokens] = normal(c.vocab_size, h);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    w[names::input_layernorm(i)] = at::ones({h});
    w[names::post_attention_layernorm(i)] = at::ones({h});
    const std::pair<const char*, int64_t> attention[] = {
        {names::kQProj, h}, {names::kKProj, kv}, {names::kVProj, kv}, {names::kOProj, h}};
    for (const auto& [leaf, out] : attention) {
      w[names::attn_proj(i, leaf) + ".weight"] = normal(out, h);
      if (c.attention_bias) w[names::attn_proj(i, leaf) + ".bias"] = at::zeros({out});
    }
    w[names::mlp_proj(i, names::kGateProj) + ".weight"] = normal(c.intermediate_size, h);
    w[names::mlp_proj(i, names::kUpProj) + ".weight"] = normal(c.intermediate_size, h);
    w[names::mlp_proj(i, names::kDownProj) + ".weight"] = normal(h, c.intermediate_size);
  }
  w[names::kFinalNorm] = at::ones({h});
  if (!c.tie_word_embeddings) w[names::kLmHead] = normal(c.vocab_size, h);
  return w;
}

}  // namespace lorahub::llama
