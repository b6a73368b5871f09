#include "text/tokenizer.h"

#include "io/json_file.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

namespace lorahub::text {
namespace {

const T5Tokenizer& tiny() {
  static const T5Tokenizer tok = T5Tokenizer::from_dir(testing::tiny_dir() + "/base");
  return tok;
}

TEST(T5Tokenizer, SpecialIdsAndSizesMatchGolden) {
  const auto& g = testing::golden()["tokenizer"];
  EXPECT_EQ(tiny().vocab_size(), g["vocab_size"].get<int64_t>());
  EXPECT_EQ(tiny().pad_id(), g["pad_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().eos_id(), g["eos_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().unk_id(), g["unk_token_id"].get<int64_t>());
  EXPECT_EQ(tiny().extra_ids(), 0);
  const auto& first = g["pieces_first_20"];
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(tiny().id_to_token(static_cast<int64_t>(i)), first[i]);
}

TEST(T5Tokenizer, ExamplesEncodeToGoldenIds) {
  for (const auto& ex : testing::golden()["examples"]) {
    EXPECT_EQ(tiny().encode(ex["input"]), testing::ids(ex["input_ids"])) << ex["input"];
    EXPECT_EQ(tiny().encode(ex["target"]), testing::ids(ex["label_ids"])) << ex["target"];
  }
}

TEST(T5Tokenizer, ExtraStringsEncodeAndDecodeLikeHf) {
  for (const auto& s : testing::golden()["tokenizer"]["extra_strings"]) {
    const auto ids = tiny().encode(s["text"]);
    EXPECT_EQ(ids, testing::ids(s["ids"])) << s["text"];
    EXPECT_EQ(tiny().decode(ids), s["decoded"].get<std::string>()) << s["text"];
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tiny().id_to_token(ids[i]), s["pieces"][i]);
  }
}

TEST(T5Tokenizer, GreedyOutputsDecodeToGoldenText) {
  for (const auto& section : {"base", "lorahub_composition"}) {
    for (const auto& row : testing::golden()[section]["greedy"]["single"]) {
      EXPECT_EQ(tiny().decode(testing::ids(row["ids"])), row["text"].get<std::string>());
    }
    const auto& batched = testing::golden()[section]["greedy"]["batched"];
    for (size_t i = 0; i < batched["ids"].size(); ++i) {
      EXPECT_EQ(tiny().decode(testing::ids(batched["ids"][i])), batched["text"][i].get<std::string>());
    }
  }
}

TEST(T5Tokenizer, CleanUpFollowsTransformers) {
  EXPECT_EQ(clean_up_tokenization("Yes , it is . Is n't it ? I 'm sure ' ok"), "Yes, it is. Isn't it? I'm sure'ok");
}

TEST(T5Tokenizer, LiteralSpecialTokensAreNotSplitAndEosIsNotDoubled) {
  const auto plain = tiny().encode("True", false);
  auto expected = plain;
  expected.push_back(tiny().eos_id());
  EXPECT_EQ(tiny().encode("True</s>"), expected);
  std::vector<int64_t> with_pad = {tiny().pad_id()};
  with_pad.insert(with_pad.end(), plain.begin(), plain.end());
  with_pad.push_back(tiny().eos_id());
  EXPECT_EQ(tiny().encode("<pad>True"), with_pad);
  EXPECT_EQ(tiny().decode(with_pad, false), "<pad> True</s>");
}

TEST(T5Tokenizer, SentinelsTakeTheTopIdsAndStripSpaces) {
  // The v1.0 convention: <extra_id_N> = piece_size + extra_ids - 1 - N.
  const T5Tokenizer tok(testing::tiny_dir() + "/base/spiece.model", 3);
  EXPECT_EQ(tok.vocab_size(), 403);
  EXPECT_EQ(tok.sentinel_id(0), 402);
  EXPECT_EQ(tok.sentinel_id(2), 400);
  EXPECT_EQ(tok.id_to_token(401), "<extra_id_1>");
  // Whitespace around a sentinel is stripped (lstrip/rstrip), plain chunks are
  // encoded on their own.
  std::vector<int64_t> expected = tok.encode("True or", false);
  expected.push_back(402);
  const auto tail = tok.encode("False", false);
  expected.insert(expected.end(), tail.begin(), tail.end());
  expected.push_back(400);
  expected.push_back(tok.eos_id());
  EXPECT_EQ(tok.encode("True or  <extra_id_0>  False <extra_id_2>"), expected);
  EXPECT_EQ(tok.decode(expected), "True or False");
  // transformers 4.36 T5Tokenizer.convert_tokens_to_string: the space goes
  // before the run of ordinary pieces that precedes a special token.
  EXPECT_EQ(tok.decode(expected, false), "True or<extra_id_0> False<extra_id_2></s>");
}

// A tokenizer directory: the fixture's spiece.model and `config`.
std::string tokenizer_dir(const std::string& tag, const nlohmann::json& config) {
  const std::string dir = testing::temp_dir(tag);
  std::filesystem::copy_file(testing::tiny_dir() + "/base/spiece.model", dir + "/spiece.model");
  io::write_json_file(dir + "/tokenizer_config.json", config);
  return dir;
}

nlohmann::json fixture_config() { return io::read_json_file(testing::tiny_dir() + "/base/tokenizer_config.json"); }

std::string from_dir_error(const std::string& dir) {
  try {
    T5Tokenizer::from_dir(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " loaded";
  return "";
}

TEST(T5Tokenizer, LegacyFalseEncodesTextAfterASpecialTokenWithoutAWordStart) {
  // ../shared/cases/t5_legacy_false: HF T5Tokenizer(legacy=False) gives these ids.
  const std::string case_dir = testing::shared_dir() + "/cases/t5_legacy_false";
  const std::string dir = testing::temp_dir("legacy-false");
  std::filesystem::copy_file(testing::tiny_dir() + "/base/spiece.model", dir + "/spiece.model");
  std::filesystem::copy_file(case_dir + "/tokenizer_config.json", dir + "/tokenizer_config.json");
  const T5Tokenizer tok = T5Tokenizer::from_dir(dir);
  EXPECT_FALSE(tok.legacy());
  EXPECT_TRUE(tiny().legacy());
  const std::vector<int64_t> after = {315, 35, 162, 14, 20, 28, 34, 16, 1};
  EXPECT_EQ(tok.encode("</s>False or True is"), (std::vector<int64_t>{1, 315, 35, 162, 14, 20, 28, 34, 16, 1}));
  // The legacy tokenizer gives "▁False" (25) there: the fault of the case.
  EXPECT_EQ(tiny().encode("</s>False or True is"), (std::vector<int64_t>{1, 25, 28, 34, 16, 1}));
  // Before the special token both modes agree (the "▁" the text gets in
  // front is the dummy prefix legacy SentencePiece adds), and a space after
  // it is a word start again.
  const auto head = tiny().encode("Answer with True or False.", false);
  auto full = head;
  full.push_back(1);
  full.insert(full.end(), after.begin(), after.end());
  EXPECT_EQ(tok.encode("Answer with True or False.</s>False or True is"), full);
  EXPECT_EQ(tok.encode("</s> False or True is"), tiny().encode("</s> False or True is"));
  EXPECT_EQ(tok.encode("False or True is"), tiny().encode("False or True is"));
  EXPECT_EQ(tok.encode(""), (std::vector<int64_t>{1}));
}

TEST(T5Tokenizer, LegacyFalseKeepsTheWordStartBeforeACharacterOutsideTheVocabulary) {
  // Ids from transformers 4.36.2, T5Tokenizer.from_pretrained(tiny-t5/base,
  // legacy=False)(text).input_ids, and T5Tokenizer(vocab_file=spiece.model,
  // extra_ids=3, legacy=False) for the sentinels; produced once, stored here.
  // "{", "<", "~", "中" are not in the vocabulary: SentencePiece gives the
  // unknown id 2, but the token is the character, not the special "<unk>",
  // so the "▁" in front stays; only a real special token drops it.
  const std::string dir = testing::temp_dir("legacy-false-oov");
  std::filesystem::copy_file(testing::tiny_dir() + "/base/spiece.model", dir + "/spiece.model");
  std::filesystem::copy_file(testing::shared_dir() + "/cases/t5_legacy_false/tokenizer_config.json",
                             dir + "/tokenizer_config.json");
  const T5Tokenizer tok = T5Tokenizer::from_dir(dir);
  const std::pair<std::string, std::vector<int64_t>> cases[] = {
      {"{x} y", {3, 2, 389, 2, 3, 97, 1}},
      {"<s>begin", {3, 2, 14, 2, 96, 20, 397, 103, 1}},
      {" <s>", {3, 2, 14, 2, 1}},
      {"~ z", {3, 2, 3, 2, 1}},
      {"\xe4\xb8\xad text", {3, 2, 3, 29, 20, 389, 29, 1}},  // "中 text"
      {"{", {3, 2, 1}},
      {"{x}</s>", {3, 2, 389, 2, 1}},
      {"\xe2\x96\x81{x}", {3, 2, 389, 2, 1}},  // "▁{x}"
      {"</s>x", {1, 389, 1}},
      {"<unk>x", {2, 389, 1}},
      {" </s> y", {1, 3, 97, 1}},
  };
  for (const auto& [text, ids] : cases) EXPECT_EQ(tok.encode(text), ids) << text;
  const T5Tokenizer sentinels(testing::tiny_dir() + "/base/spiece.model", 3, false);
  const std::pair<std::string, std::vector<int64_t>> sentinel_cases[] = {
      {"<extra_id_0>x", {402, 389, 1}},
      {" <extra_id_1> {y}", {401, 2, 97, 2, 1}},
      {"{<extra_id_2>", {3, 2, 400, 1}},
      {"<extra_id_0>{", {402, 2, 1}},
  };
  for (const auto& [text, ids] : sentinel_cases) EXPECT_EQ(sentinels.encode(text), ids) << text;
}

TEST(T5Tokenizer, ConfigFieldsThatChangeIdsAreHonouredOrRefused) {
  struct Case {
    std::string tag, expected;
    std::function<void(nlohmann::json&)> edit;
  };
  const std::vector<Case> cases = {
      {"eos", "field 'eos_token': expected \"</s>\" (T5's ids are fixed), found \"<eos>\"",
       [](nlohmann::json& c) { c["eos_token"] = "<eos>"; }},
      {"add-eos", "field 'add_eos_token': T5Tokenizer always appends </s>; expected true",
       [](nlohmann::json& c) { c["add_eos_token"] = false; }},
      {"add-bos", "field 'add_bos_token': T5 has no BOS token; expected false",
       [](nlohmann::json& c) { c["add_bos_token"] = true; }},
      {"sampling", "field 'sp_model_kwargs': SentencePiece options (sampling, ...) change ids and are not supported; expected {}",
       [](nlohmann::json& c) { c["sp_model_kwargs"] = {{"enable_sampling", true}}; }},
      {"mask", "field 'mask_token': T5 has no such token; expected null, found \"<mask>\"",
       [](nlohmann::json& c) { c["mask_token"] = "<mask>"; }},
      {"added", "field 'added_tokens_decoder': token '<sep>' at id 3 is not a T5 special token at its id; added tokens are not supported",
       [](nlohmann::json& c) { c["added_tokens_decoder"]["3"] = {{"content", "<sep>"}, {"special", true}}; }},
      {"eos-null", "field 'eos_token': expected \"</s>\" (T5's ids are fixed), found null",
       [](nlohmann::json& c) { c["eos_token"] = nullptr; }},
      {"additional", "field 'additional_special_tokens': '<extra_id_0>' is not one of the 0 sentinels; added special tokens are not supported",
       [](nlohmann::json& c) { c["additional_special_tokens"] = {"<extra_id_0>"}; }},
  };
  for (const auto& c : cases) {
    nlohmann::json config = fixture_config();
    c.edit(config);
    const std::string dir = tokenizer_dir(c.tag, config);
    EXPECT_EQ(from_dir_error(dir), dir + "/tokenizer_config.json: " + c.expected) << c.tag;
  }
  // Accepted as T5 does it: add_eos_token true, AddedToken objects, clean-up off.
  nlohmann::json config = fixture_config();
  config["add_eos_token"] = true;
  config["eos_token"] = {{"content", "</s>"}, {"__type", "AddedToken"}};
  config["clean_up_tokenization_spaces"] = false;
  const T5Tokenizer tok = T5Tokenizer::from_dir(tokenizer_dir("accepted", config));
  const auto ids = tiny().encode("It is n't so .");
  EXPECT_EQ(tok.encode("It is n't so ."), ids);
  EXPECT_EQ(tiny().decode(ids), clean_up_tokenization(tok.decode(ids)));
  EXPECT_NE(tiny().decode(ids), tok.decode(ids));
}

// Issue 16 (break16c F1): transformers 4.36 reads special_tokens_map.json only when
// tokenizer_config.json has no added_tokens_decoder; a map it does not read is not checked.
TEST(T5Tokenizer, SpecialTokensMapIsReadOnlyWithoutAddedTokensDecoder) {
  const std::string bad_map = "{\"eos_token\": \"<eos>\"}";
  nlohmann::json config = fixture_config();
  ASSERT_TRUE(config.contains("added_tokens_decoder"));
  std::string dir = tokenizer_dir("map-unread", config);
  testing::write_file(dir + "/special_tokens_map.json", bad_map);
  EXPECT_EQ(T5Tokenizer::from_dir(dir).encode("It is so ."), tiny().encode("It is so ."));
  config.erase("added_tokens_decoder");
  dir = tokenizer_dir("map-read", config);
  testing::write_file(dir + "/special_tokens_map.json", bad_map);
  EXPECT_EQ(from_dir_error(dir), dir + "/special_tokens_map.json: field 'eos_token': expected \"</s>\" (T5's ids "
                                       "are fixed), found \"<eos>\"");
  testing::write_file(dir + "/special_tokens_map.json", "{\"pad_token\": null}");
  EXPECT_EQ(from_dir_error(dir), dir + "/special_tokens_map.json: field 'pad_token': expected \"<pad>\" (T5's ids "
                                       "are fixed), found null");
}

TEST(T5Tokenizer, UnknownConfigKeysAreWarnedByName) {
  nlohmann::json config = fixture_config();
  config["do_lower_case"] = true;
  const std::string dir = tokenizer_dir("unknown", config);
  ::testing::internal::CaptureStderr();
  T5Tokenizer::from_dir(dir);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "warning: " + dir + "/tokenizer_config.json: field 'do_lower_case' is not known to lorahub and is ignored\n");
  ::testing::internal::CaptureStderr();
  T5Tokenizer::from_dir(testing::tiny_dir() + "/base");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(T5Tokenizer, MissingModelFailsNamingTheFile) {
  try {
    T5Tokenizer::from_dir("/nonexistent-dir");
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/spiece.model"), std::string::npos) << e.what();
  }
}

// A vocabulary trained with T5's conventions (T5Tokenizer::train, the demo
// world's): the fixture's special ids, no sentinels, </s> appended to what
// SentencePiece gives.
TEST(T5Tokenizer, TrainedVocabularyHasT5Conventions) {
  const std::string dir = testing::temp_dir("t5-train");
  model::TokenizerTraining t;
  t.corpus = dir + "/corpus.txt";
  t.vocab_size = 120;
  t.user_symbols = {"red", "blue"};
  {
    std::ofstream c(t.corpus);
    for (int i = 0; i < 50; ++i) c << "Sort the words alphabetically. Q: List: red blue green " << i << " A: blue green red\n";
  }
  const T5Tokenizer tok = T5Tokenizer::train(t, dir);
  const auto& g = testing::golden()["tokenizer"];
  EXPECT_EQ(tok.pad_id(), g["pad_token_id"].get<int64_t>());
  EXPECT_EQ(tok.eos_id(), g["eos_token_id"].get<int64_t>());
  EXPECT_EQ(tok.unk_id(), g["unk_token_id"].get<int64_t>());
  EXPECT_EQ(tok.extra_ids(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/spiece.vocab"));
  const SpmProcessor raw(dir + "/spiece.model");
  const std::string text = "Sort the words: red blue";
  const auto sp = raw.encode(text);
  model::TokenIds expected(sp.begin(), sp.end());
  expected.push_back(tok.eos_id());
  EXPECT_EQ(tok.encode_input(text), expected);
  EXPECT_EQ(tok.encode_target(text), expected);
  EXPECT_EQ(tok.decode(expected), text);
}

}  // namespace
}  // namespace lorahub::text
