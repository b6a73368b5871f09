#pragma once
// Flags every model-running command shares: device, dtype, threads.

#include "cli/commands.h"
#include "io/output_guard.h"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <optional>
#include <string>
#include <vector>

namespace lorahub::cli {

// Parses a subcommand's flags into `vm` (required ones checked); prints the
// help and returns false for --help.
bool parse_command_line(const Args& args, const boost::program_options::options_description& desc,
                        boost::program_options::variables_map& vm,
                        const boost::program_options::positional_options_description* positional = nullptr);

struct RuntimeOptions {
  std::string device_name = "cpu";
  std::string dtype_name = "float32";
  int threads = 0;  // 0: all cores
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;
};

void add_runtime_options(boost::program_options::options_description& desc, RuntimeOptions& opts);
// Parses device and dtype, sets torch's thread count. Throws on bad values.
void apply_runtime_options(RuntimeOptions& opts);

// Where LoRA modules come from: directories, or ids (one per line of a list
// file, e.g. the paper's 196) looked up under a root directory.
struct ModuleOptions {
  std::vector<std::string> dirs;
  std::string list_file;
  std::string root;
  bool ignore_base = false;  // compose modules whose base_model_name_or_path differ
};

void add_module_options(boost::program_options::options_description& desc, ModuleOptions& opts);
// Module directories in order; errors name the list file and line.
std::vector<std::string> resolve_modules(const ModuleOptions& opts);

// Integer flags and their least valid value, checked after parsing so that
// a bad value is refused before any work: UsageError "--budget: expected an
// integer >= 1, found 0". Flags absent from `vm` are skipped.
struct IntFlagMin {
  const char* flag;
  int64_t min;
};
void require_at_least(const boost::program_options::variables_map& vm, const std::vector<IntFlagMin>& rules);

// Whether the user gave `flag` (present and not from its default).
bool flag_given(const boost::program_options::variables_map& vm, const char* flag);

// Stop strings of greedy decoding (learn::GenerateOptions::stop_strings):
// --stop TEXT (repeatable; \n, \t and \\ are decoded, so --stop '\n\n'
// works) replaces the model's defaults, --no-stop turns them off.
struct StopFlags {
  std::vector<std::string> stop;
};
void add_stop_options(boost::program_options::options_description& desc, StopFlags& flags);
// Unset (the model's defaults) unless --stop or --no-stop was given; both:
// UsageError. An unknown escape (\x) is a UsageError naming it.
std::optional<std::vector<std::string>> stop_strings(const StopFlags& flags,
                                                     const boost::program_options::variables_map& vm);
// Every output flag of a command (`outputs`: flag, path, file or directory;
// empty paths skipped) checked before anything is loaded or written
// (io::check_outputs): UsageError when an output is, lies inside or
// contains an input or another output, or cannot be written where it is
// named (a file's directory missing, a file in the way).
void check_output_flags(const std::vector<io::OutputPath>& outputs, const std::vector<io::NamedPath>& inputs);
// The inputs named by module flags: each directory (--modules) and the list file.
std::vector<io::NamedPath> module_inputs(const ModuleOptions& opts, const std::vector<std::string>& dirs);

// "0.5,-0.3,1.2" -> numbers; errors name `what` and the bad item.
std::vector<double> parse_doubles(const std::string& text, const std::string& what);

}  // namespace lorahub::cli
