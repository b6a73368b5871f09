#include "run/config.h"

#include "io/json_file.h"
#include "io/output_guard.h"
#include "io/text_file.h"
#include "learn/defaults.h"
#include "lora/method.h"
#include "model/dtype_names.h"
#include "optim/optimizer_kind.h"
#include "model/family.h"
#include "tasks/bbh.h"
#include "util/random.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lorahub::run {
namespace {

namespace fs = std::filesystem;

// Errors name the file, the key path and its line.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
    std::string where = path_;
    if (node.IsDefined() && node.Mark().line >= 0) where += ":" + std::to_string(node.Mark().line + 1);
    throw std::invalid_argument(where + ": " + (key.empty() ? "" : "'" + key + "': ") + what);
  }

  // Every mapping of the config passes here: unknown and duplicate keys are
  // refused (yaml-cpp would keep one of two equal keys in silence).
  void check_keys(const YAML::Node& map, const std::string& scope, const std::set<std::string>& allowed) const {
    if (!map.IsMap()) fail(map, scope, "expected a mapping");
    std::map<std::string, int> seen;  // key -> its first line
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) fail(kv.first, scope, "expected a plain key, found a collection");
      const std::string key = kv.first.as<std::string>();
      if (const auto [at, fresh] = seen.emplace(key, kv.first.Mark().line + 1); !fresh) {
        fail(kv.first, join(scope, key), "duplicate key (first given at line " + std::to_string(at->second) + ")");
      }
      if (key == "<<") {
        fail(kv.first, join(scope, key), "YAML merge keys ('<<: *anchor') are not supported; write the keys out "
                                         "(anchors and aliases of whole values work)");
      }
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(kv.first, join(scope, key), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  static std::string join(const std::string& scope, const std::string& key) {
    return scope.empty() ? key : scope + "." + key;
  }

  // A path with a control character ("o.h5\r" quoted by an editor) names a
  // file nobody meant to write or read.
  void refuse_control_characters(const YAML::Node& n, const std::string& key, const std::string& value) const {
    std::string shown;
    bool control = false;
    for (const char ch : value) {
      const auto u = static_cast<unsigned char>(ch);
      if (u >= 0x20 && u != 0x7f) {
        shown += ch;
        continue;
      }
      control = true;
      static const char* const kHex = "0123456789abcdef";
      shown += ch == '\r' ? "\\r" : ch == '\n' ? "\\n" : ch == '\t' ? "\\t" : std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
    }
    if (control) fail(n, key, "expected a file path without control characters, found '" + shown + "'");
  }

  std::string string(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a string");
    return expand(n, key, n.as<std::string>());
  }
  int64_t integer(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) refuse_leading_zero(n, key);
    try {
      if (!n.IsScalar()) throw YAML::Exception(n.Mark(), "");
      return n.as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(n, key, "expected an integer, found " + (n.IsScalar() ? "'" + n.as<std::string>() + "'"
                                                     : n.IsNull() ? std::string("null") : std::string("a collection")));
    }
  }
  // "010" is 8 in YAML 1.1 (octal) and 10 in YAML 1.2; yaml-cpp reads it as
  // C does (8). Refused, naming both readings, rather than one chosen silently.
  void refuse_leading_zero(const YAML::Node& n, const std::string& key) const {
    const std::string& v = n.Scalar();
    const size_t digits = v.find_first_not_of("+-") == std::string::npos ? v.size() : v.find_first_not_of("+-");
    if (digits > 1 || v.size() < digits + 2 || v[digits] != '0' ||
        v.find_first_not_of("0123456789", digits) != std::string::npos) {
      return;
    }
    const std::string sign = digits ? v.substr(0, 1) : "";
    const std::string body = v.substr(digits);
    const bool octal = body.find_first_of("89") == std::string::npos;
    std::string decimal = body.substr(body.find_first_not_of('0') == std::string::npos ? body.size() - 1
                                                                                         : body.find_first_not_of('0'));
    const std::string minus = sign == "-" ? "-" : "";
    std::string readings = "YAML 1.2 reads it as " + minus + decimal + ", YAML 1.1 as ";
    if (octal && body.size() <= 21) {
      readings += minus + std::to_string(std::stoull(body, nullptr, 8)) + " (octal)";
    } else {
      readings += "a string (not an octal number)";
    }
    fail(n, key, "'" + v + "' has a leading zero: " + readings + "; write it without the leading zero");
  }

  // A finite number: YAML's .nan and .inf, and numbers past a double's
  // range (1e400), are refused here, for every key.
  double number(const YAML::Node& n, const std::string& key) const {
    double v = 0;
    try {
      if (!n.IsScalar()) throw YAML::Exception(n.Mark(), "");
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      if (n.IsScalar() && overflows_double(n.Scalar())) {
        fail(n, key, "expected a finite number, found '" + n.Scalar() + "' (out of range)");
      }
      fail(n, key, "expected a number");
    }
    if (!std::isfinite(v)) fail(n, key, "expected a finite number, found '" + n.as<std::string>() + "'");
    return v;
  }
  // Whether `text` is a whole decimal number too large for a double (yaml-cpp
  // then fails as if it were no number at all).
  static bool overflows_double(const std::string& text) {
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    return end != text.c_str() && *end == '\0' && errno == ERANGE && std::isinf(v);
  }
  bool boolean(const YAML::Node& n, const std::string& key) const {
    try {
      if (!n.IsScalar()) throw YAML::Exception(n.Mark(), "");
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(n, key, "expected true or false");
    }
  }
  // Lists of the config are sets (seeds, n_modules, n_shots, tasks, module
  // ids): an item given twice would run the same trials twice.
  std::vector<int64_t> integers(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) return {integer(n, key)};
    if (!n.IsSequence() || n.size() == 0) fail(n, key, "expected an integer or a non-empty list of integers");
    std::vector<int64_t> out;
    for (const auto& item : n) {
      out.push_back(integer(item, key));
      if (std::count(out.begin(), out.end(), out.back()) > 1) fail(item, key, std::to_string(out.back()) + " is listed twice");
    }
    return out;
  }
  std::vector<std::string> strings(const YAML::Node& n, const std::string& key) const {
    if (n.IsScalar()) return {string(n, key)};
    if (!n.IsSequence() || n.size() == 0) fail(n, key, "expected a string or a non-empty list of strings");
    std::vector<std::string> out;
    for (const auto& item : n) {
      out.push_back(string(item, key));
      if (std::count(out.begin(), out.end(), out.back()) > 1) fail(item, key, "'" + out.back() + "' is listed twice");
    }
    return out;
  }
  const std::string& path() const { return path_; }

 private:
  // ${VAR} and ${VAR:-default}; an unset VAR without default is an error.
  std::string expand(const YAML::Node& n, const std::string& key, const std::string& value) const {
    std::string out;
    for (size_t i = 0; i < value.size();) {
      if (value.compare(i, 2, "${") == 0) {
        const size_t end = value.find('}', i);
        if (end == std::string::npos) fail(n, key, "unterminated ${...}");
        std::string name = value.substr(i + 2, end - i - 2), fallback;
        bool has_fallback = false;
        if (const auto d = name.find(":-"); d != std::string::npos) {
          fallback = name.substr(d + 2);
          name = name.substr(0, d);
          has_fallback = true;
        }
        const char* env = std::getenv(name.c_str());
        if (env && *env) {
          out += env;
        } else if (has_fallback) {
          out += fallback;
        } else {
          fail(n, key, "environment variable " + name + " is not set");
        }
        i = end + 1;
      } else {
        out += value[i++];
      }
    }
    return out;
  }

  std::string path_;
};

