#pragma once
// COBYLA driven as nevergrad's NGOpt drives it for LoraHub's budgets: Powell's
// method (NLopt's implementation) in the standardised space of the box
// (optim/box.h), starting at z = 0 with initial step rhobeg = 1 (so the first
// probes move x by (upper - lower) / 6 along each axis), no stopping
// tolerance, at most the remaining budget of evaluations, restarted from the
// best point if it stops early (nevergrad's recast loop).
//
// NLopt calls the objective itself; to offer ask/tell without threads the
// optimizer replays the told history through NLopt on each ask and stops it
// at the first point not yet evaluated. The state is thus just the history,
// and the replay is exact because COBYLA is deterministic.

#include "optim/optimizer.h"

namespace lorahub::optim {

class Cobyla : public Optimizer {
 public:
  Cobyla(Box box, int64_t budget);
  std::string name() const override { return "cobyla"; }

 protected:
  std::vector<Vec> propose(int64_t max_count) override;
  void observe(const std::vector<Vec>& z, const std::vector<double>& values) override;

 private:
  struct Entry {
    Vec z;
    double value;
  };
  std::vector<Entry> history_;
};

}  // namespace lorahub::optim
