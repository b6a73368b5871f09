#include "lora/ia3_adapter.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "lora/peft_config.h"
#include "model/language_model.h"
#include "model/target_modules.h"

#include <optional>
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace lorahub::lora {
namespace {

const std::string kPrefix = "base_model.model.";

std::string tail(const std::string& module) { return module.substr(module.rfind('.') + 1); }

}  // namespace

void write_peft_ia3_adapter(const std::string& dir, const model::LanguageModel& model, const model::LowRankSet& ia3,
                            const std::string& base_model_name_or_path) {
  io::TensorMap tensors;
  std::set<std::string> targets, feedforward;
  for (size_t s = 0; s < static_cast<size_t>(model.projections().size()); ++s) {
    const model::SiteScale* scale = ia3.scale_at(static_cast<int>(s));
    if (!scale) continue;
    const std::string& module = model.projections().at(static_cast<int>(s)).module;
    const at::Tensor v = scale->vector.detach().to(at::kCPU, at::kFloat).contiguous();
    tensors[kPrefix + module + ".ia3_l"] = scale->on_input ? v.view({1, -1}) : v.view({-1, 1});
    targets.insert(tail(module));
    if (scale->on_input) feedforward.insert(tail(module));
  }
  if (tensors.empty()) throw std::invalid_argument(dir + ": no IA3 vectors to write");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) throw std::runtime_error(dir + ": cannot create output directory");
  // The keys PEFT's IA3Config.save_pretrained writes.
  const nlohmann::json config = {
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", base_model_name_or_path},
      {"fan_in_fan_out", false},
      {"feedforward_modules", std::vector<std::string>(feedforward.begin(), feedforward.end())},
      {"inference_mode", true},
      {"init_ia3_weights", true},
      {"modules_to_save", nullptr},
      {"peft_type", "IA3"},
      {"revision", nullptr},
      {"target_modules", std::vector<std::string>(targets.begin(), targets.end())},
      {"task_type", model.peft_task_type()},
  };
  io::write_safetensors(dir + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
  io::write_json_file(dir + "/adapter_config.json", config);
}

std::string peft_type(const std::string& dir) {
  const std::string path = dir + "/adapter_config.json";
  if (!io::file_exists(path)) throw std::runtime_error(dir + ": not a PEFT adapter (no adapter_config.json)");
  const auto config = io::read_json_file(path);
  return io::JsonFields(config, path).get_string("peft_type", "LORA");
}

model::LowRankSet load_peft_ia3_adapter(const std::string& dir, const model::LanguageModel& model) {
  const std::string config_path = dir + "/adapter_config.json";
  const auto config = io::read_json_file(config_path);
  const io::JsonFields f(config, config_path);
  // The rules LoRA adapters follow (peft_config.h), plus IA3Config's own keys.
  check_peft_config(f, model, {"IA3", {"feedforward_modules", "init_ia3_weights"}});
  const model::TargetModules targets = read_target_modules(f, model, "target_modules");
  // null (or absent): PEFT 0.7.1 fills the family's default, as it does on loading.
  std::optional<model::TargetModules> ff_default;
  if (!f.has("feedforward_modules")) {
    const auto names = model.default_ia3_feedforward();
    if (!names) {
      f.fail("feedforward_modules", "expected a list of module names, found null (PEFT 0.7.1 has no default "
                                    "feedforward_modules for this model type and asks for them)");
    }
    ff_default = model::TargetModules::list(*names);
  }
  const model::TargetModules feedforward =
      ff_default ? *ff_default : read_target_modules(f, model, "feedforward_modules");
  // PEFT IA3Config: "feedforward_modules should be a subset of target_modules" (lists).
  // (checked by IA3Config before the default is filled in, so not on the default)
  if (!ff_default && targets.kind() == model::TargetModules::Kind::kList &&
      feedforward.kind() == model::TargetModules::Kind::kList) {
    for (const auto& ff : feedforward.names()) {
      if (std::find(targets.names().begin(), targets.names().end(), ff) == targets.names().end()) {
        f.fail("feedforward_modules", "'" + ff + "' is not in target_modules (PEFT: feedforward_modules should be a "
                                      "subset of target_modules)");
      }
    }
  }
  std::string weights_path = dir + "/adapter_model.safetensors";
  if (!io::file_exists(weights_path)) weights_path = dir + "/adapter_model.bin";
  const io::TensorMap tensors = io::read_tensor_file(weights_path);
  model::LowRankSet set;
  set.scales.resize(static_cast<size_t>(model.projections().size()));
  const std::string suffix = ".ia3_l";
  for (const auto& [key, t] : tensors) {
    auto fail = [&](const std::string& what) { return std::runtime_error(weights_path + ": tensor " + io::quoted_name(key) + ": " + what); };
    if (key.rfind(kPrefix, 0) != 0 || key.size() <= kPrefix.size() + suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
      throw fail("not an IA3 vector (expected base_model.model.<module>.ia3_l)");
    }
    const std::string module = key.substr(kPrefix.size(), key.size() - kPrefix.size() - suffix.size());
    const int site = model.projections().find(module);
    if (site < 0) throw fail(io::quoted_name(module) + " is not a projection of the base model");
    if (!targets.matches(module)) throw fail("'" + module + "' is not named by target_modules in " + config_path);
    const at::Tensor& w = model.weights().tensors().at(module + ".weight");
    const bool on_input = feedforward.matches(module);
    const std::vector<int64_t> expected = on_input ? std::vector<int64_t>{1, w.size(1)} : std::vector<int64_t>{w.size(0), 1};
    if (t.sizes() != at::IntArrayRef(expected)) {
      throw fail("shape " + std::string(c10::str(t.sizes())) + ", expected " + c10::str(at::IntArrayRef(expected)) +
                 (on_input ? " (feed-forward: scales the input)" : " (scales the output)"));
    }
    set.scales[static_cast<size_t>(site)] = {t.reshape({-1}).to(w.device(), w.scalar_type()), on_input};
  }
  if (tensors.empty()) throw std::runtime_error(weights_path + ": holds no tensors");
  return set;
}

}  // namespace lorahub::lora
