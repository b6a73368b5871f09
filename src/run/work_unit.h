#pragma once
// The runner's messages: a unit of work (rank 0 -> a worker) and its result
// (worker -> rank 0). Each is one struct whose fields are listed once, in
// for_each_unit_field and for_each_result_field below; the wire format (CBOR
// of a JSON object) is written and read, validated, from that list, so adding
// a field is one edit here.
//
// Which fields a message carries depends on its kind:
//   objective: losses of a population of candidate weight vectors on the
//              trial's shots (LoraHub's objective, learn/objective.h)
//              -> losses[], objectives[] (loss + L1 term), one per candidate
//   eval:      predictions of the base model (no weights), of a composition
//              (weights, composition) or of a merge (weights, merge) on the
//              evaluation examples `indices`
//              -> predictions[], one per index
//   train:     a gradient baseline trained on the shots (or the modules'
//              skill data), then predictions on `indices`
//              -> predictions[], train_losses[]; cat_learned also weights[]
// A unit whose numbers went non-finite (model::NonFiniteError: training
// diverged, logits NaN or inf) returns status failed with the reason: its
// trial is stored as failed and the sweep goes on. Any other failure returns
// status error and stops the run.
//
// Reading is strict: a missing field, a field the kind does not carry, a
// wrong type or an unknown name (kind, loss, prompt, training, composition,
// merge method) throws std::invalid_argument "work unit <trial>: field
// '<key>': ..." (or "unit result ..."). No LibTorch here.

#include "learn/defaults.h"
#include "lora/method.h"
#include "util/names.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::run {

enum class UnitKind { kObjective, kEval, kTrain };
inline constexpr util::Name<UnitKind> kUnitKindNames[] = {
    {UnitKind::kObjective, "objective"}, {UnitKind::kEval, "eval"}, {UnitKind::kTrain, "train"}};

// How evaluation prompts are built (tasks/bbh.h): the question alone, or the
// task's few-shot chain-of-thought prefix before it (the icl baseline).
enum class PromptStyle { kZeroShot, kIcl };
inline constexpr util::Name<PromptStyle> kPromptStyleNames[] = {{PromptStyle::kZeroShot, "zero_shot"},
                                                                 {PromptStyle::kIcl, "icl"}};

// What a train unit learns: a gradient baseline (learn::train in that mode;
// data_mix is kLora on the modules' skill data) or cat_learned (global CAT
// weights by AdamW, learn/gradient_weights.h, evaluated merged).
enum class Training { kLora, kFull, kIa3, kCatLearned };
inline constexpr util::Name<Training> kTrainingNames[] = {{Training::kLora, "lora"},
                                                          {Training::kFull, "full"},
                                                          {Training::kIa3, "ia3"},
                                                          {Training::kCatLearned, "cat_learned"}};

// A merge trial's PEFT add_weighted_adapter settings (lora/merge_methods.h).
struct MergeSpec {
  lora::Method method = lora::Method::kLinear;
  double density = 1.0;
  lora::MajoritySign majority_sign = lora::MajoritySign::kTotal;
  uint64_t seed = 0;  // DARE's masks
  bool operator==(const MergeSpec& o) const {
    return method == o.method && density == o.density && majority_sign == o.majority_sign && seed == o.seed;
  }
};

struct WorkUnit {
  UnitKind kind = UnitKind::kObjective;
  std::string trial;  // trial id (run/plan.h)
  int64_t unit = 0;   // rank 0's counter: matches a result to its unit
  std::string task;   // BBH task name
  std::vector<std::string> modules;  // adapter directories (empty: no modules)
  // objective, eval: how the modules are combined (lorahub or cat)
  lora::Method composition = lora::Method::kLoraHub;
  // objective, train: indices of the training examples in the task
  std::vector<int64_t> shots;
  // eval, train: indices of the examples to predict
  std::vector<int64_t> indices;

  // objective
  std::vector<std::vector<double>> candidates;  // [P][n_modules]
  learn::LossNormalization loss = learn::LossNormalization::kLorahub;
  int64_t loss_batch_size = 0;  // 0: all shots in one batch
  double l1 = 0;

  // eval
  PromptStyle prompt = PromptStyle::kZeroShot;
  std::optional<std::vector<double>> weights;  // [n_modules]; unset: the base model
  std::optional<MergeSpec> merge;              // set: merged by this PEFT method, else by `composition`

  // train
  Training training = Training::kLora;
  std::vector<std::string> skill_data;  // JSONL files; non-empty: train on them instead of the shots
  int64_t steps = 0, rank = 0, batch_size = 0, epochs = 0;
  double lr = 0, alpha = 0;
  bool per_target = false;           // cat_learned: one weight per module and target
  std::vector<std::string> targets;  // LoRA target_modules (empty: the family's default)
  uint64_t seed = 0;                 // initialisation and batch order
};

