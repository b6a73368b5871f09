#pragma once
// Compositions of the modules of a pool for weight vectors w (DESIGN.md 3):
//   LoraHub: A = sum_i w_i A_i, B = sum_i w_i B_i,  delta W = s * B A
//            (the reference sums A and B separately, cross terms included);
//   CAT:     delta W = sum_i w_i s_i B_i A_i (ranks concatenated, no cross terms).
// Compositions are low-rank updates applied at run time (LanguageModel passes with
// a LowRankSet, one composition per group of batch rows) or merged into a
// copy of the base weights; the pool and the base model are never modified.

#include "io/tensor_map.h"
#include "lora/lora_pool.h"
#include "lora/method.h"
#include "model/linear.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

namespace lorahub::model {
class LanguageModel;
class WeightStore;
}  // namespace lorahub::model

namespace lorahub::lora {

// compose, merge and composed_adapter take the run-time methods (kLoraHub,
// kCat) of lora/method.h; the merge methods are in lora/merge_methods.h.

// Weights: [N] for one composition or [P, N] for P of them (row p is used
// by the p-th group of batch rows). The updates are float32 (the pool's
// precision) for any model dtype; the model casts them where it applies them. With `per_target` (CAT only), [N, L] or
// [P, N, L]: one weight per module and target projection, L = targets().size().
model::LowRankSet compose(const LoraPool& pool, const at::Tensor& weights, Method method, bool per_target = false);

// The base weights with the (single) composition folded in: W + s * B A.
std::shared_ptr<model::WeightStore> merge(const model::LanguageModel& base, const LoraPool& pool,
                                       const at::Tensor& weights, Method method, bool per_target = false);

// The composition as a PEFT state dict (keys "base_model.model.<module>.lora_A.weight")
// and its rank and lora_alpha (LoraHub: the pool's; CAT: r = N*r, alpha = r).
struct ComposedAdapter {
  io::TensorMap tensors;
  int64_t r = 0;
  double lora_alpha = 0;
};
ComposedAdapter composed_adapter(const LoraPool& pool, const at::Tensor& weights, Method method,
                                 bool per_target = false);

}  // namespace lorahub::lora
