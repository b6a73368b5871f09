// LoRA and IA3 on the Llama engine, against PEFT 0.7.1 (tiny-llama/golden.json,
// golden_ia3.json). The low-rank sets are built here from the adapter files
// (io::read_safetensors), so these tests check where and how the engine
// applies updates and scales: composition itself belongs to lora/.

#include "io/safetensors.h"
#include "llama/tiny_llama.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace lorahub::llama {
namespace {

using model::LowRankSet;
using model::LowRankUpdate;
using testing::ids;
using testing::llama_golden;
using testing::llama_model;
using testing::max_abs_diff;
using testing::rel_diff;

constexpr double kScaling = 2.0;  // lora_alpha 8 / r 4

struct AdapterTensors {
  std::map<std::string, at::Tensor> a, b;  // by module ("model.layers.0.self_attn.q_proj")
};

const AdapterTensors& adapter(int i) {
  static std::map<int, AdapterTensors> cache;
  auto it = cache.find(i);
  if (it != cache.end()) return it->second;
  AdapterTensors t;
  const std::string path = testing::llama_dir() + "/lora/lora" + std::to_string(i) + "/adapter_model.safetensors";
  for (const auto& [key, tensor] : io::read_safetensors(path).tensors) {
    const std::string prefix = "base_model.model.";
    const bool is_a = key.find(".lora_A.weight") != std::string::npos;
    const std::string module = key.substr(prefix.size(), key.size() - prefix.size() - std::string(".lora_A.weight").size());
    (is_a ? t.a : t.b)[module] = tensor;
  }
  return cache.emplace(i, std::move(t)).first->second;
}

LowRankSet empty_set() {
  LowRankSet s;
  s.by_site.resize(static_cast<size_t>(llama_model().sites().size()));
  return s;
}

void put(LowRankSet& s, const std::string& module, const at::Tensor& a, const at::Tensor& b, double scale) {
  const int site = llama_model().sites().find(module);
  ASSERT_GE(site, 0) << module;
  s.by_site[static_cast<size_t>(site)] = LowRankUpdate{a.unsqueeze(0), b.unsqueeze(0), scale};
}

LowRankSet single_adapter(int i) {
  LowRankSet s = empty_set();
  for (const auto& [module, a] : adapter(i).a) put(s, module, a, adapter(i).b.at(module), kScaling);
  return s;
}

// LoraHub: A = sum w_i A_i, B = sum w_i B_i (lorahub get_final_weights).
LowRankSet lorahub(const std::vector<double>& w) {
  LowRankSet s = empty_set();
  for (const auto& [module, a0] : adapter(0).a) {
    at::Tensor a = at::zeros_like(a0), b = at::zeros_like(adapter(0).b.at(module));
    for (size_t i = 0; i < w.size(); ++i) {
      a = a + w[i] * adapter(static_cast<int>(i)).a.at(module);
      b = b + w[i] * adapter(static_cast<int>(i)).b.at(module);
    }
    put(s, module, a, b, kScaling);
  }
  return s;
}

// CAT with one weight per (module, adapter): A = concat_rows(w_i s A_i), B = concat_cols(B_i).
LowRankSet cat(const std::function<double(const std::string& module, size_t i)>& w, size_t n) {
  LowRankSet s = empty_set();
  for (const auto& [module, a0] : adapter(0).a) {
    std::vector<at::Tensor> as, bs;
    for (size_t i = 0; i < n; ++i) {
      as.push_back(w(module, i) * kScaling * adapter(static_cast<int>(i)).a.at(module));
      bs.push_back(adapter(static_cast<int>(i)).b.at(module));
    }
    put(s, module, at::cat(as, 0), at::cat(bs, 1), 1.0);
  }
  return s;
}

model::PairBatch golden_batch() { return make_causal_pairs(testing::llama_prompts(), testing::llama_targets()); }

at::Tensor row(const TokenIds& v) { return at::tensor(v, at::kLong).unsqueeze(0); }

at::Tensor example0_target_logits(const LlamaModel& m, const LowRankSet* s) {
  const auto& ex = llama_golden()["examples"][0];
  const at::Tensor x = row(ids(ex["input_ids"]));
  const int64_t p = static_cast<int64_t>(ex["prompt_ids"].size()), t = static_cast<int64_t>(ex["target_ids"].size());
  return m.logits(x, at::ones_like(x), s)[0].narrow(0, p - 1, t);
}

void expect_losses(const LlamaModel& m, const LowRankSet* s, const nlohmann::json& g, const std::string& what) {
  const double loss = m.loss(golden_batch(), s).item<double>();
  EXPECT_LT(rel_diff(loss, g["batch_loss"].get<double>()), 1e-5) << what << ": " << loss;
  EXPECT_LT(rel_diff(loss / 6.0, g["lorahub_loss"].get<double>()), 1e-5) << what;
}

void expect_greedy(const LlamaModel& m, const LowRankSet* s, const nlohmann::json& g, const std::string& what) {
  GreedyOptions opts;
  opts.max_new_tokens = 12;
  for (size_t k = 0; k < g["single"].size(); ++k) {
    const at::Tensor x = row(testing::llama_prompts()[k]);
    const at::Tensor out = m.greedy(x, at::ones_like(x), opts, s).new_ids;
    EXPECT_TRUE(at::equal(out, testing::long_tensor(g["single"][k]["new_ids"]).unsqueeze(0))) << what << " " << k;
  }
  if (g.contains("batched")) {
    auto [x, mask] = left_pad(testing::llama_prompts());
    EXPECT_TRUE(at::equal(m.greedy(x, mask, opts, s).new_ids, testing::long_tensor(g["batched"]["new_ids"]))) << what;
  }
}

class LlamaAdapters : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
};

