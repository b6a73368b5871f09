// The Llama engine against an independent plain-loop float64 implementation
// of the same equations (transformers 4.36 modeling_llama / modeling_mistral),
// on small random models built here: Mistral's sliding window, grouped-query
// attention, linear and dynamic-NTK rotary scaling, attention biases, and the
// key/value cache of greedy decoding against uncached recomputation.

#include "llama/llama_model.h"

#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

namespace lorahub::llama {
namespace {

using Vec = std::vector<double>;

LlamaConfig small_config() {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-6;
  return c;
}

io::TensorMap random_weights(const LlamaConfig& c, uint64_t seed) {
  at::manual_seed(seed);
  io::TensorMap w;
  const int64_t d = c.hidden_size, hd = c.head_dim(), kv = c.num_key_value_heads * hd, f = c.intermediate_size;
  auto rnd = [](std::vector<int64_t> shape, double s) { return at::randn(shape, at::kDouble) * s; };
  w["model.embed_tokens.weight"] = rnd({c.vocab_size, d}, 1.0);
  w["lm_head.weight"] = rnd({c.vocab_size, d}, 0.3);
  w["model.norm.weight"] = 1 + rnd({d}, 0.2);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i);
    w[l + ".input_layernorm.weight"] = 1 + rnd({d}, 0.2);
    w[l + ".post_attention_layernorm.weight"] = 1 + rnd({d}, 0.2);
    w[l + ".self_attn.q_proj.weight"] = rnd({d, d}, 0.6);
    w[l + ".self_attn.k_proj.weight"] = rnd({kv, d}, 0.6);
    w[l + ".self_attn.v_proj.weight"] = rnd({kv, d}, 0.4);
    w[l + ".self_attn.o_proj.weight"] = rnd({d, d}, 0.4);
    w[l + ".mlp.gate_proj.weight"] = rnd({f, d}, 0.4);
    w[l + ".mlp.up_proj.weight"] = rnd({f, d}, 0.4);
    w[l + ".mlp.down_proj.weight"] = rnd({d, f}, 0.3);
    if (c.attention_bias) {
      for (const char* p : {"q_proj", "o_proj"}) w[l + ".self_attn." + p + ".bias"] = rnd({d}, 0.2);
      for (const char* p : {"k_proj", "v_proj"}) w[l + ".self_attn." + p + ".bias"] = rnd({kv}, 0.2);
    }
  }
  return w;
}

