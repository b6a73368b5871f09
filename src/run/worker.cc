#include "run/worker.h"

#include "learn/generation.h"
#include "learn/objective.h"
#include "learn/trainer.h"
#include "lora/composition.h"
#include "lora/lora_adapter.h"
#include "lora/lora_pool.h"
#include "model/loader.h"
#include "model/non_finite.h"
#include "model/runtime.h"
#include "run/soups_units.h"
#include "tasks/bbh.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/DeviceGuard.h>

#include <iterator>
#include <set>

namespace lorahub::run {

namespace {
constexpr size_t kTrialCacheSize = 4;
// LibTorch appends a stack trace to its messages.
std::string first_line(const std::string& msg) { return msg.substr(0, msg.find('\n')); }
}  // namespace

struct Worker::State {
  const Config& config;
  c10::Device device;
  std::shared_ptr<const model::Tokenizer> tokenizer;
  std::shared_ptr<const model::LanguageModel> model;
  // By directory: the modules of the cached trials only (a sweep over the
  // paper's 196 flan-t5-large modules would otherwise keep ~3.7 GB per rank).
  std::map<std::string, lora::LoraAdapter> adapters;
  std::map<std::string, tasks::BbhTask> tasks;

  struct TrialCache {
    std::string id;
    std::vector<std::string> modules;  // adapter directories
    std::unique_ptr<lora::LoraPool> pool;
    std::unique_ptr<learn::FewShotObjective> objective;
    std::vector<double> merged_weights;
    std::shared_ptr<const model::LanguageModel> merged;
  };
  std::list<TrialCache> trials;  // most recent first

  State(const Config& c, c10::Device d) : config(c), device(d) {}

  void ensure_model() {
    if (model) return;
    auto loaded = model::load_model(config.model, model::parse_dtype(config.dtype, "runtime.dtype"), device);
    model = std::move(loaded.model);
    tokenizer = std::move(loaded.tokenizer);
  }

  const tasks::BbhTask& task(const std::string& name) {
    auto it = tasks.find(name);
    if (it == tasks.end()) it = tasks.emplace(name, tasks::load_bbh_task(config.bbh_dir, name)).first;
    return it->second;
  }

  TrialCache& trial(const nlohmann::json& unit) {
    const std::string id = unit.at("trial");
    for (auto it = trials.begin(); it != trials.end(); ++it) {
      if (it->id == id) {
        trials.splice(trials.begin(), trials, it);
        return trials.front();
      }
    }
    trials.push_front(TrialCache{id, unit.at("modules").get<std::vector<std::string>>(), nullptr, nullptr, {}, nullptr});
    if (trials.size() > kTrialCacheSize) trials.pop_back();
    forget_unused_adapters();
    TrialCache& t = trials.front();
    std::vector<lora::LoraAdapter> chosen;
    for (const auto& d : t.modules) {
      auto a = adapters.find(d);
      if (a == adapters.end()) a = adapters.emplace(d, lora::load_adapter(d, *model)).first;
      chosen.push_back(a->second);
    }
    // A merge checks its own modules (cat and the svd methods take different
    // ranks); the compositions need a pool of one rank and scale.
    if (!chosen.empty() && !unit.contains("merge")) {
      t.pool = std::make_unique<lora::LoraPool>(*model, std::move(chosen));
    }
    return t;
  }

  void forget_unused_adapters() {
    std::set<std::string> used;
    for (const auto& t : trials) used.insert(t.modules.begin(), t.modules.end());
    for (auto it = adapters.begin(); it != adapters.end();) it = used.count(it->first) ? std::next(it) : adapters.erase(it);
  }

