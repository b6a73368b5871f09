#pragma once
// Name tables for enums: one table per enum, through which the CLI, the YAML
// config, the results file and the help texts parse and print its values.
// Several names may map to one value (aliases); the first entry of a value
// is the name it prints as. Header only, no dependencies.
//
//   constexpr util::Name<Color> kColors[] = {{Color::kRed, "red"}, {Color::kRed, "r"}};
//   Color c = util::parse_name(kColors, "r", "--color");   // kRed
//   util::name_of(kColors, Color::kRed);                   // "red"
//   util::names_list(kColors);                             // "red, r"
//
// Errors: parse_name throws std::invalid_argument
// "<what>: expected one of <names>, found \"<text>\"".

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lorahub::util {

template <class E>
struct Name {
  E value;
  const char* name;
};

// The table's names, comma separated, in table order.
template <class E, size_t N>
std::string names_list(const Name<E> (&table)[N]) {
  std::string out;
  for (const auto& e : table) out += (out.empty() ? "" : ", ") + std::string(e.name);
  return out;
}

template <class E, size_t N>
E parse_name(const Name<E> (&table)[N], std::string_view text, const std::string& what) {
  for (const auto& e : table) {
    if (text == e.name) return e.value;
  }
  throw std::invalid_argument(what + ": expected one of " + names_list(table) + ", found \"" + std::string(text) + "\"");
}

template <class E, size_t N>
const char* name_of(const Name<E> (&table)[N], E value) {
  for (const auto& e : table) {
    if (e.value == value) return e.name;
  }
  throw std::logic_error("name_of: a value missing from its name table");
}

// `text` parsed and printed back: its canonical name (aliases resolved).
template <class E, size_t N>
std::string canonical_name(const Name<E> (&table)[N], std::string_view text, const std::string& what) {
  return name_of(table, parse_name(table, text, what));
}

}  // namespace lorahub::util
