#!/usr/bin/env bash
# The torch 2.x configuration from scratch: the PyTorch wheel's LibTorch in a
# venv under the build tree (scripts/libtorch_pip.sh: pip, ABI check), the
# whole project built against it into ./build-torch2 (scripts/build.sh
# --libtorch pip), and every test through CTest on the CPU. Prints the time
# of each phase. Extra args go to ctest (e.g. -E 'run_crash|slurm_jobs').
#
# The PyPI wheel is a CUDA build: configuring against it needs the CUDA
# toolkit (nvcc), not a GPU; the tests run on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
./scripts/libtorch_pip.sh >/dev/null
t1=$(date +%s)
./scripts/build.sh --libtorch pip
t2=$(date +%s)
(cd build-torch2 && ctest --output-on-failure -j "$(nproc)" "$@")
t3=$(date +%s)
echo "torch2: venv $((t1 - t0)) s, build $((t2 - t1)) s, ctest $((t3 - t2)) s, total $((t3 - t0)) s"
