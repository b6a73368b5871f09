#pragma once
// Hugging Face `T5Tokenizer` (the slow, SentencePiece one, legacy mode) in C++.
//
// Encoding: the text is split around special-token strings (<pad>, </s>,
// <unk>, <extra_id_N>); each plain chunk is encoded by SentencePiece; </s>
// is appended unless already last. Sentinels <extra_id_N> take the ids at the
// top of the vocabulary (piece_size + extra_ids - 1 - N) and, as in HF, strip
// whitespace on both sides. Decoding skips special ids, lets SentencePiece
// join the pieces, trims, and applies HF's clean_up_tokenization.

#include "model/tokenizer.h"
#include "text/spm_module.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::text {

class T5Tokenizer final : public model::Tokenizer {
 public:
  // Reads `<dir>/spiece.model` and, when present, `<dir>/tokenizer_config.json`
  // (extra_ids, added_tokens_decoder). Without a config, extra_ids = 100 as
  // in HF's default.
  static T5Tokenizer from_dir(const std::string& dir);

  T5Tokenizer(const std::string& spiece_model, int extra_ids);

  std::vector<int64_t> encode(const std::string& text, bool add_eos = true) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens, bool clean_up_spaces) const;

  // model::Tokenizer: inputs and targets both `encode(text)` (</s> appended);
  // decode with clean_up_tokenization_spaces, as HF's T5Tokenizer defaults.
  model::TokenIds encode_input(const std::string& text) const override { return encode(text); }
  model::TokenIds encode_target(const std::string& text) const override { return encode(text); }
  std::string decode(const model::TokenIds& ids, bool skip_special_tokens = true) const override {
    return decode(ids, skip_special_tokens, true);
  }
  std::string id_to_token(int64_t id) const;

  int64_t vocab_size() const override { return piece_size_ + extra_ids_; }
  int64_t pad_id() const override { return pad_id_; }
  int64_t eos_id() const override { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  int extra_ids() const { return extra_ids_; }
  int64_t sentinel_id(int n) const { return piece_size_ + extra_ids_ - 1 - n; }

 private:
  struct Special {
    std::string text;
    int64_t id;
    bool lstrip, rstrip;
  };
  bool is_special_id(int64_t id) const;
  const Special* match_special(const std::string& text, size_t pos) const;

  std::shared_ptr<SpmProcessor> spm_;
  int piece_size_ = 0;
  int extra_ids_ = 0;
  int64_t pad_id_ = 0, eos_id_ = 1, unk_id_ = 2;
  std::vector<Special> specials_;
};

// transformers' `clean_up_tokenization`: " ." -> "." and friends.
std::string clean_up_tokenization(std::string text);

}  // namespace lorahub::text
