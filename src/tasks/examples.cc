#include "tasks/examples.h"

#include "io/json_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace lorahub::tasks {

namespace {

std::vector<Example> examples_from_rows(const std::vector<nlohmann::json>& rows, const std::string& path) {
  std::vector<Example> out;
  int line = 0;
  for (const auto& row : rows) {
    ++line;
    io::JsonFields f(row, path + ":" + std::to_string(line));
    if (f.has("target") && f.has("output")) {
      f.fail("output", "given with 'target' on the same line; expected one of them (the target is 'target', or "
                       "'output' when there is no 'target')");
    }
    const char* target_key = f.has("target") || !f.has("output") ? "target" : "output";
    out.push_back({f.get_string("input"), f.get_string(target_key)});
  }
  if (out.empty()) throw std::invalid_argument(path + ": no examples");
  return out;
}

}  // namespace

std::vector<Example> read_examples_jsonl(const std::string& path) {
  return examples_from_rows(io::read_jsonl_file(path), path);
}

std::vector<Example> parse_examples_jsonl(const std::string& text, const std::string& source) {
  return examples_from_rows(io::parse_jsonl_text(text, source), source);
}

void write_examples_jsonl(const std::string& path, const std::vector<Example>& examples) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& e : examples) out << nlohmann::json{{"input", e.input}, {"target", e.target}}.dump() << "\n";
  out.flush();
  if (!out) throw std::runtime_error(path + ": cannot write examples");
}

}  // namespace lorahub::tasks
