// Optimizers on closed-form problems: known optima within stated budgets,
// determinism, and bounds.

#include "optim/cma_es.h"
#include "optim/cobyla.h"
#include "optim/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace lorahub::optim {
namespace {

using Fn = std::function<double(const Vec&)>;

double sphere(const Vec& x, double shift = 0.0) {
  double s = 0;
  for (double v : x) s += (v - shift) * (v - shift);
  return s;
}

double rosenbrock(const Vec& x) {
  double s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    s += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return s;
}

struct Trace {
  double best;
  std::vector<Vec> asked;
  bool in_bounds = true;
};

Trace drive(Optimizer& opt, const Fn& f) {
  Trace run;
  for (auto xs = opt.ask(); !xs.empty(); xs = opt.ask()) {
    std::vector<double> v;
    for (const auto& x : xs) {
      run.in_bounds = run.in_bounds && opt.box().contains(x);
      run.asked.push_back(x);
      v.push_back(f(x));
    }
    opt.tell(xs, v);
  }
  EXPECT_EQ(opt.evaluations(), opt.budget());
  run.best = opt.best_value();
  EXPECT_EQ(run.best, f(opt.best_x()));
  return run;
}

Trace solve(const std::string& name, size_t n, int64_t budget, const Fn& f, double lo = -5, double hi = 5,
          uint64_t seed = 1) {
  auto opt = make_optimizer({name, budget, seed, 0}, Box::uniform(n, lo, hi, 0.0));
  return drive(*opt, f);
}

TEST(Optimizers, SphereIsSolvedByEveryMethod) {
  const Fn f = [](const Vec& x) { return sphere(x, 0.7); };
  EXPECT_LT(solve("cobyla", 5, 150, f).best, 1e-8);
  EXPECT_LT(solve("cmaes", 5, 1500, f).best, 1e-10);
  EXPECT_LT(solve("one_plus_one", 5, 1500, f).best, 1e-8);
  EXPECT_LT(solve("random", 2, 2000, f).best, 1e-2);
}

TEST(Optimizers, RosenbrockIsSolvedByCmaEsAndCobyla) {
  EXPECT_LT(solve("cmaes", 5, 6000, rosenbrock).best, 1e-8);
  // 20-D Rosenbrock has a local minimum near 3.98 that CMA-ES with the
  // default population reaches for some seeds; two of three seeds must find
  // the global one.
  int global = 0;
  for (uint64_t seed : {1, 2, 3}) global += solve("cmaes", 20, 40000, rosenbrock, -5, 5, seed).best < 1e-6;
  EXPECT_GE(global, 2);
  // COBYLA's linear models crawl along Rosenbrock's curved valley, the more
  // so with rhoend = 0 (rho halves after every failed step), as nevergrad
  // drives it: measured 0.047 (2-D, 1000 evaluations) and 0.093 (5-D, 3000)
  // from f(x0) = 1 and 4. Checked as progress, not as a solve. The oracle is
  // scipy's COBYLA on the same problem (ctest optim_scipy_cobyla): 0.030
  // and 0.107, so these bounds are what Powell's method itself reaches.
  EXPECT_LT(solve("cobyla", 2, 1000, rosenbrock).best, 0.1);
  EXPECT_LT(solve("cobyla", 5, 3000, rosenbrock).best, 0.2);
}

TEST(Optimizers, OptimumOutsideTheBoxEndsOnTheBoundAndNeverLeavesIt) {
  // Unconstrained optimum at 3 for each coordinate; the box stops at 1.5.
  const Fn f = [](const Vec& x) { return sphere(x, 3.0); };
  const double at_bound = 5 * 1.5 * 1.5;
  for (const std::string name : {"cobyla", "cmaes", "one_plus_one", "random"}) {
    const Trace run = solve(name, 5, name == "random" ? 3000 : 1000, f, -1.5, 1.5);
    EXPECT_TRUE(run.in_bounds) << name;
    // Bouncing reflects overshoots back inside, so the bound is approached
    // from the interior only.
    const double tolerance = name == "random" ? 4.0 : name == "one_plus_one" ? 0.2 : 1e-3;
    EXPECT_LT(run.best - at_bound, tolerance) << name;
  }
}

TEST(Optimizers, SameSeedSameTrajectoryOtherSeedOther) {
  for (const std::string name : {"cmaes", "one_plus_one", "random"}) {
    const Trace a = solve(name, 4, 100, rosenbrock, -5, 5, 11);
    const Trace b = solve(name, 4, 100, rosenbrock, -5, 5, 11);
    const Trace c = solve(name, 4, 100, rosenbrock, -5, 5, 12);
    EXPECT_EQ(a.asked, b.asked) << name;
    EXPECT_NE(a.asked, c.asked) << name;
  }
  EXPECT_EQ(solve("cobyla", 4, 60, rosenbrock).asked, solve("cobyla", 4, 60, rosenbrock).asked);
}

TEST(Optimizers, CobylaFirstProbesFollowNevergradsStandardisedSpace) {
  // Box [-1.5, 1.5]: sigma = 0.5, so the initial simplex moves each axis by 0.5.
  Cobyla opt(Box::uniform(3, -1.5, 1.5, 0.0), 10);
  std::vector<Vec> asked;
  for (int i = 0; i < 4; ++i) {
    auto xs = opt.ask();
    asked.push_back(xs[0]);
    opt.tell(xs, {1.0 + i});  // every probe worse: the simplex stays at 0
  }
  EXPECT_EQ(asked[0], (Vec{0, 0, 0}));
  EXPECT_EQ(asked[1], (Vec{0.5, 0, 0}));
  EXPECT_EQ(asked[2], (Vec{0, 0.5, 0}));
  EXPECT_EQ(asked[3], (Vec{0, 0, 0.5}));
}

TEST(Optimizers, CmaEsDefaultsAndPopulationBatches) {
  CmaEs opt(Box::uniform(20, -1.5, 1.5, 0.0), 40, 5);
  EXPECT_EQ(opt.population(), 4 + static_cast<int64_t>(std::floor(3 * std::log(20.0))));  // 12
  EXPECT_EQ(opt.ask().size(), 12u);
}

TEST(Optimizers, MisuseIsRefused) {
  Cobyla opt(Box::uniform(2, -1, 1, 0), 5);
  auto xs = opt.ask();
  EXPECT_THROW(opt.ask(), std::logic_error);
  EXPECT_THROW(opt.tell(xs, {}), std::logic_error);
  EXPECT_THROW(make_optimizer({"nelder", 10, 0, 0}, Box::uniform(2, -1, 1, 0)), std::invalid_argument);
  EXPECT_THROW(make_optimizer({"cmaes", 0, 0, 0}, Box::uniform(2, -1, 1, 0)), std::invalid_argument);
  EXPECT_THROW(Box::uniform(2, 1, -1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace lorahub::optim
