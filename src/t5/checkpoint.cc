#include "t5/checkpoint.h"

#include "io/checkpoint_files.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "t5/t5_names.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <stdexcept>

namespace lorahub::t5 {

Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  io::require_directory(dir, "model");
  Checkpoint ck;
  ck.config = T5Config::from_file(dir + "/config.json");
  io::CheckpointTensors files = io::read_checkpoint_dir(dir);
  io::TensorMap& tensors = files.tensors;
  // HF T5 keeps one embedding; the stacks' embed_tokens are the same tensor.
  if (!tensors.count(names::kShared)) {
    for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}) {
      if (tensors.count(alias)) {
        tensors[names::kShared] = tensors[alias];
        break;
      }
    }
  }
  tensors.erase("encoder.embed_tokens.weight");
  tensors.erase("decoder.embed_tokens.weight");
  if (ck.config.tie_word_embeddings) tensors.erase(names::kLmHead);
  ck.weights = std::make_shared<model::WeightStore>(std::move(tensors), std::move(files.origin), files.source, dtype,
                                                       device);
  return ck;
}

void save_checkpoint(const std::string& dir, const T5Config& config, const io::TensorMap& tensors) {
  ::mkdir(dir.c_str(), 0755);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error(dir + ": cannot create output directory");
  }
  io::write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  io::write_json_file(dir + "/config.json", nlohmann::json::parse(config.to_json()));
}

}  // namespace lorahub::t5
