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
// A result that carries only why the unit failed (its first line: LibTorch
// appends a stack trace to its messages).
UnitResult failure(const WorkUnit& unit, ResultStatus status, const std::string& what) {
  UnitResult r;
  r.kind = unit.kind;
  r.trial = unit.trial;
  r.unit = unit.unit;
  r.status = status;
  r.reason = what.substr(0, what.find('\n'));
  if (r.reason.empty()) r.reason = "unknown error";
  return r;
}

// The worker's memory of recent trials: per trial its modules (pooled for
// the compositions), its objective and its last merged model; the modules
// themselves by directory, only those of the cached trials (a sweep over the
// paper's 196 flan-t5-large modules would otherwise keep ~3.7 GB per rank).
class TrialCaches {
 public:
  struct Trial {
    std::string id;
    std::vector<std::string> modules;  // adapter directories
    std::unique_ptr<lora::LoraPool> pool;
    std::unique_ptr<learn::FewShotObjective> objective;
    std::vector<double> merged_weights;
    std::shared_ptr<const model::LanguageModel> merged;
  };

  // The unit's trial, its modules loaded (and, but for a merge, pooled).
  Trial& of(const WorkUnit& unit, const model::LanguageModel& model) {
    for (auto it = trials_.begin(); it != trials_.end(); ++it) {
      if (it->id == unit.trial) {
        trials_.splice(trials_.begin(), trials_, it);
        return trials_.front();
      }
    }
    trials_.push_front(Trial{unit.trial, unit.modules, nullptr, nullptr, {}, nullptr});
    if (trials_.size() > kTrialCacheSize) trials_.pop_back();
    forget_unused_modules();
    Trial& t = trials_.front();
    std::vector<lora::LoraAdapter> chosen = modules_of(t, model);
    // A merge checks its own modules (cat and the svd methods take different
    // ranks); the compositions need a pool of one rank and scale.
    if (!chosen.empty() && !unit.merge) t.pool = std::make_unique<lora::LoraPool>(model, std::move(chosen));
    return t;
  }

  std::vector<lora::LoraAdapter> modules_of(const Trial& t, const model::LanguageModel& model) {
    std::vector<lora::LoraAdapter> chosen;
    for (const auto& d : t.modules) {
      auto a = adapters_.find(d);
      if (a == adapters_.end()) a = adapters_.emplace(d, lora::load_adapter(d, model)).first;
      chosen.push_back(a->second);
    }
    return chosen;
  }

 private:
  void forget_unused_modules() {
    std::set<std::string> used;
    for (const auto& t : trials_) used.insert(t.modules.begin(), t.modules.end());
    for (auto it = adapters_.begin(); it != adapters_.end();) it = used.count(it->first) ? std::next(it) : adapters_.erase(it);
  }

  std::map<std::string, lora::LoraAdapter> adapters_;
  std::list<Trial> trials_;  // most recent first
};

}  // namespace

// The model, tokenizer and tasks, loaded once, and one handler per unit kind.
struct Worker::State {
  const Config& config;
  c10::Device device;
  std::shared_ptr<const model::Tokenizer> tokenizer;
  std::shared_ptr<const model::LanguageModel> model;
  std::map<std::string, tasks::BbhTask> tasks;
  TrialCaches trials;
  using TrialCache = TrialCaches::Trial;

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

  TrialCache& trial(const WorkUnit& unit) { return trials.of(unit, *model); }

  std::vector<std::string> prompts(const tasks::BbhTask& bbh, const std::vector<int64_t>& indices, PromptStyle style) {
    std::vector<std::string> out;
    for (int64_t i : indices) {
      const auto& input = bbh.examples.at(static_cast<size_t>(i)).input;
      out.push_back(style == PromptStyle::kIcl ? tasks::icl_prompt(bbh, input) : tasks::zero_shot_prompt(bbh, input));
    }
    return out;
  }

  // A train unit's examples as token ids: its shots (zero-shot prompts and
  // targets), or the modules' skill data where the unit names it.
  std::pair<std::vector<model::TokenIds>, std::vector<model::TokenIds>> training_examples(const WorkUnit& unit) {
    const auto& bbh = task(unit.task);
    std::vector<std::string> inputs = prompts(bbh, unit.shots, PromptStyle::kZeroShot), targets;
    for (int64_t i : unit.shots) targets.push_back(bbh.examples.at(static_cast<size_t>(i)).target);
    if (!unit.skill_data.empty()) read_skill_data(unit.skill_data, inputs, targets);  // data_mix, skill_mix
    return {learn::encode_inputs(*tokenizer, inputs), learn::encode_targets(*tokenizer, targets)};
  }

  std::vector<std::string> predict(const model::LanguageModel& m, const WorkUnit& unit, PromptStyle style,
                                   const model::LowRankSet* adaptation = nullptr) {
    return learn::generate(m, *tokenizer, prompts(task(unit.task), unit.indices, style),
                           {config.max_new_tokens, config.eval_batch_size, config.stop_strings}, adaptation);
  }

