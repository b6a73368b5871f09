#include "demo/demo_world.h"

#include "demo/synthetic_tasks.h"
#include "io/json_file.h"
#include "learn/generation.h"
#include "learn/trainer.h"
#include "lora/peft_export.h"
#include "t5/checkpoint.h"
#include "t5/init.h"
#include "t5/runtime.h"
#include "t5/t5_model.h"
#include "model/loader.h"
#include "model/weight_store.h"
#include "tasks/bbh.h"
#include "tasks/scoring.h"
#include "text/spm_module.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace lorahub::demo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kUpstreamExamples = 400;  // per upstream task
constexpr int kHeldoutExamples = 100;   // per held-out task (BBH file)

struct Log {
  bool on;
  Clock::time_point start = Clock::now();
  void operator()(const std::string& what) const {
    if (!on) return;
    std::fprintf(stderr, "[demo-world %5.1fs] %s\n", std::chrono::duration<double>(Clock::now() - start).count(), what.c_str());
  }
};

std::vector<tasks::Example> examples(const SyntheticTask& t, int n, uint64_t seed) {
  optim::Rng rng(tasks::stable_hash("demo|" + t.name + "|" + std::to_string(seed)));
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

// Greedy exact-match accuracy of the base model with `adaptation` applied, on
// `ex` prompted with `instruction`.
double accuracy(const model::LanguageModel& model, const model::Tokenizer& tokenizer, const model::LowRankSet& adaptation,
                const std::string& instruction, const std::vector<tasks::Example>& ex) {
  std::vector<std::string> inputs, targets;
  for (const auto& e : ex) {
    inputs.push_back(prompt(instruction, e.input));
    targets.push_back(e.target);
  }
  return tasks::score(learn::generate(model, tokenizer, inputs, {16, 50, {}}, &adaptation), targets).accuracy();
}

}  // namespace

