#pragma once
// PEFT's `target_modules` rule (peft 0.7.1 tuners_utils
// `check_target_module_exists`; "all-linear" as peft >= 0.8 reads it),
// implemented once for every family and every adapter kind (LoRA, IA3,
// training, export).

#include "model/projections.h"

#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace lorahub::model {

// PEFT reads its regular expressions (a target_modules string, the keys of
// rank_pattern/alpha_pattern, layers_pattern) with Python's `re`; lorahub
// with std::regex (ECMAScript). They agree on literals, escaped punctuation,
// ".", classes "[...]" (ranges, negation, \d \w \s inside), groups "(...)",
// "(?:...)", lookahead "(?=...)" "(?!...)", alternation, anchors "^" "$",
// \b \B, quantifiers * + ? {n} {n,} {n,m} (and their lazy forms), \d \D \w
// \W \s \S \n \t \r \f \v, \xHH below 0x80 and back-references \1-\9 on
// ASCII names. Throws std::invalid_argument "<where>: '<pattern>' uses
// <construct> (character <i>): <how each reads it>; <what to write>" for
// syntax the two read differently: \A \Z and other letter or digit escapes,
// "{,n}" and a "{" that starts no repeat count, POSIX classes and any "["
// inside a class, "]" first in a class, "(?P<...>)" and other "(?...)"
// extensions (inline flags, lookbehind, comments, atomic groups),
// possessive quantifiers, non-ASCII characters.
void check_peft_regex(const std::string& pattern, const std::string& where);
// check_peft_regex, then compiles; a pattern std::regex refuses throws
// std::invalid_argument "<where>: expected a regular expression, found
// '<pattern>' (<std::regex's reason>)".
std::regex compile_peft_regex(const std::string& pattern, const std::string& where);

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
  // or a regular expression, compiled once by compile_peft_regex (which
  // refuses syntax Python's `re` reads otherwise). Throws
  // std::invalid_argument naming `where` (e.g. "<file>: field
  // 'target_modules'") when the pattern is refused or does not compile.
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
  std::shared_ptr<const std::regex> regex_;  // kRegex
};

}  // namespace lorahub::model
