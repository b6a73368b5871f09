#include "t5/runtime.h"

#include <atomic>

namespace lorahub::t5 {
namespace {
std::atomic<bool> g_packed{true};
}  // namespace

void set_packed_encoder(bool on) { g_packed = on; }
bool packed_encoder() { return g_packed; }

}  // namespace lorahub::t5
