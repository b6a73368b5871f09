#pragma once
// Units of work and their results, as self-describing JSON messages
// (CBOR-encoded on the wire).
//
//   objective: {kind, trial, unit, task, modules[], composition, shots[],
//               loss, loss_batch_size, l1, weights[[..]]}
//              -> {trial, unit, losses[], objectives[]}
//   eval:      {kind, trial, unit, task, prompt: zero|icl, modules[],
//               composition, weights[] (empty: base model), indices[]}
//              -> {trial, unit, predictions[]}
//   train:     {kind, trial, unit, task, shots[], indices[], mode: lora|full|ia3,
//               steps, lr, rank, alpha, batch_size, seed}
//              -> {trial, unit, predictions[], train_losses[]}
// A unit whose numbers went non-finite (model::NonFiniteError: training
// diverged, logits NaN or inf) returns {trial, unit, failed: reason}: its
// trial is stored as failed with that reason and the sweep goes on. Any
// other failure returns {trial, unit, error} and stops the run.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace lorahub::run {

inline std::vector<uint8_t> encode(const nlohmann::json& j) { return nlohmann::json::to_cbor(j); }
inline nlohmann::json decode(const std::vector<uint8_t>& bytes) { return nlohmann::json::from_cbor(bytes); }

}  // namespace lorahub::run