TEST_F(LlamaAdapters, EveryAdapterLosses) {
  for (int i = 0; i < 5; ++i) {
    const LowRankSet s = single_adapter(i);
    expect_losses(llama_model(), &s, llama_golden()["adapters"][static_cast<size_t>(i)], "lora" + std::to_string(i));
  }
}

TEST_F(LlamaAdapters, Lora0LogitsPerExampleAndGreedy) {
  const auto& g = llama_golden()["adapters"][0];
  const LowRankSet s = single_adapter(0);
  EXPECT_LT(max_abs_diff(example0_target_logits(llama_model(), &s), testing::float_tensor(g["logits_example0_target_positions"])), 1e-4);
  for (size_t k = 0; k < g["per_example"].size(); ++k) {
    const model::PairBatch one = make_causal_pairs({testing::llama_prompts()[k]}, {testing::llama_targets()[k]});
    const at::Tensor expected = testing::float_tensor(g["per_example"][k]["token_losses"]).to(at::kDouble);
    EXPECT_LT(((llama_model().token_losses(one, &s)[0].to(at::kDouble) - expected).abs() / expected.abs()).max().item<double>(), 1e-5);
  }
  expect_greedy(llama_model(), &s, g["greedy"], "lora0");
}

TEST_F(LlamaAdapters, LorahubCompositionUnmergedAndMerged) {
  const auto& g = llama_golden()["lorahub_composition"];
  const std::vector<double> w = g["weights"].get<std::vector<double>>();
  const LowRankSet s = lorahub(w);
  const int site = llama_model().sites().find("model.layers.0.self_attn.q_proj");
  EXPECT_LT(max_abs_diff(s.by_site[site].a[0], testing::float_tensor(g["composed_example"]["lora_A"])), 1e-6);
  EXPECT_LT(max_abs_diff(s.by_site[site].b[0], testing::float_tensor(g["composed_example"]["lora_B"])), 1e-6);
  expect_losses(llama_model(), &s, g, "lorahub");
  EXPECT_LT(max_abs_diff(example0_target_logits(llama_model(), &s), testing::float_tensor(g["logits_example0_target_positions"])), 1e-4);
  expect_greedy(llama_model(), &s, g["greedy"], "lorahub");
  GreedyOptions opts;
  opts.max_new_tokens = 12;
  opts.record_step_logits = true;
  const at::Tensor x = row(testing::llama_prompts()[0]);
  EXPECT_LT(max_abs_diff(llama_model().greedy(x, at::ones_like(x), opts, &s).step_logits.select(1, 0),
                         testing::float_tensor(g["greedy"]["step_logits_example0"])),
            1e-4);
  // Merged: W + scaling * B A folded into a copy of the weights.
  io::TensorMap replaced;
  for (int i = 0; i < llama_model().sites().size(); ++i) {
    const auto& p = llama_model().sites().at(i);
    const auto& u = s.by_site[static_cast<size_t>(i)];
    replaced[p.module + ".weight"] = llama_model().weights().tensors().at(p.module + ".weight") + kScaling * at::matmul(u.b[0], u.a[0]);
  }
  const LlamaModel merged(llama_model().config(), llama_model().weights().with_replaced(replaced, "lorahub merge"));
  expect_losses(merged, nullptr, g["merged"], "lorahub merged");
}

TEST_F(LlamaAdapters, CatCompositionMatchesPeftAddWeightedAdapter) {
  const auto& g = llama_golden()["peft_add_weighted_adapter"]["cat"];
  const std::vector<double> w = g["weights"].get<std::vector<double>>();
  const LowRankSet s = cat([&](const std::string&, size_t i) { return w[i]; }, w.size());
  const int site = llama_model().sites().find(llama_golden()["peft_add_weighted_adapter"]["probe_module"]);
  const auto& u = s.by_site[static_cast<size_t>(site)];
  EXPECT_LT(max_abs_diff(u.a[0], testing::float_tensor(g["lora_A"])), 1e-6);
  EXPECT_LT(max_abs_diff(u.b[0], testing::float_tensor(g["lora_B"])), 1e-6);
  EXPECT_LT(max_abs_diff(at::matmul(u.b[0], u.a[0]), testing::float_tensor(g["delta_w"])), 1e-6);
  expect_losses(llama_model(), &s, g, "cat");
}

