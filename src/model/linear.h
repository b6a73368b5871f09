#pragma once
// A projection y = x W^T (+ b), with an optional low-rank update
// y += scale * (x A^T) B^T supplied at call time. The update may carry one
// (A, B) per group of batch rows, so one forward pass serves several
// compositions (Punica / S-LoRA style grouped products).

#include "model/projections.h"

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lorahub::model {

class WeightStore;

// The update of one projection. `a` is [G, r, in], `b` is [G, out, r]; the
// batch of B rows is cut into G equal consecutive groups, group g using
// (a[g], b[g]). Rank r may differ between projections but not between groups.
// Updates and IA3 vectors may be float32 under a bfloat16 model (compositions,
// trained parameters): they are cast to the activations' dtype where applied,
// so autograd reaches the float32 tensors.
struct LowRankUpdate {
  at::Tensor a;
  at::Tensor b;
  double scale = 1.0;
  bool defined() const { return a.defined(); }
  int64_t groups() const { return a.size(0); }
};

// Updates for the projections of one model, indexed by site (see
// LanguageModel::projections()); an entry with undefined tensors leaves its site as is.
// IA3 (Liu et al., 2022) on a projection: a learned vector that rescales
// its input (PEFT's feed-forward modules: wo) or its output (k, v).
struct SiteScale {
  at::Tensor vector;  // [in] or [out]
  bool on_input = false;
  bool defined() const { return vector.defined(); }
};

struct LowRankSet {
  std::vector<LowRankUpdate> by_site;
  std::vector<SiteScale> scales;  // by site; empty when no IA3
  const LowRankUpdate* at(int site) const {
    if (site < 0 || site >= static_cast<int>(by_site.size())) return nullptr;
    const auto& u = by_site[static_cast<size_t>(site)];
    return u.defined() ? &u : nullptr;
  }
  const SiteScale* scale_at(int site) const {
    if (site < 0 || site >= static_cast<int>(scales.size())) return nullptr;
    const auto& s = scales[static_cast<size_t>(site)];
    return s.defined() ? &s : nullptr;
  }
};

// Half-precision tensors as float32, float32 and float64 as they are: the
// precision of norms, softmax and losses (as HF computes them in float32).
at::Tensor at_least_float(const at::Tensor& x);
// The dtype at_least_float gives, without the copy: for kernels that take a
// compute dtype (at::softmax(x, dim, dtype) upcasts inside the kernel).
at::ScalarType at_least_float_type(const at::Tensor& x);
// The same rule for a dtype: half types -> float32, float32 and float64 kept.
// Also the precision of everything kept beside a model's weights (module
// pools, compositions, trained LoRA/IA3 parameters).
at::ScalarType at_least_float_type(at::ScalarType t);

// y + scale * (x A^T) B^T for x [B, T, in] and y [B, T, out], grouped by rows.
// The one function that applies LoRA anywhere in the project.
at::Tensor add_low_rank(const at::Tensor& x, const at::Tensor& y, const LowRankUpdate& u);

class Linear {
 public:
  Linear() = default;
  // Looks up `<module>.weight` of shape [out, in] (and `<module>.bias` [out]
  // when `bias`; throws naming the file and tensor) and registers the
  // projection in `sites`; its site indexes LowRankSet.
  Linear(const WeightStore& w, ProjectionRegistry& sites, const std::string& module, int64_t in, int64_t out,
         ProjectionRole role, bool bias = false);
  // PEFT's order: y = x W^T + b, then + the low-rank update, then an output
  // IA3 scale (which therefore scales the bias too); an input IA3 scale
  // multiplies x first.
  at::Tensor forward(const at::Tensor& x, const LowRankSet* lora) const;
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }  // undefined when none

 private:
  at::Tensor weight_, bias_;
  int site_ = -1;
};

}  // namespace lorahub::model
