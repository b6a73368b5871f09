// lorahub loss: the few-shot losses of a model (optionally with an adapter or
// a composition of modules) on JSONL examples, as the LoraHub reference and
// HF compute them: one JSON line on stdout.

#include "cli/adapter_options.h"
#include "cli/commands.h"
#include "cli/common_options.h"
#include "learn/generation.h"
#include "learn/objective.h"
#include "model/loader.h"
#include "model/non_finite.h"
#include "tasks/examples.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {
namespace {

std::string number_name(double v) { return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

// JSON has no NaN or inf (nlohmann writes null): a value that is not finite
// is an error naming it and the examples whose loss is not finite.
void refuse_non_finite(const nlohmann::json& out) {
  const auto per = out.at("per_example_loss").get<std::vector<double>>();
  std::vector<size_t> bad;
  for (size_t i = 0; i < per.size(); ++i) {
    if (!std::isfinite(per[i])) bad.push_back(i + 1);
  }
  for (const char* key : {"batch_loss", "lorahub_loss", "per_example_loss", "l1_term", "score"}) {
    if (!out.contains(key)) continue;
    std::string found;
    if (out[key].is_array()) {
      if (!bad.empty()) found = number_name(per[bad[0] - 1]) + " for example " + std::to_string(bad[0]);
    } else if (!std::isfinite(out[key].get<double>())) {
      found = number_name(out[key].get<double>());
    }
    if (found.empty()) continue;
    const std::string examples = bad.empty()
                                     ? ""
                                     : " (" + std::to_string(bad.size()) + " of " +
                                           std::to_string(per.size()) + " examples have a non-finite loss)";
    throw model::NonFiniteError(
        std::string(key) + " is " + found + examples +
        ": the model's weights or config, or its adapter or composition, give non-finite "
        "numbers");
  }
}

// The losses of `batch` from its token cross-entropies `ce` [rows, T] (float32,
// on the CPU): examples, target_tokens, batch_loss, lorahub_loss (batches of
// loss_batch_size, 0: all) and per_example_loss.
nlohmann::json losses(const model::PairBatch& batch, const at::Tensor& ce, int64_t loss_batch_size) {
  const int64_t n = batch.rows(), step = loss_batch_size > 0 ? loss_batch_size : n;
  float sum = 0.0f;  // lorahub's train_loss: a float32 tensor
  for (int64_t start = 0; start < n; start += step) {
    const int64_t len = std::min(step, n - start);
    sum += learn::hf_batch_loss(ce.narrow(0, start, len), batch, start, len);
  }
  nlohmann::json out{{"examples", n},
                     {"target_tokens", (batch.labels != -100).sum().item<int64_t>()},
                     {"batch_loss", learn::hf_batch_loss(ce, batch, 0, n)},
                     {"lorahub_loss", static_cast<double>(sum) / static_cast<double>(n)}};
  const at::Tensor mask = (batch.labels != -100).to(at::kCPU, at::kDouble);
  const at::Tensor per_example = (ce.to(at::kDouble) * mask).sum(1) / mask.sum(1);
  out["per_example_loss"] = std::vector<double>(per_example.data_ptr<double>(), per_example.data_ptr<double>() + n);
  return out;
}

}  // namespace

int loss_command(const Args& args) {
  std::string model_dir, examples_path;
  int64_t loss_batch_size = 0;
  double l1 = learn::defaults::kL1;
  AdapterFlags adapter;
  RuntimeOptions runtime;
  po::options_description desc(
      "lorahub loss --model DIR --examples FILE.jsonl [--adapter DIR | --modules ... --weights=...] [--merged]\n"
      "prints {\"examples\", \"target_tokens\", \"batch_loss\" (HF model(**batch).loss of all examples in one batch),\n"
      "\"lorahub_loss\" (lorahub's default_get_loss), \"per_example_loss\" (each example's mean token cross-entropy),\n"
      "with --weights also \"l1_term\" and \"score\" (get_score)}");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("examples", po::value(&examples_path)->required(), "examples, JSONL with input and target (or output)")
      ("loss-batch-size", po::value(&loss_batch_size)->default_value(0), "examples per batch of lorahub_loss (0: all)")
      ("l1", po::value(&l1)->default_value(learn::defaults::kL1), "weight of the mean |w| term of score")
      ("merged", "fold LoRA updates into the weights (merge_and_unload) instead of applying them at run time");
  add_adapter_options(desc, adapter);
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  if (loss_batch_size < 0) throw UsageError("--loss-batch-size: expected a non-negative integer");
  const auto examples = tasks::read_examples_jsonl(examples_path);
  apply_runtime_options(runtime);

  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);
  const AdaptedModel adapted = adapt_model(*loaded.model, adapter, vm.count("merged") > 0);
  const model::LanguageModel& m = adapted.model(*loaded.model);
  std::vector<std::string> inputs, targets;
  for (const auto& e : examples) {
    inputs.push_back(e.input);
    targets.push_back(e.target);
  }
  at::NoGradGuard no_grad;
  const model::PairBatch batch =
      m.make_pairs(learn::encode_inputs(*loaded.tokenizer, inputs), learn::encode_targets(*loaded.tokenizer, targets));
  const at::Tensor ce = m.token_losses(batch, adapted.lora()).to(at::kCPU, at::kFloat);
  nlohmann::json out = losses(batch, ce, loss_batch_size);
  if (!adapted.weights.empty()) {
    double mean_abs = 0;
    for (double w : adapted.weights) mean_abs += std::abs(w);
    out["l1_term"] = l1 * mean_abs / static_cast<double>(adapted.weights.size());
    out["score"] = out["lorahub_loss"].get<double>() + out["l1_term"].get<double>();
  }
  refuse_non_finite(out);
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace lorahub::cli
