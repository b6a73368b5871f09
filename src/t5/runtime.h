#pragma once
// Process-wide settings for running models on the CPU.

namespace lorahub::t5 {

// Keeps freed tensor memory in the heap instead of returning it to the
// kernel. glibc serves blocks above 128 KiB with mmap and unmaps them on
// free, so every forward pass page-faults its activations back in (measured:
// 40% of a LoraHub step in the kernel). Call once, early in main.
void tune_allocator();

// torch intra-op threads; 0 means every core. Returns the count set.
int set_threads(int threads);

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