void require_one_of(const Reader& r, const YAML::Node& n, const std::string& key, const std::string& value,
                    const std::set<std::string>& allowed) {
  if (!allowed.count(value)) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    r.fail(n, key, "unknown value '" + value + "' (expected one of: " + list + ")");
  }
}

// `value`, a name of an enum's table (util/names.h), as its canonical name.
template <class E, size_t N>
std::string one_of_table(const Reader& r, const YAML::Node& n, const std::string& key, const std::string& value,
                         const util::Name<E> (&table)[N]) {
  try {
    return util::canonical_name(table, value, key);
  } catch (const std::invalid_argument&) {
    r.fail(n, key, "unknown value '" + value + "' (expected one of: " + util::names_list(table) + ")");
  }
}

std::string resolve_path(const std::string& base_file, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  // Relative paths are relative to the config file's directory.
  return (fs::path(base_file).parent_path() / p).lexically_normal().string();
}

// The keys each method reads beyond name and label; any other key given to
// it is refused by name (it would be ignored, and the user believes it set
// something). population is CMA-ES's only.
const std::map<std::string, std::set<std::string>>& method_keys() {
  static const std::set<std::string> lorahub = {"composition", "optimizer", "budget", "population", "l1",
                                                "loss", "loss_batch_size", "bound"};
  static const std::set<std::string> lora = {"train_steps", "lr", "rank", "alpha", "train_batch_size", "targets"};
  static const std::set<std::string> full = {"train_steps", "lr", "train_batch_size"};
  static const std::map<std::string, std::set<std::string>> table = {
      {"zero_shot", {}}, {"icl", {}}, {"single", {}}, {"lorahub", lorahub}, {"lora_tuning", lora},
      {"data_mix", lora}, {"full_ft", full}, {"ia3", full}, {"merge", {"merge_method", "density", "majority_sign"}},
      {"cat_learned", {"lr", "epochs", "train_batch_size", "per_target", "train_data"}}};
  return table;
}

// Every key some method reads (check_keys: a key no method reads is unknown).
std::set<std::string> all_method_keys() {
  std::set<std::string> out = {"name", "label"};
  for (const auto& [name, keys] : method_keys()) out.insert(keys.begin(), keys.end());
  return out;
}

void refuse_unused_keys(const Reader& r, const YAML::Node& m, const MethodConfig& mc) {
  if (m.IsScalar()) return;
  const std::set<std::string>& used = method_keys().at(mc.name);
  for (const auto& kv : m) {
    const std::string key = kv.first.as<std::string>();
    if (key == "name" || key == "label") continue;
    if (!used.count(key)) r.fail(kv.first, "sweep.methods." + key, "not used by method " + mc.name);
  }
}

