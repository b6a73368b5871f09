#include "t5/batch.h"

#include "model/linear.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

namespace lorahub::t5 {
namespace {
at::Tensor pad_rows(const std::vector<TokenIds>& rows, int64_t fill) {
  size_t longest = 0;
  for (const auto& r : rows) longest = std::max(longest, r.size());
  at::Tensor out = at::full({static_cast<int64_t>(rows.size()), static_cast<int64_t>(longest)}, fill, at::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < rows[i].size(); ++j) acc[i][j] = rows[i][j];
  }
  return out;
}
}  // namespace

Seq2SeqBatch make_input_batch(const std::vector<TokenIds>& inputs, int64_t pad_id) {
  if (inputs.empty()) throw std::invalid_argument("make_batch: no examples");
  Seq2SeqBatch b;
  b.input_ids = pad_rows(inputs, pad_id);
  std::vector<TokenIds> ones;
  for (const auto& r : inputs) ones.emplace_back(r.size(), 1);
  b.attention_mask = pad_rows(ones, 0);
  return b;
}

Seq2SeqBatch make_batch(const std::vector<TokenIds>& inputs, const std::vector<TokenIds>& labels,
                        int64_t pad_id) {
  if (inputs.size() != labels.size()) throw std::invalid_argument("make_batch: inputs and labels differ in count");
  Seq2SeqBatch b = make_input_batch(inputs, pad_id);
  b.labels = pad_rows(labels, -100);
  return b;
}

at::Tensor shift_right(const at::Tensor& labels, int64_t start_id, int64_t pad_id) {
  at::Tensor shifted = at::empty_like(labels);
  shifted.narrow(1, 0, 1).fill_(start_id);
  if (labels.size(1) > 1) shifted.narrow(1, 1, labels.size(1) - 1).copy_(labels.narrow(1, 0, labels.size(1) - 1));
  return shifted.masked_fill(shifted == -100, pad_id);
}

at::Tensor token_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t v = logits.size(-1);
  const at::Tensor flat = at::cross_entropy_loss(model::at_least_float(logits.reshape({-1, v})), labels.reshape({-1}),
                                                 {}, at::Reduction::None, -100);
  return flat.view(labels.sizes());
}

at::Tensor mean_token_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t v = logits.size(-1);
  return at::cross_entropy_loss(model::at_least_float(logits.reshape({-1, v})), labels.reshape({-1}), {},
                                at::Reduction::Mean, -100);
}

std::vector<TokenIds> rows_to_ids(const at::Tensor& ids, bool drop_first) {
  const at::Tensor cpu = ids.to(at::kCPU, at::kLong).contiguous();
  std::vector<TokenIds> out;
  for (int64_t i = 0; i < cpu.size(0); ++i) {
    const int64_t* p = cpu[i].data_ptr<int64_t>();
    out.emplace_back(p + (drop_first ? 1 : 0), p + cpu.size(1));
  }
  return out;
}

}  // namespace lorahub::t5
