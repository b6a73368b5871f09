#pragma once
// Flags every model-running command shares: device, dtype, threads.

#include <boost/program_options/options_description.hpp>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace lorahub::cli {

struct RuntimeOptions {
  std::string device_name = "cpu";
  std::string dtype_name = "float32";
  int threads = 0;  // 0: all cores
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;
};

void add_runtime_options(boost::program_options::options_description& desc, RuntimeOptions& opts);
// Parses device and dtype, sets torch's thread count. Throws on bad values.
void apply_runtime_options(RuntimeOptions& opts);

}  // namespace lorahub::cli
