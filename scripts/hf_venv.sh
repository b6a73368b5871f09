#!/usr/bin/env bash
# A virtual environment with transformers 4.36.2 + PEFT 0.7.1 on Debian's torch (the versions the fixtures' golden
# numbers came from), for the tests that load the product's exports in PEFT itself (tests/export).
#   scripts/hf_venv.sh [DIR]    default build/hf-venv; prints DIR's python
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/peer/common.sh
dir=${1:-build/hf-venv}
setup_venv "$dir" "${hf_packages[@]}" >&2
echo "$dir/bin/python"
