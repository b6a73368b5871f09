#pragma once
// Everything a finished trial produced; what the results file holds per trial.
//
// The fields are listed once, in for_each_field below; the journal (JSON
// lines), the HDF5 writer and reader (run/results_store.cc) and the tests
// walk that list, so adding a field is one edit here.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lorahub::run {

struct TrialRecord {
  std::string id, task, method;
  int64_t seed = 0, n_modules = 0, n_shots = 0;
  std::string status = "done";  // "done", or "failed" with the reason in `error`
  std::string error;
  double accuracy = 0;
  int64_t n_correct = 0, n_eval = 0;
  double best_objective = std::numeric_limits<double>::quiet_NaN();  // NaN for baselines
  int64_t steps = 0;  // objective evaluations
  double wall_s = 0;
  std::vector<std::string> modules;
  std::vector<double> weights;
  std::vector<double> history_objective, history_loss;
  std::vector<std::vector<double>> history_weights;  // [steps][n_modules]
  std::vector<int64_t> shots;
  std::vector<int64_t> eval_index;
  std::vector<std::string> predictions;
  std::vector<int8_t> correct;
};

// Where a field lives. `json`: its key in a journal line. `hdf5`: its path
// under /trials/<id> (an attribute for scalars, a dataset for vectors; "" for
// the id, which names the group). `summary`: also a column of /summary.
// `optional`: written to HDF5 only when set (a non-empty string) and may be
// absent when read (fields added after format version 1; the empty value then).
struct FieldInfo {
  const char* json;
  const char* hdf5;
  bool summary;
  bool optional;
};

// Calls fn(FieldInfo, member) for every field of `r`, in file order.
// `Record` is TrialRecord or const TrialRecord.
template <typename Record, typename Fn>
void for_each_field(Record& r, Fn&& fn) {
  fn(FieldInfo{"id", "", true, false}, r.id);
  fn(FieldInfo{"task", "task", true, false}, r.task);
  fn(FieldInfo{"method", "method", true, false}, r.method);
  fn(FieldInfo{"seed", "seed", true, false}, r.seed);
  fn(FieldInfo{"n_modules", "n_modules", true, false}, r.n_modules);
  fn(FieldInfo{"n_shots", "n_shots", true, false}, r.n_shots);
  fn(FieldInfo{"status", "status", true, false}, r.status);
  fn(FieldInfo{"error", "error", false, true}, r.error);
  fn(FieldInfo{"accuracy", "accuracy", true, false}, r.accuracy);
  fn(FieldInfo{"n_correct", "n_correct", true, false}, r.n_correct);
  fn(FieldInfo{"n_eval", "n_eval", true, false}, r.n_eval);
  fn(FieldInfo{"best_objective", "best_objective", true, false}, r.best_objective);
  fn(FieldInfo{"steps", "steps", true, false}, r.steps);
  fn(FieldInfo{"wall_s", "wall_s", true, false}, r.wall_s);
  fn(FieldInfo{"modules", "modules", false, false}, r.modules);
  fn(FieldInfo{"weights", "weights", false, false}, r.weights);
  fn(FieldInfo{"shots", "shots", false, false}, r.shots);
  fn(FieldInfo{"history_objective", "history/objective", false, false}, r.history_objective);
  fn(FieldInfo{"history_loss", "history/loss", false, false}, r.history_loss);
  fn(FieldInfo{"history_weights", "history/weights", false, false}, r.history_weights);
  fn(FieldInfo{"eval_index", "eval/index", false, false}, r.eval_index);
  fn(FieldInfo{"predictions", "eval/prediction", false, false}, r.predictions);
  fn(FieldInfo{"correct", "eval/correct", false, false}, r.correct);
}

// A journal line. Non-finite numbers are written as null (JSON has no NaN)
// and read back as NaN.
nlohmann::json to_json(const TrialRecord& r);
// Throws std::invalid_argument naming the field when one is missing (and not
// optional), of the wrong type, or `status` is neither "done" nor "failed".
TrialRecord record_from_json(const nlohmann::json& j);

}  // namespace lorahub::run
