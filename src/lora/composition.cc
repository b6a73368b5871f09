#include "lora/composition.h"

#include "model/language_model.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lorahub::lora {

namespace {

// Weights as [P, N] (or [P, N, L] per target) in the pool's precision (float32
// under float32 and half-precision models, float64 under float64) and device.
// Never in a bfloat16 model's dtype: its 8 significant bits would make close
// candidates compose identically (a staircase for COBYLA and CMA-ES) and the
// evaluated composition differ from the reported weights.
at::Tensor batched_weights(const LoraPool& pool, const at::Tensor& weights, bool per_target) {
  const int64_t n = pool.size();
  const int64_t l = static_cast<int64_t>(pool.targets().size());
  const int64_t single_dims = per_target ? 2 : 1;
  const at::Tensor w = weights.dim() == single_dims ? weights.unsqueeze(0) : weights;
  const bool ok = w.dim() == single_dims + 1 && w.size(1) == n && (!per_target || w.size(2) == l);
  if (!ok) {
    throw std::invalid_argument("composition weights of shape " + std::string(c10::str(weights.sizes())) +
                                " for a pool of " + std::to_string(n) + " modules" +
                                (per_target ? " and " + std::to_string(l) + " targets" : ""));
  }
  const auto& ref = pool.targets().front().a;
  return w.to(ref.device(), ref.scalar_type());
}

}  // namespace

model::LowRankSet compose(const LoraPool& pool, const at::Tensor& weights, Method method, bool per_target) {
  if (!is_runtime_composition(method)) {
    throw std::invalid_argument("composition at run time: " + method_name(method) +
                                " is a merge method (merge_adapters), not lorahub or cat");
  }
  if (per_target && method != Method::kCat) {
    throw std::invalid_argument("per-target weights are defined for the cat composition only");
  }
  const at::Tensor w = batched_weights(pool, weights, per_target);
  const int64_t p = w.size(0), n = pool.size(), r = pool.rank();
  model::LowRankSet set;
  set.by_site.resize(static_cast<size_t>(pool.num_sites()));
  for (size_t ti = 0; ti < pool.targets().size(); ++ti) {
    const PoolTarget& t = pool.targets()[ti];
    const int64_t in = t.a.size(2), out = t.b.size(1);
    model::LowRankUpdate u;
    if (method == Method::kLoraHub) {
      // [P, N] x [N, r*in] -> [P, r, in]; the same for B.
      u.a = at::matmul(w, t.a.reshape({n, r * in})).view({p, r, in});
      u.b = at::matmul(w, t.b.reshape({n, out * r})).view({p, out, r});
      u.scale = t.scale;
    } else {
      const at::Tensor wt = per_target ? w.select(2, static_cast<int64_t>(ti)) : w;  // [P, N]
      // A_cat[p] stacks w_pi * s * A_i along the rank; B_cat concatenates B_i.
      u.a = (wt.view({p, n, 1, 1}) * t.scale * t.a.unsqueeze(0)).reshape({p, n * r, in});
      u.b = t.b.permute({1, 0, 2}).reshape({1, out, n * r}).expand({p, out, n * r});
      u.scale = 1.0;
    }
    set.by_site[static_cast<size_t>(t.site)] = u;
  }
  return set;
}

std::shared_ptr<model::WeightStore> merge(const model::LanguageModel& base, const LoraPool& pool, const at::Tensor& weights,
                                       Method method, bool per_target) {
  if (weights.dim() != (per_target ? 2 : 1)) throw std::invalid_argument("merge: expected one weight vector");
  const model::LowRankSet set = compose(pool, weights, method, per_target);
  io::TensorMap deltas;
  for (const PoolTarget& t : pool.targets()) {
    const model::LowRankUpdate& u = set.by_site[static_cast<size_t>(t.site)];
    deltas[t.module + ".weight"] = at::matmul(u.b[0], u.a[0]) * u.scale;
  }
  return base.weights().with_added(deltas, "LoRA composition");
}

ComposedAdapter composed_adapter(const LoraPool& pool, const at::Tensor& weights, Method method,
                                 bool per_target) {
  if (weights.dim() != (per_target ? 2 : 1)) throw std::invalid_argument("export: expected one weight vector");
  const model::LowRankSet set = compose(pool, weights, method, per_target);
  ComposedAdapter out;
  out.r = method == Method::kLoraHub ? pool.rank() : pool.rank() * pool.size();
  // CAT folds the modules' scales into A, so the adapter's own scale is 1.
  out.lora_alpha = method == Method::kLoraHub ? pool.lora_alpha() : static_cast<double>(out.r);
  for (const PoolTarget& t : pool.targets()) {
    const model::LowRankUpdate& u = set.by_site[static_cast<size_t>(t.site)];
    out.tensors[peft_key(t.module, true)] = u.a[0].to(at::kFloat).contiguous();
    // One lora_alpha for the adapter: a target with another scale (a shared
    // alpha_pattern) has the ratio folded into its B.
    const double fold = method == Method::kLoraHub ? u.scale / pool.scale() : 1.0;
    out.tensors[peft_key(t.module, false)] = (fold == 1.0 ? u.b[0] : u.b[0] * fold).to(at::kFloat).contiguous();
  }
  return out;
}

}  // namespace lorahub::lora
