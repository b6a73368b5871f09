#include "text/tokenizer.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>

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

TEST(T5Tokenizer, MissingModelFailsNamingTheFile) {
  try {
    T5Tokenizer::from_dir("/nonexistent-dir");
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/spiece.model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lorahub::text
