// The LoraHub objective on a GPU in bfloat16 (scripts/gpu_check.sh): one
// LoraHub step (one candidate, 5 examples, one get_score call), and P = 16
// candidates evaluated one by one against all in one batched pass (grouped
// low-rank products, length groups), at flan-t5-large's shape with random
// weights and 20 random modules (r = 16 on q, v), as lorahub_bench --large.
// The batched evaluation's useful FLOP rate (real tokens only, see
// bench::forward_flops) is compared with the card's bf16 peak and with a
// large bf16 matmul measured here.
//
//   lorahub_gpu_bench [--shape large|fixture] [--repeats N]
//   LORAHUB_TEST_DEVICE   cuda, cuda:N or cpu (default: cuda when available)
//   LORAHUB_BENCH_DTYPE   bfloat16 (default) or float32
//   LORAHUB_PEAK_TFLOPS   the card's dense peak in that dtype (default 790:
//                         H200 SXM bf16)
//   LORAHUB_BENCH_THREADS CPU threads (default 1)
//
// Every timed call ends with the losses copied to the host (objectives()
// returns them), so wall time is device time. Figures are medians of N runs
// after two warm-up runs. The last line is one JSON object with the figures.

#include "bench/bench_shapes.h"
#include "learn/objective.h"
#include "lora/tiny_pool.h"
#include "support/fixtures.h"
#include "t5/checkpoint.h"
#include "t5/runtime.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

using namespace lorahub;

double median_ms(int repeats, const std::function<void()>& run) {
  run();
  run();  // warm-up: cuBLAS handles, allocator, kernel choice
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// A square bf16 matmul large enough to run near the card's peak: what the
// hardware gives this build, whatever the peak on paper.
double matmul_tflops(c10::Device device, at::ScalarType dtype, int repeats) {
  const int64_t n = device.is_cpu() ? 1024 : 8192;
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts);
  const int inner = device.is_cpu() ? 1 : 20;
  const double ms = median_ms(repeats, [&] {
    at::Tensor c;
    for (int i = 0; i < inner; ++i) c = at::matmul(a, b);
    c.sum().item<float>();  // waits for the device
  });
  return 2.0 * static_cast<double>(n * n * n) * inner / (ms * 1e-3) * 1e-12;
}

learn::FewShotObjective objective(const bench::Shape& s, int64_t per_pass) {
  learn::ObjectiveOptions opts;
  opts.candidates_per_pass = per_pass;
  return learn::FewShotObjective(*s.model, *s.pool, s.inputs, s.targets, opts);
}

at::Tensor candidates(int64_t p, int64_t n) {
  at::manual_seed(0);
  return at::rand({p, n}, at::kDouble) * 3.0 - 1.5;
}

c10::Device bench_device() {
  if (std::getenv("LORAHUB_TEST_DEVICE")) return testing::test_device();
  return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

at::ScalarType bench_dtype() {
  const char* d = std::getenv("LORAHUB_BENCH_DTYPE");
  const std::string name = d ? d : "bfloat16";
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float32") return at::kFloat;
  throw std::invalid_argument("LORAHUB_BENCH_DTYPE: expected bfloat16 or float32, found '" + name + "'");
}

}  // namespace

int main(int argc, char** argv) try {
  std::string shape_name = "large";
  int repeats = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) shape_name = argv[++i];
    else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else throw std::invalid_argument(std::string("lorahub_gpu_bench: unknown argument '") + argv[i] +
                                     "' (expected --shape large|fixture, --repeats N)");
  }
  if (shape_name != "large" && shape_name != "fixture") {
    throw std::invalid_argument("--shape: expected large or fixture, found '" + shape_name + "'");
  }
  const c10::Device device = bench_device();
  const at::ScalarType dtype = bench_dtype();
  const char* peak_env = std::getenv("LORAHUB_PEAK_TFLOPS");
  const double peak = peak_env ? std::atof(peak_env) : 790.0;
  // CPU threads only build the weights and drive the GPU; several OpenMP
  // threads on a busy host cost more than they give.
  const char* threads = std::getenv("LORAHUB_BENCH_THREADS");
  t5::set_threads(threads ? std::atoi(threads) : 1);
  at::NoGradGuard no_grad;

  // The model and pool live on `device` in `dtype`; the pool is built from
  // the model, so its stacks follow it.
  std::unique_ptr<t5::T5Model> model;
  std::unique_ptr<lora::LoraPool> pool;
  bench::Shape s;
  s.name = shape_name;
  const auto fixture_inputs = bench::golden_field("input_ids", 5), fixture_targets = bench::golden_field("label_ids", 5);
  if (shape_name == "large") {
    model = bench::make_large_model(dtype, device);
    pool = std::make_unique<lora::LoraPool>(*model, bench::random_adapters(*model, 20, 1), false);
    s.inputs = bench::random_ids(fixture_inputs, 32128, 2, true);
    s.targets = bench::random_ids(fixture_targets, 32128, 3, true);
  } else {
    const auto ck = t5::load_checkpoint(testing::tiny_dir() + "/base", dtype, device);
    model = std::make_unique<t5::T5Model>(ck.config, ck.weights);
    pool = std::make_unique<lora::LoraPool>(lora::LoraPool::load(*model, testing::lora_dirs()));
    s.inputs = fixture_inputs;
    s.targets = fixture_targets;
  }
  s.model = model.get();
  s.pool = pool.get();
  std::cout << "device " << device << ", " << c10::toString(dtype) << ", shape " << shape_name << ", "
            << s.pool->size() << " modules, 5 examples, median of " << repeats << "\n";

  const double flops = bench::forward_flops(s);
  const at::Tensor w1 = candidates(1, s.pool->size()), w16 = candidates(16, s.pool->size());
  const auto step = objective(s, 1);
  const double step_ms = median_ms(repeats, [&] { step.objectives(w1); });
  const auto sequential = objective(s, 1);
  const double seq_ms = median_ms(repeats, [&] { sequential.objectives(w16); });
  const auto batched = objective(s, 16);
  const double batched_ms = median_ms(repeats, [&] { batched.objectives(w16); });
  const double batched_tflops = 16 * flops / (batched_ms * 1e-3) * 1e-12;
  const double step_tflops = flops / (step_ms * 1e-3) * 1e-12;
  const double mm_tflops = matmul_tflops(device, dtype, repeats);

  std::cout << "one LoraHub step: " << step_ms << " ms (" << step_tflops << " TFLOP/s)\n"
            << "P = 16 one by one: " << seq_ms << " ms; batched (" << batched.num_groups() << " length groups): "
            << batched_ms << " ms; sequential / batched = " << seq_ms / batched_ms << "x (target >= 3x on a GPU)\n"
            << "batched evaluation: " << batched_tflops << " TFLOP/s = " << 100 * batched_tflops / peak << "% of the "
            << peak << " TFLOP/s peak (target >= 40%); a large matmul here: " << mm_tflops << " TFLOP/s = "
            << 100 * mm_tflops / peak << "%\n";
  const nlohmann::json out = {{"device", device.str()},
                              {"dtype", c10::toString(dtype)},
                              {"shape", shape_name},
                              {"step_ms", step_ms},
                              {"p16_sequential_ms", seq_ms},
                              {"p16_batched_ms", batched_ms},
                              {"p16_ratio", seq_ms / batched_ms},
                              {"batched_tflops", batched_tflops},
                              {"peak_tflops", peak},
                              {"batched_fraction_of_peak", batched_tflops / peak},
                              {"matmul_tflops", mm_tflops}};
  std::cout << out.dump() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "lorahub_gpu_bench: " << e.what() << "\n";
  return 1;
}
