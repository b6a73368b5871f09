#pragma once
// Which GPU each worker rank computes on (runtime.device auto or cuda), as
// pure functions of what a rank can see: no LibTorch, no MPI, so that the
// rule is tested on machines without GPUs. runner.cc applies them.
//
// One worker rank per GPU: ranks of a node take GPU (local worker index mod
// the GPUs visible to them). That is the node-local GPU when a node runs at
// most one worker per GPU, and GPU 0 of each rank when the launcher binds one
// GPU per task (srun --gpus-per-task=1 sets a different CUDA_VISIBLE_DEVICES
// per task). Two workers on one GPU would share its memory and time in
// silence, so the node's workers compare the physical GPUs they chose and the
// run stops before any work when two coincide.

#include <string>
#include <vector>

namespace lorahub::run {

// The CUDA device index of the worker with node-local worker index
// `local_worker` (0 for the first worker rank of the node, the coordinator
// not counted) among `visible` GPUs (> 0).
int gpu_index(int local_worker, int visible);

// The physical GPU behind CUDA device `index` as the node names it: entry
// `index` of CUDA_VISIBLE_DEVICES (a number, a UUID "GPU-..." or a MIG id)
// when the variable is set (`cuda_visible_devices` non-null), else the index
// itself. Entries are comma-separated, as CUDA reads them.
std::string physical_gpu(const char* cuda_visible_devices, int index);

// Throws std::runtime_error naming two worker ranks of one node that chose
// the same physical GPU, with the fix. `gpus[i]` is the physical GPU of the
// node's i-th rank ("" for the coordinator and for CPU workers).
void check_one_worker_per_gpu(const std::vector<std::string>& gpus, const std::string& host);

}  // namespace lorahub::run
