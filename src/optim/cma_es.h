#pragma once
// CMA-ES, Hansen's standard (mu/mu_w, lambda) strategy with cumulative
// step-size adaptation and rank-one plus rank-mu covariance updates
// (N. Hansen, "The CMA Evolution Strategy: A Tutorial", 2016, defaults of
// its Table 1). It runs in the standardised space of the box (z = 0 is the
// initial point, sigma0 = 1, i.e. (upper - lower) / 6 per coordinate) and
// bounds are handled as nevergrad does: candidates are bounced into the box
// for evaluation while the strategy updates with its own samples.
// ask() returns a whole population; the last one is cut to the budget left
// (its values are recorded but do not update the distribution).

#include "optim/optimizer.h"
#include "util/random.h"

#include <Eigen/Dense>

namespace lorahub::optim {

class CmaEs : public Optimizer {
 public:
  CmaEs(Box box, int64_t budget, uint64_t seed, int64_t population = 0);
  std::string name() const override { return "cmaes"; }
  int64_t population() const { return lambda_; }
  double sigma() const { return sigma_; }

 protected:
  std::vector<Vec> propose(int64_t max_count) override;
  void observe(const std::vector<Vec>& z, const std::vector<double>& values) override;

 private:
  void update_eigen();

  util::Rng rng_;
  int64_t n_, lambda_, mu_;
  Eigen::VectorXd weights_;
  double mueff_, cc_, cs_, c1_, cmu_, damps_, chi_n_;
  Eigen::VectorXd mean_, pc_, ps_, d_;
  Eigen::MatrixXd c_, b_, inv_sqrt_c_;
  double sigma_ = 1.0;
  int64_t generation_ = 0;
};

}  // namespace lorahub::optim
