#include "lora/lora_pool.h"

#include "model/language_model.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace lorahub::lora {
namespace {
std::string fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// "2 (lora_alpha 8 / sqrt(r 4), use_rslora)" for the module's scale `s`;
// "alpha_pattern: lora_alpha 16 / r 4" when the module has its own alpha.
std::string scale_str(const LoraAdapter& ad, double s) {
  const bool own = s != ad.scale();
  const double alpha = own ? s * (ad.use_rslora ? std::sqrt(static_cast<double>(ad.r)) : static_cast<double>(ad.r))
                           : ad.lora_alpha;
  return fmt(s) + " (" + (own ? "alpha_pattern: " : "") + "lora_alpha " + fmt(alpha) +
         (ad.use_rslora ? " / sqrt(r " : " / r ") + std::to_string(ad.r) + (ad.use_rslora ? "), use_rslora)" : ")");
}

// Scales equal up to the rounding of alpha / sqrt(r); any sign.
bool same_scale(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b)); }
}  // namespace

LoraPool::LoraPool(const model::LanguageModel& base, std::vector<LoraAdapter> adapters, bool check_base)
    : adapters_(std::move(adapters)), num_sites_(static_cast<int64_t>(base.projections().size())) {
  if (adapters_.empty()) throw std::invalid_argument("LoRA pool: no modules given");
  const LoraAdapter& first = adapters_.front();
  rank_ = first.r;
  for (const auto& ad : adapters_) {
    auto fail = [&](const std::string& why) {
      return std::invalid_argument("cannot compose LoRA module '" + ad.id + "' with '" + first.id + "': " + why);
    };
    if (ad.r != rank_) {
      throw fail("rank " + std::to_string(ad.r) + " but the other modules have rank " + std::to_string(rank_));
    }
    if (check_base && ad.base_model_name_or_path != first.base_model_name_or_path) {
      throw fail("base model '" + ad.base_model_name_or_path + "' but the other modules adapt '" +
                 first.base_model_name_or_path + "'");
    }
    if (ad.modules.size() != first.modules.size()) {
      throw fail("adapts " + std::to_string(ad.modules.size()) + " projections, the other modules " +
                 std::to_string(first.modules.size()));
    }
    for (const auto& [module, pair] : first.modules) {
      if (!ad.modules.count(module)) throw fail("does not adapt '" + module + "' that the other modules adapt");
    }
    // Decided per projection on the effective scale (alpha_pattern and
    // use_rslora applied): LoraHub's sum of B's and A's has one scale there.
    for (const auto& [module, pair] : first.modules) {
      const double s = ad.modules.at(module).scale;
      if (!same_scale(s, pair.scale)) {
        const bool own = s != ad.scale() || pair.scale != first.scale();
        throw fail("scale " + scale_str(ad, s) + (own ? " on '" + module + "'" : "") +
                   " but the other modules have scale " + scale_str(first, pair.scale) + (own ? " there" : ""));
      }
    }
  }
  const auto device = base.weights().device();
  const auto dtype = model::at_least_float_type(base.weights().dtype());
  for (const auto& [module, pair] : first.modules) {
    PoolTarget t;
    t.module = module;
    t.scale = pair.scale;
    t.site = base.projections().find(module);
    std::vector<at::Tensor> as, bs;
    for (const auto& ad : adapters_) {
      as.push_back(ad.modules.at(module).a);
      bs.push_back(ad.modules.at(module).b);
    }
    t.a = at::stack(as).to(device, dtype);
    t.b = at::stack(bs).to(device, dtype);
    targets_.push_back(std::move(t));
  }
  scale_ = targets_.front().scale;
  std::vector<const LoraAdapter*> all;
  std::vector<std::string> adapted;
  for (const auto& ad : adapters_) all.push_back(&ad);
  for (const auto& t : targets_) adapted.push_back(t.module);
  target_config_ = export_target_config(all, adapted, base.projections()).dump();
  // The stacks are the only copy kept: a 196-module flan-t5-large pool is
  // ~3.7 GB in float32.
  for (auto& ad : adapters_) ad.modules.clear();
}

LoraPool LoraPool::load(const model::LanguageModel& base, const std::vector<std::string>& dirs, bool check_base) {
  std::vector<LoraAdapter> adapters;
  for (const auto& d : dirs) adapters.push_back(load_adapter(d, base));
  return LoraPool(base, std::move(adapters), check_base);
}

nlohmann::json LoraPool::target_modules() const { return nlohmann::json::parse(target_config_); }

LoraPool LoraPool::subset(const std::vector<int64_t>& indices) const {
  if (indices.empty()) throw std::invalid_argument("LoRA pool subset: no modules selected");
  LoraPool out;
  out.rank_ = rank_;
  out.scale_ = scale_;
  out.num_sites_ = num_sites_;
  out.target_config_ = target_config_;
  for (int64_t i : indices) {
    if (i < 0 || i >= size()) {
      throw std::out_of_range("LoRA pool subset: index " + std::to_string(i) + " outside a pool of " +
                              std::to_string(size()));
    }
    out.adapters_.push_back(adapters_[static_cast<size_t>(i)]);
  }
  const at::Tensor idx = at::tensor(indices, at::kLong);
  for (const auto& t : targets_) {
    out.targets_.push_back({t.module, t.site, t.a.index_select(0, idx.to(t.a.device())),
                            t.b.index_select(0, idx.to(t.b.device())), t.scale});
  }
  return out;
}

}  // namespace lorahub::lora
