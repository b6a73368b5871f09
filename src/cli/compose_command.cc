// lorahub compose: write a composition of LoRA modules as a PEFT adapter or a
// merged Hugging Face checkpoint.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/merge_options.h"
#include "lora/composition.h"
#include "lora/lora_pool.h"
#include "lora/peft_export.h"
#include "model/loader.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <boost/program_options.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {
namespace {

// Every flag of lorahub compose.
struct ComposeFlags {
  std::string model_dir, weights_text, method_name, out_dir;
  ModuleOptions modules;
  RuntimeOptions runtime;
  MergeFlags merge_flags;
};

void add_compose_options(po::options_description& desc, ComposeFlags& f) {
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&f.model_dir)->required(), "Hugging Face model directory (the modules' base)")
      ("weights", po::value(&f.weights_text)->required(), "one weight per module, comma-separated (write --weights=-0.5,...)")
      ("method", po::value(&f.method_name)->default_value("lorahub"), "lorahub (sum A, sum B), cat (concatenated ranks) or a PEFT "
       "add_weighted_adapter method: linear, svd, ties, ties_svd, dare_linear, dare_ties, dare_linear_svd, "
       "dare_ties_svd, magnitude_prune, magnitude_prune_svd")
      ("out", po::value(&f.out_dir)->required(), "output directory")
      ("merge", "write a full checkpoint with the composition folded in, instead of a PEFT adapter");
  add_merge_options(desc, f.merge_flags);
  add_module_options(desc, f.modules);
  add_runtime_options(desc, f.runtime);
}

lora::Method parse_compose_method(const std::string& name) {
  try {
    return lora::parse_method(name, "--method", true);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

// The lorahub method (sum A, sum B), as a merged checkpoint or a PEFT adapter.
void compose_lorahub(ComposeFlags& f, const std::vector<std::string>& dirs, const std::vector<double>& w,
                     lora::Method method, bool merge) {
  apply_runtime_options(f.runtime);
  const auto loaded = model::load_model(f.model_dir, f.runtime.dtype, f.runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const lora::LoraPool pool = lora::LoraPool::load(model, dirs, !f.modules.ignore_base);
  const at::Tensor weights = at::tensor(w, at::kDouble);
  at::NoGradGuard no_grad;
  if (merge) {
    lora::write_merged_checkpoint(f.out_dir, model, pool, weights, method, f.model_dir);
    std::cout << "wrote merged checkpoint " << f.out_dir << " (" << dirs.size() << " modules, " << f.method_name
              << ")\n";
  } else {
    const auto adapter = lora::composed_adapter(pool, weights, method);
    lora::write_peft_adapter(f.out_dir, adapter, pool.target_modules(), pool.adapter(0).base_model_name_or_path,
                             model.peft_task_type());
    std::cout << "wrote PEFT adapter " << f.out_dir << " (r = " << adapter.r << ", " << dirs.size() << " modules, "
              << f.method_name << ")\n";
  }
}

}  // namespace

int compose_command(const Args& args) {
  ComposeFlags f;
  po::options_description desc(
      "lorahub compose --model DIR --modules DIR... --weights=w1,w2,... [--method lorahub|cat|linear|svd|ties|...] "
      "--out DIR [--merge]");
  add_compose_options(desc, f);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  const lora::Method method = parse_compose_method(f.method_name);
  const lora::MergeOptions merge_opts = merge_options(f.merge_flags, method, vm);
  const std::vector<double> w = parse_doubles(f.weights_text, "--weights");
  const std::vector<std::string> dirs = resolve_modules(f.modules);
  auto inputs = module_inputs(f.modules, dirs);
  inputs.push_back({"--model", f.model_dir});
  check_output_flags({{"--out", f.out_dir, true}}, inputs);
  if (w.size() != dirs.size()) {
    throw UsageError("--weights: " + std::to_string(w.size()) + " weights for " + std::to_string(dirs.size()) +
                     " modules");
  }
  if (method != lora::Method::kLoraHub) {  // cat too: its ranks may differ
    compose_with_merge_method(f.model_dir, dirs, w, merge_opts, f.runtime, f.out_dir, vm.count("merge") > 0,
                              !f.modules.ignore_base);
    return 0;
  }
  compose_lorahub(f, dirs, w, method, vm.count("merge") > 0);
  return 0;
}

}  // namespace lorahub::cli
