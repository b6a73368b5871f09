// Benchmarks of the hot paths on the fixture model. Prints Google Benchmark's
// table, then ratios between benchmarks measured in this same run.
//
//   build/tests/lorahub_bench [--benchmark_filter=...]
//
// Runs with 1 torch thread unless LORAHUB_BENCH_THREADS says otherwise, to
// compare with the Python reference's figure (17 ms per LoraHub step on the
// fixture, OpenBLAS, 1 thread, 5 examples).

#include "learn/objective.h"
#include "lora/tiny_pool.h"
#include "t5/runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <map>

namespace {

using namespace lorahub;

std::vector<t5::TokenIds> field(const char* name, int n) {
  std::vector<t5::TokenIds> out;
  for (int i = 0; i < n; ++i) out.push_back(testing::ids(testing::golden()["examples"][i][name]));
  return out;
}

learn::FewShotObjective make_objective(int64_t per_pass, lora::Method method = lora::Method::kLoraHub) {
  learn::ObjectiveOptions opts;
  opts.candidates_per_pass = per_pass;
  opts.method = method;
  return learn::FewShotObjective(testing::tiny_model(), testing::tiny_pool(), field("input_ids", 5),
                                 field("label_ids", 5), opts);
}

at::Tensor candidates(int64_t p) {
  at::manual_seed(0);
  return at::rand({p, 5}, at::kDouble) * 3.0 - 1.5;
}

// One LoraHub step: one candidate, 5 examples (what one get_score call does).
void BM_LoraHubStep(benchmark::State& state) {
  const auto objective = make_objective(1);
  const at::Tensor w = candidates(1);
  for (auto _ : state) benchmark::DoNotOptimize(objective.objectives(w));
}
BENCHMARK(BM_LoraHubStep)->Unit(benchmark::kMillisecond);

// 16 candidates, one forward pass each vs all in one pass.
void BM_Candidates16Sequential(benchmark::State& state) {
  const auto objective = make_objective(1);
  const at::Tensor w = candidates(16);
  for (auto _ : state) benchmark::DoNotOptimize(objective.objectives(w));
}
BENCHMARK(BM_Candidates16Sequential)->Unit(benchmark::kMillisecond);

void BM_Candidates16Batched(benchmark::State& state) {
  const auto objective = make_objective(16);
  const at::Tensor w = candidates(16);
  for (auto _ : state) benchmark::DoNotOptimize(objective.objectives(w));
}
BENCHMARK(BM_Candidates16Batched)->Unit(benchmark::kMillisecond);

void BM_Compose5(benchmark::State& state) {
  const at::Tensor w = candidates(1)[0];
  for (auto _ : state) benchmark::DoNotOptimize(lora::compose(testing::tiny_pool(), w, lora::Method::kLoraHub));
}
BENCHMARK(BM_Compose5)->Unit(benchmark::kMicrosecond);

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ms;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) ms[r.benchmark_name()] = r.GetAdjustedRealTime() * (r.time_unit == benchmark::kMillisecond ? 1.0 : 1e-3);
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* threads = std::getenv("LORAHUB_BENCH_THREADS");
  t5::tune_allocator();
  t5::set_threads(threads ? std::atoi(threads) : 1);
  at::NoGradGuard no_grad;
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& ms = reporter.ms;
  std::cout << "\nthreads: " << at::get_num_threads() << "\n";
  if (ms.count("BM_LoraHubStep")) {
    std::cout << "LoraHub step: " << ms["BM_LoraHubStep"] << " ms; Python reference 17 ms/step -> speed-up "
              << 17.0 / ms["BM_LoraHubStep"] << "x\n";
  }
  if (ms.count("BM_Candidates16Sequential") && ms.count("BM_Candidates16Batched")) {
    std::cout << "P=16 candidates: sequential/batched time ratio = "
              << ms["BM_Candidates16Sequential"] / ms["BM_Candidates16Batched"] << "x\n";
  }
  return 0;
}
