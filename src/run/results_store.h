#pragma once
// The results of a run: one HDF5 file, written only by rank 0.
//
// Durability: each finished trial is appended to "<file>.journal" (one JSON
// line, fsync'ed) before add() returns. The HDF5 file itself is rewritten
// whole into "<file>.tmp.<host>.<pid>" and renamed over <file> (atomic), at most every
// flush_interval seconds, on flush() and on close; so the file on disk always
// opens, and a SIGKILL loses at most the trials in flight. Resuming reads the
// file and the journal; a journal line cut by a kill or a full disk is
// removed, and trials only the file holds are written to the journal again,
// so the journal alone can always rebuild the file. Layout: README.md,
// "Results file".

#include "run/trial_record.h"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace lorahub::run {

struct RunInfo {
  std::string config_text;
  std::string config_hash;
  std::string command_line;
  int64_t world_size = 1;
  std::string created;  // ISO 8601, UTC
  std::string model_family;  // "t5", "llama" (Config::model_family); empty in files written before it
};

class ResultsStore {
 public:
  // A new run refuses an existing <path> (nothing saved is touched); with
  // `resume`, an existing file and journal are loaded and must carry the
  // same config hash.
  ResultsStore(std::string path, RunInfo info, bool resume, double flush_interval_s);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  bool finished(const std::string& id) const { return records_.count(id) > 0; }
  size_t size() const { return records_.size(); }
  // Trials stored with status "failed" (this run's and, resuming, earlier ones).
  int64_t failed() const;
  void add(const TrialRecord& record);
  void flush();

 private:
  void append_journal(const TrialRecord& record);
  // Loads the journal's records (checking its config hash) and returns their ids.
  std::set<std::string> read_journal(const std::string& journal);
  std::string path_;
  RunInfo info_;
  double flush_interval_s_;
  std::map<std::string, TrialRecord> records_;  // sorted by id: files do not depend on finish order
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_flush_;
};

// Writes / reads the HDF5 layout (the reader uses only the HDF5 C API, so it
// also checks what other tools will see).
void write_results_h5(const std::string& path, const RunInfo& info, const std::vector<TrialRecord>& records);
std::vector<TrialRecord> read_results_h5(const std::string& path, RunInfo* info = nullptr);

}  // namespace lorahub::run
