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
#include <string>
#include <utility>
#include <vector>

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

// Every flag of lorahub learn.
struct LearnFlags {
  std::string model_dir, examples_path, method_name, loss_name, export_dir, eval_path, history_path;
  optim::OptimizerOptions opt_options;
  learn::ObjectiveOptions obj;
  learn::GenerateOptions gen;
  ModuleOptions modules;
  RuntimeOptions runtime;
  GradientFlags gradient;
  StopFlags stop;
  double bound = learn::defaults::kBound;
};

void add_learn_options(po::options_description& desc, LearnFlags& f) {
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&f.model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("examples", po::value(&f.examples_path)->required(), "few-shot examples, JSONL with input and target (or output)")
      ("optimizer", po::value(&f.opt_options.name)->default_value("cobyla"), (util::names_list(optim::kOptimizerNames) +
       " (gradient-free), or adamw (gradient descent on the weights, base and modules frozen)").c_str())
      ("budget", po::value(&f.opt_options.budget)->default_value(optim::kDefaultBudget), "objective evaluations")
      ("seed", po::value(&f.opt_options.seed)->default_value(0), "optimizer seed (cmaes, random, one_plus_one)")
      ("population", po::value(&f.opt_options.population)->default_value(0), "CMA-ES population (0: 4 + 3 ln N)")
      ("bound", po::value(&f.bound)->default_value(learn::defaults::kBound), "weights are searched in [-bound, bound]")
      ("method", po::value(&f.method_name)->default_value("lorahub"), "lorahub or cat")
      ("loss", po::value(&f.loss_name)->default_value("lorahub"), (util::names_list(learn::kLossNames) +
       " (lorahub: sum of batch means / examples; token_mean: mean over target tokens)").c_str())
      ("loss-batch-size", po::value(&f.obj.batch_size)->default_value(0), "examples per loss batch (0: all)")
      ("l1", po::value(&f.obj.l1_weight)->default_value(learn::defaults::kL1), "weight of the mean |w| regulariser (adamw: 0 unless given)")
      ("candidates-per-pass", po::value(&f.obj.candidates_per_pass)->default_value(learn::defaults::kCandidatesPerPass), "candidates per forward pass")
      ("exact-batch", "batch candidates over all examples in one padded batch, as the reference does, never in "
                      "length groups (only a GPU uses the groups: on the CPU the model skips padding itself)")
      ("export", po::value(&f.export_dir), "write the learned composition as a PEFT adapter here")
      ("history", po::value(&f.history_path), "write every evaluation (weights, loss, objective, wall seconds) as JSON here")
      ("eval", po::value(&f.eval_path), "JSONL to score the merged model on (exact match)")
      ("max-new-tokens", po::value(&f.gen.max_new_tokens)->default_value(256), "decoding limit for --eval")
      ("batch-size", po::value(&f.gen.batch_size)->default_value(8), "decoding batch for --eval")
      ("quiet", "no progress bar");
  add_stop_options(desc, f.stop);
  add_gradient_options(desc, f.gradient);
  add_module_options(desc, f.modules);
  add_runtime_options(desc, f.runtime);
}

// The checks of the flags' values that need no file; sets the stop strings.
void check_learn_flags(LearnFlags& f, const po::variables_map& vm) {
  f.gen.stop_strings = stop_strings(f.stop, vm);
  check_gradient_flags_unused(vm, f.opt_options.name);
  require_at_least(vm, {{"budget", 1}, {"population", 0}, {"candidates-per-pass", 1}, {"loss-batch-size", 0},
                        {"max-new-tokens", 1}, {"batch-size", 1}, {"epochs", 0}, {"steps", 0},
                        {"train-batch-size", 1}, {"eval-every", 0}});
  if (flag_given(vm, "population") && f.opt_options.name != "cmaes") {
    throw UsageError("--population: used by --optimizer cmaes only");
  }
  if (f.opt_options.population == 1) throw UsageError("--population: expected 0 (4 + 3 ln N) or at least 2, found 1");
}

// The module directories, once every output flag is checked against the inputs.
std::vector<std::string> learn_modules(const LearnFlags& f) {
  const auto dirs = resolve_modules(f.modules);
  auto read = module_inputs(f.modules, dirs);
  read.insert(read.end(), {{"--model", f.model_dir}, {"--examples", f.examples_path}, {"--eval", f.eval_path}});
  check_output_flags(
      {{"--export", f.export_dir, true}, {"--history", f.history_path}, {"--weights-out", f.gradient.weights_out}},
      read);
  return dirs;
}

std::vector<tasks::Example> read_eval_examples(const std::string& eval_path) {
  return eval_path.empty() ? std::vector<tasks::Example>{} : tasks::read_examples_jsonl(eval_path);
}

// --optimizer adamw: learn_gradient.h.
int learn_by_gradient(LearnFlags& f, const std::vector<std::string>& dirs, const po::variables_map& vm) {
  const LearnRequest request{f.model_dir, f.method_name, f.export_dir, f.history_path, f.eval_path, dirs,
                             !f.modules.ignore_base, tasks::read_examples_jsonl(f.examples_path),
                             read_eval_examples(f.eval_path), f.gen, vm["l1"].defaulted() ? 0.0 : f.obj.l1_weight,
                             vm.count("quiet") > 0};
  return learn_with_gradient(request, f.gradient, f.runtime, vm);
}

