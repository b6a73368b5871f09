#pragma once
// (1+1)-ES with the one-fifth success rule, in standardised space: a
// Gaussian step from the parent, kept if not worse; the step size grows on
// success and shrinks on failure so that about 1/5 of steps succeed.

#include "optim/optimizer.h"
#include "util/random.h"

namespace lorahub::optim {

class OnePlusOne : public Optimizer {
 public:
  OnePlusOne(Box box, int64_t budget, uint64_t seed);
  std::string name() const override { return "one_plus_one"; }

 protected:
  std::vector<Vec> propose(int64_t max_count) override;
  void observe(const std::vector<Vec>& z, const std::vector<double>& values) override;

 private:
  util::Rng rng_;
  Vec parent_;
  double parent_value_;
  double sigma_ = 1.0;
  bool started_ = false;
};

}  // namespace lorahub::optim
