#pragma once
// Hugging Face `LlamaTokenizer` (the slow, SentencePiece one, transformers
// 4.36) in C++, through the dlopen'ed SentencePiece module.
//
// Encoding (tokenizer(text).input_ids): the text is split around added-token
// strings (<unk>, <s>, </s> and any in added_tokens_decoder), longest match
// first; each plain chunk is encoded by SentencePiece on its own. legacy=True
// (the default): every chunk gets SentencePiece's dummy prefix ("▁").
// legacy=False: "▁" is put before the whole text once (after replacing "▁"
// by " "), the model runs without the dummy prefix (its normalizer spec
// edited, as HF does), a chunk that starts with a space is encoded after
// "<unk>" whose pieces are then dropped, and a lone leading "▁" before a
// special token is dropped (a special token of the split, compared by its
// string as HF does: not a character outside a vocabulary without byte
// fallback, which SentencePiece maps to the unknown id; text/added_tokens.h). Then BOS (add_bos_token) and EOS (add_eos_token).
// Byte fallback is SentencePiece's: characters outside the vocabulary become
// <0xXX> pieces, one per UTF-8 byte.
//
// Decoding (decode(ids, skip_special_tokens)): special ids dropped when
// skipping; the first piece loses its leading "▁"; runs of ordinary pieces
// are decoded by SentencePiece (byte pieces back to bytes, U+FFFD for each
// invalid byte); a special token kept is inserted literally, preceded by a
// space when it follows text (legacy only); clean_up_tokenization only when
// the config asks (Llama's default: no).

#include "model/tokenizer.h"
#include "text/added_tokens.h"
#include "text/spm_module.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::text {

struct LlamaTokenizerOptions {
  bool add_bos_token = true;
  bool add_eos_token = false;
  bool legacy = true;
  bool clean_up_tokenization_spaces = false;
  bool spaces_between_special_tokens = false;
  std::optional<std::string> bos_token = "<s>";    // null in the files: none (add_bos_token must be false)
  std::string eos_token = "</s>", unk_token = "<unk>";
  std::optional<std::string> pad_token;             // Llama has none
  // sep_token, cls_token, mask_token when set (Llama has none): special
  // tokens like the others (split out of the text, one id each).
  std::map<std::string, std::string> other_special_tokens;
  // The file that gave each special-token attribute ("eos_token" ->
  // ".../tokenizer_config.json"), named when its token is not in the vocabulary.
  std::map<std::string, std::string> token_files;
  std::vector<std::string> additional_special_tokens;
  struct AddedToken {
    std::string content;
    int64_t id = 0;
    bool lstrip = false, rstrip = false, special = true;
  };
  std::vector<AddedToken> added_tokens;  // added_tokens_decoder
};

class LlamaTokenizer final : public model::Tokenizer {
 public:
  // Reads `<dir>/tokenizer.model` and, when present, tokenizer_config.json
  // and special_tokens_map.json, as transformers 4.36's from_pretrained:
  // the map is read only when the config has no added_tokens_decoder (files
  // of transformers < 4.34), and then its tokens override the config's and
  // its additional_special_tokens are appended. A null eos_token or
  // unk_token, and a null bos_token while add_bos_token is true, are refused
  // (std::invalid_argument naming the file and field), as is a special token
  // (bos, eos, unk, pad, sep, cls, mask, additional: transformers'
  // all_special_tokens) that is neither a piece nor an added token
  // (transformers would add it as a new id past the model's embeddings). Throws std::runtime_error when tokenizer.model is
  // missing (naming tokenizer.json when only that fast-tokenizer file is
  // there), std::invalid_argument naming the file and field for a config
  // value that would change ids in a way not implemented; prints one warning
  // line per unknown config field.
  static LlamaTokenizer from_dir(const std::string& dir);
  // Trains a vocabulary with Llama's conventions (BPE; <unk> 0, <s> 1, </s> 2,
  // no pad piece; byte fallback; identity normalisation with whitespace
  // kept, so a newline is the byte piece <0x0A>; the dummy prefix on) and
  // writes `<dir>/tokenizer.model`, tokenizer_config.json and
  // special_tokens_map.json as transformers 4.36's
  // LlamaTokenizer.save_pretrained does (legacy true, add_bos_token true,
  // add_eos_token false, no pad token); returns from_dir(dir). Throws
  // std::runtime_error when spm_train fails (e.g. a vocab_size below the
  // 259 pieces of the specials and bytes).
  static LlamaTokenizer train(const model::TokenizerTraining& training, const std::string& dir);

  LlamaTokenizer(const std::string& model_path, LlamaTokenizerOptions options);

  // tokenizer(text).input_ids (add_special_tokens: BOS / EOS as configured).
  std::vector<int64_t> encode(const std::string& text, bool add_special_tokens = true) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const override;
  // model::Tokenizer: an input is tokenizer(text) (BOS first); a target is
  // tokenizer(text, add_special_tokens=False) then EOS (the causal few-shot
  // loss, fixtures/tiny-llama/README.md).
  model::TokenIds encode_input(const std::string& text) const override { return encode(text); }
  model::TokenIds encode_target(const std::string& text) const override;
  std::string id_to_token(int64_t id) const;

  // Pieces of the SentencePiece model plus added tokens beyond it.
  int64_t vocab_size() const override { return vocab_size_; }
  int64_t bos_id() const { return bos_id_; }  // -1 when bos_token is null
  int64_t eos_id() const override { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  // The pad token's id; Llama defines none, and then 0 pads (as the fixtures do).
  int64_t pad_id() const override { return pad_id_.value_or(0); }
  std::optional<int64_t> pad_token_id() const { return pad_id_; }
  const LlamaTokenizerOptions& options() const { return options_; }

 private:
  const AddedToken* added_by_id(int64_t id) const;
  bool is_special_id(int64_t id) const;
  // Id of a special token (added token or piece), registered as an added token.
  int64_t token_id(const std::string& token, const std::string& what);
  // HF tokenize() as ids: split around added tokens, encode the chunks.
  std::vector<int64_t> tokenize(const std::string& text) const;
  std::vector<int64_t> encode_chunk(const std::string& chunk) const;
  // HF convert_tokens_to_string on the tokens of `ids`.
  std::string tokens_to_string(const std::vector<int64_t>& ids) const;

  LlamaTokenizerOptions options_;
  std::shared_ptr<SpmProcessor> spm_;            // as stored (legacy)
  std::shared_ptr<SpmProcessor> spm_no_prefix_;  // legacy=False: no dummy prefix
  int64_t unk_length_ = 0;                       // pieces of the unk token (legacy=False)
  int64_t underline_id_ = -1;                    // the piece "▁", -1 if none
  int64_t vocab_size_ = 0, bos_id_ = 1, eos_id_ = 2, unk_id_ = 0;
  std::optional<int64_t> pad_id_;
  // Longest content first; AddedToken::special marks all_special_tokens.
  std::vector<AddedToken> added_;
  std::vector<int64_t> special_ids_;
  std::vector<int64_t> additional_ids_;  // additional_special_tokens
};

}  // namespace lorahub::text
