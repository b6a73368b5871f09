#!/usr/bin/env bash
# Makes a fresh Debian 12 machine ready to build and test lorahub-mpi.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libFuzzer targets (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # fixed choices of the product
  libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libyaml-cpp-dev
  libboost-program-options-dev libgtest-dev libbenchmark-dev
  libsentencepiece-dev sentencepiece nlohmann-json3-dev libeigen3-dev
  # libtorch runs on the 5 GFLOP/s reference BLAS without this (PLATFORM.md);
  # libblas-dev: cblas.h and the link name for the fused CPU attention
  libopenblas0-openmp libblas-dev
  # analysis scripts and test oracles
  python3-h5py python3-numpy python3-matplotlib python3-pandas python3-scipy
  # a one-node SLURM for the tests of jobs/
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# OpenBLAS must own the BLAS alternative that libtorch links against.
blas=$(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 resolves to '$blas', not OpenBLAS; torch will be ~30x slower" >&2 ;;
esac
echo "setup: ok"
