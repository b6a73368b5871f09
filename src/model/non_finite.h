#pragma once
// "The numbers went non-finite": the one exception type for a computation
// whose values became NaN or inf although every input was well formed (a
// training run that diverged, a model or composition whose logits or merged
// weights overflow, an objective never finite). Thrown by learn::train,
// learn::learn_weights_by_gradient, learn::learn_weights, learn::generate,
// model::WeightStore::with_replaced and `lorahub loss`. `lorahub run` records
// a trial that throws it as failed, with the message as its reason, and goes
// on with the sweep; every other exception (I/O, bad input, bugs) stops the
// run. The commands print it as any error (one line, exit 1).

#include <ATen/core/Tensor.h>

#include <stdexcept>
#include <string>

namespace lorahub::model {

class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One decode step's finiteness folded into `flag` on the logits' device,
// with no host synchronisation: `flag` (a bool scalar tensor; undefined
// counts as true) becomes false once a row that is still generating
// (`open` [B] int64, nonzero) has a NaN or inf among its `logits` [B, vocab].
// Rows that already ended are ignored: their logits choose nothing. The
// greedy loops of every family call it each step and return the flag
// (Generation::all_finite); learn::generate reads it once per batch.
void fold_finite_logits(at::Tensor& flag, const at::Tensor& logits, const at::Tensor& open);

}  // namespace lorahub::model
