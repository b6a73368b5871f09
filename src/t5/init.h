#pragma once
// Fresh T5 weights, initialised as Hugging Face's T5PreTrainedModel does
// (factor 1): for training a model from scratch (the demo world).

#include "io/tensor_map.h"
#include "t5/t5_config.h"

#include <cstdint>

namespace lorahub::t5 {

// Every tensor the checkpoint of `config` holds, on the CPU in float32.
io::TensorMap random_t5_weights(const T5Config& config, uint64_t seed);

}  // namespace lorahub::t5
