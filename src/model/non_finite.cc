#include "model/non_finite.h"

#include <ATen/ATen.h>

namespace lorahub::model {

void fold_finite_logits(at::Tensor& flag, const at::Tensor& logits, const at::Tensor& open) {
  const at::Tensor ok = at::logical_or(at::isfinite(logits).all(-1), open.to(logits.device()) == 0).all();
  flag = flag.defined() ? at::logical_and(flag, ok) : ok;
}

}  // namespace lorahub::model
