#include "cli/learn_gradient.h"

#include "io/json_file.h"
#include "lora/composition.h"
#include "lora/lora_pool.h"
#include "lora/peft_export.h"
#include "model/loader.h"
#include "tasks/scoring.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <unistd.h>

namespace po = boost::program_options;

namespace lorahub::cli {

namespace {
constexpr const char* kGradientFlags[] = {"lr",           "epochs",      "steps",     "train-batch-size",
                                          "weight-decay", "validation-fraction", "eval-every", "per-target",
                                          "weights-out"};
constexpr const char* kSearchFlags[] = {"budget", "population", "bound", "candidates-per-pass", "exact-batch",
                                        "loss-batch-size"};
}  // namespace

void add_gradient_options(po::options_description& desc, GradientFlags& f) {
  auto& o = f.options;
  desc.add_options()
      ("lr", po::value(&o.lr)->default_value(1e-2), "adamw: learning rate")
      ("epochs", po::value(&o.epochs)->default_value(10), "adamw: passes over the training examples")
      ("steps", po::value(&o.steps)->default_value(0), "adamw: stop after this many steps (0: --epochs decides)")
      ("train-batch-size", po::value(&o.batch_size)->default_value(8), "adamw: examples per step")
      ("weight-decay", po::value(&o.weight_decay)->default_value(0.0), "adamw: decoupled weight decay on the weights")
      ("validation-fraction", po::value(&o.validation_fraction)->default_value(0.0),
       "adamw: examples held out; the weights of the best validation loss are kept")
      ("eval-every", po::value(&o.eval_every)->default_value(0), "adamw: steps between validation losses (0: each epoch)")
      ("per-target", "adamw, --method cat: one weight per module and target projection (LoRA Soups' CAT)")
      ("weights-out", po::value(&f.weights_out), "adamw: write the learned weights as JSON here");
}

void check_gradient_flags_unused(const po::variables_map& vm, const std::string& optimizer) {
  if (optimizer == "adamw") {
    for (const char* flag : kSearchFlags) {
      if (flag_given(vm, flag)) throw UsageError(std::string("--") + flag + ": not used by --optimizer adamw");
    }
    return;
  }
  for (const char* flag : kGradientFlags) {
    if (flag_given(vm, flag)) throw UsageError(std::string("--") + flag + ": used by --optimizer adamw only");
  }
}

namespace {

nlohmann::json weights_json(const LearnRequest& r, const lora::LoraPool& pool, const learn::GradientResult& res,
                            const learn::GradientOptions& o) {
  std::vector<std::string> targets;
  for (const auto& t : pool.targets()) targets.push_back(t.module);
  const at::Tensor w = res.weights.contiguous();
  nlohmann::json weights;
  if (o.per_target) {
    for (int64_t i = 0; i < w.size(0); ++i) {
      const at::Tensor row = w[i].contiguous();
      weights.push_back(std::vector<double>(row.data_ptr<double>(), row.data_ptr<double>() + row.numel()));
    }
  } else {
    weights = std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
  }
  nlohmann::json j{{"optimizer", "adamw"}, {"method", r.method_name}, {"per_target", o.per_target},
                   {"modules", r.dirs}, {"weights", weights}, {"best_step", res.best_step},
                   {"validation_examples", res.validation}, {"history", nlohmann::json::array()}};
  if (o.per_target) j["targets"] = targets;
  if (!std::isnan(res.best_val_loss)) j["best_val_loss"] = res.best_val_loss;
  for (const auto& h : res.history) {
    nlohmann::json e{{"step", h.step}};
    if (!std::isnan(h.train_loss)) e["train_loss"] = h.train_loss;
    if (!std::isnan(h.val_loss)) e["val_loss"] = h.val_loss;
    j["history"].push_back(e);
  }
  return j;
}

void print_weights(const LearnRequest& r, const learn::GradientResult& res, bool per_target) {
  std::printf("%-10s  %s\n", per_target ? "mean w" : "weight", "module");
  for (size_t i = 0; i < r.dirs.size(); ++i) {
    const at::Tensor wi = res.weights[static_cast<int64_t>(i)];
    std::printf("%+10.6f  %s\n", per_target ? wi.mean().item<double>() : wi.item<double>(), r.dirs[i].c_str());
  }
}

}  // namespace

int learn_with_gradient(const LearnRequest& r, GradientFlags& f, RuntimeOptions& runtime, const po::variables_map& vm) {
  auto& o = f.options;
  o.per_target = vm.count("per-target") > 0;
  o.l1_weight = r.l1;
  o.method = lora::parse_method(r.method_name, "--method");
  if (o.per_target && o.method != lora::Method::kCat) throw UsageError("--per-target: needs --method cat");
  apply_runtime_options(runtime);
  const auto loaded = model::load_model(r.model_dir, runtime.dtype, runtime.device);
  const model::LanguageModel& model = *loaded.model;
  const model::Tokenizer& tokenizer = *loaded.tokenizer;
  const lora::LoraPool pool = lora::LoraPool::load(model, r.dirs, r.check_base);
  std::vector<std::string> inputs, targets;
  for (const auto& e : r.examples) {
    inputs.push_back(e.input);
    targets.push_back(e.target);
  }
  const bool show = !r.quiet && ::isatty(2);
  o.on_step = [&](const learn::GradientStep& s) {
    if (show) std::fprintf(stderr, "\rstep %lld  batch loss %.6f", static_cast<long long>(s.step), s.train_loss);
  };
  const auto res = learn::learn_weights_by_gradient(model, pool, learn::encode_inputs(tokenizer, inputs),
                                                    learn::encode_targets(tokenizer, targets), o);
  if (show) std::fprintf(stderr, "\n");
  std::printf("adamw: %zu steps, kept step %lld%s (%s%s)\n", res.history.size() - 1,
              static_cast<long long>(res.best_step),
              std::isnan(res.best_val_loss) ? "" : (", validation loss " + std::to_string(res.best_val_loss)).c_str(),
              r.method_name.c_str(), o.per_target ? ", per target" : "");
  print_weights(r, res, o.per_target);
  const nlohmann::json j = weights_json(r, pool, res, o);
  if (!f.weights_out.empty()) io::write_json_file(f.weights_out, j);
  if (!r.history_path.empty()) io::write_json_file(r.history_path, j);
  at::NoGradGuard no_grad;
  if (!r.export_dir.empty()) {
    lora::write_peft_adapter(r.export_dir, lora::composed_adapter(pool, res.weights, o.method, o.per_target),
                             pool.target_modules(), pool.adapter(0).base_model_name_or_path, model.peft_task_type());
    std::printf("exported PEFT adapter to %s\n", r.export_dir.c_str());
  }
  if (!r.eval_examples.empty()) {
    const auto merged = model.with_weights(lora::merge(model, pool, res.weights, o.method, o.per_target));
    std::vector<std::string> eval_inputs, eval_targets;
    for (const auto& e : r.eval_examples) {
      eval_inputs.push_back(e.input);
      eval_targets.push_back(e.target);
    }
    const auto s = tasks::score(learn::generate(*merged, tokenizer, eval_inputs, r.gen), eval_targets);
    std::printf("accuracy %.4f (%lld/%lld) on %s\n", s.accuracy(), static_cast<long long>(s.correct),
                static_cast<long long>(s.total), r.eval_path.c_str());
  }
  return 0;
}

}  // namespace lorahub::cli
