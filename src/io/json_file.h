#pragma once
// JSON documents read from files, with errors that name the file and field.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace lorahub::io {

// Reads and parses a whole JSON file. Throws std::runtime_error naming the
// file when it cannot be read, std::invalid_argument when it is not JSON.
nlohmann::json read_json_file(const std::string& path);
// The same, on text already in memory; `source` names it in errors.
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// Reads a JSON-lines file: one object per non-empty line. Errors name the
// file and the 1-based line.
std::vector<nlohmann::json> read_jsonl_file(const std::string& path);
std::vector<nlohmann::json> parse_jsonl_text(const std::string& text, const std::string& source);

// Writes `doc` to `path` atomically (temporary file, then rename), so an
// existing file is either kept whole or replaced whole.
void write_json_file(const std::string& path, const nlohmann::json& doc);

// Writes `line` and a newline to stderr, unless a line under the same `key`
// was written before in this process (thread-safe): a warning about a
// setting that every module of a pool repeats appears once per run.
void warn_once(const std::string& key, const std::string& line);

// Typed access to `obj[key]`, for files whose fields are documented. Errors
// read "<file>: field '<key>': expected <type>, found <json type>".
class JsonFields {
 public:
  JsonFields(const nlohmann::json& obj, std::string file, std::string scope = "");

  bool has(const std::string& key) const;  // present and not null
  bool is_null(const std::string& key) const;  // present as null
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  // The one rule for a model's real-valued settings (norm epsilons,
  // rope_theta, rope_scaling.factor): a finite number > `above`, else
  // "<file>: field '<key>': expected a finite number > <above>, found <v>".
  // Such a value enters every forward pass: a NaN, a zero or a negative
  // epsilon would give NaN logits in silence. The fallback (when absent or
  // null) is not checked.
  double get_double_above(const std::string& key, double above) const;
  double get_double_above(const std::string& key, double above, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // A list of strings, or (when allowed) a single string.
  std::vector<std::string> get_strings(const std::string& key) const;

  // "<file>: field '<scope.key>': <what>" as std::invalid_argument.
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  const nlohmann::json& at(const std::string& key) const;
  const std::string& file() const { return file_; }

  // Writes one line per key of the object that `known` does not list,
  // "warning: <file>: field '<key>' is not known to lorahub and is ignored",
  // to stderr, and returns those keys: a setting the reader does not know
  // may change the numbers, so it is never dropped in silence. Each key of
  // files of one name (adapter_config.json ...) is warned about once per
  // process (warn_once), not once per module of a pool.
  std::vector<std::string> warn_unknown(const std::vector<std::string>& known) const;

 private:
  const nlohmann::json& obj_;
  std::string file_;
  std::string scope_;
};

}  // namespace lorahub::io
