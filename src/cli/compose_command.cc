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

int compose_command(const Args& args) {
  std::string model_dir, weights_text, method_name, out_dir;
  ModuleOptions modules;
  RuntimeOptions runtime;
  MergeFlags merge_flags;
  po::options_description desc(
      "lorahub compose --model DIR --modules DIR... --weights=w1,w2,... [--method lorahub|cat|linear|svd|ties|...] "
      "--out DIR [--merge]");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (the modules' base)")
      ("weights", po::value(&weights_text)->required(), "one weight per module, comma-separated (write --weights=-0.5,...)")
      ("method", po::value(&method_name)->default_value("lorahub"), "lorahub (sum A, sum B), cat (concatenated ranks) or a PEFT "
       "add_weighted_adapter method: linear, svd, ties, ties_svd, dare_linear, dare_ties, dare_linear_svd, "
       "dare_ties_svd, magnitude_prune, magnitude_prune_svd")
      ("out", po::value(&out_dir)->required(), "output directory")
      ("merge", "write a full checkpoint with the composition folded in, instead of a PEFT adapter");
  add_merge_options(desc, merge_flags);
  add_module_options(desc, modules);
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  const lora::Method method = [&] {
    try {
      return lora::parse_method(method_name, "--method", true);
    } catch (const std::invalid_argument& e) {
      throw UsageError(e.what());
    }
  }();
  const lora::MergeOptions merge_opts = merge_options(merge_flags, method, vm);
  const std::vector<double> w = parse_doubles(weights_text, "--weights");
  const std::vector<std::string> dirs = resolve_modules(modules);
  auto inputs = module_inputs(modules, dirs);
  inputs.push_back({"--model", model_dir});
  check_output_flags({{"--out", out_dir, true}}, inputs);
  if (w.size() != dirs.size()) {
    throw UsageError("--weights: " + std::to_string(w.size()) + " weights for " +
                                std::to_string(dirs.size()) + " modules");
  }
  if (method != lora::Method::kLoraHub) {  // cat too: its ranks may differ
    compose_with_merge_method(model_dir, dirs, w, merge_opts, runtime, out_dir, vm.count("merge") > 0,
                              !modules.ignore_base);
    return 0;
  }
  apply_runtime_options(runtime);
  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const lora::LoraPool pool = lora::LoraPool::load(model, dirs, !modules.ignore_base);
  const at::Tensor weights = at::tensor(w, at::kDouble);
  at::NoGradGuard no_grad;
  if (vm.count("merge")) {
    lora::write_merged_checkpoint(out_dir, model, pool, weights, method, model_dir);
    std::cout << "wrote merged checkpoint " << out_dir << " (" << dirs.size() << " modules, " << method_name << ")\n";
  } else {
    const auto adapter = lora::composed_adapter(pool, weights, method);
    lora::write_peft_adapter(out_dir, adapter, pool.target_modules(), pool.adapter(0).base_model_name_or_path,
                             model.peft_task_type());
    std::cout << "wrote PEFT adapter " << out_dir << " (r = " << adapter.r << ", " << dirs.size() << " modules, "
              << method_name << ")\n";
  }
  return 0;
}

}  // namespace lorahub::cli
