// lorahub eval: BBH accuracy of a model (optionally with an adapter or a
// composition of modules), zero-shot or in-context; or, with --examples, the
// teacher-forced losses of a JSONL of (input, target) pairs.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "learn/generation.h"
#include "lora/composition.h"
#include "lora/ia3_adapter.h"
#include "lora/lora_pool.h"
#include "model/loader.h"
#include "tasks/bbh.h"
#include "tasks/examples.h"
#include "tasks/scoring.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace lorahub::cli {
namespace {

struct EvalOptions {
  std::string model_dir, adapter, weights_text, composition, bbh_dir, task_list = "all", method, predictions_path;
  std::string examples_path;
  int64_t max_eval = 0;
  learn::GenerateOptions gen;
  ModuleOptions modules;
  RuntimeOptions runtime;
};

// The model to evaluate: the base, the base with one adapter or a composition
// merged into its weights (as the reference does), or an IA3 adapter's scales
// applied at run time.
struct EvalModel {
  model::LoadedModel loaded;
  std::shared_ptr<const model::LanguageModel> composed;
  model::LowRankSet ia3;
  const model::LanguageModel& model() const { return composed ? *composed : *loaded.model; }
  const model::LowRankSet* runtime_adapter() const { return ia3.scales.empty() ? nullptr : &ia3; }
};

EvalModel load_eval_model(EvalOptions& o) {
  const bool have_modules = !o.modules.dirs.empty() || !o.modules.list_file.empty();
  if (!o.adapter.empty() && have_modules) throw UsageError("give --adapter or --modules, not both");
  if (have_modules != !o.weights_text.empty()) throw UsageError("--modules and --weights go together");
  std::vector<std::string> dirs;
  std::vector<double> w;
  if (have_modules) {
    dirs = resolve_modules(o.modules);
    w = parse_doubles(o.weights_text, "--weights");
    if (w.size() != dirs.size()) throw UsageError("--weights: " + std::to_string(w.size()) + " weights for " + std::to_string(dirs.size()) + " modules");
  }
  apply_runtime_options(o.runtime);
  EvalModel e{model::load_model(o.model_dir, o.runtime.dtype, o.runtime.device), nullptr, {}};
  const model::LanguageModel& base = *e.loaded.model;
  if (!o.adapter.empty() && lora::peft_type(o.adapter) == "IA3") {
    e.ia3 = lora::load_peft_ia3_adapter(o.adapter, base);
  } else if (!o.adapter.empty()) {
    const auto pool = lora::LoraPool::load(base, {o.adapter}, false);
    e.composed = base.with_weights(lora::merge(base, pool, at::ones({1}, at::kDouble), lora::Method::kLoraHub));
  } else if (have_modules) {
    const auto pool = lora::LoraPool::load(base, dirs, !o.modules.ignore_base);
    e.composed = base.with_weights(
        lora::merge(base, pool, at::tensor(w, at::kDouble), lora::parse_method(o.composition, "--composition")));
  }
  return e;
}

// --examples: one JSON object on stdout with the loss of the whole batch (HF
// `model(**batch).loss`: mean cross-entropy over every target token of the
// right-padded batch) and each example's mean token cross-entropy.
int print_example_losses(const EvalOptions& o, const EvalModel& e) {
  const auto examples = tasks::read_examples_jsonl(o.examples_path);
  if (examples.empty()) throw UsageError("--examples: " + o.examples_path + " holds no examples");
  std::vector<model::TokenIds> inputs, targets;
  for (const auto& ex : examples) {
    inputs.push_back(e.loaded.tokenizer->encode_input(ex.input));
    targets.push_back(e.loaded.tokenizer->encode_target(ex.target));
  }
  at::NoGradGuard no_grad;
  const auto batch = e.model().make_pairs(inputs, targets);
  const auto ce = e.model().token_losses(batch, e.runtime_adapter()).to(at::kDouble).cpu();
  const auto mask = batch.labels.ne(-100).to(at::kDouble).cpu();
  const auto per_example = (ce * mask).sum(1) / mask.sum(1);
  const double batch_loss = ((ce * mask).sum() / mask.sum()).item<double>();
  nlohmann::json out{{"examples", examples.size()}, {"target_tokens", mask.sum().item<int64_t>()},
                     {"batch_loss", batch_loss}, {"per_example_loss", nlohmann::json::array()}};
  for (int64_t i = 0; i < per_example.size(0); ++i) out["per_example_loss"].push_back(per_example[i].item<double>());
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// Accuracy of one BBH task; its predictions go to `predictions` when open.
double eval_bbh_task(const EvalOptions& o, const EvalModel& e, const tasks::BbhTask& task, std::string_view progress,
                     std::ofstream& predictions) {
  const size_t n = o.max_eval > 0 ? std::min(task.examples.size(), static_cast<size_t>(o.max_eval)) : task.examples.size();
  std::vector<std::string> prompts, targets, outputs;
  for (size_t i = 0; i < n; ++i) {
    prompts.push_back(o.method == "icl" ? tasks::icl_prompt(task, task.examples[i].input)
                                        : tasks::zero_shot_prompt(task, task.examples[i].input));
    targets.push_back(task.examples[i].target);
  }
  const bool tty = ::isatty(2);
  const auto batch = static_cast<size_t>(o.gen.batch_size);
  for (size_t start = 0; start < n; start += batch) {
    const size_t end = std::min(n, start + batch);
    const std::vector<std::string> part_prompts(prompts.begin() + static_cast<long>(start), prompts.begin() + static_cast<long>(end));
    const auto part = learn::generate(e.model(), *e.loaded.tokenizer, part_prompts, o.gen, e.runtime_adapter());
    outputs.insert(outputs.end(), part.begin(), part.end());
    if (tty) std::fprintf(stderr, "\r%.*s %s %zu/%zu", static_cast<int>(progress.size()), progress.data(), task.name.c_str(), end, n);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  const auto s = tasks::score(outputs, targets);
  std::printf("%-45s %9.4f %8lld\n", task.name.c_str(), s.accuracy(), static_cast<long long>(s.total));
  if (predictions.is_open()) {
    for (size_t i = 0; i < n; ++i) {
      predictions << nlohmann::json{{"task", task.name}, {"index", i}, {"target", targets[i]}, {"prediction", outputs[i]}}.dump() << "\n";
    }
  }
  return s.accuracy();
}

}  // namespace

int eval_command(const Args& args) {
  EvalOptions o;
  po::options_description desc(
      "lorahub eval --model DIR [--adapter DIR | --modules ... --weights=...] (--bbh DIR --tasks a,b|all --method zero|icl | --examples FILE.jsonl)");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&o.model_dir)->required(), "Hugging Face model directory (T5 or Llama family)")
      ("adapter", po::value(&o.adapter), "a PEFT adapter to apply (LoRA or IA3)")
      ("weights", po::value(&o.weights_text), "composition weights for --modules (write --weights=-0.5,...)")
      ("composition", po::value(&o.composition)->default_value("lorahub"), "lorahub or cat (with --modules)")
      ("bbh", po::value(&o.bbh_dir), "BBH directory (bbh/*.json, cot-prompts/*.txt)")
      ("examples", po::value(&o.examples_path),
       "JSONL of input/target pairs: print their teacher-forced losses as JSON (batch_loss, per_example_loss) instead of BBH accuracy")
      ("tasks", po::value(&o.task_list)->default_value("all"), "comma-separated task names, or all")
      ("method", po::value(&o.method)->default_value("zero"), "zero (zero-shot prompt) or icl (with the exemplars)")
      ("max-eval", po::value(&o.max_eval)->default_value(0), "first N examples per task (0: all)")
      ("max-new-tokens", po::value(&o.gen.max_new_tokens)->default_value(256), "decoding limit")
      ("batch-size", po::value(&o.gen.batch_size)->default_value(16), "decoding batch")
      ("predictions", po::value(&o.predictions_path), "write every prediction as JSONL here");
  add_module_options(desc, o.modules);
  add_runtime_options(desc, o.runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  require_at_least(vm, {{"max-eval", 0}, {"max-new-tokens", 1}, {"batch-size", 1}});
  if (o.bbh_dir.empty() == o.examples_path.empty()) throw UsageError("give --bbh (accuracy) or --examples (losses), one of them");
  if (o.method != "zero" && o.method != "icl") throw UsageError("--method: expected zero or icl, found \"" + o.method + "\"");
  {
    const std::vector<std::string> dirs =
        o.modules.dirs.empty() && o.modules.list_file.empty() ? std::vector<std::string>{} : resolve_modules(o.modules);
    auto inputs = module_inputs(o.modules, dirs);
    inputs.insert(inputs.end(), {{"--model", o.model_dir}, {"--adapter", o.adapter}, {"--bbh", o.bbh_dir},
                                 {"--examples", o.examples_path}});
    refuse_outputs_over_inputs({{"--predictions", o.predictions_path}}, inputs);
  }
  if (!o.examples_path.empty()) return print_example_losses(o, load_eval_model(o));

  std::vector<std::string> names;
  std::stringstream ss(o.task_list);
  for (std::string t; std::getline(ss, t, ',');) names.push_back(t);
  names = tasks::resolve_bbh_tasks(o.bbh_dir, names);
  std::vector<tasks::BbhTask> bbh;
  for (const auto& n : names) bbh.push_back(tasks::load_bbh_task(o.bbh_dir, n));
  const EvalModel e = load_eval_model(o);
  std::ofstream predictions;
  if (!o.predictions_path.empty()) {
    predictions.open(o.predictions_path);
    if (!predictions) throw std::runtime_error(o.predictions_path + ": cannot write");
  }
  double sum = 0;
  std::printf("%-45s %9s %8s\n", "task", "accuracy", "n");
  for (size_t t = 0; t < bbh.size(); ++t) {
    const std::string progress = "[" + std::to_string(t + 1) + "/" + std::to_string(bbh.size()) + " tasks]";
    sum += eval_bbh_task(o, e, bbh[t], progress, predictions);
  }
  std::printf("%-45s %9.4f %8zu\n", "average", sum / static_cast<double>(bbh.size()), bbh.size());
  return 0;
}

}  // namespace lorahub::cli
