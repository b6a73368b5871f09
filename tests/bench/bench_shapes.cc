#include "bench/bench_shapes.h"

#include "llama/init.h"
#include "support/fixtures.h"
#include "t5/init.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace lorahub::bench {

std::vector<t5::TokenIds> golden_field(const char* name, int n) {
  std::vector<t5::TokenIds> out;
  for (int i = 0; i < n; ++i) out.push_back(testing::ids(testing::golden()["examples"][i][name]));
  return out;
}

std::vector<t5::TokenIds> random_ids(const std::vector<t5::TokenIds>& like, int64_t vocab, uint64_t seed, bool eos) {
  at::manual_seed(static_cast<int64_t>(seed));
  std::vector<t5::TokenIds> out;
  for (const auto& l : like) {
    const at::Tensor r = at::randint(2, vocab, {static_cast<int64_t>(l.size())}, at::kLong);
    t5::TokenIds ids(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
    if (eos) ids.back() = 1;
    out.push_back(ids);
  }
  return out;
}

t5::T5Config large_config() {
  t5::T5Config c;
  c.vocab_size = 32128;
  c.d_model = 1024;
  c.d_kv = 64;
  c.d_ff = 2816;
  c.num_layers = 24;
  c.num_decoder_layers = 24;
  c.num_heads = 16;
  c.feed_forward_proj = "gated-gelu";
  c.tie_word_embeddings = false;
  c.resolve_activation("flan-t5-large shape");
  return c;
}

std::unique_ptr<t5::T5Model> make_large_model(c10::ScalarType dtype, c10::Device device) {
  const auto config = large_config();
  auto store = std::make_shared<model::WeightStore>(t5::random_t5_weights(config, 0), std::map<std::string, std::string>{},
                                                   "random flan-t5-large shape", dtype, device);
  return std::make_unique<t5::T5Model>(config, store);
}

std::vector<lora::LoraAdapter> random_adapters(const model::LanguageModel& model, int n, uint64_t seed) {
  std::vector<lora::LoraAdapter> out;
  at::manual_seed(static_cast<int64_t>(seed));
  const std::vector<std::string> targets = model.default_lora_targets();
  for (int i = 0; i < n; ++i) {
    lora::LoraAdapter a;
    a.id = a.path = "random" + std::to_string(i);
    a.r = 16;
    a.lora_alpha = 32;
    a.target_modules = targets;
    for (const auto& proj : model.projections().all()) {
      const std::string& site = proj.module;
      if (std::find(targets.begin(), targets.end(), proj.leaf()) == targets.end()) continue;
      const at::Tensor w = model.weights().tensors().at(site + ".weight");
      const double bound = 1.0 / std::sqrt(static_cast<double>(w.size(1)));
      a.modules[site] = {at::rand({16, w.size(1)}) * (2 * bound) - bound, at::randn({w.size(0), 16}) * 0.01};
    }
    out.push_back(std::move(a));
  }
  return out;
}

double forward_flops(const Shape& sh) {
  const t5::T5Config& c = sh.model->config();
  const double d = static_cast<double>(c.d_model), inner = static_cast<double>(c.inner_dim());
  const double ff = 2.0 * d * static_cast<double>(c.d_ff) * (c.is_gated ? 3 : 2);
  double flops = 0;
  for (size_t e = 0; e < sh.inputs.size(); ++e) {
    const auto s = static_cast<double>(sh.inputs[e].size()), t = static_cast<double>(sh.targets[e].size());
    flops += static_cast<double>(c.num_layers) * s * (8 * d * inner + ff + 4.0 * s * inner);
    flops += static_cast<double>(c.num_decoder_layers) * (t * (12 * d * inner + ff + 4.0 * (t + s) * inner) + s * 4 * d * inner);
    flops += 2.0 * t * d * static_cast<double>(c.vocab_size);
  }
  return flops;
}

llama::LlamaConfig tinyllama_config() {
  llama::LlamaConfig c;
  c.vocab_size = 32000;
  c.hidden_size = 2048;
  c.intermediate_size = 5632;
  c.num_hidden_layers = 22;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 4;
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  return c;
}

std::unique_ptr<llama::LlamaModel> make_tinyllama_model(c10::ScalarType dtype, c10::Device device) {
  const auto config = tinyllama_config();
  auto store = std::make_shared<model::WeightStore>(llama::random_llama_weights(config, 0),
                                                   std::map<std::string, std::string>{}, "random TinyLlama-1.1B shape",
                                                   dtype, device);
  return std::make_unique<llama::LlamaModel>(config, store);
}

double forward_flops(const LlamaShape& sh) {
  const llama::LlamaConfig& c = sh.model->config();
  const double h = static_cast<double>(c.hidden_size), kv = static_cast<double>(c.num_key_value_heads * c.head_dim());
  const double per_token = 2.0 * h * (2 * h + 2 * kv) + 2.0 * 3 * h * static_cast<double>(c.intermediate_size);
  double flops = 0;
  for (size_t e = 0; e < sh.inputs.size(); ++e) {
    const auto s = static_cast<double>(sh.inputs[e].size() + sh.targets[e].size());
    const auto t = static_cast<double>(sh.targets[e].size());
    // scores and values: query p attends to p + 1 keys, 4 h flops each
    flops += static_cast<double>(c.num_hidden_layers) * (s * per_token + 4.0 * h * s * (s + 1) / 2);
    flops += 2.0 * t * h * static_cast<double>(c.vocab_size);
  }
  return flops;
}

}  // namespace lorahub::bench
