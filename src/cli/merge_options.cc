#include "cli/merge_options.h"

#include "lora/lora_adapter.h"
#include "lora/method.h"
#include "lora/peft_export.h"
#include "model/loader.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace lorahub::cli {

void add_merge_options(po::options_description& desc, MergeFlags& f) {
  desc.add_options()
      ("density", po::value(&f.density)->default_value(1.0),
       "fraction of entries kept, in (0, 1] (ties, dare_*, magnitude_prune*; 1: no pruning)")
      ("majority-sign", po::value(&f.majority_sign)->default_value("total"),
       "TIES sign election: total (sign of the sum) or frequency (sign of the count)")
      ("svd-rank", po::value(&f.svd_rank)->default_value(0), "rank of the *svd methods (0: the largest module rank)")
      ("svd-clamp", po::value(&f.svd_clamp), "*svd methods: clamp A and B to this quantile of their entries, in (0, 1]")
      ("seed", po::value(&f.seed)->default_value(0), "seed of the DARE masks")
      ("dare-no-rescale", "DARE without the 1/density rescaling (PEFT <= 0.18)");
}

lora::MergeOptions merge_options(const MergeFlags& f, lora::Method method, const po::variables_map& vm) {
  using lora::Method;
  lora::MergeOptions o;
  o.method = method;
  const std::string name = lora::method_name(method);
  const bool prunes = method != Method::kLinear && method != Method::kSvd && !lora::is_runtime_composition(method);
  const bool elects = method == Method::kTies || method == Method::kTiesSvd || method == Method::kDareTies ||
                      method == Method::kDareTiesSvd;
  const bool dare = name.rfind("dare_", 0) == 0;
  const std::vector<std::pair<const char*, bool>> used = {
      {"density", prunes}, {"majority-sign", elects}, {"svd-rank", lora::is_svd_method(method)},
      {"svd-clamp", lora::is_svd_method(method)}, {"seed", dare}, {"dare-no-rescale", dare}};
  for (const auto& [flag, ok] : used) {
    if (!ok && flag_given(vm, flag)) throw UsageError(std::string("--") + flag + ": not used by --method " + name);
  }
  if (const std::string problem = lora::density_problem(f.density); !problem.empty()) {
    throw UsageError("--density: " + problem);
  }
  o.density = f.density;
  try {
    o.majority_sign = lora::parse_majority_sign(f.majority_sign, "--majority-sign");
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (f.svd_rank < 0) throw UsageError("--svd-rank: expected a positive rank (0: the largest module rank)");
  o.svd_rank = f.svd_rank;
  if (vm.count("svd-clamp")) {
    if (!(f.svd_clamp > 0 && f.svd_clamp <= 1)) {
      std::ostringstream found;
      found << f.svd_clamp;
      throw UsageError("--svd-clamp: expected a quantile in (0, 1], found " + found.str());
    }
    o.svd_clamp = f.svd_clamp;
  }
  o.seed = f.seed;
  o.dare_rescale = !vm.count("dare-no-rescale");
  return o;
}

void compose_with_merge_method(const std::string& model_dir, const std::vector<std::string>& dirs,
                               const std::vector<double>& weights, const lora::MergeOptions& options,
                               RuntimeOptions& runtime, const std::string& out_dir, bool merge, bool check_base) {
  apply_runtime_options(runtime);
  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  std::vector<lora::LoraAdapter> adapters;
  for (const auto& dir : dirs) {
    adapters.push_back(lora::load_adapter(dir, model, dir));
    const std::string& base = adapters.back().base_model_name_or_path;
    if (check_base && base != adapters.front().base_model_name_or_path) {
      throw std::invalid_argument(dir + ": base model '" + base + "' but the other modules adapt '" +
                                  adapters.front().base_model_name_or_path + "' (--ignore-base to merge them anyway)");
    }
  }
  const std::string name = lora::method_name(options.method);
  at::NoGradGuard no_grad;
  lora::ComposedAdapter merged;
  try {
    merged = lora::merge_adapters(adapters, weights, options);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--method " + name + ": " + e.what());
  }
  if (merge) {
    lora::write_merged_checkpoint(out_dir, model, merged, model_dir);
    std::cout << "wrote merged checkpoint " << out_dir << " (" << dirs.size() << " modules, " << name << ")\n";
  } else {
    std::vector<const lora::LoraAdapter*> sources;
    for (const auto& a : adapters) sources.push_back(&a);
    std::vector<std::string> modules;
    for (const auto& [key, t] : merged.tensors) {
      std::string module;
      bool is_a = false;
      if (lora::parse_peft_key(key, module, is_a) && is_a) modules.push_back(module);
    }
    lora::write_peft_adapter(out_dir, merged, lora::export_target_config(sources, modules, model.projections()),
                             adapters.front().base_model_name_or_path, model.peft_task_type());
    std::cout << "wrote PEFT adapter " << out_dir << " (r = " << merged.r << ", " << dirs.size() << " modules, " << name
              << ")\n";
  }
}

}  // namespace lorahub::cli
