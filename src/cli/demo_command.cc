// lorahub demo-world: build (or reuse) the synthetic demo world.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "demo/demo_world.h"
#include "model/family.h"

#include <boost/program_options.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {

int demo_world_command(const Args& args) {
  demo::DemoWorldOptions o;
  std::string family;
  po::options_description desc("lorahub demo-world --out DIR [--family t5|llama] [--seed 0] [--threads 0] [--force]");
  desc.add_options()("help,h", "show this help")
      ("out", po::value(&o.out)->required(), "directory for the model, modules and held-out tasks")
      ("family", po::value(&family)->default_value("t5"), "model family: t5 (encoder-decoder) or llama (decoder-only)")
      ("seed", po::value(&o.seed)->default_value(0), "world seed")
      ("threads", po::value(&o.threads)->default_value(0), "CPU threads (0: all cores)")
      ("force", po::bool_switch(&o.force), "rebuild even if a world of this version and seed exists")
      ("quick", po::bool_switch(&o.quick), "a few training steps only (tests the pipeline; the world is not useful)");
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  try {
    o.family = model::parse_family(family, "--family");
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  check_output_flags({{"--out", o.out, true}}, {});
  const auto w = demo::build_demo_world(o);
  std::cout << "model " << w.model_dir << "\nmodules " << w.lora_dir << " (" << w.module_ids.size() << ")\nbbh "
            << w.bbh_dir << "\n";
  return 0;
}

}  // namespace lorahub::cli
