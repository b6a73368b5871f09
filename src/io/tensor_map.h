#pragma once
// A named set of tensors, as stored in one checkpoint file.

#include <ATen/core/Tensor.h>

#include <cstdio>
#include <map>
#include <string>

namespace lorahub::io {

// Sorted by name so that iteration (and anything written from it) is
// deterministic.
using TensorMap = std::map<std::string, at::Tensor>;

// A tensor name (any bytes a file holds) for a message: in single quotes,
// control characters written as \u00XX, so a NUL does not cut the message
// (what() is a C string) and a newline does not break the one-line error.
inline std::string quoted_name(const std::string& name) {
  std::string out = "'";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

}  // namespace lorahub::io
