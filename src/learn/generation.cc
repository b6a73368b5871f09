#include "learn/generation.h"

#include "model/non_finite.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace lorahub::learn {
namespace {
// The text before the first of `stops` (all of it when none occurs).
std::string cut_at_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t end = text.size();
  for (const auto& s : stops) {
    if (!s.empty()) end = std::min(end, text.find(s));
  }
  return text.substr(0, end);
}
}  // namespace

std::vector<model::TokenIds> encode_inputs(const model::Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  std::vector<model::TokenIds> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(tokenizer.encode_input(t));
  return out;
}

std::vector<model::TokenIds> encode_targets(const model::Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  std::vector<model::TokenIds> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(tokenizer.encode_target(t));
  return out;
}

std::vector<std::string> generate(const model::LanguageModel& model, const model::Tokenizer& tokenizer,
                                  const std::vector<std::string>& inputs, const GenerateOptions& options,
                                  const model::LowRankSet* lora) {
  c10::InferenceMode inference;  // cheaper than NoGradGuard: no version counters or views tracked
  const std::vector<std::string> stops =
      options.stop_strings ? *options.stop_strings : model.default_stop_strings();
  model::GenerationOptions g;
  g.max_new_tokens = options.max_new_tokens;
  if (!stops.empty()) {
    g.stop = [&](const model::TokenIds& ids) {
      const std::string text = tokenizer.decode(ids);
      return cut_at_stop(text, stops).size() < text.size();
    };
  }
  std::vector<std::string> out;
  const size_t step = static_cast<size_t>(std::max<int64_t>(1, options.batch_size));
  for (size_t start = 0; start < inputs.size(); start += step) {
    const size_t end = std::min(inputs.size(), start + step);
    const std::vector<std::string> chunk(inputs.begin() + static_cast<long>(start), inputs.begin() + static_cast<long>(end));
    const model::Generation result = model.generate(encode_inputs(tokenizer, chunk), g, lora);
    if (result.all_finite.defined() && !result.all_finite.item<bool>()) {  // one sync per batch
      // No input index in the message: a trial's reason must not depend on how its inputs were sharded.
      throw model::NonFiniteError(
          "generate: the logits are not finite (NaN or inf): the model's weights or config, "
          "or its adapter or composition, give non-finite numbers (no prediction is made)");
    }
    for (size_t i = 0; i < result.new_tokens.size(); ++i) {
      // HF's text: decode(generate(...)) with the decoder's start token and the ending EOS, which
      // skip_special_tokens drops when they are special tokens.
      model::TokenIds ids;
      if (result.decoder_start) ids.push_back(*result.decoder_start);
      ids.insert(ids.end(), result.new_tokens[i].begin(), result.new_tokens[i].end());
      if (i < result.ended_by.size() && result.ended_by[i] >= 0) ids.push_back(result.ended_by[i]);
      out.push_back(cut_at_stop(tokenizer.decode(ids), stops));
    }
  }
  return out;
}

}  // namespace lorahub::learn
