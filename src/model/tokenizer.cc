#include "model/tokenizer.h"

#include <filesystem>

namespace lorahub::model {

void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
  for (const char* f : {"spiece.model", "tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "generation_config.json"}) {
    const std::string src = from_dir + "/" + f;
    if (std::filesystem::exists(src)) {
      std::filesystem::copy_file(src, to_dir + "/" + f, std::filesystem::copy_options::overwrite_existing);
    }
  }
}

}  // namespace lorahub::model
