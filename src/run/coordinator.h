#pragma once
// Rank 0: steps every trial's optimizer, cuts work into units, hands them to
// whichever worker is free, gathers results and writes finished trials.
// Loads no model. How units are cut depends on the config only, and every
// RNG stream on the trial id, so results do not depend on the worker count.

#include "run/config.h"
#include "run/plan.h"
#include "run/results_store.h"
#include "run/work_unit.h"

#include <atomic>
#include <utility>

namespace lorahub::run {

// Where units go: MPI ranks, or a worker in this process.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual int num_workers() const = 0;
  virtual void send(int worker, const WorkUnit& unit) = 0;
  // Blocks for the next result from any worker: (worker, result).
  virtual std::pair<int, UnitResult> receive() = 0;
};

struct RunSummary {
  int64_t planned = 0, skipped = 0, finished = 0;
  bool interrupted = false;
};

// Runs the plan's unfinished trials. Stops handing out work once
// `stop_requested` is set, waits for the units in flight, and returns with
// interrupted = true (finished trials are already durable).
RunSummary coordinate(const Config& config, const std::vector<Trial>& plan, Transport& transport, ResultsStore& store,
                      const std::atomic<bool>& stop_requested, bool show_progress);

}  // namespace lorahub::run
