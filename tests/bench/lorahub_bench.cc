// Benchmarks of the hot paths, at the fixture's shape (the tiny T5 and its
// five adapters) and, with --large, at flan-t5-large's shape (random
// weights: d_model 1024, 24+24 layers, 16 heads, d_kv 64, d_ff 2816,
// gated-gelu; 20 random modules r = 16 on q, v). The Llama family: the
// LoraHub step, its loss and P = 16 candidates one by one and batched, at
// the tiny-llama fixture's shape (its five adapters, its first five
// examples) and, with --llama-large, at TinyLlama-1.1B's shape (random
// weights: hidden 2048, 22 layers, 32 heads, 4 key/value heads,
// intermediate 5632; 20 random modules r = 16 on q_proj, v_proj; prompts of
// the T5 shapes' lengths). Prints Google Benchmark's table, then ratios
// between figures measured in this same run.
//
//   build/tests/lorahub_bench                 fixture shapes (about 40 s)
//   build/tests/lorahub_bench --large         also the flan-t5-large shape (minutes, ~12 GB)
//   build/tests/lorahub_bench --llama-large   also the TinyLlama-1.1B shape (minutes, ~6 GB)
//   LORAHUB_BENCH_THREADS=2 build/tests/lorahub_bench ...
//   build/tests/lorahub_bench --benchmark_repetitions=5   ratios of medians
//   LORAHUB_BENCH_PROFILE=trace.json build/tests/lorahub_bench
//       also writes a chrome://tracing profile of one batched P = 16
//       evaluation at the fixture shape (op by op; LORAHUB_BENCH_PROFILE_P=1
//       for one LoraHub step)
//
// Torch threads default to 1, to compare with the Python reference's figure
// (17 ms per LoraHub step on the fixture, OpenBLAS, 1 thread, 5 examples).
// Every shape evaluates 5 examples with the token lengths of the fixture's
// first five BBH examples (inputs 82, 37, 140, 89, 101; targets 4, 2, 2, 4, 2).

#include "bench/bench_shapes.h"
#include "learn/objective.h"
#include "llama/tiny_llama.h"
#include "lora/composition.h"
#include "lora/tiny_pool.h"
#include "run/config.h"
#include "run/coordinator.h"
#include "run/plan.h"
#include "run/results_store.h"
#include "t5/batch.h"
#include "t5/init.h"
#include "t5/runtime.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>