// The keys of the merge and cat_learned methods.
void parse_soups_keys(const Reader& r, const YAML::Node& m, MethodConfig& mc) {
  if (m["merge_method"]) mc.merge_method = r.string(m["merge_method"], "sweep.methods.merge_method");
  try {  // lora/method.h's table, lorahub excluded (it is a learned composition)
    if (lora::parse_method(mc.merge_method, "", true) == lora::Method::kLoraHub) throw std::invalid_argument("");
  } catch (const std::invalid_argument&) {
    r.fail(m["merge_method"] ? m["merge_method"] : m, "sweep.methods.merge_method",
           "unknown value '" + mc.merge_method + "' (expected a PEFT combination type: linear, svd, cat, ties, "
           "ties_svd, dare_linear, dare_ties, dare_linear_svd, dare_ties_svd, magnitude_prune, magnitude_prune_svd)");
  }
  if (m["density"]) mc.density = r.number(m["density"], "sweep.methods.density");
  if (const std::string problem = lora::density_problem(mc.density); !problem.empty()) {
    r.fail(m["density"], "sweep.methods.density", problem);
  }
  if (m["majority_sign"]) mc.majority_sign = r.string(m["majority_sign"], "sweep.methods.majority_sign");
  try {
    lora::parse_majority_sign(mc.majority_sign, "");
  } catch (const std::invalid_argument&) {
    r.fail(m["majority_sign"] ? m["majority_sign"] : m, "sweep.methods.majority_sign",
           "unknown value '" + mc.majority_sign + "' (expected one of: total, frequency)");
  }
  if (m["epochs"]) mc.epochs = r.integer(m["epochs"], "sweep.methods.epochs");
  if (m["per_target"]) mc.per_target = r.boolean(m["per_target"], "sweep.methods.per_target");
  if (m["train_data"]) mc.train_data = r.string(m["train_data"], "sweep.methods.train_data");
  require_one_of(r, m["train_data"] ? m["train_data"] : m, "sweep.methods.train_data", mc.train_data,
                 {"shots", "skill_mix"});
  if (mc.epochs < 1) r.fail(m["epochs"], "sweep.methods.epochs", "expected a positive integer");
}

// One entry of modules.per_task: a task of bbh.tasks and distinct ids of the pool.
void parse_task_modules(const Reader& r, const YAML::Node& key, const YAML::Node& value, Config& c) {
  const std::string task = r.string(key, "modules.per_task");
  const std::string where = "modules.per_task." + task;
  if (std::find(c.tasks.begin(), c.tasks.end(), task) == c.tasks.end()) {
    r.fail(key, where, "'" + task + "' is not one of bbh.tasks");
  }
  std::vector<size_t> indices;
  for (const auto& id : r.strings(value, where)) {
    const auto at = std::find(c.module_ids.begin(), c.module_ids.end(), id);
    if (at == c.module_ids.end()) {
      r.fail(value, where, "module '" + id + "' is not in the pool (modules.ids or modules.list)");
    }
    indices.push_back(static_cast<size_t>(at - c.module_ids.begin()));  // repeats: refused by strings()
  }
  c.per_task[task] = std::move(indices);
}

// Whether a task lacks modules.per_task, so that methods draw sweep.n_modules modules for it.
bool some_task_draws(const Config& c) {
  return std::any_of(c.tasks.begin(), c.tasks.end(), [&](const std::string& t) { return !c.task_modules(t); });
}

// LoraHub, CAT (cat_learned) and the merges that combine A's and B's need
// modules of one rank: a mix of ranks among the modules a method may use (a
// modules.per_task list, or the pool when modules are drawn) is refused here,
// by its key, rather than by a worker mid-run. The rank is adapter_config.json's
// "r"; a file without a valid one is left to the adapter loader's errors.
void check_equal_ranks(const Reader& r, const Config& c, const std::vector<YAML::Node>& method_nodes) {
  std::vector<std::vector<size_t>> sets;
  for (const auto& [task, indices] : c.per_task) sets.push_back(indices);
  const bool draws = some_task_draws(c) && *std::max_element(c.n_modules.begin(), c.n_modules.end()) > 1;
  if (draws) {
    sets.emplace_back(c.module_ids.size());
    for (size_t i = 0; i < c.module_ids.size(); ++i) sets.back()[i] = i;
  }
  std::map<size_t, int64_t> ranks;
  auto rank = [&](size_t i) {
    if (!ranks.count(i)) {
      int64_t value = -1;
      try {
        const auto j = io::read_json_file(c.module_dir(i) + "/adapter_config.json");
        if (j.is_object() && j.contains("r") && j["r"].is_number_integer()) value = j["r"].get<int64_t>();
      } catch (const std::exception&) {  // the loader names what is wrong with the file
      }
      ranks[i] = value;
    }
    return ranks[i];
  };
  for (size_t k = 0; k < c.methods.size(); ++k) {
    const MethodConfig& m = c.methods[k];
    const bool merge = m.name == "merge";
    if (!(m.learns() || m.name == "cat_learned" ||
          (merge && lora::needs_equal_ranks(lora::parse_method(m.merge_method, "sweep.methods.merge_method", true))))) {
      continue;
    }
    for (const auto& set : sets) {
      for (size_t i : set) {
        if (rank(i) < 0 || rank(set.front()) < 0 || rank(i) == rank(set.front())) continue;
        const YAML::Node& n = method_nodes[k];
        const char* field = merge ? "merge_method" : "name";
        r.fail(n.IsMap() && n[field] ? n[field] : n, std::string("sweep.methods.") + field,
               (merge ? m.merge_method : m.name) + " needs modules of equal rank: '" + c.module_ids[i] + "' has r = " +
                   std::to_string(rank(i)) + " but '" + c.module_ids[set.front()] + "' has r = " +
                   std::to_string(rank(set.front())) +
                   (merge ? " (cat and the svd methods accept different ranks)" : ""));
      }
    }
  }
}

}  // namespace

