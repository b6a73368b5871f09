#pragma once
// Padded seq2seq batches and the token losses computed on them.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace lorahub::t5 {

using TokenIds = std::vector<int64_t>;

// lorahub's preprocess_function: inputs right-padded with `pad_id` to the
// longest, attention_mask 1/0, labels right-padded with -100.
struct Seq2SeqBatch {
  at::Tensor input_ids;       // [B, S] int64
  at::Tensor attention_mask;  // [B, S] int64
  at::Tensor labels;          // [B, T] int64, -100 = ignored
};

Seq2SeqBatch make_batch(const std::vector<TokenIds>& inputs, const std::vector<TokenIds>& labels,
                        int64_t pad_id);
// Inputs only (for decoding): padded ids and mask.
Seq2SeqBatch make_input_batch(const std::vector<TokenIds>& inputs, int64_t pad_id);

// HF `_shift_right`: [start] + labels[:-1], with -100 replaced by pad.
at::Tensor shift_right(const at::Tensor& labels, int64_t start_id, int64_t pad_id);

// Token cross-entropy [B, T] (float32, 0 where labels == -100).
at::Tensor token_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);
// Mean over non-ignored tokens (CrossEntropyLoss(ignore_index=-100)).
at::Tensor mean_token_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

// Rows of a [B, L] id tensor as vectors, without the leading decoder-start
// token when `drop_first`.
std::vector<TokenIds> rows_to_ids(const at::Tensor& ids, bool drop_first);

}  // namespace lorahub::t5
