#include "demo/synthetic_tasks.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <map>

namespace lorahub::demo {
namespace {

const std::vector<std::string>& lexicon() {
  static const std::vector<std::string> words = {
      "red", "blue", "green", "pink", "gray", "gold",  // colours
      "cat", "dog", "fox", "owl", "bee", "cow",        // animals
      "fig", "kiwi", "lime", "pear", "plum", "date",   // fruits
      "cup", "pen", "hat", "box", "key", "map"};       // things
  return words;
}

const std::vector<std::string>& animals() {
  static const std::vector<std::string> a = {"cat", "dog", "fox", "owl", "bee", "cow"};
  return a;
}

bool is_animal(const std::string& w) { return std::find(animals().begin(), animals().end(), w) != animals().end(); }

// Inserts a random animal at a random position of `w`; returns it.
std::string insert_animal(util::Rng& rng, std::vector<std::string>& w) {
  const std::string a = animals()[rng.next() % animals().size()];
  w.insert(w.begin() + static_cast<long>(rng.next() % (w.size() + 1)), a);
  return a;
}

std::vector<std::string> distinct_words(util::Rng& rng, size_t n, bool allow_animals = true) {
  std::vector<std::string> out;
  while (out.size() < n) {
    const auto& w = lexicon()[rng.next() % lexicon().size()];
    if (!allow_animals && is_animal(w)) continue;
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  return out;
}

std::vector<int> distinct_numbers(util::Rng& rng, size_t n, int limit) {
  std::vector<int> out;
  while (out.size() < n) {
    const int v = static_cast<int>(rng.next() % static_cast<uint64_t>(limit));
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::string join(const std::vector<int>& numbers) {
  std::string s;
  for (int v : numbers) s += (s.empty() ? "" : " ") + std::to_string(v);
  return s;
}

size_t list_length(util::Rng&) { return 3; }  // short lists keep the demo model small and quick to train

// The skills, each a generator of (input, target).
using Make = std::function<tasks::Example(util::Rng&)>;

std::map<std::string, Make> skills() {
  std::map<std::string, Make> s;
  auto words_task = [](std::function<std::string(std::vector<std::string>)> answer) -> Make {
    return [answer](util::Rng& rng) {
      const auto w = distinct_words(rng, list_length(rng));
      return tasks::Example{"List: " + join(w), answer(w)};
    };
  };
  auto numbers_task = [](size_t fixed, std::function<std::string(std::vector<int>)> answer) -> Make {
    return [fixed, answer](util::Rng& rng) {
      const auto v = distinct_numbers(rng, fixed ? fixed : list_length(rng), 50);
      return tasks::Example{"Numbers: " + join(v), answer(v)};
    };
  };
  s["copy"] = words_task([](auto w) { return join(w); });
  s["reverse"] = words_task([](auto w) { std::reverse(w.begin(), w.end()); return join(w); });
  s["sort"] = words_task([](auto w) { std::sort(w.begin(), w.end()); return join(w); });
  s["count"] = words_task([](auto w) { return std::to_string(w.size()); });
  s["first"] = words_task([](auto w) { return w.front(); });
  s["last"] = words_task([](auto w) { return w.back(); });
  s["initials"] = words_task([](auto w) {
    std::vector<std::string> letters;
    for (const auto& x : w) letters.push_back(x.substr(0, 1));
    return join(letters);
  });
  s["max"] = numbers_task(0, [](auto v) { return std::to_string(*std::max_element(v.begin(), v.end())); });
  s["min"] = numbers_task(0, [](auto v) { return std::to_string(*std::min_element(v.begin(), v.end())); });
  s["add"] = numbers_task(2, [](auto v) { return std::to_string(v[0] + v[1]); });
  s["member"] = [](util::Rng& rng) {
    const auto w = distinct_words(rng, list_length(rng));
    const bool in = rng.next() % 2 == 0;
    std::string probe = w[rng.next() % w.size()];
    if (!in) {
      do probe = lexicon()[rng.next() % lexicon().size()];
      while (std::find(w.begin(), w.end(), probe) != w.end());
    }
    return tasks::Example{"Word: " + probe + " List: " + join(w), in ? "yes" : "no"};
  };
  s["animal"] = [](util::Rng& rng) {
    auto w = distinct_words(rng, list_length(rng) - 1, false);
    const std::string a = insert_animal(rng, w);
    return tasks::Example{"List: " + join(w), a};
  };
  // Compositions of two skills (held-out only; no module is trained on them).
  s["sort+first"] = words_task([](auto w) { return *std::min_element(w.begin(), w.end()); });
  s["sort+last"] = words_task([](auto w) { return *std::max_element(w.begin(), w.end()); });
  // find_animal's recognition with word_in_list's yes/no answer: half the
  // lists hold one animal, half none.
  s["member+animal"] = [](util::Rng& rng) {
    const bool in = rng.next() % 2 == 0;
    auto w = distinct_words(rng, list_length(rng) - (in ? 1 : 0), false);
    if (in) insert_animal(rng, w);
    return tasks::Example{"List: " + join(w), in ? "yes" : "no"};
  };
  return s;
}

SyntheticTask task(const std::string& name, const std::string& instruction, const std::string& skill) {
  static const auto all = skills();
  return {name, instruction, skill, all.at(skill)};
}

}  // namespace

std::vector<SyntheticTask> upstream_tasks() {
  return {
      task("copy_words", "Repeat the words.", "copy"),
      task("reverse_words", "Reverse the order of the words.", "reverse"),
      task("sort_words", "Sort the words alphabetically.", "sort"),
      task("count_words", "Count the words.", "count"),
      task("first_word", "Give the first word.", "first"),
      task("last_word", "Give the last word.", "last"),
      task("initials", "Write the first letter of each word.", "initials"),
      task("largest_number", "Which number is the largest?", "max"),
      task("smallest_number", "Which number is the smallest?", "min"),
      task("add_numbers", "Add the two numbers.", "add"),
      task("word_in_list", "Is the word in the list? Answer yes or no.", "member"),
      task("find_animal", "Which word names an animal?", "animal"),
  };
}

std::vector<SyntheticTask> heldout_tasks() {
  return {
      task("alphabetical_order", "Put these items in dictionary order.", "sort"),
      task("biggest_value", "Name the biggest value here.", "max"),
      task("backwards_list", "Write this list backwards, end to start.", "reverse"),
      task("lowest_value", "Find the lowest value here.", "min"),
      task("alphabetically_first", "Which item would a dictionary list before all others?", "sort+first"),
      task("alphabetically_last", "Name the item that comes last in dictionary order.", "sort+last"),
      task("animal_in_list", "Does this list name any animal? Say yes or no.", "member+animal"),
  };
}

std::vector<std::string> composing_modules(const SyntheticTask& task) {
  if (task.skill.find('+') == std::string::npos) return {};
  std::vector<std::string> out;
  for (size_t start = 0; start <= task.skill.size();) {
    const size_t end = std::min(task.skill.find('+', start), task.skill.size());
    const std::string part = task.skill.substr(start, end - start);
    for (const auto& u : upstream_tasks()) {
      if (u.skill == part) out.push_back(u.name);
    }
    start = end + 1;
  }
  return out;
}

std::string filler_instruction(util::Rng& rng) {
  static const std::vector<std::string> words = [] {
    std::set<std::string> all = {"please", "now", "task", "answer", "do", "here", "for", "me"};
    auto add = [&](const std::string& text) {
      std::string w;
      for (char c : text + " ") {
        if (std::isalpha(static_cast<unsigned char>(c))) {
          w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!w.empty()) {
          all.insert(w);
          w.clear();
        }
      }
    };
    for (const auto& t : upstream_tasks()) add(t.instruction);
    for (const auto& t : heldout_tasks()) add(t.instruction);
    return std::vector<std::string>(all.begin(), all.end());
  }();
  const size_t n = 3 + rng.next() % 5;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + words[rng.next() % words.size()];
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s + (rng.next() % 2 ? "." : "?");
}

std::vector<std::string> lexicon_symbols() {
  std::vector<std::string> out = lexicon();
  for (int v = 0; v < 100; ++v) out.push_back(std::to_string(v));
  return out;
}

std::string prompt(const std::string& instruction, const std::string& input) {
  return instruction + "\n\nQ: " + input + "\nA:";
}

std::string prompt(const SyntheticTask& task, const std::string& input) { return prompt(task.instruction, input); }

}  // namespace lorahub::demo
