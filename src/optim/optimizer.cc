#include "optim/optimizer.h"

#include "optim/cma_es.h"
#include "optim/cobyla.h"
#include "optim/one_plus_one.h"
#include "optim/random_search.h"

#include <cmath>
#include <stdexcept>

namespace lorahub::optim {

Optimizer::Optimizer(Box box, int64_t budget) : box_(std::move(box)), budget_(budget) {
  box_.check();
  if (budget_ < 1) throw std::invalid_argument("optimizer budget must be at least 1, found " + std::to_string(budget));
}

std::vector<Vec> Optimizer::ask() {
  if (!pending_x_.empty()) throw std::logic_error(name() + ": ask() again before tell()");
  if (done()) return {};
  pending_z_ = propose(budget_ - evaluations_);
  for (const auto& z : pending_z_) pending_x_.push_back(box_.to_box(z));
  return pending_x_;
}

void Optimizer::tell(const std::vector<Vec>& xs, const std::vector<double>& values) {
  if (xs != pending_x_ || values.size() != xs.size()) {
    throw std::logic_error(name() + ": tell() must give the values of the candidates of the last ask()");
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    // NaN (a diverged evaluation) counts as worse than anything.
    if (std::isfinite(values[i]) && values[i] < best_value_) {  // NaN and inf are never the best
      best_value_ = values[i];
      best_x_ = xs[i];
    }
  }
  evaluations_ += static_cast<int64_t>(xs.size());
  std::vector<Vec> z = std::move(pending_z_);
  pending_z_.clear();
  pending_x_.clear();
  observe(z, values);
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o, const Box& box) {
  switch (util::parse_name(kOptimizerNames, o.name, "optimizer")) {
    case OptimizerKind::kCobyla: return std::make_unique<Cobyla>(box, o.budget);
    case OptimizerKind::kCmaEs: return std::make_unique<CmaEs>(box, o.budget, o.seed, o.population);
    case OptimizerKind::kRandom: return std::make_unique<RandomSearch>(box, o.budget, o.seed);
    case OptimizerKind::kOnePlusOne: return std::make_unique<OnePlusOne>(box, o.budget, o.seed);
  }
  throw std::logic_error("make_optimizer: unhandled optimizer");
}

}  // namespace lorahub::optim
