#include "run/plan.h"

namespace lorahub::run {

std::vector<Trial> expand_plan(const Config& c) {
  std::vector<Trial> out;
  for (const auto& task : c.tasks) {
    for (size_t m = 0; m < c.methods.size(); ++m) {
      const auto& method = c.methods[m];
      for (int64_t seed : c.seeds) {
        for (int64_t k : c.n_shots) {
          const std::vector<int64_t> ns = method.draws_modules() ? c.n_modules : std::vector<int64_t>{0};
          for (int64_t n : ns) {
            Trial t{"", task, m, seed, n, k};
            t.id = task + "." + method.label + ".s" + std::to_string(seed) + ".n" + std::to_string(n) + ".k" +
                   std::to_string(k);
            out.push_back(t);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace lorahub::run
