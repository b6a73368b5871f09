#include "model/rms_norm.h"

#include "model/linear.h"
#include "model/weight_store.h"

#include <ATen/ATen.h>

namespace lorahub::model {

RmsNorm::RmsNorm(const WeightStore& w, const std::string& name, int64_t dim, double eps)
    : weight_(w.get(name, {dim})), eps_(eps) {}

at::Tensor RmsNorm::forward(const at::Tensor& x) const {
  const at::Tensor variance = at_least_float(x).pow(2).mean(-1, /*keepdim=*/true);
  at::Tensor h = x * at::rsqrt(variance + eps_);
  if (h.scalar_type() != weight_.scalar_type()) h = h.to(weight_.scalar_type());
  return weight_ * h;
}

}  // namespace lorahub::model
