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

at::Tensor keep_open(const at::Tensor& unfinished, const at::Tensor& next, const GenerationConfig& generation) {
  at::Tensor open = unfinished;
  for (int64_t id : generation.eos_token_ids) open = open * (next != id).to(at::kLong);
  return open;
}

PairBatch PairBatch::repeat(int64_t times) const {
  PairBatch r;
  r.input_ids = repeat_rows(input_ids, times);
  r.attention_mask = repeat_rows(attention_mask, times);
  r.labels = repeat_rows(labels, times);
  r.decoder_input_ids = repeat_rows(decoder_input_ids, times);
  r.target_start = repeat_rows(target_start, times);
  return r;
}

PairBatch PairBatch::to(const at::Device& device) const {
  const auto move = [&](const at::Tensor& t) { return t.defined() ? t.to(device) : t; };
  return {move(input_ids), move(attention_mask), move(labels), move(decoder_input_ids), move(target_start)};
}

at::Tensor PairBatch::hf_loss_positions(int64_t* per_row) const {
  const int64_t b = labels.size(0), t = labels.size(1);
  const at::Tensor j = at::arange(t, at::kLong).view({1, t}).expand({b, t});
  if (!target_start.defined()) {
    *per_row = t;
    return j.contiguous();
  }
  *per_row = input_ids.size(1) - 1;
  return (target_start.to(at::kCPU).view({b, 1}) - 1 + j).contiguous();
}

}  // namespace lorahub::model
