#pragma once
// Model-merging methods on LoRA adapters, with PEFT's semantics. They act on
// the A / B tensors of adapters only (no model, any family).
//
// 1. merge_utils: the primitives of PEFT's peft/utils/merge_utils.py (v0.19.1)
//    on task tensors T_i of one shape, weights w [N] (float32, as PEFT's
//    torch.tensor(list of floats)); k = int(density * numel):
//    - task_arithmetic  = sum_i w_i T_i
//    - magnitude_prune  : each T_i keeps its k largest |entries| (topk), then sum_i w_i T_i
//    - ties             : magnitude-prune each T_i; majority sign per entry =
//                         sign(sum_i T_i) ("total") or sign(sum_i sign T_i)
//                         ("frequency") of the pruned, unweighted tensors (>= 0 counts as +);
//                         keep w_i T_i where sign(T_i) equals it; result = sum kept / max(1, count kept)
//    - dare_linear      : T_i * M_i (M_i ~ Bernoulli(density)) / density, then sum_i w_i (.)
//    - dare_ties        : the DARE-pruned tensors, then ties' sign election and disjoint mean
//    density >= 1 keeps every entry (PEFT's prune returns the tensor); the
//    masks M_i come from a generator (dare_masks, drawn in adapter order) or
//    are passed explicitly. `rescale = false` gives PEFT <= 0.18's DARE, which
//    computed the division by density and dropped the result (PEFT #3152).
//
// 2. merge_adapters: PEFT's LoraModel.add_weighted_adapter(adapters, weights,
//    combination_type, svd_rank, svd_clamp, density, majority_sign_method)
//    per target module (a module some adapter lacks merges the others, as
//    PEFT skips it); the new adapter has lora_alpha = r (scaling 1):
//    - cat:   A = concat_rows(w_i s_i A_i), B = concat_cols(B_i), r = sum r_i.
//    - linear, ties, dare_linear, dare_ties, magnitude_prune (equal ranks):
//             A' = merge_utils(A_i, weights_A), B' = merge_utils(B_i, weights_B) with
//             weights_A[i] = sign(w_i s_i) sqrt(|w_i s_i|), weights_B[i] = sqrt(|w_i s_i|),
//             delta W = B' A'.
//    - svd, ties_svd, dare_linear_svd, dare_ties_svd, magnitude_prune_svd:
//             merge_utils on the deltas D_i = s_i B_i A_i with weights w_i
//             (svd: delta = sum_i w_i s_i B_i A_i), then torch.linalg.svd:
//             B = U[:, :r] diag(S[:r]), A = Vh[:r]; r = svd_rank or max r_i;
//             svd_clamp q: hi = quantile(cat(B, A flattened), q), both clamped to [-hi, hi].
//
// Negative weights: we follow PEFT >= 0.10's sign rule above (weights_A
// carries the sign, weights_B the magnitude), never refuse them. PEFT 0.7.1's
// linear computed math.sqrt(w) and failed on w < 0 ("math domain error");
// for w >= 0 and equal scalings its delta W (A = sum sqrt(w_i) s_i A_i,
// B = sum sqrt(w_i) B_i) equals ours: A' and B' themselves differ by the
// factor sqrt(s) moved from A to B. The svd family uses the single scaling of
// PEFT 0.7.1 (D_i = s_i B_i A_i weighted by w_i); PEFT >= 0.10 multiplies
// get_delta_weight (which includes s_i) by w_i s_i, i.e. s_i twice.
//
// Computation in float32 (the adapters' dtype), like PEFT. Errors
// (std::invalid_argument): density outside (0, 1] for a method that prunes,
// different ranks for a method that needs equal ranks, weights not one per
// adapter, an svd_rank above min(out, in), svd_clamp outside (0, 1],
// explicit masks of the wrong count or shape.

#include "lora/composition.h"
#include "lora/lora_adapter.h"

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::model {
class WeightStore;
}  // namespace lorahub::model

namespace lorahub::lora {

namespace merge_utils {

at::Tensor task_arithmetic(const std::vector<at::Tensor>& tensors, const at::Tensor& weights);
// magnitude_based_pruning: the k = int(density * numel) largest |entries| kept.
at::Tensor magnitude_based_pruning(const at::Tensor& tensor, double density);
at::Tensor magnitude_prune(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density);
// stacked [N, ...] -> bool mask [N, ...]: sign(T_i) == majority sign.
at::Tensor majority_sign_mask(const at::Tensor& stacked, MajoritySign method);
// sum_i (T_i * mask_i) / max(1, sum_i mask_i)
at::Tensor disjoint_merge(const at::Tensor& weighted, const at::Tensor& mask);
at::Tensor ties(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                MajoritySign method);
// Bernoulli(density) masks, one per tensor, drawn in order from `generator`
// (torch.bernoulli(torch.full_like(T, density))).
std::vector<at::Tensor> dare_masks(const std::vector<at::Tensor>& tensors, double density, at::Generator generator);
at::Tensor dare_linear(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                       const std::vector<at::Tensor>& masks, bool rescale = true);
at::Tensor dare_ties(const std::vector<at::Tensor>& tensors, const at::Tensor& weights, double density,
                     MajoritySign method, const std::vector<at::Tensor>& masks, bool rescale = true);

}  // namespace merge_utils

struct MergeOptions {
  Method method = Method::kLinear;  // any but kLoraHub
  double density = 1.0;             // (0, 1]; used by the pruning methods
  MajoritySign majority_sign = MajoritySign::kTotal;
  int64_t svd_rank = 0;              // 0: max r_i
  std::optional<double> svd_clamp;   // quantile in (0, 1]
  uint64_t seed = 0;                 // DARE masks: one CPU generator, modules in name order, A then B
  bool dare_rescale = true;          // false: PEFT <= 0.18 (no 1/density)
};

// One target module: A_i [r_i, in], B_i [out, r_i], scale s_i, weight w_i.
struct MergeInput {
  std::string id;  // names the adapter in errors
  at::Tensor a, b;
  double scale = 1;
  double weight = 0;
};
// The merged pair (scaling 1: delta W = B A). `generator` is used by DARE only.
LoraPair merge_module(const std::vector<MergeInput>& inputs, const MergeOptions& options,
                      at::Generator generator);

// add_weighted_adapter over every module of the adapters (weights: one per
// adapter). PEFT state-dict keys, r and lora_alpha = r.
ComposedAdapter merge_adapters(const std::vector<LoraAdapter>& adapters, const std::vector<double>& weights,
                               const MergeOptions& options);

// `base` with an adapter folded in: W + (lora_alpha / r) B A for every
// module "<m>" of the adapter (key base_model.model.<m>.lora_A.weight; base
// weight "<m>.weight"), in the store's dtype. Throws std::invalid_argument
// for a module the store lacks or a shape that disagrees.
std::shared_ptr<model::WeightStore> merged_weights(const model::WeightStore& base, const ComposedAdapter& adapter);

}  // namespace lorahub::lora
