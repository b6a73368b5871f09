#include "optim/cma_es.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace lorahub::optim {

CmaEs::CmaEs(Box box, int64_t budget, uint64_t seed, int64_t population)
    : Optimizer(std::move(box), budget), rng_(seed), n_(static_cast<int64_t>(dim())) {
  const double n = static_cast<double>(n_);
  lambda_ = population > 0 ? population : 4 + static_cast<int64_t>(std::floor(3.0 * std::log(n)));
  if (lambda_ < 2) throw std::invalid_argument("cmaes: population must be at least 2");
  mu_ = lambda_ / 2;
  weights_.resize(mu_);
  for (int64_t i = 0; i < mu_; ++i) weights_[i] = std::log((lambda_ + 1) / 2.0) - std::log(static_cast<double>(i + 1));
  weights_ /= weights_.sum();
  mueff_ = 1.0 / weights_.squaredNorm();
  cc_ = (4 + mueff_ / n) / (n + 4 + 2 * mueff_ / n);
  cs_ = (mueff_ + 2) / (n + mueff_ + 5);
  c1_ = 2 / ((n + 1.3) * (n + 1.3) + mueff_);
  cmu_ = std::min(1 - c1_, 2 * (mueff_ - 2 + 1 / mueff_) / ((n + 2) * (n + 2) + mueff_));
  damps_ = 1 + 2 * std::max(0.0, std::sqrt((mueff_ - 1) / (n + 1)) - 1) + cs_;
  chi_n_ = std::sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
  mean_ = Eigen::VectorXd::Zero(n_);
  pc_ = Eigen::VectorXd::Zero(n_);
  ps_ = Eigen::VectorXd::Zero(n_);
  c_ = Eigen::MatrixXd::Identity(n_, n_);
  b_ = Eigen::MatrixXd::Identity(n_, n_);
  d_ = Eigen::VectorXd::Ones(n_);
  inv_sqrt_c_ = Eigen::MatrixXd::Identity(n_, n_);
}

std::vector<Vec> CmaEs::propose(int64_t max_count) {
  const int64_t count = std::min(lambda_, max_count);
  std::vector<Vec> out;
  for (int64_t k = 0; k < count; ++k) {
    Eigen::VectorXd z(n_);
    for (int64_t i = 0; i < n_; ++i) z[i] = rng_.normal();
    const Eigen::VectorXd x = mean_ + sigma_ * (b_ * d_.cwiseProduct(z));
    out.emplace_back(x.data(), x.data() + n_);
  }
  return out;
}

void CmaEs::observe(const std::vector<Vec>& z, const std::vector<double>& values) {
  if (static_cast<int64_t>(z.size()) < lambda_) return;  // a population cut by the budget
  std::vector<size_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](size_t i) { return std::isnan(values[i]) ? std::numeric_limits<double>::infinity() : values[i]; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });

  const Eigen::VectorXd old_mean = mean_;
  Eigen::MatrixXd y(n_, mu_);  // selected steps (x_i - m_old) / sigma
  mean_.setZero();
  for (int64_t i = 0; i < mu_; ++i) {
    const Eigen::Map<const Eigen::VectorXd> x(z[order[static_cast<size_t>(i)]].data(), n_);
    mean_ += weights_[i] * x;
    y.col(i) = (x - old_mean) / sigma_;
  }
  const Eigen::VectorXd y_w = (mean_ - old_mean) / sigma_;
  ++generation_;
  ps_ = (1 - cs_) * ps_ + std::sqrt(cs_ * (2 - cs_) * mueff_) * (inv_sqrt_c_ * y_w);
  const double ps_norm = ps_.norm();
  const bool hsig = ps_norm / std::sqrt(1 - std::pow(1 - cs_, 2.0 * generation_)) / chi_n_ <
                    1.4 + 2.0 / (static_cast<double>(n_) + 1);
  pc_ = (1 - cc_) * pc_ + (hsig ? std::sqrt(cc_ * (2 - cc_) * mueff_) : 0.0) * y_w;
  const double c1a = c1_ * (1 - (hsig ? 0.0 : cc_ * (2 - cc_)));
  c_ = (1 - c1a - cmu_) * c_ + c1_ * pc_ * pc_.transpose() + cmu_ * y * weights_.asDiagonal() * y.transpose();
  sigma_ *= std::exp((cs_ / damps_) * (ps_norm / chi_n_ - 1));
  update_eigen();
}

void CmaEs::update_eigen() {
  c_ = 0.5 * (c_ + c_.transpose());  // keep it exactly symmetric
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(c_);
  if (eig.info() != Eigen::Success) throw std::runtime_error("cmaes: eigendecomposition failed");
  b_ = eig.eigenvectors();
  d_ = eig.eigenvalues().cwiseMax(1e-20).cwiseSqrt();
  inv_sqrt_c_ = b_ * d_.cwiseInverse().asDiagonal() * b_.transpose();
}

}  // namespace lorahub::optim
