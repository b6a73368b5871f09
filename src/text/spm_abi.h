#pragma once
// The C ABI between the torch process and the SentencePiece module
// (spm_shim.cc). Plain C types only, so no C++ or protobuf symbol crosses it.
// Functions returning a size return the size needed; callers retry with a
// larger buffer when it exceeds the capacity they passed.

#include <stddef.h>

extern "C" {

typedef void* (*lh_spm_load_fn)(const char* path, char* err, size_t err_cap);
// A model from its serialized ModelProto bytes (a file's content, possibly
// with fields appended: protobuf merges repeated occurrences of a message).
typedef void* (*lh_spm_load_bytes_fn)(const char* bytes, size_t len, char* err, size_t err_cap);
typedef void (*lh_spm_free_fn)(void* handle);
typedef int (*lh_spm_piece_size_fn)(void* handle);
typedef int (*lh_spm_encode_fn)(void* handle, const char* text, size_t len, int* ids, int cap);
typedef size_t (*lh_spm_decode_fn)(void* handle, const int* ids, int n, char* out, size_t cap);
typedef size_t (*lh_spm_id_to_piece_fn)(void* handle, int id, char* out, size_t cap);
typedef int (*lh_spm_piece_to_id_fn)(void* handle, const char* piece);
// A model from its serialized proto (bytes of a .model file, possibly edited).
typedef void* (*lh_spm_load_bytes_fn)(const char* data, size_t len, char* err, size_t err_cap);
// SentencePiece's Decode of piece strings (DecodePieces): `pieces` holds n
// strings of lengths `lens`, one after another.
typedef size_t (*lh_spm_decode_pieces_fn)(void* handle, const char* pieces, const size_t* lens, int n, char* out,
                                          size_t cap);

}
