#pragma once
// The one rule for every command that writes: an output path (a directory
// or a file) must not be an input, lie inside an input directory, or
// contain an input. Checked before anything is loaded or written, so a
// mistyped --out never damages the model, a module or the data it reads.

#include <string>
#include <utility>
#include <vector>

namespace lorahub::io {

// An input as the user named it: its flag or key ("--model", "modules.dir")
// and its path (file or directory).
struct NamedPath {
  std::string what;
  std::string path;
};

// Throws std::invalid_argument "<what>: '<output>' is the input <in.what>
// '<in.path>'" (or "lies inside" / "contains") when `output` and an input
// overlap. Paths are compared after resolving ".", "..", symbolic links and
// the current directory (std::filesystem::weakly_canonical), so the output
// need not exist. Empty paths are skipped.
void refuse_output_over_inputs(const std::string& what, const std::string& output,
                               const std::vector<NamedPath>& inputs);

}  // namespace lorahub::io
