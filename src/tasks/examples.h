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

}  // namespace lorahub::tasks
