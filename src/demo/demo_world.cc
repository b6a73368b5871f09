#include "demo/demo_world.h"

#include "demo/synthetic_tasks.h"
#include "io/json_file.h"
#include "learn/generation.h"
#include "learn/trainer.h"
#include "lora/peft_export.h"
#include "model/factory.h"
#include "model/loader.h"
#include "model/runtime.h"
#include "model/weight_store.h"
#include "tasks/bbh.h"
#include "util/random.h"
#include "tasks/scoring.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::demo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kUpstreamExamples = 400;  // per upstream task
constexpr int kHeldoutExamples = 100;   // per held-out task (BBH file)

// The world's one family-specific part: the base model's shape and the
// training settings, chosen per family for a useful world within the demo's
// time (README: the demo world). Everything else is the same for every family.
struct Recipe {
  int64_t vocab_size = 256;  // SentencePiece pieces, specials (and Llama's 256 byte pieces) included
  model::ModelShape shape;
  learn::TrainOptions base;    // full training of the base model from scratch
  learn::TrainOptions module;  // one LoRA module per upstream task (targets from module_roles)
  std::vector<model::ProjectionRole> module_roles;
};

Recipe recipe(model::Family family, bool quick) {
  using R = model::ProjectionRole;
  Recipe r;
  // Shared by every family: a 3-layer model of width 128 (T5 v1.1: 3+3
  // layers; Llama: 3 decoder layers, SwiGLU 256), trained from scratch
  // with AdamW for 2000 steps of 64; rank-8 modules (alpha 16).
  r.shape.width = 128;
  r.shape.heads = 4;
  r.shape.ffn = 256;
  r.shape.layers = 3;
  r.base.mode = learn::TrainMode::kFull;
  r.base.clip_norm = 1.0;
  r.base.lr = 1e-3;
  r.base.warmup_steps = 200;
  r.base.steps = 2000;
  r.base.batch_size = 64;
  r.module.mode = learn::TrainMode::kLora;
  r.module.clip_norm = 1.0;
  r.module.rank = 8;
  r.module.alpha = 16;
  r.module.lr = 3e-3;
  r.module.warmup_steps = 20;
  r.module.batch_size = 32;
  if (family == model::Family::kT5) {
    r.module_roles = {R::kAttentionQuery, R::kAttentionKey, R::kAttentionValue, R::kAttentionOutput,
                      R::kFeedForwardIn, R::kFeedForwardUp, R::kFeedForwardOut};
    r.module.steps = 200;
  } else {
    // The Llama learns the upstream tasks to a batch loss of 0.016 in 2000
    // steps (4 layers with a 344-wide MLP cost 1.5x per step). Its modules
    // on q_proj and v_proj, as most Llama LoRA libraries are; 100 steps did
    // as well as 200 in the sweep (README: the Llama demo).
    r.vocab_size = 512;
    r.module_roles = {R::kAttentionQuery, R::kAttentionValue};
    r.module.steps = 100;
  }
  if (quick) {
    r.base.steps = 20;
    r.module.steps = 2;
  }
  return r;
}

struct Log {
  bool on;
  Clock::time_point start = Clock::now();
  void operator()(const std::string& what) const {
    if (!on) return;
    std::fprintf(stderr, "[demo-world %5.1fs] %s\n", std::chrono::duration<double>(Clock::now() - start).count(), what.c_str());
  }
};

std::vector<tasks::Example> examples(const SyntheticTask& t, int n, uint64_t seed) {
  util::Rng rng(util::stable_hash("demo|" + t.name + "|" + std::to_string(seed)));
  std::vector<tasks::Example> out;
  for (int i = 0; i < n; ++i) out.push_back(t.make(rng));
  return out;
}

void write_bbh_task(const std::string& dir, const SyntheticTask& t, const std::vector<tasks::Example>& ex,
                    const std::vector<tasks::Example>& exemplars) {
  nlohmann::json doc = {{"canary", "lorahub demo world, synthetic"}, {"examples", nlohmann::json::array()}};
  for (const auto& e : ex) doc["examples"].push_back({{"input", e.input}, {"target", e.target}});
  io::write_json_file(dir + "/bbh/" + t.name + ".json", doc);
  std::ofstream cot(dir + "/cot-prompts/" + t.name + ".txt");
  cot << "Synthetic task of the lorahub demo world.\n-----\n" << t.instruction << "\n";
  for (const auto& e : exemplars) {
    cot << "\nQ: " << e.input << "\nA: Let's think step by step. So the answer is " << e.target << ".\n";
  }
}

