#pragma once
// T5 building blocks: attention (with its decoding cache) and the
// feed-forward. Each layer resolves its weights once, in its constructor,
// checking their shapes; forward is const.

#include "model/linear.h"
#include "model/rms_norm.h"
#include "t5/packed_rows.h"
#include "t5/relative_position.h"
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

// Keys and values kept across decoding steps. Self-attention caches are
// preallocated to `capacity` positions and filled step by step; cross-
// attention caches hold the projected encoder states, computed once.
struct AttentionCache {
  at::Tensor k, v;  // [B, heads, capacity or S, d_kv]
  int64_t length = 0;
  int64_t capacity = 0;
};

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
