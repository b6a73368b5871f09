#include "tasks/scoring.h"

#include <cctype>
#include <stdexcept>

namespace lorahub::tasks {

std::string normalize_answer(const std::string& text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) {
    if (text[i] == '.') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
  }
  return out;
}

bool exact_match(const std::string& prediction, const std::string& target) {
  return normalize_answer(prediction) == normalize_answer(target);
}

Score score(const std::vector<std::string>& predictions, const std::vector<std::string>& targets) {
  if (predictions.size() != targets.size()) throw std::invalid_argument("score: predictions and targets differ in count");
  Score s;
  for (size_t i = 0; i < predictions.size(); ++i) s.correct += exact_match(predictions[i], targets[i]);
  s.total = static_cast<int64_t>(predictions.size());
  return s;
}

}  // namespace lorahub::tasks
