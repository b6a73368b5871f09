#pragma once
// `lorahub demo-world`: builds, deterministically and with the project's own
// training code, everything the demo sweep needs, in the real formats:
//   <out>/model/       HF T5 checkpoint (config.json, model.safetensors) + spiece.model
//   <out>/lora/<task>/ one PEFT LoRA adapter per upstream task
//   <out>/bbh/         held-out tasks in the BBH layout (bbh/*.json, cot-prompts/*.txt)
//   <out>/modules.txt  the module ids
//   <out>/skill_data/<task>.jsonl  each module's training data ({"input": the full
//                      prompt, "target"} per line: the runner's modules.skill_data)
//   <out>/world.json   what was built (generator version, seed), each module's
//                      accuracy alone on its task and on the held-out tasks of its skill,
//                      and "composed": each held-out task that composes two skills ->
//                      the modules of those skills (the runner's modules.per_task)
// A world already built with the same generator version and seed is reused.

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::demo {

// Bump when anything that changes the world's content changes.
inline constexpr int kGeneratorVersion = 6;

struct DemoWorldOptions {
  std::string out;
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
