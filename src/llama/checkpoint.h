#pragma once
// Loading a Hugging Face Llama / Mistral directory: config.json plus the
// weights (io/checkpoint_files.h: model.safetensors, shards, pytorch_model.bin),
// and writing one back (config.json + model.safetensors).

#include "llama/llama_config.h"
#include "model/weight_store.h"

#include <memory>
#include <string>

namespace lorahub::llama {

struct Checkpoint {
  LlamaConfig config;
  std::shared_ptr<const model::WeightStore> weights;
};

// `dtype` applies to floating-point weights (kFloat or kBFloat16). A tied
// model's lm_head is embed_tokens (a stored lm_head.weight is dropped, as HF
// ties it); stored rotary inv_freq buffers are dropped (recomputed). Errors
// name the file and field or tensor.
Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype = c10::kFloat,
                           c10::Device device = c10::kCPU);

// Writes config.json and model.safetensors under `dir`, creating it.
void save_checkpoint(const std::string& dir, const LlamaConfig& config, const io::TensorMap& tensors);

}  // namespace lorahub::llama
