#pragma once
// The one place that turns a model directory into a model: reads
// config.json's `model_type`, then the family's checkpoint and tokenizer.
// Its own CMake target (lorahub_model_loader) above every family's library.

#include "model/family.h"
#include "model/language_model.h"
#include "model/tokenizer.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>

namespace lorahub::model {

struct LoadedModel {
  std::shared_ptr<const LanguageModel> model;
  std::shared_ptr<const Tokenizer> tokenizer;
};

// Tokenizer + checkpoint + model of `dir`. `dtype` applies to floating-point
// weights (kFloat or kBFloat16). A family whose code is not linked is refused
// by name. Errors name the file and the field or tensor.
LoadedModel load_model(const std::string& dir, c10::ScalarType dtype = c10::kFloat, c10::Device device = c10::kCPU);

// The tokenizer of `dir` alone (no weights read).
std::shared_ptr<const Tokenizer> load_tokenizer(const std::string& dir);

// Reads and checks everything of `dir` but its weights, with the errors
// load_model throws for them: the family's config.json, generation_config.json
// and the tokenizer files (and that the tokenizer fits the vocabulary). For
// refusing a sweep's model before any work (`lorahub run` and `plan` on rank 0,
// which loads no model).
void check_model_files(const std::string& dir);

}  // namespace lorahub::model
