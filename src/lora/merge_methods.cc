#include "lora/merge_methods.h"

#include "lora/method.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace lorahub::lora {

namespace merge_utils {
namespace {

// weights [N] viewed as [N, 1, ...] against stacked [N, ...].
at::Tensor weighted(const at::Tensor& stacked, const at::Tensor& weights) {
  std::vector<int64_t> shape(static_cast<size_t>(stacked.dim()), 1);
  shape[0] = weights.numel();
  return stacked * weights.to(stacked.scalar_type()).view(shape);
}

void check_density(double density) {
  if (const std::string problem = density_problem(density); !problem.empty()) {
    throw std::invalid_argument("density: " + problem);
  }
}

std::vector<at::Tensor> dare_pruned(const std::vector<at::Tensor>& tensors, double density,
                                    const std::vector<at::Tensor>& masks, bool rescale) {
  check_density(density);
  if (density >= 1) return tensors;  // PEFT's prune: no pruning, no draw
  if (masks.size() != tensors.size()) {
    throw std::invalid_argument("DARE: " + std::to_string(masks.size()) + " masks for " +
                                std::to_string(tensors.size()) + " tensors");
  }
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!masks[i].sizes().equals(tensors[i].sizes())) throw std::invalid_argument("DARE: mask of another shape");
    const at::Tensor pruned = tensors[i] * masks[i].to(tensors[i].scalar_type());
    out.push_back(rescale ? pruned / density : pruned);
  }
  return out;
}

at::Tensor elect_and_merge(const at::Tensor& stacked, const at::Tensor& weights, MajoritySign method) {
  const at::Tensor mask = majority_sign_mask(stacked, method);
  return disjoint_merge(weighted(stacked, weights), mask);
}

}  // namespace

at::Tensor task_arithmetic(const std::vector<at::Tensor>& tensors, const at::Tensor& weights) {
  return weighted(at::stack(tensors), weights).sum(0);
}

at::Tensor magnitude_based_pruning(const at::Tensor& tensor, double density) {
  check_density(density);
  if (density >= 1) return tensor;
  const auto k = static_cast<int64_t>(density * static_cast<double>(tensor.numel()));
  at::Tensor mask = at::zeros({tensor.numel()}, tensor.options());
  const at::Tensor top = std::get<1>(at::topk(tensor.abs().reshape(-1), k, 0, true));
  mask.index_fill_(0, top, 1);
  return tensor * mask.view(tensor.sizes());
}

at::Tensor magnitude_prune(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density) {
  std::vector<at::Tensor> pruned;
  for (const auto& t : tensors) pruned.push_back(magnitude_based_pruning(t, density));
  return task_arithmetic(pruned, weights);
}

at::Tensor majority_sign_mask(const at::Tensor& stacked, MajoritySign method) {
  const at::Tensor sign = stacked.sign();
  const at::Tensor magnitude = method == MajoritySign::kTotal ? stacked.sum(0) : sign.sum(0);
  const at::Tensor majority = at::where(magnitude >= 0, 1, -1).to(sign.scalar_type());
  return sign == majority;
}

at::Tensor disjoint_merge(const at::Tensor& weighted_tensors, const at::Tensor& mask) {
  const at::Tensor kept = (weighted_tensors * mask).sum(0);
  return kept / at::clamp_min(mask.sum(0), 1).to(kept.scalar_type());
}

at::Tensor ties(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                MajoritySign method) {
  std::vector<at::Tensor> pruned;
  for (const auto& t : tensors) pruned.push_back(magnitude_based_pruning(t, density));
  return elect_and_merge(at::stack(pruned), weights, method);
}

std::vector<at::Tensor> dare_masks(const std::vector<at::Tensor>& tensors, double density, at::Generator generator) {
  std::vector<at::Tensor> masks;
  for (const auto& t : tensors) masks.push_back(at::bernoulli(at::full_like(t, density), generator));
  return masks;
}

at::Tensor dare_linear(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                       const std::vector<at::Tensor>& masks, bool rescale) {
  return task_arithmetic(dare_pruned(tensors, density, masks, rescale), weights);
}

at::Tensor dare_ties(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                     MajoritySign method, const std::vector<at::Tensor>& masks, bool rescale) {
  return elect_and_merge(at::stack(dare_pruned(tensors, density, masks, rescale)), weights, method);
}

}  // namespace merge_utils

