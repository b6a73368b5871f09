#include "model/family.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include <sys/stat.h>

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

Family model_family(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error(dir + ": model directory does not exist");
  }
  const std::string path = dir + "/config.json";
  const nlohmann::json doc = io::read_json_file(path);
  io::JsonFields f(doc, path);
  // T5 configs written before model_type was read carry none: T5 as before.
  const std::string type = f.get_string("model_type", "t5");
  try {
    return parse_family(type, "model_type");
  } catch (const std::invalid_argument&) {
    f.fail("model_type", "expected one of t5, llama, mistral, found '" + type + "'");
  }
}

}  // namespace lorahub::model
