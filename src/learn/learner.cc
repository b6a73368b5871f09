#include "learn/learner.h"

#include "model/non_finite.h"

#include <ATen/ATen.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace lorahub::learn {

std::string never_finite_reason(int64_t candidates) {
  return "the objective was not finite for any of the " + std::to_string(candidates) +
         " candidates (NaN or inf losses: check the modules' and the model's weights)";
}

optim::Box lorahub_box(int64_t num_modules, double bound) {
  return optim::Box::uniform(static_cast<size_t>(num_modules), -bound, bound, 0.0);
}

LearnResult learn_weights(const FewShotObjective& objective, optim::Optimizer& optimizer, const Progress& progress) {
  LearnResult result;
  const int64_t n = objective.num_modules();
  for (auto xs = optimizer.ask(); !xs.empty(); xs = optimizer.ask()) {
    const at::Tensor w = candidate_matrix(xs, n);
    const auto start = std::chrono::steady_clock::now();
    const std::vector<double> losses = objective.losses(w);
    std::vector<double> values;
    for (size_t p = 0; p < xs.size(); ++p) values.push_back(losses[p] + objective.l1_term(w[static_cast<int64_t>(p)]));
    const std::chrono::duration<double> pass = std::chrono::steady_clock::now() - start;
    for (size_t p = 0; p < xs.size(); ++p) {
      result.history.push_back({xs[p], losses[p], values[p], pass.count() / static_cast<double>(xs.size())});
    }
    optimizer.tell(xs, values);
    if (progress) progress(optimizer, result.history);
  }
  if (optimizer.best_x().empty()) {  // every value NaN or inf: there is no best point to return
    throw model::NonFiniteError(never_finite_reason(static_cast<int64_t>(result.history.size())));
  }
  result.weights = optimizer.best_x();
  result.objective = optimizer.best_value();
  return result;
}

}  // namespace lorahub::learn