namespace {

// Walks the YAML event stream once to find what YAML::LoadAll would: whether a
// second, non-empty document follows the first. We do not call LoadAll: in
// yaml-cpp 0.7 (Debian 12) it loops forever, allocating, on input such as a
// stray ',' or '}' at the top level, because the parser hands back the same
// unconsumed token as a new empty document each time (jbeder/yaml-cpp#1040,
// fixed upstream by PR #1319). Here a document that starts where the previous
// one started is that case, and is reported as invalid YAML at that place.
class DocumentScan : public YAML::EventHandler {
 public:
  // Returns the line (1-based) of the first content of a second non-empty
  // document, or 0 when the text holds at most one. Throws YAML::Exception.
  static int second_document_line(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentScan scan;
    for (int doc = 0;; ++doc) {
      scan.content_ = YAML::Mark::null_mark();
      if (!parser.HandleNextDocument(scan)) return 0;
      if (doc > 0 && scan.start_.pos == scan.previous_start_.pos) {
        throw YAML::ParserException(scan.start_, "unexpected character that starts no YAML node");
      }
      if (doc > 0 && scan.content_.pos >= 0) return scan.content_.line + 1;
      scan.previous_start_ = scan.start_;
    }
  }

 private:
  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnMapEnd() override {}
  void note(const YAML::Mark& mark) {
    if (content_.pos < 0) content_ = mark;
  }

  YAML::Mark start_ = YAML::Mark::null_mark(), previous_start_ = YAML::Mark::null_mark();
  YAML::Mark content_ = YAML::Mark::null_mark();
};

// The text as one YAML document (errors name the file and line).
YAML::Node load_document(const std::string& text, const std::string& path) {
  try {
    if (const int line = DocumentScan::second_document_line(text)) {
      throw std::invalid_argument(path + ":" + std::to_string(line) +
                                  ": a second YAML document (after '---'); a config is one document");
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML (" + e.msg + ")");
  }
}

// modules: the pool's directory, ids (modules.ids, then modules.list) and skill data.
void parse_modules(const Reader& r, const YAML::Node& modules, Config& c) {
  const std::string& path = r.path();
  r.check_keys(modules, "modules", {"dir", "list", "ids", "skill_data", "per_task"});
  if (modules["skill_data"]) c.skill_data_dir = resolve_path(path, r.string(modules["skill_data"], "modules.skill_data"));
  if (modules["dir"]) c.modules_dir = resolve_path(path, r.string(modules["dir"], "modules.dir"));
  if (modules["ids"]) c.module_ids = r.strings(modules["ids"], "modules.ids");
  if (modules["list"]) {
    c.modules_list = resolve_path(path, r.string(modules["list"], "modules.list"));
    if (!std::ifstream(c.modules_list)) r.fail(modules["list"], "modules.list", "cannot open " + c.modules_list);
    for (auto& id : io::read_list_file(c.modules_list)) c.module_ids.push_back(std::move(id));
  }
  if (c.module_ids.empty()) r.fail(modules, "modules", "no module ids (give modules.ids or modules.list)");
  // ids and list together; "org/./a" and "org//a/" are the directory "org/a"
  const auto directory = [](const std::string& id) {
    std::string d = fs::path(id).lexically_normal().string();
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return d;
  };
  for (size_t i = 0; i < c.module_ids.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.module_ids[j] == c.module_ids[i]) r.fail(modules, "modules", "module id '" + c.module_ids[i] + "' is listed twice");
      if (directory(c.module_ids[j]) == directory(c.module_ids[i])) {
        r.fail(modules, "modules", "module ids '" + c.module_ids[j] + "' and '" + c.module_ids[i] + "' name one directory");
      }
    }
  }
  const YAML::Node per_task = modules["per_task"];
  if (per_task && !per_task.IsMap()) {
    r.fail(per_task, "modules.per_task", "expected a mapping of task names to module ids");
  }
}

