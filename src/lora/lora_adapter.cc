#include "lora/lora_adapter.h"

#include "io/json_file.h"
#include "io/tensor_file.h"
#include "model/language_model.h"
#include "model/target_modules.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>
#include <set>
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

// "base_model.model.<module>.lora_A[.default].weight" -> (module, is_a).
bool parse_key(const std::string& key, std::string& module, bool& is_a) {
  if (key.rfind(kPrefix, 0) != 0) return false;
  std::string rest = key.substr(kPrefix.size());
  for (const char* ab : {"A", "B"}) {
    for (const std::string suffix : {std::string(".lora_") + ab + ".weight", std::string(".lora_") + ab + ".default.weight"}) {
      if (ends_with(rest, suffix)) {
        module = rest.substr(0, rest.size() - suffix.size());
        is_a = ab[0] == 'A';
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::string peft_key(const std::string& module, bool is_a) {
  return kPrefix + module + (is_a ? ".lora_A.weight" : ".lora_B.weight");
}

bool targets_module(const LoraAdapter& adapter, const std::string& module) {
  const auto rule = adapter.target_is_regex
                        ? model::TargetModules::from_string(adapter.target_modules.at(0), adapter.path + "/adapter_config.json")
                        : model::TargetModules::list(adapter.target_modules);
  return rule.matches(module);
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
  io::JsonFields f(config, config_path);
  const std::string peft_type = f.get_string("peft_type", "LORA");
  if (peft_type != "LORA") f.fail("peft_type", "expected \"LORA\", found \"" + peft_type + "\"");
  ad.r = f.get_int("r");
  if (ad.r <= 0) f.fail("r", "expected a positive integer, found " + std::to_string(ad.r));
  ad.lora_alpha = f.get_double("lora_alpha", 8.0);
  ad.target_is_regex = f.has("target_modules") && f.at("target_modules").is_string();
  ad.target_modules = f.get_strings("target_modules");
  if (ad.target_is_regex) {
    try {
      std::regex check(ad.target_modules[0]);
    } catch (const std::regex_error& e) {
      f.fail("target_modules", std::string("not a valid regular expression (") + e.what() + ")");
    }
  }
  if (!ad.target_is_regex) {  // a name that matches no projection is a typo (PEFT: "not found in the base model")
    for (const auto& t : ad.target_modules) {
      if (model::TargetModules::list({t}).select(base.projections()).empty()) {
        f.fail("target_modules", "'" + t + "' names no projection of the base model (" + base.target_modules_hint() + ")");
      }
    }
  }
  ad.base_model_name_or_path = f.get_string("base_model_name_or_path", "");
  ad.task_type = f.get_string("task_type", base.peft_task_type());
  if (ad.task_type != base.peft_task_type()) {
    f.fail("task_type", "expected \"" + base.peft_task_type() + "\" for a " + model::family_name(base.family()) +
                            " model, found \"" + ad.task_type + "\"");
  }
  const bool fan_in_fan_out = f.get_bool("fan_in_fan_out", false);
  for (const char* pattern : {"rank_pattern", "alpha_pattern"}) {
    if (f.has(pattern) && !f.at(pattern).empty()) f.fail(pattern, "per-module ranks or alphas are not supported");
  }
  if (f.has("bias") && f.get_string("bias") != "none") f.fail("bias", "expected \"none\" (LoRA biases are not supported)");

  std::string weights_path = dir + "/adapter_model.safetensors";
  if (!io::file_exists(weights_path)) weights_path = dir + "/adapter_model.bin";
  if (!io::file_exists(weights_path)) {
    throw std::runtime_error(dir + ": no adapter_model.safetensors or adapter_model.bin");
  }
  const io::TensorMap tensors = io::read_tensor_file(weights_path);
  auto fail = [&](const std::string& what) { return std::runtime_error(weights_path + ": " + what); };
  if (tensors.empty()) throw fail("holds no tensors");

  std::map<std::string, std::pair<at::Tensor, at::Tensor>> pairs;
  for (const auto& [key, t] : tensors) {
    std::string module;
    bool is_a = false;
    if (!parse_key(key, module, is_a)) {
      throw fail("tensor '" + key + "' is not a LoRA A or B weight (expected base_model.model.<module>.lora_A.weight)");
    }
    if (t.dim() != 2) throw fail("tensor '" + key + "' has " + std::to_string(t.dim()) + " dimensions, expected 2");
    // fan_in_fan_out stores Conv1D layout, the transpose of torch Linear's.
    at::Tensor v = (fan_in_fan_out ? t.t() : t).to(at::kFloat).contiguous();
    (is_a ? pairs[module].first : pairs[module].second) = v;
  }
  std::set<std::string> sites;
  for (const auto& p : base.projections().all()) sites.insert(p.module);
  for (const auto& [module, ab] : pairs) {
    if (!ab.first.defined()) throw fail("module '" + module + "' has lora_B but no lora_A");
    if (!ab.second.defined()) throw fail("module '" + module + "' has lora_A but no lora_B");
    if (!sites.count(module)) {
      throw fail("module '" + module + "' is not a projection of the base model (unknown target)");
    }
    if (!targets_module(ad, module)) {
      throw fail("module '" + module + "' is not named by target_modules in " + config_path);
    }
    const at::Tensor& w = base.weights().tensors().at(module + ".weight");
    const int64_t out = w.size(0), in = w.size(1);
    if (ab.first.sizes() != at::IntArrayRef({ad.r, in})) {
      throw fail("tensor '" + peft_key(module, true) + "' has shape " + shape_str(ab.first.sizes()) +
                 ", expected " + shape_str({ad.r, in}) + " (r = " + std::to_string(ad.r) + ", base in = " +
                 std::to_string(in) + ")");
    }
    if (ab.second.sizes() != at::IntArrayRef({out, ad.r})) {
      throw fail("tensor '" + peft_key(module, false) + "' has shape " + shape_str(ab.second.sizes()) +
                 ", expected " + shape_str({out, ad.r}) + " (base out = " + std::to_string(out) + ", r = " +
                 std::to_string(ad.r) + ")");
    }
    ad.modules.emplace(module, LoraPair{ab.first, ab.second});
  }
  return ad;
}

}  // namespace lorahub::lora
