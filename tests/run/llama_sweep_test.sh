#!/usr/bin/env bash
# The runner on the tiny Llama (configs/fixture-llama.yaml, issue 14): P = 1
# and mpirun -np 3 give identical results (every trial's weights, history,
# shots and predictions), and the file records the model family.
# Usage: llama_sweep_test.sh LORAHUB_BINARY CONFIG WORKDIR
set -euo pipefail
lorahub=$1 config=$2 work=$3
source "$(dirname "$0")/common.sh"

echo "== reference run, one process"
"$lorahub" run "$config" --output ref.h5 --no-progress
echo "== mpirun -np 3"
mpirun -np 3 "$lorahub" run "$config" --output np3.h5 --no-progress
$compare ref.h5 np3.h5 || fail "np 3 differs from the reference"
/usr/bin/python3 - <<'PY' || fail "results file"
import h5py
f = h5py.File("ref.h5", "r")
family = f.attrs["model_family"]
family = family.decode() if isinstance(family, bytes) else family
assert family == "llama", family
methods = {t.split(".")[1] for t in f["trials"]}
assert methods >= {"zero_shot", "lorahub-cobyla", "lorahub-cat", "lora_tuning", "ia3"}, methods
print("model_family llama; %d trials, methods %s" % (len(f["trials"]), sorted(methods)))
PY
echo "all llama runner checks passed"
