// The runner's messages (run/work_unit.h): every field of every kind through
// the wire format and back, and strict reading.
#include "run/work_unit.h"

#include "support/records.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace lorahub::run {
namespace {

using testing::member_of;
using testing::same;

// Every field of each kind set away from its default.
WorkUnit filled(UnitKind kind) {
  WorkUnit u;
  u.kind = kind;
  u.trial = "boolean_expressions.lorahub-cobyla.N2.k5.s3";
  u.unit = 17;
  u.task = "boolean_expressions";
  u.modules = {"/m/a", "/m/b"};
  u.composition = lora::Method::kCat;
  u.shots = {4, 0, 9};
  u.indices = {1, 2};
  u.candidates = {{0.25, -1.5}, {1e-300, 3}};
  u.loss = learn::LossNormalization::kTokenMean;
  u.loss_batch_size = 2;
  u.l1 = 0.05;
  u.prompt = PromptStyle::kIcl;
  u.weights = std::vector<double>{0.5, -0.125};
  u.merge = MergeSpec{lora::Method::kDareTies, 0.7, lora::MajoritySign::kFrequency, 0xfedcba9876543210ull};
  u.training = Training::kCatLearned;
  u.skill_data = {"/s/a.jsonl"};
  u.steps = 40;
  u.rank = 4;
  u.batch_size = 3;
  u.epochs = 2;
  u.lr = 3e-3;
  u.alpha = 8;
  u.per_target = true;
  u.targets = {"q", "v"};
  u.seed = 0x8000000000000001ull;  // above INT64_MAX: the stable hashes are
  return u;
}

TEST(WorkUnit, EveryFieldOfEachKindRoundTrips) {
  const WorkUnit defaults;
  for (const UnitKind kind : {UnitKind::kObjective, UnitKind::kEval, UnitKind::kTrain}) {
    const WorkUnit u = filled(kind);
    const WorkUnit back = decode_unit(encode(u));
    EXPECT_EQ(back.kind, kind);
    int carried = 0;
    for_each_unit_field(u, [&](const UnitField& f, const auto& v) {
      ASSERT_FALSE(same(v, member_of(defaults, u, v))) << "the sample leaves field " << f.key << " at its default";
      if (f.kinds & kind_bit(kind)) {
        EXPECT_TRUE(same(v, member_of(back, u, v))) << f.key << " of a " << util::name_of(kUnitKindNames, kind) << " unit";
        ++carried;
      } else {  // not on the wire: the reader leaves the default
        EXPECT_TRUE(same(member_of(defaults, u, v), member_of(back, u, v))) << f.key << " was carried";
      }
    });
    EXPECT_EQ(carried, kind == UnitKind::kObjective ? 10 : kind == UnitKind::kEval ? 9 : 17);
  }
  // Unset optionals stay unset (an eval unit without weights: the base model).
  WorkUnit base = filled(UnitKind::kEval);
  base.weights.reset();
  base.merge.reset();
  const WorkUnit back = decode_unit(encode(base));
  EXPECT_FALSE(back.weights.has_value());
  EXPECT_FALSE(back.merge.has_value());
}

TEST(UnitResult, EveryFieldRoundTripsAndNonFiniteLossesSurvive) {
  UnitResult r;
  r.kind = UnitKind::kTrain;
  r.trial = "t";
  r.unit = 5;
  r.predictions = {"True", ""};
  r.train_losses = {2.5, 1.25};
  r.weights = std::vector<double>{0.5, 0.25};
  UnitResult back = decode_result(encode(r));
  int fields = 0;
  for_each_result_field(r, [&](const UnitField& f, const auto& v) {
    EXPECT_TRUE(same(v, member_of(back, r, v))) << f.key;
    ++fields;
  });
  EXPECT_EQ(fields, 9);

  UnitResult o;
  o.kind = UnitKind::kObjective;
  o.trial = "t";
  o.losses = {1.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
  o.objectives = {1.6, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
  back = decode_result(encode(o));
  EXPECT_TRUE(same(back.losses, o.losses));
  EXPECT_TRUE(same(back.objectives, o.objectives));

  // A failed unit carries its reason, not the payload of its kind.
  o.status = ResultStatus::kFailed;
  o.reason = "non-finite logits";
  back = decode_result(encode(o));
  EXPECT_EQ(back.status, ResultStatus::kFailed);
  EXPECT_EQ(back.reason, "non-finite logits");
  EXPECT_TRUE(back.losses.empty());
}

// The message `edit` makes of a good objective unit, read back: the error's text.
template <typename Edit>
std::string unit_error(Edit edit) {
  nlohmann::json j = nlohmann::json::from_cbor(encode(filled(UnitKind::kObjective)));
  edit(j);
  try {
    decode_unit(nlohmann::json::to_cbor(j));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

TEST(WorkUnit, ReadingIsStrict) {
  const std::string w = "work unit boolean_expressions.lorahub-cobyla.N2.k5.s3: field ";
  EXPECT_EQ(unit_error([](auto& j) { j["kind"] = "objectve"; }),
            "work unit: field 'kind': expected one of objective, eval, train, found \"objectve\"");
  EXPECT_EQ(unit_error([](auto& j) { j["loss"] = "mean"; }),
            w + "'loss': expected one of lorahub, token_mean, found \"mean\"");
  EXPECT_EQ(unit_error([](auto& j) { j.erase("l1"); }), w + "'l1': missing");
  EXPECT_EQ(unit_error([](auto& j) { j["prompt"] = "icl"; }), w + "'prompt': not carried by objective units");
  EXPECT_EQ(unit_error([](auto& j) { j["shots"] = {1, "2"}; }), w + "'shots': expected an integer, found string");
  EXPECT_EQ(unit_error([](auto& j) { j["composition"] = "linear"; }),
            w + "'composition': expected lorahub or cat, found \"linear\"");
  EXPECT_EQ(unit_error([](auto& j) { j["candidates"][1] = {0.5}; }),
            w + "'candidates': a row of 1 weights for 2 modules");
  EXPECT_EQ(unit_error([](auto& j) { j["unit"] = 1.5; }), w + "'unit': expected an integer, found number");

  nlohmann::json eval = nlohmann::json::from_cbor(encode(filled(UnitKind::kEval)));
  eval["prompt"] = "few_shot";
  EXPECT_THROW(decode_unit(nlohmann::json::to_cbor(eval)), std::invalid_argument);
  nlohmann::json train = nlohmann::json::from_cbor(encode(filled(UnitKind::kTrain)));
  train["training"] = "dora";
  EXPECT_THROW(decode_unit(nlohmann::json::to_cbor(train)), std::invalid_argument);
  train = nlohmann::json::from_cbor(encode(filled(UnitKind::kTrain)));
  train["seed"] = -1;
  EXPECT_THROW(decode_unit(nlohmann::json::to_cbor(train)), std::invalid_argument);

  EXPECT_THROW(decode_unit({0xff, 0x00}), std::invalid_argument);
  EXPECT_THROW(decode_unit(nlohmann::json::to_cbor(nlohmann::json::array())), std::invalid_argument);

  UnitResult r;
  r.status = ResultStatus::kError;  // an error without its reason
  EXPECT_THROW(decode_result(encode(r)), std::invalid_argument);
}

}  // namespace
}  // namespace lorahub::run
