#pragma once
// T5's relative position bias (HF modeling_t5 T5Attention.compute_bias):
// the bucketing of key - query offsets and the learned per-head table.

#include "t5/t5_config.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace lorahub::model {
class WeightStore;
}

namespace lorahub::t5 {

using model::WeightStore;

// T5's bucketed relative positions (HF `_relative_position_bucket`):
// `relative` = key position - query position.
at::Tensor relative_position_bucket(const at::Tensor& relative, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance);

// The learned per-head bias of the first layer of a stack, shared by all its
// layers. forward gives [1, heads, q_len, k_len] for queries starting at
// position `q_offset`.
class RelativePositionBias {
 public:
  RelativePositionBias() = default;
  RelativePositionBias(const WeightStore& w, const std::string& name, const T5Config& c,
                       bool bidirectional);
  at::Tensor forward(int64_t q_len, int64_t k_len, int64_t q_offset = 0) const;

 private:
  at::Tensor table_;  // [num_buckets, heads]
  bool bidirectional_ = true;
  int64_t num_buckets_ = 32, max_distance_ = 128;
};

}  // namespace lorahub::t5
