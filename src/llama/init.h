#pragma once
// Fresh Llama weights, initialised as Hugging Face's LlamaPreTrainedModel
// does (transformers 4.36 `_init_weights`): for training a model from
// scratch (the demo world).

#include "io/tensor_map.h"
#include "llama/llama_config.h"

#include <cstdint>

namespace lorahub::llama {

// Every tensor the checkpoint of `config` holds (llama_names.h), on the CPU in
// float32: embeddings, every q/k/v/o, gate/up/down projection and the untied
// lm_head ~ N(0, initializer_range^2) (biases of attention_bias zero), RMSNorm
// weights one. HF zeroes the pad row of the embeddings; Llama has no pad
// token, so none is zeroed unless config.pad_token_id is set.
io::TensorMap random_llama_weights(const LlamaConfig& config, uint64_t seed, double initializer_range = 0.02);

}  // namespace lorahub::llama
