// lorahub learn: find LoraHub weights for a few examples, report, export, evaluate.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/learn_gradient.h"
#include "io/json_file.h"
#include "learn/learner.h"
#include "learn/objective.h"
#include "learn/generation.h"
#include "lora/composition.h"
#include "lora/lora_pool.h"
#include "lora/peft_export.h"
#include "optim/optimizer.h"
#include "model/loader.h"
#include "tasks/examples.h"
#include "tasks/scoring.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <unistd.h>
#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {
namespace {

void progress_bar(const optim::Optimizer& opt, bool enabled) {
  if (!enabled) return;
  const int width = 30;
  const int filled = static_cast<int>(width * opt.evaluations() / opt.budget());
  std::fprintf(stderr, "\r[%s%s] %lld/%lld  best objective %.6f", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), static_cast<long long>(opt.evaluations()),
               static_cast<long long>(opt.budget()), opt.best_value());
  if (opt.done()) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

learn::LossNormalization parse_loss(const std::string& name) {
  try {
    return util::parse_name(learn::kLossNames, name, "--loss");
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

}  // namespace

int learn_command(const Args& args) {
  std::string model_dir, examples_path, method_name, loss_name, export_dir, eval_path, history_path;
  optim::OptimizerOptions opt_options;
  learn::ObjectiveOptions obj;
  learn::GenerateOptions gen;
  ModuleOptions modules;
  RuntimeOptions runtime;
  GradientFlags gradient;
  StopFlags stop;
  double bound = learn::defaults::kBound;
  po::options_description desc(
      "lorahub learn --model DIR --modules DIR... --examples FILE.jsonl [--optimizer cobyla] [--budget 40]");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("examples", po::value(&examples_path)->required(), "few-shot examples, JSONL with input and target (or output)")
      ("optimizer", po::value(&opt_options.name)->default_value("cobyla"), (util::names_list(optim::kOptimizerNames) +
       " (gradient-free), or adamw (gradient descent on the weights, base and modules frozen)").c_str())
      ("budget", po::value(&opt_options.budget)->default_value(optim::kDefaultBudget), "objective evaluations")
      ("seed", po::value(&opt_options.seed)->default_value(0), "optimizer seed (cmaes, random, one_plus_one)")
      ("population", po::value(&opt_options.population)->default_value(0), "CMA-ES population (0: 4 + 3 ln N)")
      ("bound", po::value(&bound)->default_value(learn::defaults::kBound), "weights are searched in [-bound, bound]")
      ("method", po::value(&method_name)->default_value("lorahub"), "lorahub or cat")
      ("loss", po::value(&loss_name)->default_value("lorahub"), (util::names_list(learn::kLossNames) +
       " (lorahub: sum of batch means / examples; token_mean: mean over target tokens)").c_str())
      ("loss-batch-size", po::value(&obj.batch_size)->default_value(0), "examples per loss batch (0: all)")
      ("l1", po::value(&obj.l1_weight)->default_value(learn::defaults::kL1), "weight of the mean |w| regulariser (adamw: 0 unless given)")
      ("candidates-per-pass", po::value(&obj.candidates_per_pass)->default_value(learn::defaults::kCandidatesPerPass), "candidates per forward pass")
      ("exact-batch", "batch candidates over all examples in one padded batch, as the reference does, never in "
                      "length groups (only a GPU uses the groups: on the CPU the model skips padding itself)")
      ("export", po::value(&export_dir), "write the learned composition as a PEFT adapter here")
      ("history", po::value(&history_path), "write every evaluation (weights, loss, objective, wall seconds) as JSON here")
      ("eval", po::value(&eval_path), "JSONL to score the merged model on (exact match)")
      ("max-new-tokens", po::value(&gen.max_new_tokens)->default_value(256), "decoding limit for --eval")
      ("batch-size", po::value(&gen.batch_size)->default_value(8), "decoding batch for --eval")
      ("quiet", "no progress bar");
  add_stop_options(desc, stop);
  add_gradient_options(desc, gradient);
  add_module_options(desc, modules);
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  gen.stop_strings = stop_strings(stop, vm);
  check_gradient_flags_unused(vm, opt_options.name);
  require_at_least(vm, {{"budget", 1}, {"population", 0}, {"candidates-per-pass", 1}, {"loss-batch-size", 0},
                        {"max-new-tokens", 1}, {"batch-size", 1}, {"epochs", 0}, {"steps", 0},
                        {"train-batch-size", 1}, {"eval-every", 0}});
  if (flag_given(vm, "population") && opt_options.name != "cmaes") {
    throw UsageError("--population: used by --optimizer cmaes only");
  }
  if (opt_options.population == 1) throw UsageError("--population: expected 0 (4 + 3 ln N) or at least 2, found 1");
  const auto dirs = resolve_modules(modules);
  auto read = module_inputs(modules, dirs);
  read.insert(read.end(), {{"--model", model_dir}, {"--examples", examples_path}, {"--eval", eval_path}});
  check_output_flags(
      {{"--export", export_dir, true}, {"--history", history_path}, {"--weights-out", gradient.weights_out}},
      read);
  if (opt_options.name == "adamw") {
    const LearnRequest request{model_dir, method_name, export_dir, history_path, eval_path, dirs,
                               !modules.ignore_base, tasks::read_examples_jsonl(examples_path),
                               eval_path.empty() ? std::vector<tasks::Example>{} : tasks::read_examples_jsonl(eval_path),
                               gen, vm["l1"].defaulted() ? 0.0 : obj.l1_weight, vm.count("quiet") > 0};
    return learn_with_gradient(request, gradient, runtime, vm);
  }
  obj.method = lora::parse_method(method_name, "--method");
  obj.normalization = parse_loss(loss_name);
  if (!(bound > 0)) throw UsageError("--bound: expected a positive number");
  const auto examples = tasks::read_examples_jsonl(examples_path);
  const auto eval_examples = eval_path.empty() ? std::vector<tasks::Example>{} : tasks::read_examples_jsonl(eval_path);
  auto optimizer = optim::make_optimizer(opt_options, learn::lorahub_box(static_cast<int64_t>(dirs.size()), bound));
  apply_runtime_options(runtime);

  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const model::Tokenizer& tokenizer = *loaded.tokenizer;
  const lora::LoraPool pool = lora::LoraPool::load(model, dirs, !modules.ignore_base);
  std::vector<std::string> inputs, targets;
  for (const auto& e : examples) {
    inputs.push_back(e.input);
    targets.push_back(e.target);
  }
  obj.pack_examples = !vm.count("exact-batch");
  const learn::FewShotObjective objective(model, pool, learn::encode_inputs(tokenizer, inputs),
                                          learn::encode_targets(tokenizer, targets), obj);
  const bool show = !vm.count("quiet") && ::isatty(2);
  const auto result = learn::learn_weights(objective, *optimizer,
                                           [&](const optim::Optimizer& o, const auto&) { progress_bar(o, show); });

  std::printf("best objective %.6f after %zu evaluations (%s, %s)\n", result.objective, result.history.size(),
              opt_options.name.c_str(), method_name.c_str());
  std::printf("%-10s  %s\n", "weight", "module");
  for (size_t i = 0; i < dirs.size(); ++i) std::printf("%+10.6f  %s\n", result.weights[i], dirs[i].c_str());

  const at::Tensor w = at::tensor(result.weights, at::kDouble);
  if (!history_path.empty()) {
    nlohmann::json h{{"optimizer", opt_options.name}, {"budget", opt_options.budget}, {"seed", opt_options.seed},
                     {"method", method_name}, {"modules", dirs}, {"best_weights", result.weights},
                     {"best_objective", result.objective}, {"evaluations", nlohmann::json::array()}};
    for (const auto& e : result.history) {
      h["evaluations"].push_back({{"weights", e.weights}, {"loss", e.loss}, {"objective", e.objective},
                                        {"seconds", e.seconds}});
    }
    io::write_json_file(history_path, h);
  }
  if (!export_dir.empty()) {
    lora::write_peft_adapter(export_dir, lora::composed_adapter(pool, w, obj.method), pool.target_modules(),
                             pool.adapter(0).base_model_name_or_path, model.peft_task_type());
    std::printf("exported PEFT adapter to %s\n", export_dir.c_str());
  }
  if (!eval_examples.empty()) {
    // As the reference: the composition merged into the base weights.
    const auto merged = model.with_weights(lora::merge(model, pool, w, obj.method));
    std::vector<std::string> eval_inputs, eval_targets;
    for (const auto& e : eval_examples) {
      eval_inputs.push_back(e.input);
      eval_targets.push_back(e.target);
    }
    const auto predictions = learn::generate(*merged, tokenizer, eval_inputs, gen);
    const auto s = tasks::score(predictions, eval_targets);
    std::printf("accuracy %.4f (%lld/%lld) on %s\n", s.accuracy(), static_cast<long long>(s.correct),
                static_cast<long long>(s.total), eval_path.c_str());
  }
  return 0;
}

}  // namespace lorahub::cli
