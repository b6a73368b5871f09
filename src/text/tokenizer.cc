#include "text/tokenizer.h"

#include "io/json_file.h"
#include "io/tensor_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace lorahub::text {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip(const std::string& s, bool left = true, bool right = true) {
  size_t b = 0, e = s.size();
  if (left) while (b < e && is_space(s[b])) ++b;
  if (right) while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string clean_up_tokenization(std::string text) {
  // Order matters and matches transformers (each a replace-all).
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) replace_all(text, from, to);
  return text;
}

T5Tokenizer T5Tokenizer::from_dir(const std::string& dir) {
  const std::string model = dir + "/spiece.model";
  const std::string config_path = dir + "/tokenizer_config.json";
  int extra_ids = 100;
  nlohmann::json config;
  if (io::file_exists(config_path)) {
    config = io::read_json_file(config_path);
    io::JsonFields fields(config, config_path);
    extra_ids = static_cast<int>(fields.get_int("extra_ids", 100));
    if (extra_ids < 0) fields.fail("extra_ids", "expected a non-negative integer");
  }
  T5Tokenizer tok(model, extra_ids);
  // HF stores the strip behaviour of each added token; honour it where given.
  if (config.is_object() && config.contains("added_tokens_decoder") &&
      config["added_tokens_decoder"].is_object()) {
    for (auto it = config["added_tokens_decoder"].begin(); it != config["added_tokens_decoder"].end(); ++it) {
      const auto& v = it.value();
      if (!v.is_object() || !v.contains("content")) continue;
      for (auto& s : tok.specials_) {
        if (s.text == v["content"]) {
          s.lstrip = v.value("lstrip", s.lstrip);
          s.rstrip = v.value("rstrip", s.rstrip);
        }
      }
    }
  }
  return tok;
}

T5Tokenizer::T5Tokenizer(const std::string& spiece_model, int extra_ids)
    : spm_(std::make_shared<SpmProcessor>(spiece_model)), extra_ids_(extra_ids) {
  piece_size_ = spm_->piece_size();
  auto id_of = [&](const std::string& piece, int64_t expected) {
    const int id = spm_->piece_to_id(piece);
    if (spm_->id_to_piece(id) != piece) {
      throw std::invalid_argument(spiece_model + ": SentencePiece model has no piece '" + piece +
                                  "' (T5 expects it at id " + std::to_string(expected) + ")");
    }
    return static_cast<int64_t>(id);
  };
  pad_id_ = id_of("<pad>", 0);
  eos_id_ = id_of("</s>", 1);
  unk_id_ = id_of("<unk>", 2);
  specials_.push_back({"<pad>", pad_id_, false, false});
  specials_.push_back({"</s>", eos_id_, false, false});
  specials_.push_back({"<unk>", unk_id_, false, false});
  for (int n = 0; n < extra_ids_; ++n) {
    specials_.push_back({"<extra_id_" + std::to_string(n) + ">", sentinel_id(n), true, true});
  }
  // Longest first, so that a match at a position is the longest one (HF's trie).
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
}

const T5Tokenizer::Special* T5Tokenizer::match_special(const std::string& text, size_t pos) const {
  if (text[pos] != '<') return nullptr;  // every special token starts with '<'
  for (const auto& s : specials_) {
    if (text.compare(pos, s.text.size(), s.text) == 0) return &s;
  }
  return nullptr;
}

bool T5Tokenizer::is_special_id(int64_t id) const {
  if (id == pad_id_ || id == eos_id_ || id == unk_id_) return true;
  return id >= piece_size_ && id < piece_size_ + extra_ids_;
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& text, bool add_eos) const {
  // Split into plain chunks and special tokens, as HF's added-token trie does.
  struct Part {
    std::string text;
    const Special* special;
  };
  std::vector<Part> parts;
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    if (const Special* s = match_special(text, i)) {
      parts.push_back({text.substr(start, i - start), nullptr});
      parts.push_back({s->text, s});
      i += s->text.size();
      start = i;
    } else {
      ++i;
    }
  }
  parts.push_back({text.substr(start), nullptr});
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].special) continue;
    if (parts[i].special->rstrip && i + 1 < parts.size()) parts[i + 1].text = strip(parts[i + 1].text, true, false);
    if (parts[i].special->lstrip && i > 0) parts[i - 1].text = strip(parts[i - 1].text, false, true);
  }
  std::vector<int64_t> ids;
  for (const auto& p : parts) {
    if (p.special) {
      ids.push_back(p.special->id);
    } else if (!p.text.empty()) {
      for (int id : spm_->encode(p.text)) ids.push_back(id);
    }
  }
  if (add_eos && (ids.empty() || ids.back() != eos_id_)) ids.push_back(eos_id_);
  return ids;
}

std::string T5Tokenizer::id_to_token(int64_t id) const {
  if (id >= piece_size_ && id < piece_size_ + extra_ids_) {
    return "<extra_id_" + std::to_string(piece_size_ + extra_ids_ - 1 - id) + ">";
  }
  if (id < 0 || id >= piece_size_) {
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size()));
  }
  return spm_->id_to_piece(static_cast<int>(id));
}

std::string T5Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens,
                                bool clean_up_spaces) const {
  // HF T5Tokenizer.convert_tokens_to_string: runs of ordinary pieces are
  // joined by SentencePiece; a special token is preceded by one space unless
  // the previous token was special too.
  std::string out;
  std::vector<int> run;
  bool prev_special = false;
  bool any = false;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                              std::to_string(vocab_size()));
    }
    const bool special = is_special_id(id);
    if (special && skip_special_tokens) continue;
    any = true;
    if (special) {
      if (!prev_special) out += " ";
      out += spm_->decode(run) + id_to_token(id);
      run.clear();
      prev_special = true;
    } else {
      run.push_back(static_cast<int>(id));
      prev_special = false;
    }
  }
  if (!any) return "";
  out += spm_->decode(run);
  out = strip(out);
  return clean_up_spaces ? clean_up_tokenization(out) : out;
}

}  // namespace lorahub::text
