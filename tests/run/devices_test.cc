// The GPU rule of the runner (run/devices.h): node-local worker index to
// CUDA device, CUDA_VISIBLE_DEVICES to the physical GPU, and one worker per GPU.

#include "run/devices.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace lorahub::run {
namespace {

std::string refusal(const std::vector<std::string>& gpus) {
  try {
    check_one_worker_per_gpu(gpus, "node7");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Devices, WorkersOfANodeTakeTheNodeLocalGpus) {
  EXPECT_EQ(gpu_index(0, 4), 0);
  EXPECT_EQ(gpu_index(3, 4), 3);
  EXPECT_EQ(gpu_index(2, 1), 0);  // one GPU bound per task: each rank's own GPU 0
  EXPECT_THROW(gpu_index(0, 0), std::invalid_argument);
}

TEST(Devices, PhysicalGpuReadsCudaVisibleDevices) {
  EXPECT_EQ(physical_gpu(nullptr, 2), "2");
  EXPECT_EQ(physical_gpu("3", 0), "3");
  EXPECT_EQ(physical_gpu("4,5,6", 1), "5");
  EXPECT_EQ(physical_gpu("GPU-8a2c,GPU-77f1", 1), "GPU-77f1");
  EXPECT_EQ(physical_gpu("1", 3), "3");  // more devices than the list names: the index
}

TEST(Devices, TwoWorkersOnOneGpuStopTheRun) {
  // srun --gpus-per-task=1: every task sees its own GPU as device 0.
  std::vector<std::string> bound;
  for (const char* visible : {"0", "1", "2", "3"}) bound.push_back(physical_gpu(visible, gpu_index(0, 1)));
  EXPECT_EQ(refusal(bound), "");
  // The coordinator ("") and CPU workers take no GPU.
  EXPECT_EQ(refusal({"", "0", "1"}), "");
  EXPECT_EQ(refusal({"", "", ""}), "");
  // Five ranks (coordinator + 4 workers) on a node showing 2 GPUs to all.
  std::vector<std::string> shared{""};
  for (int w = 0; w < 4; ++w) shared.push_back(physical_gpu(nullptr, gpu_index(w, 2)));
  EXPECT_EQ(refusal(shared),
            "runtime.device: node-local ranks 1 and 3 on node7 would both compute on GPU 0 (more worker ranks on the "
            "node than GPUs they can see); start at most one worker rank per GPU (srun --gpus-per-task=1, or fewer "
            "ranks per node) or set runtime.device: cpu");
}

}  // namespace
}  // namespace lorahub::run
