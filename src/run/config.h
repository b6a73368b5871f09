#pragma once
// A sweep described in YAML (the reference is README.md, "Config").
// Parsing checks every key: unknown keys and wrong types are errors that
// name the file, the key path and its line.

#include "learn/defaults.h"
#include "optim/optimizer_kind.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::run {

// One arm of the sweep: a baseline or a LoraHub variant.
struct MethodConfig {
  std::string name;   // zero_shot | icl | lorahub | lora_tuning | full_ft | ia3 | merge | cat_learned | single | data_mix
  std::string label;  // unique name in results; default: name, or lorahub-<optimizer>[-cat]
  std::string composition = "lorahub";  // lorahub | cat
  std::string optimizer = "cobyla";     // a name of optim::kOptimizerNames
  int64_t budget = optim::kDefaultBudget;
  int64_t population = 0;
  double l1 = learn::defaults::kL1;
  std::string loss = "lorahub";  // a name of learn::kLossNames
  int64_t loss_batch_size = 0;
  double bound = learn::defaults::kBound;
  // Gradient baselines (lora_tuning, full_ft, ia3) on the same k shots.
  int64_t train_steps = learn::defaults::kBaselineTrainSteps;
  double lr = 0;  // 0: the default of the method's learn::TrainMode, or kWeightsLearningRate (cat_learned)
  int64_t rank = learn::defaults::kLoraRank;
  double alpha = learn::defaults::kLoraAlpha;
  int64_t train_batch_size = learn::defaults::kTrainBatchSize;
  // merge: PEFT add_weighted_adapter (lora/merge_methods.h) of the drawn
  // modules with uniform weights 1/N; cat_learned: global CAT weights by
  // AdamW on the shots (learn/gradient_weights.h; lr 0 -> 1e-2, epochs,
  // train_batch_size), evaluated merged.
  std::string merge_method = "linear";
  double density = 1.0;
  std::string majority_sign = "total";
  int64_t epochs = learn::defaults::kWeightsEpochs;
  // cat_learned's training data: the k shots, or the mix of the drawn
  // modules' skill data (modules.skill_data). data_mix: one LoRA trained on
  // that mix (train_steps, lr, rank, alpha, train_batch_size as lora_tuning).
  std::string train_data = "shots";  // shots | skill_mix
  bool per_target = false;  // cat_learned: one weight per module and target (stored row-major, N x L)
  // lora_tuning, data_mix: the LoRA's target_modules (empty: the trainer's default, q and v).
  std::vector<std::string> targets;
  bool learns() const { return name == "lorahub"; }
  bool draws_modules() const {
    return learns() || name == "merge" || name == "cat_learned" || name == "data_mix";
  }
  bool needs_skill_data() const { return name == "data_mix" || (name == "cat_learned" && train_data == "skill_mix"); }
  bool trains() const { return name == "lora_tuning" || name == "full_ft" || name == "ia3"; }
  // lora_tuning and data_mix train a LoRA, full_ft every weight, ia3 IA3 vectors.
  learn::TrainMode train_mode() const {
    return name == "full_ft" ? learn::TrainMode::kFull : name == "ia3" ? learn::TrainMode::kIa3 : learn::TrainMode::kLora;
  }
  double learning_rate() const {
    if (lr > 0) return lr;
    return name == "cat_learned" ? learn::defaults::kWeightsLearningRate : learn::defaults::learning_rate(train_mode());
  }
};

struct Config {
  std::string path;  // the file it came from
  std::string text;  // its YAML text (stored in the results)
  std::string model;
  std::string model_family;  // model::family_name of the model's config.json model_type ("t5", "llama")
  std::string modules_dir;
  std::string modules_list;
  std::vector<std::string> module_ids;  // resolved from modules.ids or modules.list
  std::string skill_data_dir;           // modules.skill_data: <dir>/<id>.jsonl is module id's training data
  // modules.per_task: task -> the pool indices of its own modules (e.g. the
  // modules of the skills a task composes). For such a task the methods that
  // draw modules use exactly these (N = their number; sweep.n_modules is not
  // expanded for it) and single runs each of them alone.
  std::map<std::string, std::vector<size_t>> per_task;
  std::string bbh_dir;
  std::vector<std::string> tasks;  // resolved ("all" expanded)
  int64_t max_eval = 0;
  std::vector<int64_t> seeds{1};
  std::vector<int64_t> n_modules{20};
  std::vector<int64_t> n_shots{5};
  std::vector<MethodConfig> methods;
  int64_t max_new_tokens = 256;
  // evaluation.stop_strings (learn::GenerateOptions::stop_strings): unset, the
  // model's defaults; [] none.
  std::optional<std::vector<std::string>> stop_strings;
  int64_t eval_batch_size = 16;
  int64_t eval_shard_size = 32;
  std::string device = "auto";  // auto | cpu | cuda
  std::string dtype = "float32";  // canonical name of model::kDTypeNames (fp32, bf16 accepted)
  int64_t threads = 0;  // per worker; 0: cores / ranks on the node
  int64_t candidates_per_pass = learn::defaults::kCandidatesPerPass;
  std::string output = "results.h5";
  double flush_interval_s = 30;

  // Module directory of id i.
  std::string skill_data(size_t i) const { return skill_data_dir + "/" + module_ids[i] + ".jsonl"; }
  std::string module_dir(size_t i) const { return modules_dir.empty() ? module_ids[i] : modules_dir + "/" + module_ids[i]; }
  // The pool indices modules.per_task gives `task`; null when it gives none.
  const std::vector<size_t>* task_modules(const std::string& task) const {
    const auto it = per_task.find(task);
    return it == per_task.end() ? nullptr : &it->second;
  }
  // A hash of everything that determines results (not output, threads,
  // flush interval): a resumed file must come from the same one.
  std::string results_hash() const;
};

// Throws std::invalid_argument "<what>: '<output>' is the input ..." when
// c.output is, lies inside or contains one of the sweep's inputs (the
// config file, model, modules, module list, BBH directory, skill data):
// io::refuse_output_over_inputs. load_config checks the config's own
// output (its YAML line named).
void refuse_output_over_inputs(const Config& c, const std::string& what);
// The same, and that c.output can be written where it is named (its
// directory exists and is writable; not a directory), and so can the
// journal and the lock beside it (<output>.journal, <output>.lock): io::check_outputs.
// `lorahub run` checks the output it will write, the config's or --output
// (what = "output" or "--output"), before any work.
void check_output(const Config& c, const std::string& what);

// Parses and validates (paths exist, tasks exist, n_modules within the pool,
// methods and optimizers known, budgets positive). ${VAR} and ${VAR:-default}
// in string values are expanded from the environment.
Config load_config(const std::string& path);
Config parse_config(const std::string& yaml_text, const std::string& path);

}  // namespace lorahub::run
