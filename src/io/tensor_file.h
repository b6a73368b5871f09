#pragma once
// Reading a tensor file by its extension: .safetensors or .bin/.pt.

#include "io/tensor_map.h"

#include <string>

namespace lorahub::io {

// Model and adapter weights. Floating-point tensors are checked finite:
// std::runtime_error names the file, the tensor and the first NaN or inf.
TensorMap read_tensor_file(const std::string& path);
// The same check on tensors already read; `path` names their file in errors.
void check_finite(const TensorMap& tensors, const std::string& path);

bool file_exists(const std::string& path);

}  // namespace lorahub::io
