#pragma once
// A worker evaluates units (run/work_unit.h). It loads the base model and
// tokenizer once, keeps every LoRA module it has read (by directory), BBH
// tasks by name, and per trial the pool, tokenized shots and merged model.
// No MPI here: the runner feeds it units from MPI or in-process.

#include "run/config.h"
#include "run/work_unit.h"

#include <c10/core/Device.h>

#include <list>
#include <map>
#include <memory>
#include <string>

namespace lorahub::run {

class Worker {
 public:
  Worker(const Config& config, c10::Device device, int threads);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Never throws: model::NonFiniteError comes back as status failed (the
  // trial fails), any other error as status error (the run stops), each
  // with its reason.
  UnitResult execute(const WorkUnit& unit);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lorahub::run
