#include "run/trial_record.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace lorahub::run {

nlohmann::json to_json(const TrialRecord& r) {
  nlohmann::json j = {
      {"id", r.id}, {"task", r.task}, {"method", r.method}, {"seed", r.seed}, {"n_modules", r.n_modules},
      {"n_shots", r.n_shots}, {"status", r.status}, {"error", r.error}, {"accuracy", r.accuracy}, {"n_correct", r.n_correct},
      {"n_eval", r.n_eval}, {"steps", r.steps}, {"wall_s", r.wall_s}, {"modules", r.modules}, {"weights", r.weights},
      {"history_objective", r.history_objective}, {"history_loss", r.history_loss},
      {"history_weights", r.history_weights}, {"shots", r.shots}, {"eval_index", r.eval_index},
      {"predictions", r.predictions}, {"correct", r.correct}};
  // JSON has no NaN: baselines carry null.
  j["best_objective"] = std::isnan(r.best_objective) ? nlohmann::json(nullptr) : nlohmann::json(r.best_objective);
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
  r.accuracy = j.at("accuracy");
  r.n_correct = j.at("n_correct");
  r.n_eval = j.at("n_eval");
  r.best_objective = j.at("best_objective").is_null() ? std::nan("") : j.at("best_objective").get<double>();
  r.steps = j.at("steps");
  r.wall_s = j.at("wall_s");
  r.modules = j.at("modules").get<std::vector<std::string>>();
  r.weights = j.at("weights").get<std::vector<double>>();
  r.history_objective = j.at("history_objective").get<std::vector<double>>();
  r.history_loss = j.at("history_loss").get<std::vector<double>>();
  r.history_weights = j.at("history_weights").get<std::vector<std::vector<double>>>();
  r.shots = j.at("shots").get<std::vector<int64_t>>();
  r.eval_index = j.at("eval_index").get<std::vector<int64_t>>();
  r.predictions = j.at("predictions").get<std::vector<std::string>>();
  r.correct = j.at("correct").get<std::vector<int8_t>>();
  return r;
}

}  // namespace lorahub::run
