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

TEST(TargetModules, RegexesPythonAndStdRegexReadAlikeMatchAsPeft) {
  // Sites of registry() each pattern fully matches, from Python's
  // re.fullmatch (PEFT's rule) in the reference venv (Python 3.11,
  // transformers 4.36.2 / peft 0.7.1), produced once and stored here.
  const std::pair<const char*, std::vector<int>> cases[] = {
      {R"(.*\.(q|v)$)", {0, 1, 2}},
      {R"(^.*\.(q|v)$)", {0, 1, 2}},
      {R"(.*\.[qv]{1,2})", {0, 1, 2}},
      {R"(.*(SelfAttention|EncDecAttention)\.(q|v))", {0, 1, 2}},
      {R"((encoder|decoder)\.block\.\d+\.layer\.\d\..*\.q)", {0, 2}},
      {R"(.*\.(?:q|wo))", {0, 2, 3}},
      {R"(.*\w+\.q)", {0, 2}},
      {R"(.*\.(q|v)|.*_proj)", {0, 1, 2, 4}},
      {R"(model\.layers\.\d+\.self_attn\.[qkv]_proj)", {4}},
      {R"(.*\.[^\W\d]{1,2})", {0, 1, 2, 3}},
      {R"(.*(?=\.q)\.q)", {0, 2}},
      {R"(.*\.q\b.*)", {0, 2}},
      {R"(.*\x2e[q-v])", {0, 1, 2}},
      {R"(.*\_proj)", {4}},
      {R"(.*\.q{1}?)", {0, 2}},
  };
  for (const auto& [pattern, sites] : cases) {
    EXPECT_EQ(TargetModules::from_string(pattern, "x").select(registry()), sites) << pattern;
  }
}

// The message of a pattern compile_peft_regex refuses ("" when accepted).
std::string refusal(const std::string& pattern) {
  try {
    compile_peft_regex(pattern, "a/adapter_config.json: field 'target_modules'");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TargetModules, SyntaxPythonAndStdRegexReadDifferentlyIsRefusedByName) {
  // Each read differently by Python's re (PEFT) and std::regex: checked on
  // both engines (Python 3.11 re.fullmatch vs libstdc++ regex_match on T5
  // and Llama module names; the C++ side accepts or errors otherwise).
  const std::pair<const char*, const char*> cases[] = {
      {R"(.*\.(q|v)\Z)", R"(uses '\Z' (character 10): Python's re (PEFT) reads the end of the name, std::regex the letter 'Z'; write '$')"},
      {R"(\A.*\.q)", R"(uses '\A' (character 1): Python's re (PEFT) reads the start of the name)"},
      {R"(.*\.[qv]{,1})", "uses '{,1}' (character 9): Python's re (PEFT) reads a missing lower bound as 0, std::regex refuses it; write '{0,1}'"},
      {R"(.*\.q{1, 2})", "uses a '{' that starts no repeat count (character 6)"},
      {R"(.*\.q{)", "uses a '{' that starts no repeat count (character 6)"},
      {R"(.*\.[[:lower:]])", "uses '[:' inside a class (character 6): std::regex reads a POSIX class"},
      {R"(.*\.[[]q)", "uses '[' inside a class (character 6)"},
      {R"(.*\.[]q])", "uses ']' first in a class (character 6)"},
      {R"(.*\.[^]q])", "uses ']' first in a class (character 7)"},
      {R"((?P<x>.*)\.q)", "uses a named group '(?P<...' (character 1)"},
      {R"(.*(?<=\.)q)", "uses a lookbehind '(?<=...' (character 3)"},
      {R"(.*(?<!k)\.q)", "uses a lookbehind '(?<!...' (character 3)"},
      {R"((?i).*\.Q)", "uses inline flags '(?i)...' (character 1)"},
      {R"(.*\.q(?#c))", "uses a comment '(?#...)' (character 6)"},
      {R"(.*\.q(?>x)?)", "uses an atomic group '(?>...)' (character 6)"},
      {R"(.*\.q*+)", "uses a possessive quantifier '+' after a repeat (character 7)"},
      {R"(.*\.q{1,2}+)", "uses a possessive quantifier '+' after a repeat (character 11)"},
      {R"(.*\.\q)", R"(uses '\q' (character 5): an escape Python's re (PEFT) and std::regex do not read alike)"},
      {R"(.*\.(q|v)\z)", R"(uses '\z' (character 10))"},
      {R"(.*\.(q)\10)", R"(uses '\1' with what follows (character 8))"},
      {R"(.*\.q\0)", R"(uses '\0' with what follows (character 6))"},
      {".*\\.\xc3\xa9", "uses a non-ASCII character (character 5)"},
      {R"(.*\.\xe9)", "uses a non-ASCII character (character 5)"},
  };
  for (const auto& [pattern, expected] : cases) {
    const std::string message = refusal(pattern);
    EXPECT_EQ(message.rfind(std::string("a/adapter_config.json: field 'target_modules': '") + pattern + "' ", 0), 0u)
        << pattern << ": " << message;
    EXPECT_NE(message.find(expected), std::string::npos) << pattern << ": " << message;
  }
  // The same rule behind TargetModules::from_string.
  EXPECT_THROW(TargetModules::from_string(R"(.*\.(q|v)\Z)", "x"), std::invalid_argument);
}

}  // namespace
}  // namespace lorahub::model
