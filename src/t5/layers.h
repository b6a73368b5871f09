#pragma once
// T5 building blocks. Each layer resolves its weights once, in its
// constructor, checking their shapes; forward is const.

#include "t5/linear.h"
#include "t5/t5_config.h"
#include "t5/t5_names.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lorahub::t5 {

// Names of the projections that accept low-rank updates, indexed by site.
using SiteTable = std::vector<std::string>;

// T5LayerNorm: scale only, no mean subtraction, variance in float32.
class RmsNorm {
 public:
  RmsNorm() = default;
  RmsNorm(const WeightStore& w, const std::string& name, int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_;
  double eps_ = 1e-6;
};

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

// Multi-head attention without the 1/sqrt(d_kv) scaling (T5's convention).
class Attention {
 public:
  Attention() = default;
  Attention(const WeightStore& w, const std::string& module, const T5Config& c, SiteTable& sites);
  // x [B, T, d_model]; `kv_input` undefined for self-attention, the encoder
  // states for cross-attention; `bias` [B or 1, heads, T, K] includes masks.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& kv_input, const at::Tensor& bias,
                     AttentionCache* cache, const LowRankSet* lora) const;

 private:
  at::Tensor split_heads(const at::Tensor& x) const;
  Linear q_, k_, v_, o_;
  int64_t heads_ = 0, d_kv_ = 0;
};

// DenseReluDense: wo(act(wi x)), or wo(act(wi_0 x) * wi_1 x) when gated.
class FeedForward {
 public:
  FeedForward() = default;
  FeedForward(const WeightStore& w, const std::string& module, const T5Config& c, SiteTable& sites);
  at::Tensor forward(const at::Tensor& x, const LowRankSet* lora) const;

 private:
  Linear wi_, wi_1_, wo_;  // wi_ is wi or wi_0
  bool gated_ = false;
  Activation act_ = Activation::kRelu;
};

}  // namespace lorahub::t5
