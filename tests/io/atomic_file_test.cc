// Whole-or-nothing file replacement: the old file survives every failure and
// no temporary is left behind.

#include "io/atomic_file.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lorahub::io {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AtomicFile, ReplacesTheFileWhole) {
  const std::string path = testing::temp_dir("atomic") + "/a.txt";
  write_atomically(path, [](std::ostream& out) { out << "first"; });
  write_atomically(path, [](std::ostream& out) { out << "second"; });
  EXPECT_EQ(read_all(path), "second");
  EXPECT_FALSE(std::filesystem::exists(temporary_path(path)));
}

TEST(AtomicFile, AFailingWriterLeavesTheOldFileAndNoTemporary) {
  const std::string path = testing::temp_dir("atomic") + "/b.txt";
  write_atomically(path, [](std::ostream& out) { out << "kept"; });
  EXPECT_THROW(write_atomically(path,
                                [](std::ostream& out) {
                                  out << "partial";
                                  throw std::runtime_error("writer failed");
                                }),
               std::runtime_error);
  EXPECT_EQ(read_all(path), "kept");
  EXPECT_FALSE(std::filesystem::exists(temporary_path(path)));
}

TEST(AtomicFile, ErrorsNameTheFile) {
  const std::string dir = testing::temp_dir("atomic");
  const std::string missing = dir + "/no-such-dir/c.txt";
  try {
    write_atomically(missing, [](std::ostream& out) { out << "x"; });
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  try {
    fsync_file(dir + "/absent");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/absent: cannot open to fsync"), std::string::npos) << e.what();
  }
  // A rename that cannot happen (the target is a non-empty directory): the temporary is removed.
  const std::string target = dir + "/occupied";
  std::filesystem::create_directories(target + "/inside");
  EXPECT_THROW(write_atomically(target, [](std::ostream& out) { out << "x"; }), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(temporary_path(target)));
  EXPECT_TRUE(std::filesystem::is_directory(target + "/inside"));
}

}  // namespace
}  // namespace lorahub::io
