// T5 v1.0 flavour (relu FFN, tied embeddings with the d_model^-0.5 lm-head
// scaling, sentinel extra_ids): a tiny random model written to disk, loaded
// through the normal path, and checked against an independent transcription
// of the formulas (one example at a time, one head at a time, scalar buckets).

#include "t5/checkpoint.h"
#include "t5/batch.h"
#include "t5/layers.h"
#include "t5/t5_model.h"
#include "model/weight_store.h"
#include "text/tokenizer.h"

#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace lorahub::t5 {
namespace {

// --- the reference -------------------------------------------------------

// Mesh-TensorFlow's bucket function in double precision (valid away from
// bucket boundaries, which the positions below avoid).
int64_t ref_bucket(int64_t rel, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  int64_t ret = 0;
  int64_t n = -rel;
  if (bidirectional) {
    num_buckets /= 2;
    if (n < 0) ret += num_buckets;
    n = std::abs(n);
  } else {
    n = std::max<int64_t>(n, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return ret + n;
  const int64_t large = max_exact + static_cast<int64_t>(std::log(double(n) / max_exact) /
                                                         std::log(double(max_distance) / max_exact) *
                                                         (num_buckets - max_exact));
  return ret + std::min(large, num_buckets - 1);
}

struct Reference {
  const io::TensorMap& w;
  const T5Config& c;

  at::Tensor W(const std::string& name) const { return w.at(name); }
  at::Tensor rms(const at::Tensor& x, const std::string& name) const {
    return x / at::sqrt(x.pow(2).mean(-1, true) + c.layer_norm_epsilon) * W(name);
  }
  at::Tensor bias(const std::string& stack, int64_t nq, int64_t nk, bool bidirectional) const {
    const at::Tensor table = W(stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    at::Tensor b = at::zeros({c.num_heads, nq, nk});
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < nk; ++j)
        b.select(1, i).select(1, j).copy_(table[ref_bucket(j - i, bidirectional, c.relative_attention_num_buckets,
                                                           c.relative_attention_max_distance)]);
    return b;
  }
  // keep[j] false hides key j; causal hides keys after the query.
  at::Tensor attention(const at::Tensor& x, const at::Tensor& kv, const std::string& m, const at::Tensor& bias,
                       bool causal) const {
    std::vector<at::Tensor> heads;
    for (int64_t h = 0; h < c.num_heads; ++h) {
      auto rows = [&](const char* p) { return W(m + "." + p + ".weight").narrow(0, h * c.d_kv, c.d_kv); };
      const at::Tensor q = at::matmul(x, rows("q").t()), k = at::matmul(kv, rows("k").t()),
                       v = at::matmul(kv, rows("v").t());
      at::Tensor s = at::matmul(q, k.t());  // no 1/sqrt(d) in T5
      if (bias.defined()) s = s + bias[h];
      if (causal) s = s.masked_fill(at::ones_like(s).triu(1).to(at::kBool), -INFINITY);
      heads.push_back(at::matmul(at::softmax(s, -1), v));
    }
    return at::matmul(at::cat(heads, -1), W(m + ".o.weight").t());
  }
  at::Tensor ffn(const at::Tensor& x, const std::string& m) const {
    return at::matmul(at::relu(at::matmul(x, W(m + ".wi.weight").t())), W(m + ".wo.weight").t());
  }
  at::Tensor encode(const at::Tensor& ids) const {
    at::Tensor h = W("shared.weight").index_select(0, ids);
    const at::Tensor b = bias("encoder", ids.size(0), ids.size(0), true);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string p = "encoder.block." + std::to_string(i);
      const at::Tensor n = rms(h, p + ".layer.0.layer_norm.weight");
      h = h + attention(n, n, p + ".layer.0.SelfAttention", b, false);
      h = h + ffn(rms(h, p + ".layer.1.layer_norm.weight"), p + ".layer.1.DenseReluDense");
    }
    return rms(h, "encoder.final_layer_norm.weight");
  }
  at::Tensor logits(const at::Tensor& enc, const at::Tensor& dec_ids) const {
    at::Tensor h = W("shared.weight").index_select(0, dec_ids);
    const at::Tensor b = bias("decoder", dec_ids.size(0), dec_ids.size(0), false);
    for (int64_t i = 0; i < c.num_decoder_layers; ++i) {
      const std::string p = "decoder.block." + std::to_string(i);
      const at::Tensor n = rms(h, p + ".layer.0.layer_norm.weight");
      h = h + attention(n, n, p + ".layer.0.SelfAttention", b, true);
      h = h + attention(rms(h, p + ".layer.1.layer_norm.weight"), enc, p + ".layer.1.EncDecAttention", {}, false);
      h = h + ffn(rms(h, p + ".layer.2.layer_norm.weight"), p + ".layer.2.DenseReluDense");
    }
    h = rms(h, "decoder.final_layer_norm.weight") / std::sqrt(double(c.d_model));  // tied: rescale
    return at::matmul(h, W("shared.weight").t());
  }
  std::vector<int64_t> greedy(const at::Tensor& ids, int64_t steps) const {
    const at::Tensor enc = encode(ids);
    std::vector<int64_t> out{0};
    for (int64_t s = 0; s < steps && out.back() != 1; ++s) {
      const at::Tensor lg = logits(enc, at::tensor(out, at::kLong));
      out.push_back(lg[-1].argmax().item<int64_t>());
    }
    return out;
  }
};

// --- the random v1.0 model ------------------------------------------------

struct V10Model {
  T5Config config;
  io::TensorMap tensors;
  std::string dir;
};

const V10Model& v10() {
  static const V10Model m = [] {
    V10Model m;
    T5Config& c = m.config;
    c.vocab_size = 403;  // 400 pieces + 3 sentinels
    c.d_model = 32;
    c.d_kv = 8;
    c.num_heads = 4;
    c.d_ff = 48;
    c.num_layers = 2;
    c.num_decoder_layers = 3;  // differs from the encoder on purpose
    c.feed_forward_proj = "relu";
    c.tie_word_embeddings = true;
    c.resolve_activation("test");
    at::manual_seed(7);
    auto lin = [&](int64_t out, int64_t in) { return at::randn({out, in}) / std::sqrt(double(in)); };
    auto norm = [&] { return 1.0 + 0.25 * at::randn({c.d_model}); };
    m.tensors["shared.weight"] = at::randn({c.vocab_size, c.d_model});
    for (std::string stack : {"encoder", "decoder"}) {
      const int64_t n = stack == "encoder" ? c.num_layers : c.num_decoder_layers;
      for (int64_t i = 0; i < n; ++i) {
        const std::string p = stack + ".block." + std::to_string(i) + ".layer.";
        std::vector<std::string> attn{p + "0.SelfAttention"};
        if (stack == "decoder") attn.push_back(p + "1.EncDecAttention");
        for (const auto& a : attn) {
          for (const char* x : {"q", "k", "v"}) m.tensors[a + "." + x + ".weight"] = lin(32, 32);
          m.tensors[a + ".o.weight"] = lin(32, 32);
        }
        const std::string f = stack == "encoder" ? "1" : "2";
        m.tensors[p + f + ".DenseReluDense.wi.weight"] = lin(c.d_ff, c.d_model);
        m.tensors[p + f + ".DenseReluDense.wo.weight"] = lin(c.d_model, c.d_ff);
        for (int64_t l = 0; l <= std::stoi(f); ++l) m.tensors[p + std::to_string(l) + ".layer_norm.weight"] = norm();
      }
      m.tensors[stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"] =
          at::randn({c.relative_attention_num_buckets, c.num_heads});
      m.tensors[stack + ".final_layer_norm.weight"] = norm();
    }
    m.dir = testing::temp_dir("v10");
    save_checkpoint(m.dir, c, m.tensors);
    std::filesystem::copy_file(testing::tiny_dir() + "/base/spiece.model", m.dir + "/spiece.model");
    std::ofstream(m.dir + "/tokenizer_config.json") << R"({"extra_ids": 3})";
    return m;
  }();
  return m;
}

TEST(T5V10, RelativePositionBucketsMatchTheScalarFormula) {
  for (bool bidirectional : {true, false}) {
    for (int64_t rel : {-200, -100, -40, -20, -9, -7, -1, 0, 1, 5, 9, 20, 40, 100, 200}) {
      const auto got = relative_position_bucket(at::tensor({rel}, at::kLong), bidirectional, 32, 128);
      EXPECT_EQ(got.item<int64_t>(), ref_bucket(rel, bidirectional, 32, 128)) << rel << " " << bidirectional;
    }
  }
}

TEST(T5V10, RelativePositionBiasIsTheTableEntryOfEachPairsBucket) {
  // For inference the bias is built from the distinct key - query offsets
  // (a window per query row), for training from a bucket per pair; the
  // oracle looks up every (query, key) pair on its own.
  T5Config c;
  c.num_heads = 3;
  const at::Tensor table = at::randn({c.relative_attention_num_buckets, c.num_heads});
  const WeightStore w({{"t", table}}, {}, "test", at::kFloat, at::kCPU);
  const WeightStore trained({{"t", table.clone().requires_grad_()}}, {}, "test", at::kFloat, at::kCPU);
  for (bool bidirectional : {true, false}) {
    for (const WeightStore* store : {&w, &trained}) {  // inference path, training path
      const RelativePositionBias position(*store, "t", c, bidirectional);
      for (auto [q_len, k_len, offset] : std::vector<std::array<int64_t, 3>>{{1, 1, 0}, {7, 5, 0}, {140, 140, 0}, {1, 9, 8}, {3, 300, 150}}) {
        const at::Tensor got = position.forward(q_len, k_len, offset).detach();
        ASSERT_EQ(got.sizes(), (at::IntArrayRef{1, c.num_heads, q_len, k_len}));
        const auto a = got.accessor<float, 4>();
        const auto t = table.accessor<float, 2>();
        int64_t wrong = 0;
        for (int64_t h = 0; h < c.num_heads; ++h) {
          for (int64_t i = 0; i < q_len; ++i) {
            for (int64_t j = 0; j < k_len; ++j) wrong += a[0][h][i][j] != t[ref_bucket(j - i - offset, bidirectional, 32, 128)][h];
          }
        }
        EXPECT_EQ(wrong, 0) << q_len << "x" << k_len << " from " << offset << ", bidirectional " << bidirectional;
      }
    }
  }
}

TEST(T5V10, LoadedModelMatchesIndependentReference) {
  at::NoGradGuard no_grad;
  const auto ck = load_checkpoint(v10().dir);
  EXPECT_TRUE(ck.config.tie_word_embeddings);
  EXPECT_FALSE(ck.config.is_gated);
  EXPECT_EQ(ck.config.num_decoder_layers, 3);
  const T5Model model(ck.config, ck.weights);
  const Reference ref{v10().tensors, v10().config};
  const auto tok = text::T5Tokenizer::from_dir(v10().dir);
  ASSERT_EQ(tok.vocab_size(), 403);

  // Two inputs of different length (one padded), one with a sentinel.
  const std::vector<std::string> texts = {"The answer is <extra_id_0> .", "not ( True ) is\nA:"};
  std::vector<TokenIds> ids;
  for (const auto& t : texts) ids.push_back(tok.encode(t));
  EXPECT_NE(std::find(ids[0].begin(), ids[0].end(), 402), ids[0].end());
  ASSERT_LT(std::max(ids[0].size(), ids[1].size()), 16u);  // away from bucket boundaries
  const auto batch = make_batch(ids, {{5, 6, 7, 1}, {9, 1}}, 0);
  const auto dec_in = shift_right(batch.labels, 0, 0);
  const auto logits = model.logits(batch.input_ids, batch.attention_mask, dec_in);
  const auto enc = model.encode(batch.input_ids, batch.attention_mask);
  for (size_t r = 0; r < ids.size(); ++r) {
    const at::Tensor x = at::tensor(ids[r], at::kLong);
    const at::Tensor ref_enc = ref.encode(x);
    EXPECT_LT((enc[r].narrow(0, 0, x.size(0)) - ref_enc).abs().max().item<double>(), 1e-4) << r;
    const int64_t t = r == 0 ? 4 : 2;
    const at::Tensor ref_logits = ref.logits(ref_enc, dec_in[r].narrow(0, 0, t));
    EXPECT_LT((logits[r].narrow(0, 0, t) - ref_logits).abs().max().item<double>(), 1e-4) << r;
    // Greedy decoding with the cache equals the cache-free reference.
    const auto out = model.greedy(x.unsqueeze(0), at::ones_like(x).unsqueeze(0), {10, false});
    EXPECT_EQ(rows_to_ids(out.ids, false)[0], ref.greedy(x, 10)) << r;
  }
}

}  // namespace
}  // namespace lorahub::t5
