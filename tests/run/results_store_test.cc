// The results file: written by the store, read back through the HDF5 C API.

#include "run/results_store.h"

#include "support/fixtures.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace lorahub::run {
namespace {

TrialRecord sample(const std::string& id, bool learned) {
  TrialRecord r;
  r.id = id;
  r.task = "navigate";
  r.method = learned ? "lorahub-cobyla" : "zero_shot";
  r.seed = 3;
  r.n_modules = learned ? 2 : 0;
  r.n_shots = 5;
  r.accuracy = 0.5;
  r.n_correct = 1;
  r.n_eval = 2;
  if (learned) {
    r.best_objective = 1.25;
    r.steps = 2;
    r.modules = {"lora0", "lora3"};
    r.weights = {0.5, -0.25};
    r.history_objective = {1.5, 1.25};
    r.history_loss = {1.5, 1.2};
    r.history_weights = {{0, 0}, {0.5, -0.25}};
  }
  r.shots = {4, 8, 15, 16, 23};
  r.eval_index = {1, 2};
  r.predictions = {"Yes", "unicode café"};
  r.correct = {1, 0};
  r.wall_s = 0.1;
  return r;
}

void expect_same(const TrialRecord& a, const TrialRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.n_modules, b.n_modules);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_TRUE(a.best_objective == b.best_objective || (std::isnan(a.best_objective) && std::isnan(b.best_objective)));
  EXPECT_EQ(a.modules, b.modules);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.history_objective, b.history_objective);
  EXPECT_EQ(a.history_weights, b.history_weights);
  EXPECT_EQ(a.shots, b.shots);
  EXPECT_EQ(a.eval_index, b.eval_index);
  EXPECT_EQ(a.predictions, b.predictions);
  EXPECT_EQ(a.correct, b.correct);
}

TEST(ResultsStore, RoundTripThroughTheCApiReader) {
  const std::string path = testing::temp_dir("store") + "/r.h5";
  RunInfo info{"model: x\n", "abc123", "lorahub run x.yaml", 3, ""};
  {
    ResultsStore store(path, info, false, 0);
    store.add(sample("b.lorahub", true));
    store.add(sample("a.zero", false));
  }
  RunInfo read_info;
  const auto records = read_results_h5(path, &read_info);
  ASSERT_EQ(records.size(), 2u);
  expect_same(records[0], sample("a.zero", false));  // sorted by id
  expect_same(records[1], sample("b.lorahub", true));
  EXPECT_EQ(read_info.config_text, "model: x\n");
  EXPECT_EQ(read_info.world_size, 3);
}

herr_t count_reports(hid_t, void* data) {
  ++*static_cast<int*>(data);
  return 0;
}

// The store silences HDF5's error printing while it works (its errors become
// exceptions) and gives the caller's handler back, on success and on failure.
TEST(ResultsStore, RestoresTheCallersHdf5ErrorHandler) {
  int reports = 0;
  ASSERT_GE(H5Eset_auto2(H5E_DEFAULT, count_reports, &reports), 0);
  const std::string dir = testing::temp_dir("store-handler");
  write_results_h5(dir + "/ok.h5", RunInfo{"model: x\n", "h", "cmd", 1, ""}, {sample("a.zero", false)});
  EXPECT_THROW(read_results_h5(dir + "/absent.h5", nullptr), std::runtime_error);
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  ASSERT_GE(H5Eget_auto2(H5E_DEFAULT, &func, &data), 0);
  EXPECT_EQ(func, &count_reports);
  EXPECT_EQ(data, &reports);
  EXPECT_EQ(reports, 0);  // the failed open was reported by exception, not printed through the handler
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

TEST(ResultsStore, RefusesToOverwriteAndChecksTheConfigOnResume) {
  const std::string path = testing::temp_dir("store") + "/r.h5";
  RunInfo info{"cfg", "hash-1", "cmd", 1, ""};
  {
    ResultsStore store(path, info, false, 0);
    store.add(sample("t1", true));
  }
  const auto size = std::filesystem::file_size(path);
  EXPECT_THROW(ResultsStore(path, info, false, 0), std::invalid_argument);
  RunInfo other = info;
  other.config_hash = "hash-2";
  try {
    ResultsStore store(path, other, true, 0);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("written by another config"), std::string::npos);
  }
  EXPECT_EQ(std::filesystem::file_size(path), size);
  ResultsStore resumed(path, info, true, 0);
  EXPECT_TRUE(resumed.finished("t1"));
}

TEST(ResultsStore, JournalCoversTrialsNotYetInTheFile) {
  const std::string path = testing::temp_dir("store") + "/r.h5";
  RunInfo info{"cfg", "hash-1", "cmd", 1, ""};
  // A store that is never destroyed stands for a process killed with
  // SIGKILL: its file was written at creation only.
  auto* killed = new ResultsStore(path, info, false, 1e9);
  killed->add(sample("t1", true));
  killed->add(sample("t2", false));
  std::ofstream(path + ".journal", std::ios::app) << "{\"id\": \"t3\", \"tas";  // cut mid-append
  EXPECT_EQ(read_results_h5(path).size(), 0u);  // the file still opens
  {
    ResultsStore resumed(path, info, true, 1e9);
    EXPECT_TRUE(resumed.finished("t1"));
    EXPECT_TRUE(resumed.finished("t2"));
    EXPECT_FALSE(resumed.finished("t3"));
  }
  const auto records = read_results_h5(path);
  ASSERT_EQ(records.size(), 2u);
  expect_same(records[0], sample("t1", true));
}

}  // namespace
}  // namespace lorahub::run
