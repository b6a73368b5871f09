// PEFT's target_modules rule against cases worked out by hand from peft
// 0.7.1's check_target_module_exists (list: key == t or key.endswith("." + t);
// string: re.fullmatch(pattern, key)).
#include "model/target_modules.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace lorahub::model {
namespace {

ProjectionRegistry registry() {
  ProjectionRegistry r;
  r.add({"encoder.block.0.layer.0.SelfAttention.q", 8, 8, ProjectionRole::kAttentionQuery});
  r.add({"encoder.block.0.layer.0.SelfAttention.v", 8, 8, ProjectionRole::kAttentionValue});
  r.add({"decoder.block.0.layer.1.EncDecAttention.q", 8, 8, ProjectionRole::kAttentionQuery});
  r.add({"encoder.block.0.layer.1.DenseReluDense.wo", 16, 8, ProjectionRole::kFeedForwardOut});
  r.add({"model.layers.0.self_attn.q_proj", 8, 8, ProjectionRole::kAttentionQuery});
  return r;
}

TEST(TargetModules, ListMatchesWholeNameOrDottedSuffix) {
  const auto t = TargetModules::list({"q", "wo"});
  EXPECT_TRUE(t.matches("encoder.block.0.layer.0.SelfAttention.q"));
  EXPECT_TRUE(t.matches("q"));
  EXPECT_FALSE(t.matches("model.layers.0.self_attn.q_proj"));  // "q_proj" does not end with ".q"
  EXPECT_FALSE(t.matches("encoder.block.0.layer.0.SelfAttention.vq"));
  EXPECT_EQ(t.select(registry()), (std::vector<int>{0, 2, 3}));
  // A dotted entry matches a longer suffix.
  EXPECT_EQ(TargetModules::list({"EncDecAttention.q"}).select(registry()), (std::vector<int>{2}));
}

TEST(TargetModules, StringIsAFullMatchRegex) {
  const auto t = TargetModules::from_string(".*SelfAttention\\.(q|v)", "adapter_config.json: target_modules");
  EXPECT_EQ(t.kind(), TargetModules::Kind::kRegex);
  EXPECT_EQ(t.select(registry()), (std::vector<int>{0, 1}));
  // fullmatch, not search: a pattern matching a part of the name only does not count.
  EXPECT_FALSE(TargetModules::from_string("q", "x").matches("encoder.block.0.layer.0.SelfAttention.q"));
  EXPECT_TRUE(TargetModules::from_string("q", "x").matches("q"));
}

TEST(TargetModules, AllLinearIsEveryRegisteredProjection) {
  const auto t = TargetModules::from_string("all-linear", "x");
  EXPECT_EQ(t.kind(), TargetModules::Kind::kAllLinear);
  EXPECT_EQ(t.select(registry()), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TargetModules, BadPatternNamesWhere) {
  try {
    TargetModules::from_string("(q", "a/adapter_config.json: target_modules");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("a/adapter_config.json: target_modules: expected a regular expression, found '(q'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace lorahub::model
