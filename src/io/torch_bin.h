#pragma once
// PyTorch pickles (`torch.save` of a plain dict of tensors, zip format), the
// `pytorch_model.bin` / `adapter_model.bin` of Hugging Face and PEFT.

#include "io/tensor_map.h"

#include <string>

namespace lorahub::io {

// Reads a `torch.save`d dict {name: tensor} onto the CPU whatever device its
// storages were saved from (torch.load's map_location="cpu"; "cuda:0" is the
// usual location in files written on a GPU). LibTorch 1.13 cannot read the
// legacy (non-zip) format, an OrderedDict, or a one-entry dict; these fail
// with std::runtime_error naming the file and suggesting safetensors.
TensorMap read_torch_bin(const std::string& path);

}  // namespace lorahub::io
