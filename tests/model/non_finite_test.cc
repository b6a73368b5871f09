// The device-side finiteness flag of greedy decoding (model/non_finite.h).
#include "model/non_finite.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

namespace lorahub::model {
namespace {

TEST(NonFinite, FoldFlagsOnlyRowsStillGeneratingAndStaysFalse) {
  at::Tensor flag;  // undefined: no step seen yet
  at::Tensor logits = at::zeros({3, 4});
  const at::Tensor all_open = at::ones({3}, at::kLong), row1_ended = at::tensor({1, 0, 1}, at::kLong);
  fold_finite_logits(flag, logits, all_open);
  ASSERT_TRUE(flag.defined());
  EXPECT_EQ(flag.dim(), 0);
  EXPECT_TRUE(flag.item<bool>());
  logits[1][2] = std::numeric_limits<float>::quiet_NaN();
  fold_finite_logits(flag, logits, row1_ended);  // a row that ended chooses nothing
  EXPECT_TRUE(flag.item<bool>());
  fold_finite_logits(flag, logits, all_open);
  EXPECT_FALSE(flag.item<bool>());
  fold_finite_logits(flag, at::zeros({3, 4}), all_open);  // a later finite step does not clear it
  EXPECT_FALSE(flag.item<bool>());
  at::Tensor inf_flag;
  logits = at::zeros({3, 4});
  logits[2][0] = -std::numeric_limits<float>::infinity();
  fold_finite_logits(inf_flag, logits, row1_ended);
  EXPECT_FALSE(inf_flag.item<bool>());
}

TEST(NonFinite, ErrorIsARuntimeError) {
  // Commands print it as any error; `lorahub run` tells it apart by type.
  try {
    throw NonFiniteError("x");
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "x");
  }
}

}  // namespace
}  // namespace lorahub::model
