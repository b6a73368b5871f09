// The one check of a command's outputs (io/output_guard.h): over inputs,
// where each goes, and against each other; nothing is created by checking.

#include "io/output_guard.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace lorahub::io {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::vector<OutputPath>& outputs, const std::vector<NamedPath>& inputs = {}) {
  try {
    check_outputs(outputs, inputs);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

class OutputGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::temp_dir("output-guard");
    std::ofstream(root_ + "/afile") << "x";
    fs::create_directories(root_ + "/adir");
  }
  std::string root_;
};

TEST_F(OutputGuard, FilesNeedAnExistingDirectory) {
  EXPECT_EQ(error_of({{"--history", root_ + "/adir/h.json"}}), "");
  EXPECT_EQ(error_of({{"--history", root_ + "/nodir/h.json"}}),
            "--history: '" + root_ + "/nodir/h.json': directory '" + root_ + "/nodir' does not exist");
  EXPECT_EQ(error_of({{"--history", root_ + "/afile/h.json"}}),
            "--history: '" + root_ + "/afile/h.json': '" + root_ + "/afile' is not a directory");
  EXPECT_EQ(error_of({{"--history", root_ + "/adir"}}),
            "--history: '" + root_ + "/adir' is a directory, expected a file");
  EXPECT_EQ(error_of({{"--history", root_ + "/afile"}}), "");  // replaced whole when written
  EXPECT_EQ(error_of({{"--history", "h.json"}}), "");          // the current directory
}

TEST_F(OutputGuard, DirectoriesAreCreatedWithTheirParentsButNotThroughAFile) {
  EXPECT_EQ(error_of({{"--export", root_ + "/new/deeper/E", true}}), "");
  EXPECT_EQ(error_of({{"--export", root_ + "/adir", true}}), "");
  EXPECT_EQ(error_of({{"--export", root_ + "/afile", true}}),
            "--export: '" + root_ + "/afile' is a file, expected a directory");
  EXPECT_EQ(error_of({{"--out", root_ + "/afile/sub/E", true}}),
            "--out: '" + root_ + "/afile/sub/E': '" + root_ + "/afile' is not a directory");
  EXPECT_FALSE(fs::exists(root_ + "/new"));  // checking creates nothing
}

TEST_F(OutputGuard, OutputsAreDistinctAndApart) {
  const std::string e = root_ + "/E";
  EXPECT_EQ(error_of({{"--export", e, true}, {"--history", e}}),
            "--history: '" + e + "' is the output --export '" + e +
                "'; give each output a path of its own, outside the others");
  EXPECT_EQ(error_of({{"--export", e, true}, {"--history", e + "/h.json"}}),
            "--history: '" + e + "/h.json' lies inside the output --export '" + e +
                "'; give each output a path of its own, outside the others");
  EXPECT_EQ(error_of({{"--history", root_ + "/adir/h.json"}, {"--weights-out", root_ + "/adir/./h.json"}}),
            "--weights-out: '" + root_ + "/adir/./h.json' is the output --history '" + root_ +
                "/adir/h.json'; give each output a path of its own, outside the others");
  EXPECT_EQ(error_of({{"--export", e, true}, {"--history", root_ + "/adir/h.json"}, {"--weights-out", ""}}),
            "");
}

TEST_F(OutputGuard, InputsComeFirst) {
  EXPECT_EQ(error_of({{"--out", root_ + "/adir/x", true}}, {{"--model", root_ + "/adir"}}),
            "--out: '" + root_ + "/adir/x' lies inside the input --model '" + root_ +
                "/adir'; writing there would damage it: choose an output outside the inputs");
}

}  // namespace
}  // namespace lorahub::io
