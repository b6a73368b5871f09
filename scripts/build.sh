#!/usr/bin/env bash
# Configures and builds into ./build (Ninja + ccache). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# Each torch translation unit takes ~1.3 GB of RAM to compile.
jobs=$(nproc)
ninja -C build -j "$jobs"
