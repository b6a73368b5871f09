#pragma once
// COBYLA (Powell, 1994) as nevergrad's NGOpt drives it for LoraHub budgets:
// scipy's COBYLA without constraints, in the standardised space of the box
// (optim/box.h), from z = 0 with rhobeg = 1 (the first probes move x by
// (upper - lower) / 6 along each axis), rhoend = 0 (nevergrad passes tol=0),
// at most the budget of evaluations, and a restart from the best point if
// the method stops early (nevergrad's recast loop).
//
// Our own implementation of Powell's algorithm for the unconstrained case,
// written as an ask/tell state machine: a simplex of n+1 points carries a
// linear model of f; each iteration either takes the trust-region step
// rho * (-grad)/|grad| or, when the simplex is badly shaped, a geometry step
// that replaces its worst vertex; rho halves when neither helps. Unlike
// NLopt's version it does not randomise geometry steps, so its trajectory
// follows scipy's (the LoraHub reference's).

#include "optim/optimizer.h"

namespace lorahub::optim {

class Cobyla : public Optimizer {
 public:
  Cobyla(Box box, int64_t budget, double rhobeg = 1.0);
  std::string name() const override { return "cobyla"; }
  double rho() const { return rho_; }

 protected:
  std::vector<Vec> propose(int64_t max_count) override;
  void observe(const std::vector<Vec>& z, const std::vector<double>& values) override;

 private:
  enum class Phase { kStart, kSimplex, kGeometry, kTrust };
  void restart(const Vec& x0);
  void iterate();          // Powell's label 140: next point to evaluate
  void reduce_or_reshape();  // label 550
  // observe() by phase: a vertex of the initial simplex, then label 440.
  void observe_simplex_vertex(double f);
  void observe_trust_step(double f);
  // The vertex a trust-region step of value f replaces (label 440), or -1.
  long vertex_to_drop(double trured) const;
  // Pieces of iterate(), in Powell's order.
  void move_best_to_optimum();
  double inverse_error() const;  // max |simi * sim - I|
  Vec model_descent() const;     // a = -grad of the linear model
  void assess_simplex();         // vsig_, veta_, acceptable_
  void geometry_step(const Vec& a);
  void trust_region_step(const Vec& a);
  void set_vertex(size_t j, const Vec& dx);  // vertex j := xopt + dx
  void replace_vertex(size_t j, const Vec& dx, double f);
  double& sim(size_t i, size_t j) { return sim_[i * n_ + j]; }
  double& simi(size_t i, size_t j) { return simi_[i * n_ + j]; }
  double sim(size_t i, size_t j) const { return sim_[i * n_ + j]; }
  double simi(size_t i, size_t j) const { return simi_[i * n_ + j]; }

  size_t n_;
  double rhobeg_;
  double rho_;
  // sim_ column j: vertex j minus the optimal vertex xopt_; simi_ its inverse.
  Vec sim_, simi_, xopt_, fv_;
  double fopt_ = 0;
  Phase phase_ = Phase::kStart;
  size_t next_axis_ = 0;
  bool branch_ = false;  // Powell's IBRNCH: the initial simplex is complete
  bool acceptable_ = false;
  Vec vsig_, veta_, dx_, x_;
  double prerem_ = 0;
  Vec best_z_;
  double best_f_ = 0;
  bool have_best_ = false;
};

}  // namespace lorahub::optim
