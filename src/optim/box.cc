#include "optim/box.h"

#include <algorithm>
#include <stdexcept>

namespace lorahub::optim {

Box Box::uniform(size_t n, double lo, double hi, double start) {
  Box b{Vec(n, lo), Vec(n, hi), Vec(n, start)};
  b.check();
  return b;
}

void Box::check() const {
  if (lower.empty()) throw std::invalid_argument("search box: no dimensions");
  if (upper.size() != lower.size() || x0.size() != lower.size()) {
    throw std::invalid_argument("search box: bounds and initial point differ in dimension");
  }
  for (size_t i = 0; i < lower.size(); ++i) {
    if (!(lower[i] < upper[i])) throw std::invalid_argument("search box: lower bound not below upper bound");
    if (x0[i] < lower[i] || x0[i] > upper[i]) throw std::invalid_argument("search box: initial point outside the box");
  }
}

Vec Box::to_box(const Vec& z) const {
  Vec x(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    const double raw = x0[i] + scale(i) * z[i];
    const double clipped = std::clamp(raw, lower[i], upper[i]);
    x[i] = std::clamp(2.0 * clipped - raw, lower[i], upper[i]);  // identity inside the box
  }
  return x;
}

bool Box::contains(const Vec& x) const {
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] < lower[i] || x[i] > upper[i]) return false;
  }
  return true;
}

}  // namespace lorahub::optim
