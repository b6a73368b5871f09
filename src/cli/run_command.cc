// lorahub run / lorahub plan: the experiment runner's commands.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "run/runner.h"

#include <boost/program_options.hpp>
#include <unistd.h>

#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {

int run_command(const Args& args) {
  run::RunOptions o;
  po::options_description desc("[mpirun -np P] lorahub run CONFIG.yaml [--resume] [--output FILE]");
  desc.add_options()("help,h", "show this help")
      ("config", po::value(&o.config_path)->required(), "sweep config (YAML)")
      ("resume", po::bool_switch(&o.resume), "skip trials already in the results file")
      ("output", po::value(&o.output), "results file (overrides the config's output)")
      ("no-progress", "no progress line");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm, &pos)) return 0;
  o.progress = !vm.count("no-progress") && ::isatty(2);
  o.command_line = "lorahub run";
  for (const auto& a : args) o.command_line += " " + a;
  return run::run_sweep(o);
}

int plan_command(const Args& args) {
  std::string config;
  po::options_description desc("lorahub plan CONFIG.yaml");
  desc.add_options()("help,h", "show this help")("config", po::value(&config)->required(), "sweep config (YAML)");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm, &pos)) return 0;
  return run::print_plan(config);
}

}  // namespace lorahub::cli
