#pragma once
// The model families, with their one name table (issue 19): the CLI, the
// YAML, config.json's `model_type` and the results file parse and print
// through it.

#include <string>

namespace lorahub::model {

// "mistral" is the Llama code with a sliding window: it parses to kLlama.
enum class Family { kT5, kLlama };

// "t5", "llama".
const char* family_name(Family family);

// "t5" -> kT5; "llama", "mistral" -> kLlama. Throws std::invalid_argument
// "<where>: expected one of t5, llama, mistral, found '<name>'".
Family parse_family(const std::string& name, const std::string& where);

// The family named by `<dir>/config.json`'s model_type ("t5", "llama",
// "mistral"; a config without model_type is T5). Throws std::runtime_error
// when the directory or file cannot be read and std::runtime_error
// "<dir>/config.json: model_type: expected one of t5, llama, mistral,
// found '<x>'" otherwise.
Family model_family(const std::string& dir);

}  // namespace lorahub::model
