// lorahub generate: greedy outputs of a checkpoint for one text or a JSONL file.

#include "cli/commands.h"
#include "cli/common_options.h"
#include "io/json_file.h"
#include "learn/generation.h"
#include "model/loader.h"

#include <ATen/ATen.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

namespace po = boost::program_options;

namespace lorahub::cli {

int generate_command(const Args& args) {
  std::string model_dir, input, input_file;
  int64_t max_new_tokens = 256, batch_size = 8;
  RuntimeOptions runtime;
  StopFlags stop;
  po::options_description desc("lorahub generate --model DIR (--input TEXT | --input-file FILE.jsonl)");
  desc.add_options()("help,h", "show this help")
      ("model", po::value(&model_dir)->required(), "Hugging Face model directory (T5, Llama or Mistral)")
      ("input", po::value(&input), "one input text; prints its output")
      ("input-file", po::value(&input_file), "JSONL with an \"input\" field per line; prints JSONL with \"output\"")
      ("max-new-tokens", po::value(&max_new_tokens)->default_value(256), "decoding limit")
      ("batch-size", po::value(&batch_size)->default_value(8), "inputs decoded together");
  add_stop_options(desc, stop);
  add_runtime_options(desc, runtime);
  po::variables_map vm;
  if (!parse_command_line(args, desc, vm)) return 0;
  const auto stops = stop_strings(stop, vm);
  if (vm.count("input") == vm.count("input-file")) {
    throw UsageError("give exactly one of --input and --input-file");
  }
  if (max_new_tokens < 1) throw UsageError("--max-new-tokens: expected a positive integer");
  if (batch_size < 1) throw UsageError("--batch-size: expected a positive integer");
  apply_runtime_options(runtime);

  std::vector<std::string> inputs;
  if (vm.count("input")) {
    inputs.push_back(input);
  } else {
    int line = 0;
    for (const auto& row : io::read_jsonl_file(input_file)) {
      ++line;
      io::JsonFields f(row, input_file + ":" + std::to_string(line));
      inputs.push_back(f.get_string("input"));
    }
  }
  const auto loaded = model::load_model(model_dir, runtime.dtype, runtime.device);

  const auto outputs = learn::generate(*loaded.model, *loaded.tokenizer, inputs, {max_new_tokens, batch_size, stops});
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (vm.count("input")) {
      std::cout << outputs[i] << "\n";
    } else {
      std::cout << nlohmann::json{{"input", inputs[i]}, {"output", outputs[i]}}.dump() << "\n";
    }
  }
  return 0;
}

}  // namespace lorahub::cli