namespace {

// The merge_utils function of `method` (its svd variant maps to the same one).
at::Tensor combine(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, const MergeOptions& o,
                   at::Generator generator) {
  const double d = o.density;
  switch (o.method) {
    case Method::kLinear:
    case Method::kSvd:
      return merge_utils::task_arithmetic(tensors, weights);
    case Method::kMagnitudePrune:
    case Method::kMagnitudePruneSvd:
      return merge_utils::magnitude_prune(tensors, weights, d);
    case Method::kTies:
    case Method::kTiesSvd:
      return merge_utils::ties(tensors, weights, d, o.majority_sign);
    case Method::kDareLinear:
    case Method::kDareLinearSvd:
    case Method::kDareTies:
    case Method::kDareTiesSvd: {
      const auto masks = d >= 1 ? std::vector<at::Tensor>{} : merge_utils::dare_masks(tensors, d, generator);
      const bool is_ties = o.method == Method::kDareTies || o.method == Method::kDareTiesSvd;
      return is_ties ? merge_utils::dare_ties(tensors, weights, d, o.majority_sign, masks, o.dare_rescale)
                     : merge_utils::dare_linear(tensors, weights, d, masks, o.dare_rescale);
    }
    default:
      throw std::invalid_argument("merge: " + method_name(o.method) + " is not a merge method");
  }
}

LoraPair merge_cat(const std::vector<MergeInput>& in) {
  std::vector<at::Tensor> as, bs;
  for (const auto& x : in) {
    as.push_back(x.a * static_cast<float>(x.weight * x.scale));
    bs.push_back(x.b);
  }
  return {at::cat(as, 0), at::cat(bs, 1)};
}

// A and B merged separately with PEFT's weights_A / weights_B (sign rule).
LoraPair merge_pairs(const std::vector<MergeInput>& in, const MergeOptions& o, at::Generator generator) {
  std::vector<at::Tensor> as, bs;
  std::vector<float> wa, wb;
  for (const auto& x : in) {
    if (x.a.size(0) != in.front().a.size(0)) {
      throw std::invalid_argument(method_name(o.method) + " needs modules of equal rank: '" + x.id + "' has r = " +
                                  std::to_string(x.a.size(0)) + " but '" + in.front().id + "' has r = " +
                                  std::to_string(in.front().a.size(0)) + " (cat and the svd methods accept different ranks)");
    }
    const double ws = x.weight * x.scale;
    wa.push_back(static_cast<float>(std::copysign(std::sqrt(std::fabs(ws)), ws)));
    wb.push_back(static_cast<float>(std::sqrt(std::fabs(ws))));
    as.push_back(x.a);
    bs.push_back(x.b);
  }
  const at::Tensor a = combine(as, at::tensor(wa), o, generator);
  const at::Tensor b = combine(bs, at::tensor(wb), o, generator);
  return {a, b};
}

LoraPair merge_svd(const std::vector<MergeInput>& in, const MergeOptions& o, at::Generator generator) {
  std::vector<at::Tensor> deltas;
  std::vector<float> w;
  int64_t r = 0;
  for (const auto& x : in) {
    deltas.push_back(at::matmul(x.b, x.a) * static_cast<float>(x.scale));
    w.push_back(static_cast<float>(x.weight));
    r = std::max(r, x.a.size(0));
  }
  if (o.svd_rank > 0) r = o.svd_rank;
  const at::Tensor delta = combine(deltas, at::tensor(w), o, generator);
  if (r > std::min(delta.size(0), delta.size(1))) {
    throw std::invalid_argument("svd rank " + std::to_string(r) + " above min(out, in) = " +
                                std::to_string(std::min(delta.size(0), delta.size(1))));
  }
  auto [u, s, vh] = at::linalg_svd(delta, false);
  at::Tensor b = u.slice(1, 0, r) * s.slice(0, 0, r).unsqueeze(0);
  at::Tensor a = vh.slice(0, 0, r);
  if (o.svd_clamp) {
    const at::Tensor hi = at::quantile(at::cat({b.flatten(), a.flatten()}), *o.svd_clamp);
    b = at::clamp(b, -hi, hi);
    a = at::clamp(a, -hi, hi);
  }
  return {a.contiguous(), b.contiguous()};
}

void check_options(const MergeOptions& o) {
  if (is_runtime_composition(o.method) && o.method != Method::kCat) {
    throw std::invalid_argument("merge: lorahub is a composition, not an add_weighted_adapter method");
  }
  merge_utils::check_density(o.density);
  if (o.svd_clamp && !(*o.svd_clamp > 0 && *o.svd_clamp <= 1)) {
    throw std::invalid_argument("svd clamp: expected a quantile in (0, 1], found " + std::to_string(*o.svd_clamp));
  }
  if (o.svd_rank < 0) throw std::invalid_argument("svd rank: expected a positive number (or 0: max r_i)");
}

}  // namespace

