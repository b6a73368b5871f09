// PEFT merge methods against the tiny-llama goldens (PEFT 0.7.1
// add_weighted_adapter; merge_utils of PEFT v0.19.1 and v0.10.0), closed
// forms, and on tiny-t5 against a second code path (the run-time
// compositions of lora/composition.cc).

#include "lora/merge_methods.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "lora/composition.h"
#include "lora/peft_export.h"
#include "lora/tiny_pool.h"
#include "model/weight_store.h"
#include "t5/t5_model.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

namespace lorahub::lora {
namespace {

using testing::float_tensor;

std::string llama_dir() { return testing::shared_dir() + "/fixtures/tiny-llama"; }

const nlohmann::json& llama_golden() {
  static const nlohmann::json g = io::read_json_file(llama_dir() + "/golden.json");
  return g;
}

// An adapter of the tiny-llama set from its safetensors file (no model).
LoraAdapter llama_adapter(int i) {
  const std::string dir = llama_dir() + "/lora/lora" + std::to_string(i);
  const nlohmann::json config = io::read_json_file(dir + "/adapter_config.json");
  LoraAdapter a;
  a.id = "lora" + std::to_string(i);
  a.path = dir;
  a.r = config.at("r").get<int64_t>();
  a.lora_alpha = config.at("lora_alpha").get<double>();
  const std::string prefix = "base_model.model.";
  for (const auto& [key, t] : io::read_safetensors(dir + "/adapter_model.safetensors").tensors) {
    const bool is_a = key.find(".lora_A.weight") != std::string::npos;
    const std::string module = key.substr(prefix.size(), key.rfind(is_a ? ".lora_A" : ".lora_B") - prefix.size());
    (is_a ? a.modules[module].a : a.modules[module].b) = t;
  }
  for (auto& [module, pair] : a.modules) pair.scale = a.scale();  // no alpha_pattern: the adapter's scale
  return a;
}

const std::vector<LoraAdapter>& llama_adapters() {
  static const std::vector<LoraAdapter> all = [] {
    std::vector<LoraAdapter> v;
    for (int i = 0; i < 5; ++i) v.push_back(llama_adapter(i));
    return v;
  }();
  return all;
}

// max |x - ref| / max |ref|
double rel_max(const at::Tensor& x, const at::Tensor& ref) {
  return (x.to(at::kDouble) - ref.to(at::kDouble)).abs().max().item<double>() /
         ref.to(at::kDouble).abs().max().item<double>();
}
double abs_max(const at::Tensor& x, const at::Tensor& ref) {
  return (x.to(at::kDouble) - ref.to(at::kDouble)).abs().max().item<double>();
}

std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

const std::string kProbe = "model.layers.1.self_attn.v_proj";

at::Tensor delta_of(const ComposedAdapter& c, const std::string& module) {
  return at::matmul(c.tensors.at(peft_key(module, false)), c.tensors.at(peft_key(module, true))) *
         (c.lora_alpha / static_cast<double>(c.r));
}

TEST(MergeMethodNames, OneTableParsesEveryNameBack) {
  for (const char* name : {"lorahub", "cat", "linear", "svd", "ties", "ties_svd", "dare_linear", "dare_ties",
                           "dare_linear_svd", "dare_ties_svd", "magnitude_prune", "magnitude_prune_svd"}) {
    EXPECT_EQ(method_name(parse_method(name, "--method", true)), name);
  }
  EXPECT_THROW(parse_method("ties", "--method"), std::invalid_argument);  // run-time compositions only
  try {
    parse_method("dare", "--method", true);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--method: expected one of lorahub, cat, linear, svd, ", 0), 0u) << e.what();
  }
}

TEST(AddWeightedAdapter, LinearCatSvdDeltasMatchPeft) {
  const auto& g = llama_golden()["peft_add_weighted_adapter"];
  for (const char* type : {"linear", "cat", "svd"}) {
    SCOPED_TRACE(type);
    const auto& e = g[type];
    MergeOptions o;
    o.method = parse_method(type, "type", true);
    const ComposedAdapter c = merge_adapters(llama_adapters(), doubles(e["weights"]), o);
    EXPECT_EQ(c.r, e["new_r"].get<int64_t>());
    EXPECT_EQ(c.lora_alpha, e["new_lora_alpha"].get<double>());
    const double err = rel_max(delta_of(c, kProbe), float_tensor(e["delta_w"]));
    std::printf("%s: delta_w max relative error %.3g\n", type, err);
    EXPECT_LT(err, 1e-5);
  }
  // cat is exact per tensor (no sqrt, no SVD sign freedom).
  MergeOptions o;
  o.method = Method::kCat;
  const ComposedAdapter c = merge_adapters(llama_adapters(), doubles(g["cat"]["weights"]), o);
  EXPECT_LT(abs_max(c.tensors.at(peft_key(kProbe, true)), float_tensor(g["cat"]["lora_A"])), 1e-7);
  EXPECT_LT(abs_max(c.tensors.at(peft_key(kProbe, false)), float_tensor(g["cat"]["lora_B"])), 1e-7);
}

TEST(AddWeightedAdapter, SvdSingularValuesMatchPeft) {
  const auto& e = llama_golden()["peft_add_weighted_adapter"]["svd"];
  std::vector<MergeInput> in;
  const auto w = doubles(e["weights"]);
  for (size_t i = 0; i < 5; ++i) {
    const auto& m = llama_adapters()[i].modules.at(kProbe);
    in.push_back({llama_adapters()[i].id, m.a, m.b, llama_adapters()[i].scale(), w[i]});
  }
  MergeOptions o;
  o.method = Method::kSvd;
  o.svd_rank = 32;  // full rank: B A is the whole delta
  const LoraPair full = merge_module(in, o, at::make_generator<at::CPUGeneratorImpl>(0));
  const at::Tensor s = at::linalg_svdvals(at::matmul(full.b, full.a));
  EXPECT_LT(rel_max(s, float_tensor(e["full_delta_w_singular_values"])), 1e-5);
}

TEST(AddWeightedAdapter, SvdClampBoundsEveryEntryByTheQuantile) {
  MergeOptions o;
  o.method = Method::kSvd;
  const auto w = doubles(llama_golden()["peft_add_weighted_adapter"]["svd"]["weights"]);
  const ComposedAdapter free = merge_adapters(llama_adapters(), w, o);
  o.svd_clamp = 0.9;
  const ComposedAdapter clamped = merge_adapters(llama_adapters(), w, o);
  const at::Tensor a = free.tensors.at(peft_key(kProbe, true)), b = free.tensors.at(peft_key(kProbe, false));
  const double hi = at::quantile(at::cat({b.flatten(), a.flatten()}), 0.9).item<double>();
  for (const bool is_a : {true, false}) {
    const at::Tensor x = free.tensors.at(peft_key(kProbe, is_a)), y = clamped.tensors.at(peft_key(kProbe, is_a));
    EXPECT_TRUE(at::equal(y, at::clamp(x, -hi, hi)));
    EXPECT_GT((x.abs() > hi).sum().item<int64_t>(), 0);  // the clamp did something
  }
}

// merge_utils on the probe key: task tensors, PEFT's A / B weights.
class MergeUtils : public ::testing::Test {
 protected:
  const nlohmann::json& g = llama_golden()["peft_merge_utils"];
  std::vector<at::Tensor> ta, tb;
  at::Tensor wa, wb;
  double density = g["density"].get<double>();
  void SetUp() override {
    for (const auto& t : g["task_tensors_A"]) ta.push_back(float_tensor(t));
    for (const auto& t : g["task_tensors_B"]) tb.push_back(float_tensor(t));
    wa = float_tensor(g["weights_A"]);
    wb = float_tensor(g["weights_B"]);
  }
  void expect_pair(const at::Tensor& a, const at::Tensor& b, const nlohmann::json& e) {
    const double ea = abs_max(a, float_tensor(e["lora_A"])), eb = abs_max(b, float_tensor(e["lora_B"]));
    const double ed = abs_max(at::matmul(b, a), float_tensor(e["delta_w"]));
    std::printf("max |error|: lora_A %.3g, lora_B %.3g, delta_w %.3g\n", ea, eb, ed);
    EXPECT_LT(ea, 1e-6);
    EXPECT_LT(eb, 1e-6);
    EXPECT_LT(ed, 1e-6);
  }
  std::vector<at::Tensor> masks(const nlohmann::json& e, const char* key) {
    std::vector<at::Tensor> m;
    for (const auto& t : e[key]) m.push_back(float_tensor(t));
    return m;
  }
};

TEST_F(MergeUtils, TaskTensorsAndSignRuleWeightsAreTheAdapters) {
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(at::equal(ta[i], llama_adapters()[i].modules.at(kProbe).a));
    EXPECT_TRUE(at::equal(tb[i], llama_adapters()[i].modules.at(kProbe).b));
  }
  // merge_module with task_arithmetic = the golden's A' and B' (sign rule weights).
  const auto w = doubles(g["weights"]);
  std::vector<MergeInput> in;
  for (size_t i = 0; i < 5; ++i) in.push_back({"m", ta[i], tb[i], g["scaling"].get<double>(), w[i]});
  MergeOptions o;
  o.method = Method::kLinear;
  const LoraPair p = merge_module(in, o, at::make_generator<at::CPUGeneratorImpl>(0));
  expect_pair(p.a, p.b, g["v0.19.1"]["task_arithmetic"]);
  o.method = Method::kTies;
  o.density = density;
  const LoraPair t = merge_module(in, o, at::make_generator<at::CPUGeneratorImpl>(0));
  expect_pair(t.a, t.b, g["v0.19.1"]["ties"]);
}

TEST_F(MergeUtils, TaskArithmeticMagnitudePruneTiesMatchPeft) {
  const auto& e = g["v0.19.1"];
  expect_pair(merge_utils::task_arithmetic(ta, wa), merge_utils::task_arithmetic(tb, wb), e["task_arithmetic"]);
  expect_pair(merge_utils::magnitude_prune(ta, wa, density), merge_utils::magnitude_prune(tb, wb, density),
              e["magnitude_prune"]);
  expect_pair(merge_utils::ties(ta, wa, density, MajoritySign::kTotal),
              merge_utils::ties(tb, wb, density, MajoritySign::kTotal), e["ties"]);
}

TEST_F(MergeUtils, DareWithTheRecordedMasksMatchesBothPeftVersions) {
  for (const char* version : {"v0.19.1", "v0.10.0"}) {
    SCOPED_TRACE(version);
    const bool rescale = std::string(version) == "v0.19.1";
    const auto& masks_at = g["v0.19.1"];  // v0.10.0 drew the same masks (masks_identical_to_v0.19.1)
    ASSERT_TRUE(std::string(version) == "v0.19.1" || g[version]["dare_linear"]["masks_identical_to_v0.19.1"].get<bool>());
    const auto& lin = masks_at["dare_linear"];
    expect_pair(merge_utils::dare_linear(ta, wa, density, masks(lin, "masks_A"), rescale),
                merge_utils::dare_linear(tb, wb, density, masks(lin, "masks_B"), rescale), g[version]["dare_linear"]);
    const auto& tie = masks_at["dare_ties"];
    expect_pair(merge_utils::dare_ties(ta, wa, density, MajoritySign::kTotal, masks(tie, "masks_A"), rescale),
                merge_utils::dare_ties(tb, wb, density, MajoritySign::kTotal, masks(tie, "masks_B"), rescale),
                g[version]["dare_ties"]);
  }
}

TEST_F(MergeUtils, SeededGeneratorDrawsTorchsMasks) {
  // torch.manual_seed(0), then the lora_A masks, then the lora_B masks.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  const auto a = merge_utils::dare_masks(ta, density, gen);
  const auto b = merge_utils::dare_masks(tb, density, gen);
  const auto& e = g["v0.19.1"]["dare_linear"];
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(at::equal(a[i], masks(e, "masks_A")[i])) << i;
    EXPECT_TRUE(at::equal(b[i], masks(e, "masks_B")[i])) << i;
  }
}

