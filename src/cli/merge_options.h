#pragma once
// Flags of PEFT's add_weighted_adapter merge methods (lora/merge_methods.h)
// and the compose path that uses them.

#include "cli/common_options.h"
#include "lora/merge_methods.h"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <string>
#include <vector>

namespace lorahub::cli {

struct MergeFlags {
  double density = 1.0;
  std::string majority_sign = "total";
  int64_t svd_rank = 0;
  double svd_clamp = 0;  // 0: none
  uint64_t seed = 0;
};

// --density --majority-sign --svd-rank --svd-clamp --seed --dare-no-rescale
void add_merge_options(boost::program_options::options_description& desc, MergeFlags& flags);
// Checks the flags (UsageError naming the flag) and refuses those the
// method does not use when they were given.
lora::MergeOptions merge_options(const MergeFlags& flags, lora::Method method,
                                 const boost::program_options::variables_map& vm);

// compose for a merge method: the adapters loaded one by one (ranks may
// differ for cat and the svd methods), merged, written as a PEFT adapter or
// (`merge`) folded into a full checkpoint of `model_dir`; modules of
// different base models refused unless !check_base.
void compose_with_merge_method(const std::string& model_dir, const std::vector<std::string>& dirs,
                               const std::vector<double>& weights, const lora::MergeOptions& options,
                               RuntimeOptions& runtime, const std::string& out_dir, bool merge, bool check_base);

}  // namespace lorahub::cli
