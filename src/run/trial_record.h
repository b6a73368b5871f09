#pragma once
// Everything a finished trial produced; what the results file holds per trial.

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
  std::vector<std::vector<double>> history_weights;
  std::vector<int64_t> shots;
  std::vector<int64_t> eval_index;
  std::vector<std::string> predictions;
  std::vector<int8_t> correct;
};

nlohmann::json to_json(const TrialRecord& r);
TrialRecord record_from_json(const nlohmann::json& j);

}  // namespace lorahub::run
