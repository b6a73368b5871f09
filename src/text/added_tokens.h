#pragma once
// What transformers 4.36's slow SentencePiece tokenizers (T5Tokenizer,
// LlamaTokenizer) do around SentencePiece when they encode a text, written
// once for both: PreTrainedTokenizer.tokenize splits the text around the
// added-token strings (its trie: at each position the longest match), strips
// the neighbouring chunks where a token says lstrip/rstrip, and encodes each
// plain chunk on its own; with legacy=False, T5Tokenizer/LlamaTokenizer.tokenize
// put one "▁" before the whole text (each "▁" inside it read as a space),
// encode chunks without the model's dummy prefix, and drop that "▁" when it
// stands alone before a special token.

#include "text/spm_module.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lorahub::text {

// "▁" (U+2581), SentencePiece's word start.
extern const std::string kSpmUnderline;

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false, rstrip = false;
  // One of the tokenizer's all_special_tokens (the strings of bos, eos, unk,
  // pad and additional_special_tokens): what the legacy=False rule compares
  // the token after the lone "▁" with.
  bool special = false;
};

// Orders `tokens` longest content first, so that the first match at a
// position is the longest (HF's trie).
void sort_longest_first(std::vector<AddedToken>& tokens);
// The first of `tokens` (longest first) whose content starts at `pos` of
// `text`, or null.
const AddedToken* match_added(const std::vector<AddedToken>& tokens, const std::string& text, size_t pos);

// How one plain chunk becomes ids.
using ChunkEncoder = std::function<std::vector<int64_t>(const std::string& chunk)>;

// tokenize() as ids (no BOS/EOS): `text` split around `added` (longest first),
// each chunk through `encode_chunk`. `legacy` false: the text gets "▁" in
// front ("▁" inside read as " "), and that piece is dropped when the first
// chunk encodes to `underline_id` alone and the next part is a special
// token (AddedToken::special). HF compares token strings there (`tokens[1]
// in all_special_tokens`), so a character outside the vocabulary, which
// SentencePiece encodes to the unknown id but whose token is the character
// itself, keeps the "▁" in front ("{x}" -> "▁", "{", "x", "}").
std::vector<int64_t> tokenize_around_added(const std::string& text, const std::vector<AddedToken>& added,
                                           bool legacy, int64_t underline_id,
                                           const ChunkEncoder& encode_chunk);

// legacy=False's _tokenize of one chunk on `no_prefix` (the model without its
// dummy prefix): a chunk that starts with " " or "▁" is encoded after
// `unk_token` (whose `unk_length` pieces are then dropped), so that its
// leading space stays a word start; any other chunk is encoded as it is.
std::vector<int64_t> encode_chunk_without_prefix(const SpmProcessor& no_prefix, const std::string& unk_token,
                                                 size_t unk_length, const std::string& chunk);

// The id of the piece "▁" in `spm`, or -1 when the vocabulary has none.
int64_t underline_id(const SpmProcessor& spm);

}  // namespace lorahub::text
