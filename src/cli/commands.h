#pragma once
// Subcommands of the `lorahub` executable. Each parses its own flags
// (Boost.Program_options) from argv after the command name and returns the
// process exit code; errors are thrown and reported once by main.

#include <string>
#include <vector>

namespace lorahub::cli {

using Args = std::vector<std::string>;

int generate_command(const Args& args);
int compose_command(const Args& args);
int learn_command(const Args& args);
int run_command(const Args& args);
int plan_command(const Args& args);
int train_command(const Args& args);
int eval_command(const Args& args);
int demo_world_command(const Args& args);

}  // namespace lorahub::cli