enum class ResultStatus { kOk, kFailed, kError };
inline constexpr util::Name<ResultStatus> kResultStatusNames[] = {
    {ResultStatus::kOk, "ok"}, {ResultStatus::kFailed, "failed"}, {ResultStatus::kError, "error"}};

struct UnitResult {
  UnitKind kind = UnitKind::kObjective;  // the unit's
  std::string trial;
  int64_t unit = 0;
  ResultStatus status = ResultStatus::kOk;
  std::string reason;  // failed, error: one line
  // objective (status ok)
  std::vector<double> losses, objectives;  // [P]; may be NaN or inf
  // eval, train (status ok)
  std::vector<std::string> predictions;  // one per unit index
  // train (status ok)
  std::vector<double> train_losses;            // per step
  std::optional<std::vector<double>> weights;  // cat_learned: the learned CAT weights
};

// Where a field is carried: a bit per UnitKind.
inline constexpr unsigned kind_bit(UnitKind k) { return 1u << static_cast<unsigned>(k); }
inline constexpr unsigned kObjective = kind_bit(UnitKind::kObjective), kEval = kind_bit(UnitKind::kEval),
                          kTrain = kind_bit(UnitKind::kTrain), kAllKinds = kObjective | kEval | kTrain;

// `key`: the field's name on the wire; `kinds`: the unit kinds that carry it;
// `ok_only`: results only, carried when the status is ok. A std::optional
// member may be absent; every other field of the kind is required.
struct UnitField {
  const char* key;
  unsigned kinds;
  bool ok_only;
};

// Calls fn(UnitField, member) for every field but `kind`, which is read first.
// `Unit` is WorkUnit or const WorkUnit.
template <typename Unit, typename Fn>
void for_each_unit_field(Unit& u, Fn&& fn) {
  fn(UnitField{"trial", kAllKinds, false}, u.trial);
  fn(UnitField{"unit", kAllKinds, false}, u.unit);
  fn(UnitField{"task", kAllKinds, false}, u.task);
  fn(UnitField{"modules", kAllKinds, false}, u.modules);
  fn(UnitField{"composition", kObjective | kEval, false}, u.composition);
  fn(UnitField{"shots", kObjective | kTrain, false}, u.shots);
  fn(UnitField{"indices", kEval | kTrain, false}, u.indices);
  fn(UnitField{"candidates", kObjective, false}, u.candidates);
  fn(UnitField{"loss", kObjective, false}, u.loss);
  fn(UnitField{"loss_batch_size", kObjective, false}, u.loss_batch_size);
  fn(UnitField{"l1", kObjective, false}, u.l1);
  fn(UnitField{"prompt", kEval, false}, u.prompt);
  fn(UnitField{"weights", kEval, false}, u.weights);
  fn(UnitField{"merge", kEval, false}, u.merge);
  fn(UnitField{"training", kTrain, false}, u.training);
  fn(UnitField{"skill_data", kTrain, false}, u.skill_data);
  fn(UnitField{"steps", kTrain, false}, u.steps);
  fn(UnitField{"rank", kTrain, false}, u.rank);
  fn(UnitField{"batch_size", kTrain, false}, u.batch_size);
  fn(UnitField{"epochs", kTrain, false}, u.epochs);
  fn(UnitField{"lr", kTrain, false}, u.lr);
  fn(UnitField{"alpha", kTrain, false}, u.alpha);
  fn(UnitField{"per_target", kTrain, false}, u.per_target);
  fn(UnitField{"targets", kTrain, false}, u.targets);
  fn(UnitField{"seed", kTrain, false}, u.seed);
}

// The same for a result; `Result` is UnitResult or const UnitResult.
template <typename Result, typename Fn>
void for_each_result_field(Result& r, Fn&& fn) {
  fn(UnitField{"trial", kAllKinds, false}, r.trial);
  fn(UnitField{"unit", kAllKinds, false}, r.unit);
  fn(UnitField{"status", kAllKinds, false}, r.status);
  fn(UnitField{"reason", kAllKinds, false}, r.reason);
  fn(UnitField{"losses", kObjective, true}, r.losses);
  fn(UnitField{"objectives", kObjective, true}, r.objectives);
  fn(UnitField{"predictions", kEval | kTrain, true}, r.predictions);
  fn(UnitField{"train_losses", kTrain, true}, r.train_losses);
  fn(UnitField{"weights", kTrain, true}, r.weights);
}

// The wire format: CBOR of a JSON object (NaN and inf survive, as CBOR floats).
std::vector<uint8_t> encode(const WorkUnit& u);
std::vector<uint8_t> encode(const UnitResult& r);
// Throw std::invalid_argument as described above (also for bytes that are
// not CBOR of an object).
WorkUnit decode_unit(const std::vector<uint8_t>& bytes);
UnitResult decode_result(const std::vector<uint8_t>& bytes);

}  // namespace lorahub::run
