#include "t5/init.h"

#include "t5/t5_names.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace lorahub::t5 {

io::TensorMap random_t5_weights(const T5Config& c, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  io::TensorMap w;
  auto normal = [&](std::vector<int64_t> shape, double std) { return at::randn(shape, gen, at::kFloat) * std; };
  const double d = static_cast<double>(c.d_model), inner = static_cast<double>(c.inner_dim());
  w[names::kShared] = normal({c.vocab_size, c.d_model}, 1.0);
  if (!c.tie_word_embeddings) w[names::kLmHead] = normal({c.vocab_size, c.d_model}, std::pow(d, -0.5));
  for (names::Stack s : {names::Stack::kEncoder, names::Stack::kDecoder}) {
    const int64_t n = s == names::Stack::kEncoder ? c.num_layers : c.num_decoder_layers;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<std::string> attention{names::self_attention(s, i)};
      if (s == names::Stack::kDecoder) attention.push_back(names::cross_attention(i));
      for (const auto& a : attention) {
        w[a + ".q.weight"] = normal({c.inner_dim(), c.d_model}, std::pow(d * static_cast<double>(c.d_kv), -0.5));
        w[a + ".k.weight"] = normal({c.inner_dim(), c.d_model}, std::pow(d, -0.5));
        w[a + ".v.weight"] = normal({c.inner_dim(), c.d_model}, std::pow(d, -0.5));
        w[a + ".o.weight"] = normal({c.d_model, c.inner_dim()}, std::pow(inner, -0.5));
      }
      const std::string f = names::feed_forward(s, i);
      if (c.is_gated) {
        w[f + ".wi_0.weight"] = normal({c.d_ff, c.d_model}, std::pow(d, -0.5));
        w[f + ".wi_1.weight"] = normal({c.d_ff, c.d_model}, std::pow(d, -0.5));
      } else {
        w[f + ".wi.weight"] = normal({c.d_ff, c.d_model}, std::pow(d, -0.5));
      }
      w[f + ".wo.weight"] = normal({c.d_model, c.d_ff}, std::pow(static_cast<double>(c.d_ff), -0.5));
      for (int64_t l = 0; l <= names::ffn_layer(s); ++l) w[names::layer_norm(s, i, l)] = at::ones({c.d_model});
    }
    w[names::relative_attention_bias(s)] = normal({c.relative_attention_num_buckets, c.num_heads}, std::pow(d, -0.5));
    w[names::final_layer_norm(s)] = at::ones({c.d_model});
  }
  return w;
}

}  // namespace lorahub::t5
