#include "io/output_guard.h"

#include <unistd.h>

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

// How `inner` relates to `outer`: "is", "lies inside", "contains" or "" (apart).
std::string overlap(const fs::path& inner, const fs::path& outer) {
  if (inner == outer) return "is";
  if (within(inner, outer)) return "lies inside";
  if (within(outer, inner)) return "contains";
  return "";
}

// Whether the output can be created where it is named (see check_outputs).
void check_location(const OutputPath& o) {
  std::error_code ec;
  const fs::path path(o.path);
  const std::string head = o.what + ": '" + o.path + "'";
  if (fs::exists(path, ec)) {
    if (o.directory && !fs::is_directory(path, ec)) {
      throw std::invalid_argument(head + " is a file, expected a directory");
    }
    if (!o.directory && fs::is_directory(path, ec)) {
      throw std::invalid_argument(head + " is a directory, expected a file");
    }
  }
  // The directory the output is created in: a file's own directory; for a
  // directory, its nearest existing ancestor (the missing ones are created).
  fs::path dir = path.lexically_normal().parent_path();
  if (dir.empty()) dir = ".";
  if (o.directory) {
    while (!fs::exists(dir, ec) && dir.has_parent_path() && dir.parent_path() != dir) dir = dir.parent_path();
    if (!fs::exists(dir, ec)) dir = ".";
  } else if (!fs::exists(dir, ec)) {
    throw std::invalid_argument(head + ": directory '" + dir.string() + "' does not exist");
  }
  if (!fs::is_directory(dir, ec)) {
    throw std::invalid_argument(head + ": '" + dir.string() + "' is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw std::invalid_argument(head + ": directory '" + dir.string() + "' is not writable");
  }
}

}  // namespace

void check_outputs(const std::vector<OutputPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const OutputPath& o = outputs[i];
    if (o.path.empty()) continue;
    refuse_output_over_inputs(o.what, o.path, inputs);
    for (size_t j = 0; j < i; ++j) {  // before the location: "E/h.json" needs no "E does not exist"
      if (outputs[j].path.empty()) continue;
      const std::string how = overlap(resolved(o.path), resolved(outputs[j].path));
      if (how.empty()) continue;
      throw std::invalid_argument(o.what + ": '" + o.path + "' " + how + " the output " + outputs[j].what +
                                  " '" + outputs[j].path +
                                  "'; give each output a path of its own, outside the others");
    }
    check_location(o);
  }
}

void refuse_output_over_inputs(const std::string& what, const std::string& output,
                               const std::vector<NamedPath>& inputs) {
  if (output.empty()) return;
  const fs::path out = resolved(output);
  for (const auto& in : inputs) {
    if (in.path.empty()) continue;
    const std::string how = overlap(out, resolved(in.path));
    if (how.empty()) continue;
    throw std::invalid_argument(what + ": '" + output + "' " + how + " the input " + in.what + " '" + in.path +
                                "'; writing there would damage it: choose an output outside the inputs");
  }
}

}  // namespace lorahub::io
