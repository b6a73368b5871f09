#!/usr/bin/env bash
# Installs the PyTorch wheel (torch 2.x, with the LibTorch inside it) into a
# virtual environment under the build tree, checks it can be linked with
# Debian's C++ libraries, and prints the LibTorch root (the directory holding
# lib/, include/ and share/cmake/Torch) on stdout; all else goes to stderr.
#
#   LORAHUB_TORCH_SPEC   the pip requirement (default torch==2.15.0: on PyPI a
#                        CUDA 13 build, about 3.0 GB of wheels with its
#                        nvidia-* dependencies, 5.3 GB installed)
#   LORAHUB_TORCH_VENV   the venv (default build-torch2/venv)
#
# The venv is the cache: a venv that already holds the requested version is
# used as it is, with no network access.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${LORAHUB_TORCH_SPEC:-torch==2.15.0}
venv=${LORAHUB_TORCH_VENV:-build-torch2/venv}
say() { echo "libtorch_pip: $*" >&2; }

if [[ ! -x $venv/bin/python ]]; then
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"

installed=$("$py" -m pip list --format=freeze 2>/dev/null | sed -n 's/^torch==//p')
wanted=${spec#torch==}
if [[ -n $installed && ( $spec == torch || $installed == "$wanted" || $installed == "$wanted"+* ) ]]; then
  say "torch $installed already in $venv (cached; nothing downloaded)"
else
  say "installing $spec into $venv (on PyPI torch 2.15.0 is a CUDA 13 build: about 3.0 GB to download)"
  log="$venv/pip-install.log"
  start=$(date +%s)
  "$py" -m pip install --progress-bar off "$spec" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
  # pip prints "Downloading NAME (539.1 MB)" per file fetched.
  mb=$(sed -n 's/.*Downloading .* (\([0-9.]*\) \([kMG]B\))$/\1 \2/p' "$log" |
       awk '{v=$1; if ($2=="GB") v*=1000; if ($2=="kB") v/=1000; s+=v} END {printf "%.0f", s}')
  files=$(grep -c 'Downloading ' "$log" || true)
  say "downloaded $files files, $mb MB, in $(( $(date +%s) - start )) s; venv now $(du -sh "$venv" | cut -f1)"
fi

# Debian's yaml-cpp, Boost, HDF5 C++ and GTest use the C++11 ABI of libstdc++;
# a LibTorch built with the old ABI cannot be linked with them.
info=$("$py" - <<'EOF' 2>/dev/null
import os, torch
print(torch.__version__, torch.version.cuda or "none", int(torch._C._GLIBCXX_USE_CXX11_ABI),
      os.path.dirname(torch.__file__))
EOF
)
read -r version cuda abi root <<<"$info"
[[ -n ${root:-} ]] || { say "cannot import torch from $venv"; exit 1; }
if [[ $abi != 1 ]]; then
  say "torch $version was built with the pre-C++11 ABI (_GLIBCXX_USE_CXX11_ABI=0); Debian's C++ libraries" \
      "(yaml-cpp, Boost, HDF5, GTest) need the C++11 ABI: use torch >= 2.6 (LORAHUB_TORCH_SPEC)"
  exit 1
fi
say "torch $version (CUDA $cuda, C++11 ABI) at $root"
echo "$root"
