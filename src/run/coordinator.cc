#include "run/coordinator.h"

#include "learn/learner.h"
#include "lora/method.h"
#include "optim/optimizer.h"
#include "tasks/bbh.h"
#include "util/random.h"
#include "tasks/scoring.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace lorahub::run {
namespace {

using Clock = std::chrono::steady_clock;

// What a gradient method's train unit learns.
Training training_of(const MethodConfig& m) {
  if (m.name == "cat_learned") return Training::kCatLearned;
  switch (m.train_mode()) {
    case learn::TrainMode::kFull: return Training::kFull;
    case learn::TrainMode::kIa3: return Training::kIa3;
    case learn::TrainMode::kLora: break;
  }
  return Training::kLora;  // lora_tuning, data_mix
}

struct TrialState {
  Trial trial;
  const MethodConfig* method = nullptr;
  const tasks::BbhTask* task = nullptr;
  tasks::ShotSplit split;
  std::vector<std::string> module_ids, module_dirs;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::vector<optim::Vec> population;
  std::vector<double> losses, objectives;
  int64_t units_pending = 0;
  std::vector<double> final_weights;
  std::vector<std::string> predictions;
  TrialRecord record;
  Clock::time_point start;
};

class Coordinator {
 public:
  Coordinator(const Config& c, Transport& t, ResultsStore& s, bool progress)
      : config_(c), transport_(t), store_(s), progress_(progress), start_(Clock::now()) {}

  RunSummary run(const std::vector<Trial>& plan, const std::atomic<bool>& stop) {
    RunSummary summary;
    summary.planned = static_cast<int64_t>(plan.size());
    for (const auto& t : plan) {
      if (store_.finished(t.id)) {
        ++summary.skipped;
      } else {
        todo_.push_back(t);
      }
    }
    total_ = todo_.size();
    std::set<int> idle;
    for (int w = 0; w < transport_.num_workers(); ++w) idle.insert(w);
    int in_flight = 0;
    while (true) {
      const bool stopping = stop.load();
      // Keep enough trials active that every idle worker has a unit.
      while (!stopping && ready_.size() < idle.size() && next_ < todo_.size()) activate(todo_[next_++]);
      while (!stopping && !idle.empty() && !ready_.empty()) {
        const int w = *idle.begin();
        idle.erase(idle.begin());
        transport_.send(w, ready_.front());
        ready_.pop_front();
        ++in_flight;
      }
      if (in_flight == 0) {
        if (stopping) {
          summary.interrupted = !active_.empty() || next_ < todo_.size();
          break;
        }
        if (ready_.empty() && next_ >= todo_.size()) {
          if (!active_.empty()) throw std::logic_error("coordinator: trials active with no work");
          break;
        }
        continue;
      }
      auto [worker, result] = transport_.receive();
      --in_flight;
      idle.insert(worker);
      handle(result);
    }
    summary.finished = finished_;
    if (progress_) std::fprintf(stderr, "\n");
    return summary;
  }

 private:
  WorkUnit unit_base(const TrialState& s, UnitKind kind) {
    WorkUnit u;
    u.kind = kind;
    u.trial = s.trial.id;
    u.unit = unit_counter_++;
    u.task = s.trial.task;
    u.modules = s.module_dirs;
    u.composition = lora::parse_method(s.method->composition, "sweep.methods.composition");
    return u;
  }

  // Hands `u` out; its results land at `offset` in the trial's population or predictions.
  void queue(TrialState& s, WorkUnit u, size_t offset) {
    offsets_[u.unit] = offset;
    ready_.push_back(std::move(u));
    ++s.units_pending;
  }

  const tasks::BbhTask& task(const std::string& name) {
    auto it = tasks_.find(name);
    if (it == tasks_.end()) it = tasks_.emplace(name, tasks::load_bbh_task(config_.bbh_dir, name)).first;
    return it->second;
  }

  void activate(const Trial& t) {
    auto s = std::make_unique<TrialState>();
    s->trial = t;
    s->method = &config_.methods[t.method];
    s->task = &task(t.task);
    s->split = tasks::split_shots(*s->task, t.n_shots, static_cast<uint64_t>(t.seed), config_.max_eval);
    s->start = Clock::now();
    if (s->method->draws_modules()) {
      std::vector<int64_t> chosen;
      if (const auto* own = config_.task_modules(t.task)) {  // modules.per_task: the task's own modules
        chosen.assign(own->begin(), own->end());
      } else {
        chosen = draw_modules(static_cast<int64_t>(config_.module_ids.size()), t.n_modules,
                                     static_cast<uint64_t>(t.seed));
      }
      for (int64_t i : chosen) {
        s->module_ids.push_back(config_.module_ids[static_cast<size_t>(i)]);
        s->module_dirs.push_back(config_.module_dir(static_cast<size_t>(i)));
      }
    }
    if (t.module >= 0) {  // single: the module alone (LoraHub with w = 1 is s B A)
      s->module_ids = {config_.module_ids[static_cast<size_t>(t.module)]};
      s->module_dirs = {config_.module_dir(static_cast<size_t>(t.module))};
      s->final_weights = {1.0};
    }
    if (s->method->name == "merge") s->final_weights.assign(s->module_dirs.size(), 1.0 / static_cast<double>(t.n_modules));
    if (s->method->learns()) {
      optim::OptimizerOptions o{s->method->optimizer, s->method->budget, util::stable_hash("optimizer|" + t.id),
                                s->method->population};
      s->optimizer = optim::make_optimizer(o, learn::lorahub_box(t.n_modules, s->method->bound));
    }
    TrialState& ref = *s;
    active_.emplace(t.id, std::move(s));
    if (ref.optimizer) {
      ask(ref);
    } else if (ref.method->trains() || ref.method->name == "cat_learned" || ref.method->name == "data_mix") {
      queue_training(ref);
    } else {
      queue_eval(ref);
    }
  }

