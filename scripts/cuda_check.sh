#!/usr/bin/env bash
# CUDA compile-and-link check (no GPU needed): builds the whole project
# against the CUDA build of the PyTorch wheel's LibTorch with this machine's
# CUDA toolkit (scripts/build.sh --libtorch pip, into ./build-torch2, shared
# with scripts/torch2.sh), then checks that
#   - CMake found CUDA through LibTorch's config (nvcc, toolkit headers);
#   - the CUDA probe (tests/cuda/cuda_probe.cc: c10::cuda streams and guards,
#     ATen's cuBLAS handle) compiled and linked;
#   - every executable records libtorch_cuda.so as needed (so CUDA is
#     registered when it starts) and the dynamic loader resolves all its
#     libraries (ldd: libc10_cuda.so found, none "not found"), the CUDA ones
#     from the nvidia-* wheels the LibTorch was built against;
#   - the probe starts (here, without a GPU, it only says so).
# Prints which CUDA runtime and cuBLAS the executables load. Extra args go to
# cmake (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-torch2
./scripts/build.sh --libtorch pip "$@"

fail=0
grep -q '^-- lorahub: LibTorch .*, CUDA ' "$dir/cmake-configure.log" ||
  { echo "cuda_check: CMake did not find CUDA (see $dir/cmake-configure.log)" >&2; exit 1; }
grep '^-- lorahub: LibTorch' "$dir/cmake-configure.log"

exes=("$dir/bin/lorahub" "$dir/tests/lorahub_cuda_probe" "$dir/tests/t5_tests" "$dir/tests/lorahub_gpu_bench")
for exe in "${exes[@]}"; do
  [[ -x $exe ]] || { echo "cuda_check: $exe was not built" >&2; fail=1; continue; }
  needed=$(readelf -d "$exe" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
  # libtorch_cuda.so registers CUDA with ATen when it loads: a direct need
  # (torch's target links it with --no-as-needed); it brings libc10_cuda.so.
  grep -qx libtorch_cuda.so <<<"$needed" ||
    { echo "cuda_check: $exe does not need libtorch_cuda.so (CUDA would not register)" >&2; fail=1; }
  loaded=$(ldd "$exe")
  grep -q 'libc10_cuda.so => /' <<<"$loaded" || { echo "cuda_check: $exe does not load libc10_cuda.so" >&2; fail=1; }
  missing=$(grep 'not found' <<<"$loaded" || true)
  [[ -z $missing ]] || { echo "cuda_check: $exe: unresolved libraries:" >&2; echo "$missing" >&2; fail=1; }
done
echo "cuda_check: CUDA libraries loaded by lorahub:"
ldd "$dir/bin/lorahub" | grep -E 'libcudart|libcublas\.|libcudnn\.|libnccl|libtorch_cuda|libc10_cuda' | sed 's/^/  /'
"$dir/tests/lorahub_cuda_probe" || fail=1
if ((fail)); then
  echo "cuda_check: FAILED" >&2
  exit 1
fi
echo "cuda_check: ok (compiled and linked against the CUDA LibTorch; nothing run on a GPU)"
