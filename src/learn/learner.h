#pragma once
// The single-process LoraHub learning loop: ask the optimizer, evaluate the
// candidates in one batched pass, tell, and keep every evaluation.

#include "learn/objective.h"
#include "optim/optimizer.h"

#include <functional>
#include <string>
#include <vector>

namespace lorahub::learn {

struct Evaluation {
  std::vector<double> weights;
  double loss = 0;
  double objective = 0;  // loss + L1
  double seconds = 0;    // wall time of the pass that evaluated it (losses + L1), divided by the candidates in it
};

struct LearnResult {
  std::vector<double> weights;  // best point seen (the recommendation)
  double objective = 0;
  std::vector<Evaluation> history;  // in evaluation order
};

// Called after each told population with the evaluations so far.
using Progress = std::function<void(const optim::Optimizer&, const std::vector<Evaluation>&)>;

// Throws model::NonFiniteError (never_finite_reason) when no candidate's
// objective was finite (NaN or inf for all: there is no best point).
LearnResult learn_weights(const FewShotObjective& objective, optim::Optimizer& optimizer,
                          const Progress& progress = nullptr);

// "the objective was not finite for any of the <n> candidates (...)": the
// reason `learn` stops and a LoraHub trial of `lorahub run` fails.
std::string never_finite_reason(int64_t candidates);

// The LoraHub search box: [-1.5, 1.5]^n from w = 0.
optim::Box lorahub_box(int64_t num_modules, double bound = defaults::kBound);

}  // namespace lorahub::learn
