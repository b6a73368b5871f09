// The only translation unit that includes SentencePiece. Built as a module and
// dlopen'ed by spm_module.cc; see CMakeLists.txt for why.

#include "text/spm_abi.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

namespace {
void copy_error(const std::string& msg, char* err, size_t cap) {
  if (!err || cap == 0) return;
  std::strncpy(err, msg.c_str(), cap - 1);
  err[cap - 1] = '\0';
}
size_t copy_out(const std::string& s, char* out, size_t cap) {
  if (out && cap > 0) std::memcpy(out, s.data(), std::min(cap, s.size()));
  return s.size();
}
}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* lh_spm_load(const char* path, char* err,
                                                         size_t err_cap) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  const auto status = sp->Load(path);
  if (!status.ok()) {
    copy_error(status.ToString(), err, err_cap);
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void* lh_spm_load_bytes(const char* data, size_t len, char* err,
                                                               size_t err_cap) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  const auto status = sp->LoadFromSerializedProto(std::string(data, len));
  if (!status.ok()) {
    copy_error(status.ToString(), err, err_cap);
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) size_t lh_spm_decode_pieces(void* handle, const char* pieces,
                                                                   const size_t* lens, int n, char* out,
                                                                   size_t cap, char* err, size_t err_cap) {
  std::vector<std::string> list;
  for (int i = 0; i < n; ++i) {
    list.emplace_back(pieces, lens[i]);
    pieces += lens[i];
  }
  std::string text;
  const auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Decode(list, &text);
  if (!status.ok()) {
    copy_error(status.ToString(), err, err_cap);
    return LH_SPM_FAILED;
  }
  return copy_out(text, out, cap);
}

__attribute__((visibility("default"))) void lh_spm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

__attribute__((visibility("default"))) int lh_spm_piece_size(void* handle) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize();
}

__attribute__((visibility("default"))) int lh_spm_encode(void* handle, const char* text,
                                                         size_t len, int* ids, int cap, char* err,
                                                         size_t err_cap) {
  std::vector<int> out;
  const auto status =
      static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(std::string(text, len), &out);
  if (!status.ok()) {
    copy_error(status.ToString(), err, err_cap);
    return -1;
  }
  for (int i = 0; i < static_cast<int>(out.size()) && i < cap; ++i) ids[i] = out[i];
  return static_cast<int>(out.size());
}

__attribute__((visibility("default"))) size_t lh_spm_decode(void* handle, const int* ids, int n,
                                                            char* out, size_t cap, char* err,
                                                            size_t err_cap) {
  std::string text;
  const auto status = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Decode(
      std::vector<int>(ids, ids + n), &text);
  if (!status.ok()) {
    copy_error(status.ToString(), err, err_cap);
    return LH_SPM_FAILED;
  }
  return copy_out(text, out, cap);
}

__attribute__((visibility("default"))) size_t lh_spm_id_to_piece(void* handle, int id, char* out,
                                                                 size_t cap) {
  return copy_out(static_cast<sentencepiece::SentencePieceProcessor*>(handle)->IdToPiece(id), out,
                  cap);
}

__attribute__((visibility("default"))) int lh_spm_piece_to_id(void* handle, const char* piece) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->PieceToId(piece);
}

}
