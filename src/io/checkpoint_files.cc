#include "io/checkpoint_files.h"

#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <stdexcept>

namespace lorahub::io {
namespace {

void load_shards(const std::string& dir, const std::string& index_path, CheckpointTensors& out) {
  const nlohmann::json index = read_json_file(index_path);
  JsonFields f(index, index_path);
  const auto& map = f.at("weight_map");
  if (!map.is_object()) f.fail("weight_map", "expected an object {tensor: file}");
  std::set<std::string> files;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const auto& file = it.value();
    if (!file.is_string() || file.get<std::string>().empty() || file.get<std::string>().find('/') != std::string::npos ||
        file.get<std::string>() == "..") {
      f.fail("weight_map." + it.key(), "expected the name of a shard file beside the index, found " + file.dump());
    }
    files.insert(file.get<std::string>());
  }
  // Strict as transformers' loader: every tensor of a shard is the one the
  // index places there (else a duplicate or stray tensor would win by file order).
  for (const auto& file : files) {
    const std::string path = dir + "/" + file;
    for (auto& [name, t] : read_tensor_file(path)) {
      if (!map.contains(name)) throw std::runtime_error(path + ": tensor " + quoted_name(name) + " is not listed in " + index_path);
      if (map.at(name).get<std::string>() != file) {
        throw std::runtime_error(path + ": tensor " + quoted_name(name) + " is placed in " + map.at(name).get<std::string>() +
                                 " by " + index_path);
      }
      out.origin[name] = path;
      out.tensors[name] = std::move(t);
    }
  }
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!out.tensors.count(it.key())) {
      throw std::runtime_error(dir + "/" + it.value().get<std::string>() + ": missing tensor '" + it.key() +
                               "' listed in " + index_path);
    }
  }
}

}  // namespace

void drop_tied_copies(CheckpointTensors& files, const std::string& kept, const std::vector<std::string>& copies,
                      const std::string& why, const std::string& remedy) {
  for (const auto& copy : copies) {
    auto it = files.tensors.find(copy);
    if (it == files.tensors.end()) continue;
    auto k = files.tensors.find(kept);
    const bool same = k != files.tensors.end() && k->second.sizes() == it->second.sizes() &&
                      at::equal(k->second.to(at::kDouble), it->second.to(at::kDouble));
    if (!same) {
      auto origin = files.origin.find(copy);
      throw std::invalid_argument(why + ", but " + (origin == files.origin.end() ? files.source : origin->second) +
                                  " holds its own '" + copy + "', which differs from '" + kept +
                                  "' (transformers would load one into the other, silently); " + remedy);
    }
    files.tensors.erase(it);
  }
}

void require_directory(const std::string& dir, const std::string& what) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error(dir + ": " + what + " directory does not exist");
  }
}

void write_checkpoint_dir(const std::string& dir, const std::string& config_json, const TensorMap& tensors) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create output directory: " + ec.message());
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  write_json_file(dir + "/config.json", parse_json_text(config_json, dir + "/config.json"));
}

CheckpointTensors read_checkpoint_dir(const std::string& dir) {
  require_directory(dir, "model");
  CheckpointTensors out;
  for (const char* file : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"}) {
    const std::string path = dir + "/" + file;
    if (!file_exists(path)) continue;
    out.source = path;
    if (std::string(file).find("index.json") != std::string::npos) {
      load_shards(dir, path, out);
    } else {
      out.tensors = read_tensor_file(path);
    }
    return out;
  }
  throw std::runtime_error(dir + ": no weights (model.safetensors, pytorch_model.bin or a sharded *.index.json)");
}

}  // namespace lorahub::io
