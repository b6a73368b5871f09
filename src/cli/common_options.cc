#include "cli/common_options.h"

#include "model/dtype_names.h"
#include "model/runtime.h"
#include "model/weight_store.h"
#include "io/text_file.h"

#include <boost/program_options.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace po = boost::program_options;

namespace lorahub::cli {

bool parse_command_line(const Args& args, const po::options_description& desc, po::variables_map& vm,
                        const po::positional_options_description* positional) {
  po::command_line_parser parser(args);
  parser.options(desc);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return false;
  }
  po::notify(vm);
  // Every floating-point flag, whatever the command: NaN and inf never pass
  // (Boost reads "nan", "inf" and overflowing numbers such as 1e999 as such).
  for (const auto& [flag, value] : vm) {
    const double* v = boost::any_cast<double>(&value.value());
    if (v && !std::isfinite(*v)) {
      std::ostringstream found;
      found << *v;
      throw UsageError("--" + flag + ": expected a finite number, found " + found.str());
    }
  }
  return true;
}

void add_runtime_options(po::options_description& desc, RuntimeOptions& opts) {
  desc.add_options()
      ("device", po::value(&opts.device_name)->default_value("cpu"), "cpu, cuda or cuda:N")
      ("dtype", po::value(&opts.dtype_name)->default_value("float32"),
       ("weights' type: " + util::names_list(model::kDTypeNames)).c_str())
      ("threads", po::value(&opts.threads)->default_value(0), "CPU threads (0: all cores)");
}

void apply_runtime_options(RuntimeOptions& opts) {
  opts.dtype = model::parse_dtype(opts.dtype_name, "--dtype");
  try {
    opts.device = c10::Device(opts.device_name);
  } catch (const std::exception&) {
    throw UsageError("--device: expected cpu, cuda or cuda:N, found \"" + opts.device_name + "\"");
  }
  if (opts.threads < 0) throw UsageError("--threads: expected a non-negative integer");
  model::set_threads(opts.threads);
}

void add_module_options(po::options_description& desc, ModuleOptions& opts) {
  desc.add_options()
      ("modules", po::value(&opts.dirs)->multitoken(), "LoRA module directories (PEFT adapters)")
      ("modules-file", po::value(&opts.list_file), "file with one module id per line (# comments allowed)")
      ("modules-dir", po::value(&opts.root), "directory holding the modules named in --modules-file")
      ("ignore-base-mismatch", po::bool_switch(&opts.ignore_base), "compose modules whose base_model_name_or_path differ");
}

std::vector<std::string> resolve_modules(const ModuleOptions& opts) {
  std::vector<std::string> dirs = opts.dirs;
  if (!opts.list_file.empty()) {
    if (!std::ifstream(opts.list_file)) throw std::runtime_error(opts.list_file + ": cannot open module list");
    for (const auto& id : io::read_list_file(opts.list_file)) dirs.push_back(opts.root.empty() ? id : opts.root + "/" + id);
  }
  if (dirs.empty()) throw UsageError("no LoRA modules: give --modules or --modules-file");
  return dirs;
}

void require_at_least(const po::variables_map& vm, const std::vector<IntFlagMin>& rules) {
  for (const auto& [flag, min] : rules) {
    if (!vm.count(flag)) continue;
    const boost::any& value = vm[flag].value();
    int64_t v = 0;
    if (const auto* p64 = boost::any_cast<int64_t>(&value)) {
      v = *p64;
    } else if (const auto* p = boost::any_cast<int>(&value)) {
      v = *p;
    } else {
      throw std::logic_error(std::string("require_at_least: --") + flag + " is not an integer flag");
    }
    if (v < min) {
      throw UsageError(std::string("--") + flag + ": expected an integer >= " + std::to_string(min) + ", found " +
                       std::to_string(v));
    }
  }
}

bool flag_given(const boost::program_options::variables_map& vm, const char* flag) {
  return vm.count(flag) && !vm[flag].defaulted();
}

void add_stop_options(po::options_description& desc, StopFlags& flags) {
  desc.add_options()
      ("stop", po::value(&flags.stop)->composing(), "stop string, cut from the output (repeatable; \\n, \\t, \\\\ "
       "decoded); replaces the model's defaults (causal LMs: \"\\n\\n\" and \"Q:\"; T5: none)")
      ("no-stop", "no stop strings: stop at EOS or --max-new-tokens only");
}

std::optional<std::vector<std::string>> stop_strings(const StopFlags& flags, const po::variables_map& vm) {
  if (vm.count("no-stop") && vm.count("stop")) throw UsageError("--stop and --no-stop exclude each other");
  if (vm.count("no-stop")) return std::vector<std::string>{};
  if (!vm.count("stop")) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& text : flags.stop) {
    std::string s;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\\') {
        s += text[i];
        continue;
      }
      const char next = i + 1 < text.size() ? text[i + 1] : '\0';
      if (next == 'n') s += '\n';
      else if (next == 't') s += '\t';
      else if (next == '\\') s += '\\';
      else throw UsageError("--stop: unknown escape in \"" + text + "\" (expected \\n, \\t or \\\\)");
      ++i;
    }
    if (s.empty()) throw UsageError("--stop: empty stop string (use --no-stop for none)");
    out.push_back(s);
  }
  return out;
}

void check_output_flags(const std::vector<io::OutputPath>& outputs,
                        const std::vector<io::NamedPath>& inputs) {
  try {
    io::check_outputs(outputs, inputs);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

std::vector<io::NamedPath> module_inputs(const ModuleOptions& opts, const std::vector<std::string>& dirs) {
  std::vector<io::NamedPath> out{{"--modules-file", opts.list_file}};
  for (const auto& d : dirs) out.push_back({"--modules", d});
  return out;
}

std::vector<double> parse_doubles(const std::string& text, const std::string& what) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);  // overflow gives +-inf, refused below
    const size_t used = static_cast<size_t>(end - item.c_str());
    if (used == 0 || item.find_first_not_of(" ", used) != std::string::npos) {
      throw UsageError(what + ": expected comma-separated numbers, found \"" + item + "\"");
    }
    if (!std::isfinite(v)) throw UsageError(what + ": expected finite numbers, found " + item);
    out.push_back(v);
  }
  if (out.empty()) throw UsageError(what + ": no numbers given");
  return out;
}

}  // namespace lorahub::cli