  nlohmann::json objective(const nlohmann::json& unit) {
    TrialCache& t = trial(unit);
    if (!t.objective) {
      const auto& bbh = task(unit.at("task"));
      std::vector<std::string> inputs, targets;
      for (int64_t i : unit.at("shots").get<std::vector<int64_t>>()) {
        inputs.push_back(tasks::zero_shot_prompt(bbh, bbh.examples.at(static_cast<size_t>(i)).input));
        targets.push_back(bbh.examples.at(static_cast<size_t>(i)).target);
      }
      learn::ObjectiveOptions o;
      o.method = lora::parse_method(unit.at("composition"), "composition");
      o.normalization = util::parse_name(learn::kLossNames, unit.at("loss").get<std::string>(), "work unit: loss");
      o.batch_size = unit.at("loss_batch_size");
      o.l1_weight = unit.at("l1");
      o.candidates_per_pass = config.candidates_per_pass;
      t.objective = std::make_unique<learn::FewShotObjective>(*model, *t.pool, learn::encode_inputs(*tokenizer, inputs),
                                                              learn::encode_targets(*tokenizer, targets), o);
    }
    const at::Tensor w = learn::candidate_matrix(unit.at("weights").get<std::vector<std::vector<double>>>(), t.pool->size());
    const auto losses = t.objective->losses(w);
    std::vector<double> objectives;
    for (int64_t p = 0; p < w.size(0); ++p) objectives.push_back(losses[static_cast<size_t>(p)] + t.objective->l1_term(w[p]));
    return {{"losses", losses}, {"objectives", objectives}};
  }

  std::vector<std::string> prompts(const tasks::BbhTask& bbh, const nlohmann::json& indices, bool icl) {
    std::vector<std::string> out;
    for (int64_t i : indices.get<std::vector<int64_t>>()) {
      const auto& input = bbh.examples.at(static_cast<size_t>(i)).input;
      out.push_back(icl ? tasks::icl_prompt(bbh, input) : tasks::zero_shot_prompt(bbh, input));
    }
    return out;
  }

  // A gradient baseline: train on the shots (data_mix: the drawn modules' skill data), predict the evaluation set.
  nlohmann::json train_and_evaluate(const nlohmann::json& unit) {
    if (unit.at("mode") == "cat_learned") return learn_and_evaluate(unit);
    const auto& bbh = task(unit.at("task"));
    std::vector<std::string> inputs = prompts(bbh, unit.at("shots"), false), targets;
    for (int64_t i : unit.at("shots").get<std::vector<int64_t>>()) targets.push_back(bbh.examples.at(static_cast<size_t>(i)).target);
    if (unit.contains("skill_data")) read_skill_data(unit.at("skill_data"), inputs, targets);  // data_mix
    learn::TrainOptions o;
    o.mode = learn::parse_train_mode(unit.at("mode") == "data_mix" ? "lora" : unit.at("mode").get<std::string>(), "mode");
    o.steps = unit.at("steps");
    o.lr = unit.at("lr");
    o.rank = unit.at("rank");
    o.alpha = unit.at("alpha");
    o.batch_size = unit.at("batch_size");
    o.seed = unit.at("seed");
    if (unit.contains("targets")) o.targets = unit.at("targets").get<std::vector<std::string>>();
    const auto r = learn::train(*model, learn::encode_inputs(*tokenizer, inputs), learn::encode_targets(*tokenizer, targets), o);
    std::shared_ptr<const model::LanguageModel> tuned;
    if (r.weights) tuned = model->with_weights(r.weights);
    const model::LanguageModel& m = tuned ? *tuned : *model;
    const model::LowRankSet* adaptation = tuned ? nullptr : &r.adaptation;
    return {{"predictions", learn::generate(m, *tokenizer, prompts(bbh, unit.at("indices"), false),
                                            {config.max_new_tokens, config.eval_batch_size, config.stop_strings}, adaptation)},
            {"train_losses", r.step_losses}};
  }

