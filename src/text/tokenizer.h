#pragma once
// Hugging Face `T5Tokenizer` (the slow, SentencePiece one) in C++, as
// transformers 4.36's tokenization_t5.py, legacy and non-legacy.
//
// Encoding: the text is split around special-token strings (<pad>, </s>,
// <unk>, <extra_id_N>); each plain chunk is encoded by SentencePiece; </s>
// is appended unless already last. With `legacy: false` (T5Tokenizer.tokenize
// and _tokenize) the model's add_dummy_prefix is off, the text gets one "▁"
// in front, and a chunk gets a word-start "▁" only when it begins with a
// space or "▁": text right after a special token is not a new word
// ("</s>False" encodes "False" as F-al-se... rather than "▁False"); the
// "▁" in front is dropped only before a special token of the split, never
// before a character outside the vocabulary ("{x}" keeps it: "▁", "{", ...;
// text/added_tokens.h). Sentinels <extra_id_N> take the ids at the
// top of the vocabulary (piece_size + extra_ids - 1 - N) and, as in HF, strip
// whitespace on both sides. Decoding skips special ids, lets SentencePiece
// join the pieces, trims, and applies HF's clean_up_tokenization.

#include "model/tokenizer.h"
#include "text/added_tokens.h"
#include "text/spm_module.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::text {

class T5Tokenizer final : public model::Tokenizer {
 public:
  // Reads `<dir>/spiece.model` and, when present, `<dir>/tokenizer_config.json`.
  // Honoured: extra_ids (default 100), added_tokens_decoder (strip flags),
  // legacy (default true, as transformers 4.36 when unset),
  // clean_up_tokenization_spaces. Checked: eos/unk/pad_token must be T5's,
  // additional_special_tokens only sentinels, sp_model_kwargs empty,
  // add_eos_token true and add_bos_token false if given (T5Tokenizer always
  // appends </s> and has no BOS); anything else that changes ids is refused
  // by name (std::invalid_argument). Keys with no effect on ids are
  // accepted; unknown keys are warned about on stderr.
  static T5Tokenizer from_dir(const std::string& dir);
  // Trains a vocabulary with T5's conventions (unigram; <pad> 0, </s> 1,
  // <unk> 2, no BOS; SentencePiece's default normalisation) and writes
  // `<dir>/spiece.model` and a tokenizer_config.json without sentinels
  // (extra_ids 0, model_max_length 512); returns from_dir(dir). Throws
  // std::runtime_error when spm_train fails.
  static T5Tokenizer train(const model::TokenizerTraining& training, const std::string& dir);

  T5Tokenizer(const std::string& spiece_model, int extra_ids, bool legacy = true);

  std::vector<int64_t> encode(const std::string& text, bool add_eos = true) const;
  // clean_up_spaces unset: the config's clean_up_tokenization_spaces.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                     std::optional<bool> clean_up_spaces) const;

  // model::Tokenizer: inputs and targets both `encode(text)` (</s> appended);
  // decode with the config's clean_up_tokenization_spaces (HF's default: true).
  model::TokenIds encode_input(const std::string& text) const override { return encode(text); }
  model::TokenIds encode_target(const std::string& text) const override { return encode(text); }
  std::string decode(const model::TokenIds& ids, bool skip_special_tokens = true) const override {
    return decode(ids, skip_special_tokens, std::nullopt);
  }
  std::string id_to_token(int64_t id) const;

  int64_t vocab_size() const override { return piece_size_ + extra_ids_; }
  int64_t pad_id() const override { return pad_id_; }
  int64_t eos_id() const override { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  int extra_ids() const { return extra_ids_; }
  bool legacy() const { return legacy_; }
  int64_t sentinel_id(int n) const { return piece_size_ + extra_ids_ - 1 - n; }

 private:
  bool is_special_id(int64_t id) const;
  // One plain chunk: SentencePiece as is (legacy), or transformers'
  // non-legacy _tokenize on the model without the dummy prefix.
  std::vector<int64_t> encode_chunk(const std::string& chunk) const;

  std::shared_ptr<SpmProcessor> spm_;
  std::shared_ptr<SpmProcessor> spm_no_prefix_;  // non-legacy only
  bool legacy_ = true;
  bool clean_up_spaces_ = true;
  size_t unk_token_length_ = 0;  // pieces of "<unk>" as plain text (non-legacy)
  int64_t underline_id_ = -1;    // the piece "▁" (non-legacy)
  int piece_size_ = 0;
  int extra_ids_ = 0;
  int64_t pad_id_ = 0, eos_id_ = 1, unk_id_ = 2;
  std::vector<AddedToken> specials_;  // longest first; all of all_special_tokens
};

// transformers' `clean_up_tokenization`: " ." -> "." and friends.
std::string clean_up_tokenization(std::string text);

}  // namespace lorahub::text
