#pragma once
// T5 building blocks. Each layer resolves its weights once, in its
// constructor, checking their shapes; forward is const.

#include "model/linear.h"
#include "model/rms_norm.h"
#include "t5/t5_config.h"
#include "t5/t5_names.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lorahub::t5 {

// The family-neutral pieces T5's layers are built from (src/model).
using model::Linear;
using model::LowRankSet;
using model::WeightStore;

// T5LayerNorm: scale only, no mean subtraction, variance in float32.
using model::RmsNorm;

// T5's bucketed relative positions (HF `_relative_position_bucket`):
// `relative` = key position - query position.
at::Tensor relative_position_bucket(const at::Tensor& relative, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance);

// The learned per-head bias of the first layer of a stack, shared by all its
// layers. forward gives [1, heads, q_len, k_len] for queries starting at
// position `q_offset`.
class RelativePositionBias {
 public:
  RelativePositionBias() = default;
  RelativePositionBias(const WeightStore& w, const std::string& name, const T5Config& c,
                       bool bidirectional);
  at::Tensor forward(int64_t q_len, int64_t k_len, int64_t q_offset = 0) const;

 private:
  at::Tensor table_;  // [num_buckets, heads]
  bool bidirectional_ = true;
  int64_t num_buckets_ = 32, max_distance_ = 128;
};

// Keys and values kept across decoding steps. Self-attention caches are
// preallocated to `capacity` positions and filled step by step; cross-
// attention caches hold the projected encoder states, computed once.
struct AttentionCache {
  at::Tensor k, v;  // [B, heads, capacity or S, d_kv]
  int64_t length = 0;
  int64_t capacity = 0;
};

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

// Multi-head attention without the 1/sqrt(d_kv) scaling (T5's convention).
class Attention {
 public:
  Attention() = default;
  Attention(const WeightStore& w, const std::string& module, const T5Config& c, model::ProjectionRegistry& sites);
  // x [B, T, d_model]; `kv_input` undefined for self-attention, the encoder
  // states for cross-attention; `bias` [B or 1, heads, T, K] includes masks.
  // With `packed`, the packed input is [G, M, d_model] (see PackedRows): for
  // self-attention x, whose `bias` is then not read; for cross-attention
  // `kv_input`, whose projections are unpacked to [B, S, ...] (projecting
  // real tokens only).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& kv_input, const at::Tensor& bias,
                     AttentionCache* cache, const LowRankSet* lora, const PackedRows* packed = nullptr) const;

 private:
  at::Tensor split_heads(const at::Tensor& x) const;
  // softmax(q k^T + bias) v over [B, heads, T, d_kv] -> [B, T, heads * d_kv].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) const;
  // The same into `out` [B, T, heads * d_kv] with the fused CPU kernel
  // (t5/cpu_kernels.h), for float32 inference with unit-stride rows; false,
  // and nothing written, where that does not apply.
  bool attend_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                    const at::Tensor& out) const;
  at::Tensor attend_packed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedRows& p) const;
  Linear q_, k_, v_, o_;
  int64_t heads_ = 0, d_kv_ = 0;
};

// `act` applied elementwise to `h` (any shape), as transformers 4.36's
// ACT2FN module computes it (t5_config.h lists the formulas).
at::Tensor activate(Activation act, const at::Tensor& h);

// DenseReluDense: wo(act(wi x)), or wo(act(wi_0 x) * wi_1 x) when gated.
class FeedForward {
 public:
  FeedForward() = default;
  FeedForward(const WeightStore& w, const std::string& module, const T5Config& c, model::ProjectionRegistry& sites);
  at::Tensor forward(const at::Tensor& x, const LowRankSet* lora) const;

 private:
  Linear wi_, wi_1_, wo_;  // wi_ is wi or wi_0
  bool gated_ = false;
  Activation act_ = Activation::kRelu;
};

}  // namespace lorahub::t5