// Greedy exact-match accuracy of the base model with `adaptation` applied
// (none when null), on `ex` prompted with `instruction`.
double accuracy(const model::LanguageModel& model, const model::Tokenizer& tokenizer, const model::LowRankSet* adaptation,
                const std::string& instruction, const std::vector<tasks::Example>& ex) {
  std::vector<std::string> inputs, targets;
  for (const auto& e : ex) {
    inputs.push_back(prompt(instruction, e.input));
    targets.push_back(e.target);
  }
  return tasks::score(learn::generate(model, tokenizer, inputs, {16, 50, {}}, adaptation), targets).accuracy();
}

// The world's directories and module ids (one module per upstream task).
DemoWorld world_paths(const DemoWorldOptions& o, const std::vector<SyntheticTask>& upstream) {
  DemoWorld w;
  w.model_dir = o.out + "/model";
  w.lora_dir = o.out + "/lora";
  w.bbh_dir = o.out + "/bbh";
  w.skill_data_dir = o.out + "/skill_data";
  for (const auto& t : upstream) w.module_ids.push_back(t.name);
  return w;
}

// Whether `stamp` records a world of this generator version, seed, quickness and family.
bool reusable(const DemoWorldOptions& o, const std::string& stamp, const std::string& family) {
  if (!fs::exists(stamp)) return false;
  const auto j = io::read_json_file(stamp);
  // Worlds written before families were recorded are T5 worlds.
  return j.value("version", -1) == kGeneratorVersion && j.value("seed", uint64_t{1} << 63) == o.seed &&
         j.value("quick", false) == o.quick && j.value("family", std::string("t5")) == family;
}

// Empties the world's directories. Nothing of an earlier world may survive:
// another family's tokenizer files in model/, a dropped task in bbh/ (which
// "tasks: all" would sweep).
void fresh_directories(const DemoWorld& w, const std::string& stamp) {
  fs::remove(stamp);
  for (const auto& d : {w.model_dir, w.lora_dir, w.bbh_dir, w.skill_data_dir}) fs::remove_all(d);
  for (const auto& d : {w.model_dir, w.lora_dir, w.bbh_dir + "/bbh", w.bbh_dir + "/cot-prompts", w.skill_data_dir}) {
    fs::create_directories(d);
  }
}

using TaskData = std::map<std::string, std::vector<tasks::Example>>;  // task name -> examples

// The examples of every task: upstream tasks' for training, and the held-out
// tasks' BBH files (written with three exemplars each), and modules.txt.
void write_data(const DemoWorldOptions& o, const DemoWorld& w, const std::vector<SyntheticTask>& upstream,
                TaskData& upstream_data, TaskData& heldout_data, const Log& log) {
  for (const auto& t : upstream) upstream_data[t.name] = examples(t, kUpstreamExamples, o.seed);
  for (const auto& t : heldout_tasks()) {
    const auto ex = examples(t, kHeldoutExamples + 3, o.seed);
    heldout_data[t.name] = {ex.begin() + 3, ex.end()};
    write_bbh_task(w.bbh_dir, t, heldout_data[t.name], {ex.begin(), ex.begin() + 3});
  }
  {
    std::ofstream ids(o.out + "/modules.txt");
    for (const auto& id : w.module_ids) ids << id << "\n";
  }
  log("wrote " + std::to_string(heldout_tasks().size()) + " held-out tasks in the BBH layout");
}

// SentencePiece on every text of the world (the corpus, removed once the
// modules are trained), with the family's tokenizer conventions; every
// lexicon word and number is one piece (short, learnable sequences).
std::shared_ptr<const model::Tokenizer> train_vocabulary(const DemoWorldOptions& o, const Recipe& rc,
                                                         const DemoWorld& w, const std::vector<SyntheticTask>& upstream,
                                                         const TaskData& upstream_data, const Log& log) {
  const std::string corpus = o.out + "/corpus.txt";
  {
    std::ofstream c(corpus);
    for (const auto& t : upstream) {
      for (const auto& e : upstream_data.at(t.name)) c << prompt(t, e.input) << "\n" << e.target << "\n";
    }
    for (const auto& t : heldout_tasks()) {
      for (const auto& e : examples(t, 50, o.seed + 1)) c << prompt(t, e.input) << "\n" << e.target << "\n";
    }
    util::Rng filler(o.seed + 2);
    for (int i = 0; i < 200; ++i) c << filler_instruction(filler) << "\n";
  }
  auto tokenizer = model::train_tokenizer(o.family, {corpus, rc.vocab_size, lexicon_symbols(), o.seed + 1}, w.model_dir);
  log("trained a SentencePiece vocabulary of " + std::to_string(tokenizer->vocab_size()) + " pieces");
  return tokenizer;
}

