#pragma once
// Fresh Llama weights, initialised as transformers' LlamaPreTrainedModel
// _init_weights does (every Linear and the embedding normal(0,
// initializer_range), RMSNorm weights 1): for benchmarks at a real model's
// shape and for training a model from scratch.

#include "io/tensor_map.h"
#include "llama/llama_config.h"

#include <cstdint>

namespace lorahub::llama {

// Every tensor the checkpoint of `config` holds (llama_names.h; lm_head
// unless tied, biases with attention_bias, zero as HF initialises them), on
// the CPU in float32. `std`: config.json's initializer_range (HF's default 0.02).
io::TensorMap random_llama_weights(const LlamaConfig& config, uint64_t seed, double std = 0.02);

}  // namespace lorahub::llama
