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

}  // namespace lorahub::tasks
