#include "cli/common_options.h"

#include "t5/checkpoint.h"

#include <ATen/Parallel.h>
#include <boost/program_options.hpp>

#include <stdexcept>
#include <thread>

namespace po = boost::program_options;

namespace lorahub::cli {

void add_runtime_options(po::options_description& desc, RuntimeOptions& opts) {
  desc.add_options()
      ("device", po::value(&opts.device_name)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("dtype", po::value(&opts.dtype_name)->default_value("float32"), "float32 or bfloat16")
      ("threads", po::value(&opts.threads)->default_value(0), "CPU threads (0: all cores)");
}

void apply_runtime_options(RuntimeOptions& opts) {
  opts.dtype = t5::parse_dtype(opts.dtype_name, "--dtype");
  try {
    opts.device = c10::Device(opts.device_name);
  } catch (const std::exception&) {
    throw std::invalid_argument("--device: expected cpu, cuda or cuda:N, found \"" + opts.device_name + "\"");
  }
  if (opts.threads < 0) throw std::invalid_argument("--threads: expected a non-negative integer");
  const int threads = opts.threads > 0 ? opts.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

}  // namespace lorahub::cli
