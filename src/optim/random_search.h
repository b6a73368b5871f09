#pragma once
// Random search: the initial point first, then points drawn uniformly in the
// box (a reference for how much the other optimizers' models buy).

#include "optim/optimizer.h"
#include "util/random.h"

namespace lorahub::optim {

class RandomSearch : public Optimizer {
 public:
  RandomSearch(Box box, int64_t budget, uint64_t seed);
  std::string name() const override { return "random"; }

 protected:
  std::vector<Vec> propose(int64_t max_count) override;
  void observe(const std::vector<Vec>&, const std::vector<double>&) override {}

 private:
  util::Rng rng_;
  bool first_ = true;
};

}  // namespace lorahub::optim
