// HF LlamaTokenizer (slow, transformers 4.36) parity on tiny-llama/golden.json.

#include "text/llama_tokenizer.h"

#include "io/json_file.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace lorahub::text {
namespace {

std::string llama_base() { return testing::shared_dir() + "/fixtures/tiny-llama/base"; }

const nlohmann::json& golden() {
  static const nlohmann::json doc = io::read_json_file(testing::shared_dir() + "/fixtures/tiny-llama/golden.json");
  return doc;
}

const LlamaTokenizer& tiny() {
  static const LlamaTokenizer tok = LlamaTokenizer::from_dir(llama_base());
  return tok;
}

std::vector<std::string> pieces(const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(tiny().id_to_token(id));
  return out;
}

TEST(LlamaTokenizer, SpecialIdsAndSizesMatchGolden) {
  const auto& g = golden()["tokenizer"];
  EXPECT_EQ(tiny().vocab_size(), g["vocab_size"].get<int64_t>());
  EXPECT_EQ(tiny().unk_id(), g["unk_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().bos_id(), g["bos_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().eos_id(), g["eos_token_id"].get<int64_t>());
  EXPECT_FALSE(tiny().pad_token_id().has_value());
  EXPECT_EQ(tiny().pad_id(), 0);
  EXPECT_TRUE(tiny().options().legacy);
  // Despite its name, this entry holds the 61 pieces from the first merged
  // piece on (ids 259..319, right after the byte pieces): "▁t", "he", ...
  // (259 is "▁t" in extra_strings' "tab..." too).
  const auto& window = g["pieces_first_300_to_320"];
  const int64_t first = g["byte_pieces"]["last_id"].get<int64_t>() + 1;
  for (size_t i = 0; i < window.size(); ++i) EXPECT_EQ(tiny().id_to_token(first + static_cast<int64_t>(i)), window[i]);
  EXPECT_EQ(tiny().id_to_token(g["byte_pieces"]["first_id"].get<int64_t>()), "<0x00>");
  EXPECT_EQ(tiny().id_to_token(g["byte_pieces"]["last_id"].get<int64_t>()), "<0xFF>");
}

TEST(LlamaTokenizer, ExtraStringsEncodeAndDecodeLikeHf) {
  for (const auto& s : golden()["tokenizer"]["extra_strings"]) {
    const std::string text = s["text"];
    const auto ids = tiny().encode(text);
    EXPECT_EQ(ids, testing::ids(s["ids"])) << text;
    EXPECT_EQ(pieces(ids), s["pieces"].get<std::vector<std::string>>()) << text;
    auto no_bos = testing::ids(s["sp_encode"]);
    if (text.find('<') == std::string::npos) EXPECT_EQ(tiny().encode(text, false), no_bos) << text;
    EXPECT_EQ(tiny().decode(ids), s["decoded"].get<std::string>()) << text;
    EXPECT_EQ(tiny().decode(ids, false), s["decoded_with_special"].get<std::string>()) << text;
  }
}

TEST(LlamaTokenizer, ExamplesEncodeToPromptAndTargetIds) {
  for (const auto& ex : golden()["examples"]) {
    const auto prompt = tiny().encode(ex["input"]);
    EXPECT_EQ(prompt, testing::ids(ex["prompt_ids"]));
    EXPECT_EQ(pieces(prompt), ex["prompt_pieces"].get<std::vector<std::string>>());
    const auto target = tiny().encode_target(ex["target"]);
    EXPECT_EQ(target, testing::ids(ex["target_ids"]));
    EXPECT_EQ(tiny().encode_input(ex["input"]), prompt);
    EXPECT_EQ(pieces(target), ex["target_pieces"].get<std::vector<std::string>>());
  }
}

TEST(LlamaTokenizer, GreedyOutputsDecodeToGoldenText) {
  // Random-model output: many byte pieces that are not valid UTF-8 (U+FFFD each).
  for (const char* section : {"base", "lorahub_composition", "cat_per_module"}) {
    for (const auto& row : golden()[section]["greedy"]["single"]) {
      EXPECT_EQ(tiny().decode(testing::ids(row["new_ids"])), row["text"].get<std::string>()) << section;
    }
    const auto& batched = golden()[section]["greedy"]["batched"];
    for (size_t i = 0; i < batched["new_ids"].size(); ++i) {
      EXPECT_EQ(tiny().decode(testing::ids(batched["new_ids"][i])), batched["text"][i].get<std::string>()) << section;
    }
  }
  for (const auto& row : golden()["adapters"][0]["greedy"]["single"]) {
    EXPECT_EQ(tiny().decode(testing::ids(row["new_ids"])), row["text"].get<std::string>());
  }
}

TEST(LlamaTokenizer, AddEosTokenAppendsEos) {
  LlamaTokenizerOptions o;
  o.add_eos_token = true;
  const LlamaTokenizer tok(llama_base() + "/tokenizer.model", o);
  auto expected = tiny().encode("True");
  expected.push_back(2);
  EXPECT_EQ(tok.encode("True"), expected);
  EXPECT_EQ(tok.encode(""), (std::vector<int64_t>{1, 2}));
}

TEST(LlamaTokenizer, NonLegacyPrefixesOnceAndKeepsSpacesAfterSpecialTokens) {
  // legacy=False: the dummy prefix only at the start of the text; a chunk
  // after a special token is encoded without one ("<s> there" -> "▁there",
  // the legacy encoding of "there", where legacy gives "▁▁there").
  LlamaTokenizerOptions o;
  o.legacy = false;
  const LlamaTokenizer tok(llama_base() + "/tokenizer.model", o);
  auto expected = tiny().encode("Hey ");
  expected.push_back(1);
  for (int64_t id : tiny().encode("there", false)) expected.push_back(id);
  EXPECT_EQ(tok.encode("Hey <s> there"), expected);
  std::vector<int64_t> legacy = tiny().encode("Hey ");
  legacy.push_back(1);
  for (int64_t id : tiny().encode(" there", false)) legacy.push_back(id);
  EXPECT_EQ(tiny().encode("Hey <s> there"), legacy);
  EXPECT_NE(expected, legacy);
  // Without special tokens both agree.
  for (const auto& s : golden()["tokenizer"]["extra_strings"]) {
    const std::string text = s["text"];
    if (text.find('<') == std::string::npos) EXPECT_EQ(tok.encode(text), tiny().encode(text)) << text;
  }
  // A leading special token: the lone "▁" before it is dropped.
  EXPECT_EQ(tok.encode("</s>True", false)[0], 2);
}

TEST(LlamaTokenizer, NonLegacyKeepsTheWordStartBeforeACharacterOutsideTheVocabulary) {
  // A vocabulary without byte fallback (tiny-t5's spiece.model; "<s>" is no
  // piece of it, so BOS is "<pad>"): a character it lacks encodes to the
  // unknown id, but HF compares token strings with all_special_tokens, so
  // the "▁" in front stays. Ids from transformers 4.36.2,
  // LlamaTokenizer(vocab_file=spiece.model, bos_token="<pad>",
  // eos_token="</s>", unk_token="<unk>", legacy=False)(text).input_ids,
  // produced once and stored here.
  LlamaTokenizerOptions o;
  o.legacy = false;
  o.bos_token = "<pad>";
  const LlamaTokenizer tok(testing::tiny_dir() + "/base/spiece.model", o);
  const std::pair<std::string, std::vector<int64_t>> cases[] = {
      {"{x} y", {0, 3, 2, 389, 2, 3, 97}},
      {"<s>begin", {0, 3, 2, 14, 2, 96, 20, 397, 103}},
      {"~ z", {0, 3, 2, 3, 2}},
      {"\xe4\xb8\xad text", {0, 3, 2, 3, 29, 20, 389, 29}},  // "中 text"
      {"{x}</s>", {0, 3, 2, 389, 2, 1}},
      {"</s>x", {0, 1, 389}},
      {"<unk>x", {0, 2, 389}},
      {" </s> y", {0, 1, 3, 97}},
  };
  for (const auto& [text, ids] : cases) EXPECT_EQ(tok.encode(text), ids) << text;
  // The fixture's vocabulary (byte fallback): "{" is bytes, a leading space
  // before a special token gives two "▁" (identity normalisation), both kept.
  // transformers 4.36.2, LlamaTokenizer.from_pretrained(tiny-llama/base, legacy=False).
  LlamaTokenizerOptions f;
  f.legacy = false;
  const LlamaTokenizer fallback(llama_base() + "/tokenizer.model", f);
  EXPECT_EQ(fallback.encode("{x} y"), (std::vector<int64_t>{1, 527, 126, 576, 128, 304}));
  EXPECT_EQ(fallback.encode(" <s>"), (std::vector<int64_t>{1, 527, 527, 1}));
  EXPECT_EQ(fallback.encode("<s>begin"), (std::vector<int64_t>{1, 1, 308, 544, 261}));
}

TEST(LlamaTokenizer, FastTokenizerOnlyDirectoryIsRefusedByName) {
  const std::string dir = testing::temp_dir("llama-fast-only");
  testing::write_file(dir + "/tokenizer.json", "{}");
  try {
    LlamaTokenizer::from_dir(dir);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir + "/tokenizer.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tokenizer.model"), std::string::npos) << msg;
  }
  const std::string empty = testing::temp_dir("llama-no-tokenizer");
  EXPECT_THROW(LlamaTokenizer::from_dir(empty), std::runtime_error);
}

