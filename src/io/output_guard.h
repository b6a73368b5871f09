#pragma once
// The one rule for every command that writes: an output path (a directory
// or a file) must not be an input, lie inside an input directory, or
// contain an input; it must be writable where it is (a file's directory
// exists, nothing in the way); and two outputs of one command never share a
// path or lie one inside the other. Checked before anything is loaded or
// written, so a mistyped --out never damages the model, a module or the data
// it reads, and a long run never ends in "cannot open file for writing".

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

// An output as the user named it. A file (`directory` false) is written in
// its directory, which must exist; a directory is created with its missing
// parents (create_directories), so only a file in the way is a fault.
struct OutputPath {
  std::string what;
  std::string path;
  bool directory = false;
};

// Every check of a command's outputs, before any work, in this order for
// each output (empty paths are skipped): refuse_output_over_inputs; then
// the outputs before it — "<what>: '<path>' is (lies inside, contains) the
// output <other.what> '<other.path>'"; then where it goes — "<what>:
// '<path>': directory '<d>' does not exist", "...: '<d>' is not a
// directory", "...: directory '<d>' is not writable", "<what>: '<path>' is a
// directory, expected a file" (or "is a file, expected a directory").
// Throws std::invalid_argument with the first fault found.
void check_outputs(const std::vector<OutputPath>& outputs, const std::vector<NamedPath>& inputs);

}  // namespace lorahub::io