TEST_F(LlamaAdapters, PerModuleCatLossesAndGreedy) {
  const auto& g = llama_golden()["cat_per_module"];
  const LowRankSet s = cat([&](const std::string& module, size_t i) { return g["weights"][module + ".weight"][i].get<double>(); }, 5);
  expect_losses(llama_model(), &s, g, "cat per module");
  expect_greedy(llama_model(), &s, g["greedy"], "cat per module");
}

TEST_F(LlamaAdapters, GroupedRowsComputeOneCompositionPerGroup) {
  // Two compositions in one pass: rows 0..5 under lora1, rows 6..11 under lora3.
  LowRankSet both = empty_set();
  for (int site = 0; site < llama_model().sites().size(); ++site) {
    const std::string& module = llama_model().sites().at(site).module;
    both.by_site[static_cast<size_t>(site)] =
        LowRankUpdate{at::stack({adapter(1).a.at(module), adapter(3).a.at(module)}),
                      at::stack({adapter(1).b.at(module), adapter(3).b.at(module)}), kScaling};
  }
  const std::vector<TokenIds> p0 = testing::llama_prompts(), t0 = testing::llama_targets();
  std::vector<TokenIds> p = p0, t = t0;
  p.insert(p.end(), p0.begin(), p0.end());
  t.insert(t.end(), t0.begin(), t0.end());
  const at::Tensor grouped = llama_model().token_losses(make_causal_pairs(p, t), &both);
  const LowRankSet one = single_adapter(1), three = single_adapter(3);
  EXPECT_LT(max_abs_diff(grouped.narrow(0, 0, 6), llama_model().token_losses(golden_batch(), &one)), 1e-5);
  EXPECT_LT(max_abs_diff(grouped.narrow(0, 6, 6), llama_model().token_losses(golden_batch(), &three)), 1e-5);
  const double loss3 = grouped.narrow(0, 6, 6).sum().item<double>() / 29.0;
  EXPECT_LT(rel_diff(loss3, llama_golden()["adapters"][3]["batch_loss"].get<double>()), 1e-5);
}

// IA3 vectors as site scales: down_proj scales its input, k_proj / v_proj their output.
LowRankSet ia3_set(int i) {
  LowRankSet s = empty_set();
  s.scales.resize(s.by_site.size());
  const std::string path = testing::llama_dir() + "/ia3/ia3_" + std::to_string(i) + "/adapter_model.safetensors";
  for (const auto& m : testing::llama_golden_ia3()["modules"]) {
    const at::Tensor l = io::read_safetensors(path).tensors.at(m["key"].get<std::string>());
    const int site = llama_model().sites().find(m["module"].get<std::string>());
    EXPECT_GE(site, 0);
    s.scales[static_cast<size_t>(site)] = model::SiteScale{l.reshape({-1}), m["scales"] == "input"};
    EXPECT_EQ(llama_model().sites().at(site).is_feed_forward_out(), m["is_feedforward"].get<bool>());
  }
  return s;
}

TEST_F(LlamaAdapters, Ia3LossesLogitsGreedyAndMerged) {
  const auto& gi = testing::llama_golden_ia3();
  for (int i = 0; i < 2; ++i) {
    const auto& g = gi["adapters"][static_cast<size_t>(i)];
    const LowRankSet s = ia3_set(i);
    expect_losses(llama_model(), &s, g, "ia3_" + std::to_string(i));
    EXPECT_LT(max_abs_diff(example0_target_logits(llama_model(), &s), testing::float_tensor(g["logits_example0_target_positions"])), 1e-4);
    expect_greedy(llama_model(), &s, g["greedy"], "ia3_" + std::to_string(i));
  }
  // merge_and_unload: rows scaled for output vectors, columns for input ones.
  const LowRankSet s = ia3_set(0);
  io::TensorMap replaced;
  for (size_t site = 0; site < s.scales.size(); ++site) {
    if (!s.scales[site].defined()) continue;
    const std::string name = llama_model().sites().at(static_cast<int>(site)).module + ".weight";
    const at::Tensor& w = llama_model().weights().tensors().at(name);
    const at::Tensor& l = s.scales[site].vector;
    replaced[name] = s.scales[site].on_input ? w * l.unsqueeze(0) : w * l.unsqueeze(1);
  }
  const LlamaModel merged(llama_model().config(), llama_model().weights().with_replaced(replaced, "ia3 merge"));
  expect_losses(merged, nullptr, gi["adapters"][0]["merged"], "ia3_0 merged");
}

}  // namespace
}  // namespace lorahub::llama
