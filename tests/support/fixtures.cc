#include "support/fixtures.h"

#include "io/json_file.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace lorahub::testing {

std::string shared_dir() {
  if (const char* env = std::getenv("LORAHUB_SHARED")) return env;
  return LORAHUB_DEFAULT_SHARED;
}

std::string tiny_dir() { return shared_dir() + "/fixtures/tiny-t5"; }

std::string binary_dir() { return LORAHUB_BINARY_DIR; }

c10::Device test_device() {
  const char* env = std::getenv("LORAHUB_TEST_DEVICE");
  const std::string name = env && *env ? env : "cpu";
  if (name != "cpu" && name != "cuda" && name.rfind("cuda:", 0) != 0) {
    throw std::invalid_argument("LORAHUB_TEST_DEVICE: expected cpu, cuda or cuda:N, found '" + name + "'");
  }
  return c10::Device(name);
}

at::Tensor on_test_device(const at::Tensor& t) { return t.to(test_device()); }

const nlohmann::json& golden() {
  static const nlohmann::json doc = io::read_json_file(tiny_dir() + "/golden.json");
  return doc;
}

namespace {
struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lorahub-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_dir(const std::string& tag) {
  static TempRoot root;
  static int counter = 0;
  const auto dir = root.path / (tag + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  return dir.string();
}

namespace {
void flatten(const nlohmann::json& j, std::vector<int64_t>& shape, std::vector<double>& values, size_t depth) {
  if (j.is_array()) {
    if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(j.size()));
    for (const auto& e : j) flatten(e, shape, values, depth + 1);
  } else {
    values.push_back(j.get<double>());
  }
}
}  // namespace

at::Tensor float_tensor(const nlohmann::json& nested) {
  std::vector<int64_t> shape;
  std::vector<double> values;
  flatten(nested, shape, values, 0);
  return at::tensor(values, at::kDouble).to(at::kFloat).view(shape);
}

at::Tensor long_tensor(const nlohmann::json& nested) {
  std::vector<int64_t> shape;
  std::vector<double> values;
  flatten(nested, shape, values, 0);
  return at::tensor(values, at::kDouble).to(at::kLong).view(shape);
}

std::vector<int64_t> ids(const nlohmann::json& list) { return list.get<std::vector<int64_t>>(); }

double rel_diff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lorahub::testing
