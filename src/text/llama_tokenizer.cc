#include "text/llama_tokenizer.h"

#include "io/text_file.h"

#include "io/json_file.h"
#include "io/tensor_file.h"
#include "text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lorahub::text {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// A special-token attribute as the files give it: a token, or null (the
// attribute unset); with the file that gave it, for messages.
struct TokenSetting {
  std::optional<std::string> token;
  std::string file;
};
struct SpecialTokens {
  std::map<std::string, TokenSetting> single;  // kSingleTokens
  std::vector<std::string> additional;
  std::string additional_file;
};
// transformers' SPECIAL_TOKENS_ATTRIBUTES but additional_special_tokens:
// each goes into all_special_tokens (split out of the text, one id,
// skipped by decode(skip_special_tokens=True)).
const char* const kSingleTokens[] = {"bos_token", "eos_token", "unk_token", "pad_token",
                                     "sep_token", "cls_token", "mask_token"};

// A token string or an AddedToken object {"content": ...}.
std::string token_text(const io::JsonFields& f, const std::string& key, const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  f.fail(key, std::string("expected a token string or {\"content\": ...}, found ") + v.type_name());
}

// The special-token attributes of one file. `merge_additional`: the map's
// additional_special_tokens are appended to the config's (those not already
// there), as from_pretrained's legacy branch does; otherwise they replace.
void read_special_tokens(const io::JsonFields& f, const nlohmann::json& doc, bool merge_additional,
                         SpecialTokens& out) {
  for (const char* key : kSingleTokens) {
    if (!doc.contains(key)) continue;
    const auto& v = doc.at(key);
    out.single[key] = {v.is_null() ? std::nullopt : std::optional<std::string>(token_text(f, key, v)), f.file()};
  }
  if (f.has("additional_special_tokens")) {
    const auto& list = doc.at("additional_special_tokens");
    if (!list.is_array()) f.fail("additional_special_tokens", "expected a list of tokens");
    if (!merge_additional) out.additional.clear();
    for (const auto& t : list) {
      const std::string text = token_text(f, "additional_special_tokens", t);
      if (std::find(out.additional.begin(), out.additional.end(), text) == out.additional.end()) {
        out.additional.push_back(text);
      }
    }
    out.additional_file = f.file();
  }
}

// The attributes into the options; a null EOS (lorahub ends every target
// with it), a null BOS while add_bos_token adds one, and a null unk_token
// are refused naming the file that set them to null.
void apply_special_tokens(const SpecialTokens& s, LlamaTokenizerOptions& o) {
  static const nlohmann::json none = nlohmann::json::object();
  auto null_in = [&](const std::string& key) {
    auto it = s.single.find(key);
    return it != s.single.end() && !it->second.token ? it->second.file : std::string();
  };
  if (const std::string file = null_in("eos_token"); !file.empty()) {
    io::JsonFields(none, file).fail("eos_token", "expected a token, found null (lorahub ends every target with the "
                                                 "EOS token; transformers cannot build such a batch)");
  }
  if (const std::string file = null_in("bos_token"); !file.empty() && o.add_bos_token) {
    io::JsonFields(none, file).fail("bos_token", "expected a token, found null, while add_bos_token is true "
                                                 "(it starts every text with the BOS token)");
  }
  if (const std::string file = null_in("unk_token"); !file.empty()) {
    io::JsonFields(none, file).fail("unk_token", "expected a token, found null (not supported: it changes how "
                                                 "the text is split around \"<unk>\")");
  }
  for (const auto& [key, setting] : s.single) {
    o.token_files[key] = setting.file;
    if (key == "bos_token") o.bos_token = setting.token;
    if (key == "eos_token") o.eos_token = *setting.token;
    if (key == "unk_token") o.unk_token = *setting.token;
    if (key == "pad_token") o.pad_token = setting.token;
    if ((key == "sep_token" || key == "cls_token" || key == "mask_token") && setting.token) {
      o.other_special_tokens[key] = *setting.token;
    }
  }
  if (!s.additional_file.empty()) {
    o.additional_special_tokens = s.additional;
    o.token_files["additional_special_tokens"] = s.additional_file;
  }
}

void read_added_tokens(const io::JsonFields& f, const nlohmann::json& map, const std::string& path,
                       LlamaTokenizerOptions& o) {
  if (!map.is_object()) f.fail("added_tokens_decoder", "expected an object {id: token}");
  for (auto it = map.begin(); it != map.end(); ++it) {
    io::JsonFields t(it.value(), path, "added_tokens_decoder." + it.key());
    LlamaTokenizerOptions::AddedToken a;
    try {
      a.id = std::stoll(it.key());
    } catch (const std::exception&) {
      f.fail("added_tokens_decoder." + it.key(), "expected an integer id as key");
    }
    a.content = t.get_string("content");
    a.lstrip = t.get_bool("lstrip", false);
    a.rstrip = t.get_bool("rstrip", false);
    a.special = t.get_bool("special", false);
    if (t.get_bool("single_word", false)) t.fail("single_word", "not implemented (expected false)");
    o.added_tokens.push_back(a);
  }
}

