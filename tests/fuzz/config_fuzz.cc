// libFuzzer target: the sweep config parser (YAML) on arbitrary text. It
// must return a config or throw an error naming the file; a parsed config
// must pass its own checks (seeds, N, k non-empty).
#include "run/config.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = lorahub::run::parse_config(text, "fuzz.yaml");
    if (config.seeds.empty() || config.n_modules.empty() || config.n_shots.empty()) std::abort();
  } catch (const std::exception& e) {
    if (std::string(e.what()).find("fuzz.yaml") == std::string::npos) std::abort();
  }
  return 0;
}