// Inputs and targets of `examples`, in order.
std::pair<std::vector<std::string>, std::vector<std::string>> texts(const std::vector<tasks::Example>& examples) {
  std::pair<std::vector<std::string>, std::vector<std::string>> out;
  for (const auto& e : examples) {
    out.first.push_back(e.input);
    out.second.push_back(e.target);
  }
  return out;
}

// The gradient-free search of the weights on the few-shot examples.
learn::LearnResult search_weights(const model::LanguageModel& model, const model::Tokenizer& tokenizer,
                                  const lora::LoraPool& pool, const std::vector<tasks::Example>& examples,
                                  const learn::ObjectiveOptions& obj, optim::Optimizer& optimizer, bool show) {
  const auto [inputs, targets] = texts(examples);
  const learn::FewShotObjective objective(model, pool, learn::encode_inputs(tokenizer, inputs),
                                          learn::encode_targets(tokenizer, targets), obj);
  return learn::learn_weights(objective, optimizer,
                              [&](const optim::Optimizer& o, const auto&) { progress_bar(o, show); });
}

void print_weights(const learn::LearnResult& result, const LearnFlags& f, const std::vector<std::string>& dirs) {
  std::printf("best objective %.6f after %zu evaluations (%s, %s)\n", result.objective, result.history.size(),
              f.opt_options.name.c_str(), f.method_name.c_str());
  std::printf("%-10s  %s\n", "weight", "module");
  for (size_t i = 0; i < dirs.size(); ++i) std::printf("%+10.6f  %s\n", result.weights[i], dirs[i].c_str());
}

// --history: the search's settings, its best point and every evaluation.
void write_history(const learn::LearnResult& result, const LearnFlags& f, const std::vector<std::string>& dirs) {
  nlohmann::json h{{"optimizer", f.opt_options.name}, {"budget", f.opt_options.budget}, {"seed", f.opt_options.seed},
                   {"method", f.method_name}, {"modules", dirs}, {"best_weights", result.weights},
                   {"best_objective", result.objective}, {"evaluations", nlohmann::json::array()}};
  for (const auto& e : result.history) {
    h["evaluations"].push_back({{"weights", e.weights}, {"loss", e.loss}, {"objective", e.objective},
                                {"seconds", e.seconds}});
  }
  io::write_json_file(f.history_path, h);
}

// --eval: exact-match accuracy of the composition merged into the base
// weights, as the reference scores it.
void evaluate_merged(const model::LanguageModel& model, const model::Tokenizer& tokenizer, const lora::LoraPool& pool,
                     const at::Tensor& w, const std::vector<tasks::Example>& eval_examples, const LearnFlags& f) {
  const auto merged = model.with_weights(lora::merge(model, pool, w, f.obj.method));
  const auto [eval_inputs, eval_targets] = texts(eval_examples);
  const auto predictions = learn::generate(*merged, tokenizer, eval_inputs, f.gen);
  const auto s = tasks::score(predictions, eval_targets);
  std::printf("accuracy %.4f (%lld/%lld) on %s\n", s.accuracy(), static_cast<long long>(s.correct),
              static_cast<long long>(s.total), f.eval_path.c_str());
}

// The gradient-free path: the search, its report, --history, --export and --eval.
int learn_gradient_free(LearnFlags& f, const std::vector<std::string>& dirs, const po::variables_map& vm) {
  f.obj.method = lora::parse_method(f.method_name, "--method");
  f.obj.normalization = parse_loss(f.loss_name);
  if (!(f.bound > 0)) throw UsageError("--bound: expected a positive number");
  const auto examples = tasks::read_examples_jsonl(f.examples_path);
  const auto eval_examples = read_eval_examples(f.eval_path);
  auto optimizer = optim::make_optimizer(f.opt_options, learn::lorahub_box(static_cast<int64_t>(dirs.size()), f.bound));
  apply_runtime_options(f.runtime);

  const auto loaded = model::load_model(f.model_dir, f.runtime.dtype, f.runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const lora::LoraPool pool = lora::LoraPool::load(model, dirs, !f.modules.ignore_base);
  f.obj.pack_examples = !vm.count("exact-batch");
  const bool show = !vm.count("quiet") && ::isatty(2);
  const auto result = search_weights(model, *loaded.tokenizer, pool, examples, f.obj, *optimizer, show);
  print_weights(result, f, dirs);

  const at::Tensor w = at::tensor(result.weights, at::kDouble);
  if (!f.history_path.empty()) write_history(result, f, dirs);
  if (!f.export_dir.empty()) {
    lora::write_peft_adapter(f.export_dir, lora::composed_adapter(pool, w, f.obj.method), pool.target_modules(),
                             pool.adapter(0).base_model_name_or_path, model.peft_task_type());
    std::printf("exported PEFT adapter to %s\n", f.export_dir.c_str());
  }
  if (!eval_examples.empty()) evaluate_merged(model, *loaded.tokenizer, pool, w, eval_examples, f);
  return 0;
}

}  // namespace

int learn_command(const Args& args) {
  LearnFlags f;
  po::options_description desc(
      "lorahub learn --model DIR --modules DIR... --examples FILE.jsonl [--optimizer cobyla] [--budget 40]");
  add_learn_options(desc, f);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  check_learn_flags(f, vm);
  const auto dirs = learn_modules(f);
  if (f.opt_options.name == "adamw") return learn_by_gradient(f, dirs, vm);
  return learn_gradient_free(f, dirs, vm);
}

}  // namespace lorahub::cli
