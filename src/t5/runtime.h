#pragma once
// T5's process-wide setting for running on the CPU (the family-neutral
// ones live in model/runtime.h).

#include "model/runtime.h"

namespace lorahub::t5 {

using model::set_threads;
using model::tune_allocator;

// The encoder on packed rows (PackedRows in t5/layers.h: padding taken out)
// for right-padded CPU batches where it pays; on by default. Off: every
// batch takes the padded, masked path (benchmarks and tests compare the two).
void set_packed_encoder(bool on);
bool packed_encoder();

// Sets packed_encoder() for the life of the scope and restores the value it
// found (tests and benchmarks compare both paths without leaking the setting).
class PackedEncoderScope {
 public:
  explicit PackedEncoderScope(bool on) : previous_(packed_encoder()) { set_packed_encoder(on); }
  ~PackedEncoderScope() { set_packed_encoder(previous_); }
  PackedEncoderScope(const PackedEncoderScope&) = delete;
  PackedEncoderScope& operator=(const PackedEncoderScope&) = delete;

 private:
  bool previous_;
};

}  // namespace lorahub::t5
