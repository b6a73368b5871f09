#include "text/spm_module.h"

#include "text/spm_abi.h"

#include <dlfcn.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <stdexcept>

extern "C" char** environ;

namespace lorahub::text {
namespace {

struct SpmApi {
  lh_spm_load_fn load;
  lh_spm_load_bytes_fn load_bytes;
  lh_spm_free_fn free;
  lh_spm_piece_size_fn piece_size;
  lh_spm_encode_fn encode;
  lh_spm_decode_fn decode;
  lh_spm_id_to_piece_fn id_to_piece;
  lh_spm_piece_to_id_fn piece_to_id;
  lh_spm_decode_pieces_fn decode_pieces;
};

std::string executable_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/'));
}

const SpmApi& api() {
  static SpmApi api{};
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("LORAHUB_SPM_MODULE")) candidates.push_back(env);
    const std::string exe = executable_dir();
    candidates.push_back(exe + "/liblorahub_spm.so");
    candidates.push_back(exe + "/../lib/liblorahub_spm.so");
    candidates.push_back(LORAHUB_SPM_BUILD_PATH);
    void* lib = nullptr;
    std::string errors;
    for (const auto& c : candidates) {
      // DEEPBIND: the module resolves its protobuf symbols in its own
      // dependencies first, never in libtorch's. AddressSanitizer refuses
      // DEEPBIND (google/sanitizers#611), so sanitizer builds go without it.
#if defined(__SANITIZE_ADDRESS__)
      lib = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
      lib = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
      if (lib) break;
      errors += "\n  " + c + ": " + ::dlerror();
    }
    if (!lib) throw std::runtime_error("cannot load the SentencePiece module liblorahub_spm.so:" + errors);
    auto sym = [&](const char* name) {
      void* p = ::dlsym(lib, name);
      if (!p) throw std::runtime_error(std::string("liblorahub_spm.so lacks symbol ") + name);
      return p;
    };
    api.load = reinterpret_cast<lh_spm_load_fn>(sym("lh_spm_load"));
    api.load_bytes = reinterpret_cast<lh_spm_load_bytes_fn>(sym("lh_spm_load_bytes"));
    api.free = reinterpret_cast<lh_spm_free_fn>(sym("lh_spm_free"));
    api.piece_size = reinterpret_cast<lh_spm_piece_size_fn>(sym("lh_spm_piece_size"));
    api.encode = reinterpret_cast<lh_spm_encode_fn>(sym("lh_spm_encode"));
    api.decode = reinterpret_cast<lh_spm_decode_fn>(sym("lh_spm_decode"));
    api.id_to_piece = reinterpret_cast<lh_spm_id_to_piece_fn>(sym("lh_spm_id_to_piece"));
    api.piece_to_id = reinterpret_cast<lh_spm_piece_to_id_fn>(sym("lh_spm_piece_to_id"));
    api.decode_pieces = reinterpret_cast<lh_spm_decode_pieces_fn>(sym("lh_spm_decode_pieces"));
  });
  return api;
}

// SentencePiece works in int counts: a longer input is refused, never wrapped.
int checked_count(size_t n, const char* what) {
  if (n > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::length_error(std::string("SentencePiece ") + what + ": " + std::to_string(n) +
                            " items, more than its int count allows");
  }
  return static_cast<int>(n);
}

// Calls fn(out, cap, err, err_cap) with a buffer large enough for its
// result; a failed Status becomes std::runtime_error naming `what`.
template <typename Fn>
std::string read_string(Fn fn, const char* what) {
  char err[1024] = {0};
  std::string out(256, '\0');
  size_t n = fn(out.data(), out.size(), err, sizeof(err));
  if (n != LH_SPM_FAILED && n > out.size()) {
    out.resize(n);
    n = fn(out.data(), out.size(), err, sizeof(err));
  }
  if (n == LH_SPM_FAILED) throw std::runtime_error(std::string("SentencePiece ") + what + " failed: " + err);
  out.resize(n);
  return out;
}

}  // namespace

SpmProcessor::SpmProcessor(const std::string& model_path) {
  char err[1024] = {0};
  handle_ = api().load(model_path.c_str(), err, sizeof(err));
  if (!handle_) {
    throw std::runtime_error(model_path + ": cannot load SentencePiece model: " + err);
  }
}

SpmProcessor::SpmProcessor(const std::string& serialized, const std::string& source) {
  char err[1024] = {0};
  handle_ = api().load_bytes(serialized.data(), serialized.size(), err, sizeof(err));
  if (!handle_) throw std::runtime_error(source + ": cannot load SentencePiece model: " + err);
}

SpmProcessor::~SpmProcessor() {
  if (handle_) api().free(handle_);
}

int SpmProcessor::piece_size() const { return api().piece_size(handle_); }

