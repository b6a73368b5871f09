#include "io/tensor_file.h"

#include "io/safetensors.h"
#include "io/torch_bin.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

namespace lorahub::io {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
TensorMap read_any(const std::string& path) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path).tensors;
  if (ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")) {
    return read_torch_bin(path);
  }
  throw std::invalid_argument(path + ": unknown tensor file type (expected .safetensors or .bin)");
}

}  // namespace

void check_finite(const TensorMap& tensors, const std::string& path) {
  for (const auto& [name, t] : tensors) {
    if (!t.is_floating_point()) continue;
    // A dtype wider than float32 (F64) is cast to float32 or bfloat16 to
    // compute: a finite value past float32's range becomes inf there.
    const bool wide = c10::elementSize(t.scalar_type()) > 4;
    at::Tensor bad = at::logical_not(at::isfinite(t));
    if (wide) bad = at::logical_or(bad, at::abs(t) > static_cast<double>(std::numeric_limits<float>::max()));
    if (!bad.any().item<bool>()) continue;
    const int64_t first = bad.reshape({-1}).nonzero()[0][0].item<int64_t>();
    const double value = t.reshape({-1})[first].item<double>();
    std::string index;
    for (int64_t d = t.dim() - 1, rest = first; d >= 0; --d) {  // flat position -> [i, j, ...]
      index = std::to_string(rest % t.size(d)) + (index.empty() ? "" : ", ") + index;
      rest /= t.size(d);
    }
    if (std::isfinite(value)) {
      std::ostringstream v;
      v << value;
      throw std::runtime_error(path + ": tensor " + quoted_name(name) + " holds " + v.str() + " at [" + index +
                               "], outside float32's range (stored as " +
                               (t.scalar_type() == at::kDouble ? std::string("F64") : c10::toString(t.scalar_type())) +
                               "; weights are computed in float32 or bfloat16, where it is inf)");
    }
    throw std::runtime_error(path + ": tensor " + quoted_name(name) + " holds " + (std::isnan(value) ? "NaN" : value > 0 ? "inf" : "-inf") +
                             " at [" + index + "]; weights must be finite (the file is damaged or its training diverged)");
  }
}

TensorMap read_tensor_file(const std::string& path) {
  TensorMap tensors = read_any(path);
  check_finite(tensors, path);
  return tensors;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace lorahub::io
