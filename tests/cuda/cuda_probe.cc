// Compile-and-link probe of LibTorch's CUDA API (scripts/cuda_check.sh, and
// the GPU check kit): the headers and libraries a CUDA-specific part of the
// engine would use (c10::cuda streams and guards, ATen's cuBLAS handle).
// Built only against a CUDA LibTorch. Without a GPU it says so and exits 0
// (linking was the check); with one it runs a bfloat16 matmul on a stream
// from the pool and compares it with float64 on the CPU (exit 1 if off).

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include <iostream>

int main() {
  if (!torch::cuda::is_available()) {
    std::cout << "cuda_probe: linked against LibTorch's CUDA libraries; no CUDA device here, nothing run\n";
    return 0;
  }
  const c10::cuda::CUDAGuard device(0);
  const c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  const c10::cuda::CUDAStreamGuard on_stream(stream);
  std::cout << "cuda_probe: " << torch::cuda::device_count() << " device(s); cuBLAS handle "
            << at::cuda::getCurrentCUDABlasHandle() << " on stream " << stream.id() << "\n";
  at::manual_seed(0);
  const at::Tensor a = at::randn({512, 512}, at::kDouble), b = at::randn({512, 512}, at::kDouble);
  const at::Tensor gpu = at::matmul(a.to(at::kCUDA, at::kBFloat16), b.to(at::kCUDA, at::kBFloat16));
  stream.synchronize();
  // bf16 inputs carry 2^-9 relative error each; sums of 512 products of
  // N(0,1) entries are ~sqrt(512): an error of a few tenths is bf16, not a bug.
  const double err = (gpu.to(at::kCPU, at::kDouble) - at::matmul(a, b)).abs().max().item<double>();
  std::cout << "cuda_probe: bf16 512^3 matmul on the GPU, max |error| vs float64 = " << err << "\n";
  return err < 1.0 ? 0 : 1;
}
