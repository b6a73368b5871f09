#pragma once
// The LoraHub objective (DESIGN.md section 3): few-shot loss of the composed
// model plus l1_weight * mean_i |w_i|, for many candidate weight vectors at
// once. Candidates are evaluated in batched forward passes: the k examples
// are repeated for every candidate and the rows of candidate p use
// composition p (grouped low-rank products), so P values cost one pass per
// length group. Where the model computes padding (on a GPU), examples are
// sorted by input length and cut into groups padded only to their own
// longest input (pack_examples), so little of the work is spent on padding;
// on the CPU T5 takes padding out itself (LanguageModel::packs_padding) and
// one pass over the whole batch does the same work in fewer calls. The
// losses are those of one padded batch.

#include "lora/composition.h"
#include "learn/defaults.h"
#include "lora/lora_pool.h"
#include "model/language_model.h"

#include <ATen/core/Tensor.h>

#include <vector>

namespace lorahub::learn {

struct ObjectiveOptions {
  lora::Method method = lora::Method::kLoraHub;
  LossNormalization normalization = LossNormalization::kLorahub;
  int64_t batch_size = 0;        // examples per loss batch (lorahub's batch_size); 0: all
  double l1_weight = defaults::kL1;  // lorahub's default_l1_regularization
  int64_t candidates_per_pass = defaults::kCandidatesPerPass;  // candidates evaluated in one forward pass
  // Passes of several candidates group the examples by input length
  // (padding <= 25% of a group's tokens) instead of padding all k to the
  // longest, unless the model packs padding itself. Same losses (to float
  // rounding); less work when lengths differ.
  bool pack_examples = true;
};

// HF's `model(**batch).loss` (float32) of rows [first, first + n) of `batch`
// taken as one batch, from their token cross-entropies `token_ce` [n, T]
// (float32, LanguageModel::token_losses): the mean over labels != -100,
// computed by libtorch's nll_loss over the positions HF flattens the logits
// to (PairBatch::hf_loss_positions), since its float32 partial sums depend on
// each value's index there. So the value rounds as the reference's does;
// a plain sum would differ from it by a float32 ulp now and then, which
// COBYLA amplifies (tests/cli/learn_llama_test.py). NaN when no label counts.
float hf_batch_loss(const at::Tensor& token_ce, const model::PairBatch& batch, int64_t first, int64_t n);

// Candidate weight vectors as one [P, N] float64 tensor on the CPU, filled
// with one copy per row (not P * N element writes through the dispatcher).
// Throws std::invalid_argument when a row has not `n` entries.
at::Tensor candidate_matrix(const std::vector<std::vector<double>>& rows, int64_t n);

class FewShotObjective {
 public:
  // `model` and `pool` must outlive the objective; the examples are
  // tokenized ids (Tokenizer::encode_input / encode_target).
  FewShotObjective(const model::LanguageModel& model, const lora::LoraPool& pool,
                   const std::vector<model::TokenIds>& inputs, const std::vector<model::TokenIds>& targets,
                   ObjectiveOptions options);

  int64_t num_modules() const { return pool_.size(); }
  int64_t num_examples() const { return whole().batch.rows(); }
  const ObjectiveOptions& options() const { return options_; }
  // Forward passes per chunk of several candidates: the length groups of the
  // examples (1 without pack_examples or where the model packs padding; a
  // single candidate always takes 1).
  int64_t num_groups() const { return use_groups() ? static_cast<int64_t>(groups_.size()) - 1 : 1; }

  // Few-shot losses of the candidates, weights [P, N] (or [N]).
  // Out of device memory (c10::OutOfMemoryError) in a pass of several
  // candidates, the pass is halved and run again, and later calls keep the
  // smaller pass (pass_size(); a note on stderr the first time). A pass of
  // one candidate that does not fit rethrows. Losses may then differ from
  // those of the configured pass in the last bits (other GEMM shapes).
  std::vector<double> losses(const at::Tensor& weights) const;
  // Candidates evaluated in one forward pass now: candidates_per_pass, or
  // less after an out-of-memory retry.
  int64_t pass_size() const { return pass_; }
  // losses + l1 term, the value the optimizer minimises.
  std::vector<double> objectives(const at::Tensor& weights) const;
  double l1_term(const at::Tensor& w) const;

  // The loss of a model without any composition (w = 0 gives the same).
  double base_loss() const;

 private:
  // Loss per candidate from token cross-entropies [Q * k, T].
  std::vector<double> reduce(const at::Tensor& token_ce, int64_t candidates) const;
  // Token cross-entropies [q, k, T] of the candidates w [q, N], on the device.
  at::Tensor chunk_token_losses(const at::Tensor& w) const;
  // Passes of several candidates run per length group (else: the whole batch).
  bool use_groups() const;

  const model::LanguageModel& model_;
  // Examples padded together in one pass.
  struct Group {
    std::vector<int64_t> examples;  // indices of its examples, ascending
    at::Tensor index;               // the same, as a tensor on the model's device
    model::PairBatch batch;
  };

  // All k examples padded together, in order: the reference's batch.
  const Group& whole() const { return groups_.back(); }

  const lora::LoraPool& pool_;
  ObjectiveOptions options_;
  std::vector<Group> groups_;  // the length groups, then the whole batch
  model::PairBatch host_batch_;  // whole().batch on the CPU, for hf_batch_loss
  mutable int64_t pass_;         // candidates per pass (halved on out-of-memory)
};

}  // namespace lorahub::learn
