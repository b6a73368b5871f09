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

}  // namespace lorahub::t5