// bbh: the tasks, then modules.per_task (which names them), then max_eval.
void parse_bbh(const Reader& r, const YAML::Node& bbh, const YAML::Node& per_task, Config& c) {
  r.check_keys(bbh, "bbh", {"dir", "tasks", "max_eval"});
  if (!bbh["dir"]) r.fail(bbh, "bbh.dir", "missing");
  c.bbh_dir = resolve_path(r.path(), r.string(bbh["dir"], "bbh.dir"));
  const auto task_names = bbh["tasks"] ? r.strings(bbh["tasks"], "bbh.tasks") : std::vector<std::string>{"all"};
  try {
    c.tasks = tasks::resolve_bbh_tasks(c.bbh_dir, task_names);
  } catch (const std::exception& e) {
    r.fail(bbh["tasks"] ? bbh["tasks"] : bbh, "bbh.tasks", e.what());
  }
  if (per_task) {
    for (const auto& kv : per_task) parse_task_modules(r, kv.first, kv.second, c);
  }
  if (bbh["max_eval"]) c.max_eval = r.integer(bbh["max_eval"], "bbh.max_eval");
  if (c.max_eval < 0) r.fail(bbh["max_eval"], "bbh.max_eval", "expected 0 (all) or a positive integer");
}

// A method's name: the entry itself (a scalar) or its name key.
std::string parse_method_name(const Reader& r, const YAML::Node& m) {
  std::string name;
  if (m.IsScalar()) {
    name = r.string(m, "sweep.methods.name");
  } else {
    r.check_keys(m, "sweep.methods", all_method_keys());
    if (!m["name"]) r.fail(m, "sweep.methods.name", "missing");
    name = r.string(m["name"], "sweep.methods.name");
  }
  return name;
}

// The keys of the lorahub method (composition to bound); `where` is the
// method's name node, for defaults that fail.
void parse_lorahub_keys(const Reader& r, const YAML::Node& m, const YAML::Node& where, MethodConfig& mc) {
  if (m["composition"]) mc.composition = r.string(m["composition"], "sweep.methods.composition");
  require_one_of(r, m["composition"] ? m["composition"] : where, "sweep.methods.composition", mc.composition, {"lorahub", "cat"});
  if (m["optimizer"]) mc.optimizer = r.string(m["optimizer"], "sweep.methods.optimizer");
  mc.optimizer = one_of_table(r, m["optimizer"] ? m["optimizer"] : where, "sweep.methods.optimizer", mc.optimizer,
                              optim::kOptimizerNames);
  if (m["budget"]) mc.budget = r.integer(m["budget"], "sweep.methods.budget");
  if (mc.budget < 1) r.fail(m["budget"], "sweep.methods.budget", "expected a positive integer, found " + std::to_string(mc.budget));
  if (m["population"] && mc.optimizer != "cmaes") {  // known once the optimizer is read
    r.fail(m["population"], "sweep.methods.population", "used by optimizer cmaes only (this method: " + mc.optimizer + ")");
  }
  if (m["population"]) mc.population = r.integer(m["population"], "sweep.methods.population");
  if (mc.population != 0 && mc.population < 2) {
    r.fail(m["population"], "sweep.methods.population", "expected 0 (4 + 3 ln N) or at least 2, found " +
                                                            std::to_string(mc.population));
  }
  if (m["l1"]) mc.l1 = r.number(m["l1"], "sweep.methods.l1");
  if (m["loss"]) mc.loss = r.string(m["loss"], "sweep.methods.loss");
  mc.loss = one_of_table(r, m["loss"] ? m["loss"] : where, "sweep.methods.loss", mc.loss, learn::kLossNames);
  if (m["loss_batch_size"]) mc.loss_batch_size = r.integer(m["loss_batch_size"], "sweep.methods.loss_batch_size");
  if (mc.loss_batch_size < 0) {
    r.fail(m["loss_batch_size"], "sweep.methods.loss_batch_size", "expected 0 (all) or a positive integer");
  }
  if (m["bound"]) mc.bound = r.number(m["bound"], "sweep.methods.bound");
  if (!(mc.bound > 0)) r.fail(m["bound"], "sweep.methods.bound", "expected a positive number");
}

// The label and the keys of the gradient-trained methods (train_steps to targets).
void parse_training_keys(const Reader& r, const YAML::Node& m, MethodConfig& mc) {
  if (m["label"]) mc.label = r.string(m["label"], "sweep.methods.label");
  if (m["train_steps"]) mc.train_steps = r.integer(m["train_steps"], "sweep.methods.train_steps");
  if (m["lr"]) mc.lr = r.number(m["lr"], "sweep.methods.lr");
  if (m["rank"]) mc.rank = r.integer(m["rank"], "sweep.methods.rank");
  if (m["alpha"]) mc.alpha = r.number(m["alpha"], "sweep.methods.alpha");
  if (m["train_batch_size"]) mc.train_batch_size = r.integer(m["train_batch_size"], "sweep.methods.train_batch_size");
  if (m["targets"]) mc.targets = r.strings(m["targets"], "sweep.methods.targets");
}

