// libFuzzer target: JSON-lines files of few-shot examples.
#include "io/json_file.h"
#include "tasks/examples.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto examples = lorahub::tasks::parse_examples_jsonl(text, "examples.jsonl");
    if (examples.empty()) std::abort();  // an empty file must be refused, not returned
  } catch (const std::exception& e) {
    if (std::string(e.what()).find("examples.jsonl") == std::string::npos) std::abort();
  }
  return 0;
}
