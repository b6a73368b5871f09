#pragma once
// Named model weights with their provenance, resolved by layers at build time.

#include "io/tensor_map.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lorahub::model {

// A name of model/dtype_names.h ("float32", "bfloat16" and their aliases
// fp32, bf16, float) as a ScalarType; throws std::invalid_argument naming
// `what`, the names expected and the name found.
c10::ScalarType parse_dtype(const std::string& name, const std::string& what);

class WeightStore {
 public:
  // Takes the tensors, casting floating-point ones to `dtype` and moving all
  // to `device`. `origin` maps a name to the file it came from (for errors);
  // names without an entry are attributed to `default_origin`.
  WeightStore(io::TensorMap tensors, std::map<std::string, std::string> origin,
              std::string default_origin, c10::ScalarType dtype, c10::Device device);

  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  // The tensor `name`, checked to have `shape`. Throws std::runtime_error
  // naming the file and the tensor when it is missing, misshapen or not of
  // a floating-point dtype (an integer tensor in a checkpoint).
  const at::Tensor& get(const std::string& name, const std::vector<int64_t>& shape) const;
  const io::TensorMap& tensors() const { return tensors_; }
  std::string origin(const std::string& name) const;
  c10::ScalarType dtype() const { return dtype_; }
  c10::Device device() const { return device_; }

  // A store sharing every tensor of this one except `replaced` (used to fold
  // an adapter into a copy of the model; this store is not modified).
  // `what` names what was folded in ("LoRA composition"); errors read "the
  // in-memory merged weights of <model dir> (<what>): tensor '<name>' ...".
  // Throws std::invalid_argument on a name or shape the base lacks, and
  // model::NonFiniteError when a replacement is not finite (a composition
  // that overflowed), so no merged model computes on NaN or inf.
  std::shared_ptr<WeightStore> with_replaced(const io::TensorMap& replaced, const std::string& what) const;
  // with_replaced of W + delta for each named delta (any float dtype and
  // device, shaped as W): summed in float32 on this store's device and
  // rounded once to its dtype (a bfloat16 W + a bfloat16-rounded delta would
  // round twice). The merge of LoRA compositions and merge methods.
  std::shared_ptr<WeightStore> with_added(const io::TensorMap& deltas, const std::string& what) const;

 private:
  io::TensorMap tensors_;
  std::map<std::string, std::string> origin_;
  std::string default_origin_;
  c10::ScalarType dtype_;
  c10::Device device_;
};

}  // namespace lorahub::model
