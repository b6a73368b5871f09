#pragma once
// Llama building blocks (transformers 4.36 modeling_llama.py, eager path).
// Each layer resolves its weights once, in its constructor, checking their
// shapes; forward is const.

#include "llama/llama_config.h"
#include "model/linear.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>

namespace lorahub::llama {

using model::Linear;
using model::LowRankSet;
using model::WeightStore;

// Rotary position embeddings, rotate-half convention: inv_freq[i] =
// 1 / base^(2i / head_dim) in float32, angle = t * inv_freq[i], cos and sin
// repeated over both halves of a head. Scaling as LlamaLinearScalingRotary-
// Embedding (t = position / factor) and LlamaDynamicNTKScalingRotaryEmbedding
// (for a call whose key length L exceeds max_position_embeddings, base =
// theta * (factor * L / max_pos - (factor - 1))^(d / (d - 2))). transformers
// keeps a dynamic table grown by an earlier, longer call; this engine has no
// such state: every call is computed as a freshly loaded model computes it.
class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  explicit RotaryEmbedding(const LlamaConfig& c);
  // cos, sin [B, 1, T, head_dim] in `dtype` for `position_ids` [B, T] of a
  // call whose keys (cache included) number `key_length`. Computed in
  // float32, then cast, as HF's cached tables are.
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& position_ids, int64_t key_length,
                                            at::ScalarType dtype) const;
  // The float32 inverse frequencies [head_dim / 2] used at `key_length`.
  at::Tensor inv_freq(int64_t key_length) const;

 private:
  int64_t dim_ = 0, max_positions_ = 0;
  double theta_ = 10000.0, factor_ = 1.0;
  RopeScaling scaling_ = RopeScaling::kNone;
};

// x * cos + rotate_half(x) * sin, rotate_half([a, b]) = [-b, a] (halves of
// the last dimension). x [B, heads, T, head_dim].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Keys (after the rotation) and values of past positions, preallocated to
// `capacity` positions: [B, kv_heads, capacity, head_dim].
struct KvCache {
  at::Tensor k, v;
  int64_t length = 0;
  int64_t capacity = 0;
};

// Grouped-query attention: query head h reads key/value head h / kv_groups.
class Attention {
 public:
  Attention() = default;
  Attention(const WeightStore& w, model::ProjectionRegistry& sites, int64_t layer, const LlamaConfig& c);
  // x [B, T, hidden]; cos/sin from RotaryEmbedding for these T positions;
  // `mask` [B, 1, T, K] additive (0 or the dtype's lowest), K = cached + T.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     KvCache* cache, const LowRankSet* lora) const;

 private:
  // softmax(q k^T / sqrt(head_dim) + mask) v, float32 softmax, -> [B, T, heads * head_dim].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) const;
  Linear q_, k_, v_, o_;
  int64_t heads_ = 0, kv_heads_ = 0, head_dim_ = 0;
};

// SwiGLU: down_proj(silu(gate_proj x) * up_proj x).
class Mlp {
 public:
  Mlp() = default;
  Mlp(const WeightStore& w, model::ProjectionRegistry& sites, int64_t layer, const LlamaConfig& c);
  at::Tensor forward(const at::Tensor& x, const LowRankSet* lora) const;

 private:
  Linear gate_, up_, down_;
};

}  // namespace lorahub::llama
