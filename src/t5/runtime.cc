#include "t5/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace lorahub::t5 {
namespace {
std::atomic<bool> g_packed{true};
}  // namespace

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int set_threads(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return n;
}

void set_packed_encoder(bool on) { g_packed = on; }
bool packed_encoder() { return g_packed; }

}  // namespace lorahub::t5
