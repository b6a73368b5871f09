#pragma once
// `lorahub demo-world`: builds, deterministically and with the project's own
// training code, everything the demo sweep needs, in the real formats, for
// a model family (T5 or Llama):
//   <out>/model/       HF checkpoint of the family (config.json, model.safetensors)
//                      and its tokenizer files (T5: spiece.model; Llama:
//                      tokenizer.model, tokenizer_config.json, special_tokens_map.json)
//   <out>/lora/<task>/ one PEFT LoRA adapter per upstream task (SEQ_2_SEQ_LM / CAUSAL_LM)
//   <out>/bbh/         held-out tasks in the BBH layout (bbh/*.json, cot-prompts/*.txt)
//   <out>/modules.txt  the module ids
//   <out>/skill_data/<task>.jsonl  each module's training data ({"input": the full
//                      prompt, "target"} per line: the runner's modules.skill_data)
//   <out>/world.json   what was built (generator version, family, seed), each
//                      module's accuracy alone on its task and on the held-out
//                      tasks of its skill, the base model's on each task, and
//                      "composed": each held-out task that composes two skills ->
//                      the modules of those skills (the runner's modules.per_task)
// A world already built with the same generator version, family and seed is
// reused. Tasks, vocabulary, training and evaluation are the same for every
// family; only the model's shape and training settings differ (demo_world.cc).

#include "model/family.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::demo {

// Bump when anything that changes the world's content changes.
inline constexpr int kGeneratorVersion = 6;

struct DemoWorldOptions {
  std::string out;
  model::Family family = model::Family::kT5;
  uint64_t seed = 0;
  int threads = 0;
  bool force = false;  // rebuild even if cached
  bool quick = false;  // a few training steps only: the pipeline's smoke test, not a useful world
  bool verbose = true;
};

struct DemoWorld {
  std::string model_dir, lora_dir, bbh_dir, skill_data_dir;
  std::vector<std::string> module_ids;
  bool reused = false;
};

DemoWorld build_demo_world(const DemoWorldOptions& options);

}  // namespace lorahub::demo
