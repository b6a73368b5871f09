#!/usr/bin/env bash
# No function in src/ is longer than 60 lines (issue 19), as lizard counts them
# (a well-kept code-metrics tool: from the signature to the closing brace).
# lizard comes from the Python package index into a virtual environment.
# Usage: function_length.sh SOURCE_DIR VENV_DIR
set -euo pipefail
src=$1 venv=$2
source "$src/scripts/peer/common.sh"
setup_venv "$venv" lizard==1.24.3 pathspec==1.1.1 Pygments==2.21.0 >&2
long=$("$venv/bin/lizard" --languages cpp --CCN 1000 --length 60 --warnings_only "$src/src" || true)
if [[ -n $long ]]; then
  echo "$long"
  echo "FAIL: functions longer than 60 lines in src/ (split them into named steps)"
  exit 1
fi
echo "no function in src/ is longer than 60 lines ($("$venv/bin/lizard" --languages cpp "$src/src" | tail -1 | awk '{print $5}') functions)"