  // cat_learned: CAT weights by AdamW on the shots (or the skill mix), then the merged model's predictions.
  nlohmann::json learn_and_evaluate(const nlohmann::json& unit) {
    const auto& bbh = task(unit.at("task"));
    std::vector<std::string> inputs = prompts(bbh, unit.at("shots"), false), targets;
    for (int64_t i : unit.at("shots").get<std::vector<int64_t>>()) targets.push_back(bbh.examples.at(static_cast<size_t>(i)).target);
    if (unit.contains("skill_data")) read_skill_data(unit.at("skill_data"), inputs, targets);  // train_data: skill_mix
    TrialCache& t = trial(unit);
    const auto r = learn_for_unit(*model, *t.pool, learn::encode_inputs(*tokenizer, inputs),
                                  learn::encode_targets(*tokenizer, targets), unit);
    const auto merged =
        model->with_weights(lora::merge(*model, *t.pool, r.weights, lora::Method::kCat, unit.value("per_target", false)));
    std::vector<double> losses;
    for (size_t i = 1; i < r.history.size(); ++i) losses.push_back(r.history[i].train_loss);
    const at::Tensor w = r.weights.contiguous();
    return {{"predictions", learn::generate(*merged, *tokenizer, prompts(bbh, unit.at("indices"), false),
                                            {config.max_new_tokens, config.eval_batch_size, config.stop_strings})},
            {"train_losses", losses},
            {"weights", std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel())}};
  }

  nlohmann::json evaluate(const nlohmann::json& unit) {
    const auto& bbh = task(unit.at("task"));
    const model::LanguageModel* m = model.get();
    if (unit.contains("weights")) {  // a learned composition; without the key, the base model
      const auto weights = unit.at("weights").get<std::vector<double>>();
      if (weights.size() != unit.at("modules").size()) {
        throw std::invalid_argument("eval unit: " + std::to_string(weights.size()) + " weights for " +
                                    std::to_string(unit.at("modules").size()) + " modules");
      }
      TrialCache& t = trial(unit);
      if (!t.merged || t.merged_weights != weights) {
        // As the reference evaluates: the composition merged into the weights.
        if (unit.contains("merge")) {
          std::vector<lora::LoraAdapter> chosen;
          for (const auto& d : unit.at("modules").get<std::vector<std::string>>()) chosen.push_back(adapters.at(d));
          t.merged = model->with_weights(merged_for_unit(*model, chosen, weights, unit.at("merge")));
        } else {
          const auto method = lora::parse_method(unit.at("composition"), "composition");
          t.merged = model->with_weights(lora::merge(*model, *t.pool, at::tensor(weights, at::kDouble), method));
        }
        t.merged_weights = weights;
      }
      m = t.merged.get();
    }
    return {{"predictions", learn::generate(*m, *tokenizer, prompts(bbh, unit.at("indices"), unit.at("prompt") == "icl"),
                                            {config.max_new_tokens, config.eval_batch_size, config.stop_strings})}};
  }
};

Worker::Worker(const Config& config, c10::Device device, int threads) : state_(std::make_unique<State>(config, device)) {
  model::set_threads(threads);
}

Worker::~Worker() = default;

nlohmann::json Worker::execute(const nlohmann::json& unit) {
  nlohmann::json out;
  try {
    at::NoGradGuard no_grad;
    // The current CUDA device is this worker's, for anything that allocates
    // on "the current device" (kernels, cuBLAS handles, caches).
    c10::OptionalDeviceGuard on_device;
    if (state_->device.is_cuda()) on_device.reset_device(state_->device);
    state_->ensure_model();
    const std::string kind = unit.at("kind");
    out = kind == "objective" ? state_->objective(unit)
          : kind == "train"   ? state_->train_and_evaluate(unit)
                              : state_->evaluate(unit);
  } catch (const model::NonFiniteError& e) {  // this trial's numbers: the trial fails, the sweep goes on
    out = {{"failed", first_line(e.what())}};
  } catch (const std::exception& e) {  // I/O, bad input, bugs: the run stops
    out = {{"error", first_line(e.what())}};
  }
  out["trial"] = unit.value("trial", "");
  out["unit"] = unit.value("unit", -1);
  return out;
}

}  // namespace lorahub::run
