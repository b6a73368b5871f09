// The family name table: every name parses and prints back (mistral is Llama).
#include "model/family.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace lorahub::model {
namespace {

TEST(Family, NamesRoundTrip) {
  EXPECT_EQ(parse_family("t5", "x"), Family::kT5);
  EXPECT_EQ(parse_family("llama", "x"), Family::kLlama);
  EXPECT_EQ(parse_family("mistral", "x"), Family::kLlama);
  EXPECT_STREQ(family_name(Family::kT5), "t5");
  EXPECT_STREQ(family_name(Family::kLlama), "llama");
}

TEST(Family, UnknownNameIsRefusedNamingWhere) {
  try {
    parse_family("bert", "m/config.json: model_type");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "m/config.json: model_type: expected one of t5, llama, mistral, found 'bert'");
  }
}

}  // namespace
}  // namespace lorahub::model
