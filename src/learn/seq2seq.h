#pragma once
// A T5 model with its tokenizer: text in, text out, losses of text pairs.

#include "t5/batch.h"
#include "model/linear.h"
#include "t5/t5_model.h"
#include "text/tokenizer.h"

#include <memory>
#include <string>
#include <vector>

namespace lorahub::learn {

struct GenerateOptions {
  int64_t max_new_tokens = 256;  // the reference's lorahub_inference
  int64_t batch_size = 8;
};

// Greedy outputs for `inputs`, decoded with skip_special_tokens.
std::vector<std::string> generate(const t5::T5Model& model, const text::T5Tokenizer& tokenizer,
                                  const std::vector<std::string>& inputs, const GenerateOptions& options,
                                  const model::LowRankSet* lora = nullptr);

std::vector<t5::TokenIds> encode_all(const text::T5Tokenizer& tokenizer, const std::vector<std::string>& texts);

}  // namespace lorahub::learn
