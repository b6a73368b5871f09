#pragma once
// Process-wide settings for running models on the CPU, any family.

namespace lorahub::model {

// Keeps freed tensor memory in the heap instead of returning it to the
// kernel. glibc serves blocks above 128 KiB with mmap and unmaps them on
// free, so every forward pass page-faults its activations back in (measured:
// 40% of a LoraHub step in the kernel). Call once, early in main.
void tune_allocator();

// torch intra-op threads; 0 means every core. Returns the count set.
int set_threads(int threads);

}  // namespace lorahub::model
