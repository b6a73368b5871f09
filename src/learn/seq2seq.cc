#include "learn/seq2seq.h"

#include "t5/batch.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace lorahub::learn {

std::vector<t5::TokenIds> encode_all(const text::T5Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  std::vector<t5::TokenIds> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(tokenizer.encode(t));
  return out;
}

std::vector<std::string> generate(const t5::T5Model& model, const text::T5Tokenizer& tokenizer,
                                  const std::vector<std::string>& inputs, const GenerateOptions& options,
                                  const model::LowRankSet* lora) {
  at::NoGradGuard no_grad;
  std::vector<std::string> out;
  const size_t step = static_cast<size_t>(std::max<int64_t>(1, options.batch_size));
  for (size_t start = 0; start < inputs.size(); start += step) {
    const size_t end = std::min(inputs.size(), start + step);
    const std::vector<std::string> chunk(inputs.begin() + static_cast<long>(start), inputs.begin() + static_cast<long>(end));
    const auto batch = t5::make_input_batch(encode_all(tokenizer, chunk), tokenizer.pad_id());
    const auto device = model.weights().device();
    const auto result = model.greedy(batch.input_ids.to(device), batch.attention_mask.to(device),
                                     {options.max_new_tokens, false}, lora);
    for (const auto& ids : t5::rows_to_ids(result.ids, true)) out.push_back(tokenizer.decode(ids));
  }
  return out;
}

}  // namespace lorahub::learn
