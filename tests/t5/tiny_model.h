#pragma once
// The tiny-t5 fixture model, loaded once per test process.

#include "support/fixtures.h"
#include "t5/batch.h"
#include "t5/checkpoint.h"
#include "t5/t5_model.h"

namespace lorahub::testing {

// On test_device() ($LORAHUB_TEST_DEVICE), float32.
inline const t5::Checkpoint& tiny_checkpoint() {
  static const t5::Checkpoint ck = t5::load_checkpoint(tiny_dir() + "/base", at::kFloat, test_device());
  return ck;
}

inline const t5::T5Model& tiny_model() {
  static const t5::T5Model model(tiny_checkpoint().config, tiny_checkpoint().weights);
  return model;
}

// The fixture's examples as lorahub's padded batch (first `n`, all when -1),
// on test_device().
inline t5::Seq2SeqBatch golden_batch(int n = -1) {
  std::vector<t5::TokenIds> in, out;
  const auto& ex = golden()["examples"];
  for (size_t i = 0; i < ex.size() && (n < 0 || static_cast<int>(i) < n); ++i) {
    in.push_back(ids(ex[i]["input_ids"]));
    out.push_back(ids(ex[i]["label_ids"]));
  }
  t5::Seq2SeqBatch b = t5::make_batch(in, out, 0);
  for (at::Tensor* t : {&b.input_ids, &b.attention_mask, &b.labels}) *t = on_test_device(*t);
  return b;
}

}  // namespace lorahub::testing