// The label of a method given none: its name, with the variant for lorahub,
// merge and cat_learned on skill_mix.
std::string default_label(const MethodConfig& mc) {
  return mc.learns()             ? "lorahub-" + mc.optimizer + (mc.composition == "cat" ? "-cat" : "")
         : mc.name == "merge" ? "merge-" + mc.merge_method
         : mc.name == "cat_learned" && mc.train_data == "skill_mix" ? "cat_learned-skill_mix"
                              : mc.name;
}

// One entry of sweep.methods; `labels` holds the labels of the entries before it.
MethodConfig parse_method(const Reader& r, const YAML::Node& m, std::set<std::string>& labels) {
  MethodConfig mc;
  mc.name = parse_method_name(r, m);
  const YAML::Node where = m.IsScalar() ? YAML::Node(m) : YAML::Node(m["name"]);
  require_one_of(r, where, "sweep.methods.name", mc.name, {"zero_shot", "icl", "lorahub", "lora_tuning", "full_ft", "ia3",
                                                                  "merge", "cat_learned", "single", "data_mix"});
  refuse_unused_keys(r, m, mc);
  if (!m.IsScalar()) {
    parse_lorahub_keys(r, m, where, mc);
    parse_training_keys(r, m, mc);
    parse_soups_keys(r, m, mc);
    if (mc.train_steps < 1 || mc.rank < 1 || mc.train_batch_size < 1 || mc.lr < 0) {
      r.fail(m, "sweep.methods", "train_steps, rank and train_batch_size must be positive, lr non-negative");
    }
  }
  if (mc.label.empty()) mc.label = default_label(mc);
  if (mc.label.find_first_of("./ ") != std::string::npos) r.fail(where, "sweep.methods.label", "must not contain '.', '/' or spaces");
  if (!labels.insert(mc.label).second) {
    r.fail(where, "sweep.methods.label", "duplicate method label '" + mc.label + "' (give each variant a label)");
  }
  return mc;
}

// sweep: seeds, n_modules, n_shots and the methods. Returns each method's
// node, for errors found after parsing.
std::vector<YAML::Node> parse_sweep(const Reader& r, const YAML::Node& sweep, Config& c) {
  r.check_keys(sweep, "sweep", {"seeds", "n_modules", "n_shots", "methods"});
  if (sweep["seeds"]) c.seeds = r.integers(sweep["seeds"], "sweep.seeds");
  if (sweep["n_modules"]) c.n_modules = r.integers(sweep["n_modules"], "sweep.n_modules");
  if (sweep["n_shots"]) c.n_shots = r.integers(sweep["n_shots"], "sweep.n_shots");
  for (int64_t n : c.n_modules) {  // (unused when every task has modules.per_task)
    if (n < 1 || (some_task_draws(c) && n > static_cast<int64_t>(c.module_ids.size()))) {
      r.fail(sweep["n_modules"], "sweep.n_modules",
             std::to_string(n) + " modules requested but the pool has " + std::to_string(c.module_ids.size()));
    }
  }
  for (int64_t k : c.n_shots) {
    if (k < 1) r.fail(sweep["n_shots"], "sweep.n_shots", "expected positive shot counts");
  }
  const YAML::Node methods = sweep["methods"];
  if (!methods || !methods.IsSequence() || methods.size() == 0) r.fail(sweep, "sweep.methods", "expected a non-empty list");
  std::set<std::string> labels;
  std::vector<YAML::Node> method_nodes;
  for (const auto& m : methods) {
    method_nodes.push_back(m);
    c.methods.push_back(parse_method(r, m, labels));
  }
  return method_nodes;
}

// evaluation: decoding limits, stop strings, batch and shard sizes.
void parse_evaluation(const Reader& r, const YAML::Node& e, Config& c) {
  r.check_keys(e, "evaluation", {"max_new_tokens", "stop_strings", "batch_size", "shard_size"});
  if (e["max_new_tokens"]) c.max_new_tokens = r.integer(e["max_new_tokens"], "evaluation.max_new_tokens");
  if (const YAML::Node s = e["stop_strings"]) {  // taken verbatim: no ${VAR} expansion
    if (!s.IsSequence()) r.fail(s, "evaluation.stop_strings", "expected a list of strings ([] for none)");
    c.stop_strings.emplace();
    for (const auto& item : s) {
      if (!item.IsScalar() || item.as<std::string>().empty()) {
        r.fail(item, "evaluation.stop_strings", "expected non-empty strings");
      }
      c.stop_strings->push_back(item.as<std::string>());
    }
  }
  if (e["batch_size"]) c.eval_batch_size = r.integer(e["batch_size"], "evaluation.batch_size");
  if (e["shard_size"]) c.eval_shard_size = r.integer(e["shard_size"], "evaluation.shard_size");
  for (const auto& [key, value] : {std::pair<const char*, int64_t>{"max_new_tokens", c.max_new_tokens},
                                   {"batch_size", c.eval_batch_size}, {"shard_size", c.eval_shard_size}}) {
    if (value < 1) {
      r.fail(e[key], std::string("evaluation.") + key, "expected a positive integer, found " + std::to_string(value));
    }
  }
}

