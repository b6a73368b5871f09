#include "t5/layers.h"

#include "t5/cpu_kernels.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace lorahub::t5 {

Attention::Attention(const WeightStore& w, const std::string& module, const T5Config& c,
                     model::ProjectionRegistry& sites)
    : heads_(c.num_heads), d_kv_(c.d_kv) {
  const int64_t inner = c.inner_dim();
  q_ = Linear(w, sites, module + ".q", c.d_model, inner, model::ProjectionRole::kAttentionQuery);
  k_ = Linear(w, sites, module + ".k", c.d_model, inner, model::ProjectionRole::kAttentionKey);
  v_ = Linear(w, sites, module + ".v", c.d_model, inner, model::ProjectionRole::kAttentionValue);
  o_ = Linear(w, sites, module + ".o", inner, c.d_model, model::ProjectionRole::kAttentionOutput);
}

at::Tensor Attention::split_heads(const at::Tensor& x) const {
  return x.view({x.size(0), x.size(1), heads_, d_kv_}).transpose(1, 2);
}

bool Attention::attend_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                             const at::Tensor& out) const {
  // CPU float32 without grad, rows of unit stride (a one-column bias has none to speak of).
  auto plain = [](const at::Tensor& x) {
    return x.device().is_cpu() && x.scalar_type() == at::kFloat && !x.requires_grad() &&
           (x.stride(-1) == 1 || x.size(-1) == 1);
  };
  if (!plain(q) || !plain(k) || !plain(v) || !plain(out) || (bias.defined() && !plain(bias))) return false;
  const int64_t batch = q.size(0), t = q.size(2), keys = k.size(2);
  const at::Tensor b = bias.defined() ? bias.expand({batch, heads_, t, keys}) : at::Tensor();
  at::parallel_for(0, batch * heads_, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(t * keys));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t row = item / heads_, h = item % heads_;
      auto at = [&](const at::Tensor& x) { return x.data_ptr<float>() + row * x.stride(0) + h * x.stride(1); };
      cpu::attention(at(q), q.stride(2), at(k), k.stride(2), at(v), v.stride(2), t, keys, d_kv_,
                     b.defined() ? at(b) : nullptr, b.defined() ? b.stride(2) : 0,
                     out.data_ptr<float>() + row * out.stride(0) + h * d_kv_, out.stride(1), scores.data());
    }
  });
  return true;
}

at::Tensor Attention::attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& bias) const {
  if (q.device().is_cpu() && !q.requires_grad()) {  // no output buffer where the fused path cannot run
    at::Tensor fused = at::empty({q.size(0), q.size(2), heads_ * d_kv_}, q.options());
    if (attend_fused(q, k, v, bias, fused)) return fused;
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1));
  if (bias.defined()) scores.add_(bias);  // a fresh tensor: in place saves a pass over [B, H, T, K]
  const at::Tensor weights = at::softmax(scores, -1, model::at_least_float_type(scores)).to(scores.scalar_type());
  const at::Tensor out = at::matmul(weights, v).transpose(-3, -2);  // [..., T, H, d_kv]
  return out.reshape({out.size(0), out.size(1), -1});
}

