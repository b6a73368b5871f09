#include "run/trial_record.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace lorahub::run {
namespace {
// JSON has no NaN or inf (nlohmann writes null): non-finite values are null
// and read back as NaN (a diverged evaluation's loss, a failed trial's accuracy).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json numbers(const std::vector<double>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(number(x));
  return out;
}
double number_from(const nlohmann::json& j) { return j.is_null() ? std::nan("") : j.get<double>(); }
std::vector<double> numbers_from(const nlohmann::json& j) {
  std::vector<double> out;
  for (const auto& x : j) out.push_back(number_from(x));
  return out;
}
}  // namespace

nlohmann::json to_json(const TrialRecord& r) {
  nlohmann::json j = {
      {"id", r.id}, {"task", r.task}, {"method", r.method}, {"seed", r.seed}, {"n_modules", r.n_modules},
      {"n_shots", r.n_shots}, {"status", r.status}, {"error", r.error}, {"accuracy", r.accuracy}, {"n_correct", r.n_correct},
      {"n_eval", r.n_eval}, {"steps", r.steps}, {"wall_s", r.wall_s}, {"modules", r.modules}, {"weights", r.weights},
      {"history_objective", numbers(r.history_objective)}, {"history_loss", numbers(r.history_loss)},
      {"history_weights", r.history_weights}, {"shots", r.shots}, {"eval_index", r.eval_index},
      {"predictions", r.predictions}, {"correct", r.correct}};
  j["best_objective"] = number(r.best_objective);  // null for baselines and failed trials
  j["accuracy"] = number(r.accuracy);              // null for failed trials
  return j;
}

TrialRecord record_from_json(const nlohmann::json& j) {
  TrialRecord r;
  r.id = j.at("id");
  r.task = j.at("task");
  r.method = j.at("method");
  r.seed = j.at("seed");
  r.n_modules = j.at("n_modules");
  r.n_shots = j.at("n_shots");
  r.status = j.at("status");
  r.error = j.value("error", std::string());  // journals written before the field
  r.accuracy = number_from(j.at("accuracy"));
  r.n_correct = j.at("n_correct");
  r.n_eval = j.at("n_eval");
  r.best_objective = number_from(j.at("best_objective"));
  r.steps = j.at("steps");
  r.wall_s = j.at("wall_s");
  r.modules = j.at("modules").get<std::vector<std::string>>();
  r.weights = j.at("weights").get<std::vector<double>>();
  r.history_objective = numbers_from(j.at("history_objective"));
  r.history_loss = numbers_from(j.at("history_loss"));
  r.history_weights = j.at("history_weights").get<std::vector<std::vector<double>>>();
  r.shots = j.at("shots").get<std::vector<int64_t>>();
  r.eval_index = j.at("eval_index").get<std::vector<int64_t>>();
  r.predictions = j.at("predictions").get<std::vector<std::string>>();
  r.correct = j.at("correct").get<std::vector<int8_t>>();
  return r;
}

}  // namespace lorahub::run
