#include "io/tensor_file.h"

#include "io/safetensors.h"
#include "io/torch_bin.h"

#include <stdexcept>
#include <sys/stat.h>

namespace lorahub::io {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

TensorMap read_tensor_file(const std::string& path) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path).tensors;
  if (ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")) {
    return read_torch_bin(path);
  }
  throw std::invalid_argument(path + ": unknown tensor file type (expected .safetensors or .bin)");
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace lorahub::io
