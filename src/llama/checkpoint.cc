#include "llama/checkpoint.h"

#include "io/checkpoint_files.h"
#include "llama/llama_names.h"

#include <stdexcept>

namespace lorahub::llama {

Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  io::require_directory(dir, "model");
  Checkpoint ck;
  ck.config = LlamaConfig::from_file(dir + "/config.json");
  io::CheckpointTensors files = io::read_checkpoint_dir(dir);
  for (int64_t i = 0; i < ck.config.num_hidden_layers; ++i) files.tensors.erase(names::rotary_inv_freq(i));
  if (ck.config.tie_word_embeddings) {
    io::drop_tied_copies(files, names::kEmbedTokens, {names::kLmHead},
                         dir + "/config.json: field 'tie_word_embeddings' is true",
                         "set it to false (the head is its own tensor) or remove the stored head");
  }
  ck.weights = std::make_shared<model::WeightStore>(std::move(files.tensors), std::move(files.origin), files.source,
                                                    dtype, device);
  return ck;
}

void save_checkpoint(const std::string& dir, const LlamaConfig& config, const io::TensorMap& tensors) {
  io::write_checkpoint_dir(dir, config.to_json(), tensors);
}

}  // namespace lorahub::llama
