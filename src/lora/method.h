#pragma once
// The names of the composition and merge methods, in one table (no LibTorch:
// the config reader and the CLI parse through it).
//   kLoraHub, kCat: compositions applied at run time (lora/composition.h;
//     LoraHub: Huang et al. 2023; CAT: LoRA Soups, Prabhakar et al. 2024).
//   the others: PEFT's LoraModel.add_weighted_adapter combination_type
//     names (peft/tuners/lora/model.py, PEFT 0.7-0.13; lora/merge_methods.h).
// Errors: parse_* throw std::invalid_argument naming `what` (the flag or key),
// the values expected and the value found.

#include "util/names.h"

#include <string>

namespace lorahub::lora {

enum class Method {
  kLoraHub, kCat, kLinear, kSvd, kTies, kTiesSvd, kDareLinear, kDareTies,
  kDareLinearSvd, kDareTiesSvd, kMagnitudePrune, kMagnitudePruneSvd,
};
// PEFT's combination_type names (and "lorahub").
inline constexpr util::Name<Method> kMethodNames[] = {
    {Method::kLoraHub, "lorahub"},
    {Method::kCat, "cat"},
    {Method::kLinear, "linear"},
    {Method::kSvd, "svd"},
    {Method::kTies, "ties"},
    {Method::kTiesSvd, "ties_svd"},
    {Method::kDareLinear, "dare_linear"},
    {Method::kDareTies, "dare_ties"},
    {Method::kDareLinearSvd, "dare_linear_svd"},
    {Method::kDareTiesSvd, "dare_ties_svd"},
    {Method::kMagnitudePrune, "magnitude_prune"},
    {Method::kMagnitudePruneSvd, "magnitude_prune_svd"},
};
// Without `merge_methods` only lorahub and cat are accepted.
Method parse_method(const std::string& name, const std::string& what, bool merge_methods = false);
std::string method_name(Method m);
bool is_runtime_composition(Method m);  // kLoraHub, kCat
// Whether `method` needs adapters of equal rank (PEFT: linear, ties,
// dare_linear, dare_ties, magnitude_prune) / reduces with an SVD.
bool needs_equal_ranks(Method method);
bool is_svd_method(Method method);

// The one rule for a merge's density (--density, sweep.methods.density,
// MergeOptions): a number in (0, 1] whose reciprocal is finite in float32
// (DARE rescales the kept entries by 1/density in the tensors' float32, as
// PEFT's merge_utils.prune does: below 1/FLT_MAX ~ 2.94e-39 that gives inf,
// or NaN where float32(density) is 0). Returns "" when `density` is valid,
// else what is wrong ("expected a number in (0, 1], found 0").
std::string density_problem(double density);

// TIES' sign election (PEFT merge_utils.calculate_majority_sign_mask).
enum class MajoritySign { kTotal, kFrequency };
inline constexpr util::Name<MajoritySign> kMajoritySignNames[] = {{MajoritySign::kTotal, "total"},
                                                                  {MajoritySign::kFrequency, "frequency"}};
MajoritySign parse_majority_sign(const std::string& name, const std::string& what);
std::string majority_sign_name(MajoritySign m);

}  // namespace lorahub::lora
