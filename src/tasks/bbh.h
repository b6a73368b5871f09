#pragma once
// BIG-Bench Hard in the layout of the BBH repository: <dir>/bbh/<task>.json
// ({"examples": [{"input", "target"}]}) and <dir>/cot-prompts/<task>.txt
// (a canary line, "-----", the task instruction paragraph, then exemplars
// "Q: ...\nA: ... So the answer is X."). DESIGN.md section 4.

#include "tasks/examples.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::tasks {

struct BbhTask {
  std::string name;
  std::string instruction;  // the paragraph after "-----"
  std::vector<Example> examples;
  std::vector<Example> exemplars;  // cot-prompts Q/A pairs reduced to their final answers
};

// Task names found under <dir>/bbh, sorted.
std::vector<std::string> list_bbh_tasks(const std::string& dir);
// "all" expands to every task; other names must exist (errors name the file).
std::vector<std::string> resolve_bbh_tasks(const std::string& dir, const std::vector<std::string>& names);
BbhTask load_bbh_task(const std::string& dir, const std::string& name);
// The examples of a task file's text ({"examples": [{"input", "target"}]});
// `source` names it in errors.
std::vector<Example> parse_bbh_examples(const std::string& text, const std::string& source);

// instruction + "\n\nQ: " + input + "\nA:"
std::string zero_shot_prompt(const BbhTask& task, const std::string& input);
// instruction, the exemplars as "Q: ...\nA: <answer>", then the query.
std::string icl_prompt(const BbhTask& task, const std::string& input);

// The k learning shots of (task, shot_seed) and the disjoint evaluation set
// (at most max_eval examples when max_eval > 0), as example indices. The RNG
// stream depends on the task name and seed only.
struct ShotSplit {
  std::vector<int64_t> shots;
  std::vector<int64_t> eval;
};
ShotSplit split_shots(const BbhTask& task, int64_t k, uint64_t shot_seed, int64_t max_eval = 0);

}  // namespace lorahub::tasks