// Fields of tokenizer_config.json that do not change ids (or are read above).
const std::set<std::string>& known_fields() {
  static const std::set<std::string> k = {
      "add_bos_token", "add_eos_token", "added_tokens_decoder", "bos_token", "eos_token", "unk_token", "pad_token",
      "additional_special_tokens", "clean_up_tokenization_spaces", "legacy", "spaces_between_special_tokens",
      "tokenizer_class", "sp_model_kwargs", "model_max_length", "use_default_system_prompt", "chat_template",
      "padding_side", "truncation_side", "name_or_path", "auto_map", "model_input_names", "processor_class",
      "tokenizer_file", "special_tokens_map_file", "add_prefix_space", "split_special_tokens", "do_lower_case",
      "mask_token", "sep_token", "cls_token", "verbose", "use_fast"};
  return k;
}

void refuse_unimplemented(const io::JsonFields& f, const nlohmann::json& doc) {
  const std::string cls = f.get_string("tokenizer_class", "LlamaTokenizer");
  if (cls != "LlamaTokenizer" && cls != "LlamaTokenizerFast") {
    f.fail("tokenizer_class", "expected LlamaTokenizer or LlamaTokenizerFast, found \"" + cls + "\"");
  }
  if (f.has("sp_model_kwargs") && !(doc.at("sp_model_kwargs").is_object() && doc.at("sp_model_kwargs").empty())) {
    f.fail("sp_model_kwargs", "not implemented (SentencePiece options such as sampling change ids); expected {}");
  }
  if (f.has("add_prefix_space") && !f.get_bool("add_prefix_space", true)) {
    f.fail("add_prefix_space", "not implemented (transformers 4.36 always adds the prefix space); expected true");
  }
  if (f.get_bool("split_special_tokens", false)) f.fail("split_special_tokens", "not implemented; expected false");
  if (f.get_bool("do_lower_case", false)) f.fail("do_lower_case", "not implemented; expected false");
}

void read_tokenizer_config(const nlohmann::json& doc, const std::string& path, LlamaTokenizerOptions& o,
                           SpecialTokens& special) {
  if (!doc.is_object()) throw std::invalid_argument(path + ": expected a JSON object");
  io::JsonFields f(doc, path);
  refuse_unimplemented(f, doc);
  o.add_bos_token = f.get_bool("add_bos_token", o.add_bos_token);
  o.add_eos_token = f.get_bool("add_eos_token", o.add_eos_token);
  o.legacy = f.get_bool("legacy", true);  // null: transformers warns and keeps the legacy behaviour
  o.clean_up_tokenization_spaces = f.get_bool("clean_up_tokenization_spaces", false);
  o.spaces_between_special_tokens = f.get_bool("spaces_between_special_tokens", false);
  read_special_tokens(f, doc, false, special);
  if (f.has("added_tokens_decoder")) read_added_tokens(f, doc.at("added_tokens_decoder"), path, o);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!known_fields().count(it.key())) {
      io::warn_once("tokenizer_config.json: " + it.key(), "warning: " + path + ": field '" + it.key() +
                                                            "' is not read (LlamaTokenizer as in transformers 4.36 "
                                                            "does not use it)");
    }
  }
}

}  // namespace

LlamaTokenizer LlamaTokenizer::from_dir(const std::string& dir) {
  const std::string model = dir + "/tokenizer.model";
  if (!io::file_exists(model)) {
    if (io::file_exists(dir + "/tokenizer.json")) {
      throw std::runtime_error(dir + "/tokenizer.json: a fast tokenizer (tokenizers library format, e.g. byte-level "
                               "BPE) is not supported; LlamaTokenizer needs the SentencePiece model " + model +
                               ", which is missing");
    }
    throw std::runtime_error(model + ": missing (the SentencePiece model LlamaTokenizer reads)");
  }
  LlamaTokenizerOptions o;
  SpecialTokens special;
  const std::string config = dir + "/tokenizer_config.json";
  nlohmann::json config_doc = nlohmann::json::object();
  if (io::file_exists(config)) {
    config_doc = io::read_json_file(config);
    read_tokenizer_config(config_doc, config, o, special);
  }
  // transformers 4.36 (from_pretrained) reads special_tokens_map.json only
  // when tokenizer_config.json has no added_tokens_decoder (the files of
  // transformers < 4.34); then the map's tokens override the config's.
  // Every tokenizer saved since has one, and its map is not read at all.
  const std::string map = dir + "/special_tokens_map.json";
  if (!config_doc.contains("added_tokens_decoder") && io::file_exists(map)) {
    const nlohmann::json doc = io::read_json_file(map);
    if (!doc.is_object()) throw std::invalid_argument(map + ": expected a JSON object");
    read_special_tokens(io::JsonFields(doc, map), doc, true, special);
  }
  apply_special_tokens(special, o);
  return LlamaTokenizer(model, std::move(o));
}

