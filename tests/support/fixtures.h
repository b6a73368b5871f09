#pragma once
// Access to ../shared fixtures and golden numbers for tests.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lorahub::testing {

// The shared directory ($LORAHUB_SHARED, else the one CMake found).
std::string shared_dir();
// ../shared/fixtures/tiny-t5
std::string tiny_dir();
// golden.json of tiny-t5, parsed once.
const nlohmann::json& golden();
// A fresh empty temporary directory (removed at exit).
std::string temp_dir(const std::string& tag);
std::string binary_dir();
// The device the model tests run on: $LORAHUB_TEST_DEVICE (cpu, cuda,
// cuda:N; default cpu). std::invalid_argument for another value.
c10::Device test_device();
// `t` on test_device().
at::Tensor on_test_device(const at::Tensor& t);

// Nested JSON arrays of numbers -> float32 tensor; of ints -> int64 tensor.
at::Tensor float_tensor(const nlohmann::json& nested);
at::Tensor long_tensor(const nlohmann::json& nested);
std::vector<int64_t> ids(const nlohmann::json& list);

// Relative difference |a-b| / max(|b|, tiny).
double rel_diff(double a, double b);
// Writes bytes to a file (for malformed-input tests).
void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

}  // namespace lorahub::testing
