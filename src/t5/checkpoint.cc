#include "t5/checkpoint.h"

#include "io/checkpoint_files.h"
#include "t5/t5_names.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace lorahub::t5 {
namespace {

// T5LayerFF's form follows the config (is_gated_act, else feed_forward_proj);
// transformers initialises the weights of a form the checkpoint lacks at
// random, so a checkpoint of the other form is refused naming the field (a
// checkpoint with neither fails in the layer, naming the missing tensor).
void check_feed_forward_form(const T5Config& c, const io::TensorMap& tensors, const std::string& dir,
                             const std::string& source) {
  const std::string ffn = names::feed_forward(names::Stack::kEncoder, 0);
  const std::string wanted = c.is_gated ? "wi_0" : "wi", stored = c.is_gated ? "wi" : "wi_0";
  if (tensors.count(names::weight(ffn + "." + wanted)) || !tensors.count(names::weight(ffn + "." + stored))) return;
  const bool own = c.gating_field == "is_gated_act";
  const std::string value = own ? (c.is_gated ? "true" : "false") : "\"" + c.feed_forward_proj + "\"";
  const std::string expected = own ? (c.is_gated ? "false" : "true")
                                   : c.is_gated ? "a value without \"gated-\"" : "\"gated-<activation>\"";
  throw std::invalid_argument(dir + "/config.json: field '" + c.gating_field + "': " + value + " builds a " +
                              (c.is_gated ? "gated" : "non-gated") + " feed-forward ('" + wanted + "'), but " + source +
                              " holds '" + names::weight(ffn + "." + stored) + "' of a " +
                              (c.is_gated ? "non-gated" : "gated") + " one (transformers would initialise '" + wanted +
                              "' at random); expected " + expected);
}

}  // namespace

Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  io::require_directory(dir, "model");
  Checkpoint ck;
  ck.config = T5Config::from_file(dir + "/config.json");
  io::CheckpointTensors files = io::read_checkpoint_dir(dir);
  io::TensorMap& tensors = files.tensors;
  check_feed_forward_form(ck.config, tensors, dir, files.source);
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