LoraPair merge_module(const std::vector<MergeInput>& inputs, const MergeOptions& options, at::Generator generator) {
  check_options(options);
  if (inputs.empty()) throw std::invalid_argument("merge: no adapters");
  if (options.method == Method::kCat) return merge_cat(inputs);
  if (is_svd_method(options.method)) return merge_svd(inputs, options, generator);
  return merge_pairs(inputs, options, generator);
}

ComposedAdapter merge_adapters(const std::vector<LoraAdapter>& adapters, const std::vector<double>& weights,
                               const MergeOptions& options) {
  check_options(options);
  if (weights.size() != adapters.size() || adapters.empty()) {
    throw std::invalid_argument("merge: " + std::to_string(weights.size()) + " weights for " +
                                std::to_string(adapters.size()) + " adapters");
  }
  std::set<std::string> modules;
  for (const auto& a : adapters) {
    for (const auto& [name, pair] : a.modules) modules.insert(name);
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  ComposedAdapter out;
  for (const auto& module : modules) {
    std::vector<MergeInput> inputs;
    for (size_t i = 0; i < adapters.size(); ++i) {
      const auto it = adapters[i].modules.find(module);
      if (it == adapters[i].modules.end()) continue;
      inputs.push_back({adapters[i].id, it->second.a, it->second.b, it->second.scale, weights[i]});
    }
    const LoraPair merged = merge_module(inputs, options, gen);
    out.r = std::max(out.r, merged.a.size(0));
    out.tensors[peft_key(module, true)] = merged.a.to(at::kFloat);
    out.tensors[peft_key(module, false)] = merged.b.to(at::kFloat);
  }
  // One rank for the adapter: cat over modules some adapters lack fills the
  // first rows / columns and leaves zeros, as PEFT does.
  for (auto& [key, t] : out.tensors) {
    const bool is_a = key.find(".lora_A.") != std::string::npos;
    const int64_t have = t.size(is_a ? 0 : 1);
    if (have < out.r) t = is_a ? at::constant_pad_nd(t, {0, 0, 0, out.r - have}) : at::constant_pad_nd(t, {0, out.r - have});
    t = t.contiguous();
  }
  out.lora_alpha = static_cast<double>(out.r);
  return out;
}

std::shared_ptr<model::WeightStore> merged_weights(const model::WeightStore& base, const ComposedAdapter& adapter) {
  const std::string prefix = "base_model.model.", suffix = ".lora_A.weight";
  const double scale = adapter.lora_alpha / static_cast<double>(adapter.r);
  io::TensorMap deltas;
  for (const auto& [key, a] : adapter.tensors) {
    if (key.size() <= prefix.size() + suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix)) {
      continue;
    }
    const std::string module = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
    const std::string name = module + ".weight";
    if (!base.contains(name)) throw std::invalid_argument("merge: the base model has no weight '" + name + "'");
    const at::Tensor& w = base.tensors().at(name);
    const at::Tensor delta = at::matmul(adapter.tensors.at(peft_key(module, false)), a) * scale;
    if (!delta.sizes().equals(w.sizes())) {
      throw std::invalid_argument("merge: module '" + module + "' gives an update of shape " +
                                  std::string(c10::str(delta.sizes())) + " for a weight of shape " +
                                  std::string(c10::str(w.sizes())));
    }
    deltas[name] = delta;
  }
  return base.with_added(deltas, "merged adapter");
}

}  // namespace lorahub::lora
