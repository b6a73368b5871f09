#include "tasks/examples.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace lorahub::tasks {

std::vector<Example> read_examples_jsonl(const std::string& path) {
  std::vector<Example> out;
  int line = 0;
  for (const auto& row : io::read_jsonl_file(path)) {
    ++line;
    io::JsonFields f(row, path + ":" + std::to_string(line));
    const char* target_key = f.has("target") || !f.has("output") ? "target" : "output";
    out.push_back({f.get_string("input"), f.get_string(target_key)});
  }
  if (out.empty()) throw std::invalid_argument(path + ": no examples");
  return out;
}

}  // namespace lorahub::tasks
