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

// A right-padded batch read row by row, for self-attention: row b holds
// `lengths[b % n]` real positions (n = lengths.size(), which divides the
// batch: several candidates over the same n examples repeat them), then
// padding. Attention then runs over each row's real queries and keys only,
// rows of one length together, with `position_bias` ([1, heads, >= T, >= T],
// or undefined: none) in place of the masked bias; a padded query's output
// is 0. Worth it on CPU when padding is a large share of the [T, T]
// products; the padded positions never reach a real token (they are masked
// as keys).
struct RaggedRows {
  std::vector<int64_t> lengths;
  at::Tensor position_bias;
};

// Multi-head attention without the 1/sqrt(d_kv) scaling (T5's convention).
class Attention {
 public:
  Attention() = default;
  Attention(const WeightStore& w, const std::string& module, const T5Config& c, SiteTable& sites);
  // x [B, T, d_model]; `kv_input` undefined for self-attention, the encoder
  // states for cross-attention; `bias` [B or 1, heads, T, K] includes masks.
  // With `ragged`, `bias` is not read (see RaggedRows).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& kv_input, const at::Tensor& bias,
                     AttentionCache* cache, const LowRankSet* lora, const RaggedRows* ragged = nullptr) const;

 private:
  at::Tensor split_heads(const at::Tensor& x) const;
  // softmax(q k^T + bias) v over [B, heads, T, d_kv] -> [B, T, heads * d_kv].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias) const;
  at::Tensor attend_ragged(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const RaggedRows& r) const;
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
