#include "t5/checkpoint.h"

#include "io/checkpoint_files.h"
#include "t5/t5_names.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lorahub::t5 {

Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  io::require_directory(dir, "model");
  Checkpoint ck;
  ck.config = T5Config::from_file(dir + "/config.json");
  io::CheckpointTensors files = io::read_checkpoint_dir(dir);
  io::TensorMap& tensors = files.tensors;
  // HF T5 keeps one embedding; the stacks' embed_tokens are the same tensor.
  const std::vector<std::string> aliases = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
  if (!tensors.count(names::kShared)) {
    for (const auto& alias : aliases) {
      if (tensors.count(alias)) {
        tensors[names::kShared] = tensors[alias];
        break;
      }
    }
  }
  io::drop_tied_copies(files, names::kShared, aliases, dir + ": T5 ties each stack's embed_tokens to 'shared.weight'",
                       "remove the stale copy");
  if (ck.config.tie_word_embeddings) {
    io::drop_tied_copies(files, names::kShared, {names::kLmHead},
                         dir + "/config.json: field 'tie_word_embeddings' is true",
                         "set it to false (the head is its own tensor) or remove the stored head");
  }
  ck.weights = std::make_shared<model::WeightStore>(std::move(tensors), std::move(files.origin), files.source, dtype,
                                                       device);
  return ck;
}

void save_checkpoint(const std::string& dir, const T5Config& config, const io::TensorMap& tensors) {
  io::write_checkpoint_dir(dir, config.to_json(), tensors);
}

}  // namespace lorahub::t5
