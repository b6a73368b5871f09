#include "run/runner.h"

#include "model/loader.h"
#include "run/comm.h"
#include "run/coordinator.h"
#include "run/devices.h"
#include "run/output_lock.h"
#include "run/plan.h"
#include "run/results_store.h"
#include "run/work_unit.h"
#include "run/worker.h"

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

namespace lorahub::run {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// runtime.device for the node's `local_worker`-th worker rank (run/devices.h).
c10::Device pick_device(const Config& c, int local_worker) {
  const bool cuda = torch::cuda::is_available();
  if (c.device == "cuda" && !cuda) throw std::runtime_error("runtime.device is cuda but no CUDA device is available");
  if (c.device == "cpu" || !cuda) return c10::kCPU;
  const int visible = static_cast<int>(torch::cuda::device_count());
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(gpu_index(local_worker, visible)));
}

std::string physical_gpu_of(const c10::Device& d) {
  return d.is_cuda() ? physical_gpu(std::getenv("CUDA_VISIBLE_DEVICES"), d.index()) : "";
}

int pick_threads(const Config& c, int workers_on_node) {
  if (c.threads > 0) return static_cast<int>(c.threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, workers_on_node));
}

// One process: units and results still go through their wire format, so a
// run reads the same messages at any rank count.
class LocalTransport : public Transport {
 public:
  explicit LocalTransport(Worker& w) : worker_(w) {}
  int num_workers() const override { return 1; }
  void send(int, const WorkUnit& unit) override { pending_ = encode(unit); }
  std::pair<int, UnitResult> receive() override {
    return {0, decode_result(encode(worker_.execute(decode_unit(pending_))))};
  }

 private:
  Worker& worker_;
  std::vector<uint8_t> pending_;
};

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(const Comm& comm) : comm_(comm) {}
  int num_workers() const override { return comm_.size() - 1; }
  void send(int worker, const WorkUnit& unit) override { comm_.send(worker + 1, Tag::kUnit, encode(unit)); }
  std::pair<int, UnitResult> receive() override {
    int from = 0;
    const auto bytes = comm_.receive(-1, Tag::kResult, false, &from, nullptr);
    return {from - 1, decode_result(bytes)};
  }

 private:
  const Comm& comm_;
};

void say_how_to_resume(const RunOptions& o, const Config& c) {
  std::fprintf(stderr, "interrupted: finished trials are saved in %s; continue with: lorahub run %s --resume%s\n",
               c.output.c_str(), o.config_path.c_str(), o.output.empty() ? "" : (" --output " + o.output).c_str());
}

int coordinate_and_report(const RunOptions& o, const Config& c, Transport& transport, int world_size) {
  const auto plan = expand_plan(c);
  RunInfo info{c.text, c.results_hash(), o.command_line, world_size, "", c.model_family};
  ResultsStore store(c.output, info, o.resume, c.flush_interval_s);
  const RunSummary s = coordinate(c, plan, transport, store, g_stop, o.progress);
  store.flush();
  if (s.interrupted) {
    say_how_to_resume(o, c);
    return 0;
  }
  // Failed trials count as finished: a trial fails on its own numbers, so a rerun would fail again.
  const int64_t failed = store.failed();
  const std::string failures =
      failed == 0
          ? ""
          : "; " + std::to_string(failed) + (failed == 1 ? " trial" : " trials") +
                " failed (status 'failed', the reason under 'error'; --resume does not run them again)";
  std::fprintf(stderr, "done: %lld trials run, %lld already finished, results in %s%s\n",
               static_cast<long long>(s.finished), static_cast<long long>(s.skipped), c.output.c_str(),
               failures.c_str());
  return 0;
}

// Under MPI a rank that fails alone leaves the others waiting in a probe or a
// send: it prints its one line and ends the whole job (MPI_Abort). Finished
// trials are already durable in the journal, so `--resume` continues.
[[noreturn]] void abort_job(const Comm& comm, const std::string& what) {
  std::fprintf(stderr, "lorahub run: error: rank %d of %d: %s; ending the job (MPI_Abort)\n", comm.rank(), comm.size(),
               what.substr(0, what.find('\n')).c_str());
  std::fflush(stderr);
  MpiSession::abort(1);
}

