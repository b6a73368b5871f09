#pragma once
// Model shapes shared by the benchmarks (lorahub_bench, lorahub_gpu_bench):
// flan-t5-large's and TinyLlama-1.1B's configurations with random weights,
// random LoRA modules, the token lengths of five BBH prompts and the useful
// FLOPs of a forward pass.

#include "llama/llama_config.h"
#include "llama/llama_model.h"
#include "lora/lora_adapter.h"
#include "lora/lora_pool.h"
#include "t5/batch.h"
#include "t5/t5_config.h"
#include "t5/t5_model.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::bench {

// One model shape with its examples and a pool of modules.
struct Shape {
  std::string name;
  const t5::T5Model* model = nullptr;
  const lora::LoraPool* pool = nullptr;
  std::vector<t5::TokenIds> inputs, targets;
};

// Field `name` (input_ids, label_ids) of the first `n` examples of golden.json.
std::vector<t5::TokenIds> golden_field(const char* name, int n);
// Token ids drawn uniformly from the vocabulary (no pad, no </s>), with the
// lengths of `like`; targets (`eos`) end with </s> as the tokenizer makes them.
std::vector<t5::TokenIds> random_ids(const std::vector<t5::TokenIds>& like, int64_t vocab, uint64_t seed, bool eos);
// flan-t5-large: d_model 1024, 24+24 layers, 16 heads, d_kv 64, d_ff 2816, gated-gelu.
t5::T5Config large_config();
// That shape with random weights (t5::random_t5_weights, seed 0), cast to
// `dtype` and moved to `device`.
std::unique_ptr<t5::T5Model> make_large_model(c10::ScalarType dtype, c10::Device device);
// `n` random modules, r = 16 on PEFT's default LoRA targets of the family
// (LanguageModel::default_lora_targets: T5 q, v; Llama q_proj, v_proj),
// PEFT initialisation scales (A ~ U(-1/sqrt(in), 1/sqrt(in)), B small); CPU float32.
std::vector<lora::LoraAdapter> random_adapters(const model::LanguageModel& model, int n, uint64_t seed);
// Useful multiply-adds x2 of one teacher-forced forward pass over the shape's
// examples: matmuls and attention products on real tokens only (padding,
// norms, softmax and the LoRA products are left out), so a path that skips
// padding is not credited with work it did not do.
double forward_flops(const Shape& sh);

// The Llama family's shapes: a causal LM with its examples (prompt ids with
// BOS, target ids with EOS) and a pool of modules.
struct LlamaShape {
  std::string name;
  const llama::LlamaModel* model = nullptr;
  const lora::LoraPool* pool = nullptr;
  std::vector<model::TokenIds> inputs, targets;
};
// TinyLlama-1.1B (TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T):
// hidden 2048, 22 layers, 32 heads, 4 key/value heads, intermediate 5632,
// vocab 32000, rope_theta 10000, untied lm_head.
llama::LlamaConfig tinyllama_config();
// That shape with random weights (llama::random_llama_weights, seed 0).
std::unique_ptr<llama::LlamaModel> make_tinyllama_model(c10::ScalarType dtype, c10::Device device);
// Useful multiply-adds x2 of one teacher-forced pass over the shape's
// examples (prompt + target): the projections and the causal attention
// products (query t against keys 0..t) on real tokens, lm_head on the
// positions that predict targets (the only ones the loss computes); norms,
// softmax, rotary and the LoRA products are left out.
double forward_flops(const LlamaShape& sh);

}  // namespace lorahub::bench
