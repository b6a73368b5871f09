#include "model/projections.h"

#include <algorithm>
#include <stdexcept>

namespace lorahub::model {

const char* role_name(ProjectionRole role) {
  switch (role) {
    case ProjectionRole::kAttentionQuery: return "attention.query";
    case ProjectionRole::kAttentionKey: return "attention.key";
    case ProjectionRole::kAttentionValue: return "attention.value";
    case ProjectionRole::kAttentionOutput: return "attention.output";
    case ProjectionRole::kFeedForwardIn: return "ffn.in";
    case ProjectionRole::kFeedForwardUp: return "ffn.up";
    case ProjectionRole::kFeedForwardOut: return "ffn.out";
  }
  return "?";
}

std::string Projection::leaf() const {
  const size_t dot = module.rfind('.');
  return dot == std::string::npos ? module : module.substr(dot + 1);
}

int ProjectionRegistry::add(Projection p) {
  if (find(p.module) >= 0) throw std::logic_error("projection registered twice: " + p.module);
  projections_.push_back(std::move(p));
  return size() - 1;
}

int ProjectionRegistry::find(const std::string& module) const {
  for (size_t i = 0; i < projections_.size(); ++i) {
    if (projections_[i].module == module) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> ProjectionRegistry::leaves(const std::vector<ProjectionRole>& roles) const {
  std::vector<std::string> out;
  for (const auto& p : projections_) {
    if (std::find(roles.begin(), roles.end(), p.role) == roles.end()) continue;
    const std::string leaf = p.leaf();
    if (std::find(out.begin(), out.end(), leaf) == out.end()) out.push_back(leaf);
  }
  return out;
}

}  // namespace lorahub::model
