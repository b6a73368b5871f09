#pragma once
// The C ABI between the torch process and the SentencePiece module
// (spm_shim.cc). Plain C types only, so no C++ or protobuf symbol crosses it.
// Functions returning a size return the size needed; callers retry with a
// larger buffer when it exceeds the capacity they passed. Encode and decode
// report SentencePiece's Status: on failure they return -1 (encode) or
// LH_SPM_FAILED (the decodes) with the Status text in `err`.

#include <stddef.h>

#define LH_SPM_FAILED ((size_t)-1)

extern "C" {

typedef void* (*lh_spm_load_fn)(const char* path, char* err, size_t err_cap);
// A model from its serialized ModelProto bytes (a .model file's content,
// possibly edited: text::without_dummy_prefix).
typedef void* (*lh_spm_load_bytes_fn)(const char* bytes, size_t len, char* err, size_t err_cap);
typedef void (*lh_spm_free_fn)(void* handle);
typedef int (*lh_spm_piece_size_fn)(void* handle);
typedef int (*lh_spm_encode_fn)(void* handle, const char* text, size_t len, int* ids, int cap, char* err,
                                size_t err_cap);
typedef size_t (*lh_spm_decode_fn)(void* handle, const int* ids, int n, char* out, size_t cap, char* err,
                                   size_t err_cap);
typedef size_t (*lh_spm_id_to_piece_fn)(void* handle, int id, char* out, size_t cap);
typedef int (*lh_spm_piece_to_id_fn)(void* handle, const char* piece);
// SentencePiece's Decode of piece strings (DecodePieces): `pieces` holds n
// strings of lengths `lens`, one after another.
typedef size_t (*lh_spm_decode_pieces_fn)(void* handle, const char* pieces, const size_t* lens, int n, char* out,
                                          size_t cap, char* err, size_t err_cap);

}
