// BBH loading, prompts (against hand-written strings), sampling, scoring.

#include "tasks/bbh.h"
#include "tasks/examples.h"

#include "support/fixtures.h"
#include "tasks/scoring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace lorahub::tasks {
namespace {

std::string bbh_dir() { return testing::shared_dir() + "/data/bbh"; }

TEST(Bbh, TwentySevenTasksAndAll) {
  const auto all = list_bbh_tasks(bbh_dir());
  EXPECT_EQ(all.size(), 27u);
  EXPECT_EQ(resolve_bbh_tasks(bbh_dir(), {"all"}), all);
  size_t total = 0;
  for (const auto& t : all) total += load_bbh_task(bbh_dir(), t).examples.size();
  EXPECT_EQ(total, 6511u);
  EXPECT_THROW(resolve_bbh_tasks(bbh_dir(), {"date_understanding", "no_such_task"}), std::invalid_argument);
}

TEST(Bbh, ZeroShotPromptsMatchHandWrittenStrings) {
  const auto date = load_bbh_task(bbh_dir(), "date_understanding");
  EXPECT_EQ(zero_shot_prompt(date, date.examples[0].input),
            "Infer the date from context.\n\nQ: Today is Christmas Eve of 1937. What is the date tomorrow in "
            "MM/DD/YYYY?\nOptions:\n(A) 12/11/1937\n(B) 12/25/1937\n(C) 01/04/1938\n(D) 12/04/1937\n(E) 12/25/2006\n"
            "(F) 07/25/1937\nA:");
  const auto boolean = load_bbh_task(bbh_dir(), "boolean_expressions");
  // The fixture's second example is exactly this prompt (golden.json).
  EXPECT_EQ(zero_shot_prompt(boolean, boolean.examples[0].input),
            "Evaluate the result of a random Boolean expression.\n\nQ: not ( True ) and ( True ) is\nA:");
  EXPECT_EQ(zero_shot_prompt(boolean, boolean.examples[0].input),
            testing::golden()["examples"][1]["input"].get<std::string>());
  const auto words = load_bbh_task(bbh_dir(), "word_sorting");
  EXPECT_EQ(zero_shot_prompt(words, words.examples[0].input),
            "Sort a list of words.\n\nQ: Sort the following words alphabetically: List: syndrome therefrom\nA:");
  EXPECT_EQ(words.examples[0].target, "syndrome therefrom");
}

TEST(Bbh, IclPromptReducesExemplarsToTheirAnswers) {
  const auto words = load_bbh_task(bbh_dir(), "word_sorting");
  ASSERT_EQ(words.exemplars.size(), 3u);
  EXPECT_EQ(icl_prompt(words, "Sort the following words alphabetically: List: b a"),
            "Sort a list of words.\n\n"
            "Q: Sort the following words alphabetically: List: oven costume counterpart\n"
            "A: costume counterpart oven\n\n"
            "Q: Sort the following words alphabetically: List: hypochlorite ponderosa phone credulity\n"
            "A: credulity hypochlorite phone ponderosa\n\n"
            "Q: Sort the following words alphabetically: List: newt arson parthia seismography mugho aspect census\n"
            "A: arson aspect census mugho newt parthia seismography\n\n"
            "Q: Sort the following words alphabetically: List: b a\nA:");
  for (const auto& t : list_bbh_tasks(bbh_dir())) {
    const auto task = load_bbh_task(bbh_dir(), t);
    EXPECT_EQ(task.exemplars.size(), 3u) << t;
    for (const auto& ex : task.exemplars) EXPECT_EQ(ex.target.find("So the answer"), std::string::npos) << t;
  }
}

// A task directory copied with CRLF line ends and a UTF-8 BOM in both files
// (as Windows editors save them) loads to the same task (issue 16).
TEST(Bbh, CrlfAndBomFilesLoadToTheSameTask) {
  const std::string dir = testing::temp_dir("bbh-crlf");
  std::filesystem::create_directories(dir + "/bbh");
  std::filesystem::create_directories(dir + "/cot-prompts");
  auto windows = [](std::string text) {
    std::string out = "\xEF\xBB\xBF";
    for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
  };
  for (const std::string name : {"word_sorting", "date_understanding"}) {
    testing::write_file(dir + "/bbh/" + name + ".json", windows(testing::read_file(bbh_dir() + "/bbh/" + name + ".json")));
    testing::write_file(dir + "/cot-prompts/" + name + ".txt",
                        windows(testing::read_file(bbh_dir() + "/cot-prompts/" + name + ".txt")));
    const BbhTask lf = load_bbh_task(bbh_dir(), name), crlf = load_bbh_task(dir, name);
    EXPECT_EQ(crlf.instruction, lf.instruction) << name;
    ASSERT_EQ(crlf.exemplars.size(), lf.exemplars.size()) << name;
    ASSERT_EQ(crlf.examples.size(), lf.examples.size()) << name;
    EXPECT_EQ(icl_prompt(crlf, lf.examples[0].input), icl_prompt(lf, lf.examples[0].input)) << name;
    EXPECT_EQ(crlf.examples.back().target, lf.examples.back().target) << name;
  }
}

TEST(Bbh, ShotsAreReproducibleDisjointAndSeedDependent) {
  const auto task = load_bbh_task(bbh_dir(), "navigate");
  const auto a = split_shots(task, 5, 1), b = split_shots(task, 5, 1), c = split_shots(task, 5, 2);
  EXPECT_EQ(a.shots, b.shots);
  EXPECT_EQ(a.eval, b.eval);
  EXPECT_NE(a.shots, c.shots);
  EXPECT_EQ(a.shots.size() + a.eval.size(), task.examples.size());
  std::set<int64_t> seen(a.eval.begin(), a.eval.end());
  for (int64_t s : a.shots) EXPECT_FALSE(seen.count(s));
  EXPECT_TRUE(std::is_sorted(a.eval.begin(), a.eval.end()));
  EXPECT_EQ(split_shots(task, 5, 1, 20).eval.size(), 20u);
  // Another task with the same seed draws other shots.
  EXPECT_NE(split_shots(load_bbh_task(bbh_dir(), "snarks"), 5, 1).shots, a.shots);
  EXPECT_THROW(split_shots(task, 250, 1), std::invalid_argument);
}

TEST(Scoring, ReferenceNormalisation) {
  EXPECT_TRUE(exact_match("  False. ", "false"));
  EXPECT_TRUE(exact_match("(B)", "(b)."));
  EXPECT_FALSE(exact_match("(B) is", "(B)"));
  EXPECT_EQ(score({"a", "b", "C."}, {"A", "x", "c"}).correct, 2);
}

TEST(Bbh, BadFilesAreNamed) {
  const std::string dir = testing::temp_dir("bbh");
  std::filesystem::create_directories(dir + "/bbh");
  std::filesystem::create_directories(dir + "/cot-prompts");
  testing::write_file(dir + "/bbh/t.json", R"({"examples": []})");
  try {
    load_bbh_task(dir, "t");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/bbh/t.json: field 'examples': empty list");
  }
  testing::write_file(dir + "/bbh/t.json", R"({"examples": [{"input": "x"}]})");
  try {
    load_bbh_task(dir, "t");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/bbh/t.json: field 'examples[0].target': missing");
  }
}

// Issue 16 (break16c, minor): a JSONL line giving both 'target' and 'output' is refused by line.
TEST(Examples, TargetAndOutputOnOneLineAreRefused) {
  const std::string path = testing::temp_dir("jsonl") + "/x.jsonl";
  testing::write_file(path, "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"a\", \"target\": \"b\", \"output\": \"c\"}\n");
  try {
    read_examples_jsonl(path);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), path + ":2: field 'output': given with 'target' on the same line; expected one of "
                                            "them (the target is 'target', or 'output' when there is no 'target')");
  }
  testing::write_file(path, "{\"input\": \"a\", \"output\": \"b\"}\n");
  EXPECT_EQ(read_examples_jsonl(path).at(0).target, "b");
}

}  // namespace
}  // namespace lorahub::tasks