std::vector<int> SpmProcessor::encode(const std::string& text) const {
  char err[1024] = {0};
  std::vector<int> ids(text.size() + 8);
  int n = api().encode(handle_, text.data(), text.size(), ids.data(), checked_count(ids.size(), "encode"), err,
                       sizeof(err));
  if (n > static_cast<int>(ids.size())) {
    ids.resize(static_cast<size_t>(n));
    n = api().encode(handle_, text.data(), text.size(), ids.data(), n, err, sizeof(err));
  }
  if (n < 0) throw std::runtime_error(std::string("SentencePiece encode failed: ") + err);
  ids.resize(static_cast<size_t>(n));
  return ids;
}

std::string SpmProcessor::decode(const std::vector<int>& ids) const {
  const int n = checked_count(ids.size(), "decode");
  return read_string([&](char* out, size_t cap, char* err, size_t err_cap) {
    return api().decode(handle_, ids.data(), n, out, cap, err, err_cap);
  }, "decode");
}

std::string SpmProcessor::decode_pieces(const std::vector<std::string>& pieces) const {
  std::string joined;
  std::vector<size_t> lens;
  for (const auto& p : pieces) {
    joined += p;
    lens.push_back(p.size());
  }
  const int n = checked_count(lens.size(), "decode");
  return read_string([&](char* out, size_t cap, char* err, size_t err_cap) {
    return api().decode_pieces(handle_, joined.data(), lens.data(), n, out, cap, err, err_cap);
  }, "decode");
}

namespace {
// Protocol-buffer wire format, just enough to walk a message's top level.
uint64_t read_varint(const std::string& s, size_t& pos, const std::string& source) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) throw std::runtime_error(source + ": truncated SentencePiece model (varint)");
    const auto byte = static_cast<uint8_t>(s[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  throw std::runtime_error(source + ": malformed SentencePiece model (varint)");
}

void write_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
}  // namespace

std::string without_dummy_prefix(const std::string& serialized, const std::string& source) {
  constexpr uint64_t kNormalizerSpec = 3;      // ModelProto.normalizer_spec
  const std::string kNoDummyPrefix("\x18\x00", 2);  // NormalizerSpec.add_dummy_prefix (3) = false
  std::string out;
  bool edited = false;
  for (size_t pos = 0; pos < serialized.size();) {
    const size_t start = pos;
    const uint64_t tag = read_varint(serialized, pos, source);
    const uint64_t wire = tag & 7;
    size_t payload = 0;
    if (wire == 0) {
      read_varint(serialized, pos, source);
    } else if (wire == 1 || wire == 5) {
      pos += wire == 1 ? 8 : 4;
    } else if (wire == 2) {
      payload = static_cast<size_t>(read_varint(serialized, pos, source));
    } else {
      throw std::runtime_error(source + ": malformed SentencePiece model (wire type " + std::to_string(wire) + ")");
    }
    if (pos + payload > serialized.size()) throw std::runtime_error(source + ": truncated SentencePiece model");
    if (wire == 2 && (tag >> 3) == kNormalizerSpec) {
      write_varint(out, tag);
      write_varint(out, payload + kNoDummyPrefix.size());
      out.append(serialized, pos, payload);
      out += kNoDummyPrefix;
      edited = true;
    } else {
      out.append(serialized, start, pos + payload - start);
    }
    pos += payload;
  }
  if (!edited) {
    write_varint(out, (kNormalizerSpec << 3) | 2);
    write_varint(out, kNoDummyPrefix.size());
    out += kNoDummyPrefix;
  }
  return out;
}

std::string SpmProcessor::id_to_piece(int id) const {
  return read_string([&](char* out, size_t cap, char*, size_t) { return api().id_to_piece(handle_, id, out, cap); },
                     "id_to_piece");
}

int SpmProcessor::piece_to_id(const std::string& piece) const {
  return api().piece_to_id(handle_, piece.c_str());
}

void spm_train(const std::vector<std::string>& flags) {
  // In a child process: the trainer logs through std::cerr, which under
  // RTLD_DEEPBIND binds to an uninitialised copy and crashes.
  std::vector<std::string> argv_s = {"spm_train"};
  argv_s.insert(argv_s.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "spm_train", nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error("cannot run spm_train (Debian package sentencepiece)");
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("spm_train failed (exit status " + std::to_string(WEXITSTATUS(status)) + ")");
  }
}

void spm_train(const model::TokenizerTraining& t, const std::string& model_prefix, const std::vector<std::string>& conventions) {
  std::string symbols;
  for (const auto& w : t.user_symbols) symbols += (symbols.empty() ? "" : ",") + w;
  std::vector<std::string> flags = {"--input=" + t.corpus, "--model_prefix=" + model_prefix};
  flags.insert(flags.end(), conventions.begin(), conventions.end());
  flags.insert(flags.end(), {"--vocab_size=" + std::to_string(t.vocab_size), "--hard_vocab_limit=false",
                             "--character_coverage=1.0", "--num_threads=1", "--minloglevel=2",
                             "--random_seed=" + std::to_string(t.seed)});
  if (!symbols.empty()) flags.push_back("--user_defined_symbols=" + symbols);
  spm_train(flags);
  std::remove((model_prefix + ".vocab").c_str());
}

}  // namespace lorahub::text
