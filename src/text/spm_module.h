#pragma once
// SentencePiece through the dlopen'ed shim module (see CMakeLists.txt).

#include <memory>
#include <string>
#include <vector>

namespace lorahub::text {

// One loaded SentencePiece model. Thread-compatible (const methods may be
// called concurrently; SentencePiece's processor is read-only after load).
class SpmProcessor {
 public:
  // Throws std::runtime_error naming the file if it is not a model, or if
  // the shim module cannot be found (searched: $LORAHUB_SPM_MODULE, next to
  // the executable, ../lib next to it, the build tree).
  explicit SpmProcessor(const std::string& model_path);
  // The model with its normalizer's add_dummy_prefix set as given (what
  // transformers' get_spm_processor does for legacy=False tokenizers: it
  // merges NormalizerSpec(add_dummy_prefix=False) into the ModelProto).
  SpmProcessor(const std::string& model_path, bool add_dummy_prefix);
  ~SpmProcessor();
  SpmProcessor(const SpmProcessor&) = delete;
  SpmProcessor& operator=(const SpmProcessor&) = delete;

  int piece_size() const;
  std::vector<int> encode(const std::string& text) const;
  std::string decode(const std::vector<int>& ids) const;
  std::string id_to_piece(int id) const;
  int piece_to_id(const std::string& piece) const;

 private:
  void* handle_ = nullptr;
};

// Trains a model with Debian's spm_train tool (a child process), given its
// flags ("--input=...", "--model_prefix=...").
void spm_train(const std::vector<std::string>& flags);

}  // namespace lorahub::text
