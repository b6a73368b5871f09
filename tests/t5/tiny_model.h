#pragma once
// The tiny-t5 fixture model, loaded once per test process.

#include "support/fixtures.h"
#include "t5/batch.h"
#include "t5/checkpoint.h"
#include "t5/t5_model.h"

#include <limits>
#include <map>
#include <memory>

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

// The fixture model with one NaN in decoder.final_layer_norm.weight: every
// logit is NaN (the weights are never loaded from a file, so no load check
// refuses them). For the non-finite paths of generation and training.
inline const t5::T5Model& tiny_model_with_nan() {
  static const t5::T5Model model = [] {
    io::TensorMap w = tiny_checkpoint().weights->tensors();
    at::Tensor norm = w.at("decoder.final_layer_norm.weight").clone();
    norm[0] = std::numeric_limits<float>::quiet_NaN();
    w["decoder.final_layer_norm.weight"] = norm;
    return t5::T5Model(tiny_checkpoint().config, std::make_shared<model::WeightStore>(
                                                     std::move(w), std::map<std::string, std::string>{},
                                                     "nan", at::kFloat, test_device()));
  }();
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
