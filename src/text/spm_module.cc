#include "text/spm_module.h"

#include "text/spm_abi.h"

#include <dlfcn.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
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
  });
  return api;
}

template <typename Fn>
std::string read_string(Fn fn) {
  std::string out(256, '\0');
  size_t n = fn(out.data(), out.size());
  if (n > out.size()) {
    out.resize(n);
    n = fn(out.data(), out.size());
  }
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

SpmProcessor::SpmProcessor(const std::string& model_path, bool add_dummy_prefix) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw std::runtime_error(model_path + ": cannot open SentencePiece model");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // ModelProto field 3 (normalizer_spec, length 2) holding NormalizerSpec
  // field 3 (add_dummy_prefix, varint): parsing merges it into the model's spec.
  bytes += std::string{'\x1a', '\x02', '\x18', add_dummy_prefix ? '\x01' : '\x00'};
  char err[1024] = {0};
  handle_ = api().load_bytes(bytes.data(), bytes.size(), err, sizeof(err));
  if (!handle_) throw std::runtime_error(model_path + ": cannot load SentencePiece model: " + err);
}

SpmProcessor::~SpmProcessor() {
  if (handle_) api().free(handle_);
}

int SpmProcessor::piece_size() const { return api().piece_size(handle_); }

std::vector<int> SpmProcessor::encode(const std::string& text) const {
  std::vector<int> ids(text.size() + 8);
  int n = api().encode(handle_, text.data(), text.size(), ids.data(), static_cast<int>(ids.size()));
  if (n > static_cast<int>(ids.size())) {
    ids.resize(static_cast<size_t>(n));
    n = api().encode(handle_, text.data(), text.size(), ids.data(), n);
  }
  ids.resize(static_cast<size_t>(n));
  return ids;
}

std::string SpmProcessor::decode(const std::vector<int>& ids) const {
  return read_string([&](char* out, size_t cap) {
    return api().decode(handle_, ids.data(), static_cast<int>(ids.size()), out, cap);
  });
}

std::string SpmProcessor::id_to_piece(int id) const {
  return read_string([&](char* out, size_t cap) { return api().id_to_piece(handle_, id, out, cap); });
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

}  // namespace lorahub::text
