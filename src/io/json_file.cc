#include "io/json_file.h"

#include "io/atomic_file.h"
#include "io/text_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lorahub::io {

nlohmann::json read_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

nlohmann::json parse_json_text(const std::string& text, const std::string& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for numbers past double
    throw std::invalid_argument(path + ": not valid JSON (" + e.what() + ")");
  }
}

std::vector<nlohmann::json> read_jsonl_file(const std::string& path) { return parse_jsonl_text(read_text_file(path), path); }

std::vector<nlohmann::json> parse_jsonl_text(const std::string& text, const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for numbers past double
      throw std::invalid_argument(path + ":" + std::to_string(line_no) + ": not valid JSON (" +
                                  e.what() + ")");
    }
    if (!rows.back().is_object()) {
      throw std::invalid_argument(path + ":" + std::to_string(line_no) +
                                  ": expected a JSON object, found " + rows.back().type_name());
    }
  }
  return rows;
}

void write_json_file(const std::string& path, const nlohmann::json& doc) {
  write_atomically(path, [&](std::ostream& out) { out << doc.dump(2) << "\n"; });
}

JsonFields::JsonFields(const nlohmann::json& obj, std::string file, std::string scope)
    : obj_(obj), file_(std::move(file)), scope_(std::move(scope)) {
  if (!obj_.is_object()) {
    throw std::invalid_argument(file_ + (scope_.empty() ? "" : ": field '" + scope_ + "'") +
                                ": expected a JSON object, found " + obj_.type_name());
  }
}

void JsonFields::fail(const std::string& key, const std::string& what) const {
  const std::string name = scope_.empty() ? key : scope_ + "." + key;
  throw std::invalid_argument(file_ + ": field '" + name + "': " + what);
}

bool JsonFields::has(const std::string& key) const {
  return obj_.contains(key) && !obj_.at(key).is_null();
}

bool JsonFields::is_null(const std::string& key) const { return obj_.contains(key) && obj_.at(key).is_null(); }

const nlohmann::json& JsonFields::at(const std::string& key) const {
  if (!has(key)) fail(key, obj_.contains(key) ? "expected a value, found null" : "missing");
  return obj_.at(key);
}

int64_t JsonFields::get_int(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_number_integer()) fail(key, std::string("expected an integer, found ") + v.type_name());
  return v.get<int64_t>();
}

int64_t JsonFields::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

double JsonFields::get_double(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_number()) fail(key, std::string("expected a number, found ") + v.type_name());
  return v.get<double>();
}

double JsonFields::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

double JsonFields::get_double_above(const std::string& key, double above) const {
  const double v = get_double(key);
  if (!(std::isfinite(v) && v > above)) {
    std::ostringstream o;
    o << "expected a finite number > " << above << ", found " << obj_.at(key).dump();
    fail(key, o.str());
  }
  return v;
}

double JsonFields::get_double_above(const std::string& key, double above, double fallback) const {
  return has(key) ? get_double_above(key, above) : fallback;
}

bool JsonFields::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = obj_.at(key);
  if (!v.is_boolean()) fail(key, std::string("expected true or false, found ") + v.type_name());
  return v.get<bool>();
}

std::string JsonFields::get_string(const std::string& key) const {
  const auto& v = at(key);
  if (!v.is_string()) fail(key, std::string("expected a string, found ") + v.type_name());
  return v.get<std::string>();
}

std::string JsonFields::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

void warn_once(const std::string& key, const std::string& line) {
  static std::mutex mutex;
  static std::set<std::string> said;
  const std::lock_guard<std::mutex> lock(mutex);
  if (said.insert(key).second) std::fprintf(stderr, "%s\n", line.c_str());
}

std::vector<std::string> JsonFields::warn_unknown(const std::vector<std::string>& known) const {
  std::vector<std::string> unknown;
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    unknown.push_back(it.key());
    const std::string name = scope_.empty() ? it.key() : scope_ + "." + it.key();
    warn_once(std::filesystem::path(file_).filename().string() + ": " + name,
              "warning: " + file_ + ": field '" + name + "' is not known to lorahub and is ignored");
  }
  return unknown;
}

std::vector<std::string> JsonFields::get_strings(const std::string& key) const {
  const auto& v = at(key);
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) fail(key, std::string("expected a list of strings, found ") + v.type_name());
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) {
      fail(key, std::string("expected a list of strings, found an element of type ") +
                    item.type_name());
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace lorahub::io
