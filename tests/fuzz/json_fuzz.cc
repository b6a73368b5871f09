// libFuzzer target: the JSON readers and the documents read through them
// (a model's config.json, a BBH task file). Bad input must end in
// std::invalid_argument or std::runtime_error naming the source.
#include "io/json_file.h"
#include "t5/t5_config.h"
#include "tasks/bbh.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

template <typename F>
void expect_clean(F&& f, const std::string& source) {
  try {
    f();
  } catch (const std::exception& e) {
    // Every refusal names its source, so the user knows which file to fix.
    if (std::string(e.what()).find(source) == std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  expect_clean([&] { lorahub::io::parse_json_text(text, "fuzz.json"); }, "fuzz.json");
  expect_clean([&] { lorahub::t5::T5Config::from_text(text, "config.json"); }, "config.json");
  expect_clean([&] { lorahub::tasks::parse_bbh_examples(text, "task.json"); }, "task.json");
  return 0;
}
