#include "run/devices.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace lorahub::run {

int gpu_index(int local_worker, int visible) {
  if (visible < 1) throw std::invalid_argument("gpu_index: no GPU visible");
  return local_worker % visible;
}

std::string physical_gpu(const char* cuda_visible_devices, int index) {
  if (!cuda_visible_devices) return std::to_string(index);
  std::istringstream list(cuda_visible_devices);
  std::string entry;
  for (int i = 0; std::getline(list, entry, ','); ++i) {
    if (i == index) return entry;
  }
  return std::to_string(index);  // CUDA showed more devices than the list names: keep the index
}

void check_one_worker_per_gpu(const std::vector<std::string>& gpus, const std::string& host) {
  std::map<std::string, size_t> first_rank;
  for (size_t i = 0; i < gpus.size(); ++i) {
    if (gpus[i].empty()) continue;
    const auto [at, fresh] = first_rank.emplace(gpus[i], i);
    if (!fresh) {
      throw std::runtime_error("runtime.device: node-local ranks " + std::to_string(at->second) + " and " +
                               std::to_string(i) + " on " + host + " would both compute on GPU " + gpus[i] +
                               " (more worker ranks on the node than GPUs they can see); start at most one "
                               "worker rank per GPU (srun --gpus-per-task=1, or fewer ranks per node) or set "
                               "runtime.device: cpu");
    }
  }
}

}  // namespace lorahub::run
