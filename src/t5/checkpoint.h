#pragma once
// Loading a Hugging Face T5 directory: config.json plus weights from
// model.safetensors, model.safetensors.index.json (shards),
// pytorch_model.bin or pytorch_model.bin.index.json, tried in that order.
// And writing one back (config.json + model.safetensors).

#include "t5/t5_config.h"
#include "model/weight_store.h"

#include <memory>
#include <string>

namespace lorahub::t5 {

struct Checkpoint {
  T5Config config;
  std::shared_ptr<const model::WeightStore> weights;
};

// `dtype` applies to floating-point weights (kFloat or kBFloat16).
// Aliases: `shared.weight` may be stored as encoder/decoder.embed_tokens; a
// tied model's lm_head is `shared`. Errors name the file and tensor.
Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype = c10::kFloat,
                           c10::Device device = c10::kCPU);

// Writes config.json and model.safetensors (float32 unless the tensors are
// otherwise) under `dir`, creating it. HF's tied copies are not written.
void save_checkpoint(const std::string& dir, const T5Config& config, const io::TensorMap& tensors);

using model::parse_dtype;  // (model/weight_store.h)

}  // namespace lorahub::t5
