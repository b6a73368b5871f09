#include "io/torch_bin.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace lorahub::io {

TensorMap read_torch_bin(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open torch checkpoint");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto fail = [&](const std::string& what) {
    return std::runtime_error(path + ": cannot read torch checkpoint: " + what);
  };
  if (bytes.size() < 4) throw fail("file is " + std::to_string(bytes.size()) + " bytes long");
  const bool is_zip = bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
  if (!is_zip) {
    if (static_cast<unsigned char>(bytes[0]) == 0x80) {
      throw fail("legacy (non-zip) torch.save format, which LibTorch cannot read; "
                 "convert it to .safetensors");
    }
    throw fail("not a zip archive (expected torch.save's zip format)");
  }
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    msg = msg.substr(0, msg.find('\n'));
    throw fail("LibTorch's unpickler failed (" + msg +
               "); it reads plain dicts of two or more tensors, not OrderedDicts, one-entry "
               "dicts or truncated archives; convert the file to .safetensors");
  }
  if (!value.isGenericDict()) throw fail("top-level object is not a dict of tensors");
  TensorMap out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      throw fail("dict holds a non-(string, tensor) entry");
    }
    // Tied weights share storage in the pickle; give each name its own tensor.
    out.emplace(item.key().toStringRef(), item.value().toTensor().contiguous().clone());
  }
  return out;
}

}  // namespace lorahub::io
