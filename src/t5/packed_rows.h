#pragma once
// Batches with their right padding taken out (the CPU encoder's packed rows).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace lorahub::t5 {

// A right-padded batch with its padding taken out, for inference on the CPU.
// The B rows are read as G repeats of n examples (candidates repeat the same
// examples; G = 1 when the rows do not repeat), and each repeat holds its
// examples' real tokens one after another: hidden states are [G, M, d] with
// M = sum(lengths). Per-token layers (norms, projections, the feed-forward,
// grouped low-rank updates: G is a multiple of the candidates) run on it as
// on any batch, on real tokens only; self-attention runs example by example
// over its real positions, each example's repeats together, with
// `position_bias` ([1, heads, >= L, >= L], or undefined: none) in place of
// the masked bias.
struct PackedRows {
  std::vector<int64_t> lengths;  // n real lengths
  std::vector<int64_t> offsets;  // where each example starts within a repeat
  at::Tensor index;              // [G * M]: the real positions in the flattened [B * S] batch
  at::Tensor position_bias;
  int64_t batch = 0, length = 0;  // B, S
  int64_t tokens() const { return offsets.empty() ? 0 : offsets.back() + lengths.back(); }  // M
  int64_t repeats() const { return lengths.empty() ? 0 : batch / static_cast<int64_t>(lengths.size()); }  // G
};

// Packed rows [G, M, C] back in their padded places, [B, S, C], 0 elsewhere.
at::Tensor unpack(const at::Tensor& x, const PackedRows& p);

}  // namespace lorahub::t5
