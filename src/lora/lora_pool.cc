#include "lora/lora_pool.h"

#include "model/language_model.h"

#include <ATen/ATen.h>

#include <sstream>
#include <stdexcept>

namespace lorahub::lora {
namespace {
std::string fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}
}  // namespace

LoraPool::LoraPool(const model::LanguageModel& base, std::vector<LoraAdapter> adapters, bool check_base)
    : adapters_(std::move(adapters)), num_sites_(static_cast<int64_t>(base.projections().size())) {
  if (adapters_.empty()) throw std::invalid_argument("LoRA pool: no modules given");
  const LoraAdapter& first = adapters_.front();
  rank_ = first.r;
  alpha_ = first.lora_alpha;
  for (const auto& ad : adapters_) {
    auto fail = [&](const std::string& why) {
      return std::invalid_argument("cannot compose LoRA module '" + ad.id + "' with '" + first.id + "': " + why);
    };
    if (ad.r != rank_) {
      throw fail("rank " + std::to_string(ad.r) + " but the other modules have rank " + std::to_string(rank_));
    }
    if (ad.lora_alpha != alpha_) {
      throw fail("lora_alpha " + fmt(ad.lora_alpha) + " but the other modules have lora_alpha " + fmt(alpha_));
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
  }
  const auto dtype = base.weights().dtype();
  const auto device = base.weights().device();
  for (const auto& [module, pair] : first.modules) {
    PoolTarget t;
    t.module = module;
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
  // The stacks are the only copy kept: a 196-module flan-t5-large pool is
  // ~3.7 GB in float32.
  for (auto& ad : adapters_) ad.modules.clear();
}

LoraPool LoraPool::load(const model::LanguageModel& base, const std::vector<std::string>& dirs, bool check_base) {
  std::vector<LoraAdapter> adapters;
  for (const auto& d : dirs) adapters.push_back(load_adapter(d, base));
  return LoraPool(base, std::move(adapters), check_base);
}

LoraPool LoraPool::subset(const std::vector<int64_t>& indices) const {
  if (indices.empty()) throw std::invalid_argument("LoRA pool subset: no modules selected");
  LoraPool out;
  out.rank_ = rank_;
  out.alpha_ = alpha_;
  out.num_sites_ = num_sites_;
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
                            t.b.index_select(0, idx.to(t.b.device()))});
  }
  return out;
}

}  // namespace lorahub::lora