at::Tensor Attention::attend_packed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const PackedRows& p) const {
  // q, k, v [G, heads, M, d_kv]: example e is positions [offset, offset + len)
  // of every repeat, a strided slice; its output goes straight to its rows.
  at::Tensor out = at::empty({q.size(0), q.size(2), heads_ * d_kv_}, q.options());
  for (size_t e = 0; e < p.lengths.size(); ++e) {
    const int64_t off = p.offsets[e], len = p.lengths[e];
    if (len == 0) continue;
    at::Tensor b;
    if (p.position_bias.defined()) b = p.position_bias.narrow(2, 0, len).narrow(3, 0, len);
    const at::Tensor qe = q.narrow(2, off, len), ke = k.narrow(2, off, len), ve = v.narrow(2, off, len);
    const at::Tensor rows = out.narrow(1, off, len);
    if (!attend_fused(qe, ke, ve, b, rows)) rows.copy_(attend(qe, ke, ve, b));
  }
  return out;
}

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& kv_input,
                              const at::Tensor& bias, AttentionCache* cache,
                              const LowRankSet* lora, const PackedRows* packed) const {
  const at::Tensor q = split_heads(q_.forward(x, lora));
  at::Tensor k, v;
  if (kv_input.defined()) {  // cross-attention: encoder states, projected once
    if (cache && cache->k.defined()) {
      k = cache->k;
      v = cache->v;
    } else {
      k = k_.forward(kv_input, lora);
      v = v_.forward(kv_input, lora);
      if (packed) {
        k = unpack(k, *packed);
        v = unpack(v, *packed);
      }
      k = split_heads(k);
      v = split_heads(v);
      if (cache) {
        cache->k = k;
        cache->v = v;
      }
    }
  } else {
    k = split_heads(k_.forward(x, lora));
    v = split_heads(v_.forward(x, lora));
    if (cache) {
      const int64_t t = x.size(1);
      if (!cache->k.defined()) {
        cache->k = at::empty({x.size(0), heads_, cache->capacity, d_kv_}, k.options());
        cache->v = at::empty_like(cache->k);
      }
      if (cache->length + t > cache->capacity) {
        throw std::logic_error("attention cache overflow");
      }
      cache->k.narrow(2, cache->length, t).copy_(k);
      cache->v.narrow(2, cache->length, t).copy_(v);
      cache->length += t;
      k = cache->k.narrow(2, 0, cache->length);
      v = cache->v.narrow(2, 0, cache->length);
    }
  }
  const bool packed_self = packed && !kv_input.defined();
  return o_.forward(packed_self ? attend_packed(q, k, v, *packed) : attend(q, k, v, bias), lora);
}

at::Tensor activate(Activation act, const at::Tensor& h) {
  switch (act) {
    case Activation::kRelu: return at::relu(h);
    case Activation::kGelu: return at::gelu(h);
    case Activation::kGeluTanh: return at::gelu(h, "tanh");
    case Activation::kSilu: return at::silu(h);
    case Activation::kQuickGelu: return h * at::sigmoid(1.702 * h);
    case Activation::kRelu2: return at::relu(h).square();
    case Activation::kRelu6: return at::hardtanh(h, 0, 6);
    case Activation::kLeakyRelu: return at::leaky_relu(h, 0.01);
    case Activation::kSigmoid: return at::sigmoid(h);
    case Activation::kTanh: return at::tanh(h);
    case Activation::kLinear: return h;
    case Activation::kMish: return at::mish(h);
    case Activation::kGelu10: return at::clamp(at::gelu(h), -10, 10);
    case Activation::kLaplace: return 0.5 * (1.0 + at::erf((h - 0.707107) / (0.282095 * std::sqrt(2.0))));
  }
  throw std::logic_error("activate: an Activation without a formula");
}

FeedForward::FeedForward(const WeightStore& w, const std::string& module, const T5Config& c,
                         model::ProjectionRegistry& sites)
    : gated_(c.is_gated), act_(c.activation) {
  if (gated_) {
    wi_ = Linear(w, sites, module + ".wi_0", c.d_model, c.d_ff, model::ProjectionRole::kFeedForwardIn);
    wi_1_ = Linear(w, sites, module + ".wi_1", c.d_model, c.d_ff, model::ProjectionRole::kFeedForwardUp);
  } else {
    wi_ = Linear(w, sites, module + ".wi", c.d_model, c.d_ff, model::ProjectionRole::kFeedForwardIn);
  }
  wo_ = Linear(w, sites, module + ".wo", c.d_ff, c.d_model, model::ProjectionRole::kFeedForwardOut);
}

at::Tensor FeedForward::forward(const at::Tensor& x, const LowRankSet* lora) const {
  at::Tensor h = wi_.forward(x, lora);
  const at::Tensor gate = gated_ ? wi_1_.forward(x, lora) : at::Tensor();
  // Inference in float32 on the CPU: gelu_new and the gate in one pass, in
  // place (h is this call's own tensor).
  if (act_ == Activation::kGeluTanh && h.device().is_cpu() && h.scalar_type() == at::kFloat && !h.requires_grad() &&
      h.is_contiguous() && (!gate.defined() || (gate.scalar_type() == at::kFloat && gate.is_contiguous()))) {
    cpu::gelu_tanh(h.data_ptr<float>(), gate.defined() ? gate.data_ptr<float>() : nullptr, h.data_ptr<float>(), h.numel());
    return wo_.forward(h, lora);
  }
  h = activate(act_, h);
  if (gated_) h = h * gate;
  return wo_.forward(h, lora);
}

}  // namespace lorahub::t5