LlamaTokenizer LlamaTokenizer::train(const model::TokenizerTraining& training, const std::string& dir) {
  spm_train(training, dir + "/tokenizer", {"--model_type=bpe", "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1",
                                           "--byte_fallback=true", "--normalization_rule_name=identity",
                                           "--remove_extra_whitespaces=false"});
  auto token = [](const std::string& content) {
    return nlohmann::json{{"content", content}, {"lstrip", false}, {"normalized", false}, {"rstrip", false},
                          {"single_word", false}};
  };
  nlohmann::json added = nlohmann::json::object();
  const std::pair<const char*, const char*> specials[] = {{"0", "<unk>"}, {"1", "<s>"}, {"2", "</s>"}};
  for (const auto& [id, content] : specials) {
    added[id] = token(content);
    added[id]["special"] = true;
  }
  io::write_json_file(dir + "/tokenizer_config.json",
                      {{"add_bos_token", true}, {"add_eos_token", false}, {"added_tokens_decoder", added},
                       {"bos_token", "<s>"}, {"clean_up_tokenization_spaces", false}, {"eos_token", "</s>"},
                       {"legacy", true}, {"model_max_length", 512}, {"pad_token", nullptr},
                       {"sp_model_kwargs", nlohmann::json::object()}, {"spaces_between_special_tokens", false},
                       {"tokenizer_class", "LlamaTokenizer"}, {"unk_token", "<unk>"},
                       {"use_default_system_prompt", false}});
  io::write_json_file(dir + "/special_tokens_map.json",
                      {{"bos_token", token("<s>")}, {"eos_token", token("</s>")}, {"unk_token", token("<unk>")}});
  return from_dir(dir);
}

LlamaTokenizer::LlamaTokenizer(const std::string& model_path, LlamaTokenizerOptions options)
    : options_(std::move(options)), spm_(std::make_shared<SpmProcessor>(model_path)) {
  vocab_size_ = spm_->piece_size();
  for (const auto& a : options_.added_tokens) {
    if (a.id < 0) throw std::invalid_argument(model_path + ": added token '" + a.content + "' has a negative id");
    added_.push_back({a.content, a.id, a.lstrip, a.rstrip, false});
    vocab_size_ = std::max(vocab_size_, a.id + 1);
  }
  // The special-token attributes (bos, eos, unk, pad, additional): what
  // decode skips; each also splits the text (HF adds them to the trie).
  unk_id_ = token_id(options_.unk_token, "unk_token");
  if (options_.bos_token) {
    bos_id_ = token_id(*options_.bos_token, "bos_token");
  } else if (options_.add_bos_token) {
    throw std::invalid_argument(model_path + ": add_bos_token is true but there is no bos_token");
  } else {
    bos_id_ = -1;
  }
  eos_id_ = token_id(options_.eos_token, "eos_token");
  if (options_.pad_token) pad_id_ = token_id(*options_.pad_token, "pad_token");
  special_ids_ = {unk_id_, eos_id_};
  if (options_.bos_token) special_ids_.push_back(bos_id_);
  if (pad_id_) special_ids_.push_back(*pad_id_);
  for (const auto& [key, token] : options_.other_special_tokens) special_ids_.push_back(token_id(token, key));
  for (const auto& t : options_.additional_special_tokens) {
    additional_ids_.push_back(token_id(t, "additional_special_tokens"));
    special_ids_.push_back(additional_ids_.back());
  }
  // all_special_tokens, compared by string (an added_tokens_decoder entry
  // flagged special but named by no attribute is not among them).
  std::set<std::string> special_strings = {options_.unk_token, options_.eos_token};
  if (options_.bos_token) special_strings.insert(*options_.bos_token);
  if (options_.pad_token) special_strings.insert(*options_.pad_token);
  for (const auto& [key, token] : options_.other_special_tokens) special_strings.insert(token);
  special_strings.insert(options_.additional_special_tokens.begin(), options_.additional_special_tokens.end());
  for (auto& a : added_) a.special = special_strings.count(a.content) > 0;
  sort_longest_first(added_);
  underline_id_ = underline_id(*spm_);
  if (!options_.legacy) {
    spm_no_prefix_ = std::make_shared<SpmProcessor>(without_dummy_prefix(io::read_file_bytes(model_path), model_path),
                                                    model_path);
    unk_length_ = static_cast<int64_t>(spm_no_prefix_->encode(options_.unk_token).size());
  }
}

