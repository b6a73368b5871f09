#pragma once
// `lorahub run`: one entry for every rank. With one process it coordinates
// and works in-process; under mpirun rank 0 coordinates and ranks 1..P-1
// work, one device each (cuda:<node-local index> or CPU threads).

#include <string>

namespace lorahub::run {

struct RunOptions {
  std::string config_path;
  std::string output;  // overrides the config's output
  bool resume = false;
  bool progress = true;
  std::string command_line;
};

// Returns the process exit code. Collective under MPI: every rank calls it.
int run_sweep(const RunOptions& options);

// `lorahub plan`: the expanded trials, printed; loads no model.
int print_plan(const std::string& config_path);

}  // namespace lorahub::run