TEST(MergeUtilsClosedForm, MajoritySignTotalAndFrequency) {
  // One entry, three tensors 3, -1, -1 with weights 1, 2, 4 (density 1: no pruning).
  const std::vector<at::Tensor> t = {at::full({1}, 3.f), at::full({1}, -1.f), at::full({1}, -1.f)};
  const at::Tensor w = at::tensor({1.f, 2.f, 4.f});
  // total: 3 - 1 - 1 >= 0 -> +: only 1 * 3 kept.
  EXPECT_FLOAT_EQ(merge_utils::ties(t, w, 1.0, MajoritySign::kTotal).item<float>(), 3.f);
  // frequency: two negatives -> -: (2 * -1 + 4 * -1) / 2.
  EXPECT_FLOAT_EQ(merge_utils::ties(t, w, 1.0, MajoritySign::kFrequency).item<float>(), -3.f);
  // a tie (sum 0) counts as +; pruned zeros never count.
  const std::vector<at::Tensor> z = {at::full({1}, 1.f), at::full({1}, -1.f), at::zeros({1})};
  EXPECT_FLOAT_EQ(merge_utils::ties(z, w, 1.0, MajoritySign::kTotal).item<float>(), 1.f);
  // magnitude pruning keeps int(0.5 * 5) = 2 of 5 entries.
  const at::Tensor x = at::tensor({0.1f, -5.f, 2.f, -0.3f, 1.f});
  EXPECT_TRUE(at::equal(merge_utils::magnitude_based_pruning(x, 0.5), at::tensor({0.f, -5.f, 2.f, 0.f, 0.f})));
}

