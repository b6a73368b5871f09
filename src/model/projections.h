#pragma once
// The registry of a model's LoRA-targetable projections (the Linear layers
// PEFT may wrap), built by the layers' constructors in forward order. A
// projection's index in the registry is its "site": the index of its entry
// in a LowRankSet (model/linear.h). Every "which linears?" question (adapter
// loading, composition, IA3, training, export) is answered here, once.

#include <cstdint>
#include <string>
#include <vector>

namespace lorahub::model {

// What a projection does in its block; family-neutral (T5's q/k/v/o and
// Llama's q_proj/k_proj/v_proj/o_proj are both attention roles).
enum class ProjectionRole {
  kAttentionQuery,
  kAttentionKey,
  kAttentionValue,
  kAttentionOutput,
  kFeedForwardIn,    // T5 wi (ungated) / wi_0, Llama gate_proj: the activation's input
  kFeedForwardUp,    // T5 wi_1, Llama up_proj: the gate's linear partner
  kFeedForwardOut,   // T5 wo, Llama down_proj
};
const char* role_name(ProjectionRole role);

struct Projection {
  std::string module;  // full module name, "encoder.block.0.layer.0.SelfAttention.q"
  int64_t in_features = 0;
  int64_t out_features = 0;
  ProjectionRole role = ProjectionRole::kAttentionQuery;
  // PEFT's `feedforward_modules` default for IA3 (scale the input, not the output).
  bool is_feed_forward_out() const { return role == ProjectionRole::kFeedForwardOut; }
  // The last component of the name ("q", "q_proj"): what target_modules lists.
  std::string leaf() const;
};

class ProjectionRegistry {
 public:
  // Appends a projection and returns its site. Throws std::logic_error on a
  // duplicate module name.
  int add(Projection p);
  int size() const { return static_cast<int>(projections_.size()); }
  const Projection& at(int site) const { return projections_.at(static_cast<size_t>(site)); }
  const std::vector<Projection>& all() const { return projections_; }
  // Site of `module`, -1 when the model has no such projection.
  int find(const std::string& module) const;
  // The distinct leaf names (Projection::leaf) of the projections whose role
  // is one of `roles`, in registry order: a target_modules list naming those
  // roles in the family's own words (T5 {q, v}, Llama {q_proj, v_proj}).
  std::vector<std::string> leaves(const std::vector<ProjectionRole>& roles) const;

 private:
  std::vector<Projection> projections_;
};

}  // namespace lorahub::model
