// lorahub train-lora: gradient training of a LoRA adapter (or the full model)
// on a JSONL file or a BBH task; writes a PEFT adapter (or a checkpoint).

#include "cli/commands.h"
#include "cli/common_options.h"
#include "learn/generation.h"
#include "learn/objective.h"
#include "learn/trainer.h"
#include "lora/ia3_adapter.h"
#include "lora/peft_export.h"
#include "model/loader.h"
#include "model/target_modules.h"
#include "model/weight_store.h"
#include "tasks/bbh.h"
#include "tasks/examples.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace po = boost::program_options;

namespace lorahub::cli {
namespace {

// Every flag of lorahub train-lora.
struct TrainFlags {
  std::string model_dir, data, bbh_dir, task, out_dir, mode, targets;
  learn::TrainOptions o;
  RuntimeOptions runtime;
};

void add_train_options(po::options_description& desc, TrainFlags& f) {
  learn::TrainOptions& o = f.o;
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&f.model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("data", po::value(&f.data), "training examples, JSONL with input and target")
      ("bbh", po::value(&f.bbh_dir), "BBH directory (with --task: train on the task's zero-shot prompts)")
      ("task", po::value(&f.task), "BBH task name")
      ("out", po::value(&f.out_dir)->required(), "output: a PEFT adapter (lora, ia3) or a checkpoint (full)")
      ("mode", po::value(&f.mode)->default_value("lora"), "lora, ia3 (PEFT adapters) or full (a checkpoint)")
      ("rank", po::value(&o.rank)->default_value(16), "LoRA rank")
      ("alpha", po::value(&o.alpha)->default_value(32), "LoRA alpha (scale = alpha / rank)")
      ("targets", po::value(&f.targets), "LoRA target projections, comma-separated (default: PEFT's for the family: "
       "q,v for T5, q_proj,v_proj for Llama)")
      ("lr", po::value(&o.lr)->default_value(1e-3), "AdamW learning rate")
      ("weight-decay", po::value(&o.weight_decay)->default_value(0.0), "AdamW weight decay")
      ("steps", po::value(&o.steps)->default_value(200), "optimizer steps")
      ("batch-size", po::value(&o.batch_size)->default_value(8), "examples per step")
      ("seed", po::value(&o.seed)->default_value(0), "initialisation and batch order");
  add_runtime_options(desc, f.runtime);
}

// The checks of the flags that need no model; sets the mode and the targets.
void check_train_flags(TrainFlags& f, const po::variables_map& vm) {
  require_at_least(vm, {{"rank", 1}, {"steps", 1}, {"batch-size", 1}});
  f.o.mode = learn::parse_train_mode(f.mode, "--mode");
  std::stringstream ss(f.targets);
  for (std::string t; std::getline(ss, t, ',');) f.o.targets.push_back(t);
  if (vm.count("targets") && f.o.targets.empty()) throw UsageError("--targets: no projection named");
  if (vm.count("targets") && f.o.mode != learn::TrainMode::kLora) throw UsageError("--targets: used by --mode lora only");
  if (f.data.empty() == (f.bbh_dir.empty() || f.task.empty())) {
    throw UsageError("give either --data FILE.jsonl or --bbh DIR --task NAME");
  }
  check_output_flags({{"--out", f.out_dir, true}},
                     {{"--model", f.model_dir}, {"--data", f.data}, {"--bbh", f.bbh_dir}});
}

// The training texts: --data's examples, or the BBH task's zero-shot prompts.
void read_training_texts(const TrainFlags& f, std::vector<std::string>& inputs, std::vector<std::string>& outputs) {
  if (!f.data.empty()) {
    for (const auto& e : tasks::read_examples_jsonl(f.data)) {
      inputs.push_back(e.input);
      outputs.push_back(e.target);
    }
  } else {
    const auto t = tasks::load_bbh_task(f.bbh_dir, tasks::resolve_bbh_tasks(f.bbh_dir, {f.task}).at(0));
    for (const auto& e : t.examples) {
      inputs.push_back(tasks::zero_shot_prompt(t, e.input));
      outputs.push_back(e.target);
    }
  }
}

// The model's default targets when none were given; each must name a projection.
void resolve_targets(const model::LanguageModel& model, learn::TrainOptions& o) {
  if (o.targets.empty()) o.targets = model.default_lora_targets();
  for (const auto& t : o.targets) {
    if (model::TargetModules::list({t}).select(model.projections()).empty()) {
      throw UsageError("--targets: '" + t + "' names no projection of the model (" + model.target_modules_hint() + ")");
    }
  }
}

// The trained model's loss on all the examples in one batch (as `lorahub
// loss` computes it from what write_trained writes).
void print_final_loss(const model::LanguageModel& model, const learn::TrainResult& r,
                      const std::vector<model::TokenIds>& input_ids, const std::vector<model::TokenIds>& target_ids) {
  at::NoGradGuard no_grad;
  const auto tuned = r.weights ? model.with_weights(r.weights) : nullptr;
  const model::LanguageModel& m = tuned ? *tuned : model;
  const model::PairBatch batch = m.make_pairs(input_ids, target_ids);
  const at::Tensor ce = m.token_losses(batch, tuned ? nullptr : &r.adaptation);
  std::printf("final loss %.9g on all %zu examples\n", learn::hf_batch_loss(ce, batch, 0, batch.rows()),
              input_ids.size());
}

// --out: a PEFT LoRA or IA3 adapter, or a full checkpoint.
void write_trained(const TrainFlags& f, const model::LanguageModel& model, const learn::TrainResult& r) {
  if (f.o.mode == learn::TrainMode::kLora) {
    lora::write_peft_adapter(f.out_dir, r.adapter, r.target_modules, f.model_dir, model.peft_task_type());
    std::printf("wrote PEFT adapter %s (r = %lld, %zu projections)\n", f.out_dir.c_str(),
                static_cast<long long>(f.o.rank), r.target_names.size());
  } else if (f.o.mode == learn::TrainMode::kIa3) {
    lora::write_peft_ia3_adapter(f.out_dir, model, r.adaptation, f.model_dir);
    std::printf("wrote PEFT IA3 adapter %s (%zu projections: the attention keys and values and the feed-forward "
                "output of every layer)\n", f.out_dir.c_str(),
                std::count_if(r.adaptation.scales.begin(), r.adaptation.scales.end(),
                              [](const auto& s) { return s.defined(); }));
  } else {
    io::TensorMap tensors;
    for (const auto& [name, t] : r.weights->tensors()) tensors[name] = t.detach().to(at::kCPU);
    model.save(f.out_dir, tensors);
    model::copy_tokenizer_files(f.model_dir, f.out_dir);
    std::printf("wrote fine-tuned checkpoint %s\n", f.out_dir.c_str());
  }
}

}  // namespace

int train_command(const Args& args) {
  TrainFlags f;
  po::options_description desc(
      "lorahub train-lora --model DIR (--data FILE.jsonl | --bbh DIR --task NAME) --out DIR [--mode lora|full|ia3]");
  add_train_options(desc, f);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  check_train_flags(f, vm);
  std::vector<std::string> inputs, outputs;
  read_training_texts(f, inputs, outputs);
  apply_runtime_options(f.runtime);
  const auto loaded = model::load_model(f.model_dir, f.runtime.dtype, f.runtime.device);
  const model::LanguageModel& model = *loaded.model;
  resolve_targets(model, f.o);
  const auto input_ids = learn::encode_inputs(*loaded.tokenizer, inputs);
  const auto target_ids = learn::encode_targets(*loaded.tokenizer, outputs);
  const auto r = learn::train(model, input_ids, target_ids, f.o);
  std::printf("trained %s on %zu examples: loss %.4f (first step) -> %.4f (last step)\n", f.mode.c_str(),
              inputs.size(), r.step_losses.front(), r.step_losses.back());
  print_final_loss(model, r, input_ids, target_ids);
  write_trained(f, model, r);
  return 0;
}

}  // namespace lorahub::cli