DemoWorld build_demo_world(const DemoWorldOptions& o) {
  const Log log{o.verbose};
  DemoWorld w;
  w.model_dir = o.out + "/model";
  w.lora_dir = o.out + "/lora";
  w.bbh_dir = o.out + "/bbh";
  w.skill_data_dir = o.out + "/skill_data";
  const auto upstream = upstream_tasks();
  for (const auto& t : upstream) w.module_ids.push_back(t.name);
  const std::string stamp = o.out + "/world.json";
  if (!o.force && fs::exists(stamp)) {
    const auto j = io::read_json_file(stamp);
    if (j.value("version", -1) == kGeneratorVersion && j.value("seed", uint64_t{1} << 63) == o.seed &&
        j.value("quick", false) == o.quick) {
      w.reused = true;
      log("reusing " + o.out + " (generator version " + std::to_string(kGeneratorVersion) + ", seed " + std::to_string(o.seed) + ")");
      return w;
    }
  }
  fs::remove(stamp);
  // Nothing of an earlier world may survive in the directories the sweeps list (bbh/ with "tasks: all").
  for (const auto& d : {w.lora_dir, w.bbh_dir, w.skill_data_dir}) fs::remove_all(d);
  for (const auto& d : {w.model_dir, w.lora_dir, w.bbh_dir + "/bbh", w.bbh_dir + "/cot-prompts", w.skill_data_dir}) {
    fs::create_directories(d);
  }
  t5::set_threads(o.threads);

  // 1. Data.
  std::vector<std::string> train_inputs, train_targets;
  std::map<std::string, std::vector<tasks::Example>> upstream_data;
  for (const auto& t : upstream) upstream_data[t.name] = examples(t, kUpstreamExamples, o.seed);
  std::map<std::string, std::vector<tasks::Example>> heldout_data;  // the BBH files' examples
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

  // 2. Vocabulary: SentencePiece on every text of the world.
  const std::string corpus = o.out + "/corpus.txt";
  {
    std::ofstream c(corpus);
    for (const auto& t : upstream) {
      for (const auto& e : upstream_data[t.name]) c << prompt(t, e.input) << "\n" << e.target << "\n";
    }
    for (const auto& t : heldout_tasks()) {
      for (const auto& e : examples(t, 50, o.seed + 1)) c << prompt(t, e.input) << "\n" << e.target << "\n";
    }
    optim::Rng filler(o.seed + 2);
    for (int i = 0; i < 200; ++i) c << filler_instruction(filler) << "\n";
  }
  text::spm_train({"--input=" + corpus, "--model_prefix=" + w.model_dir + "/spiece", "--model_type=unigram",
                   "--vocab_size=256", "--hard_vocab_limit=false", "--character_coverage=1.0", "--pad_id=0",
                   "--eos_id=1", "--unk_id=2", "--bos_id=-1", "--num_threads=1", "--minloglevel=2",
                   "--random_seed=" + std::to_string(o.seed + 1), "--user_defined_symbols=" + [] {
                     std::string list;  // every lexicon word and number is one piece: short, learnable sequences
                     for (const auto& w : lexicon_symbols()) list += (list.empty() ? "" : ",") + w;
                     return list;
                   }()});
  fs::remove(w.model_dir + "/spiece.vocab");
  io::write_json_file(w.model_dir + "/tokenizer_config.json", {{"extra_ids", 0}, {"model_max_length", 512}});
  const auto tokenizer = text::T5Tokenizer::from_dir(w.model_dir);
  log("trained a SentencePiece vocabulary of " + std::to_string(tokenizer.vocab_size()) + " pieces");

  // 3. A small T5 v1.1 trained from scratch on the upstream tasks.
  t5::T5Config config;
  config.vocab_size = tokenizer.vocab_size();
  config.d_model = 128;
  config.d_kv = 32;
  config.num_heads = 4;
  config.d_ff = 256;
  config.num_layers = 3;
  config.num_decoder_layers = 3;
  config.feed_forward_proj = "gated-gelu";
  config.tie_word_embeddings = false;
  config.resolve_activation("demo world");
  std::vector<model::TokenIds> base_in, base_out;
  for (const auto& t : upstream) {
    for (const auto& e : upstream_data[t.name]) {
      base_in.push_back(tokenizer.encode(prompt(t, e.input)));
      base_out.push_back(tokenizer.encode(e.target));
    }
  }
  auto random = std::make_shared<model::WeightStore>(t5::random_t5_weights(config, o.seed), std::map<std::string, std::string>{},
                                                  "random init", at::kFloat, at::kCPU);
  const t5::T5Model fresh(config, random);
  learn::TrainOptions base_options;
  base_options.mode = learn::TrainMode::kFull;
  base_options.lr = 1e-3;
  base_options.warmup_steps = 200;
  base_options.clip_norm = 1.0;
  base_options.steps = o.quick ? 20 : 2000;
  base_options.batch_size = 64;
  base_options.seed = o.seed;
  base_options.on_step = [&](int64_t step, double loss) {
    if ((step + 1) % 500 == 0) log("base model step " + std::to_string(step + 1) + ": batch loss " + std::to_string(loss));
  };
  const auto trained = learn::train(fresh, base_in, base_out, base_options);
  io::TensorMap base_weights;
  for (const auto& [name, t] : trained.weights->tensors()) base_weights[name] = t.detach();
  t5::save_checkpoint(w.model_dir, config, base_weights);
  log("trained the base model (" + std::to_string(base_options.steps) + " steps): loss " +
      std::to_string(trained.step_losses.front()) + " -> " + std::to_string(trained.step_losses.back()));

  // 4. One LoRA module per upstream task. Its prompts carry instructions the
  // base model has never seen (filler words), so the module does its skill
  // when the instruction is unfamiliar, as a held-out task's is: the
  // knowledge LoraHub must find and compose.
  // Each module is also scored alone (weight 1) on fresh examples of its own
  // task and on the held-out tasks that reuse its skill: the ceiling LoraHub's
  // same-skill results are read against (analysis/report.py --world).
  const model::LoadedModel loaded = model::load_model(w.model_dir);
  const model::LanguageModel& base = *loaded.model;
  nlohmann::json module_accuracy = nlohmann::json::object(), same_skill = nlohmann::json::object();
  for (size_t i = 0; i < upstream.size(); ++i) {
    const auto& t = upstream[i];
    optim::Rng rng(tasks::stable_hash("module|" + t.name + "|" + std::to_string(o.seed)));
    std::vector<model::TokenIds> in, out;
    std::vector<tasks::Example> skill_data;  // what the module is trained on, as the runner's skill data
    for (const auto& e : upstream_data[t.name]) {
      // Half under random word-salad instructions, half under another task's.
      const std::string instruction =
          rng.next() % 2 ? filler_instruction(rng) : upstream[rng.next() % upstream.size()].instruction;
      skill_data.push_back({prompt(instruction, e.input), e.target});
      in.push_back(tokenizer.encode(skill_data.back().input));
      out.push_back(tokenizer.encode(e.target));
    }
    tasks::write_examples_jsonl(w.skill_data_dir + "/" + t.name + ".jsonl", skill_data);
    learn::TrainOptions lo;
    lo.mode = learn::TrainMode::kLora;
    lo.rank = 8;
    lo.alpha = 16;
    lo.targets = {"q", "k", "v", "o", "wi_0", "wi_1", "wo"};
    lo.lr = 3e-3;
    lo.warmup_steps = 20;
    lo.clip_norm = 1.0;
    lo.steps = o.quick ? 2 : 200;
    lo.batch_size = 32;
    lo.seed = tasks::stable_hash("lora|" + t.name) ^ o.seed;  // batch order
    lo.init_seed = o.seed;  // one A initialisation for every module (see TrainOptions)
    const auto r = learn::train(base, in, out, lo);
    lora::write_peft_adapter(w.lora_dir + "/" + t.name, r.adapter, lo.targets, "demo-t5", base.peft_task_type());
    const double own = accuracy(base, tokenizer, r.adaptation, t.instruction, examples(t, kHeldoutExamples, o.seed + 3));
    module_accuracy[t.name] = own;
    std::string line = "module " + t.name + ": loss " + std::to_string(r.step_losses.front()) + " -> " +
                       std::to_string(r.step_losses.back()) + ", accuracy on its task " + std::to_string(own);
    for (const auto& h : heldout_tasks()) {
      if (h.skill != t.skill) continue;
      const double on_heldout = accuracy(base, tokenizer, r.adaptation, h.instruction, heldout_data[h.name]);
      same_skill[h.name] = {{"module", t.name}, {"module_accuracy", own}, {"module_on_heldout", on_heldout}};
      line += ", on " + h.name + " " + std::to_string(on_heldout);
    }
    log(line);
  }
  fs::remove(corpus);
  nlohmann::json composed = nlohmann::json::object();
  for (const auto& h : heldout_tasks()) {
    if (const auto modules = composing_modules(h); !modules.empty()) composed[h.name] = modules;
  }
  io::write_json_file(stamp, {{"version", kGeneratorVersion}, {"seed", o.seed}, {"quick", o.quick}, {"modules", w.module_ids},
                              {"module_accuracy", module_accuracy}, {"same_skill", same_skill},
                              {"composed", composed}, {"skill_data", "skill_data"},
                              {"heldout", [&] {
                                 std::vector<std::string> names;
                                 for (const auto& t : heldout_tasks()) names.push_back(t.name);
                                 return names;
                               }()}});
  log("demo world ready in " + o.out);
  return w;
}

}  // namespace lorahub::demo
