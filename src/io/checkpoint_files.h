#pragma once
// The weight files of a Hugging Face model directory, whatever the family:
// model.safetensors, model.safetensors.index.json (shards), pytorch_model.bin
// or pytorch_model.bin.index.json, tried in that order (as transformers'
// from_pretrained prefers safetensors).

#include "io/tensor_map.h"

#include <map>
#include <string>
#include <vector>

namespace lorahub::io {

struct CheckpointTensors {
  TensorMap tensors;                          // CPU tensors as stored
  std::map<std::string, std::string> origin;  // tensor -> shard file (sharded checkpoints only)
  std::string source;                         // the file read, or the index
};

// Throws std::runtime_error naming the directory when it does not exist or
// holds none of the files above, and naming the shard and tensor when an
// index lists a tensor its shard lacks, a shard holds a tensor the index
// does not list or places in another shard, or the index names a file
// outside the directory.
CheckpointTensors read_checkpoint_dir(const std::string& dir);

// Tensors the model ties to `kept` (one parameter in transformers, which
// loads every stored copy into it, so the copy read last wins): each of
// `copies` present in `files` is removed when it equals `kept` (same shape
// and values); one that differs is refused, std::invalid_argument
// "<why>, but <file> holds its own '<copy>', which differs from '<kept>'
// (...); <remedy>", since the two readings give different models.
void drop_tied_copies(CheckpointTensors& files, const std::string& kept, const std::vector<std::string>& copies,
                      const std::string& why, const std::string& remedy);

// Throws std::runtime_error naming `dir` unless it is a directory.
void require_directory(const std::string& dir, const std::string& what);

// Writes a Hugging Face checkpoint directory (created if missing): `config_json`
// as config.json and `tensors` as model.safetensors, each replaced whole
// (io/atomic_file.h). Throws std::runtime_error naming the directory or file.
void write_checkpoint_dir(const std::string& dir, const std::string& config_json, const TensorMap& tensors);

}  // namespace lorahub::io
