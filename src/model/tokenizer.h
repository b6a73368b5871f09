#pragma once
// A family's tokenizer conventions behind one face (HF T5Tokenizer and
// LlamaTokenizer). Implementations: text::T5Tokenizer, text::LlamaTokenizer.
// Immutable once built; every method is const and may run concurrently.

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::model {

using TokenIds = std::vector<int64_t>;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids of a model input: T5 `tokenizer(text)` (ids + </s>); Llama
  // `tokenizer(text)` (<s> + ids).
  virtual TokenIds encode_input(const std::string& text) const = 0;
  // Ids of a target the loss is computed on: T5 ids + </s>; Llama ids
  // without specials, then </s> (fixtures/tiny-llama/README.md).
  virtual TokenIds encode_target(const std::string& text) const = 0;
  // HF `tokenizer.decode(ids, skip_special_tokens=...)`.
  virtual std::string decode(const TokenIds& ids, bool skip_special_tokens = true) const = 0;
  virtual int64_t pad_id() const = 0;  // Llama has none: 0, as the fixtures use
  virtual int64_t eos_id() const = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace lorahub::model

namespace lorahub::model {

// What a SentencePiece vocabulary is trained on, whatever the family's
// conventions (model::train_tokenizer; text::T5Tokenizer::train and
// text::LlamaTokenizer::train add those).
struct TokenizerTraining {
  std::string corpus;                     // a text file, one sentence per line
  int64_t vocab_size = 256;               // pieces, specials included; a soft limit (hard_vocab_limit false)
  std::vector<std::string> user_symbols;  // strings kept as one piece each (user_defined_symbols)
  uint64_t seed = 0;                      // SentencePiece's random_seed
};

// Copies the tokenizer files of a model directory that exist
// (spiece.model, tokenizer.model, tokenizer.json, tokenizer_config.json,
// special_tokens_map.json, generation_config.json) into `to_dir`, so a
// written checkpoint loads on its own. Throws std::filesystem_error.
void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir);

}  // namespace lorahub::model