TEST(MergeMethodErrors, DensityRanksAndLoraHubAreRefused) {
  const auto w = std::vector<double>(5, 0.2);
  MergeOptions o;
  o.method = Method::kTies;
  for (const double d : {0.0, -0.5, 1.5}) {
    o.density = d;
    EXPECT_THROW(merge_adapters(llama_adapters(), w, o), std::invalid_argument) << d;
  }
  o.density = 0.5;
  std::vector<LoraAdapter> mixed = llama_adapters();
  for (auto& [name, pair] : mixed[1].modules) pair = {pair.a.slice(0, 0, 2), pair.b.slice(1, 0, 2)};
  mixed[1].r = 2;
  try {
    merge_adapters(mixed, w, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "ties needs modules of equal rank: 'lora1' has r = 2 but 'lora0' has r = 4 (cat and the svd methods "
              "accept different ranks)");
  }
  o.method = Method::kCat;  // cat: r = 4 + 2 + 4 + 4 + 4
  EXPECT_EQ(merge_adapters(mixed, w, o).r, 18);
  o.method = Method::kSvd;
  EXPECT_EQ(merge_adapters(mixed, w, o).r, 4);
  o.method = Method::kLoraHub;
  EXPECT_THROW(merge_adapters(llama_adapters(), w, o), std::invalid_argument);
  o.method = Method::kLinear;
  EXPECT_THROW(merge_adapters(llama_adapters(), {1.0}, o), std::invalid_argument);
}