// A small model of the family trained from scratch on the upstream tasks,
// saved in model/.
void train_base_model(const DemoWorldOptions& o, const Recipe& rc, const std::string& family, const DemoWorld& w,
                      const model::Tokenizer& tokenizer, const std::vector<SyntheticTask>& upstream,
                      const TaskData& upstream_data, const Log& log) {
  std::vector<std::string> base_prompts, base_targets;
  for (const auto& t : upstream) {
    for (const auto& e : upstream_data.at(t.name)) {
      base_prompts.push_back(prompt(t, e.input));
      base_targets.push_back(e.target);
    }
  }
  model::ModelShape shape = rc.shape;
  shape.vocab_size = tokenizer.vocab_size();
  const auto fresh = model::new_model(o.family, shape, o.seed);
  learn::TrainOptions base_options = rc.base;
  base_options.seed = o.seed;
  base_options.on_step = [&](int64_t step, double loss) {
    if ((step + 1) % 500 == 0) log("base model step " + std::to_string(step + 1) + ": batch loss " + std::to_string(loss));
  };
  const auto trained = learn::train(*fresh, learn::encode_inputs(tokenizer, base_prompts),
                                    learn::encode_targets(tokenizer, base_targets), base_options);
  io::TensorMap base_weights;
  for (const auto& [name, t] : trained.weights->tensors()) base_weights[name] = t.detach();
  fresh->save(w.model_dir, base_weights);
  log("trained the " + family + " base model (" + std::to_string(base_options.steps) + " steps): loss " +
      std::to_string(trained.step_losses.front()) + " -> " + std::to_string(trained.step_losses.back()));
}

// Module i's training data, written as its skill data: its task's upstream
// examples, half under random word-salad instructions, half under another
// task's, so that the module does its skill when the instruction is
// unfamiliar, as a held-out task's is.
std::vector<tasks::Example> module_data(const DemoWorldOptions& o, const DemoWorld& w,
                                        const std::vector<SyntheticTask>& upstream, size_t i,
                                        const TaskData& upstream_data) {
  const auto& t = upstream[i];
  util::Rng rng(util::stable_hash("module|" + t.name + "|" + std::to_string(o.seed)));
  std::vector<tasks::Example> skill_data;
  for (const auto& e : upstream_data.at(t.name)) {
    const std::string instruction =
        rng.next() % 2 ? filler_instruction(rng) : upstream[rng.next() % upstream.size()].instruction;
    skill_data.push_back({prompt(instruction, e.input), e.target});
  }
  tasks::write_examples_jsonl(w.skill_data_dir + "/" + t.name + ".jsonl", skill_data);
  return skill_data;
}

// What world.json records of the modules and the base model.
struct Scores {
  nlohmann::json module_accuracy = nlohmann::json::object(), same_skill = nlohmann::json::object(),
                 base_accuracy = nlohmann::json::object();
};

// The first n of `ex` (all when fewer).
std::vector<tasks::Example> first(const std::vector<tasks::Example>& ex, size_t n) {
  return std::vector<tasks::Example>(ex.begin(), ex.begin() + static_cast<long>(std::min(n, ex.size())));
}

// Scores module `t` alone (weight 1) on fresh examples of its own task and on
// the held-out tasks that reuse its skill: the ceiling LoraHub's same-skill
// results are read against (analysis/report.py --world); the base model on
// each task's own instruction is the skill it starts from.
void score_module(const DemoWorldOptions& o, const model::LoadedModel& loaded, const SyntheticTask& t,
                  const learn::TrainResult& r, const TaskData& heldout_data, Scores& scores, const Log& log) {
  const model::LanguageModel& base = *loaded.model;
  const size_t n_scored = o.quick ? 10 : kHeldoutExamples;  // examples per accuracy (--quick: the pipeline only)
  const auto eval = first(examples(t, kHeldoutExamples, o.seed + 3), n_scored);
  const double own = accuracy(base, *loaded.tokenizer, &r.adaptation, t.instruction, eval);
  scores.module_accuracy[t.name] = own;
  scores.base_accuracy[t.name] = accuracy(base, *loaded.tokenizer, nullptr, t.instruction, eval);
  std::string line = "module " + t.name + ": loss " + std::to_string(r.step_losses.front()) + " -> " +
                     std::to_string(r.step_losses.back()) + ", accuracy on its task " + std::to_string(own) +
                     " (base model " + std::to_string(scores.base_accuracy[t.name].get<double>()) + ")";
  for (const auto& h : heldout_tasks()) {
    if (h.skill != t.skill) continue;
    const double on_heldout =
        accuracy(base, *loaded.tokenizer, &r.adaptation, h.instruction, first(heldout_data.at(h.name), n_scored));
    scores.same_skill[h.name] = {{"module", t.name}, {"module_accuracy", own}, {"module_on_heldout", on_heldout}};
    line += ", on " + h.name + " " + std::to_string(on_heldout);
  }
  log(line);
}

