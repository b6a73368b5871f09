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

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The scan behind check_peft_regex: one pass over the pattern, in and out of
// classes, refusing at the first construct Python's re and ECMAScript read
// differently (checked against both engines on module names).
class PortableRegexScan {
 public:
  PortableRegexScan(const std::string& p, const std::string& where) : p_(p), where_(where) {}

  void run() {
    size_t i = 0;
    while (i < p_.size()) {
      const char c = p_[i];
      if (static_cast<unsigned char>(c) >= 0x80) non_ascii(i);
      if (c == '\\') {
        i = escape(i, false);
      } else if (c == '[') {
        i = cls(i);
      } else if (c == '(') {
        group(i);
        ++i;
      } else if (c == '{') {
        i = braces(i);
        i = after_quantifier(i);
      } else if (c == '*' || c == '+' || c == '?') {
        i = after_quantifier(i + 1);
      } else {
        ++i;
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& construct, const std::string& why) const {
    throw std::invalid_argument(where_ + ": '" + p_ + "' uses " + construct + " (character " + std::to_string(at + 1) +
                                "): " + why);
  }

  [[noreturn]] void non_ascii(size_t at) const {
    fail(at, "a non-ASCII character", "Python's re (PEFT) reads it as one character, std::regex as its UTF-8 bytes "
         "(a quantifier or class would apply to one byte); module names are ASCII");
  }

  // A lazy "?" may follow a quantifier; a "+" after it is possessive
  // (Python >= 3.11 only; older Python and ECMAScript have none).
  size_t after_quantifier(size_t i) const {
    if (i < p_.size() && p_[i] == '?') ++i;
    if (i < p_.size() && p_[i] == '+') {
      fail(i, "a possessive quantifier '+' after a repeat", "Python 3.11+ reads it as possessive, older Python refuses "
           "it, std::regex has none; drop the '+'");
    }
    return i;
  }

  // "{" outside a class: {n} {n,} {n,m} both read as repeats; {,m} is Python
  // only; any other "{" is a literal in Python and an error in std::regex.
  size_t braces(size_t i) const {
    size_t j = i + 1;
    const size_t d1 = j;
    while (j < p_.size() && is_digit(p_[j])) ++j;
    const bool has_min = j > d1;
    bool comma = false;
    if (j < p_.size() && p_[j] == ',') {
      comma = true;
      ++j;
      while (j < p_.size() && is_digit(p_[j])) ++j;
    }
    if (j < p_.size() && p_[j] == '}' && has_min) return j + 1;
    if (j < p_.size() && p_[j] == '}' && comma) {
      fail(i, "'" + p_.substr(i, j + 1 - i) + "'", "Python's re (PEFT) reads a missing lower bound as 0, std::regex "
           "refuses it; write '{0," + p_.substr(d1 + 1, j - d1 - 1) + "}'");
    }
    fail(i, "a '{' that starts no repeat count", "Python's re (PEFT) reads it as a literal '{', std::regex refuses "
         "it; write '\\{'");
  }

  // "(" : plain groups, (?:...), (?=...), (?!...) read alike; every other
  // "(?" extension is Python only.
  void group(size_t i) const {
    if (i + 1 >= p_.size() || p_[i + 1] != '?') return;
    const char k = i + 2 < p_.size() ? p_[i + 2] : '\0';
    if (k == ':' || k == '=' || k == '!') return;
    const std::string head = p_.substr(i, 4);
    if (k == 'P') fail(i, "a named group '" + head + "...'", "Python only (std::regex has no named groups); use '(...)'");
    if (k == '<') fail(i, "a lookbehind '" + head + "...'", "Python only (std::regex has no lookbehind)");
    if (k == '#') fail(i, "a comment '(?#...)'", "Python only; remove it");
    if (k == '>') fail(i, "an atomic group '(?>...)'", "Python 3.11+ only; use '(?:...)'");
    if (k == '(') fail(i, "a conditional '(?(...)...)'", "Python only");
    fail(i, "inline flags '" + head + "...'", "Python only (std::regex has no inline flags); write the "
         "characters out (e.g. '[qQ]' for a case-insensitive 'q')");
  }

  // An escape at p_[i] == '\\'; returns the index after it.
  size_t escape(size_t i, bool in_class) const {
    if (i + 1 >= p_.size()) return i + 1;  // a trailing '\': both refuse (std::regex reports it)
    const char e = p_[i + 1];
    if (static_cast<unsigned char>(e) >= 0x80) non_ascii(i + 1);
    if (std::string("dDwWsSntrfvb").find(e) != std::string::npos) return i + 2;
    if (e == 'B' && !in_class) return i + 2;
    if (!std::isalnum(static_cast<unsigned char>(e))) return i + 2;  // escaped punctuation: itself
    if (e == 'x' && i + 3 < p_.size() && is_hex(p_[i + 2]) && is_hex(p_[i + 3])) {
      if (std::stoi(p_.substr(i + 2, 2), nullptr, 16) < 0x80) return i + 4;
      non_ascii(i);
    }
    if (!in_class && e >= '1' && e <= '9' && !(i + 2 < p_.size() && is_digit(p_[i + 2]))) return i + 2;
    const std::string esc = std::string("'\\") + e + "'";
    if (e == 'Z') fail(i, esc, "Python's re (PEFT) reads the end of the name, std::regex the letter 'Z'; write '$'");
    if (e == 'A') fail(i, esc, "Python's re (PEFT) reads the start of the name, std::regex the letter 'A'; write '^' "
                               "(or nothing: the whole name must match)");
    if (is_digit(e)) {
      fail(i, esc + " with what follows", "a two-digit or zero escape is octal or a group number in Python's re "
           "(PEFT) and another back-reference or character in std::regex; write the character out");
    }
    fail(i, esc, "an escape Python's re (PEFT) and std::regex do not read alike (both read \\d \\D \\w \\W \\s \\S "
         "\\b \\B \\n \\t \\r \\f \\v \\xHH, \\1-\\9 and escaped punctuation)");
  }

  // A class at p_[i] == '['; returns the index after its ']'.
  size_t cls(size_t i) const {
    size_t j = i + 1;
    if (j < p_.size() && p_[j] == '^') ++j;
    if (j < p_.size() && p_[j] == ']') {
      fail(j, "']' first in a class", "Python's re (PEFT) reads it as a literal ']', std::regex as the end of an "
           "empty class; write '\\]'");
    }
    while (j < p_.size() && p_[j] != ']') {
      const char c = p_[j];
      if (static_cast<unsigned char>(c) >= 0x80) non_ascii(j);
      if (c == '\\') {
        j = escape(j, true);
        continue;
      }
      if (c == '[') {
        const char k = j + 1 < p_.size() ? p_[j + 1] : '\0';
        if (k == ':' || k == '.' || k == '=') {
          fail(j, "'" + p_.substr(j, 2) + "' inside a class", "std::regex reads a POSIX class or collating element "
               "('[[:lower:]]'), Python's re (PEFT) the characters themselves and a ']' after the class; list the "
               "characters ('[a-z]')");
        }
        fail(j, "'[' inside a class", "Python's re (PEFT) warns that it may start a nested set, std::regex reads "
             "POSIX classes there; write '\\['");
      }
      ++j;
    }
    return j + 1;  // an unclosed class: std::regex reports it
  }

  const std::string& p_;
  const std::string& where_;
};

}  // namespace

void check_peft_regex(const std::string& pattern, const std::string& where) {
  PortableRegexScan(pattern, where).run();
}

std::regex compile_peft_regex(const std::string& pattern, const std::string& where) {
  check_peft_regex(pattern, where);
  try {
    return std::regex(pattern);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(where + ": expected a regular expression, found '" + pattern + "' (" + e.what() + ")");
  }
}

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
  t.regex_ = std::make_shared<const std::regex>(compile_peft_regex(value, where));
  t.kind_ = Kind::kRegex;
  return t;
}

bool TargetModules::matches(const std::string& module) const {
  switch (kind_) {
    case Kind::kAllLinear: return true;
    case Kind::kRegex: return std::regex_match(module, *regex_);
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
  for (int s = 0; s < registry.size(); ++s) {
    if (matches(registry.at(s).module)) sites.push_back(s);
  }
  return sites;
}

}  // namespace lorahub::model
