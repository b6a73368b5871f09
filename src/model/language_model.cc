#include "model/language_model.h"

#include <ATen/ATen.h>

namespace lorahub::model {
namespace {
at::Tensor repeat_rows(const at::Tensor& t, int64_t times) {
  if (!t.defined()) return t;
  std::vector<int64_t> reps(static_cast<size_t>(t.dim()), 1);
  reps[0] = times;
  return t.repeat(reps);
}
}  // namespace

PairBatch PairBatch::repeat(int64_t times) const {
  PairBatch r;
  r.input_ids = repeat_rows(input_ids, times);
  r.attention_mask = repeat_rows(attention_mask, times);
  r.labels = repeat_rows(labels, times);
  r.decoder_input_ids = repeat_rows(decoder_input_ids, times);
  r.target_start = repeat_rows(target_start, times);
  return r;
}

}  // namespace lorahub::model
