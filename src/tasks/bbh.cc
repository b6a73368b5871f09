#include "tasks/bbh.h"

#include "io/json_file.h"
#include "io/text_file.h"
#include "util/random.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace lorahub::tasks {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// "So the answer is X." -> "X"; errors name the file and the exemplar.
std::string final_answer(const std::string& answer, const std::string& path, size_t index) {
  const std::string marker = "So the answer is ";
  const auto pos = answer.rfind(marker);
  if (pos == std::string::npos) {
    throw std::invalid_argument(path + ": exemplar " + std::to_string(index + 1) + " has no \"So the answer is\"");
  }
  std::string x = trim(answer.substr(pos + marker.size()));
  if (!x.empty() && x.back() == '.') x.pop_back();
  return x;
}

void parse_cot_prompt(const std::string& path, BbhTask& task) {
  const std::string text = io::read_text_file(path);
  const auto sep = text.find("\n-----\n");
  if (sep == std::string::npos) throw std::invalid_argument(path + ": no \"-----\" line before the instruction");
  std::string body = text.substr(sep + 7);
  const auto para_end = body.find("\n\n");
  task.instruction = trim(body.substr(0, para_end));
  if (task.instruction.empty()) throw std::invalid_argument(path + ": empty instruction after \"-----\"");
  if (para_end == std::string::npos) return;
  body = body.substr(para_end + 2);
  // Exemplars start with "Q: " at the beginning of a line.
  std::vector<size_t> starts;
  for (size_t p = body.rfind("Q: ", 0) == 0 ? 0 : body.find("\nQ: "); p != std::string::npos;
       p = body.find("\nQ: ", p + 1)) {
    starts.push_back(p == 0 ? 0 : p + 1);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : body.size();
    const std::string block = body.substr(starts[i], end - starts[i]);
    const auto a = block.find("\nA: ");
    if (a == std::string::npos) throw std::invalid_argument(path + ": exemplar " + std::to_string(i + 1) + " has no \"A: \"");
    task.exemplars.push_back({trim(block.substr(3, a - 3)), final_answer(block.substr(a + 4), path, i)});
  }
}

}  // namespace

std::vector<std::string> list_bbh_tasks(const std::string& dir) {
  const fs::path bbh = fs::path(dir) / "bbh";
  std::error_code ec;
  if (!fs::is_directory(bbh, ec)) throw std::runtime_error(dir + ": not a BBH directory (no bbh/ folder)");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(bbh, ec)) {
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) throw std::runtime_error(bbh.string() + ": no task files (*.json)");
  return names;
}

std::vector<std::string> resolve_bbh_tasks(const std::string& dir, const std::vector<std::string>& names) {
  const auto all = list_bbh_tasks(dir);
  if (names.size() == 1 && names[0] == "all") return all;
  for (const auto& n : names) {
    if (!std::binary_search(all.begin(), all.end(), n)) {
      throw std::invalid_argument("unknown BBH task '" + n + "': no " + dir + "/bbh/" + n + ".json");
    }
  }
  return names;
}

namespace {

std::vector<Example> examples_of(const nlohmann::json& doc, const std::string& path) {
  io::JsonFields f(doc, path);
  const auto& examples = f.at("examples");
  if (!examples.is_array()) f.fail("examples", std::string("expected a list, found ") + examples.type_name());
  if (examples.empty()) f.fail("examples", "empty list");
  std::vector<Example> out;
  for (size_t i = 0; i < examples.size(); ++i) {
    io::JsonFields e(examples[i], path, "examples[" + std::to_string(i) + "]");
    out.push_back({e.get_string("input"), e.get_string("target")});
  }
  return out;
}

}  // namespace

std::vector<Example> parse_bbh_examples(const std::string& text, const std::string& source) {
  return examples_of(io::parse_json_text(text, source), source);
}

BbhTask load_bbh_task(const std::string& dir, const std::string& name) {
  BbhTask task;
  task.name = name;
  const std::string path = dir + "/bbh/" + name + ".json";
  task.examples = examples_of(io::read_json_file(path), path);
  parse_cot_prompt(dir + "/cot-prompts/" + name + ".txt", task);
  return task;
}

std::string zero_shot_prompt(const BbhTask& task, const std::string& input) {
  return task.instruction + "\n\nQ: " + input + "\nA:";
}

std::string icl_prompt(const BbhTask& task, const std::string& input) {
  std::string out = task.instruction;
  for (const auto& ex : task.exemplars) out += "\n\nQ: " + ex.input + "\nA: " + ex.target;
  return out + "\n\nQ: " + input + "\nA:";
}

ShotSplit split_shots(const BbhTask& task, int64_t k, uint64_t shot_seed, int64_t max_eval) {
  const int64_t n = static_cast<int64_t>(task.examples.size());
  if (k < 0 || k >= n) {
    throw std::invalid_argument("task '" + task.name + "': " + std::to_string(k) + " shots leave no evaluation examples of " +
                                std::to_string(n));
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  util::Rng rng(util::stable_hash("shots|" + task.name + "|" + std::to_string(shot_seed)));
  util::shuffle(order, rng);
  ShotSplit split;
  split.shots.assign(order.begin(), order.begin() + k);
  const int64_t eval_n = max_eval > 0 ? std::min(max_eval, n - k) : n - k;
  split.eval.assign(order.begin() + k, order.begin() + k + eval_n);
  std::sort(split.eval.begin(), split.eval.end());
  return split;
}

}  // namespace lorahub::tasks
