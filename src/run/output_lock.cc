#include "run/output_lock.h"

#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lorahub::run {
namespace {


std::string job_id() {
  const char* job = std::getenv("SLURM_JOB_ID");
  return job && *job ? job : "-";
}

// Creates `path` holding `content`; false when it exists already.
bool create_exclusive(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw std::runtime_error(path + ": cannot create the results file's lock: " + std::strerror(errno));
  }
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) {
    ::unlink(path.c_str());
    throw std::runtime_error(path + ": cannot write the results file's lock: " + std::strerror(err));
  }
  return true;
}

struct Holder {
  std::string host, job;
  long pid = -1;
};

Holder read_holder(const std::string& path) {
  Holder h;
  std::ifstream in(path);
  in >> h.host >> h.pid >> h.job;
  return h;
}

std::string describe(const Holder& h) {
  return "host " + (h.host.empty() ? std::string("?") : h.host) + ", pid " + std::to_string(h.pid) + ", job " +
         (h.job.empty() ? std::string("-") : h.job);
}

// Stale: the holder is known to be gone.
bool stale(const Holder& h) {
  if (h.host.empty() || h.pid <= 0) return false;  // unreadable (being written?): not provably stale
  if (h.job != "-" && !h.job.empty() && h.job == job_id()) return true;  // this job, requeued
  return h.host == io::host_name() && ::kill(static_cast<pid_t>(h.pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string OutputLock::path_for(const std::string& output) { return output + ".lock"; }

std::string OutputLock::holder() { return io::host_name() + " " + std::to_string(::getpid()) + " " + job_id(); }

OutputLock::OutputLock(const std::string& output) : path_(path_for(output)) {
  const std::string me = holder() + "\n";
  // Once the output is ours, no other writer is alive: temporaries left by
  // killed writers (each names its host and pid) go.
  const auto claimed = [&] { return create_exclusive(path_, me) && (io::remove_temporaries(output), true); };
  if (claimed()) return;
  Holder h = read_holder(path_);
  // A holder on this host may still be exiting (an MPI job just aborted, a
  // requeued step's predecessor): give it a few seconds before refusing.
  for (int i = 0; i < 50 && !stale(h) && h.host == io::host_name(); ++i) {
    ::usleep(100 * 1000);
    h = read_holder(path_);
    if (h.host.empty() && claimed()) return;  // released meanwhile
  }
  if (stale(h)) {
    std::fprintf(stderr, "note: %s: taking over the lock of a run that is gone (%s)\n", path_.c_str(),
                 describe(h).c_str());
    ::unlink(path_.c_str());
    if (claimed()) return;
  }
  const Holder now = read_holder(path_);
  throw std::runtime_error(output + ": in use by another run (" + path_ + ": " + describe(now) +
                           "); wait for it to end, or remove " + path_ + " if that run no longer exists");
}

OutputLock::~OutputLock() {
  // Only our own lock: after a takeover race another run may hold the path.
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  if (line == holder()) ::unlink(path_.c_str());
}

}  // namespace lorahub::run
