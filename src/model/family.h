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

}  // namespace lorahub::model
