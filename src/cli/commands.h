#pragma once
// Subcommands of the `lorahub` executable. Each parses its own flags
// (Boost.Program_options) from argv after the command name and returns the
// process exit code; errors are thrown and reported once by main: exit code
// 2 for a wrong command line (UsageError, Boost's parse errors), 1 for
// everything else (bad files, failed runs).

#include <stdexcept>
#include <string>
#include <vector>

namespace lorahub::cli {

using Args = std::vector<std::string>;

// A flag missing, malformed or inconsistent with another.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

int generate_command(const Args& args);
int compose_command(const Args& args);
int learn_command(const Args& args);
int run_command(const Args& args);
int plan_command(const Args& args);
int train_command(const Args& args);
int eval_command(const Args& args);
int loss_command(const Args& args);
int demo_world_command(const Args& args);

}  // namespace lorahub::cli
