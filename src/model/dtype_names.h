#pragma once
// The floating-point types weights may be loaded in, and their names (one
// table: `--dtype`, YAML `runtime.dtype`, results file). No LibTorch:
// model::parse_dtype (weight_store.h) maps them to c10::ScalarType.

#include "util/names.h"

namespace lorahub::model {

enum class DType { kFloat32, kBFloat16 };

// The first name of each prints; the others are accepted aliases.
inline constexpr util::Name<DType> kDTypeNames[] = {
    {DType::kFloat32, "float32"}, {DType::kBFloat16, "bfloat16"},
    {DType::kFloat32, "fp32"},    {DType::kBFloat16, "bf16"},
    {DType::kFloat32, "float"},
};

}  // namespace lorahub::model