  void objective(const WorkUnit& unit, UnitResult& out) {
    TrialCache& t = trial(unit);
    if (!t.objective) {
      const auto& bbh = task(unit.task);
      std::vector<std::string> targets;
      for (int64_t i : unit.shots) targets.push_back(bbh.examples.at(static_cast<size_t>(i)).target);
      learn::ObjectiveOptions o;
      o.method = unit.composition;
      o.normalization = unit.loss;
      o.batch_size = unit.loss_batch_size;
      o.l1_weight = unit.l1;
      o.candidates_per_pass = config.candidates_per_pass;
      t.objective = std::make_unique<learn::FewShotObjective>(
          *model, *t.pool, learn::encode_inputs(*tokenizer, prompts(bbh, unit.shots, PromptStyle::kZeroShot)),
          learn::encode_targets(*tokenizer, targets), o);
    }
    const at::Tensor w = learn::candidate_matrix(unit.candidates, t.pool->size());
    out.losses = t.objective->losses(w);
    for (int64_t p = 0; p < w.size(0); ++p) {
      out.objectives.push_back(out.losses[static_cast<size_t>(p)] + t.objective->l1_term(w[p]));
    }
  }

  // A gradient baseline: train on the shots (data_mix: the drawn modules' skill data), predict the evaluation set.
  void train_and_evaluate(const WorkUnit& unit, UnitResult& out) {
    if (unit.training == Training::kCatLearned) return learn_and_evaluate(unit, out);
    learn::TrainOptions o;
    o.mode = unit.training == Training::kFull  ? learn::TrainMode::kFull
             : unit.training == Training::kIa3 ? learn::TrainMode::kIa3
                                               : learn::TrainMode::kLora;
    o.steps = unit.steps;
    o.lr = unit.lr;
    o.rank = unit.rank;
    o.alpha = unit.alpha;
    o.batch_size = unit.batch_size;
    o.seed = unit.seed;
    o.targets = unit.targets;
    const auto [inputs, targets] = training_examples(unit);
    const auto r = learn::train(*model, inputs, targets, o);
    if (r.weights) {
      out.predictions = predict(*model->with_weights(r.weights), unit, PromptStyle::kZeroShot);
    } else {
      out.predictions = predict(*model, unit, PromptStyle::kZeroShot, &r.adaptation);
    }
    out.train_losses = r.step_losses;
  }

  // cat_learned: CAT weights by AdamW on the shots (or the skill mix), then the merged model's predictions.
  void learn_and_evaluate(const WorkUnit& unit, UnitResult& out) {
    const auto [inputs, targets] = training_examples(unit);
    TrialCache& t = trial(unit);
    const auto r = learn_for_unit(*model, *t.pool, inputs, targets, unit);
    const auto merged = model->with_weights(lora::merge(*model, *t.pool, r.weights, lora::Method::kCat, unit.per_target));
    for (size_t i = 1; i < r.history.size(); ++i) out.train_losses.push_back(r.history[i].train_loss);
    const at::Tensor w = r.weights.contiguous();
    out.weights = std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
    out.predictions = predict(*merged, unit, PromptStyle::kZeroShot);
  }

  void evaluate(const WorkUnit& unit, UnitResult& out) {
    const model::LanguageModel* m = model.get();
    if (unit.weights) {  // a learned or fixed composition; without weights, the base model
      TrialCache& t = trial(unit);
      if (!t.merged || t.merged_weights != *unit.weights) {
        // As the reference evaluates: the composition merged into the weights.
        if (unit.merge) {
          t.merged = model->with_weights(merged_for_unit(*model, trials.modules_of(t, *model), *unit.weights, *unit.merge));
        } else {
          t.merged = model->with_weights(
              lora::merge(*model, *t.pool, at::tensor(*unit.weights, at::kDouble), unit.composition));
        }
        t.merged_weights = *unit.weights;
      }
      m = t.merged.get();
    }
    out.predictions = predict(*m, unit, unit.prompt);
  }
};

Worker::Worker(const Config& config, c10::Device device, int threads) : state_(std::make_unique<State>(config, device)) {
  model::set_threads(threads);
}

Worker::~Worker() = default;

UnitResult Worker::execute(const WorkUnit& unit) {
  UnitResult out;
  out.kind = unit.kind;
  out.trial = unit.trial;
  out.unit = unit.unit;
  try {
    at::NoGradGuard no_grad;
    // The current CUDA device is this worker's, for anything that allocates
    // on "the current device" (kernels, cuBLAS handles, caches).
    c10::OptionalDeviceGuard on_device;
    if (state_->device.is_cuda()) on_device.reset_device(state_->device);
    state_->ensure_model();
    switch (unit.kind) {
      case UnitKind::kObjective: state_->objective(unit, out); break;
      case UnitKind::kTrain: state_->train_and_evaluate(unit, out); break;
      case UnitKind::kEval: state_->evaluate(unit, out); break;
    }
  } catch (const model::NonFiniteError& e) {  // this trial's numbers: the trial fails, the sweep goes on
    out = failure(unit, ResultStatus::kFailed, e.what());
  } catch (const std::exception& e) {  // I/O, bad input, bugs: the run stops
    out = failure(unit, ResultStatus::kError, e.what());
  }
  return out;
}

}  // namespace lorahub::run
