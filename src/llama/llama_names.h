#pragma once
// Hugging Face Llama / Mistral checkpoint names: the one table of this
// architecture (LlamaForCausalLM / MistralForCausalLM state_dict keys).
//   model.embed_tokens.weight, model.norm.weight, lm_head.weight
//   model.layers.{i}.input_layernorm.weight, model.layers.{i}.post_attention_layernorm.weight
//   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight (.bias with attention_bias)
//   model.layers.{i}.mlp.{gate,up,down}_proj.weight
// Projections are named by module ("model.layers.0.self_attn.q_proj"), as
// PEFT's keys name them after "base_model.model.".

#include <cstdint>
#include <string>

namespace lorahub::llama::names {

inline const char* kEmbedTokens = "model.embed_tokens.weight";
inline const char* kFinalNorm = "model.norm.weight";
inline const char* kLmHead = "lm_head.weight";

inline std::string layer(int64_t i) { return "model.layers." + std::to_string(i); }
inline std::string input_layernorm(int64_t i) { return layer(i) + ".input_layernorm.weight"; }
inline std::string post_attention_layernorm(int64_t i) { return layer(i) + ".post_attention_layernorm.weight"; }
inline std::string self_attn(int64_t i) { return layer(i) + ".self_attn"; }
inline std::string mlp(int64_t i) { return layer(i) + ".mlp"; }
// Projection leaves (what PEFT's target_modules lists).
inline const char* kQProj = "q_proj";
inline const char* kKProj = "k_proj";
inline const char* kVProj = "v_proj";
inline const char* kOProj = "o_proj";
inline const char* kGateProj = "gate_proj";
inline const char* kUpProj = "up_proj";
inline const char* kDownProj = "down_proj";
inline std::string attn_proj(int64_t i, const char* leaf) { return self_attn(i) + "." + leaf; }
inline std::string mlp_proj(int64_t i, const char* leaf) { return mlp(i) + "." + leaf; }
// Older checkpoints store the rotary table's inverse frequencies; transformers
// 4.36 recomputes them (a non-persistent buffer), and so do we.
inline std::string rotary_inv_freq(int64_t i) { return self_attn(i) + ".rotary_emb.inv_freq"; }

}  // namespace lorahub::llama::names
