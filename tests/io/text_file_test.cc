// Text files with CRLF line ends and a UTF-8 BOM read as their LF, BOM-less text.

#include "io/text_file.h"

#include "io/json_file.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lorahub::io {
namespace {

TEST(TextFile, CrlfAndBomAreNormalised) {
  EXPECT_EQ(normalize_text("\xEF\xBB\xBF" "a\r\nb\r\n\r\nc"), "a\nb\n\nc");
  EXPECT_EQ(normalize_text("a\rb\n"), "a\rb\n");          // a lone CR is content, not a line end
  EXPECT_EQ(normalize_text("x\xEF\xBB\xBFy"), "x\xEF\xBB\xBFy");  // a BOM only at the start
  const std::string dir = testing::temp_dir("text");
  testing::write_file(dir + "/t.txt", "\xEF\xBB\xBFline 1\r\nline 2\r\n");
  EXPECT_EQ(read_text_file(dir + "/t.txt"), "line 1\nline 2\n");
}

// break16d: one BOM marks the encoding; a second would be read as content (JSON's reader skips it
// silently, YAML's takes it into the first key): refused naming the file.
TEST(TextFile, TwoByteOrderMarksAreRefused) {
  const std::string path = testing::temp_dir("two-boms") + "/c.yaml";
  testing::write_file(path, "\xEF\xBB\xBF\xEF\xBB\xBFmodel: m\n");
  try {
    read_text_file(path);
    ADD_FAILURE() << "two BOMs read";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), path + ": starts with two UTF-8 byte-order marks (a text file may start with one)");
  }
}

TEST(TextFile, JsonlAndListsReadTheSameWithCrlfAndBom) {
  const std::string dir = testing::temp_dir("jsonl");
  const std::string lf = "{\"input\": \"a\\nb\", \"target\": \"c\"}\n\n{\"input\": \"d\", \"target\": \"e\"}\n";
  std::string crlf = "\xEF\xBB\xBF";
  for (char c : lf) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  testing::write_file(dir + "/lf.jsonl", lf);
  testing::write_file(dir + "/crlf.jsonl", crlf);
  EXPECT_EQ(read_jsonl_file(dir + "/crlf.jsonl"), read_jsonl_file(dir + "/lf.jsonl"));
  testing::write_file(dir + "/config.json", "\xEF\xBB\xBF{\r\n  \"r\": 4\r\n}\r\n");
  EXPECT_EQ(read_json_file(dir + "/config.json")["r"], 4);
  testing::write_file(dir + "/modules.txt", "\xEF\xBB\xBF# ids\r\nlora0\r\n  lora1 \r\n\r\n");
  EXPECT_EQ(read_list_file(dir + "/modules.txt"), (std::vector<std::string>{"lora0", "lora1"}));
}

}  // namespace
}  // namespace lorahub::io
