#pragma once
// A family of synthetic text tasks in the BBH style (instruction, then
// "Q: <input>\nA:"), built from a small lexicon. Twelve upstream tasks
// (one skill each) train the LoRA modules; held-out tasks reuse a skill
// under new instruction wording or compose two skills.

#include "util/random.h"
#include "tasks/examples.h"

#include <functional>
#include <string>
#include <vector>

namespace lorahub::demo {

struct SyntheticTask {
  std::string name;
  std::string instruction;
  std::string skill;  // the upstream skill it exercises ("sort+first" when composed)
  std::function<tasks::Example(util::Rng&)> make;
};

std::vector<SyntheticTask> upstream_tasks();
std::vector<SyntheticTask> heldout_tasks();

// The upstream tasks (= module ids) whose skills a composed held-out task
// combines, in the order its skill names them ("sort+first" -> sort_words,
// first_word); empty for a single-skill task.
std::vector<std::string> composing_modules(const SyntheticTask& task);

// An instruction of 3-7 words drawn from all instructions of the world and a
// few fillers, in random order ("Order the write list these?"): one the base
// model has never seen, as a held-out task's is.
std::string filler_instruction(util::Rng& rng);

// The words and numbers of task inputs, one vocabulary piece each.
std::vector<std::string> lexicon_symbols();

// instruction + "\n\nQ: " + input + "\nA:" (the BBH zero-shot prompt).
std::string prompt(const SyntheticTask& task, const std::string& input);
std::string prompt(const std::string& instruction, const std::string& input);

}  // namespace lorahub::demo
