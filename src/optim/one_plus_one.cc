#include "optim/one_plus_one.h"

#include <cmath>
#include <limits>

namespace lorahub::optim {

OnePlusOne::OnePlusOne(Box box, int64_t budget, uint64_t seed)
    : Optimizer(std::move(box), budget), rng_(seed), parent_(dim(), 0.0),
      parent_value_(std::numeric_limits<double>::infinity()) {}

std::vector<Vec> OnePlusOne::propose(int64_t) {
  if (!started_) return {parent_};  // evaluate the initial point first
  Vec z = parent_;
  for (auto& v : z) v += sigma_ * rng_.normal();
  return {z};
}

void OnePlusOne::observe(const std::vector<Vec>& z, const std::vector<double>& values) {
  const double v = std::isnan(values[0]) ? std::numeric_limits<double>::infinity() : values[0];
  if (!started_) {
    started_ = true;
    parent_value_ = v;
    return;
  }
  // exp(0.8) on success and exp(-0.2) on failure balance at a 1/5 success rate.
  if (v <= parent_value_) {
    parent_ = z[0];
    parent_value_ = v;
    sigma_ *= std::exp(0.8);
  } else {
    sigma_ *= std::exp(-0.2);
  }
}

}  // namespace lorahub::optim
