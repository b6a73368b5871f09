// lorahub eval: BBH accuracy of a model (optionally with an adapter or a
// composition of modules), zero-shot or in-context.

#include "cli/adapter_options.h"
#include "cli/commands.h"
#include "cli/common_options.h"
#include "io/atomic_file.h"
#include "learn/generation.h"
#include "model/loader.h"
#include "tasks/bbh.h"
#include "tasks/scoring.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
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

// Every flag of lorahub eval.
struct EvalFlags {
  std::string model_dir, bbh_dir, task_list = "all", method, predictions_path;
  int64_t max_eval = 0;
  learn::GenerateOptions gen;
  AdapterFlags adapter;
  RuntimeOptions runtime;
  StopFlags stop;
};

void add_eval_options(po::options_description& desc, EvalFlags& f) {
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&f.model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("bbh", po::value(&f.bbh_dir)->required(), "BBH directory (bbh/*.json, cot-prompts/*.txt)")
      ("tasks", po::value(&f.task_list)->default_value("all"), "comma-separated task names, or all")
      ("method", po::value(&f.method)->default_value("zero"), "zero (zero-shot prompt) or icl (with the exemplars)")
      ("max-eval", po::value(&f.max_eval)->default_value(0), "first N examples per task (0: all)")
      ("max-new-tokens", po::value(&f.gen.max_new_tokens)->default_value(256), "decoding limit")
      ("batch-size", po::value(&f.gen.batch_size)->default_value(16), "decoding batch")
      ("predictions", po::value(&f.predictions_path), "write every prediction as JSONL here");
  add_stop_options(desc, f.stop);
  add_adapter_options(desc, f.adapter);
  add_runtime_options(desc, f.runtime);
}

// The checks of the flags that need no model; sets the stop strings.
void check_eval_flags(EvalFlags& f, const po::variables_map& vm) {
  require_at_least(vm, {{"max-eval", 0}, {"max-new-tokens", 1}, {"batch-size", 1}});
  f.gen.stop_strings = stop_strings(f.stop, vm);
  if (f.method != "zero" && f.method != "icl") {
    throw UsageError("--method: expected zero or icl, found \"" + f.method + "\"");
  }
  const ModuleOptions& mods = f.adapter.modules;
  const std::vector<std::string> dirs =
      mods.dirs.empty() && mods.list_file.empty() ? std::vector<std::string>{} : resolve_modules(mods);
  auto inputs = module_inputs(mods, dirs);
  inputs.insert(inputs.end(), {{"--model", f.model_dir}, {"--adapter", f.adapter.adapter}, {"--bbh", f.bbh_dir}});
  check_output_flags({{"--predictions", f.predictions_path}}, inputs);
}

// The tasks of --tasks (comma-separated, or all), loaded.
std::vector<tasks::BbhTask> load_tasks(const std::string& bbh_dir, const std::string& task_list) {
  std::vector<std::string> names;
  std::stringstream ss(task_list);
  for (std::string t; std::getline(ss, t, ',');) names.push_back(t);
  names = tasks::resolve_bbh_tasks(bbh_dir, names);
  std::vector<tasks::BbhTask> bbh;
  for (const auto& n : names) bbh.push_back(tasks::load_bbh_task(bbh_dir, n));
  return bbh;
}

// One task's first `n` examples, prompted as --method says, decoded in
// batches (progress on a terminal, "[t/tasks]" counting from 1).
std::vector<std::string> predict(const model::LanguageModel& m, const model::Tokenizer& tokenizer,
                                 const AdaptedModel& adapted, const EvalFlags& f, const tasks::BbhTask& task, size_t n,
                                 size_t t, size_t n_tasks) {
  std::vector<std::string> prompts, outputs;
  for (size_t i = 0; i < n; ++i) {
    prompts.push_back(f.method == "icl" ? tasks::icl_prompt(task, task.examples[i].input)
                                        : tasks::zero_shot_prompt(task, task.examples[i].input));
  }
  const bool tty = ::isatty(2);
  for (size_t start = 0; start < n; start += static_cast<size_t>(f.gen.batch_size)) {
    const size_t end = std::min(n, start + static_cast<size_t>(f.gen.batch_size));
    const auto part = learn::generate(m, tokenizer, {prompts.begin() + static_cast<long>(start), prompts.begin() + static_cast<long>(end)},
                                      f.gen, adapted.lora());
    outputs.insert(outputs.end(), part.begin(), part.end());
    if (tty) std::fprintf(stderr, "\r[%zu/%zu tasks] %s %zu/%zu", t + 1, n_tasks, task.name.c_str(), end, n);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  return outputs;
}

// Scores every task, printing a row each; returns the average accuracy and
// appends the predictions as JSONL to `predictions` (with --predictions).
double evaluate_tasks(const model::LanguageModel& m, const model::Tokenizer& tokenizer, const AdaptedModel& adapted,
                      const EvalFlags& f, const std::vector<tasks::BbhTask>& bbh, std::string& predictions) {
  double sum = 0;
  std::printf("%-45s %9s %8s\n", "task", "accuracy", "n");
  for (size_t t = 0; t < bbh.size(); ++t) {
    const auto& task = bbh[t];
    const size_t n =
        f.max_eval > 0 ? std::min(task.examples.size(), static_cast<size_t>(f.max_eval)) : task.examples.size();
    std::vector<std::string> targets;
    for (size_t i = 0; i < n; ++i) targets.push_back(task.examples[i].target);
    const auto outputs = predict(m, tokenizer, adapted, f, task, n, t, bbh.size());
    const auto s = tasks::score(outputs, targets);
    sum += s.accuracy();
    std::printf("%-45s %9.4f %8lld\n", task.name.c_str(), s.accuracy(), static_cast<long long>(s.total));
    if (!f.predictions_path.empty()) {
      for (size_t i = 0; i < n; ++i) {
        const nlohmann::json line{
            {"task", task.name}, {"index", i}, {"target", targets[i]}, {"prediction", outputs[i]}};
        predictions += line.dump() + "\n";
      }
    }
  }
  return sum / static_cast<double>(bbh.size());
}

}  // namespace

int eval_command(const Args& args) {
  EvalFlags f;
  po::options_description desc(
      "lorahub eval --model DIR [--adapter DIR | --modules ... --weights=...] --bbh DIR --tasks a,b|all --method zero|icl");
  add_eval_options(desc, f);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  check_eval_flags(f, vm);
  const std::vector<tasks::BbhTask> bbh = load_tasks(f.bbh_dir, f.task_list);
  apply_runtime_options(f.runtime);

  const auto loaded = model::load_model(f.model_dir, f.runtime.dtype, f.runtime.device);
  const model::LanguageModel& model = *loaded.model;
  // As the reference evaluates: LoRA compositions merged into the weights (IA3 at run time).
  const AdaptedModel adapted = adapt_model(model, f.adapter, true);
  // Written whole at the end (io::write_atomically): a failed evaluation leaves an earlier file as it was.
  std::string predictions;
  const double average = evaluate_tasks(adapted.model(model), *loaded.tokenizer, adapted, f, bbh, predictions);
  if (!f.predictions_path.empty()) {
    io::write_atomically(f.predictions_path, [&](std::ostream& out) { out << predictions; });
  }
  std::printf("%-45s %9.4f %8zu\n", "average", average, bbh.size());
  return 0;
}

}  // namespace lorahub::cli
