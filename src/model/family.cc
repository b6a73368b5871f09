#include "model/family.h"

#include <stdexcept>

namespace lorahub::model {
namespace {
struct FamilyName {
  const char* name;
  Family family;
};
// The first entry of a family is the name it prints as.
constexpr FamilyName kNames[] = {{"t5", Family::kT5}, {"llama", Family::kLlama}, {"mistral", Family::kLlama}};
}  // namespace

const char* family_name(Family family) {
  for (const auto& n : kNames) {
    if (n.family == family) return n.name;
  }
  return "?";
}

Family parse_family(const std::string& name, const std::string& where) {
  for (const auto& n : kNames) {
    if (name == n.name) return n.family;
  }
  std::string expected;
  for (const auto& n : kNames) expected += std::string(expected.empty() ? "" : ", ") + n.name;
  throw std::invalid_argument(where + ": expected one of " + expected + ", found '" + name + "'");
}

}  // namespace lorahub::model
