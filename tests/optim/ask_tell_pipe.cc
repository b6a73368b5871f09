// Drives one of our optimizers with objective values read from stdin, so a
// test can run it on the same function as another implementation (scipy's
// COBYLA in tests/optim/cobyla_scipy_test.py).
//
//   ask_tell_pipe NAME DIM BUDGET LOWER UPPER [SEED]
//
// For every candidate asked, prints one line "x_0 x_1 ... x_{n-1}" (%.17g)
// and reads one line holding f(x). At the end prints "best f".

#include "optim/optimizer.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  using namespace lorahub::optim;
  if (argc < 6) {
    std::cerr << "usage: ask_tell_pipe NAME DIM BUDGET LOWER UPPER [SEED]\n";
    return 2;
  }
  try {
    OptimizerOptions options;
    options.name = argv[1];
    options.budget = std::stoll(argv[3]);
    options.seed = argc > 6 ? std::stoull(argv[6]) : 0;
    const auto opt = make_optimizer(options, Box::uniform(std::stoul(argv[2]), std::stod(argv[4]), std::stod(argv[5]), 0.0));
    for (auto xs = opt->ask(); !xs.empty(); xs = opt->ask()) {
      std::vector<double> values;
      for (const Vec& x : xs) {
        for (size_t i = 0; i < x.size(); ++i) std::printf(i ? " %.17g" : "%.17g", x[i]);
        std::printf("\n");
        std::fflush(stdout);
        std::string line;
        if (!std::getline(std::cin, line)) throw std::runtime_error("stdin closed before the budget was spent");
        values.push_back(std::stod(line));
      }
      opt->tell(xs, values);
    }
    std::printf("best %.17g\n", opt->best_value());
  } catch (const std::exception& e) {
    std::cerr << "ask_tell_pipe: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