// runtime: device, dtype, threads, candidates per pass (after the methods:
// full_ft needs float32).
void parse_runtime(const Reader& r, const YAML::Node& rt, Config& c) {
  r.check_keys(rt, "runtime", {"device", "dtype", "threads", "candidates_per_pass"});
  if (rt["device"]) c.device = r.string(rt["device"], "runtime.device");
  require_one_of(r, rt["device"] ? rt["device"] : rt, "runtime.device", c.device, {"auto", "cpu", "cuda"});
  if (rt["dtype"]) c.dtype = r.string(rt["dtype"], "runtime.dtype");
  c.dtype = one_of_table(r, rt["dtype"] ? rt["dtype"] : rt, "runtime.dtype", c.dtype, model::kDTypeNames);
  if (rt["threads"]) c.threads = r.integer(rt["threads"], "runtime.threads");
  if (rt["candidates_per_pass"]) c.candidates_per_pass = r.integer(rt["candidates_per_pass"], "runtime.candidates_per_pass");
  if (c.threads < 0) {
    r.fail(rt["threads"], "runtime.threads",
           "expected an integer >= 0 (0: all cores), found " + std::to_string(c.threads));
  }
  if (c.candidates_per_pass < 1) {
    r.fail(rt["candidates_per_pass"], "runtime.candidates_per_pass",
           "expected a positive integer, found " + std::to_string(c.candidates_per_pass));
  }
  if (c.dtype != "float32") {
    for (const auto& m : c.methods) {
      // learn::train: bfloat16 weights would drop full fine-tuning's updates.
      if (m.name == "full_ft") r.fail(rt["dtype"], "runtime.dtype", "method full_ft needs float32 weights, found " + c.dtype);
    }
  }
}

// output and flush_interval_s (keys of the root mapping).
void parse_output(const Reader& r, YAML::Node& root, Config& c) {
  if (root["output"]) {
    if (r.string(root["output"], "output").empty()) r.fail(root["output"], "output", "expected a file path, found ''");
    c.output = resolve_path(r.path(), r.string(root["output"], "output"));
  } else {
    c.output = resolve_path(r.path(), c.output);
  }
  if (root["flush_interval_s"]) c.flush_interval_s = r.number(root["flush_interval_s"], "flush_interval_s");
  if (c.flush_interval_s < 0) r.fail(root["flush_interval_s"], "flush_interval_s", "expected 0 (every trial) or a positive number of seconds");
}

// Path values with a control character (a stray carriage return inside
// quotes, say) name no file a user meant.
void refuse_control_characters_in_paths(const Reader& r, YAML::Node& root, const Config& c) {
  YAML::Node modules = root["modules"], bbh = root["bbh"];
  const std::pair<YAML::Node, std::string> path_keys[] = {
      {root["model"], c.model}, {modules["dir"], c.modules_dir}, {modules["list"], c.modules_list},
      {modules["skill_data"], c.skill_data_dir}, {bbh["dir"], c.bbh_dir}, {root["output"], c.output}};
  const char* const path_names[] = {"model", "modules.dir", "modules.list", "modules.skill_data", "bbh.dir", "output"};
  for (size_t i = 0; i < std::size(path_keys); ++i) {
    r.refuse_control_characters(path_keys[i].first, path_names[i], path_keys[i].second);
  }
}

// Paths that must exist before any worker starts: the model (whose family is
// read here) and every module's adapter_config.json.
// (error_code overloads: a path the OS refuses, e.g. too long, is a missing path, not a crash; found by fuzz_config)
void check_model_and_modules(const Reader& r, YAML::Node& root, const YAML::Node& modules, Config& c) {
  std::error_code ec;
  if (!fs::exists(c.model + "/config.json", ec)) r.fail(root["model"], "model", c.model + " has no config.json");
  c.model_family = model::family_name(model::model_family(c.model));
  for (size_t i = 0; i < c.module_ids.size(); ++i) {
    if (!fs::exists(c.module_dir(i) + "/adapter_config.json", ec)) {
      r.fail(modules, "modules", "module '" + c.module_ids[i] + "': " + c.module_dir(i) + " has no adapter_config.json");
    }
  }
}

// Each module's skill data, for the methods that train on it.
void check_skill_data(const Reader& r, const YAML::Node& modules, const Config& c) {
  std::error_code ec;
  for (const auto& m : c.methods) {
    if (!m.needs_skill_data()) continue;
    if (c.skill_data_dir.empty()) r.fail(modules, "modules.skill_data", "missing (method " + m.label + " trains on skill data)");
    for (size_t i = 0; i < c.module_ids.size(); ++i) {
      if (!fs::exists(c.skill_data(i), ec)) {
        r.fail(modules["skill_data"], "modules.skill_data", "module '" + c.module_ids[i] + "': no " + c.skill_data(i));
      }
    }
  }
}

