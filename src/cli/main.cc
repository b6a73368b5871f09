// The `lorahub` executable: dispatches to a subcommand; the only place that
// catches errors, prints one line and exits non-zero.

#include "cli/commands.h"
#include "model/runtime.h"

#include <boost/program_options/errors.hpp>

#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>

namespace {

struct Command {
  std::function<int(const lorahub::cli::Args&)> run;
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"generate", {lorahub::cli::generate_command, "greedy outputs of a model for texts"}},
      {"run", {lorahub::cli::run_command, "run a sweep (under mpirun: rank 0 coordinates)"}},
      {"plan", {lorahub::cli::plan_command, "print the trials of a sweep config"}},
      {"demo-world", {lorahub::cli::demo_world_command, "build the synthetic demo world (model, modules, tasks)"}},
      {"eval", {lorahub::cli::eval_command, "BBH accuracy, zero-shot or in-context, with an adapter or composition"}},
      {"train-lora", {lorahub::cli::train_command, "train a LoRA adapter (or fine-tune) with gradients"}},
      {"loss", {lorahub::cli::loss_command, "few-shot losses of a model, adapter or composition on examples"}},
      {"learn", {lorahub::cli::learn_command, "learn LoraHub weights for a few examples"}},
      {"compose", {lorahub::cli::compose_command, "write a composition of LoRA modules (PEFT adapter or merged)"}},
  };
  return table;
}

void usage(std::ostream& out) {
  out << "usage: lorahub <command> [options]   (lorahub <command> --help for its options)\n\ncommands:\n";
  for (const auto& [name, cmd] : commands()) out << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << cmd.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  lorahub::model::tune_allocator();
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::cerr << "lorahub: error: unknown command '" << name << "'\n";
    usage(std::cerr);
    return 2;
  }
  try {
    return it->second.run(lorahub::cli::Args(argv + 2, argv + argc));
  } catch (const boost::program_options::error& e) {
    std::cerr << "lorahub " << name << ": error: " << e.what() << " (see lorahub " << name << " --help)\n";
    return 2;
  } catch (const lorahub::cli::UsageError& e) {
    std::cerr << "lorahub " << name << ": error: " << e.what() << " (see lorahub " << name << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    std::cerr << "lorahub " << name << ": error: " << msg.substr(0, msg.find('\n')) << "\n";  // no LibTorch stack traces
    return 1;
  }
}
