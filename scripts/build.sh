#!/usr/bin/env bash
# Configures and builds (Ninja + ccache). Extra args go to cmake.
#
#   scripts/build.sh [--libtorch debian|pip|DIR] [cmake args...]
#   (or LORAHUB_LIBTORCH=debian|pip|DIR)
#
#   debian (default)  Debian's LibTorch 1.13 (libtorch-dev), into ./build
#   pip               the LibTorch inside the PyTorch wheel, pip-installed by
#                     scripts/libtorch_pip.sh into build-torch2/venv (torch
#                     2.x; a CUDA wheel needs the CUDA toolkit), into ./build-torch2
#   DIR               an unpacked LibTorch (the directory holding lib/,
#                     include/ and share/cmake/Torch), into ./build-libtorch
#   LORAHUB_BUILD_DIR=DIR overrides the build directory; LORAHUB_NINJA_ARGS
#   go to ninja (e.g. "-k 0" or a target).
#
# A build directory keeps the LibTorch it was configured with: asking another
# one of it is refused (CMake would keep the cached Torch_DIR silently).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

libtorch=${LORAHUB_LIBTORCH:-debian}
if [[ ${1:-} == --libtorch ]]; then
  libtorch=${2:?--libtorch needs debian, pip or a LibTorch directory}
  shift 2
fi

args=()
case "$libtorch" in
  debian)
    dir=${LORAHUB_BUILD_DIR:-build}
    prefix=""
    ;;
  pip)
    dir=${LORAHUB_BUILD_DIR:-build-torch2}
    prefix=$(./scripts/libtorch_pip.sh)
    ;;
  *)
    [[ -d $libtorch ]] || { echo "build.sh: --libtorch '$libtorch': expected debian, pip or a LibTorch directory" >&2; exit 2; }
    dir=${LORAHUB_BUILD_DIR:-build-libtorch}
    prefix=$(cd "$libtorch" && pwd)
    ;;
esac

if [[ -n $prefix ]]; then
  torch_dir="$prefix/share/cmake/Torch"
  [[ -f $torch_dir/TorchConfig.cmake ]] || { echo "build.sh: no $torch_dir/TorchConfig.cmake: '$prefix' is not a LibTorch" >&2; exit 2; }
  # The LibTorch root (not share/cmake) goes first in the prefix path, so its
  # lib/ is searched before the system's (Debian's libtorch.so otherwise wins).
  args+=("-DCMAKE_PREFIX_PATH=$prefix" "-DTorch_DIR=$torch_dir")
  # A CUDA LibTorch's CMake config needs the CUDA toolkit (nvcc and headers).
  if compgen -G "$prefix/lib/libtorch_cuda.so" >/dev/null; then
    nvcc=${CUDACXX:-$(command -v nvcc || true)}
    [[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
    [[ -n $nvcc ]] || { echo "build.sh: $prefix is a CUDA LibTorch; its CMake config needs nvcc (set CUDACXX or put the CUDA toolkit on PATH)" >&2; exit 2; }
    cuda_root=$(cd "$(dirname "$nvcc")/.." && pwd)
    # No GPU on a build host: name the architectures (H100/H200 = 9.0).
    args+=("-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_root"
           "-DTORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}")
  fi
else
  torch_dir=""
fi

cache="$dir/CMakeCache.txt"
if [[ -f $cache ]]; then
  cached=$(sed -n 's/^Torch_DIR:PATH=//p' "$cache")
  wanted=${torch_dir:-"Debian's (under /usr)"}
  if [[ -n $cached ]] && { [[ -n $torch_dir && $(readlink -f "$cached") != $(readlink -f "$torch_dir") ]] ||
                           [[ -z $torch_dir && $cached != /usr/* ]]; }; then
    echo "build.sh: $dir was configured against the LibTorch at $cached, not $wanted;" \
         "remove $dir or set LORAHUB_BUILD_DIR" >&2
    exit 2
  fi
fi

log="$dir/cmake-configure.log"
mkdir -p "$dir"
if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" "$@" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
grep '^-- lorahub:' "$log" || true
# Each torch translation unit takes ~1.3 GB of RAM to compile.
jobs=$(nproc)
# shellcheck disable=SC2086
ninja -C "$dir" -j "$jobs" ${LORAHUB_NINJA_ARGS:-}
