#pragma once
// Reading a tensor file by its extension: .safetensors or .bin/.pt.

#include "io/tensor_map.h"

#include <string>

namespace lorahub::io {

TensorMap read_tensor_file(const std::string& path);

bool file_exists(const std::string& path);

}  // namespace lorahub::io
