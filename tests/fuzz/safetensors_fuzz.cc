// libFuzzer target: the safetensors reader on arbitrary bytes. It must
// either return tensors whose bytes lie inside the input or throw
// std::runtime_error; anything else (a crash, a sanitizer report, another
// exception type) is a bug.
#include "io/safetensors.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = lorahub::io::parse_safetensors(data, size, "fuzz.safetensors");
    uint64_t bytes = 0;
    for (const auto& [name, t] : file.tensors) bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
    if (bytes > size) std::abort();  // tensors hold more bytes than the file had
  } catch (const std::runtime_error&) {
  }
  return 0;
}
