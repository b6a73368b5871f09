// The results file: written by the store, read back through the HDF5 C API.

#include "run/results_store.h"
#include "run/trial_record.h"

#include "support/fixtures.h"
#include "support/records.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

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

using testing::member_of;
using testing::same;

// Every field of the table (run/trial_record.h), compared; returns how many.
int expect_same(const TrialRecord& a, const TrialRecord& b) {
  int compared = 0;
  for_each_field(a, [&](const FieldInfo& f, const auto& va) {
    EXPECT_TRUE(same(va, member_of(b, a, va))) << "field " << f.json << " of " << a.id;
    ++compared;
  });
  return compared;
}

// A record whose every field differs from a default-constructed one.
TrialRecord filled(const std::string& id) {
  TrialRecord r = sample(id, true);
  r.status = "failed";
  r.error = "worker 2: out of memory";
  r.history_loss = {1.5, std::nan("")};
  return r;
}

TEST(TrialRecord, EveryFieldRoundTripsThroughTheJournalAndTheResultsFile) {
  const TrialRecord r = filled("x.lorahub");
  const TrialRecord empty;
  int fields = 0;
  for_each_field(r, [&](const FieldInfo& f, const auto& v) {
    EXPECT_FALSE(same(v, member_of(empty, r, v))) << "the sample leaves field " << f.json << " at its default";
    ++fields;
  });
  EXPECT_EQ(expect_same(r, record_from_json(nlohmann::json::parse(to_json(r).dump()))), fields);
  const std::string path = testing::temp_dir("record") + "/r.h5";
  write_results_h5(path, RunInfo{"model: x\n", "h", "cmd", 1, "", "t5"}, {r});
  const auto back = read_results_h5(path, nullptr);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(expect_same(r, back[0]), fields);
}

TEST(TrialRecord, AJournalLineIsValidatedOnRead) {
  auto j = to_json(filled("x"));
  j["status"] = "maybe";
  EXPECT_THROW(
      {
        try {
          record_from_json(j);
        } catch (const std::invalid_argument& e) {
          EXPECT_STREQ(e.what(), "trial record x: field 'status': expected done or failed, found 'maybe'");
          throw;
        }
      },
      std::invalid_argument);
  j = to_json(filled("x"));
  j.erase("shots");
  EXPECT_THROW(record_from_json(j), std::invalid_argument);
  j = to_json(filled("x"));
  j["seed"] = "three";
  try {
    record_from_json(j);
    FAIL() << "a string seed was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'seed': expected an integer, found string"), std::string::npos) << e.what();
  }
  j = to_json(filled("x"));
  j.erase("error");  // journals written before the field
  EXPECT_EQ(record_from_json(j).error, "");
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
  // The cut line is gone: the journal ends with a whole line.
  std::ifstream journal(path + ".journal");
  const std::string text((std::istreambuf_iterator<char>(journal)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find("\"t3\""), std::string::npos);
}

TEST(ResultsStore, AJournalRecordThatDoesNotReadNamesItsLine) {
  const std::string path = testing::temp_dir("store-bad-line") + "/r.h5";
  RunInfo info{"cfg", "hash-1", "cmd", 1, ""};
  {
    ResultsStore store(path, info, false, 1e9);
    store.add(sample("t1", true));
  }
  std::filesystem::remove(path);
  auto j = to_json(sample("t2", true));
  j.erase("correct");  // parses, but is not a record
  std::ofstream(path + ".journal", std::ios::app) << j.dump() << "\n";
  try {
    ResultsStore resumed(path, info, true, 1e9);
    FAIL() << "resumed past a record without 'correct'";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), path + ".journal:3: trial record: field 'correct' missing; mend or delete that "
                                            "line (its trial is then run again) and rerun with --resume");
  }
}

}  // namespace
}  // namespace lorahub::run
