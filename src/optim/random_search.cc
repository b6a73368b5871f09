#include "optim/random_search.h"

namespace lorahub::optim {

RandomSearch::RandomSearch(Box box, int64_t budget, uint64_t seed) : Optimizer(std::move(box), budget), rng_(seed) {}

std::vector<Vec> RandomSearch::propose(int64_t max_count) {
  // Independent points: hand out a batch of up to 16 at a time.
  const int64_t count = std::min<int64_t>(max_count, 16);
  std::vector<Vec> out;
  for (int64_t k = 0; k < count; ++k) {
    Vec z(dim(), 0.0);
    if (!first_) {
      // Uniform in the box, expressed in standardised coordinates.
      for (size_t i = 0; i < dim(); ++i) {
        const double x = box().lower[i] + (box().upper[i] - box().lower[i]) * rng_.uniform();
        z[i] = (x - box().x0[i]) / box().scale(i);
      }
    }
    first_ = false;
    out.push_back(std::move(z));
  }
  return out;
}

}  // namespace lorahub::optim
