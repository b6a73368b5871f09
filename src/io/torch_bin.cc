#include "io/torch_bin.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace lorahub::io {
namespace {

uint32_t le32(const std::vector<char>& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<size_t>(i)]);
  return v;
}

// The end-of-central-directory record (signature PK\5\6, 22 bytes plus a
// comment of up to 64 KiB) must close the file, and the central directory it
// points to must lie before it.
template <typename Fail>
void check_zip_directory(const std::vector<char>& b, const Fail& fail) {
  constexpr size_t kEocd = 22;
  if (b.size() >= kEocd) {
    const size_t lowest = b.size() > kEocd + 65535 ? b.size() - kEocd - 65535 : 0;
    for (size_t at = b.size() - kEocd + 1; at-- > lowest;) {
      if (le32(b, at) != 0x06054b50) continue;
      const size_t comment = static_cast<unsigned char>(b[at + 20]) | (static_cast<size_t>(static_cast<unsigned char>(b[at + 21])) << 8);
      const uint64_t dir_size = le32(b, at + 12), dir_offset = le32(b, at + 16);
      if (at + kEocd + comment != b.size()) continue;  // a stray signature inside the data
      // ZIP64 archives mark these fields 0xffffffff; their own records are checked by LibTorch.
      if (dir_offset == 0xffffffffu || dir_size == 0xffffffffu || dir_offset + dir_size <= at) return;
      throw fail("zip central directory (" + std::to_string(dir_size) + " bytes at " + std::to_string(dir_offset) +
                 ") runs past its end record; the file is damaged");
    }
  }
  throw fail("truncated zip archive (no end-of-central-directory record); the file is incomplete");
}

}  // namespace

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
  // LibTorch's in-memory zip reader reads past the end of a truncated
  // archive (found by the ASan build), so the archive's directory is checked
  // here first: its end record must be present and point inside the file.
  check_zip_directory(bytes, fail);
  c10::IValue value;
  try {
    // torch::jit::pickle_load's own steps, with map_location = cpu: storages
    // saved from a GPU (most PEFT adapter_model.bin files) would otherwise be
    // restored onto the device they were saved on, which a CPU build cannot
    // create and a GPU build would fill on cuda:0 in every rank.
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), static_cast<off_t>(bytes.size())));
    value = torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", /*type_resolver=*/{},
                                              /*obj_loader=*/{}, at::Device(at::kCPU), reader);
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
