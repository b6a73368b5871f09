#include "io/safetensors.h"

#include "io/atomic_file.h"

#include <ATen/ATen.h>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

namespace lorahub::io {
namespace {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},   {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},     {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const DtypeInfo& dtype_by_type(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d;
  }
  throw std::invalid_argument(std::string("safetensors: cannot store dtype ") +
                              c10::toString(type));
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// The data buffer is covered exactly, in offset order, as the format's own
// reader insists (safetensors Metadata::validate, and read_metadata's check
// that the buffer ends with the last tensor): no overlap, no gap, nothing after.
using Fail = std::function<std::runtime_error(const std::string&)>;

void check_layout(const std::vector<Entry>& entries, uint64_t data_size, const Fail& fail) {
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::make_pair(a->begin, a->end) < std::make_pair(b->begin, b->end);
  });
  uint64_t end = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < end) {
      throw fail("tensors " + quoted_name(prev->name) + " and " + quoted_name(e->name) + " overlap in the data buffer");
    }
    if (e->begin > end) {
      throw fail("tensor " + quoted_name(e->name) + " starts at byte " + std::to_string(e->begin) + " of the data but " +
                 (prev ? quoted_name(prev->name) + " ends at " + std::to_string(end) : std::string("the data starts at 0")) +
                 " (the format allows no gap between tensors)");
    }
    end = e->end;
    prev = e;
  }
  if (end != data_size) {
    throw fail(std::to_string(data_size - end) + " bytes after the last tensor (the tensors end at byte " +
               std::to_string(end) + " of " + std::to_string(data_size) + " bytes of data; the format allows none)");
  }
}

// Header bytes that nlohmann would read past but the format's reader
// (serde_json) refuses.
void check_header_bytes(const unsigned char* data, uint64_t header_len, const Fail& fail) {
  // nlohmann stops at a NUL byte as at the end of the input; serde_json
  // allows only whitespace after the JSON.
  if (const void* nul = std::memchr(data + 8, 0, header_len)) {
    throw fail("header holds a NUL byte at offset " +
               std::to_string(static_cast<const uint8_t*>(nul) - (data + 8)) +
               " (the header is JSON, padded with spaces only)");
  }
  // nlohmann's lexer skips a leading UTF-8 byte-order mark (right for text
  // files); serde_json reads the header as JSON text and refuses it.
  if (header_len >= 3 && std::memcmp(data + 8, "\xEF\xBB\xBF", 3) == 0) {
    throw fail("header starts with a UTF-8 byte-order mark (the format's reader refuses it)");
  }
}

// The JSON header: `header_len` bytes after the 8-byte length. Duplicate
// top-level keys are refused (nlohmann keeps the last; the format forbids them).
nlohmann::json parse_header(const unsigned char* data, uint64_t header_len, const Fail& fail) {
  check_header_bytes(data, header_len, fail);
  nlohmann::json doc;
  // serde_json stops at its recursion limit of 128 nested arrays and
  // objects (the header object counts); nlohmann has no limit.
  constexpr int kMaxDepth = 127;
  int nesting = 0, deepest = 0;
  // Duplicate keys: a tensor named twice, or a field given twice inside one
  // tensor's entry (the reader deserializes an entry as a struct, which
  // refuses a duplicate field); inside __metadata__ (a plain map) the last
  // value wins in both readers.
  std::set<std::string> keys, fields;
  std::string tensor, duplicate, duplicate_field;
  const nlohmann::json::parser_callback_t note_keys = [&](int depth, nlohmann::json::parse_event_t event,
                                                          nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::object_start && depth == 1) fields.clear();
    if (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) {
      deepest = std::max(deepest, ++nesting);
    } else if (event == nlohmann::json::parse_event_t::object_end ||
               event == nlohmann::json::parse_event_t::array_end) {
      --nesting;
    }
    if (event != nlohmann::json::parse_event_t::key) return true;
    const std::string key = parsed.get<std::string>();
    if (depth == 1) {
      tensor = key;
      if (!keys.insert(key).second && duplicate.empty()) duplicate = key;
    } else if (depth == 2 && tensor != "__metadata__" && !fields.insert(key).second && duplicate_field.empty() &&
               duplicate.empty()) {
      duplicate = tensor;
      duplicate_field = key;
    }
    return true;
  };
  try {
    doc = nlohmann::json::parse(data + 8, data + 8 + header_len, note_keys);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for numbers past double
    throw fail(std::string("header is not JSON (") + e.what() + ")");
  }
  if (deepest > kMaxDepth) {
    throw fail("header nests arrays and objects " + std::to_string(deepest) + " levels deep (the format's reader, "
               "serde_json, allows at most " + std::to_string(kMaxDepth) + ")");
  }
  if (!duplicate_field.empty()) {
    throw fail("tensor " + quoted_name(duplicate) + ": field " + quoted_name(duplicate_field) +
               " is given twice in its entry (the format's reader refuses duplicate fields)");
  }
  if (!duplicate.empty()) throw fail("tensor " + quoted_name(duplicate) + " is named twice in the header (the format forbids duplicate keys)");
  if (!doc.is_object()) throw fail("header is not a JSON object");
  return doc;
}

