#pragma once
// SentencePiece through the dlopen'ed shim module (see CMakeLists.txt).

#include "model/tokenizer.h"

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
  // A model from the bytes of a .model file; `source` names it in errors.
  SpmProcessor(const std::string& serialized, const std::string& source);
  ~SpmProcessor();
  SpmProcessor(const SpmProcessor&) = delete;
  SpmProcessor& operator=(const SpmProcessor&) = delete;

  int piece_size() const;
  std::vector<int> encode(const std::string& text) const;
  std::string decode(const std::vector<int>& ids) const;
  // SentencePiece's decoding of piece strings (what HF's sp_model.decode
  // does with tokens): a string that is no piece decodes as itself.
  std::string decode_pieces(const std::vector<std::string>& pieces) const;
  std::string id_to_piece(int id) const;
  int piece_to_id(const std::string& piece) const;

 private:
  void* handle_ = nullptr;
};

// The serialized model `serialized` with normalizer_spec.add_dummy_prefix
// set to false (a field appended to the normalizer spec: the last value of a
// protobuf scalar wins), as transformers' LlamaTokenizer(legacy=False) edits
// its model. Throws std::runtime_error naming `source` on malformed bytes.
std::string without_dummy_prefix(const std::string& serialized, const std::string& source);

// Trains a model with Debian's spm_train tool (a child process), given its
// flags ("--input=...", "--model_prefix=..."). Throws std::runtime_error
// when the tool is missing or fails.
void spm_train(const std::vector<std::string>& flags);

// spm_train on `t` with one thread and full character coverage, writing
// `<model_prefix>.model` (the .vocab file it also writes is removed);
// `conventions` are the family's flags (model type, special ids, ...).
void spm_train(const model::TokenizerTraining& t, const std::string& model_prefix, const std::vector<std::string>& conventions);

}  // namespace lorahub::text
