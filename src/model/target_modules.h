#pragma once
// PEFT's `target_modules` rule (peft 0.7.1 tuners_utils
// `check_target_module_exists`; "all-linear" as peft >= 0.8 reads it),
// implemented once for every family and every adapter kind (LoRA, IA3,
// training, export).

#include "model/projections.h"

#include <string>
#include <vector>

namespace lorahub::model {

class TargetModules {
 public:
  enum class Kind {
    kList,       // a module is targeted when its full name equals an entry or ends with ".<entry>"
    kRegex,      // a module is targeted when the pattern matches its full name entirely (re.fullmatch)
    kAllLinear,  // every registered projection (the registry holds no lm_head, as PEFT excludes it)
  };

  TargetModules() = default;
  static TargetModules list(std::vector<std::string> names);
  // The string form of target_modules: "all-linear" (any case, as PEFT)
  // or a regular expression (ECMAScript syntax standing in for Python's
  // `re`; the two agree on the patterns adapters use). Throws
  // std::invalid_argument naming `where` when the pattern does not compile.
  static TargetModules from_string(const std::string& value, const std::string& where);

  Kind kind() const { return kind_; }
  // The list entries, or the one string (pattern or "all-linear").
  const std::vector<std::string>& names() const { return names_; }

  // Whether PEFT would wrap the module `module` (full name, e.g.
  // "encoder.block.0.layer.0.SelfAttention.q") of a model.
  bool matches(const std::string& module) const;
  // The sites of `registry` this rule targets, ascending.
  std::vector<int> select(const ProjectionRegistry& registry) const;

 private:
  Kind kind_ = Kind::kList;
  std::vector<std::string> names_;
};

}  // namespace lorahub::model
