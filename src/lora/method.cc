#include "lora/method.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace lorahub::lora {

bool is_runtime_composition(Method m) { return m == Method::kLoraHub || m == Method::kCat; }

Method parse_method(const std::string& name, const std::string& what, bool merge_methods) {
  std::string expected;
  for (const auto& e : kMethodNames) {
    if (!merge_methods && !is_runtime_composition(e.value)) continue;
    if (name == e.name) return e.value;
    expected += (expected.empty() ? "" : ", ") + std::string(e.name);
  }
  if (!merge_methods) expected = "lorahub or cat";
  throw std::invalid_argument(what + ": expected " + (merge_methods ? "one of " : "") + expected + ", found \"" +
                              name + "\"");
}

std::string method_name(Method m) { return util::name_of(kMethodNames, m); }

bool needs_equal_ranks(Method m) {
  return m == Method::kLinear || m == Method::kTies || m == Method::kDareLinear || m == Method::kDareTies ||
         m == Method::kMagnitudePrune;
}

bool is_svd_method(Method m) {
  return m == Method::kSvd || m == Method::kTiesSvd || m == Method::kDareLinearSvd || m == Method::kDareTiesSvd ||
         m == Method::kMagnitudePruneSvd;
}

MajoritySign parse_majority_sign(const std::string& name, const std::string& what) {
  for (const auto& e : kMajoritySignNames) {
    if (name == e.name) return e.value;
  }
  throw std::invalid_argument(what + ": expected total or frequency, found \"" + name + "\"");
}

std::string density_problem(double density) {
  char text[32];
  const std::string found(text, std::to_chars(text, text + sizeof text, density).ptr);  // shortest form: 1e-320
  if (!(density > 0 && density <= 1)) return "expected a number in (0, 1], found " + found;
  if (!std::isfinite(static_cast<float>(1.0 / density))) {
    std::ostringstream least;
    least << 1.0 / static_cast<double>(FLT_MAX);
    return "expected a number in (0, 1] whose reciprocal is finite in float32 (DARE rescales by 1/density): at "
           "least " + least.str() + ", found " + found;
  }
  return "";
}

std::string majority_sign_name(MajoritySign m) { return util::name_of(kMajoritySignNames, m); }

}  // namespace lorahub::lora
