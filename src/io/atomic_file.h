#pragma once
// Files replaced whole or not at all: written to a temporary beside the
// target (same directory, so the rename stays on one file system), flushed
// to disk with fsync, then renamed over the target. A reader, or a job
// killed at any moment, sees the old file or the new one, never a mix.
// Used by every writer of results, adapters, checkpoints and JSON.

#include <functional>
#include <iosfwd>
#include <string>

namespace lorahub::io {

// The temporary `write_atomically` and `commit_temporary` use for `path`:
// "<path>.tmp.<host>.<pid>", unique per writer, so two processes writing one
// path never write into (or rename away) each other's temporary.
std::string temporary_path(const std::string& path);

// gethostname(2), "unknown-host" when it fails: the host part of temporary
// names and of a results file's lock.
std::string host_name();

// Removes every temporary of `path` ("<path>.tmp.*") that writers killed
// before their rename left behind. Only for a caller that knows no other
// writer of `path` is alive (the holder of a results file's lock). Returns
// how many were removed; files it cannot remove are left as they are.
int remove_temporaries(const std::string& path);

// Writes `path` through `write`, which fills a binary stream. Throws
// std::runtime_error naming the file when it cannot be opened, written,
// fsync'ed or renamed (errno's text included); the temporary is removed and
// an existing `path` is left as it was. Exceptions from `write` propagate
// the same way.
void write_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// For files a library writes itself (HDF5): fsyncs `tmp` and renames it
// over `path`. On failure removes `tmp`, keeps `path`, and throws as above.
void commit_temporary(const std::string& tmp, const std::string& path);

// fsync(2) of a whole file. Throws std::runtime_error naming the file when
// it cannot be opened or the fsync fails (EIO, ENOSPC on network file systems).
void fsync_file(const std::string& path);

}  // namespace lorahub::io
