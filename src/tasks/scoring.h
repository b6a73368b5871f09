#pragma once
// Answer scoring of the LoraHub reference: exact match after strip,
// lower-case and removing every ".".

#include <string>
#include <vector>

namespace lorahub::tasks {

// strip() of ASCII whitespace, ASCII lower-case, all '.' removed.
std::string normalize_answer(const std::string& text);
bool exact_match(const std::string& prediction, const std::string& target);

struct Score {
  int64_t correct = 0;
  int64_t total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};
Score score(const std::vector<std::string>& predictions, const std::vector<std::string>& targets);

}  // namespace lorahub::tasks
