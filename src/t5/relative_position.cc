#include "t5/relative_position.h"

#include "model/weight_store.h"

#include <ATen/ATen.h>

#include <cmath>

namespace lorahub::t5 {

at::Tensor relative_position_bucket(const at::Tensor& relative, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance) {
  at::Tensor buckets = at::zeros_like(relative);
  at::Tensor rel = relative;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (rel > 0).to(at::kLong) * num_buckets;
    rel = rel.abs();
  } else {
    rel = -at::minimum(rel, at::zeros_like(rel));
  }
  const int64_t max_exact = num_buckets / 2;
  const at::Tensor is_small = rel < max_exact;
  // Same float32 operations as HF, so bucket boundaries agree exactly.
  at::Tensor large = max_exact + (at::log(rel.to(at::kFloat) / static_cast<double>(max_exact)) /
                                  std::log(static_cast<double>(max_distance) / max_exact) *
                                  static_cast<double>(num_buckets - max_exact))
                                     .to(at::kLong);
  large = at::minimum(large, at::full_like(large, num_buckets - 1));
  return buckets + at::where(is_small, rel, large);
}

RelativePositionBias::RelativePositionBias(const WeightStore& w, const std::string& name,
                                           const T5Config& c, bool bidirectional)
    : table_(w.get(name, {c.relative_attention_num_buckets, c.num_heads})),
      bidirectional_(bidirectional),
      num_buckets_(c.relative_attention_num_buckets),
      max_distance_(c.relative_attention_max_distance) {}

at::Tensor RelativePositionBias::forward(int64_t q_len, int64_t k_len, int64_t q_offset) const {
  const auto opts = at::TensorOptions().dtype(at::kLong).device(table_.device());
  if (table_.requires_grad()) {
    // Training the table: a bucket per (query, key) pair, as HF does. Same
    // values as below, but its backward sums the table's gradient in HF's
    // order, which keeps models trained here (the demo world) bit for bit.
    const at::Tensor context = at::arange(q_offset, q_offset + q_len, opts).unsqueeze(1);
    const at::Tensor memory = at::arange(k_len, opts).unsqueeze(0);
    const at::Tensor buckets = relative_position_bucket(memory - context, bidirectional_, num_buckets_, max_distance_);
    return at::embedding(table_, buckets).permute({2, 0, 1}).unsqueeze(0);
  }
  // Bias depends on key - query only: bucket the q_len + k_len - 1 distinct
  // offsets once, [heads, R] in increasing order, then row i (query position
  // q_offset + i) is the window of k_len values starting at q_len - 1 - i.
  const int64_t lowest = -(q_offset + q_len - 1);
  const at::Tensor relative = at::arange(lowest, lowest + q_len + k_len - 1, opts);
  const at::Tensor values =
      at::embedding(table_, relative_position_bucket(relative, bidirectional_, num_buckets_, max_distance_)).t().contiguous();
  // unfold: [heads, q_len, k_len] with window w starting at w; flip puts
  // window q_len - 1 - i at row i. Contiguous: the fused CPU attention reads
  // its rows directly.
  return values.unfold(1, k_len, 1).flip({1}).contiguous().unsqueeze(0);
}

}  // namespace lorahub::t5
