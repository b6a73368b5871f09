#pragma once
// One run per results file: a run claims `<output>.lock` before any work.
//
// The lock is a file created with O_CREAT | O_EXCL (atomic on local file
// systems and on NFS v3+ and Lustre, and it needs no POSIX locks, which some
// cluster scratch file systems lack), holding "<host> <pid> <SLURM job id or
// ->\n". It is removed when the holder ends (destructor). A second run
// finds it and refuses, naming the holder. A lock left by a run that was
// killed is taken over, with a note on stderr, when it is provably stale:
// written on this host by a pid that no longer exists, or by this same
// SLURM job (a requeued job: SLURM ended the old step before requeueing).

#include <string>

namespace lorahub::run {

class OutputLock {
 public:
  // Claims `<output>.lock`. Throws std::runtime_error "<output>: in use by
  // another run (<output>.lock: host H, pid P, job J); ..." when another
  // live (or unknown) run holds it, naming the lock file to remove when
  // that run no longer exists; and naming the path and errno when the lock
  // cannot be created.
  explicit OutputLock(const std::string& output);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // "<output>.lock".
  static std::string path_for(const std::string& output);
  // "<host> <pid> <job>" of this process, as written into the lock.
  static std::string holder();

 private:
  std::string path_;
};

}  // namespace lorahub::run