int serve(const RunOptions&, const Config& config, const Comm& comm, const c10::Device& device) {
  // Workers: one device each; SIGTERM is the coordinator's business.
  // The coordinator idles, so its node has one worker fewer than ranks.
  const int workers_on_node = comm.local_size() - (comm.node_hosts_root() ? 1 : 0);
  Worker worker(config, device, pick_threads(config, workers_on_node));
  while (true) {
    Tag tag;
    const auto bytes = comm.receive(0, Tag::kUnit, true, nullptr, &tag);
    if (tag == Tag::kStop) break;
    comm.send(0, Tag::kResult, encode(worker.execute(decode_unit(bytes))));
  }
  return 0;
}

int run_local(const RunOptions& o, const Config& c) {
  Worker worker(c, pick_device(c, 0), pick_threads(c, 1));
  LocalTransport transport(worker);
  return coordinate_and_report(o, c, transport, 1);
}

}  // namespace

int run_sweep(const RunOptions& options) {
  install_signal_handlers();
  MpiSession mpi(nullptr, nullptr);
  const Comm comm = Comm::world();
  // Rank 0 reads and checks the config; every rank gets its text, or the
  // error, so that all fail together before any work starts.
  nlohmann::json msg;
  if (comm.rank() == 0) {
    try {
      Config c = load_config(options.config_path);
      if (!options.output.empty()) c.output = options.output;
      check_output(c, options.output.empty() ? "output" : "--output");
      expand_plan(c);  // trial ids distinct
      check_tasks(c);
      model::check_model_files(c.model);  // a model refused at load leaves no results file behind
      msg = {{"ok", true}, {"text", c.text}, {"path", c.path}};
    } catch (const std::exception& e) {
      msg = {{"ok", false}, {"error", e.what()}};
    }
  }
  if (comm.size() > 1) {
    msg = nlohmann::json::from_cbor(comm.broadcast(comm.rank() == 0 ? nlohmann::json::to_cbor(msg) : std::vector<uint8_t>{}));
  }
  if (!msg.at("ok").get<bool>()) {
    if (comm.rank() == 0) throw std::invalid_argument(msg.at("error").get<std::string>());
    return 1;
  }
  auto config_of = [&] {
    Config config = parse_config(msg.at("text"), msg.at("path"));  // paths resolved on each rank
    if (!options.output.empty()) config.output = options.output;
    return config;
  };
  // Rank 0's claim on the results file, before any work and once every rank
  // has started (a rank that fails at start-up ends the job by MPI_Abort,
  // which would leave the lock behind).
  std::unique_ptr<OutputLock> lock;
  if (comm.size() == 1) {
    const Config config = config_of();
    lock = std::make_unique<OutputLock>(config.output);
    return run_local(options, config);
  }

  try {
    const Config config = config_of();
    // Each worker rank picks its device; the ranks of a node compare their
    // GPUs before any work (the coordinator computes on none).
    const c10::Device device =
        comm.rank() == 0 ? c10::Device(c10::kCPU) : pick_device(config, comm.local_rank() - (comm.node_hosts_root() ? 1 : 0));
    check_one_worker_per_gpu(comm.node_allgather(comm.rank() == 0 ? "" : physical_gpu_of(device)), Comm::host());
    if (comm.rank() != 0) return serve(options, config, comm, device);
    lock = std::make_unique<OutputLock>(config.output);
    MpiTransport transport(comm);
    const int rc = coordinate_and_report(options, config, transport, comm.size());
    for (int w = 1; w < comm.size(); ++w) comm.send(w, Tag::kStop, {});
    return rc;
  } catch (const std::exception& e) {
    lock.reset();  // MPI_Abort unwinds nothing
    abort_job(comm, e.what());
  }
}

int print_plan(const std::string& config_path) {
  const Config c = load_config(config_path);
  const auto plan = expand_plan(c);
  check_tasks(c);
  model::check_model_files(c.model);
  std::map<std::string, int64_t> per_method;
  for (const auto& t : plan) {
    std::printf("%s\n", t.id.c_str());
    ++per_method[t.label.empty() ? c.methods[t.method].label : t.label];
  }
  std::printf("\n%zu trials (%zu tasks", plan.size(), c.tasks.size());
  for (const auto& [m, n] : per_method) std::printf(", %s %lld", m.c_str(), static_cast<long long>(n));
  std::printf("); results to %s\n", c.output.c_str());
  return 0;
}

}  // namespace lorahub::run
