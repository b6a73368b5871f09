#include "t5/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace lorahub::t5 {
namespace {
std::atomic<bool> g_ragged{true};
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

void set_ragged_attention(bool on) { g_ragged = on; }
bool ragged_attention() { return g_ragged; }

}  // namespace lorahub::t5
