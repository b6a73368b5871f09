#pragma once
// The ask/tell interface of every optimizer.
//
//   while (auto xs = opt.ask(); !xs.empty()) opt.tell(xs, f(xs));
//
// ask() returns the next candidates (one for sequential methods, a population
// for CMA-ES), all inside the box, and none once the budget of objective
// evaluations is spent. tell() takes the values of exactly the candidates of
// the last ask, in order. The recommendation is the best point seen (the
// least finite value; best_x() stays empty while no value was finite). Same
// seed and same values told -> same candidates asked.

#include "optim/box.h"
#include "optim/optimizer_kind.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::optim {

class Optimizer {
 public:
  Optimizer(Box box, int64_t budget);
  virtual ~Optimizer() = default;

  std::vector<Vec> ask();
  void tell(const std::vector<Vec>& xs, const std::vector<double>& values);

  const Box& box() const { return box_; }
  int64_t budget() const { return budget_; }
  int64_t evaluations() const { return evaluations_; }
  bool done() const { return evaluations_ >= budget_; }
  const Vec& best_x() const { return best_x_; }
  double best_value() const { return best_value_; }
  virtual std::string name() const = 0;

 protected:
  // At most `max_count` (>= 1) candidates in standardised space.
  virtual std::vector<Vec> propose(int64_t max_count) = 0;
  virtual void observe(const std::vector<Vec>& z, const std::vector<double>& values) = 0;
  size_t dim() const { return box_.dim(); }

 private:
  Box box_;
  int64_t budget_;
  int64_t evaluations_ = 0;
  std::vector<Vec> pending_z_, pending_x_;
  Vec best_x_;
  double best_value_ = std::numeric_limits<double>::infinity();
};

struct OptimizerOptions {
  std::string name = "cobyla";  // a name of kOptimizerNames
  int64_t budget = kDefaultBudget;
  uint64_t seed = 0;
  int64_t population = 0;  // CMA-ES lambda; 0: 4 + floor(3 ln n)
};

// Throws std::invalid_argument naming the unknown optimizer or bad setting.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, const Box& box);

}  // namespace lorahub::optim
