#pragma once
// The search box and nevergrad's standardised space over it.
//
// Optimizers search an unbounded standardised space z; a point maps into the
// box as x = bounce(x0 + scale * z), with scale = (upper - lower) / 6 per
// coordinate and "bouncing" as nevergrad's Array(lower=, upper=) does:
// clip to the box, then reflect the overshoot once and clip again. So every
// evaluated point lies in the box, and z = 0 is the initial point x0.

#include <string>
#include <vector>

namespace lorahub::optim {

using Vec = std::vector<double>;

struct Box {
  Vec lower, upper;
  Vec x0;  // initial point (the LoraHub default: w = 0)

  // [lo, hi]^n starting at `start` (every coordinate).
  static Box uniform(size_t n, double lo, double hi, double start);
  size_t dim() const { return lower.size(); }
  // Throws std::invalid_argument when bounds are inverted or x0 lies outside.
  void check() const;
  double scale(size_t i) const { return (upper[i] - lower[i]) / 6.0; }
  Vec to_box(const Vec& z) const;
  bool contains(const Vec& x) const;
};

}  // namespace lorahub::optim
