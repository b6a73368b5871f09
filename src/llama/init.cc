#include "llama/init.h"

#include "llama/llama_names.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace lorahub::llama {

io::TensorMap random_llama_weights(const LlamaConfig& c, uint64_t seed, double initializer_range) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  io::TensorMap w;
  auto normal = [&](std::vector<int64_t> shape) {
    return at::randn(shape, gen, at::kFloat) * initializer_range;
  };
  const int64_t h = c.hidden_size, kv = c.num_key_value_heads * c.head_dim(),
                q = c.num_attention_heads * c.head_dim();
  w[names::kEmbedTokens] = normal({c.vocab_size, h});
  if (c.pad_token_id) w[names::kEmbedTokens][*c.pad_token_id].zero_();
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    w[names::input_layernorm(i)] = at::ones({h});
    w[names::post_attention_layernorm(i)] = at::ones({h});
    const struct {
      const char* leaf;
      int64_t out, in;
    } attention[] = {
        {names::kQProj, q, h}, {names::kKProj, kv, h}, {names::kVProj, kv, h}, {names::kOProj, h, q}};
    for (const auto& p : attention) {
      w[names::attn_proj(i, p.leaf) + ".weight"] = normal({p.out, p.in});
      if (c.attention_bias) w[names::attn_proj(i, p.leaf) + ".bias"] = at::zeros({p.out});
    }
    w[names::mlp_proj(i, names::kGateProj) + ".weight"] = normal({c.intermediate_size, h});
    w[names::mlp_proj(i, names::kUpProj) + ".weight"] = normal({c.intermediate_size, h});
    w[names::mlp_proj(i, names::kDownProj) + ".weight"] = normal({h, c.intermediate_size});
  }
  w[names::kFinalNorm] = at::ones({h});
  if (!c.tie_word_embeddings) w[names::kLmHead] = normal({c.vocab_size, h});
  return w;
}

}  // namespace lorahub::llama