  void ask(TrialState& s) {
    s.population = s.optimizer->ask();
    s.losses.assign(s.population.size(), 0.0);
    s.objectives.assign(s.population.size(), 0.0);
    const size_t per = static_cast<size_t>(config_.candidates_per_pass);
    for (size_t start = 0; start < s.population.size(); start += per) {
      WorkUnit u = unit_base(s, UnitKind::kObjective);
      const size_t end = std::min(s.population.size(), start + per);
      u.candidates.assign(s.population.begin() + static_cast<long>(start), s.population.begin() + static_cast<long>(end));
      u.shots = s.split.shots;
      u.loss = util::parse_name(learn::kLossNames, s.method->loss, "sweep.methods.loss");
      u.loss_batch_size = s.method->loss_batch_size;
      u.l1 = s.method->l1;
      queue(s, std::move(u), start);
    }
  }

  void queue_eval(TrialState& s) {
    s.predictions.assign(s.split.eval.size(), "");
    const size_t per = static_cast<size_t>(config_.eval_shard_size);
    for (size_t start = 0; start < s.split.eval.size(); start += per) {
      WorkUnit u = unit_base(s, UnitKind::kEval);
      const size_t end = std::min(s.split.eval.size(), start + per);
      u.prompt = s.method->name == "icl" ? PromptStyle::kIcl : PromptStyle::kZeroShot;
      // no weights: the base model (single and merge: fixed weights, no optimizer)
      if (s.optimizer || !s.final_weights.empty()) u.weights = s.final_weights;
      if (s.method->name == "merge") u.merge = merge_spec(s);
      u.indices.assign(s.split.eval.begin() + static_cast<long>(start), s.split.eval.begin() + static_cast<long>(end));
      queue(s, std::move(u), start);
    }
    if (s.split.eval.empty()) finish(s);
  }

  // A gradient baseline is one unit: train on the shots, predict the eval set.
  void queue_training(TrialState& s) {
    const MethodConfig& m = *s.method;
    WorkUnit u = unit_base(s, UnitKind::kTrain);
    u.shots = s.split.shots;
    u.indices = s.split.eval;
    u.training = training_of(m);
    u.epochs = m.epochs;
    u.per_target = m.per_target;
    if (m.needs_skill_data()) {
      for (const auto& id : s.module_ids) {
        const auto at = std::find(config_.module_ids.begin(), config_.module_ids.end(), id);
        u.skill_data.push_back(config_.skill_data(static_cast<size_t>(at - config_.module_ids.begin())));
      }
    }
    u.steps = m.train_steps;
    u.lr = m.learning_rate();
    u.rank = m.rank;
    u.alpha = m.alpha;
    u.batch_size = m.train_batch_size;
    u.targets = m.targets;
    u.seed = util::stable_hash("train|" + s.trial.id);
    s.predictions.assign(s.split.eval.size(), "");
    queue(s, std::move(u), 0);
  }

  MergeSpec merge_spec(const TrialState& s) const {
    MergeSpec m;
    m.method = lora::parse_method(s.method->merge_method, "sweep.methods.merge_method", true);
    m.density = s.method->density;
    m.majority_sign = lora::parse_majority_sign(s.method->majority_sign, "sweep.methods.majority_sign");
    m.seed = util::stable_hash("merge|" + s.trial.id);
    return m;
  }

