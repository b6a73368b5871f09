#!/usr/bin/env bash
# ctest peft_load and hf_inputs: the venv with transformers 4.36.2 + PEFT 0.7.1 (created once, scripts/hf_venv.sh),
# then SCRIPT (a file of tests/export) on the product. Args: SCRIPT LORAHUB SHARED_DIR WORK_DIR VENV_DIR
set -euo pipefail
python=$("$(dirname "$0")/../../scripts/hf_venv.sh" "$5")
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
exec "$python" -W ignore "$(dirname "$0")/$1" "$2" "$3" "$4"
