#pragma once
// IA3 adapters in PEFT's format (IA3Config): one learned vector per adapted
// projection, stored as "base_model.model.<module>.ia3_l" with shape
// [out, 1] when it scales the projection's output (k, v) and [1, in] when it
// scales the input of a feed-forward module (wo, listed in
// feedforward_modules). In memory they are the SiteScales of a LowRankSet.

#include "model/linear.h"

#include <string>

namespace lorahub::model {
class LanguageModel;
}

namespace lorahub::lora {

// adapter_config.json + adapter_model.safetensors for the scales of `ia3`
// (written atomically; the directory is created if needed).
void write_peft_ia3_adapter(const std::string& dir, const model::LanguageModel& model, const model::LowRankSet& ia3,
                            const std::string& base_model_name_or_path);

// Reads an IA3 adapter for `model`: peft_type "IA3", task_type (when given)
// the model's (lora::read_task_type), target_modules a list whose names are
// projections of `model`, feedforward_modules a subset of it, every tensor
// "base_model.model.<module>.ia3_l" of a targeted module with the shape its
// side needs. Errors name the file and the field or tensor.
model::LowRankSet load_peft_ia3_adapter(const std::string& dir, const model::LanguageModel& model);

// The "peft_type" of the adapter in `dir` ("LORA" when the key is absent).
std::string peft_type(const std::string& dir);

}  // namespace lorahub::lora
