#!/usr/bin/env bash
# GPU check kit (README "GPU check kit"): on a GPU machine that has PyTorch
# 2.x with CUDA, the CUDA toolkit (nvcc), CMake, Ninja and g++ but none of
# Debian's -dev packages, builds the engine (no MPI, HDF5, yaml-cpp, Boost:
# -DLORAHUB_ENGINE_ONLY=ON) with its tests against that PyTorch's LibTorch,
# runs the HF-parity tests of the T5 engine on the GPU in float32, and the
# bfloat16 benchmark at flan-t5-large's shape (one LoraHub step; P = 16 one by
# one vs batched; TFLOP/s against the card's peak). About 5 minutes on 16
# cores and an H200.
#
#   scripts/gpu_check.sh --pack   here (Debian 12, package network): puts the
#                                 .deb files the engine needs (2.5 MiB:
#                                 GoogleTest, nlohmann-json, Eigen, netlib
#                                 BLAS/CBLAS, SentencePiece) in build-gpu/debs
#                                 and the tiny-t5 fixture in build-gpu/shared
#   scripts/gpu_check.sh          there: unpacks build-gpu/debs into
#                                 build-gpu/prefix, builds into build-gpu/build,
#                                 runs; report in build-gpu/report.txt (and
#                                 $OUT/ when set)
#
# Carry build-gpu/ to the GPU machine with the source tree. Environment:
#   LORAHUB_PYTHON        the Python with torch (default python3)
#   LORAHUB_PEAK_TFLOPS   the card's dense bf16 peak (default 790, H200)
#   TORCH_CUDA_ARCH_LIST  default 9.0 (H100/H200)
set -euo pipefail
cd "$(dirname "$0")/.."
kit=build-gpu
debs=(libgtest-dev nlohmann-json3-dev libeigen3-dev libblas-dev libblas3 libsentencepiece-dev libsentencepiece0)
say() { echo "gpu_check: $*"; }

if [[ ${1:-} == --pack ]]; then
  rm -rf "$kit/debs" "$kit/shared"
  mkdir -p "$kit/debs" "$kit/shared/fixtures"
  (cd "$kit/debs" && apt-get download "${debs[@]}" >../apt.log 2>&1) || { cat "$kit/apt.log" >&2; exit 1; }
  shared=${LORAHUB_SHARED:-../shared}
  cp -r "$shared/fixtures/tiny-t5" "$kit/shared/fixtures/"
  say "packed $(du -sh "$kit/debs" | cut -f1) of .deb files and $(du -sh "$kit/shared" | cut -f1) of fixtures into $kit ($(du -sh "$kit" | cut -f1) in all; carry $kit)"
  exit 0
fi