std::string config_error(const std::string& extra_field) {
  const std::string dir = testing::temp_dir("llama-tok-config");
  std::filesystem::copy_file(llama_base() + "/tokenizer.model", dir + "/tokenizer.model");
  testing::write_file(dir + "/tokenizer_config.json", "{\"legacy\": true, " + extra_field + "}");
  try {
    LlamaTokenizer::from_dir(dir);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(LlamaTokenizer, ConfigValuesThatChangeIdsAreRefusedByName) {
  EXPECT_NE(config_error("\"sp_model_kwargs\": {\"enable_sampling\": true}").find("field 'sp_model_kwargs'"),
            std::string::npos);
  EXPECT_NE(config_error("\"tokenizer_class\": \"GPT2Tokenizer\"").find("field 'tokenizer_class'"), std::string::npos);
  EXPECT_NE(config_error("\"add_prefix_space\": false").find("field 'add_prefix_space'"), std::string::npos);
  EXPECT_NE(config_error("\"bos_token\": \"<nope>\"").find("tokenizer_config.json: field 'bos_token': '<nope>' is neither"),
            std::string::npos);
  EXPECT_NE(config_error("\"additional_special_tokens\": [\"<x>\"]")
                .find("tokenizer_config.json: field 'additional_special_tokens': '<x>' is neither"),
            std::string::npos);
  // Issue 16 (break16c F7): a null EOS (it ends every target), a null BOS that add_bos_token adds.
  EXPECT_NE(config_error("\"eos_token\": null").find("tokenizer_config.json: field 'eos_token': expected a token, found null"),
            std::string::npos);
  EXPECT_NE(config_error("\"bos_token\": null").find("tokenizer_config.json: field 'bos_token': expected a token, found null"),
            std::string::npos);
  EXPECT_EQ(config_error("\"bos_token\": null, \"add_bos_token\": false"), "");
  EXPECT_NE(config_error("\"added_tokens_decoder\": {\"600\": {\"content\": \"<x>\", \"single_word\": true}}")
                .find("added_tokens_decoder.600.single_word"),
            std::string::npos);
  EXPECT_EQ(config_error("\"padding_side\": \"left\""), "");
  // break16d F3: sep, cls and mask tokens are special tokens too (transformers would add one that is
  // not in the vocabulary as a new id past the model's embeddings); null leaves them unset.
  const std::string not_a_piece = config_error("\"cls_token\": \"True\"");
  EXPECT_NE(not_a_piece.find("/tokenizer_config.json: field 'cls_token': 'True' is neither a piece of tokenizer.model "
                             "nor in added_tokens_decoder"),
            std::string::npos) << not_a_piece;
  EXPECT_NE(config_error("\"mask_token\": {\"content\": \"<mask>\"}").find("field 'mask_token': '<mask>' is neither"),
            std::string::npos);
  EXPECT_EQ(config_error("\"sep_token\": null, \"cls_token\": null, \"mask_token\": null"), "");
}

// break16d F3: a sep, cls or mask token splits the text and is one id, as every special token
// (transformers' all_special_tokens); decode skips it. Ids against transformers: tests/export/hf_inputs_test.py.
TEST(LlamaTokenizer, SepClsAndMaskTokensAreSpecialTokens) {
  const std::string dir = testing::temp_dir("llama-cls");
  std::filesystem::copy_file(llama_base() + "/tokenizer.model", dir + "/tokenizer.model");
  testing::write_file(dir + "/tokenizer_config.json", "{\"legacy\": true, \"cls_token\": \"</s>\"}");
  const LlamaTokenizer tok = LlamaTokenizer::from_dir(dir);
  auto expected = tiny().encode("a");
  expected.push_back(tiny().eos_id());
  for (int64_t id : tiny().encode("b", false)) expected.push_back(id);
  EXPECT_EQ(tok.encode("a</s>b"), expected);
  EXPECT_EQ(tok.decode(expected), tiny().decode(expected));
}

// Issue 16 (kind 7): bos_token / eos_token are honoured as transformers 4.36's from_pretrained does:
// the config's; special_tokens_map.json's override them only when the config has no
// added_tokens_decoder (break16c F1: with one, as every file saved by transformers >= 4.34, the
// map is not read at all).
TEST(LlamaTokenizer, SpecialTokensOfConfigAndMapAreHonoured) {
  const auto& g = golden()["tokenizer"];
  const int64_t bos = g["bos_token_id"].get<int64_t>(), eos = g["eos_token_id"].get<int64_t>();
  const auto plain = tiny().encode("a");
  ASSERT_EQ(plain.front(), bos);
  const std::string added = "\"added_tokens_decoder\": {\"1\": {\"content\": \"<s>\", \"special\": true}}";
  auto with = [&](const std::string& config, const std::string& map) {
    const std::string dir = testing::temp_dir("llama-special");
    std::filesystem::copy_file(llama_base() + "/tokenizer.model", dir + "/tokenizer.model");
    testing::write_file(dir + "/tokenizer_config.json", "{\"legacy\": true, " + config + "}");
    if (!map.empty()) testing::write_file(dir + "/special_tokens_map.json", map);
    return LlamaTokenizer::from_dir(dir).encode("a");
  };
  auto expected = plain;
  expected.front() = eos;  // "</s>" as the BOS: its id starts the text
  EXPECT_EQ(with("\"bos_token\": \"</s>\"", ""), expected);
  EXPECT_EQ(with("\"bos_token\": \"</s>\"", "{\"bos_token\": {\"content\": \"<s>\"}}"), plain);  // the map wins
  EXPECT_EQ(with("\"bos_token\": \"</s>\", " + added, "{\"bos_token\": {\"content\": \"<s>\"}}"), expected);  // map unread
  EXPECT_EQ(with(added, "{\"bos_token\": \"</s>\"}"), plain);
  EXPECT_EQ(with(added, "{\"eos_token\": null}"), plain);  // an unread map's null is no fault
  expected = plain;
  expected.push_back(bos);  // "<s>" as the EOS, appended by add_eos_token
  EXPECT_EQ(with("\"eos_token\": \"<s>\", \"add_eos_token\": true", ""), expected);
  EXPECT_EQ(with("\"eos_token\": \"<s>\", \"add_eos_token\": true, " + added, "{\"eos_token\": \"</s>\"}"), expected);
  EXPECT_EQ(with("\"eos_token\": \"</s>\", \"add_eos_token\": true", "{\"eos_token\": \"<s>\"}"), expected);
  EXPECT_THROW(with("\"eos_token\": \"</s>\"", "{\"eos_token\": null}"), std::invalid_argument);  // read: null wins
}

TEST(LlamaTokenizer, AddedTokensSplitTheTextAndDecodeAsWritten) {
  LlamaTokenizerOptions o;
  o.added_tokens.push_back({"<sep>", 600, false, false, false});
  const LlamaTokenizer tok(llama_base() + "/tokenizer.model", o);
  EXPECT_EQ(tok.vocab_size(), 601);
  auto expected = tiny().encode("a");
  expected.push_back(600);
  for (int64_t id : tiny().encode("b", false)) expected.push_back(id);
  EXPECT_EQ(tok.encode("a<sep>b"), expected);
  EXPECT_EQ(tok.decode(expected), "a<sep>b");
}

// A vocabulary trained with Llama's conventions (LlamaTokenizer::train, the
// demo world's): the fixture's special and byte ids, HF's tokenizer files, and
// ids that are HF's legacy definition on the raw SentencePiece model.
TEST(LlamaTokenizer, TrainedVocabularyHasLlamaConventionsAndRoundTrips) {
  const std::string dir = testing::temp_dir("llama-train");
  model::TokenizerTraining t;
  t.corpus = dir + "/corpus.txt";
  t.vocab_size = 320;
  t.user_symbols = {"red", "blue", "42"};
  t.seed = 3;
  {
    std::ofstream c(t.corpus);
    for (int i = 0; i < 50; ++i) {
      c << "Sort the words alphabetically.\nQ: List: red blue green " << i << "\nA: blue green red\n";
      c << "Which number is the largest? Numbers: 42 7 " << i * 3 << "\n";
    }
  }
  const LlamaTokenizer tok = LlamaTokenizer::train(t, dir);
  const auto& g = golden()["tokenizer"];
  EXPECT_EQ(tok.unk_id(), g["unk_token_id"].get<int64_t>());
  EXPECT_EQ(tok.bos_id(), g["bos_token_id"].get<int64_t>());
  EXPECT_EQ(tok.eos_id(), g["eos_token_id"].get<int64_t>());
  EXPECT_FALSE(tok.pad_token_id().has_value());
  EXPECT_EQ(tok.id_to_token(0), "<unk>");
  EXPECT_EQ(tok.id_to_token(1), "<s>");
  EXPECT_EQ(tok.id_to_token(2), "</s>");
  // SentencePiece puts the user symbols after the specials, then the 256
  // byte pieces (the fixture, without user symbols, has them at 3..258).
  const int64_t bytes = g["byte_pieces"]["first_id"].get<int64_t>() + static_cast<int64_t>(t.user_symbols.size());
  EXPECT_EQ(g["byte_pieces"]["last_id"].get<int64_t>() - g["byte_pieces"]["first_id"].get<int64_t>(), 255);
  EXPECT_EQ(tok.id_to_token(3), "red");
  EXPECT_EQ(tok.id_to_token(bytes), "<0x00>");
  EXPECT_EQ(tok.id_to_token(bytes + 255), "<0xFF>");
  EXPECT_FALSE(std::filesystem::exists(dir + "/tokenizer.vocab"));

  // The files are HF's (LlamaTokenizer.save_pretrained of the fixture), key
  // for key; only model_max_length is ours.
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"}) {
    nlohmann::json ours = io::read_json_file(dir + "/" + file), hf = io::read_json_file(llama_base() + "/" + file);
    ours.erase("model_max_length");
    hf.erase("model_max_length");
    EXPECT_EQ(ours, hf) << file;
  }

  // tokenizer(text) = [<s>] + SentencePiece's ids (legacy, no special-token
  // strings in the text); a target = its ids + [</s>]; decode gives the text
  // back, newlines (byte pieces) and characters the corpus never had included.
  const SpmProcessor raw(dir + "/tokenizer.model");
  for (const std::string text : {"Sort the words alphabetically.\n\nQ: List: red blue green\nA:", "blue red 42",
                                 "caf\xC3\xA9 \xE2\x9C\x93 two  spaces\tand a tab"}) {
    const auto sp = raw.encode(text);
    model::TokenIds expected = {1};
    expected.insert(expected.end(), sp.begin(), sp.end());
    EXPECT_EQ(tok.encode_input(text), expected) << text;
    model::TokenIds target(sp.begin(), sp.end());
    target.push_back(2);
    EXPECT_EQ(tok.encode_target(text), target) << text;
    EXPECT_EQ(tok.decode(tok.encode_input(text)), text);
  }
  const auto nl = tok.encode("A\nB", false);
  EXPECT_NE(std::find(nl.begin(), nl.end(), bytes + '\n'), nl.end());
  const auto red = tok.encode("red", false);  // a user symbol is one piece after the word start
  EXPECT_EQ(tok.id_to_token(red.back()), "red");
}

}  // namespace
}  // namespace lorahub::text
