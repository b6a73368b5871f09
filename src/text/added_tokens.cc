#include "text/added_tokens.h"

#include <algorithm>

namespace lorahub::text {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

const std::string kSpmUnderline = "\xE2\x96\x81";

void sort_longest_first(std::vector<AddedToken>& tokens) {
  std::stable_sort(tokens.begin(), tokens.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
}

const AddedToken* match_added(const std::vector<AddedToken>& tokens, const std::string& text, size_t pos) {
  for (const auto& t : tokens) {
    if (!t.content.empty() && text.compare(pos, t.content.size(), t.content) == 0) return &t;
  }
  return nullptr;
}

std::vector<int64_t> tokenize_around_added(const std::string& raw, const std::vector<AddedToken>& added,
                                           bool legacy, int64_t underline_id,
                                           const ChunkEncoder& encode_chunk) {
  const bool prefixed = !legacy && !raw.empty();
  const std::string text = prefixed ? kSpmUnderline + replace_all(raw, kSpmUnderline, " ") : raw;
  // Plain chunks and added tokens alternate, a chunk (maybe empty) first and last.
  struct Part {
    std::string text;
    const AddedToken* token;
  };
  std::vector<Part> parts;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (const AddedToken* t = match_added(added, text, i)) {
      parts.push_back({text.substr(start, i - start), nullptr});
      parts.push_back({t->content, t});
      i += t->content.size();
      start = i;
    } else {
      ++i;
    }
  }
  parts.push_back({text.substr(start), nullptr});
  for (size_t i = 1; i + 1 < parts.size(); i += 2) {
    auto& next = parts[i + 1].text;
    if (parts[i].token->rstrip)
      next.erase(0, std::find_if_not(next.begin(), next.end(), is_space) - next.begin());
    auto& prev = parts[i - 1].text;
    if (parts[i].token->lstrip)
      prev.erase(std::find_if_not(prev.rbegin(), prev.rend(), is_space).base(), prev.end());
  }
  std::vector<int64_t> ids;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].token) {
      ids.push_back(parts[i].token->id);
      continue;
    }
    if (parts[i].text.empty()) continue;
    const std::vector<int64_t> chunk = encode_chunk(parts[i].text);
    // T5Tokenizer/LlamaTokenizer.tokenize: tokens[0] == "▁" and tokens[1] in
    // all_special_tokens: the lone "▁" goes. Only the first chunk can give tokens[0].
    const bool lone_before_special = prefixed && i == 0 && chunk.size() == 1 && chunk[0] == underline_id &&
                                     underline_id >= 0 && parts.size() > 1 && parts[1].token->special;
    if (!lone_before_special) ids.insert(ids.end(), chunk.begin(), chunk.end());
  }
  return ids;
}

std::vector<int64_t> encode_chunk_without_prefix(const SpmProcessor& no_prefix, const std::string& unk_token,
                                                 size_t unk_length, const std::string& chunk) {
  std::vector<int> ids;
  if (!starts_with(chunk, kSpmUnderline) && !starts_with(chunk, " ")) {
    ids = no_prefix.encode(chunk);
  } else {
    // Without the dummy prefix SentencePiece drops a leading space; the
    // unk token in front keeps it, and its pieces are cut off again.
    ids = no_prefix.encode(unk_token + chunk);
    if (ids.size() >= unk_length)
      ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(unk_length));
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

int64_t underline_id(const SpmProcessor& spm) {
  const int id = spm.piece_to_id(kSpmUnderline);
  return spm.id_to_piece(id) == kSpmUnderline ? id : -1;
}

}  // namespace lorahub::text
