#pragma once
// A named set of tensors, as stored in one checkpoint file.

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace lorahub::io {

// Sorted by name so that iteration (and anything written from it) is
// deterministic.
using TensorMap = std::map<std::string, at::Tensor>;

}  // namespace lorahub::io
