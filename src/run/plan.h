#pragma once
// Expansion of a config into trials: one (task, method, seed, N, k) point of
// the sweep each, with a stable id derived from those parameters only.

#include "run/config.h"

#include <string>
#include <vector>

namespace lorahub::run {

struct Trial {
  std::string id;  // "<task>.<label>.s<seed>.n<N>.k<k>" (n0 for baselines)
  std::string task;
  size_t method = 0;  // index into Config::methods
  int64_t seed = 0;
  int64_t n_modules = 0;  // 0 for baselines
  int64_t n_shots = 0;
  // single: the pool index of the one module (label "<label>-<module id>"); -1 otherwise.
  int64_t module = -1;
  std::string label;  // the method label recorded for this trial
};

// Order: task, method, seed, n_shots, n_modules. Baselines (zero_shot, icl)
// get one trial per (task, seed, k): they use the evaluation split of
// (task, seed, k) so all methods are scored on the same examples. single
// gets one trial per module of the pool (n1). For a task of
// modules.per_task, single runs its modules only and the methods that draw
// modules get one trial per (seed, k) with N = its number of modules.
// Throws std::invalid_argument naming the config file when two trials would
// get one id (e.g. module ids "org/a" and "org_a" under single).
std::vector<Trial> expand_plan(const Config& config);

// Reads every task of the sweep (tasks::load_bbh_task: its JSON and
// cot-prompt) and checks that the largest n_shots leaves evaluation examples,
// so a bad task file stops the run before any trial, not hours in. Throws
// std::invalid_argument naming the file.
void check_tasks(const Config& config);

// The N module indices a trial of run seed `run_seed` draws from a pool of
// `pool_size`: the first N of a permutation seeded by the run seed alone
// (util::shuffle), so smaller draws nest in larger ones and a draw does not
// depend on the task, the method or the number of MPI ranks. Throws
// std::invalid_argument unless 1 <= n <= pool_size.
std::vector<int64_t> draw_modules(int64_t pool_size, int64_t n, uint64_t run_seed);

}  // namespace lorahub::run
