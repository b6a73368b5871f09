#include "llama/layers.h"

#include "llama/llama_names.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace lorahub::llama {

RotaryEmbedding::RotaryEmbedding(const LlamaConfig& c)
    : dim_(c.head_dim()),
      max_positions_(c.max_position_embeddings),
      theta_(c.rope_theta),
      factor_(c.rope_scaling_factor),
      scaling_(c.rope_scaling) {}

at::Tensor RotaryEmbedding::inv_freq(int64_t key_length) const {
  double base = theta_;
  if (scaling_ == RopeScaling::kDynamic && key_length > max_positions_) {
    // In double, as Python computes this scalar.
    base = theta_ * std::pow(factor_ * static_cast<double>(key_length) / static_cast<double>(max_positions_) -
                                 (factor_ - 1.0),
                             static_cast<double>(dim_) / static_cast<double>(dim_ - 2));
  }
  // 1.0 / (base ** (arange(0, dim, 2).float() / dim)): float32 throughout.
  const at::Tensor exponent = at::arange(0, dim_, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim_);
  return at::reciprocal(at::pow(base, exponent));
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& position_ids, int64_t key_length,
                                                           at::ScalarType dtype) const {
  at::Tensor t = position_ids.to(at::kCPU, at::kFloat);
  if (scaling_ == RopeScaling::kLinear) t = t / factor_;
  const at::Tensor freqs = t.unsqueeze(-1) * inv_freq(key_length);  // [B, T, dim/2], as torch.outer
  const at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);   // [B, 1, T, dim]
  const auto device = position_ids.device();
  return {emb.cos().to(device, dtype), emb.sin().to(device, dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

Attention::Attention(const WeightStore& w, model::ProjectionRegistry& sites, int64_t layer, const LlamaConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim()) {
  using model::ProjectionRole;
  const int64_t d = c.hidden_size, q_out = heads_ * head_dim_, kv_out = kv_heads_ * head_dim_;
  const bool bias = c.attention_bias;
  q_ = Linear(w, sites, names::attn_proj(layer, names::kQProj), d, q_out, ProjectionRole::kAttentionQuery, bias);
  k_ = Linear(w, sites, names::attn_proj(layer, names::kKProj), d, kv_out, ProjectionRole::kAttentionKey, bias);
  v_ = Linear(w, sites, names::attn_proj(layer, names::kVProj), d, kv_out, ProjectionRole::kAttentionValue, bias);
  o_ = Linear(w, sites, names::attn_proj(layer, names::kOProj), q_out, d, ProjectionRole::kAttentionOutput, bias);
}

at::Tensor Attention::attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& mask) const {
  // The query heads of one key/value head side by side: [B, kv, groups * T, d]
  // against [B, kv, K, d] is repeat_kv's product without the copies.
  const int64_t batch = q.size(0), t = q.size(2), keys = k.size(2), groups = heads_ / kv_heads_;
  const at::Tensor qg = q.reshape({batch, kv_heads_, groups * t, head_dim_});
  at::Tensor scores = at::matmul(qg, k.transpose(-2, -1)).view({batch, heads_, t, keys});
  scores = scores / std::sqrt(static_cast<double>(head_dim_));
  if (mask.defined()) scores = scores + mask;
  // float32 softmax (float64 stays float64: its lowest mask value has no float32 form).
  const at::Tensor weights = at::softmax(scores, -1, model::at_least_float_type(scores)).to(q.scalar_type());
  const at::Tensor out = at::matmul(weights.reshape({batch, kv_heads_, groups * t, keys}), v)
                             .view({batch, heads_, t, head_dim_})
                             .transpose(1, 2);  // [B, T, heads, d]
  return out.reshape({batch, t, heads_ * head_dim_});
}

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                              const at::Tensor& mask, KvCache* cache, const LowRankSet* lora) const {
  const int64_t batch = x.size(0), t = x.size(1);
  auto split = [&](const at::Tensor& y, int64_t heads) {
    return y.view({batch, t, heads, head_dim_}).transpose(1, 2);
  };
  const at::Tensor q = apply_rotary(split(q_.forward(x, lora), heads_), cos, sin);
  at::Tensor k = apply_rotary(split(k_.forward(x, lora), kv_heads_), cos, sin);
  at::Tensor v = split(v_.forward(x, lora), kv_heads_);
  if (cache) {
    if (!cache->k.defined()) {
      cache->k = at::empty({batch, kv_heads_, cache->capacity, head_dim_}, k.options());
      cache->v = at::empty_like(cache->k);
    }
    if (cache->length + t > cache->capacity) throw std::logic_error("llama attention cache overflow");
    cache->k.narrow(2, cache->length, t).copy_(k);
    cache->v.narrow(2, cache->length, t).copy_(v);
    cache->length += t;
    k = cache->k.narrow(2, 0, cache->length);
    v = cache->v.narrow(2, 0, cache->length);
  }
  return o_.forward(attend(q, k, v, mask), lora);
}

Mlp::Mlp(const WeightStore& w, model::ProjectionRegistry& sites, int64_t layer, const LlamaConfig& c) {
  using model::ProjectionRole;
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  gate_ = Linear(w, sites, names::mlp_proj(layer, names::kGateProj), d, f, ProjectionRole::kFeedForwardIn);
  up_ = Linear(w, sites, names::mlp_proj(layer, names::kUpProj), d, f, ProjectionRole::kFeedForwardUp);
  down_ = Linear(w, sites, names::mlp_proj(layer, names::kDownProj), f, d, ProjectionRole::kFeedForwardOut);
}

at::Tensor Mlp::forward(const at::Tensor& x, const LowRankSet* lora) const {
  return down_.forward(at::silu(gate_.forward(x, lora)) * up_.forward(x, lora), lora);
}

}  // namespace lorahub::llama
