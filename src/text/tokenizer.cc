#include "text/tokenizer.h"

#include "io/text_file.h"

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

namespace {

// tokenizer_config.json keys of transformers 4.36's T5Tokenizer and
// PreTrainedTokenizerBase that from_dir reads, checks, or may ignore because
// they do not change ids (no truncation or padding happens in encode).
const std::vector<std::string> kKnownKeys = {
    "added_tokens_decoder", "additional_special_tokens", "clean_up_tokenization_spaces", "eos_token", "unk_token",
    "pad_token", "bos_token", "sep_token", "cls_token", "mask_token", "extra_ids", "legacy", "model_max_length",
    "sp_model_kwargs", "add_eos_token", "add_bos_token", "add_prefix_space", "split_special_tokens",
    "tokenizer_class", "name_or_path", "special_tokens_map_file", "tokenizer_file", "vocab_file", "padding_side",
    "truncation_side", "model_input_names", "processor_class", "auto_map"};

// A token given as a string or as an AddedToken object {"content": ...}.
std::string token_text(const io::JsonFields& f, const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  f.fail(key, "expected a token string or an object with \"content\", found " + v.dump());
}

// The fields T5Tokenizer fixes or lacks: refused unless they say what T5 does.
void check_fixed_fields(const io::JsonFields& f, int extra_ids) {
  const std::pair<const char*, const char*> fixed[] = {{"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"pad_token", "<pad>"}};
  for (const auto& [key, expected] : fixed) {
    if (f.has(key) && token_text(f, key, f.at(key)) != expected) {
      f.fail(key, std::string("expected \"") + expected + "\" (T5's ids are fixed), found \"" + token_text(f, key, f.at(key)) + "\"");
    }
  }
  for (const char* key : {"bos_token", "sep_token", "cls_token", "mask_token"}) {
    if (f.has(key)) f.fail(key, "T5 has no such token; expected null, found " + f.at(key).dump());
  }
  if (f.has("additional_special_tokens")) {
    const auto& list = f.at("additional_special_tokens");
    if (!list.is_array()) f.fail("additional_special_tokens", "expected a list, found " + list.dump());
    for (const auto& t : list) {
      const std::string text = token_text(f, "additional_special_tokens", t);
      const bool sentinel = text.rfind("<extra_id_", 0) == 0 && text.back() == '>' &&
                            text.find_first_not_of("0123456789", 10) == text.size() - 1 && text.size() > 11 &&
                            std::stoll(text.substr(10, text.size() - 11)) < extra_ids;
      if (!sentinel) f.fail("additional_special_tokens", "'" + text + "' is not one of the " + std::to_string(extra_ids) + " sentinels; added special tokens are not supported");
    }
  }
  if (f.has("sp_model_kwargs") && !f.at("sp_model_kwargs").empty()) {
    f.fail("sp_model_kwargs", "SentencePiece options (sampling, ...) change ids and are not supported; expected {}");
  }
  if (!f.get_bool("add_eos_token", true)) f.fail("add_eos_token", "T5Tokenizer always appends </s>; expected true");
  if (f.get_bool("add_bos_token", false)) f.fail("add_bos_token", "T5 has no BOS token; expected false");
  if (!f.get_bool("add_prefix_space", true)) f.fail("add_prefix_space", "not supported; expected true");
  if (f.get_bool("split_special_tokens", false)) f.fail("split_special_tokens", "not supported; expected false");
  if (f.has("tokenizer_class")) {  // another class would split text its own way
    const std::string cls = f.get_string("tokenizer_class");
    if (cls != "T5Tokenizer" && cls != "T5TokenizerFast") {
      f.fail("tokenizer_class", "expected \"T5Tokenizer\" or \"T5TokenizerFast\" for a T5 model, found \"" + cls + "\"");
    }
  }
}

// special_tokens_map.json: transformers 4.36's from_pretrained reads it only
// when tokenizer_config.json (if any) has no added_tokens_decoder (files of
// transformers < 4.34), and then lets its tokens override the config's; so
// then, and only then, it is held to the same rules. Returns whether it was read.
bool check_special_tokens_map(const std::string& dir, int extra_ids, const nlohmann::json* config) {
  const std::string path = dir + "/special_tokens_map.json";
  if (!io::file_exists(path) || (config && config->contains("added_tokens_decoder"))) return false;
  const nlohmann::json map = io::read_json_file(path);
  const io::JsonFields f(map, path);
  f.warn_unknown({"eos_token", "unk_token", "pad_token", "bos_token", "sep_token", "cls_token", "mask_token",
                  "additional_special_tokens"});
  check_fixed_fields(f, extra_ids);
  return true;
}

// T5's eos, unk and pad tokens are fixed: null in the file that gives them
// (the map when it is read and holds the key, else the config) is refused.
void refuse_null_tokens(const std::string& dir, const nlohmann::json* config, bool map_read) {
  const std::string map_path = dir + "/special_tokens_map.json";
  const nlohmann::json map = map_read ? io::read_json_file(map_path) : nlohmann::json::object();
  for (const auto& [key, expected] : {std::pair<const char*, const char*>{"eos_token", "</s>"},
                                      {"unk_token", "<unk>"}, {"pad_token", "<pad>"}}) {
    const bool in_map = map.is_object() && map.contains(key);
    const nlohmann::json* doc = in_map ? &map : config;
    if (doc && doc->is_object() && doc->contains(key) && doc->at(key).is_null()) {
      io::JsonFields(*doc, in_map ? map_path : dir + "/tokenizer_config.json")
          .fail(key, std::string("expected \"") + expected + "\" (T5's ids are fixed), found null");
    }
  }
}

}  // namespace

T5Tokenizer T5Tokenizer::from_dir(const std::string& dir) {
  const std::string model = dir + "/spiece.model";
  const std::string config_path = dir + "/tokenizer_config.json";
  if (!io::file_exists(config_path)) {
    refuse_null_tokens(dir, nullptr, check_special_tokens_map(dir, 100, nullptr));
    return T5Tokenizer(model, 100);
  }
  const nlohmann::json config = io::read_json_file(config_path);
  const io::JsonFields f(config, config_path);
  f.warn_unknown(kKnownKeys);
  const int extra_ids = static_cast<int>(f.get_int("extra_ids", 100));
  if (extra_ids < 0) f.fail("extra_ids", "expected a non-negative integer");
  check_fixed_fields(f, extra_ids);
  refuse_null_tokens(dir, &config, check_special_tokens_map(dir, extra_ids, &config));
  T5Tokenizer tok(model, extra_ids, f.get_bool("legacy", true));
  tok.clean_up_spaces_ = f.get_bool("clean_up_tokenization_spaces", true);
  // HF stores the strip behaviour of each added token; honour it where given.
  if (f.has("added_tokens_decoder")) {
    const auto& added = f.at("added_tokens_decoder");
    if (!added.is_object()) f.fail("added_tokens_decoder", std::string("expected an object, found ") + added.type_name());
    for (auto it = added.begin(); it != added.end(); ++it) {
      const std::string text = token_text(f, "added_tokens_decoder", it.value());
      auto s = std::find_if(tok.specials_.begin(), tok.specials_.end(), [&](const AddedToken& x) { return x.content == text; });
      if (s == tok.specials_.end() || std::to_string(s->id) != it.key()) {
        f.fail("added_tokens_decoder", "token '" + text + "' at id " + it.key() +
               " is not a T5 special token at its id; added tokens are not supported");
      }
      s->lstrip = it.value().value("lstrip", s->lstrip);
      s->rstrip = it.value().value("rstrip", s->rstrip);
    }
  }
  return tok;
}

T5Tokenizer T5Tokenizer::train(const model::TokenizerTraining& training, const std::string& dir) {
  spm_train(training, dir + "/spiece", {"--model_type=unigram", "--pad_id=0", "--eos_id=1", "--unk_id=2", "--bos_id=-1"});
  io::write_json_file(dir + "/tokenizer_config.json", {{"extra_ids", 0}, {"model_max_length", 512}});
  return from_dir(dir);
}

T5Tokenizer::T5Tokenizer(const std::string& spiece_model, int extra_ids, bool legacy)
    : spm_(std::make_shared<SpmProcessor>(spiece_model)), legacy_(legacy), extra_ids_(extra_ids) {
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
  if (!legacy_) {
    spm_no_prefix_ = std::make_shared<SpmProcessor>(without_dummy_prefix(io::read_file_bytes(spiece_model), spiece_model), spiece_model);
    unk_token_length_ = spm_no_prefix_->encode("<unk>").size();
    underline_id_ = underline_id(*spm_);
  }
  specials_.push_back({"<pad>", pad_id_, false, false, true});
  specials_.push_back({"</s>", eos_id_, false, false, true});
  specials_.push_back({"<unk>", unk_id_, false, false, true});
  for (int n = 0; n < extra_ids_; ++n) {
    specials_.push_back({"<extra_id_" + std::to_string(n) + ">", sentinel_id(n), true, true, true});
  }
  sort_longest_first(specials_);
}

bool T5Tokenizer::is_special_id(int64_t id) const {
  if (id == pad_id_ || id == eos_id_ || id == unk_id_) return true;
  return id >= piece_size_ && id < piece_size_ + extra_ids_;
}

std::vector<int64_t> T5Tokenizer::encode_chunk(const std::string& chunk) const {
  if (!legacy_) return encode_chunk_without_prefix(*spm_no_prefix_, "<unk>", unk_token_length_, chunk);
  const std::vector<int> ids = spm_->encode(chunk);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& text, bool add_eos) const {
  std::vector<int64_t> ids = tokenize_around_added(text, specials_, legacy_, underline_id_,
                                                   [this](const std::string& chunk) { return encode_chunk(chunk); });
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
                                std::optional<bool> clean_up_spaces) const {
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
  return clean_up_spaces.value_or(clean_up_spaces_) ? clean_up_tokenization(out) : out;
}

}  // namespace lorahub::text
