#include "model/weight_store.h"

#include "model/dtype_names.h"
#include "model/non_finite.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace lorahub::model {

c10::ScalarType parse_dtype(const std::string& name, const std::string& what) {
  return util::parse_name(kDTypeNames, name, what) == DType::kBFloat16 ? c10::kBFloat16 : c10::kFloat;
}
namespace {
std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}
}  // namespace

WeightStore::WeightStore(io::TensorMap tensors, std::map<std::string, std::string> origin,
                         std::string default_origin, c10::ScalarType dtype, c10::Device device)
    : origin_(std::move(origin)), default_origin_(std::move(default_origin)), dtype_(dtype), device_(device) {
  for (auto& [name, t] : tensors) {
    at::Tensor v = t.is_floating_point() ? t.to(device, dtype) : t.to(device);
    tensors_.emplace(name, v.contiguous());
  }
}

std::string WeightStore::origin(const std::string& name) const {
  auto it = origin_.find(name);
  return it == origin_.end() ? default_origin_ : it->second;
}

const at::Tensor& WeightStore::get(const std::string& name, const std::vector<int64_t>& shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw std::runtime_error(default_origin_ + ": missing tensor " + io::quoted_name(name));
  }
  if (!it->second.is_floating_point()) {  // an int tensor would fail (or be copied) far from its cause
    throw std::runtime_error(origin(name) + ": tensor " + io::quoted_name(name) + " has dtype " +
                             std::string(c10::toString(it->second.scalar_type())) +
                             ", expected a floating-point dtype (F32, F16, BF16 or F64)");
  }
  if (it->second.sizes() != at::IntArrayRef(shape)) {
    throw std::runtime_error(origin(name) + ": tensor " + io::quoted_name(name) + " has shape " +
                             shape_str(it->second.sizes()) + ", expected " + shape_str(shape));
  }
  return it->second;
}

std::shared_ptr<WeightStore> WeightStore::with_replaced(const io::TensorMap& replaced,
                                                        const std::string& what) const {
  io::TensorMap merged = tensors_;
  std::map<std::string, std::string> origin = origin_;
  for (const auto& [name, t] : replaced) {
    // Errors name the model directory, not its weight file: nothing is written there.
    const std::filesystem::path file(this->origin(name));
    const bool is_file =
        file.has_parent_path() && (file.extension() == ".safetensors" || file.extension() == ".bin");
    const std::string why = "the in-memory merged weights of " +
                            (is_file ? file.parent_path().string() : file.string()) + " (" + what + ")";
    auto it = merged.find(name);
    if (it == merged.end()) throw std::invalid_argument(why + ": base model has no tensor " + io::quoted_name(name));
    if (it->second.sizes() != t.sizes()) {
      throw std::invalid_argument(why + ": tensor " + io::quoted_name(name) + " has shape " + shape_str(t.sizes()) +
                                  ", base model has " + shape_str(it->second.sizes()));
    }
    if (t.is_floating_point() && !at::isfinite(t).all().item<bool>()) {
      throw NonFiniteError(why + ": tensor '" + name +
                           "' is not finite (the composition weights or the modules "
                           "overflow " +
                           (t.scalar_type() == at::kBFloat16 ? "bfloat16" : "float32") +
                           "; nothing was written)");
    }
    it->second = t;
    origin[name] = why;
  }
  return std::make_shared<WeightStore>(std::move(merged), std::move(origin), default_origin_, dtype_, device_);
}

std::shared_ptr<WeightStore> WeightStore::with_added(const io::TensorMap& deltas, const std::string& what) const {
  io::TensorMap replaced;
  for (const auto& [name, delta] : deltas) {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      replaced[name] = delta;  // with_replaced names the missing tensor
      continue;
    }
    const at::Tensor& w = it->second;
    replaced[name] = w.sizes() == delta.sizes()
                         ? (w.to(at::kFloat) + delta.to(w.device(), at::kFloat)).to(w.scalar_type())
                         : delta;  // with_replaced names the shapes
  }
  return with_replaced(replaced, what);
}

}  // namespace lorahub::model
