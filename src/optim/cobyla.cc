#include "optim/cobyla.h"

#include <nlopt.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

namespace lorahub::optim {
namespace {

struct Replay {
  const std::vector<Vec>* zs;
  const std::vector<double>* values;
  size_t next = 0;
  Vec asked;
  bool stopped_for_new_point = false;
  nlopt_opt opt = nullptr;
};

double replay_objective(unsigned n, const double* z, double* /*grad*/, void* data) {
  auto* r = static_cast<Replay*>(data);
  if (r->next < r->zs->size()) {
    const Vec& known = (*r->zs)[r->next];
    if (std::memcmp(known.data(), z, n * sizeof(double)) != 0) {
      throw std::logic_error("cobyla: replay diverged from the recorded trajectory");
    }
    return (*r->values)[r->next++];
  }
  r->asked.assign(z, z + n);
  r->stopped_for_new_point = true;
  nlopt_force_stop(r->opt);
  return 0.0;  // discarded: the run stops here
}

struct OptDeleter {
  void operator()(nlopt_opt o) const { nlopt_destroy(o); }
};

}  // namespace

Cobyla::Cobyla(Box box, int64_t budget) : Optimizer(std::move(box), budget) {}

std::vector<Vec> Cobyla::propose(int64_t /*max_count*/) {
  std::vector<Vec> zs;
  std::vector<double> values;
  for (const auto& e : history_) {
    zs.push_back(e.z);
    // COBYLA cannot use NaN; a diverged evaluation becomes a very bad one.
    values.push_back(std::isnan(e.value) ? std::numeric_limits<double>::max() / 4 : e.value);
  }
  Replay replay;
  replay.zs = &zs;
  replay.values = &values;
  Vec start(dim(), 0.0);
  // Each pass is one scipy.optimize.minimize call of nevergrad's loop.
  while (true) {
    const int64_t remaining = budget() - static_cast<int64_t>(replay.next);
    std::unique_ptr<nlopt_opt_s, OptDeleter> opt(nlopt_create(NLOPT_LN_COBYLA, static_cast<unsigned>(dim())));
    replay.opt = opt.get();
    nlopt_set_min_objective(opt.get(), replay_objective, &replay);
    nlopt_set_initial_step1(opt.get(), 1.0);
    nlopt_set_maxeval(opt.get(), static_cast<int>(remaining));
    Vec x = start;
    double f = 0;
    const size_t before = replay.next;
    nlopt_optimize(opt.get(), x.data(), &f);
    if (replay.stopped_for_new_point) return {replay.asked};
    if (replay.next == before) throw std::logic_error("cobyla: NLopt stopped without evaluating");
    // Stopped early (converged or maxeval of a segment): restart from the best point.
    size_t best = 0;
    for (size_t i = 1; i < replay.next; ++i) {
      if (values[i] < values[best]) best = i;
    }
    start = zs[best];
  }
}

void Cobyla::observe(const std::vector<Vec>& z, const std::vector<double>& values) {
  for (size_t i = 0; i < z.size(); ++i) history_.push_back({z[i], values[i]});
}

}  // namespace lorahub::optim
