#pragma once
// A language model with its tokenizer: text in, text out (any family).

#include "model/language_model.h"
#include "model/linear.h"
#include "model/tokenizer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::learn {

struct GenerateOptions {
  int64_t max_new_tokens = 256;  // the reference's lorahub_inference
  int64_t batch_size = 8;
  // Text that ends an output, cut from it (evaluation harnesses' `until`);
  // unset: the model's LanguageModel::default_stop_strings() (none for T5,
  // which stops at </s>; "\n\n" and "Q:" for causal LMs); an empty list:
  // none (EOS and max_new_tokens only). Empty strings are ignored.
  std::optional<std::vector<std::string>> stop_strings;
};

// Greedy outputs for `inputs` (Tokenizer::encode_input), decoded with
// skip_special_tokens and cut before the first stop string. Throws
// model::NonFiniteError when a logit of a row still generating is NaN or
// inf (checked once per batch of options.batch_size inputs), so no
// prediction of a model whose numbers overflowed is ever scored.
std::vector<std::string> generate(const model::LanguageModel& model, const model::Tokenizer& tokenizer,
                                  const std::vector<std::string>& inputs, const GenerateOptions& options,
                                  const model::LowRankSet* lora = nullptr);

// Tokenizer::encode_input / encode_target of every text.
std::vector<model::TokenIds> encode_inputs(const model::Tokenizer& tokenizer, const std::vector<std::string>& texts);
std::vector<model::TokenIds> encode_targets(const model::Tokenizer& tokenizer, const std::vector<std::string>& texts);

}  // namespace lorahub::learn
