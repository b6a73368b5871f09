#include "lora/method.h"

#include <stdexcept>

namespace lorahub::lora {

namespace {

struct MethodName {
  Method method;
  const char* name;
};
// PEFT's combination_type names (and "lorahub").
constexpr MethodName kMethodNames[] = {
    {Method::kLoraHub, "lorahub"},
    {Method::kCat, "cat"},
    {Method::kLinear, "linear"},
    {Method::kSvd, "svd"},
    {Method::kTies, "ties"},
    {Method::kTiesSvd, "ties_svd"},
    {Method::kDareLinear, "dare_linear"},
    {Method::kDareTies, "dare_ties"},
    {Method::kDareLinearSvd, "dare_linear_svd"},
    {Method::kDareTiesSvd, "dare_ties_svd"},
    {Method::kMagnitudePrune, "magnitude_prune"},
    {Method::kMagnitudePruneSvd, "magnitude_prune_svd"},
};

}  // namespace

bool is_runtime_composition(Method m) { return m == Method::kLoraHub || m == Method::kCat; }

Method parse_method(const std::string& name, const std::string& what, bool merge_methods) {
  std::string expected;
  for (const auto& e : kMethodNames) {
    if (!merge_methods && !is_runtime_composition(e.method)) continue;
    if (name == e.name) return e.method;
    expected += (expected.empty() ? "" : ", ") + std::string(e.name);
  }
  if (!merge_methods) expected = "lorahub or cat";
  throw std::invalid_argument(what + ": expected " + (merge_methods ? "one of " : "") + expected + ", found \"" +
                              name + "\"");
}

std::string method_name(Method m) {
  for (const auto& e : kMethodNames) {
    if (e.method == m) return e.name;
  }
  throw std::logic_error("method_name: unknown method");
}

bool needs_equal_ranks(Method m) {
  return m == Method::kLinear || m == Method::kTies || m == Method::kDareLinear || m == Method::kDareTies ||
         m == Method::kMagnitudePrune;
}

bool is_svd_method(Method m) {
  return m == Method::kSvd || m == Method::kTiesSvd || m == Method::kDareLinearSvd || m == Method::kDareTiesSvd ||
         m == Method::kMagnitudePruneSvd;
}

MajoritySign parse_majority_sign(const std::string& name, const std::string& what) {
  if (name == "total") return MajoritySign::kTotal;
  if (name == "frequency") return MajoritySign::kFrequency;
  throw std::invalid_argument(what + ": expected total or frequency, found \"" + name + "\"");
}

std::string majority_sign_name(MajoritySign m) { return m == MajoritySign::kTotal ? "total" : "frequency"; }

}  // namespace lorahub::lora