// tiny-t5: losses of models with merged adapters against the run-time
// compositions (a second code path, lora/composition.cc) and a float64 delta.
class MergedT5 : public ::testing::Test {
 protected:
  at::NoGradGuard no_grad_;
  std::vector<LoraAdapter> adapters;
  void SetUp() override {
    for (int i = 0; i < 5; ++i) adapters.push_back(load_adapter(testing::lora_dir(i), testing::tiny_model()));
  }
  static double loss(const std::shared_ptr<model::WeightStore>& w) {
    const t5::T5Model m(testing::tiny_model().config(), w);
    const auto b = testing::golden_batch();
    return m.loss(b.input_ids, b.attention_mask, b.labels, nullptr).item<double>();
  }
};

TEST_F(MergedT5, LinearEqualsLoraHubWithSquareRootWeights) {
  // equal scalings s, w >= 0: B'A' = (sum sqrt(w_i s) B_i)(sum sqrt(w_j s) A_j)
  //                               = s (sum sqrt(w_i) B_i)(sum sqrt(w_j) A_j): LoraHub with sqrt(w).
  const std::vector<double> w = {0.5, 0.3, 1.2, 0.0, 0.7};
  MergeOptions o;
  o.method = Method::kLinear;
  const auto ours = merged_weights(testing::tiny_model().weights(), merge_adapters(adapters, w, o));
  const at::Tensor root = at::tensor(w, at::kDouble).sqrt();
  const auto other = merge(testing::tiny_model(), testing::tiny_pool(), root, Method::kLoraHub);
  const double a = loss(ours), b = loss(other);
  std::printf("linear %.9f, lorahub(sqrt w) %.9f\n", a, b);
  EXPECT_LT(testing::rel_diff(a, b), 1e-5);
}

