// lorahub train-lora: gradient training of a LoRA adapter (or the full model)
// on a JSONL file or a BBH task; writes a PEFT adapter (or a checkpoint).

#include "cli/commands.h"
#include "cli/common_options.h"
#include "learn/generation.h"
#include "learn/trainer.h"
#include "lora/ia3_adapter.h"
#include "lora/peft_export.h"
#include "model/loader.h"
#include "model/weight_store.h"
#include "tasks/bbh.h"
#include "tasks/examples.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <boost/program_options.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace lorahub::cli {

int train_command(const Args& args) {
  std::string model_dir, data, bbh_dir, task, out_dir, mode, targets = "q,v";
  learn::TrainOptions o;
  RuntimeOptions runtime;
  po::options_description desc(
      "lorahub train-lora --model DIR (--data FILE.jsonl | --bbh DIR --task NAME) --out DIR [--mode lora|full|ia3]");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (T5)")
      ("data", po::value(&data), "training examples, JSONL with input and target")
      ("bbh", po::value(&bbh_dir), "BBH directory (with --task: train on the task's zero-shot prompts)")
      ("task", po::value(&task), "BBH task name")
      ("out", po::value(&out_dir)->required(), "output: a PEFT adapter (lora, ia3) or a checkpoint (full)")
      ("mode", po::value(&mode)->default_value("lora"), "lora, ia3 (PEFT adapters) or full (a checkpoint)")
      ("rank", po::value(&o.rank)->default_value(16), "LoRA rank")
      ("alpha", po::value(&o.alpha)->default_value(32), "LoRA alpha (scale = alpha / rank)")
      ("targets", po::value(&targets)->default_value("q,v"), "LoRA target projections, comma-separated")
      ("lr", po::value(&o.lr)->default_value(1e-3), "AdamW learning rate")
      ("weight-decay", po::value(&o.weight_decay)->default_value(0.0), "AdamW weight decay")
      ("steps", po::value(&o.steps)->default_value(200), "optimizer steps")
      ("batch-size", po::value(&o.batch_size)->default_value(8), "examples per step")
      ("seed", po::value(&o.seed)->default_value(0), "initialisation and batch order");
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  require_at_least(vm, {{"rank", 1}, {"steps", 1}, {"batch-size", 1}});
  o.mode = learn::parse_train_mode(mode, "--mode");
  o.targets.clear();
  std::stringstream ss(targets);
  for (std::string t; std::getline(ss, t, ',');) o.targets.push_back(t);
  if (data.empty() == (bbh_dir.empty() || task.empty())) {
    throw UsageError("give either --data FILE.jsonl or --bbh DIR --task NAME");
  }
  refuse_outputs_over_inputs({{"--out", out_dir}}, {{"--model", model_dir}, {"--data", data}, {"--bbh", bbh_dir}});
  std::vector<std::string> inputs, outputs;
  if (!data.empty()) {
    for (const auto& e : tasks::read_examples_jsonl(data)) {
      inputs.push_back(e.input);
      outputs.push_back(e.target);
    }
  } else {
    const auto t = tasks::load_bbh_task(bbh_dir, tasks::resolve_bbh_tasks(bbh_dir, {task}).at(0));
    for (const auto& e : t.examples) {
      inputs.push_back(tasks::zero_shot_prompt(t, e.input));
      outputs.push_back(e.target);
    }
  }
  apply_runtime_options(runtime);
  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const auto r = learn::train(model, learn::encode_inputs(*loaded.tokenizer, inputs),
                              learn::encode_targets(*loaded.tokenizer, outputs), o);
  std::printf("trained %s on %zu examples: loss %.4f (first step) -> %.4f (last step)\n", mode.c_str(), inputs.size(),
              r.step_losses.front(), r.step_losses.back());
  if (o.mode == learn::TrainMode::kLora) {
    lora::write_peft_adapter(out_dir, r.adapter, o.targets, model_dir, model.peft_task_type());
    std::printf("wrote PEFT adapter %s (r = %lld, %zu projections)\n", out_dir.c_str(), static_cast<long long>(o.rank),
                r.target_names.size());
  } else if (o.mode == learn::TrainMode::kIa3) {
    lora::write_peft_ia3_adapter(out_dir, model, r.adaptation, model_dir);
    std::printf("wrote PEFT IA3 adapter %s (k, v and wo of every block)\n", out_dir.c_str());
  } else {
    io::TensorMap tensors;
    for (const auto& [name, t] : r.weights->tensors()) tensors[name] = t.detach().to(at::kCPU);
    model.save(out_dir, tensors);
    model::copy_tokenizer_files(model_dir, out_dir);
    std::printf("wrote fine-tuned checkpoint %s\n", out_dir.c_str());
  }
  return 0;
}

}  // namespace lorahub::cli