int64_t LlamaTokenizer::token_id(const std::string& token, const std::string& what) {
  for (const auto& a : added_) {
    if (a.content == token) return a.id;
  }
  const int id = spm_->piece_to_id(token);
  if (spm_->id_to_piece(id) != token) {
    auto file = options_.token_files.find(what);
    throw std::invalid_argument((file == options_.token_files.end() ? "tokenizer: " + what + " '"
                                                                     : file->second + ": field '" + what + "': '") +
                                token + "' is neither a piece of tokenizer.model nor in added_tokens_decoder");
  }
  // HF registers every special token as an added token (it splits the text).
  added_.push_back({token, id, false, false, true});
  return id;
}

const AddedToken* LlamaTokenizer::added_by_id(int64_t id) const {
  for (const auto& a : added_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

bool LlamaTokenizer::is_special_id(int64_t id) const {
  return std::find(special_ids_.begin(), special_ids_.end(), id) != special_ids_.end();
}

std::vector<int64_t> LlamaTokenizer::encode_chunk(const std::string& chunk) const {
  if (!options_.legacy) {
    return encode_chunk_without_prefix(*spm_no_prefix_, options_.unk_token, static_cast<size_t>(unk_length_), chunk);
  }
  const std::vector<int> ids = spm_->encode(chunk);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::vector<int64_t> LlamaTokenizer::tokenize(const std::string& text) const {
  return tokenize_around_added(text, added_, options_.legacy, underline_id_,
                               [this](const std::string& chunk) { return encode_chunk(chunk); });
}

std::vector<int64_t> LlamaTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  std::vector<int64_t> ids;
  if (add_special_tokens && options_.add_bos_token) ids.push_back(bos_id_);
  for (int64_t id : tokenize(text)) ids.push_back(id);
  if (add_special_tokens && options_.add_eos_token) ids.push_back(eos_id_);
  return ids;
}

model::TokenIds LlamaTokenizer::encode_target(const std::string& text) const {
  model::TokenIds ids = encode(text, false);
  ids.push_back(eos_id_);
  return ids;
}

std::string LlamaTokenizer::id_to_token(int64_t id) const {
  if (const AddedToken* a = added_by_id(id)) return a->content;
  if (id < 0 || id >= spm_->piece_size()) {
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(vocab_size_));
  }
  return spm_->id_to_piece(static_cast<int>(id));
}

std::string LlamaTokenizer::tokens_to_string(const std::vector<int64_t>& ids) const {
  const SpmProcessor& sp = options_.legacy ? *spm_ : *spm_no_prefix_;
  std::string out;
  std::vector<std::string> run;
  bool prev_special = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string token = id_to_token(ids[i]);
    // HF removes the prefix space it added, from the first token only.
    if (i == 0 && starts_with(token, kSpmUnderline)) token.erase(0, kSpmUnderline.size());
    if (is_special_id(ids[i])) {
      if (!prev_special && i != 0 && options_.legacy) out += " ";
      out += sp.decode_pieces(run) + token;
      run.clear();
      prev_special = true;
    } else {
      run.push_back(std::move(token));
      prev_special = false;
    }
  }
  return out + sp.decode_pieces(run);
}

std::string LlamaTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  // Added tokens that are not special attributes are written as they are,
  // between the decoded runs (HF's "legacy added tokens").
  std::vector<std::string> texts;
  std::vector<int64_t> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::string s = tokens_to_string(run);
    if (!s.empty()) texts.push_back(std::move(s));
    run.clear();
  };
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size_) {
      throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                              std::to_string(vocab_size_));
    }
    if (skip_special_tokens && is_special_id(id)) continue;
    const AddedToken* a = added_by_id(id);
    const bool additional = std::count(additional_ids_.begin(), additional_ids_.end(), id) > 0;
    if (a && (!is_special_id(id) || (additional && id >= spm_->piece_size()))) {
      flush();
      texts.push_back(a->content);
    } else {
      run.push_back(id);
    }
  }
  flush();
  std::string out;
  for (size_t i = 0; i < texts.size(); ++i) out += (i && options_.spaces_between_special_tokens ? " " : "") + texts[i];
  return options_.clean_up_tokenization_spaces ? clean_up_tokenization(out) : out;
}

}  // namespace lorahub::text