// ---- the reference: vectors and loops, float64 everywhere ----
struct Reference {
  LlamaConfig c;
  io::TensorMap w;
  Vec get(const std::string& name) const {
    const at::Tensor t = w.at(name).contiguous();
    return Vec(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  }
  bool has(const std::string& name) const { return w.count(name) > 0; }
  Vec linear(const std::string& module, const Vec& x) const {
    const Vec m = get(module + ".weight");
    const size_t in = x.size(), out = m.size() / in;
    Vec y(out, 0.0);
    if (has(module + ".bias")) y = get(module + ".bias");
    for (size_t o = 0; o < out; ++o)
      for (size_t i = 0; i < in; ++i) y[o] += m[o * in + i] * x[i];
    return y;
  }
  Vec rms(const std::string& name, const Vec& x) const {
    double ms = 0;
    for (double v : x) ms += v * v;
    ms /= static_cast<double>(x.size());
    const Vec g = get(name);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = g[i] * x[i] / std::sqrt(ms + c.rms_norm_eps);
    return y;
  }
  // Rotary angle of pair i at position p for a pass over `keys` keys.
  double angle(int64_t p, int64_t i, int64_t keys) const {
    const double dim = static_cast<double>(c.head_dim());
    double base = c.rope_theta, t = static_cast<double>(p);
    if (c.rope_scaling == RopeScaling::kLinear) t /= c.rope_scaling_factor;
    if (c.rope_scaling == RopeScaling::kDynamic && keys > c.max_position_embeddings) {
      base *= std::pow(c.rope_scaling_factor * keys / c.max_position_embeddings - (c.rope_scaling_factor - 1),
                       dim / (dim - 2));
    }
    return t / std::pow(base, 2.0 * static_cast<double>(i) / dim);
  }
  void rotate(Vec& x, size_t head, int64_t p, int64_t keys) const {
    const int64_t hd = c.head_dim(), half = hd / 2;
    for (int64_t i = 0; i < half; ++i) {
      const double a = angle(p, i, keys), x1 = x[head * hd + i], x2 = x[head * hd + i + half];
      x[head * hd + i] = x1 * std::cos(a) - x2 * std::sin(a);
      x[head * hd + i + half] = x2 * std::cos(a) + x1 * std::sin(a);
    }
  }
  Vec attention(int64_t layer, const std::vector<Vec>& xs, size_t t) const {
    const std::string m = "model.layers." + std::to_string(layer) + ".self_attn.";
    const int64_t hd = c.head_dim(), n = static_cast<int64_t>(xs.size());
    std::vector<Vec> ks, vs;
    for (int64_t j = 0; j < n; ++j) {
      Vec k = linear(m + "k_proj", xs[j]);
      for (int64_t h = 0; h < c.num_key_value_heads; ++h) rotate(k, h, j, n);
      ks.push_back(k);
      vs.push_back(linear(m + "v_proj", xs[j]));
    }
    Vec q = linear(m + "q_proj", xs[t]), out(static_cast<size_t>(c.num_attention_heads * hd), 0.0);
    for (int64_t h = 0; h < c.num_attention_heads; ++h) {
      rotate(q, h, static_cast<int64_t>(t), n);
      const int64_t g = h / c.kv_groups();
      std::vector<double> s;
      std::vector<int64_t> keys;
      for (int64_t j = 0; j <= static_cast<int64_t>(t); ++j) {
        if (c.sliding_window && j <= static_cast<int64_t>(t) - *c.sliding_window) continue;
        double dot = 0;
        for (int64_t e = 0; e < hd; ++e) dot += q[h * hd + e] * ks[j][g * hd + e];
        s.push_back(dot / std::sqrt(static_cast<double>(hd)));
        keys.push_back(j);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (double& v : s) z += (v = std::exp(v - mx));
      for (size_t r = 0; r < s.size(); ++r)
        for (int64_t e = 0; e < hd; ++e) out[h * hd + e] += s[r] / z * vs[keys[r]][g * hd + e];
    }
    return linear(m + "o_proj", out);
  }
  // Logits [n, vocab] of one unpadded sequence.
  std::vector<Vec> logits(const std::vector<int64_t>& ids) const {
    const Vec emb = get("model.embed_tokens.weight");
    const size_t d = static_cast<size_t>(c.hidden_size);
    std::vector<Vec> h;
    for (int64_t id : ids) h.emplace_back(emb.begin() + id * d, emb.begin() + (id + 1) * d);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l);
      std::vector<Vec> n1;
      for (const Vec& x : h) n1.push_back(rms(p + ".input_layernorm.weight", x));
      for (size_t t = 0; t < h.size(); ++t) {
        const Vec a = attention(l, n1, t);
        for (size_t i = 0; i < d; ++i) h[t][i] += a[i];
      }
      for (Vec& x : h) {
        const Vec n2 = rms(p + ".post_attention_layernorm.weight", x);
        Vec gate = linear(p + ".mlp.gate_proj", n2), up = linear(p + ".mlp.up_proj", n2);
        for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
        const Vec down = linear(p + ".mlp.down_proj", gate);
        for (size_t i = 0; i < d; ++i) x[i] += down[i];
      }
    }
    std::vector<Vec> out;
    for (const Vec& x : h) out.push_back(linear("lm_head", rms("model.norm.weight", x)));
    return out;
  }
};

at::Tensor to_tensor(const std::vector<Vec>& rows) {
  at::Tensor t = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, at::kDouble);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t i = 0; i < rows[r].size(); ++i) t[r][i] = rows[r][i];
  return t;
}

std::shared_ptr<const model::WeightStore> store(const io::TensorMap& w) {
  return std::make_shared<model::WeightStore>(w, std::map<std::string, std::string>{}, "random", at::kDouble, at::kCPU);
}

const std::vector<int64_t> kIds = {1, 7, 3, 22, 15, 9, 31, 4, 4, 18, 27, 2, 11};

double engine_vs_reference(const LlamaConfig& c, uint64_t seed) {
  at::NoGradGuard no_grad;
  const io::TensorMap w = random_weights(c, seed);
  const LlamaModel m(c, store(w));
  const at::Tensor x = at::tensor(kIds, at::kLong).unsqueeze(0);
  const at::Tensor ours = m.logits(x, at::ones_like(x))[0];
  const at::Tensor ref = to_tensor(Reference{c, w}.logits(kIds));
  return (ours - ref).abs().max().item<double>();
}

// The engine computes rotary tables in float32, as HF does, so angles carry
// float32 rounding (~1e-7 relative); everything else is float64 here.
constexpr double kTol = 1e-4;

TEST(LlamaReference, PlainGroupedQueryAttention) { EXPECT_LT(engine_vs_reference(small_config(), 1), kTol); }

