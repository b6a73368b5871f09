#include "optim/cobyla.h"

#include <cmath>
#include <limits>

namespace lorahub::optim {
namespace {
// Powell's constants.
constexpr double kAlpha = 0.25;  // simplex acceptable if every vertex's "sigma" >= alpha * rho
constexpr double kBeta = 2.1;    // ... and every edge <= beta * rho
constexpr double kGamma = 0.5;   // geometry step length factor
constexpr double kDelta = 1.1;   // vertices farther than delta * rho are replaced first
}  // namespace

Cobyla::Cobyla(Box box, int64_t budget, double rhobeg)
    : Optimizer(std::move(box), budget), n_(dim()), rhobeg_(rhobeg), rho_(rhobeg) {
  restart(Vec(n_, 0.0));
}

void Cobyla::restart(const Vec& x0) {
  rho_ = rhobeg_;
  sim_.assign(n_ * n_, 0.0);
  simi_.assign(n_ * n_, 0.0);
  for (size_t i = 0; i < n_; ++i) {
    sim(i, i) = rho_;
    simi(i, i) = 1.0 / rho_;
  }
  xopt_ = x0;
  fv_.assign(n_, 0.0);
  x_ = x0;
  phase_ = Phase::kStart;
  next_axis_ = 0;
  branch_ = false;
}

std::vector<Vec> Cobyla::propose(int64_t) { return {x_}; }

void Cobyla::observe(const std::vector<Vec>& z, const std::vector<double>& values) {
  // COBYLA cannot use NaN; a diverged evaluation becomes a very bad one.
  const double f = std::isnan(values[0]) ? std::numeric_limits<double>::max() / 4 : values[0];
  if (!have_best_ || f < best_f_) {
    best_f_ = f;
    best_z_ = z[0];
    have_best_ = true;
  }
  switch (phase_) {
    case Phase::kStart:
      fopt_ = f;
      if (n_ == 0) return;
      x_ = xopt_;
      x_[0] += sim(0, 0);
      phase_ = Phase::kSimplex;
      return;
    case Phase::kSimplex:
      observe_simplex_vertex(f);
      return;
    case Phase::kGeometry:
      fv_[next_axis_] = f;  // the replaced vertex (index kept in next_axis_)
      branch_ = true;
      iterate();
      return;
    case Phase::kTrust:
      observe_trust_step(f);
      return;
  }
}

void Cobyla::observe_simplex_vertex(double f) {
  // Vertex j = xopt + rho e_j was evaluated; keep the better as optimum.
  const size_t j = next_axis_;
  if (fopt_ <= f) {
    fv_[j] = f;
  } else {
    const double step = x_[j] - xopt_[j];
    fv_[j] = fopt_;
    fopt_ = f;
    xopt_[j] = x_[j];
    for (size_t k = 0; k <= j; ++k) {
      sim(j, k) = -step;
      double t = 0;
      for (size_t i = k; i <= j; ++i) t -= simi(i, k);
      simi(j, k) = t;
    }
  }
  if (++next_axis_ < n_) {
    x_ = xopt_;
    x_[next_axis_] += sim(next_axis_, next_axis_);
    return;
  }
  branch_ = true;
  iterate();
}

long Cobyla::vertex_to_drop(double trured) const {
  double ratio = trured <= 0 ? 1.0 : 0.0;
  long jdrop = -1;
  Vec sigbar(n_);
  for (size_t j = 0; j < n_; ++j) {
    double t = 0;
    for (size_t i = 0; i < n_; ++i) t += simi(j, i) * dx_[i];
    t = std::fabs(t);
    if (t > ratio) {
      jdrop = static_cast<long>(j);
      ratio = t;
    }
    sigbar[j] = t * vsig_[j];
  }
  // A vertex far from the new point goes first.
  double edgmax = kDelta * rho_;
  long far = -1;
  for (size_t j = 0; j < n_; ++j) {
    if (sigbar[j] >= kAlpha * rho_ || sigbar[j] >= vsig_[j]) {
      double t = veta_[j];
      if (trured > 0) {
        t = 0;
        for (size_t i = 0; i < n_; ++i) t += (dx_[i] - sim(i, j)) * (dx_[i] - sim(i, j));
        t = std::sqrt(t);
      }
      if (t > edgmax) {
        far = static_cast<long>(j);
        edgmax = t;
      }
    }
  }
  return far >= 0 ? far : jdrop;
}

void Cobyla::observe_trust_step(double f) {
  // Powell's label 440: was the step good, and which vertex does it replace?
  double trured = fopt_ - f;
  double prerem = prerem_;
  if (f == fopt_) {
    prerem = 0;
    trured = 0;
  }
  const long jdrop = vertex_to_drop(trured);
  if (jdrop < 0) {
    reduce_or_reshape();
    return;
  }
  replace_vertex(static_cast<size_t>(jdrop), dx_, f);
  if (trured > 0 && trured >= 0.1 * prerem) {
    iterate();
  } else {
    reduce_or_reshape();
  }
}

void Cobyla::set_vertex(size_t j, const Vec& dx) {
  // Column j of sim becomes dx; simi stays its inverse (a rank-one update).
  double t = 0;
  for (size_t i = 0; i < n_; ++i) {
    sim(i, j) = dx[i];
    t += simi(j, i) * dx[i];
  }
  for (size_t i = 0; i < n_; ++i) simi(j, i) /= t;
  for (size_t k = 0; k < n_; ++k) {
    if (k == j) continue;
    double s = 0;
    for (size_t i = 0; i < n_; ++i) s += simi(k, i) * dx[i];
    for (size_t i = 0; i < n_; ++i) simi(k, i) -= s * simi(j, i);
  }
}

void Cobyla::replace_vertex(size_t j, const Vec& dx, double f) {
  set_vertex(j, dx);
  fv_[j] = f;
}

void Cobyla::reduce_or_reshape() {
  // Powell's label 550: reshape the simplex if it is unacceptable, else
  // shrink the trust region (rhoend = 0: rho halves indefinitely).
  if (!acceptable_) {
    branch_ = false;
  } else {
    rho_ *= 0.5;
  }
  iterate();
}

void Cobyla::move_best_to_optimum() {
  size_t best = n_;
  double fmin = fopt_;
  for (size_t j = 0; j < n_; ++j) {
    if (fv_[j] < fmin) {
      best = j;
      fmin = fv_[j];
    }
  }
  if (best == n_) return;
  std::swap(fv_[best], fopt_);
  for (size_t i = 0; i < n_; ++i) {
    const double t = sim(i, best);
    sim(i, best) = 0;
    xopt_[i] += t;
    double ta = 0;
    for (size_t k = 0; k < n_; ++k) {
      sim(i, k) -= t;
      ta -= simi(k, i);
    }
    simi(best, i) = ta;
  }
}

double Cobyla::inverse_error() const {
  double error = 0;
  for (size_t i = 0; i < n_; ++i) {
    for (size_t j = 0; j < n_; ++j) {
      double t = i == j ? -1.0 : 0.0;
      for (size_t k = 0; k < n_; ++k) {
        if (sim(k, j) != 0) t += simi(i, k) * sim(k, j);
      }
      error = std::max(error, std::fabs(t));
    }
  }
  return error;
}

Vec Cobyla::model_descent() const {
  Vec a(n_);
  for (size_t i = 0; i < n_; ++i) {
    double t = 0;
    for (size_t j = 0; j < n_; ++j) t += (fv_[j] - fopt_) * simi(j, i);
    a[i] = -t;
  }
  return a;
}

void Cobyla::assess_simplex() {
  vsig_.assign(n_, 0.0);
  veta_.assign(n_, 0.0);
  acceptable_ = true;
  const double parsig = kAlpha * rho_, pareta = kBeta * rho_;
  for (size_t j = 0; j < n_; ++j) {
    double wsig = 0, weta = 0;
    for (size_t i = 0; i < n_; ++i) {
      wsig += simi(j, i) * simi(j, i);
      weta += sim(i, j) * sim(i, j);
    }
    vsig_[j] = 1.0 / std::sqrt(wsig);
    veta_[j] = std::sqrt(weta);
    if (vsig_[j] < parsig || veta_[j] > pareta) acceptable_ = false;
  }
}

void Cobyla::geometry_step(const Vec& a) {
  // Replace the vertex farthest away, or the flattest one.
  size_t jdrop = n_;
  double t = kBeta * rho_;
  for (size_t j = 0; j < n_; ++j) {
    if (veta_[j] > t) {
      jdrop = j;
      t = veta_[j];
    }
  }
  if (jdrop == n_) {
    for (size_t j = 0; j < n_; ++j) {
      if (vsig_[j] < t) {
        jdrop = j;
        t = vsig_[j];
      }
    }
  }
  const double len = kGamma * rho_ * vsig_[jdrop];
  Vec dx(n_);
  double slope = 0;
  for (size_t i = 0; i < n_; ++i) {
    dx[i] = len * simi(jdrop, i);
    slope += a[i] * dx[i];
  }
  // Step downhill on the model.
  if (slope < 0) {
    for (auto& v : dx) v = -v;
  }
  set_vertex(jdrop, dx);
  for (size_t i = 0; i < n_; ++i) x_[i] = xopt_[i] + dx[i];
  next_axis_ = jdrop;
  phase_ = Phase::kGeometry;
}

void Cobyla::trust_region_step(const Vec& a) {
  // Minimise the linear model on the ball of radius rho.
  double norm = 0;
  for (double v : a) norm += v * v;
  norm = std::sqrt(norm);
  if (norm == 0) {  // flat model: nothing to gain at this radius
    reduce_or_reshape();
    return;
  }
  dx_.assign(n_, 0.0);
  prerem_ = 0;
  for (size_t i = 0; i < n_; ++i) {
    dx_[i] = rho_ * a[i] / norm;
    prerem_ += a[i] * dx_[i];
  }
  for (size_t i = 0; i < n_; ++i) x_[i] = xopt_[i] + dx_[i];
  phase_ = Phase::kTrust;
}

void Cobyla::iterate() {
  // Label 140.
  move_best_to_optimum();
  // simi must stay the inverse of sim; if rounding spoilt it, start over
  // from the best point seen (as nevergrad's loop calls scipy again).
  if (inverse_error() > 0.1) {
    restart(best_z_);
    return;
  }
  const Vec a = model_descent();
  assess_simplex();
  if (!branch_ && !acceptable_) {
    geometry_step(a);
  } else {
    trust_region_step(a);
  }
}

}  // namespace lorahub::optim
