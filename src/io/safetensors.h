#pragma once
// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON describing every tensor
// (dtype, shape, data_offsets into the byte buffer that follows), then the
// buffer. Our own reader and writer; every offset is checked.

#include "io/tensor_map.h"

#include <cstdint>
#include <map>
#include <string>

namespace lorahub::io {

struct SafetensorsFile {
  TensorMap tensors;                            // CPU tensors, owned
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Reads every tensor. Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8
// BOOL. Throws std::runtime_error naming the file (and tensor) on a short
// header, a header past the end of the file, a tensor named twice, an
// unknown dtype, a shape whose byte size disagrees with its offsets,
// out-of-range offsets, and a data buffer not covered exactly (overlapping
// tensors, a gap, bytes after the last tensor), as the format's own reader
// (safetensors Metadata::validate) refuses them.
SafetensorsFile read_safetensors(const std::string& path);
// The same checks on a file's bytes in memory; `source` names it in errors.
SafetensorsFile parse_safetensors(const void* bytes, uint64_t size, const std::string& source);

// Writes tensors (made contiguous, any device) and metadata atomically: a
// temporary file renamed over `path`, so an existing file is never left
// half-written.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lorahub::io