TEST_F(MergedT5, CatAndFullRankSvdEqualTheCatCompositionAndTheFloat64Delta) {
  const std::vector<double> w = {0.5, -0.3, 1.2, 0.0, 0.7};
  MergeOptions o;
  o.method = Method::kCat;
  const ComposedAdapter cat = merge_adapters(adapters, w, o);
  o.method = Method::kSvd;
  o.svd_rank = 20;  // >= rank of the delta: the SVD reconstructs it
  const ComposedAdapter svd = merge_adapters(adapters, w, o);
  // float64 delta straight from the adapters
  for (const auto& [module, pair] : adapters[0].modules) {
    at::Tensor d = at::zeros_like(pair.b.matmul(pair.a), at::kDouble);
    for (size_t i = 0; i < 5; ++i) {
      const auto& p = adapters[i].modules.at(module);
      d += w[i] * adapters[i].scale() * at::matmul(p.b.to(at::kDouble), p.a.to(at::kDouble));
    }
    EXPECT_LT(rel_max(delta_of(cat, module), d), 1e-6) << module;
    EXPECT_LT(rel_max(delta_of(svd, module), d), 1e-5) << module;
  }
  const auto& base = testing::tiny_model().weights();
  const double l_cat = loss(merged_weights(base, cat)), l_svd = loss(merged_weights(base, svd));
  const double l_ref = loss(merge(testing::tiny_model(), testing::tiny_pool(), at::tensor(w, at::kDouble), Method::kCat));
  std::printf("cat %.9f, svd(r=20) %.9f, cat composition %.9f\n", l_cat, l_svd, l_ref);
  EXPECT_LT(testing::rel_diff(l_cat, l_ref), 1e-5);
  EXPECT_LT(testing::rel_diff(l_svd, l_ref), 1e-5);
}

TEST_F(MergedT5, CatMatchesTheGoldenPeftCatLoss) {
  const auto& g = testing::golden()["cat_composition"];
  MergeOptions o;
  o.method = Method::kCat;
  const ComposedAdapter cat = merge_adapters(adapters, doubles(g["weights"]), o);
  const double ours = loss(merged_weights(testing::tiny_model().weights(), cat));
  const double peft = g["hf_batch_loss"].get<double>();
  std::printf("cat merged %.9f, PEFT cat adapter %.9f\n", ours, peft);
  EXPECT_LT(testing::rel_diff(ours, peft), 1e-5);
}

TEST_F(MergedT5, ExportedMergeReloadsAsTheSameAdapter) {
  MergeOptions o;
  o.method = Method::kDareTies;
  o.density = 0.5;
  o.seed = 7;
  const ComposedAdapter merged = merge_adapters(adapters, {0.5, -0.3, 1.2, 0.0, 0.7}, o);
  const std::string dir = testing::temp_dir("merged-export");
  write_peft_adapter(dir, merged, adapters[0].target_modules, adapters[0].base_model_name_or_path,
                     testing::tiny_model().peft_task_type());
  const LoraAdapter back = load_adapter(dir, testing::tiny_model());
  EXPECT_EQ(back.r, merged.r);
  EXPECT_EQ(back.lora_alpha, merged.lora_alpha);
  ASSERT_EQ(back.modules.size() * 2, merged.tensors.size());
  for (const auto& [module, pair] : back.modules) {
    EXPECT_TRUE(at::equal(pair.a, merged.tensors.at(peft_key(module, true)))) << module;
    EXPECT_TRUE(at::equal(pair.b, merged.tensors.at(peft_key(module, false)))) << module;
  }
  // The same seed draws the same masks; another seed other ones.
  EXPECT_TRUE(at::equal(merge_adapters(adapters, {0.5, -0.3, 1.2, 0.0, 0.7}, o).tensors.begin()->second,
                        merged.tensors.begin()->second));
  o.seed = 8;
  EXPECT_FALSE(at::equal(merge_adapters(adapters, {0.5, -0.3, 1.2, 0.0, 0.7}, o).tensors.begin()->second,
                         merged.tensors.begin()->second));
}

}  // namespace
}  // namespace lorahub::lora
