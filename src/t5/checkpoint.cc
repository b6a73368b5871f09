#include "t5/checkpoint.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "t5/t5_names.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <set>
#include <stdexcept>

namespace lorahub::t5 {
namespace {

void load_shards(const std::string& dir, const std::string& index_path, io::TensorMap& tensors,
                 std::map<std::string, std::string>& origin) {
  const nlohmann::json index = io::read_json_file(index_path);
  io::JsonFields f(index, index_path);
  const auto& map = f.at("weight_map");
  if (!map.is_object()) f.fail("weight_map", "expected an object {tensor: file}");
  std::set<std::string> files;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string()) f.fail("weight_map." + it.key(), "expected a file name");
    files.insert(it.value().get<std::string>());
  }
  for (const auto& file : files) {
    const std::string path = dir + "/" + file;
    for (auto& [name, t] : io::read_tensor_file(path)) {
      origin[name] = path;
      tensors[name] = std::move(t);
    }
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!tensors.count(it.key())) {
      throw std::runtime_error(dir + "/" + it.value().get<std::string>() + ": missing tensor '" +
                               it.key() + "' listed in " + index_path);
    }
  }
}

}  // namespace

Checkpoint load_checkpoint(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error(dir + ": model directory does not exist");
  }
  Checkpoint ck;
  ck.config = T5Config::from_file(dir + "/config.json");

  io::TensorMap tensors;
  std::map<std::string, std::string> origin;
  std::string source;
  for (const char* file : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"}) {
    const std::string path = dir + "/" + file;
    if (!io::file_exists(path)) continue;
    source = path;
    if (std::string(file).find("index.json") != std::string::npos) {
      load_shards(dir, path, tensors, origin);
    } else {
      tensors = io::read_tensor_file(path);
    }
    break;
  }
  if (source.empty()) {
    throw std::runtime_error(dir + ": no weights (model.safetensors, pytorch_model.bin or a "
                             "sharded *.index.json)");
  }
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
  ck.weights = std::make_shared<model::WeightStore>(std::move(tensors), std::move(origin), source, dtype, device);
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
