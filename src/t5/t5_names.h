#pragma once
// Hugging Face T5 checkpoint names: the one table of this architecture.
//   shared.weight, lm_head.weight
//   <stack>.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight
//   <stack>.block.0.layer.0.SelfAttention.relative_attention_bias.weight
//   decoder.block.{i}.layer.1.EncDecAttention.{q,k,v,o}.weight
//   <stack>.block.{i}.layer.{1 enc | 2 dec}.DenseReluDense.{wi | wi_0, wi_1, wo}.weight
//   <stack>.block.{i}.layer.{j}.layer_norm.weight, <stack>.final_layer_norm.weight

#include <string>

namespace lorahub::t5::names {

enum class Stack { kEncoder, kDecoder };

inline std::string stack(Stack s) { return s == Stack::kEncoder ? "encoder" : "decoder"; }
inline std::string block(Stack s, int64_t i) { return stack(s) + ".block." + std::to_string(i); }
inline std::string self_attention(Stack s, int64_t i) { return block(s, i) + ".layer.0.SelfAttention"; }
inline std::string cross_attention(int64_t i) { return block(Stack::kDecoder, i) + ".layer.1.EncDecAttention"; }
inline int64_t ffn_layer(Stack s) { return s == Stack::kEncoder ? 1 : 2; }
inline std::string feed_forward(Stack s, int64_t i) {
  return block(s, i) + ".layer." + std::to_string(ffn_layer(s)) + ".DenseReluDense";
}
inline std::string layer_norm(Stack s, int64_t i, int64_t layer) {
  return block(s, i) + ".layer." + std::to_string(layer) + ".layer_norm.weight";
}
inline std::string final_layer_norm(Stack s) { return stack(s) + ".final_layer_norm.weight"; }
inline std::string relative_attention_bias(Stack s) {
  return self_attention(s, 0) + ".relative_attention_bias.weight";
}
inline const char* kShared = "shared.weight";
inline const char* kLmHead = "lm_head.weight";
inline std::string weight(const std::string& module) { return module + ".weight"; }

}  // namespace lorahub::t5::names
