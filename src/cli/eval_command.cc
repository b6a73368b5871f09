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

int eval_command(const Args& args) {
  std::string model_dir, bbh_dir, task_list = "all", method, predictions_path;
  int64_t max_eval = 0;
  learn::GenerateOptions gen;
  AdapterFlags adapter;
  RuntimeOptions runtime;
  StopFlags stop;
  po::options_description desc(
      "lorahub eval --model DIR [--adapter DIR | --modules ... --weights=...] --bbh DIR --tasks a,b|all --method zero|icl");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("bbh", po::value(&bbh_dir)->required(), "BBH directory (bbh/*.json, cot-prompts/*.txt)")
      ("tasks", po::value(&task_list)->default_value("all"), "comma-separated task names, or all")
      ("method", po::value(&method)->default_value("zero"), "zero (zero-shot prompt) or icl (with the exemplars)")
      ("max-eval", po::value(&max_eval)->default_value(0), "first N examples per task (0: all)")
      ("max-new-tokens", po::value(&gen.max_new_tokens)->default_value(256), "decoding limit")
      ("batch-size", po::value(&gen.batch_size)->default_value(16), "decoding batch")
      ("predictions", po::value(&predictions_path), "write every prediction as JSONL here");
  add_stop_options(desc, stop);
  add_adapter_options(desc, adapter);
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  require_at_least(vm, {{"max-eval", 0}, {"max-new-tokens", 1}, {"batch-size", 1}});
  gen.stop_strings = stop_strings(stop, vm);
  if (method != "zero" && method != "icl") throw UsageError("--method: expected zero or icl, found \"" + method + "\"");
  {
    const ModuleOptions& mods = adapter.modules;
    const std::vector<std::string> dirs =
        mods.dirs.empty() && mods.list_file.empty() ? std::vector<std::string>{} : resolve_modules(mods);
    auto inputs = module_inputs(mods, dirs);
    inputs.insert(inputs.end(), {{"--model", model_dir}, {"--adapter", adapter.adapter}, {"--bbh", bbh_dir}});
    check_output_flags({{"--predictions", predictions_path}}, inputs);
  }
  std::vector<std::string> names;
  std::stringstream ss(task_list);
  for (std::string t; std::getline(ss, t, ',');) names.push_back(t);
  names = tasks::resolve_bbh_tasks(bbh_dir, names);
  std::vector<tasks::BbhTask> bbh;
  for (const auto& n : names) bbh.push_back(tasks::load_bbh_task(bbh_dir, n));
  apply_runtime_options(runtime);

  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const model::Tokenizer& tokenizer = *loaded.tokenizer;
  // As the reference evaluates: LoRA compositions merged into the weights (IA3 at run time).
  const AdaptedModel adapted = adapt_model(model, adapter, true);
  const model::LanguageModel& m = adapted.model(model);

  // Written whole at the end (io::write_atomically): a failed evaluation leaves an earlier file as it was.
  std::string predictions;
  const bool tty = ::isatty(2);
  double sum = 0;
  std::printf("%-45s %9s %8s\n", "task", "accuracy", "n");
  for (size_t t = 0; t < bbh.size(); ++t) {
    const auto& task = bbh[t];
    const size_t n = max_eval > 0 ? std::min(task.examples.size(), static_cast<size_t>(max_eval)) : task.examples.size();
    std::vector<std::string> prompts, targets, outputs;
    for (size_t i = 0; i < n; ++i) {
      prompts.push_back(method == "icl" ? tasks::icl_prompt(task, task.examples[i].input)
                                        : tasks::zero_shot_prompt(task, task.examples[i].input));
      targets.push_back(task.examples[i].target);
    }
    for (size_t start = 0; start < n; start += static_cast<size_t>(gen.batch_size)) {
      const size_t end = std::min(n, start + static_cast<size_t>(gen.batch_size));
      const auto part = learn::generate(m, tokenizer, {prompts.begin() + static_cast<long>(start), prompts.begin() + static_cast<long>(end)}, gen,
                                        adapted.lora());
      outputs.insert(outputs.end(), part.begin(), part.end());
      if (tty) std::fprintf(stderr, "\r[%zu/%zu tasks] %s %zu/%zu", t + 1, bbh.size(), task.name.c_str(), end, n);
    }
    if (tty) std::fprintf(stderr, "\r\033[K");
    const auto s = tasks::score(outputs, targets);
    sum += s.accuracy();
    std::printf("%-45s %9.4f %8lld\n", task.name.c_str(), s.accuracy(), static_cast<long long>(s.total));
    if (!predictions_path.empty()) {
      for (size_t i = 0; i < n; ++i) {
        const nlohmann::json line{
            {"task", task.name}, {"index", i}, {"target", targets[i]}, {"prediction", outputs[i]}};
        predictions += line.dump() + "\n";
      }
    }
  }
  if (!predictions_path.empty()) {
    io::write_atomically(predictions_path, [&](std::ostream& out) { out << predictions; });
  }
  std::printf("%-45s %9.4f %8zu\n", "average", sum / static_cast<double>(bbh.size()), bbh.size());
  return 0;
}

}  // namespace lorahub::cli