start=$(date +%s)
mkdir -p "$kit"
report="$kit/report.txt"
: >"$report"
note() { echo "$*" | tee -a "$report"; }
finish() {
  note "gpu_check: $1 after $(( $(date +%s) - start )) s"
  if [[ -n ${OUT:-} ]]; then cp "$report" "$kit"/*.log "$OUT"/ 2>/dev/null || true; fi
  if [[ $1 == ok ]]; then exit 0; fi
  exit 1
}
step() {  # step NAME SECONDS CMD...: runs with a time limit, output in $kit/NAME.log
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  if timeout "$limit" "$@" >"$kit/$name.log" 2>&1; then
    note "  $name: ok ($(( $(date +%s) - t0 )) s)"
  else
    note "  $name: FAILED (exit $?, $(( $(date +%s) - t0 )) s); last lines of $kit/$name.log:"
    tail -25 "$kit/$name.log" | tee -a "$report"
    return 1
  fi
}

# 1. The Python's LibTorch: version, CUDA, C++ ABI (the .deb libraries use the C++11 ABI).
py=${LORAHUB_PYTHON:-python3}
read -r version cuda abi gpus root < <("$py" - <<'EOF' 2>/dev/null || true
import os, torch
print(torch.__version__, torch.version.cuda or "none", int(torch._C._GLIBCXX_USE_CXX11_ABI),
      torch.cuda.device_count() if torch.cuda.is_available() else 0, os.path.dirname(torch.__file__))
EOF
) || true
[[ -n ${root:-} ]] || { note "gpu_check: '$py' cannot import torch (set LORAHUB_PYTHON)"; finish FAILED; }
note "gpu_check: torch $version, CUDA $cuda, C++11 ABI $abi, $gpus GPU(s), LibTorch at $root"
[[ $abi == 1 ]] || { note "gpu_check: this torch uses the pre-C++11 ABI; the engine's libraries need torch >= 2.6"; finish FAILED; }
[[ $cuda != none ]] || { note "gpu_check: this torch is a CPU build"; finish FAILED; }
device=${LORAHUB_TEST_DEVICE:-cuda}
[[ $device == cpu || $gpus -gt 0 ]] || { note "gpu_check: no GPU visible to torch (LORAHUB_TEST_DEVICE=cpu for a dry run)"; finish FAILED; }
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/  /' | tee -a "$report"
fi

# 2. The CUDA toolkit LibTorch's CMake config needs (nvcc and headers; no GPU
#    code of ours): CUDACXX, else the first nvcc of torch's CUDA major version.
nvcc=${CUDACXX:-}
if [[ -z $nvcc ]]; then
  for c in "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc "$root"/../nvidia/cu*/bin/nvcc; do
    [[ -n $c && -x $c ]] || continue
    [[ -z $nvcc ]] && nvcc=$c
    if "$c" --version | grep -q "release ${cuda%%.*}\."; then nvcc=$c; break; fi
  done
fi
[[ -n $nvcc ]] || { note "gpu_check: no nvcc (set CUDACXX): LibTorch's CMake config needs the CUDA toolkit"; finish FAILED; }
note "gpu_check: $("$nvcc" --version | tail -1) at $nvcc"

# 3. The .deb files, unpacked into a prefix; Debian's alternatives links
#    (cblas.h, libblas.so) are made by hand, dpkg does not run.
prefix="$PWD/$kit/prefix"
ls "$kit"/debs/*.deb >/dev/null 2>&1 || { note "gpu_check: no $kit/debs/*.deb: run 'scripts/gpu_check.sh --pack' on a Debian 12 machine first"; finish FAILED; }
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in "$kit"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$prefix"
  else
    member=$(ar t "$deb" | grep '^data.tar')
    case $member in
      *.xz) ar p "$deb" "$member" | tar -xJ -C "$prefix" ;;
      *.zst) ar p "$deb" "$member" | zstd -dc | tar -x -C "$prefix" ;;
      *) ar p "$deb" "$member" | tar -xz -C "$prefix" ;;
    esac
  fi
done
multi="$prefix/usr/lib/x86_64-linux-gnu"
ln -sf cblas-netlib.h "$prefix/usr/include/x86_64-linux-gnu/cblas.h"
ln -sf blas/libblas.so.3 "$multi/libblas.so"
ln -sf blas/libblas.so.3 "$multi/libblas.so.3"
note "gpu_check: unpacked ${#debs[@]} packages into $prefix ($(du -sh "$prefix" | cut -f1))"

shared=${LORAHUB_SHARED:-}
for c in "$PWD/$kit/shared" "$PWD/shared" "$PWD/../shared"; do
  [[ -z $shared && -f $c/fixtures/tiny-t5/golden.json ]] && shared=$c
done
[[ -n $shared ]] || { note "gpu_check: no fixtures/tiny-t5 (run --pack, or set LORAHUB_SHARED)"; finish FAILED; }

# 4. Configure and build the engine, its tests and the benches.
build="$kit/build"
jobs=$(nproc)
step configure 300 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLORAHUB_ENGINE_ONLY=ON \
  "-DCMAKE_PREFIX_PATH=$root;$prefix/usr" "-DTorch_DIR=$root/share/cmake/Torch" \
  "-DCMAKE_INCLUDE_PATH=$prefix/usr/include/x86_64-linux-gnu" "-DCMAKE_LIBRARY_PATH=$multi" \
  "-DGTest_DIR=$multi/cmake/GTest" "-DEigen3_DIR=$prefix/usr/share/eigen3/cmake" \
  "-Dnlohmann_json_DIR=$prefix/usr/share/cmake/nlohmann_json" \
  "-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDA_TOOLKIT_ROOT_DIR=$(cd "$(dirname "$nvcc")/.." && pwd)" \
  "-DTORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}" "-DLORAHUB_SHARED_DIR=$shared" || finish FAILED
grep '^-- lorahub:' "$kit/configure.log" | tee -a "$report"
step build 420 ninja -C "$build" -j "$jobs" t5_tests lora_tests lorahub_gpu_bench lorahub_cuda_probe || finish FAILED

# 5. Run: the CUDA probe, the parity tests on the GPU (float32, HF golden
#    numbers) and on the CPU (the same binary), then the bf16 benchmark.
export LORAHUB_SHARED="$shared" OMP_NUM_THREADS=${OMP_NUM_THREADS:-$jobs}
status=ok
step cuda_probe 60 "$build/tests/lorahub_cuda_probe" || status=FAILED
step parity_gpu 300 env LORAHUB_TEST_DEVICE="$device" "$build/tests/t5_tests" --gtest_filter='T5Parity.*' || status=FAILED
grep -E '^\[ +(OK|FAILED|SKIPPED) +\]' "$kit/parity_gpu.log" | sed 's/^/    /' | tee -a "$report"
step parity_cpu 300 env LORAHUB_TEST_DEVICE=cpu "$build/tests/t5_tests" || status=FAILED
step lora_cpu 300 env LORAHUB_TEST_DEVICE=cpu "$build/tests/lora_tests" || status=FAILED
step bench_bf16 420 env LORAHUB_TEST_DEVICE="$device" LORAHUB_BENCH_DTYPE=bfloat16 \
  "$build/tests/lorahub_gpu_bench" --shape large --repeats 5 || status=FAILED
grep -E '^(device|one LoraHub|P = 16|batched evaluation|\{)' "$kit/bench_bf16.log" | sed 's/^/    /' | tee -a "$report"
finish "$status"
