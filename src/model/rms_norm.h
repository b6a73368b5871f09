#pragma once
// Root-mean-square layer norm, scale only: w * (x / sqrt(mean(x^2) + eps)),
// the mean in float32 (HF T5LayerNorm and LlamaRMSNorm; the two agree
// whenever weights and activations share a dtype, as they do here: both cast
// the normalised float32 value back before the scale).

#include <ATen/core/Tensor.h>

#include <string>

namespace lorahub::model {

class WeightStore;

class RmsNorm {
 public:
  RmsNorm() = default;
  // Looks up `name` of shape [dim]; throws naming the file and tensor.
  RmsNorm(const WeightStore& w, const std::string& name, int64_t dim, double eps);
  // x [..., dim] -> the same shape, in the weight's dtype.
  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_;
  double eps_ = 1e-6;
};

}  // namespace lorahub::model