// Element count of a shape, without overflow; a zero dimension makes the
// tensor empty whatever the others are.
uint64_t checked_numel(const nlohmann::json& shape, uint64_t data_size, std::vector<int64_t>& dims, const Fail& fail) {
  if (!shape.is_array()) throw fail("shape is not a list");
  uint64_t numel = 1;
  bool overflow = false, empty = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) throw fail("shape has a non-integer or negative entry");
    const uint64_t n = d.get<uint64_t>();
    if (n > static_cast<uint64_t>(INT64_MAX)) throw fail("shape entry " + std::to_string(n) + " is too large");
    dims.push_back(static_cast<int64_t>(n));
    empty = empty || n == 0;
    overflow = overflow || __builtin_mul_overflow(numel, n, &numel);
  }
  if (empty) return 0;
  if (overflow || numel > data_size) {
    throw fail("shape " + shape.dump() + " needs more than the " + std::to_string(data_size) + " bytes of data");
  }
  return numel;
}

// One tensor's header entry, checked against the data buffer's size.
Entry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size, const Fail& file_fail) {
  const Fail fail = [&](const std::string& what) { return file_fail("tensor " + quoted_name(name) + ": " + what); };
  if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets")) {
    throw fail("expected an object with dtype, shape and data_offsets");
  }
  if (!v["dtype"].is_string()) throw fail("dtype is not a string");
  Entry e;
  e.name = name;
  e.dtype = dtype_by_name(v["dtype"].get<std::string>());
  if (!e.dtype) throw fail("unknown dtype '" + v["dtype"].get<std::string>() + "'");
  const uint64_t numel = checked_numel(v["shape"], data_size, e.shape, fail);
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
    throw fail("data_offsets is not a pair of non-negative integers");
  }
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end) throw fail("data_offsets begin after they end");
  if (e.end > data_size) {
    throw fail("data_offsets end at " + std::to_string(e.end) + ", past the end of the data (" +
               std::to_string(data_size) + " bytes)");
  }
  const uint64_t expected = numel * static_cast<uint64_t>(e.dtype->size);
  if (e.end - e.begin != expected) {
    throw fail("shape and dtype need " + std::to_string(expected) + " bytes but data_offsets span " +
               std::to_string(e.end - e.begin));
  }
  return e;
}

void read_metadata(const nlohmann::json& v, std::map<std::string, std::string>& out, const Fail& fail) {
  if (!v.is_object()) throw fail("__metadata__ is not an object");
  for (auto m = v.begin(); m != v.end(); ++m) {
    if (!m.value().is_string()) throw fail("__metadata__['" + m.key() + "'] is not a string");
    out[m.key()] = m.value().get<std::string>();
  }
}

}  // namespace

SafetensorsFile parse_safetensors(const void* bytes, uint64_t file_size, const std::string& path) {
  const auto* data = static_cast<const unsigned char*>(bytes);
  const Fail fail = [&](const std::string& what) {
    return std::runtime_error(path + ": invalid safetensors file: " + what);
  };
  if (file_size < 8) {
    throw fail("shorter than the 8-byte header length (" + std::to_string(file_size) + " bytes)");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  if (header_len > file_size - 8) {
    throw fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
               std::to_string(file_size) + " bytes)");
  }
  const nlohmann::json doc = parse_header(data, header_len, fail);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() == "__metadata__") {
      read_metadata(it.value(), out.metadata, fail);
    } else {
      entries.push_back(parse_entry(it.key(), it.value(), data_size, fail));
    }
  }
  check_layout(entries, data_size, fail);
  for (const auto& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + data_start + e.begin, e.end - e.begin);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  // Mapped, not read: each tensor is copied once, from the page cache.
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": cannot open safetensors file");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw std::runtime_error(path + ": cannot determine file size");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  void* map = size ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
  ::close(fd);
  if (map == MAP_FAILED) throw std::runtime_error(path + ": cannot map the file");
  struct Unmap {
    void* p;
    uint64_t n;
    ~Unmap() {
      if (p) ::munmap(p, n);
    }
  } unmap{map, size};
  static const unsigned char kEmpty[1] = {0};
  return parse_safetensors(map ? map : kEmpty, size, path);
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const auto& d = dtype_by_type(t.scalar_type());
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * d.size;
    header[name] = {{"dtype", d.name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');  // keeps the buffer 8-byte aligned

  write_atomically(path, [&](std::ostream& out) {
    uint64_t n = text.size();
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : data) {
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
  });
}

}  // namespace lorahub::io
