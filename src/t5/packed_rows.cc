#include "t5/packed_rows.h"

#include <ATen/ATen.h>

namespace lorahub::t5 {

at::Tensor unpack(const at::Tensor& x, const PackedRows& p) {
  return at::zeros({p.batch * p.length, x.size(-1)}, x.options())
      .index_copy_(0, p.index, x.reshape({-1, x.size(-1)}))
      .view({p.batch, p.length, x.size(-1)});
}

}  // namespace lorahub::t5
