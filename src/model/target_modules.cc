#include "model/target_modules.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <stdexcept>

namespace lorahub::model {
namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

TargetModules TargetModules::list(std::vector<std::string> names) {
  TargetModules t;
  t.kind_ = Kind::kList;
  t.names_ = std::move(names);
  return t;
}

TargetModules TargetModules::from_string(const std::string& value, const std::string& where) {
  TargetModules t;
  t.names_ = {value};
  if (lower(value) == "all-linear") {
    t.kind_ = Kind::kAllLinear;
    return t;
  }
  try {
    std::regex check(value);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(where + ": expected a regular expression, found '" + value + "' (" + e.what() + ")");
  }
  t.kind_ = Kind::kRegex;
  return t;
}

bool TargetModules::matches(const std::string& module) const {
  switch (kind_) {
    case Kind::kAllLinear: return true;
    case Kind::kRegex: return std::regex_match(module, std::regex(names_.front()));
    case Kind::kList:
      for (const auto& t : names_) {
        if (module == t || ends_with(module, "." + t)) return true;
      }
      return false;
  }
  return false;
}

std::vector<int> TargetModules::select(const ProjectionRegistry& registry) const {
  std::vector<int> sites;
  if (kind_ == Kind::kRegex) {
    const std::regex pattern(names_.front());  // compiled once for the whole registry
    for (int s = 0; s < registry.size(); ++s) {
      if (std::regex_match(registry.at(s).module, pattern)) sites.push_back(s);
    }
    return sites;
  }
  for (int s = 0; s < registry.size(); ++s) {
    if (matches(registry.at(s).module)) sites.push_back(s);
  }
  return sites;
}

}  // namespace lorahub::model
