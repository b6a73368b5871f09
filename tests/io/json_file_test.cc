#include "io/json_file.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

namespace lorahub::io {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(JsonFile, ErrorsNameFileFieldAndTypes) {
  const std::string dir = testing::temp_dir("json");
  testing::write_file(dir + "/c.json", R"({"r": "eight", "alpha": 16, "targets": ["q", 3]})");
  const auto doc = read_json_file(dir + "/c.json");
  JsonFields f(doc, dir + "/c.json");
  EXPECT_EQ(error_of([&] { f.get_int("r"); }),
            dir + "/c.json: field 'r': expected an integer, found string");
  EXPECT_EQ(error_of([&] { f.get_int("missing"); }), dir + "/c.json: field 'missing': missing");
  EXPECT_EQ(f.get_int("alpha"), 16);
  EXPECT_EQ(f.get_int("absent", 7), 7);
  EXPECT_NE(error_of([&] { f.get_strings("targets"); }).find("field 'targets': expected a list of strings"),
            std::string::npos);
}

TEST(JsonFile, BadJsonAndJsonlNameTheLine) {
  const std::string dir = testing::temp_dir("json");
  testing::write_file(dir + "/bad.json", "{\"a\": ");
  EXPECT_NE(error_of([&] { read_json_file(dir + "/bad.json"); }).find(dir + "/bad.json: not valid JSON"),
            std::string::npos);
  testing::write_file(dir + "/x.jsonl", "{\"input\": \"a\"}\n\n{\"input\": \n[1]\n");
  EXPECT_NE(error_of([&] { read_jsonl_file(dir + "/x.jsonl"); }).find(dir + "/x.jsonl:3: not valid JSON"),
            std::string::npos);
  testing::write_file(dir + "/y.jsonl", "{\"input\": \"a\"}\n[1]\n");
  EXPECT_NE(error_of([&] { read_jsonl_file(dir + "/y.jsonl"); }).find(dir + "/y.jsonl:2: expected a JSON object"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_json_file(dir + "/none.json"); }).find("cannot open"), std::string::npos);
  // A number past double range is nlohmann's out_of_range, not parse_error:
  // it must still be reported as bad JSON of this file.
  EXPECT_NE(error_of([&] { parse_json_text("{\"d_model\": 1e999}", "config.json"); }).find("config.json: not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_jsonl_text("{}\n{\"x\": -1e400}\n", "e.jsonl"); }).find("e.jsonl:2: not valid JSON"),
            std::string::npos);
}

}  // namespace
}  // namespace lorahub::io
