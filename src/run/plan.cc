#include "run/plan.h"

#include "tasks/bbh.h"
#include "util/random.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <stdexcept>

namespace lorahub::run {
namespace {
// A module id as part of a label ('.', '/' and spaces separate id fields).
std::string label_part(std::string id) {
  for (char& ch : id) {
    if (ch == '.' || ch == '/' || ch == ' ') ch = '_';
  }
  return id;
}

// What makes a trial: its method label (single: and module id).
std::string describe(const Config& c, const Trial& t) {
  const std::string& label = c.methods[t.method].label;
  return t.module >= 0 ? "method '" + label + "' with module '" + c.module_ids[static_cast<size_t>(t.module)] + "'"
                       : "method '" + label + "'";
}

// Trials are stored by id: two with one id would keep only the later one.
void check_distinct_ids(const Config& c, const std::vector<Trial>& plan) {
  std::map<std::string, const Trial*> seen;
  for (const auto& t : plan) {
    const auto [it, fresh] = seen.emplace(t.id, &t);
    if (fresh) continue;
    throw std::invalid_argument(c.path + ": two trials get the id '" + t.id + "' (" + describe(c, *it->second) +
                                "; " + describe(c, t) +
                                "): labels and module ids must stay distinct with '.', '/' and ' ' read as '_'");
  }
}
}  // namespace

std::vector<Trial> expand_plan(const Config& c) {
  std::vector<Trial> out;
  for (const auto& task : c.tasks) {
    const std::vector<size_t>* own = c.task_modules(task);  // modules.per_task, or null: drawn
    for (size_t m = 0; m < c.methods.size(); ++m) {
      const auto& method = c.methods[m];
      for (int64_t seed : c.seeds) {
        for (int64_t k : c.n_shots) {
          if (method.name == "single") {
            std::vector<size_t> modules(c.module_ids.size());
            for (size_t i = 0; i < modules.size(); ++i) modules[i] = i;
            for (size_t i : own ? *own : modules) {
              Trial t{"", task, m, seed, 1, k, static_cast<int64_t>(i), method.label + "-" + label_part(c.module_ids[i])};
              t.id = task + "." + t.label + ".s" + std::to_string(seed) + ".n1.k" + std::to_string(k);
              out.push_back(t);
            }
            continue;
          }
          const std::vector<int64_t> ns = !method.draws_modules() ? std::vector<int64_t>{0}
                                          : own ? std::vector<int64_t>{static_cast<int64_t>(own->size())}
                                                : c.n_modules;
          for (int64_t n : ns) {
            Trial t{"", task, m, seed, n, k, -1, method.label};
            t.id = task + "." + method.label + ".s" + std::to_string(seed) + ".n" + std::to_string(n) + ".k" +
                   std::to_string(k);
            out.push_back(t);
          }
        }
      }
    }
  }
  check_distinct_ids(c, out);
  return out;
}

void check_tasks(const Config& c) {
  const int64_t k = c.n_shots.empty() ? 0 : *std::max_element(c.n_shots.begin(), c.n_shots.end());
  for (const auto& name : c.tasks) {
    const tasks::BbhTask task = tasks::load_bbh_task(c.bbh_dir, name);
    const int64_t n = static_cast<int64_t>(task.examples.size());
    if (k >= n) {
      throw std::invalid_argument(c.path + ": sweep.n_shots " + std::to_string(k) + " leaves no evaluation examples of task '" +
                                  name + "' (" + std::to_string(n) + " examples in " + c.bbh_dir + "/bbh/" + name + ".json)");
    }
  }
}

std::vector<int64_t> draw_modules(int64_t pool_size, int64_t n, uint64_t run_seed) {
  if (n < 1 || n > pool_size) {
    throw std::invalid_argument("cannot draw " + std::to_string(n) + " modules from a pool of " + std::to_string(pool_size));
  }
  std::vector<int64_t> order(static_cast<size_t>(pool_size));
  std::iota(order.begin(), order.end(), 0);
  util::Rng rng(util::stable_hash("modules|" + std::to_string(run_seed)));
  util::shuffle(order, rng);
  order.resize(static_cast<size_t>(n));
  return order;
}

}  // namespace lorahub::run