namespace {

using namespace lorahub;
using namespace lorahub::bench;

const Shape& fixture_shape() {
  static const Shape s{"fixture", &testing::tiny_model(), &testing::tiny_pool(), golden_field("input_ids", 5),
                       golden_field("label_ids", 5)};
  return s;
}

const t5::T5Model& large_model(at::ScalarType dtype) {
  static std::map<at::ScalarType, std::unique_ptr<t5::T5Model>> models;
  auto& m = models[dtype];
  if (!m) m = bench::make_large_model(dtype, at::kCPU);
  return *m;
}

const Shape& large_shape() {
  static const Shape s = [] {
    Shape l;
    l.name = "large";
    l.model = &large_model(at::kFloat);
    static const lora::LoraPool pool(*l.model, random_adapters(*l.model, 20, 1), false);
    l.pool = &pool;
    l.inputs = random_ids(fixture_shape().inputs, 32128, 2, true);
    l.targets = random_ids(fixture_shape().targets, 32128, 3, true);
    return l;
  }();
  return s;
}

const LlamaShape& llama_fixture_shape() {
  static const LlamaShape s = [] {
    static const lora::LoraPool pool = [] {
      std::vector<std::string> dirs;
      for (int i = 0; i < 5; ++i) dirs.push_back(testing::llama_dir() + "/lora/lora" + std::to_string(i));
      return lora::LoraPool::load(testing::llama_model(), dirs);
    }();
    return LlamaShape{"llama-fixture", &testing::llama_model(), &pool, testing::llama_prompts(5), testing::llama_targets(5)};
  }();
  return s;
}

const LlamaShape& llama_large_shape() {
  static const LlamaShape s = [] {
    static const auto model = make_tinyllama_model(at::kFloat, at::kCPU);
    static const lora::LoraPool pool(*model, random_adapters(*model, 20, 1), false);
    LlamaShape l{"llama-large", model.get(), &pool, {}, {}};
    const int64_t vocab = model->config().vocab_size;
    // The T5 shapes' lengths: prompts with BOS first, targets with EOS last.
    l.inputs = random_ids(fixture_shape().inputs, vocab, 2, false);
    l.targets = random_ids(fixture_shape().targets, vocab, 3, false);
    for (auto& ids : l.inputs) ids.front() = model->config().bos_token_id;
    for (auto& ids : l.targets) ids.back() = model->config().eos_token_ids.front();
    return l;
  }();
  return s;
}

template <class S>
learn::FewShotObjective objective(const S& s, int64_t per_pass) {
  learn::ObjectiveOptions opts;
  opts.candidates_per_pass = per_pass;
  opts.pack_examples = std::getenv("LORAHUB_BENCH_NO_PACK") == nullptr;  // length groups (used off the CPU only)
  return learn::FewShotObjective(*s.model, *s.pool, s.inputs, s.targets, opts);
}

at::Tensor candidates(int64_t p, int64_t n) {
  at::manual_seed(0);
  return at::rand({p, n}, at::kDouble) * 3.0 - 1.5;
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The reference rate: one matmul of the FFN's shape over the same tokens.
void BM_Matmul(benchmark::State& state, const Shape* s) {
  const auto& c = s->model->config();
  const int64_t rows = 5 * 140;
  const at::Tensor x = at::randn({rows, c.d_model}), w = at::randn({c.d_ff, c.d_model});
  for (auto _ : state) benchmark::DoNotOptimize(at::matmul(x, w.t()));
  set_flops(state, 2.0 * static_cast<double>(rows * c.d_model * c.d_ff));
}

// Encoder + decoder, teacher-forced, 5 examples: HF's loss.
void BM_Loss(benchmark::State& state, const Shape* s) {
  const auto batch = t5::make_batch(s->inputs, s->targets, 0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->model->loss(batch.input_ids, batch.attention_mask, batch.labels).item<float>());
  }
  set_flops(state, forward_flops(*s));
}

// One LoraHub step: one candidate, 5 examples (one get_score call).
// With `packed` false the encoder runs on the padded batch, masked (the path
// before packed rows, and the one a GPU takes).
void BM_LoraHubStep(benchmark::State& state, const Shape* s, bool packed) {
  const auto o = objective(*s, 1);
  const at::Tensor w = candidates(1, s->pool->size());
  const t5::PackedEncoderScope scope(packed);
  for (auto _ : state) benchmark::DoNotOptimize(o.objectives(w));
}

// 16 candidates: one forward pass each, or all in one pass (grouped low-rank products).
void BM_Candidates16(benchmark::State& state, const Shape* s, int64_t per_pass) {
  const auto o = objective(*s, per_pass);
  const at::Tensor w = candidates(16, s->pool->size());
  for (auto _ : state) benchmark::DoNotOptimize(o.objectives(w));
  set_flops(state, 16 * forward_flops(*s));
}

// Greedy decoding of the 5 inputs for 32 tokens (rows that end early keep
// being computed): with the key/value cache, or recomputing the whole prefix
// at every step (teacher-forced logits of the tokens so far).
void BM_Greedy(benchmark::State& state, const Shape* s, bool cache) {
  const auto batch = t5::make_batch(s->inputs, s->targets, 0);
  const int64_t steps = 32;
  for (auto _ : state) {
    if (cache) {
      t5::GreedyOptions g;
      g.max_new_tokens = steps;
      benchmark::DoNotOptimize(s->model->greedy(batch.input_ids, batch.attention_mask, g).ids);
    } else {
      const at::Tensor enc = s->model->encode(batch.input_ids, batch.attention_mask);
      at::Tensor ids = at::zeros({5, 1}, at::kLong);
      for (int64_t i = 0; i < steps; ++i) {
        const at::Tensor logits = s->model->decode(ids, enc, batch.attention_mask);
        ids = at::cat({ids, logits.select(1, -1).argmax(-1, true)}, 1);
      }
      benchmark::DoNotOptimize(ids);
    }
  }
  state.counters["tokens/s"] = benchmark::Counter(5.0 * steps * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Compose(benchmark::State& state, const Shape* s) {
  const at::Tensor w = candidates(1, s->pool->size())[0];
  for (auto _ : state) benchmark::DoNotOptimize(lora::compose(*s->pool, w, lora::Method::kLoraHub));
}

// Coordinator overhead: the fixture sweep (configs/fixture.yaml, 36 trials)
// against workers that answer at once (losses from a closed form, empty
// predictions), so the time is scheduling, optimizer steps, messages and the
// results file (journal fsync per trial, HDF5 at the end).
class EmptyTransport : public run::Transport {
 public:
  int num_workers() const override { return 4; }
  void send(int worker, const run::WorkUnit& unit) override {
    queue_.push_back({worker, run::encode(unit)});
    ++units;
  }
  std::pair<int, run::UnitResult> receive() override {
    auto [worker, bytes] = queue_.front();
    queue_.pop_front();
    const run::WorkUnit unit = run::decode_unit(bytes);
    run::UnitResult out;
    out.kind = unit.kind;
    out.trial = unit.trial;
    out.unit = unit.unit;
    if (unit.kind == run::UnitKind::kObjective) {
      for (const auto& row : unit.candidates) {
        double v = 1.0;
        for (double x : row) v += (x - 0.3) * (x - 0.3);
        out.losses.push_back(v);
      }
      out.objectives = out.losses;
    } else {
      out.predictions.assign(unit.indices.size(), "");
      if (unit.kind == run::UnitKind::kTrain) out.train_losses = {1.0};
    }
    return {worker, run::decode_result(run::encode(out))};
  }
  int64_t units = 0;

 private:
  std::deque<std::pair<int, std::vector<uint8_t>>> queue_;
};

void BM_CoordinatorPerUnit(benchmark::State& state) {
  const std::string config_path = std::string(LORAHUB_SOURCE_DIR) + "/configs/fixture.yaml";
  ::setenv("LORAHUB_SHARED", testing::shared_dir().c_str(), 0);
  auto config = run::load_config(config_path);
  config.flush_interval_s = 30;  // the default: the HDF5 file is written at the end
  const auto plan = run::expand_plan(config);
  const std::string out = std::filesystem::temp_directory_path() / "lorahub-bench-coordinator.h5";
  int64_t units = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove(out);
    std::filesystem::remove(out + ".journal");
    state.ResumeTiming();
    EmptyTransport transport;
    {
      run::ResultsStore store(out, {config.text, config.results_hash(), "bench", 5, "", config.model_family}, false, config.flush_interval_s);
      const std::atomic<bool> stop{false};
      run::coordinate(config, plan, transport, store, stop, false);
    }
    units += transport.units;
  }
  state.counters["units"] = static_cast<double>(units) / static_cast<double>(state.iterations());
  state.counters["us/unit"] = benchmark::Counter(static_cast<double>(units) * 1e-6,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Memory of a pool of 196 modules (r = 16 on q, v) at the large shape: the
// bytes of its stacked tensors, and the growth of the peak RSS while the
// modules are made and stacked. Not a timing; printed after the table.
void pool_memory(at::ScalarType dtype) {
  const auto& model = large_model(dtype);
  auto peak_mb = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
  };
  const double before = peak_mb();
  double bytes = 0;
  {
    const lora::LoraPool pool(model, random_adapters(model, 196, 7), false);
    for (const auto& t : pool.targets()) bytes += static_cast<double>(t.a.nbytes() + t.b.nbytes());
  }
  std::cout << "pool of 196 modules (r = 16, q and v, " << c10::toString(dtype) << "): " << bytes / (1 << 20)
            << " MiB of stacked tensors; peak RSS grew by " << peak_mb() - before << " MiB while building it\n";
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ms;
  std::map<std::string, double> gflops;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      // With --benchmark_repetitions=N the ratios use the medians.
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      const double unit = r.time_unit == benchmark::kMillisecond ? 1.0 : r.time_unit == benchmark::kMicrosecond ? 1e-3 : 1e3;
      std::string name = r.benchmark_name();  // "Loss/large/iterations:1/real_time" -> "Loss/large"
      for (const char* suffix : {"_median", "/real_time", "/iterations:1"}) {
        const size_t n = std::strlen(suffix);
        if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0) name.resize(name.size() - n);
      }
      ms[name] = r.GetAdjustedRealTime() * unit;
      auto it = r.counters.find("GFLOP/s");
      if (it != r.counters.end()) gflops[name] = it->second;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

// The Llama family: the matmul of its MLP's shape over as many rows, the
// loss of the 5 examples, one LoraHub step, 16 candidates one by one or in
// one pass.
void BM_LlamaMatmul(benchmark::State& state, const LlamaShape* s) {
  const auto& c = s->model->config();
  const int64_t rows = 5 * 140;
  const at::Tensor x = at::randn({rows, c.hidden_size}), w = at::randn({c.intermediate_size, c.hidden_size});
  for (auto _ : state) benchmark::DoNotOptimize(at::matmul(x, w.t()));
  set_flops(state, 2.0 * static_cast<double>(rows * c.hidden_size * c.intermediate_size));
}

void BM_LlamaLoss(benchmark::State& state, const LlamaShape* s) {
  const auto batch = s->model->make_pairs(s->inputs, s->targets);
  for (auto _ : state) benchmark::DoNotOptimize(s->model->loss(batch).item<float>());
  set_flops(state, forward_flops(*s));
}

void BM_LlamaLoraHubStep(benchmark::State& state, const LlamaShape* s) {
  const auto o = objective(*s, 1);
  const at::Tensor w = candidates(1, s->pool->size());
  for (auto _ : state) benchmark::DoNotOptimize(o.objectives(w));
  set_flops(state, forward_flops(*s));
}

void BM_LlamaCandidates16(benchmark::State& state, const LlamaShape* s, int64_t per_pass) {
  const auto o = objective(*s, per_pass);
  const at::Tensor w = candidates(16, s->pool->size());
  for (auto _ : state) benchmark::DoNotOptimize(o.objectives(w));
  set_flops(state, 16 * forward_flops(*s));
}

void register_llama_shape(const LlamaShape& (*shape)(), bool large) {
  const LlamaShape* s = &shape();
  const std::string n = "/" + s->name;
  auto reg = [&](const std::string& name, auto fn, bool once = true) {
    auto* b = benchmark::RegisterBenchmark((name + n).c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
    if (large && once) b->Iterations(1);
  };
  reg("Matmul", [s](benchmark::State& st) { BM_LlamaMatmul(st, s); }, false);
  reg("Loss", [s](benchmark::State& st) { BM_LlamaLoss(st, s); });
  reg("LoraHubStep", [s](benchmark::State& st) { BM_LlamaLoraHubStep(st, s); });
  reg("Candidates16Sequential", [s](benchmark::State& st) { BM_LlamaCandidates16(st, s, 1); });
  reg("Candidates16Batched", [s](benchmark::State& st) { BM_LlamaCandidates16(st, s, 16); });
}

void register_shape(const Shape& (*shape)(), bool large) {
  const Shape* s = &shape();
  const std::string n = "/" + s->name;
  // At the large shape the model passes run once each (seconds apiece).
  auto reg = [&](const std::string& name, auto fn, bool once = true) {
    auto* b = benchmark::RegisterBenchmark((name + n).c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
    if (large && once) b->Iterations(1);
  };
  reg("Matmul", [s](benchmark::State& st) { BM_Matmul(st, s); }, false);
  reg("Loss", [s](benchmark::State& st) { BM_Loss(st, s); });
  reg("LoraHubStep", [s](benchmark::State& st) { BM_LoraHubStep(st, s, true); });
  reg("LoraHubStepPadded", [s](benchmark::State& st) { BM_LoraHubStep(st, s, false); });
  reg("Candidates16Sequential", [s](benchmark::State& st) { BM_Candidates16(st, s, 1); });
  reg("Candidates16Batched", [s](benchmark::State& st) { BM_Candidates16(st, s, 16); });
  reg("GreedyKvCache", [s](benchmark::State& st) { BM_Greedy(st, s, true); });
  reg("GreedyNoCache", [s](benchmark::State& st) { BM_Greedy(st, s, false); });
  reg("Compose", [s](benchmark::State& st) { BM_Compose(st, s); }, false);
}

}  // namespace

int main(int argc, char** argv) {
  bool large = false, llama_large = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--large")) large = true;
    else if (!std::strcmp(argv[i], "--llama-large")) llama_large = true;
    else args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());
  const char* threads = std::getenv("LORAHUB_BENCH_THREADS");
  t5::tune_allocator();
  t5::set_threads(threads ? std::atoi(threads) : 1);
  at::NoGradGuard no_grad;
  benchmark::Initialize(&n, args.data());
  register_shape(fixture_shape, false);
  register_llama_shape(llama_fixture_shape, false);
  benchmark::RegisterBenchmark("CoordinatorPerUnit", BM_CoordinatorPerUnit)->Unit(benchmark::kMillisecond)->UseRealTime();
  if (const char* trace = std::getenv("LORAHUB_BENCH_PROFILE")) {
    const char* p = std::getenv("LORAHUB_BENCH_PROFILE_P");  // candidates (default 16)
    const int64_t n = p ? std::atoi(p) : 16;
    const auto o = objective(fixture_shape(), n);
    const at::Tensor w = candidates(n, fixture_shape().pool->size());
    o.objectives(w);  // warm-up
    torch::autograd::profiler::RecordProfile profile(trace);
    o.objectives(w);
  }
  if (large) register_shape(large_shape, true);
  if (llama_large) register_llama_shape(llama_large_shape, true);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& ms = reporter.ms;
  std::cout << "\nthreads: " << at::get_num_threads() << "\n";
  for (const std::string shape : {"fixture", "large", "llama-fixture", "llama-large"}) {
    auto has = [&](const char* b) { return ms.count(std::string(b) + "/" + shape) > 0; };
    auto t = [&](const char* b) { return ms[std::string(b) + "/" + shape]; };
    if (has("LoraHubStep") && shape == "fixture") {
      std::cout << "fixture: LoraHub step " << t("LoraHubStep") << " ms; Python reference 17 ms/step -> speed-up "
                << 17.0 / t("LoraHubStep") << "x\n";
    }
    if (has("LoraHubStep") && has("Matmul") && reporter.gflops.count("LoraHubStep/" + shape)) {
      std::cout << shape << ": LoraHub step " << t("LoraHubStep") << " ms at " << reporter.gflops["LoraHubStep/" + shape]
                << " GFLOP/s = " << 100 * reporter.gflops["LoraHubStep/" + shape] / reporter.gflops["Matmul/" + shape]
                << "% of one large matmul's\n";
    }
    if (has("Candidates16Batched") && has("Matmul")) {
      std::cout << shape << ": P = 16 batched at " << reporter.gflops["Candidates16Batched/" + shape] << " GFLOP/s = "
                << 100 * reporter.gflops["Candidates16Batched/" + shape] / reporter.gflops["Matmul/" + shape]
                << "% of one large matmul's (one by one: "
                << 100 * reporter.gflops["Candidates16Sequential/" + shape] / reporter.gflops["Matmul/" + shape] << "%)\n";
    }
    if (has("LoraHubStep") && has("LoraHubStepPadded")) {
      std::cout << shape << ": LoraHub step, padded / packed encoder time = "
                << t("LoraHubStepPadded") / t("LoraHubStep") << "x\n";
    }
    if (has("Candidates16Sequential") && has("Candidates16Batched")) {
      std::cout << shape << ": P = 16 candidates, sequential / batched time = "
                << t("Candidates16Sequential") / t("Candidates16Batched") << "x\n";
    }
    if (has("Loss") && has("Matmul")) {
      std::cout << shape << ": loss evaluation at " << reporter.gflops["Loss/" + shape] << " GFLOP/s = "
                << 100 * reporter.gflops["Loss/" + shape] / reporter.gflops["Matmul/" + shape]
                << "% of one large matmul's " << reporter.gflops["Matmul/" + shape] << " GFLOP/s\n";
    }
    if (has("GreedyKvCache") && has("GreedyNoCache")) {
      std::cout << shape << ": greedy decoding, KV cache / no cache speed = " << t("GreedyNoCache") / t("GreedyKvCache") << "x\n";
    }
  }
  if (ms.count("CoordinatorPerUnit")) std::cout << "coordinator: see us/unit above (target <= 1000 us)\n";
  if (large && std::getenv("LORAHUB_BENCH_SKIP_MEMORY") == nullptr) {
    pool_memory(at::kFloat);
    pool_memory(at::kBFloat16);
  }
  return 0;
}
