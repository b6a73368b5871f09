#pragma once
// A bias-free projection y = x W^T, with an optional low-rank update
// y += scale * (x A^T) B^T supplied at call time. The update may carry one
// (A, B) per group of batch rows, so one forward pass serves several
// compositions (Punica / S-LoRA style grouped products).

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace lorahub::t5 {

class WeightStore;

// The update of one projection. `a` is [G, r, in], `b` is [G, out, r]; the
// batch of B rows is cut into G equal consecutive groups, group g using
// (a[g], b[g]). Rank r may differ between projections but not between groups.
struct LowRankUpdate {
  at::Tensor a;
  at::Tensor b;
  double scale = 1.0;
  bool defined() const { return a.defined(); }
  int64_t groups() const { return a.size(0); }
};

// Updates for the projections of one model, indexed by site (see
// T5Model::sites()); an entry with undefined tensors leaves its site as is.
struct LowRankSet {
  std::vector<LowRankUpdate> by_site;
  const LowRankUpdate* at(int site) const {
    if (site < 0 || site >= static_cast<int>(by_site.size())) return nullptr;
    const auto& u = by_site[static_cast<size_t>(site)];
    return u.defined() ? &u : nullptr;
  }
};

// y + scale * (x A^T) B^T for x [B, T, in] and y [B, T, out], grouped by rows.
// The one function that applies LoRA anywhere in the project.
at::Tensor add_low_rank(const at::Tensor& x, const at::Tensor& y, const LowRankUpdate& u);

class Linear {
 public:
  Linear() = default;
  // Looks up `<module>.weight` of shape [out, in]; `site` indexes LowRankSet.
  Linear(const WeightStore& w, const std::string& module, int64_t in, int64_t out, int site);
  at::Tensor forward(const at::Tensor& x, const LowRankSet* lora) const;
  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;
  int site_ = -1;
};

}  // namespace lorahub::t5