Config parse_yaml(const std::string& text, const std::string& path) {
  Reader r(path);
  YAML::Node root = load_document(text, path);
  Config c;
  c.path = path;
  c.text = text;
  r.check_keys(root, "", {"model", "modules", "bbh", "sweep", "evaluation", "runtime", "output", "flush_interval_s"});
  if (!root["model"]) r.fail(root, "model", "missing (a Hugging Face T5 directory)");
  c.model = resolve_path(path, r.string(root["model"], "model"));
  const YAML::Node modules = root["modules"];
  if (!modules) r.fail(root, "modules", "missing (dir and list or ids)");
  parse_modules(r, modules, c);
  const YAML::Node bbh = root["bbh"];
  if (!bbh) r.fail(root, "bbh", "missing (dir and tasks)");
  parse_bbh(r, bbh, modules["per_task"], c);
  const YAML::Node sweep = root["sweep"];
  if (!sweep) r.fail(root, "sweep", "missing (seeds, n_modules, n_shots, methods)");
  const std::vector<YAML::Node> method_nodes = parse_sweep(r, sweep, c);
  if (const YAML::Node e = root["evaluation"]) parse_evaluation(r, e, c);
  if (const YAML::Node rt = root["runtime"]) parse_runtime(r, rt, c);
  parse_output(r, root, c);
  refuse_control_characters_in_paths(r, root, c);
  check_model_and_modules(r, root, modules, c);
  check_equal_ranks(r, c, method_nodes);
  try {
    refuse_output_over_inputs(c, "output");
  } catch (const std::invalid_argument& e) {
    r.fail(root["output"] ? root["output"] : root, "", e.what());
  }
  check_skill_data(r, modules, c);
  return c;
}

}  // namespace

namespace {
std::vector<io::NamedPath> sweep_inputs(const Config& c) {
  std::vector<io::NamedPath> inputs{{"config", c.path},          {"model", c.model}, {"modules.dir", c.modules_dir},
                                    {"modules.list", c.modules_list}, {"bbh.dir", c.bbh_dir},
                                    {"modules.skill_data", c.skill_data_dir}};
  if (c.modules_dir.empty()) {
    for (size_t i = 0; i < c.module_ids.size(); ++i) inputs.push_back({"modules.ids", c.module_dir(i)});
  }
  return inputs;
}
}  // namespace

void refuse_output_over_inputs(const Config& c, const std::string& what) {
  io::refuse_output_over_inputs(what, c.output, sweep_inputs(c));
}

void check_output(const Config& c, const std::string& what) {
  // The results file and the files beside it (results_store.h, output_lock.h).
  io::check_outputs({{what, c.output},
                     {what + "'s journal", c.output + ".journal"},
                     {what + "'s lock", c.output + ".lock"}},
                    sweep_inputs(c));
}

Config parse_config(const std::string& text, const std::string& path) {
  try {
    return parse_yaml(text, path);
  } catch (const YAML::Exception& e) {  // a shape the checks above did not foresee (found by fuzz_config)
    throw std::invalid_argument(path + (e.mark.line >= 0 ? ":" + std::to_string(e.mark.line + 1) : "") +
                                ": not a valid config (" + e.msg + ")");
  }
}

Config load_config(const std::string& path) {
  if (!std::ifstream(path)) throw std::runtime_error(path + ": cannot open config file");
  return parse_config(io::read_text_file(path), path);
}

std::string Config::results_hash() const {
  std::ostringstream s;
  s << model << '|' << modules_dir << '|';
  for (const auto& id : module_ids) s << id << ',';
  s << '|' << bbh_dir << '|';
  for (const auto& t : tasks) s << t << ',';
  s << '|' << max_eval << '|';
  for (auto v : seeds) s << v << ',';
  for (auto v : n_modules) s << v << ',';
  for (auto v : n_shots) s << v << ',';
  for (const auto& m : methods) {
    s << m.name << ':' << m.label << ':' << m.composition << ':' << m.optimizer << ':' << m.budget << ':' << m.population
      << ':' << m.l1 << ':' << m.loss << ':' << m.loss_batch_size << ':' << m.bound << ':' << m.train_steps << ':'
      << m.lr << ':' << m.rank << ':' << m.alpha << ':' << m.train_batch_size;
    if (m.draws_modules() && !m.learns()) {  // the LoRA Soups methods (older configs hash as before)
      s << ':' << m.merge_method << ':' << m.density << ':' << m.majority_sign << ':' << m.epochs << ':' << m.train_data
        << ':' << m.per_target;
    }
    if (m.needs_skill_data()) s << ':' << skill_data_dir;
    for (const auto& t : m.targets) s << ":t=" << t;
    s << ';';
  }
  for (const auto& [task, indices] : per_task) {  // absent from older configs: they hash as before
    s << "|per_task:" << task;
    for (size_t i : indices) s << ',' << module_ids[i];
  }
  s << '|' << max_new_tokens << '|' << eval_batch_size << '|' << eval_shard_size << '|' << dtype << '|'
    << candidates_per_pass << '|' << model_family;
  if (stop_strings) {  // configs without the key hash as before
    s << "|stop:";
    for (const auto& t : *stop_strings) s << t.size() << ':' << t;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(util::stable_hash(s.str())));
  return buf;
}

}  // namespace lorahub::run
