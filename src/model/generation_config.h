#pragma once
// The generation settings of a model directory, as transformers 4.36's
// generate(input_ids, max_new_tokens=N) takes them (the call LoraHub's
// reference makes: lorahub/algorithm.py lorahub_inference), for greedy
// decoding (lorahub decodes greedily, as DESIGN.md section 3 says).
//
// Where they come from (PreTrainedModel.from_pretrained, GenerationMixin.generate):
// `generation_config.json` when present, unless it says
// `"_from_model_config": true` (a copy of config.json's values: generate then
// rebuilds them from config.json); otherwise config.json's generation
// attributes (GenerationConfig.from_model_config). A generation_config.json
// replaces config.json's ids entirely: an id it does not give is unset.
//
// What changes the tokens of greedy decoding:
//   eos_token_id (an int or a list: a row ends at the first of any),
//   decoder_start_token_id (encoder-decoder models; else bos_token_id) are
//   honoured. Refused (std::invalid_argument "<file>: field '<name>': ...",
//   value found and what is supported): num_beams != 1, constraints,
//   force_words_ids, penalty_alpha > 0 with top_k > 1 (contrastive search),
//   diversity_penalty > 0, repetition_penalty / encoder_repetition_penalty
//   != 1, no_repeat_ngram_size / encoder_no_repeat_ngram_size > 0,
//   bad_words_ids, min_length / min_new_tokens > 0 (with an EOS),
//   forced_bos_token_id, forced_eos_token_id, forced_decoder_ids,
//   suppress_tokens, begin_suppress_tokens, sequence_bias,
//   exponential_decay_length_penalty, guidance_scale != 1, max_time,
//   num_return_sequences != 1.
// Warned about once per process (stderr, naming the file): do_sample true
// (lorahub decodes greedily; temperature, top_k, top_p, typical_p,
// epsilon_cutoff and eta_cutoff only shape sampling), and, in a
// generation_config.json, keys transformers 4.36 does not know.
// Accepted quietly: max_length and max_new_tokens (lorahub's
// --max-new-tokens takes their place, as the call's max_new_tokens does),
// pad_token_id (fills rows that ended), the beam-only early_stopping,
// length_penalty, num_beam_groups, the output_* and return_* switches,
// use_cache, renormalize_logits (argmax unchanged), remove_invalid_values
// (lorahub refuses predictions made from non-finite logits anyway),
// low_memory, the assistant settings, metadata.

#include "io/json_file.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lorahub::model {

struct GenerationConfig {
  // A row ends at the first of these (kept out of the outputs); none: only
  // at max_new_tokens or a stop string.
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> decoder_start_token_id;
  std::optional<int64_t> bos_token_id;
  std::string source;  // the file these came from, for messages

  bool ends_at(int64_t id) const;
  // An encoder-decoder's first decoder token (generate's
  // _get_decoder_start_token_id): decoder_start_token_id, else bos_token_id.
  // Throws std::invalid_argument naming `source` when neither is set
  // (transformers raises there too).
  int64_t decoder_start() const;
};

// An id field that may be an integer or a list of integers ("eos_token_id"):
// absent -> `fallback`, null -> none, n -> {n}, [a, b] -> {a, b}. Throws
// std::invalid_argument naming the file and field otherwise (a negative id included).
std::vector<int64_t> read_token_ids(const io::JsonFields& f, const std::string& key, std::vector<int64_t> fallback);

// The generation settings of `dir` (see above). `from_config` holds
// config.json's ids as the family's config reader read them (with its
// defaults); config.json's other generation attributes are checked here.
// Throws std::invalid_argument naming the file and field (see above),
// std::runtime_error when a file cannot be read.
GenerationConfig read_generation_config(const std::string& dir, const GenerationConfig& from_config);

}  // namespace lorahub::model
