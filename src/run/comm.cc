#include "run/comm.h"

#include <mpi.h>

#include <cstdint>
#include <limits>
#include <string>
#include <stdexcept>

namespace lorahub::run {
namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(msg, static_cast<size_t>(len)));
}

// MPI counts are int: a message longer than INT_MAX bytes is refused, never
// truncated by the cast (as Conduit guards its counts).
int byte_count(uint64_t n, const char* what) {
  if (n > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    throw std::length_error(std::string("MPI ") + what + ": a message of " + std::to_string(n) +
                            " bytes, more than an MPI count (int) can hold");
  }
  return static_cast<int>(n);
}

MPI_Comm to_comm(int handle) { return MPI_Comm_f2c(handle); }

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "init");
  // Errors come back as codes, which check() turns into exceptions.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiSession::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

Comm Comm::world() {
  Comm c;
  c.handle_ = MPI_Comm_c2f(MPI_COMM_WORLD);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_), "rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &c.size_), "size");
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c.rank_, MPI_INFO_NULL, &node), "split by node");
  check(MPI_Comm_rank(node, &c.local_rank_), "node rank");
  check(MPI_Comm_size(node, &c.local_size_), "node size");
  int is_root = c.rank_ == 0 ? 1 : 0, root_here = 0;
  check(MPI_Allreduce(&is_root, &root_here, 1, MPI_INT, MPI_MAX, node), "find the root's node");
  c.node_hosts_root_ = root_here != 0;
  c.node_handle_ = MPI_Comm_c2f(node);  // freed by MPI_Finalize
  return c;
}

std::vector<std::string> Comm::node_allgather(const std::string& mine) const {
  const MPI_Comm node = to_comm(node_handle_);
  const int size = byte_count(mine.size(), "node allgather");
  std::vector<int> sizes(static_cast<size_t>(local_size_)), offsets(static_cast<size_t>(local_size_));
  check(MPI_Allgather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, node), "node allgather (sizes)");
  int total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    offsets[i] = total;
    total += sizes[i];
  }
  std::vector<char> all(static_cast<size_t>(total) + 1);
  check(MPI_Allgatherv(mine.data(), size, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, node),
        "node allgather");
  std::vector<std::string> out;
  for (size_t i = 0; i < sizes.size(); ++i) out.emplace_back(all.data() + offsets[i], static_cast<size_t>(sizes[i]));
  return out;
}

std::string Comm::host() {
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  check(MPI_Get_processor_name(name, &len), "processor name");
  return std::string(name, static_cast<size_t>(len));
}

void Comm::send(int dest, Tag tag, const std::vector<uint8_t>& bytes) const {
  check(MPI_Send(bytes.data(), byte_count(bytes.size(), "send"), MPI_BYTE, dest, static_cast<int>(tag), to_comm(handle_)),
        "send");
}

std::vector<uint8_t> Comm::receive(int source, Tag tag, bool any_tag, int* from, Tag* got) const {
  MPI_Status status;
  check(MPI_Probe(source < 0 ? MPI_ANY_SOURCE : source, any_tag ? MPI_ANY_TAG : static_cast<int>(tag),
                  to_comm(handle_), &status),
        "probe");
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "get count");
  std::vector<uint8_t> bytes(static_cast<size_t>(count));
  check(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, to_comm(handle_), MPI_STATUS_IGNORE),
        "receive");
  if (from) *from = status.MPI_SOURCE;
  if (got) *got = static_cast<Tag>(status.MPI_TAG);
  return bytes;
}

std::vector<uint8_t> Comm::broadcast(const std::vector<uint8_t>& bytes) const {
  uint64_t n = bytes.size();
  if (rank_ == 0) byte_count(n, "broadcast");  // before the size goes out: the other ranks never wait on a failed root
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, to_comm(handle_)), "broadcast size");
  std::vector<uint8_t> out = rank_ == 0 ? bytes : std::vector<uint8_t>(n);
  check(MPI_Bcast(out.data(), byte_count(n, "broadcast"), MPI_BYTE, 0, to_comm(handle_)), "broadcast");
  return out;
}

}  // namespace lorahub::run
