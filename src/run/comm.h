#pragma once
// A thin MPI layer: the communicator is passed explicitly, messages are byte
// buffers that describe themselves (probe for source and size, then
// receive), and every return code is checked with MPI's own error string.
// The only header of the project that includes <mpi.h> is comm.cc.

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::run {

// MPI_Init_thread / MPI_Finalize for the process.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // MPI_Abort on the world, for errors that leave peers waiting.
  [[noreturn]] static void abort(int code);
};

enum class Tag : int { kConfig = 1, kUnit = 2, kResult = 3, kStop = 4 };

class Comm {
 public:
  // The world communicator.
  static Comm world();
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank and size among the processes of this node (device choice).
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool node_hosts_root() const { return node_hosts_root_; }

  void send(int dest, Tag tag, const std::vector<uint8_t>& bytes) const;
  // Blocks for a message with `tag` (any tag when `any_tag`) from `source`
  // (-1: any); returns its bytes and sets the actual source and tag.
  std::vector<uint8_t> receive(int source, Tag tag, bool any_tag, int* from, Tag* got) const;
  // Rank 0's bytes on every rank (collective).
  std::vector<uint8_t> broadcast(const std::vector<uint8_t>& bytes) const;
  // Every rank of this node's string, in node-local rank order (collective
  // over the node's ranks).
  std::vector<std::string> node_allgather(const std::string& mine) const;
  // MPI_Get_processor_name: the node's name, for messages.
  static std::string host();

 private:
  Comm() = default;
  int handle_ = 0;       // MPI_Fint of the communicator
  int node_handle_ = 0;  // MPI_Fint of this node's ranks (MPI_COMM_TYPE_SHARED), kept for node_allgather
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool node_hosts_root_ = true;
};

}  // namespace lorahub::run