// One LoRA module per upstream task, on the base model saved in model/:
// the knowledge LoraHub must find and compose. Returns their scores.
Scores train_modules(const DemoWorldOptions& o, const Recipe& rc, const std::string& family, const DemoWorld& w,
                     const std::vector<SyntheticTask>& upstream, const TaskData& upstream_data,
                     const TaskData& heldout_data, const Log& log) {
  const model::LoadedModel loaded = model::load_model(w.model_dir);
  const model::LanguageModel& base = *loaded.model;
  learn::TrainOptions lo = rc.module;
  lo.targets = base.projections().leaves(rc.module_roles);
  Scores scores;
  for (size_t i = 0; i < upstream.size(); ++i) {
    const auto& t = upstream[i];
    std::vector<std::string> prompts, targets;
    for (const auto& e : module_data(o, w, upstream, i, upstream_data)) {
      prompts.push_back(e.input);
      targets.push_back(e.target);
    }
    lo.seed = util::stable_hash("lora|" + t.name) ^ o.seed;  // batch order
    lo.init_seed = o.seed;  // one A initialisation for every module (see TrainOptions)
    const auto r = learn::train(base, learn::encode_inputs(*loaded.tokenizer, prompts),
                                learn::encode_targets(*loaded.tokenizer, targets), lo);
    lora::write_peft_adapter(w.lora_dir + "/" + t.name, r.adapter, lo.targets, "demo-" + family, base.peft_task_type());
    score_module(o, loaded, t, r, heldout_data, scores, log);
  }
  return scores;
}

// world.json: what was built, the scores, and the held-out tasks.
void write_stamp(const std::string& stamp, const DemoWorldOptions& o, const std::string& family, const DemoWorld& w,
                 const Scores& scores) {
  nlohmann::json composed = nlohmann::json::object();
  std::vector<std::string> heldout;
  for (const auto& h : heldout_tasks()) {
    if (const auto modules = composing_modules(h); !modules.empty()) composed[h.name] = modules;
    heldout.push_back(h.name);
  }
  io::write_json_file(stamp, {{"version", kGeneratorVersion}, {"family", family}, {"seed", o.seed}, {"quick", o.quick},
                              {"modules", w.module_ids}, {"module_accuracy", scores.module_accuracy},
                              {"base_accuracy", scores.base_accuracy}, {"same_skill", scores.same_skill},
                              {"composed", composed}, {"skill_data", "skill_data"}, {"heldout", heldout}});
}

}  // namespace

DemoWorld build_demo_world(const DemoWorldOptions& o) {
  const Log log{o.verbose};
  const std::string family = model::family_name(o.family);
  const Recipe rc = recipe(o.family, o.quick);
  const auto upstream = upstream_tasks();
  DemoWorld w = world_paths(o, upstream);
  const std::string stamp = o.out + "/world.json";
  if (!o.force && reusable(o, stamp, family)) {
    w.reused = true;
    log("reusing " + o.out + " (" + family + ", generator version " + std::to_string(kGeneratorVersion) + ", seed " +
        std::to_string(o.seed) + ")");
    return w;
  }
  fresh_directories(w, stamp);
  model::set_threads(o.threads);
  TaskData upstream_data, heldout_data;  // heldout: the BBH files' examples
  write_data(o, w, upstream, upstream_data, heldout_data, log);                                   // 1. data
  const auto tokenizer = train_vocabulary(o, rc, w, upstream, upstream_data, log);                // 2. vocabulary
  train_base_model(o, rc, family, w, *tokenizer, upstream, upstream_data, log);                   // 3. base model
  const Scores scores = train_modules(o, rc, family, w, upstream, upstream_data, heldout_data, log);  // 4. modules
  fs::remove(o.out + "/corpus.txt");
  write_stamp(stamp, o, family, w, scores);
  log("demo world ready in " + o.out);
  return w;
}

}  // namespace lorahub::demo
