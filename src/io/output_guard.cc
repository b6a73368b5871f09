#include "io/output_guard.h"

#include <filesystem>
#include <stdexcept>

namespace lorahub::io {
namespace {

namespace fs = std::filesystem;

fs::path resolved(const std::string& p) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::absolute(p, ec), ec);
  if (ec) out = fs::absolute(p).lexically_normal();
  // "dir/" and "dir" are the same directory.
  if (!out.has_filename() && out.has_parent_path() && out != out.root_path()) out = out.parent_path();
  return out;
}

// Whether `inner` is `outer` or lies below it (whole path components).
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

}  // namespace

void refuse_output_over_inputs(const std::string& what, const std::string& output,
                               const std::vector<NamedPath>& inputs) {
  if (output.empty()) return;
  const fs::path out = resolved(output);
  for (const auto& in : inputs) {
    if (in.path.empty()) continue;
    const fs::path p = resolved(in.path);
    std::string how;
    if (out == p) {
      how = "is";
    } else if (within(out, p)) {
      how = "lies inside";
    } else if (within(p, out)) {
      how = "contains";
    } else {
      continue;
    }
    throw std::invalid_argument(what + ": '" + output + "' " + how + " the input " + in.what + " '" + in.path +
                                "'; writing there would damage it: choose an output outside the inputs");
  }
}

}  // namespace lorahub::io