  void handle(const UnitResult& result) {
    if (result.status == ResultStatus::kError) throw std::runtime_error("trial " + result.trial + ": " + result.reason);
    auto it = active_.find(result.trial);
    if (it == active_.end()) {
      const bool of_failed_trial = failed_.count(result.trial) && offsets_.erase(result.unit);
      if (of_failed_trial) return;  // in flight when its trial failed
      throw std::logic_error("result for an unknown trial");
    }
    TrialState& s = *it->second;
    const size_t offset = offsets_.at(result.unit);
    offsets_.erase(result.unit);
    if (result.status == ResultStatus::kFailed) {
      fail(s, result.reason);
    } else if (result.kind == UnitKind::kObjective) {
      const auto& losses = result.losses;
      if (offset + losses.size() > s.population.size()) {
        throw std::logic_error("trial " + result.trial + ": more losses than candidates");
      }
      for (size_t i = 0; i < losses.size(); ++i) {
        s.losses[offset + i] = losses[i];
        s.objectives[offset + i] = result.objectives[i];
      }
      evaluations_ += static_cast<int64_t>(losses.size());
      if (--s.units_pending > 0) return;
      for (size_t i = 0; i < s.population.size(); ++i) {
        s.record.history_weights.push_back(s.population[i]);
        s.record.history_loss.push_back(s.losses[i]);
        s.record.history_objective.push_back(s.objectives[i]);
      }
      s.optimizer->tell(s.population, s.objectives);
      if (!s.optimizer->done()) {
        ask(s);
      } else if (s.optimizer->best_x().empty()) {
        // Never a finite objective: no weights to evaluate, and the base
        // model's predictions are not this trial's.
        fail(s, learn::never_finite_reason(s.optimizer->evaluations()));
      } else {
        s.final_weights = s.optimizer->best_x();
        queue_eval(s);
      }
    } else {
      if (result.kind == UnitKind::kTrain) s.record.history_loss = result.train_losses;
      if (result.weights) s.final_weights = *result.weights;
      const auto& predictions = result.predictions;
      if (offset + predictions.size() > s.predictions.size()) {
        throw std::logic_error("trial " + result.trial + ": more predictions than examples");
      }
      for (size_t i = 0; i < predictions.size(); ++i) s.predictions[offset + i] = predictions[i];
      if (--s.units_pending == 0) finish(s);
    }
  }

  // The trial's numbers went non-finite (an objective never finite, a
  // diverged training, non-finite logits): it is stored as failed with
  // `reason`, as any finished trial, and the sweep goes on. Its units not yet
  // sent are dropped; those in flight are ignored when they come back.
  void fail(TrialState& s, const std::string& reason) {
    s.record.status = "failed";
    s.record.error = reason;
    for (auto u = ready_.begin(); u != ready_.end();) {
      if (u->trial == s.trial.id) {
        offsets_.erase(u->unit);
        u = ready_.erase(u);
      } else {
        ++u;
      }
    }
    failed_.insert(s.trial.id);
    finish(s);
  }

  void finish(TrialState& s) {
    TrialRecord& r = s.record;
    r.id = s.trial.id;
    r.task = s.trial.task;
    r.method = s.trial.label.empty() ? s.method->label : s.trial.label;
    r.seed = s.trial.seed;
    r.n_modules = s.trial.n_modules;
    r.n_shots = s.trial.n_shots;
    r.modules = s.module_ids;
    r.weights = s.final_weights;
    r.shots = s.split.shots;
    const bool done = r.status == "done";  // a failed trial evaluated nothing
    if (done) {
      r.eval_index = s.split.eval;
      r.predictions = s.predictions;
    }
    for (size_t i = 0; i < r.eval_index.size(); ++i) {
      const bool ok = tasks::exact_match(s.predictions[i], s.task->examples[static_cast<size_t>(s.split.eval[i])].target);
      r.correct.push_back(ok ? 1 : 0);
      r.n_correct += ok;
    }
    r.n_eval = static_cast<int64_t>(r.eval_index.size());
    r.accuracy = !done ? std::nan("") : r.n_eval ? static_cast<double>(r.n_correct) / static_cast<double>(r.n_eval) : 0.0;
    if (s.optimizer) {
      r.best_objective = done ? s.optimizer->best_value() : std::nan("");  // a failed trial has no best value
      r.steps = s.optimizer->evaluations();
    }
    r.wall_s = std::chrono::duration<double>(Clock::now() - s.start).count();
    store_.add(r);  // durable before the trial is reported done
    ++finished_;
    active_.erase(s.trial.id);
    report();
  }

  void report() {
    if (!progress_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(finished_) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - static_cast<size_t>(finished_)) / rate : 0;
    std::fprintf(stderr, "\rtrials %lld/%zu done, %zu active, %.1f evaluations/s, elapsed %.0fs, ETA %.0fs   ",
                 static_cast<long long>(finished_), total_, active_.size(),
                 elapsed > 0 ? static_cast<double>(evaluations_) / elapsed : 0.0, elapsed, eta);
    std::fflush(stderr);
  }

  const Config& config_;
  Transport& transport_;
  ResultsStore& store_;
  bool progress_;
  Clock::time_point start_;
  std::vector<Trial> todo_;
  size_t next_ = 0, total_ = 0;
  std::map<std::string, std::unique_ptr<TrialState>> active_;
  std::map<std::string, tasks::BbhTask> tasks_;
  std::deque<WorkUnit> ready_;
  std::map<int64_t, size_t> offsets_;  // unit -> first candidate / example it covers
  std::set<std::string> failed_;       // trials failed in this run (late units of theirs are ignored)
  int64_t unit_counter_ = 0, finished_ = 0, evaluations_ = 0;
};

}  // namespace

RunSummary coordinate(const Config& config, const std::vector<Trial>& plan, Transport& transport, ResultsStore& store,
                      const std::atomic<bool>& stop_requested, bool show_progress) {
  Coordinator c(config, transport, store, show_progress);
  return c.run(plan, stop_requested);
}

}  // namespace lorahub::run
