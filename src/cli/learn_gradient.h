#pragma once
// lorahub learn --optimizer adamw: composition weights learned by gradient
// descent (learn/gradient_weights.h) instead of the gradient-free search.

#include "cli/common_options.h"
#include "learn/gradient_weights.h"
#include "learn/generation.h"
#include "tasks/examples.h"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <string>
#include <vector>

namespace lorahub::cli {

struct GradientFlags {
  learn::GradientOptions options;
  std::string weights_out;  // JSON of the learned weights
};

// --lr --epochs --steps --train-batch-size --weight-decay --validation-fraction
// --eval-every --per-target --weights-out
void add_gradient_options(boost::program_options::options_description& desc, GradientFlags& flags);
// Refuses (UsageError naming the flag) gradient flags given to another
// optimizer.
void check_gradient_flags_unused(const boost::program_options::variables_map& vm, const std::string& optimizer);

// What learn_command parsed, for the gradient path.
struct LearnRequest {
  std::string model_dir, method_name, export_dir, history_path, eval_path;
  std::vector<std::string> dirs;
  bool check_base = true;
  std::vector<tasks::Example> examples, eval_examples;
  learn::GenerateOptions gen;
  double l1 = 0;
  bool quiet = false;
};

int learn_with_gradient(const LearnRequest& request, GradientFlags& flags, RuntimeOptions& runtime,
                        const boost::program_options::variables_map& vm);

}  // namespace lorahub::cli
