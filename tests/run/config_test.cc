// Sweep configs: expansion and refusals with file:line and key.

#include "run/config.h"
#include "run/plan.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>

namespace lorahub::run {
namespace {

TEST(Plan, ModuleDrawsAreReproducibleAndNested) {
  const auto d20 = draw_modules(196, 20, 3);
  EXPECT_EQ(d20, draw_modules(196, 20, 3));
  EXPECT_EQ(std::set<int64_t>(d20.begin(), d20.end()).size(), 20u);
  const auto d5 = draw_modules(196, 5, 3);
  EXPECT_TRUE(std::equal(d5.begin(), d5.end(), d20.begin()));
  EXPECT_NE(draw_modules(196, 20, 4), d20);
  EXPECT_THROW(draw_modules(5, 6, 1), std::invalid_argument);
}


std::string base_config(const std::string& extra_sweep = "", const std::string& methods = "[zero_shot, lorahub]") {
  const std::string s = testing::shared_dir();
  return "model: " + s + "/fixtures/tiny-t5/base\n"
         "modules:\n  dir: " + s + "/fixtures/tiny-t5/lora\n  ids: [lora0, lora1, lora2, lora3, lora4]\n"
         "bbh:\n  dir: " + s + "/data/bbh\n  tasks: [navigate, snarks]\n"
         "sweep:\n  seeds: [1, 2]\n  n_modules: [2, 5]\n  n_shots: [3]\n  methods: " + methods + "\n" + extra_sweep;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_config(yaml, "/cfg/test.yaml");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return "";
}

// break16d: a quoted path ending in a carriage return (an editor's "o.h5\r") would name a file nobody meant.
TEST(Config, PathsWithControlCharactersAreRefused) {
  EXPECT_EQ(error_of(base_config() + "output: \"o.h5\\r\"\n"),
            "/cfg/test.yaml:13: 'output': expected a file path without control characters, found '/cfg/o.h5\\r'");
  const std::string tab = error_of("model: \"a\\tb\"\n" + base_config().substr(base_config().find('\n') + 1));
  EXPECT_NE(tab.find("'model': expected a file path without control characters, found '/cfg/a\\tb'"), std::string::npos)
      << tab;
}

TEST(Config, ExpandsTheSweep) {
  const Config c = parse_config(base_config(), "/cfg/test.yaml");
  EXPECT_EQ(c.methods[1].label, "lorahub-cobyla");
  EXPECT_EQ(c.output, "/cfg/results.h5");
  const auto plan = expand_plan(c);
  // zero_shot: 2 tasks x 2 seeds x 1 k; lorahub: x 2 n_modules.
  EXPECT_EQ(plan.size(), 2u * 2 + 2u * 2 * 2);
  EXPECT_EQ(plan[0].id, "navigate.zero_shot.s1.n0.k3");
  EXPECT_EQ(plan.back().id, "snarks.lorahub-cobyla.s2.n5.k3");
  EXPECT_EQ(parse_config(base_config(), "/cfg/test.yaml").results_hash(), c.results_hash());
  EXPECT_NE(parse_config(base_config("", "[zero_shot, {name: lorahub, budget: 41}]"), "/cfg/test.yaml").results_hash(),
            c.results_hash());
}

TEST(Config, CmaesTakesAPopulationAndOnlyIt) {
  const Config c = parse_config(base_config("", "[{name: lorahub, optimizer: cmaes, population: 4}]"), "/cfg/test.yaml");
  EXPECT_EQ(c.methods[0].population, 4);
  EXPECT_EQ(c.methods[0].optimizer, "cmaes");
  EXPECT_NE(error_of(base_config("", "[{name: lorahub, optimizer: random, population: 4}]"))
                .find("'sweep.methods.population': used by optimizer cmaes only (this method: random)"),
            std::string::npos);
}

TEST(Config, SoupsMethodsDrawModulesAndParseTheirKeys) {
  const Config c = parse_config(
      base_config("", "[{name: merge, merge_method: dare_ties, density: 0.3, majority_sign: frequency}, "
                      "{name: cat_learned, epochs: 4}, merge]"),
      "/cfg/test.yaml");
  EXPECT_EQ(c.methods[0].label, "merge-dare_ties");
  EXPECT_EQ(c.methods[0].density, 0.3);
  EXPECT_EQ(c.methods[0].majority_sign, "frequency");
  EXPECT_EQ(c.methods[1].label, "cat_learned");
  EXPECT_EQ(c.methods[1].epochs, 4);
  EXPECT_EQ(c.methods[1].learning_rate(), 1e-2);
  EXPECT_EQ(c.methods[2].label, "merge-linear");
  // every method: 2 tasks x 2 seeds x 2 n_modules
  EXPECT_EQ(expand_plan(c).size(), 3u * 2 * 2 * 2);
  // single: one trial per module of the pool, labelled by it
  const auto single = expand_plan(parse_config(base_config("", "[single]"), "/cfg/test.yaml"));
  ASSERT_EQ(single.size(), 2u * 2 * 5);
  EXPECT_EQ(single[1].id, "navigate.single-lora1.s1.n1.k3");
  EXPECT_EQ(single[1].label, "single-lora1");
  EXPECT_EQ(single[1].module, 1);
  // data_mix and cat_learned on the skill mix need modules.skill_data with a JSONL per module
  EXPECT_NE(error_of(base_config("", "[data_mix]")).find("'modules.skill_data': missing (method data_mix trains on skill data)"),
            std::string::npos);
  std::string skills = base_config("", "[{name: cat_learned, train_data: skill_mix}]");
  skills.replace(skills.find("  ids:"), 6, "  skill_data: /nonexistent\n  ids:");
  const std::string no_file = error_of(skills);
  EXPECT_NE(no_file.find("'modules.skill_data': module 'lora0': no /nonexistent/lora0.jsonl"), std::string::npos)
      << no_file;
  EXPECT_NE(error_of(base_config("", "[{name: cat_learned, train_data: mix}]")).find("unknown value 'mix'"),
            std::string::npos);
  // the LoRA Soups keys enter the results hash
  EXPECT_NE(parse_config(base_config("", "[{name: merge, merge_method: ties, density: 0.5}]"), "/c.yaml").results_hash(),
            parse_config(base_config("", "[{name: merge, merge_method: ties, density: 0.6}]"), "/c.yaml").results_hash());
  EXPECT_NE(error_of(base_config("", "[{name: merge, merge_method: dare}]"))
                .find("'sweep.methods.merge_method': unknown value 'dare'"),
            std::string::npos);
  EXPECT_NE(error_of(base_config("", "[{name: merge, merge_method: ties, density: 0}]"))
                .find("'sweep.methods.density': expected a number in (0, 1]"),
            std::string::npos);
  // break16d F9: a density whose reciprocal (DARE's rescaling) overflows float32.
  EXPECT_NE(error_of(base_config("", "[{name: merge, merge_method: dare_linear, density: 1.0e-320}]"))
                .find("'sweep.methods.density': expected a number in (0, 1] whose reciprocal is finite in float32 "
                      "(DARE rescales by 1/density): at least 2.93874e-39, found 1e-320"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config(base_config("", "[{name: merge, merge_method: dare_linear, density: 3.0e-39}]"),
                               "/c.yaml"));
}

// modules.per_task: a task's own modules replace the draw (N = their
// number) for every method that draws, and single runs only them.
TEST(Config, PerTaskModulesReplaceTheDraw) {
  auto with_per_task = [](const std::string& map, const std::string& methods) {
    std::string y = base_config("", methods);
    y.replace(y.find("bbh:"), 4, "  per_task: " + map + "\nbbh:");
    return y;
  };
  const Config c = parse_config(with_per_task("{navigate: [lora3, lora1]}", "[single, {name: merge, merge_method: ties}, lorahub]"),
                                "/cfg/test.yaml");
  ASSERT_NE(c.task_modules("navigate"), nullptr);
  EXPECT_EQ(*c.task_modules("navigate"), (std::vector<size_t>{3, 1}));
  EXPECT_EQ(c.task_modules("snarks"), nullptr);
  std::vector<std::string> ids;
  for (const auto& t : expand_plan(c)) ids.push_back(t.id);
  // navigate: single of its 2 modules, one trial per seed with N = 2 for merge and lorahub;
  // snarks: single of all 5, merge and lorahub at both n_modules.
  EXPECT_EQ(ids.size(), 2u * 2 + 2u + 2u + 2u * 5 + 2u * 2 * 2);
  EXPECT_EQ(ids[0], "navigate.single-lora3.s1.n1.k3");
  EXPECT_EQ(ids[1], "navigate.single-lora1.s1.n1.k3");
  EXPECT_EQ(ids[4], "navigate.merge-ties.s1.n2.k3");
  EXPECT_EQ(ids[6], "navigate.lorahub-cobyla.s1.n2.k3");
  EXPECT_NE(c.results_hash(), parse_config(with_per_task("{navigate: [lora1, lora3]}",
                                                         "[single, {name: merge, merge_method: ties}, lorahub]"),
                                           "/cfg/test.yaml").results_hash());
  // sweep.n_modules is unused (not checked against the pool) when every task has its modules
  auto nine = [](std::string y) { return y.replace(y.find("n_modules: [2, 5]"), 17, "n_modules: [2, 9]"); };
  EXPECT_EQ(expand_plan(parse_config(nine(with_per_task("{navigate: [lora0], snarks: [lora1, lora2]}", "[merge]")),
                                     "/cfg/test.yaml"))
                .size(),
            2u * 2);
  EXPECT_NE(error_of(nine(with_per_task("{navigate: [lora0]}", "[merge]")))
                .find("'sweep.n_modules': 9 modules requested but the pool has 5"),
            std::string::npos);
  // refused: a task outside bbh.tasks, an id outside the pool, a repeated id, not a mapping
  EXPECT_NE(error_of(with_per_task("{chess: [lora0]}", "[single]"))
                .find("/cfg/test.yaml:5: 'modules.per_task.chess': 'chess' is not one of bbh.tasks"),
            std::string::npos);
  EXPECT_NE(error_of(with_per_task("{navigate: [lora0, lora9]}", "[single]"))
                .find("'modules.per_task.navigate': module 'lora9' is not in the pool (modules.ids or modules.list)"),
            std::string::npos);
  EXPECT_NE(error_of(with_per_task("{navigate: [lora0, lora0]}", "[single]"))
                .find("'modules.per_task.navigate': 'lora0' is listed twice"),
            std::string::npos);
  EXPECT_NE(error_of(with_per_task("[lora0]", "[single]")).find("'modules.per_task': expected a mapping"),
            std::string::npos);
  EXPECT_NE(error_of(with_per_task("{navigate: []}", "[single]")).find("'modules.per_task.navigate': expected a string"),
            std::string::npos);
  // targets: the LoRA trained by data_mix / lora_tuning; refused elsewhere
  const Config t = parse_config(base_config("", "[{name: lora_tuning, targets: [q, k, v]}]"), "/cfg/test.yaml");
  EXPECT_EQ(t.methods[0].targets, (std::vector<std::string>{"q", "k", "v"}));
  EXPECT_NE(t.results_hash(), parse_config(base_config("", "[lora_tuning]"), "/cfg/test.yaml").results_hash());
  EXPECT_NE(error_of(base_config("", "[{name: merge, targets: [q]}]"))
                .find("'sweep.methods.targets': not used by method merge"),
            std::string::npos);
}

TEST(Config, BadConfigsAreOneClearLine) {
  const std::string s = testing::shared_dir();
  EXPECT_NE(error_of(base_config("  budgets: 3\n")).find("/cfg/test.yaml:13: 'sweep.budgets': unknown key"), std::string::npos);
  EXPECT_NE(error_of(base_config("", "[zero_shot, {name: lorahub, budget: -1}]"))
                .find("'sweep.methods.budget': expected a positive integer, found -1"),
            std::string::npos);
  EXPECT_NE(error_of(base_config("", "[few_shot]")).find("'sweep.methods.name': unknown value 'few_shot'"), std::string::npos);
  EXPECT_NE(error_of(base_config("", "[{name: lorahub, optimizer: adam}]")).find("unknown value 'adam'"), std::string::npos);
  std::string big = base_config();
  big.replace(big.find("n_modules: [2, 5]"), 17, "n_modules: [2, 6]");
  EXPECT_NE(error_of(big).find("'sweep.n_modules': 6 modules requested but the pool has 5"), std::string::npos);
  std::string task = base_config();
  task.replace(task.find("[navigate, snarks]"), 18, "[navigate, chess]");
  EXPECT_NE(error_of(task).find("unknown BBH task 'chess'"), std::string::npos);
  std::string model = base_config();
  model.replace(model.find("tiny-t5/base"), 12, "tiny-t5/nope");
  EXPECT_NE(error_of(model).find("/cfg/test.yaml:1: 'model': " + s + "/fixtures/tiny-t5/nope has no config.json"),
            std::string::npos);
  EXPECT_NE(error_of(base_config("", "[zero_shot, {name: lorahub, budget: many}]")).find("expected an integer, found 'many'"),
            std::string::npos);
  EXPECT_NE(error_of("model: [unclosed").find("/cfg/test.yaml:"), std::string::npos);
  // Found by fuzz_config: a path the OS refuses (too long) threw
  // filesystem_error with no file or key.
  std::string long_path = base_config();
  long_path.replace(long_path.find("tiny-t5/base"), 12, "tiny-t5/" + std::string(5000, 'x'));
  EXPECT_NE(error_of(long_path).find("/cfg/test.yaml:1: 'model': "), std::string::npos) << error_of(long_path);
  // Found by fuzz_config: a complex key ("? ...") escaped as yaml-cpp's
  // BadConversion, with no file name.
  std::string complex = base_config();
  complex.replace(complex.find("  ids:"), 6, "? ids:");
  EXPECT_NE(error_of(complex).find("/cfg/test.yaml:4: expected a plain key, found a collection"), std::string::npos)
      << error_of(complex);
  // Found by fuzz_config: a stray ',' or '}' at the top level made yaml-cpp
  // 0.7's LoadAll loop forever, allocating (jbeder/yaml-cpp#1040).
  for (const char* stray : {", optimizer: cobyla}\n", "}\nmodel: x\n", ",\n"}) {
    EXPECT_NE(error_of(std::string(stray) + base_config()).find("/cfg/test.yaml:1: not valid YAML"), std::string::npos)
        << error_of(std::string(stray) + base_config());
  }
  // A second document is named at its first line; empty documents are no content.
  EXPECT_NE(error_of(base_config() + "---\n---\nmodel: x\n").find(": a second YAML document"), std::string::npos);
  EXPECT_NO_THROW(parse_config(base_config() + "---\n", "/cfg/test.yaml"));
}

// Issue 16 (break16c, minor): leading zeros (octal in YAML 1.1, decimal in 1.2), merge keys,
// range errors of evaluation.* and runtime.* naming the one key and the value found.
TEST(Config, AmbiguousOrUnsupportedYamlIsRefusedByKey) {
  std::string octal = base_config();
  octal.replace(octal.find("seeds: [1, 2]"), 13, "seeds: [010, 2]");
  EXPECT_NE(error_of(octal).find("/cfg/test.yaml:9: 'sweep.seeds': '010' has a leading zero: YAML 1.2 reads it as 10, "
                                 "YAML 1.1 as 8 (octal); write it without the leading zero"),
            std::string::npos) << error_of(octal);
  octal.replace(octal.find("010"), 3, "08");
  EXPECT_NE(error_of(octal).find("'08' has a leading zero: YAML 1.2 reads it as 8, YAML 1.1 as a string (not an "
                                 "octal number)"),
            std::string::npos) << error_of(octal);
  EXPECT_NE(error_of(base_config("", "[zero_shot, {<<: {name: lorahub}, budget: 4}]"))
                .find("'sweep.methods.<<': YAML merge keys ('<<: *anchor') are not supported"),
            std::string::npos);
  EXPECT_NE(error_of(base_config() + "evaluation:\n  batch_size: 4\n  max_new_tokens: 0\n")
                .find("/cfg/test.yaml:15: 'evaluation.max_new_tokens': expected a positive integer, found 0"),
            std::string::npos) << error_of(base_config() + "evaluation:\n  batch_size: 4\n  max_new_tokens: 0\n");
  EXPECT_NE(error_of(base_config() + "runtime:\n  threads: -1\n")
                .find("/cfg/test.yaml:14: 'runtime.threads': expected an integer >= 0 (0: all cores), found -1"),
            std::string::npos) << error_of(base_config() + "runtime:\n  threads: -1\n");
  EXPECT_NE(error_of(base_config() + "runtime:\n  candidates_per_pass: 0\n")
                .find("'runtime.candidates_per_pass': expected a positive integer, found 0"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config(base_config() + "runtime:\n  threads: 0\n", "/cfg/test.yaml"));
}

// One finite-number rule for YAML numbers: NaN, inf and numbers past a
// double's range are all "expected a finite number"; text stays "a number".
TEST(Config, NumbersMustBeFinite) {
  EXPECT_EQ(error_of(base_config("", "[{name: lorahub, l1: 1e400}]")),
            "/cfg/test.yaml:12: 'sweep.methods.l1': expected a finite number, found '1e400' (out of range)");
  EXPECT_EQ(
      error_of(base_config("", "[{name: lorahub, bound: -1e999}]")),
      "/cfg/test.yaml:12: 'sweep.methods.bound': expected a finite number, found '-1e999' (out of range)");
  EXPECT_EQ(error_of(base_config("", "[{name: lorahub, l1: .nan}]")),
            "/cfg/test.yaml:12: 'sweep.methods.l1': expected a finite number, found '.nan'");
  EXPECT_EQ(error_of(base_config("", "[{name: lorahub, l1: lots}]")),
            "/cfg/test.yaml:12: 'sweep.methods.l1': expected a number");
  EXPECT_EQ(error_of(base_config("", "[{name: lorahub, l1: 1e400x}]")),
            "/cfg/test.yaml:12: 'sweep.methods.l1': expected a number");
}

}  // namespace
}  // namespace lorahub::run
