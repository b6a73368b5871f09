#pragma once
// Input/target pairs and the JSONL files that hold them.

#include <string>
#include <vector>

namespace lorahub::tasks {

struct Example {
  std::string input;
  std::string target;
};

// One JSON object per line with "input" and "target" (or "output", the
// reference implementation's name). Errors name the file, line and field.
std::vector<Example> read_examples_jsonl(const std::string& path);
// The same, on the text of such a file; `source` names it in errors.
std::vector<Example> parse_examples_jsonl(const std::string& text, const std::string& source);
// Writes `examples` as such a file (one {"input", "target"} object per line);
// throws std::runtime_error naming `path` when it cannot be written.
void write_examples_jsonl(const std::string& path, const std::vector<Example>& examples);

}  // namespace lorahub::tasks
