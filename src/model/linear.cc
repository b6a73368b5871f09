#include "model/linear.h"

#include "model/weight_store.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lorahub::model {

at::Tensor at_least_float(const at::Tensor& x) { return x.to(at_least_float_type(x)); }

at::ScalarType at_least_float_type(const at::Tensor& x) { return at_least_float_type(x.scalar_type()); }

at::ScalarType at_least_float_type(at::ScalarType t) { return t == at::kFloat || t == at::kDouble ? t : at::kFloat; }

at::Tensor add_low_rank(const at::Tensor& x, const at::Tensor& y, const LowRankUpdate& u) {
  const int64_t groups = u.groups();
  const int64_t rows = x.size(0);
  if (rows % groups != 0) {
    throw std::invalid_argument("low-rank update with " + std::to_string(groups) +
                                " groups applied to a batch of " + std::to_string(rows) + " rows");
  }
  const at::Tensor a = u.a.to(x.scalar_type());
  const at::Tensor b = u.b.to(x.scalar_type());
  if (groups == 1) {
    const at::Tensor h = at::matmul(x, a[0].t());
    return y.add(at::matmul(h, b[0].t()), u.scale);
  }
  // [B, T, in] -> [G, B/G * T, in]: each group's rows are contiguous.
  const at::Tensor xg = x.reshape({groups, -1, x.size(-1)});
  const at::Tensor h = at::bmm(xg, a.transpose(1, 2));
  const at::Tensor d = at::bmm(h, b.transpose(1, 2));
  return y.add(d.reshape(y.sizes()), u.scale);
}

Linear::Linear(const WeightStore& w, ProjectionRegistry& sites, const std::string& module, int64_t in, int64_t out,
               ProjectionRole role, bool bias)
    : weight_(w.get(module + ".weight", {out, in})), site_(sites.add({module, in, out, role})) {
  if (bias) bias_ = w.get(module + ".bias", {out});
}

at::Tensor Linear::forward(const at::Tensor& x, const LowRankSet* lora) const {
  if (!lora) return bias_.defined() ? at::matmul(x, weight_.t()).add_(bias_) : at::matmul(x, weight_.t());
  const SiteScale* ia3 = lora->scale_at(site_);
  const at::Tensor in = ia3 && ia3->on_input ? x * ia3->vector.to(x.scalar_type()) : x;
  at::Tensor y = at::matmul(in, weight_.t());
  if (bias_.defined()) y.add_(bias_);
  if (const LowRankUpdate* u = lora->at(site_)) y = add_low_rank(in, y, *u);
  if (ia3 && !ia3->on_input) y = y * ia3->vector.to(y.scalar_type());
  return y;
}

}  // namespace lorahub::model