TEST(LlamaReference, AttentionBiases) {
  LlamaConfig c = small_config();
  c.attention_bias = true;
  EXPECT_LT(engine_vs_reference(c, 2), kTol);
}

TEST(LlamaReference, LinearAndDynamicRopeScaling) {
  LlamaConfig c = small_config();
  c.rope_scaling = RopeScaling::kLinear;
  c.rope_scaling_factor = 2.5;
  EXPECT_LT(engine_vs_reference(c, 3), kTol);
  c.rope_scaling = RopeScaling::kDynamic;
  c.max_position_embeddings = 8;  // 13 tokens: the NTK base changes
  EXPECT_LT(engine_vs_reference(c, 3), kTol);
  // Shorter than max_position_embeddings: plain rotary.
  c.max_position_embeddings = 64;
  LlamaConfig plain = small_config();
  at::NoGradGuard no_grad;
  const io::TensorMap w = random_weights(c, 3);
  const at::Tensor x = at::tensor(kIds, at::kLong).unsqueeze(0);
  EXPECT_TRUE(at::equal(LlamaModel(c, store(w)).logits(x, at::ones_like(x)),
                        LlamaModel(plain, store(w)).logits(x, at::ones_like(x))));
}

TEST(MistralReference, SlidingWindowAppliesBeyondItsLength) {
  LlamaConfig c = small_config();
  c.model_type = "mistral";
  c.sliding_window = 4;
  EXPECT_LT(engine_vs_reference(c, 4), kTol);
  // The window changes the numbers (13 > 4 tokens), so the check above has teeth.
  at::NoGradGuard no_grad;
  const io::TensorMap w = random_weights(c, 4);
  LlamaConfig full = c;
  full.sliding_window.reset();
  const at::Tensor x = at::tensor(kIds, at::kLong).unsqueeze(0);
  const at::Tensor a = LlamaModel(c, store(w)).logits(x, at::ones_like(x));
  const at::Tensor b = LlamaModel(full, store(w)).logits(x, at::ones_like(x));
  EXPECT_LT((a - b).narrow(1, 0, 4).abs().max().item<double>(), 1e-12);  // within the window: identical
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
}

// Greedy decoding with the cache (left-padded, sliding window) equals
// recomputing every step's full prefix without a cache.
TEST(MistralReference, CachedGreedyEqualsUncachedRecomputation) {
  LlamaConfig c = small_config();
  c.model_type = "mistral";
  c.sliding_window = 3;
  at::NoGradGuard no_grad;
  const LlamaModel m(c, store(random_weights(c, 5)));
  const std::vector<TokenIds> prompts = {{1, 7, 3, 22, 15, 9}, {1, 30, 8}};
  auto [x, mask] = left_pad(prompts);
  GreedyOptions opts;
  opts.max_new_tokens = 8;
  opts.record_step_logits = true;
  const GreedyOutput out = m.greedy(x, mask, opts);
  for (size_t r = 0; r < prompts.size(); ++r) {
    TokenIds seq = prompts[r];
    for (int64_t s = 0; s < out.new_ids.size(1); ++s) {
      const at::Tensor xs = at::tensor(seq, at::kLong).unsqueeze(0);
      const at::Tensor lg = m.logits(xs, at::ones_like(xs))[0][static_cast<int64_t>(seq.size()) - 1];
      EXPECT_LT((lg - out.step_logits[s][static_cast<int64_t>(r)].to(at::kDouble)).abs().max().item<double>(), 1e-5);
      const int64_t next = out.new_ids[static_cast<int64_t>(r)][s].item<int64_t>();
      if (next == c.eos_token_ids.front()) break;
      EXPECT_EQ(lg.argmax().item<int64_t>(), next) << "row " << r << " step " << s;
      seq.push_back(next);
    }
  }
}

TEST(LlamaGreedy, StopPredicateEndsARowAndPadsIt) {
  LlamaConfig c = small_config();
  at::NoGradGuard no_grad;
  const LlamaModel m(c, store(random_weights(c, 6)));
  auto [x, mask] = left_pad({{1, 7, 3}, {1, 9}});
  GreedyOptions opts;
  opts.max_new_tokens = 6;
  const GreedyOutput free_run = m.greedy(x, mask, opts);
  opts.stop = [](const TokenIds& t) { return t.size() == 2; };
  const GreedyOutput stopped = m.greedy(x, mask, opts);
  ASSERT_EQ(stopped.new_ids.size(1), 2);  // every row ended after two tokens
  EXPECT_TRUE(at::equal(stopped.new_ids, free_run.new_ids.narrow(1, 0, 2)));
}

}  // namespace
}  // namespace lorahub::llama
