// Serves the LoraHub objective of the recorded learning run (tiny-t5, lora0..4,
// the first 5 examples in one padded batch, as Learner.CobylaReproducesThe-
// ReferenceTrajectory computes it) over stdin/stdout, so another optimizer
// implementation can search on exactly our objective values
// (tests/optim/cobyla_scipy_test.py drives scipy's COBYLA with it).
//
// Reads lines of 5 weights; prints one objective (%.17g) per line.

#include "learn/objective.h"
#include "lora/tiny_pool.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

int main() {
  using namespace lorahub;
  try {
    std::vector<t5::TokenIds> inputs, targets;
    for (int i = 0; i < 5; ++i) {
      inputs.push_back(testing::ids(testing::golden()["examples"][i]["input_ids"]));
      targets.push_back(testing::ids(testing::golden()["examples"][i]["label_ids"]));
    }
    learn::ObjectiveOptions exact;
    exact.pack_examples = false;
    const learn::FewShotObjective objective(testing::tiny_model(), testing::tiny_pool(), inputs, targets, exact);
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::vector<double> w;
      for (double v; in >> v;) w.push_back(v);
      if (w.size() != 5) throw std::invalid_argument("expected 5 weights per line, got " + std::to_string(w.size()));
      std::printf("%.17g\n", objective.objectives(at::tensor(w).view({1, -1}))[0]);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::cerr << "objective_server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
