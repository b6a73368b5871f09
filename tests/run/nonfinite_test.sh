#!/usr/bin/env bash
# A trial whose numbers went non-finite (issue 16) is stored as failed with
# its reason, never as done with empty or base-model predictions, and the
# sweep goes on; --resume does not run it again and says so.
#  1. A model whose weights are finite (the load check passes) but so large
#     that every logit overflows: the LoraHub objective is never finite,
#     zero-shot decoding sees inf logits (two evaluation shards: the second
#     is dropped), LoRA tuning's loss is NaN before any update. All fail.
#  2. The fixture model with a full fine-tuning at lr 1e30, which diverges
#     after its first update: that trial fails, zero-shot and LoraHub are done.
#  Sweep 1 under mpirun -np 3 gives the same file as P = 1.
# Usage: nonfinite_test.sh LORAHUB CONFIG WORKDIR
set -euo pipefail
lorahub=$1 config=$2 work=$3
source "$(dirname "$0")/common.sh"
base=$LORAHUB_SHARED/fixtures/tiny-t5/base
mkdir huge && cp "$base"/{config.json,spiece.model,tokenizer_config.json} huge/
/usr/bin/python3 - "$base/model.safetensors" huge/model.safetensors <<'PY'
import json, struct, sys
import numpy as np
blob = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header, data = json.loads(blob[8:8 + n]), bytearray(blob[8 + n:])
for key in ("decoder.final_layer_norm.weight", "lm_head.weight"):  # the logits overflow float32
    lo, hi = header[key]["data_offsets"]
    data[lo:hi] = (np.frombuffer(bytes(data[lo:hi]), "<f4") * np.float32(1e30)).astype("<f4").tobytes()
open(sys.argv[2], "wb").write(blob[:8 + n] + bytes(data))
PY
sweep() {  # sweep NAME MODEL N_MODULES EXTRA_METHOD: the fixture config on one task and seed
  sed -e "s|^model: .*|model: $2|" -e 's/seeds: \[1, 2\]/seeds: [1]/' -e 's/n_shots: \[3, 5\]/n_shots: [3]/' \
    -e "s/n_modules: \[2, 5\]/n_modules: $3/" -e "s/^      budget: 6/      budget: 6\n    - $4/" \
    -e 's/tasks: \[boolean_expressions, navigate, word_sorting\]/tasks: [navigate]/' "$config" > "$1.yaml"
  "$lorahub" run "$1.yaml" --output "$1.h5" --no-progress 2> "$1.log" || fail "run $1: $(cat "$1.log")"
}
sweep huge "$work/huge" "[2, 5]" "{name: lora_tuning, train_steps: 2, rank: 4, alpha: 8}"
sweep diverge "$base" "[2]" "{name: full_ft, train_steps: 5, lr: 1.0e+30}"
grep -q "^done: 4 trials run, 0 already finished, results in .*huge.h5; 4 trials failed (status 'failed', the reason under 'error'; --resume does not run them again)\$" huge.log ||
  fail "huge: $(cat huge.log)"
/usr/bin/python3 - huge.h5 diverge.h5 <<'PY'
import math, sys
import h5py

def rows(path):
    with h5py.File(path, "r") as f:
        out = {}
        for r in f["summary"][()]:
            tid = r["id"].decode()
            g = f["trials"][tid]
            error = g.attrs.get("error", b"")
            out[tid] = dict(method=r["method"].decode(), status=r["status"].decode(), n_eval=int(r["n_eval"]),
                            accuracy=float(r["accuracy"]), error=error.decode() if isinstance(error, bytes) else error,
                            predictions=len(g["eval"]["prediction"]), weights=len(g["weights"]),
                            loss=list(g["history"]["loss"][()]))
        return out

generate = ("generate: the logits are not finite (NaN or inf): the model's weights or config, or its adapter or "
            "composition, give non-finite numbers (no prediction is made)")
expected = {  # method -> reason
    "zero_shot": generate,
    "lorahub": "the objective was not finite for any of the 6 candidates (NaN or inf losses: check the modules' and "
               "the model's weights)",
    "lora_tuning": "train: the loss is nan before any update (step 1 of 2): the model's weights or config, its "
                   "adapters or modules, or the data give non-finite numbers (nothing was written)",
}
huge = rows(sys.argv[1])
assert sorted(r["method"].split("-")[0] for r in huge.values()) == ["lora_tuning", "lorahub", "lorahub", "zero_shot"], huge
for tid, r in huge.items():
    assert r["status"] == "failed", (tid, r)
    assert r["error"] == expected[r["method"].split("-")[0]], (tid, r["error"])
    assert r["n_eval"] == 0 and math.isnan(r["accuracy"]) and r["predictions"] == 0, (tid, r)
    if r["method"].startswith("lorahub"):
        assert r["weights"] == 0 and len(r["loss"]) == 6 and not any(map(math.isfinite, r["loss"])), (tid, r)
diverge = rows(sys.argv[2])
assert sorted(r["method"].split("-")[0] for r in diverge.values()) == ["full_ft", "lorahub", "zero_shot"], diverge
for tid, r in diverge.items():
    if r["method"] == "full_ft":
        assert r["status"] == "failed" and r["n_eval"] == 0 and r["predictions"] == 0, (tid, r)
        # Finite before the first update, NaN after some: a divergence (the step depends on the BLAS; not fixed here).
        assert r["error"].startswith("train: the loss is nan at step "), r["error"]
        assert r["error"].endswith(" of 5 (AdamW lr 1e+30): training diverged; lower the learning rate (nothing was "
                                   "written)"), r["error"]
        assert "at step 1 of" not in r["error"], r["error"]
    else:
        assert r["status"] == "done" and r["error"] == "" and r["n_eval"] == 6 and r["predictions"] == 6, (tid, r)
print("failed:", sorted(t for rs in (huge, diverge) for t, r in rs.items() if r["status"] == "failed"))
PY
# Under MPI (two workers) the second shard of the failed zero-shot trial may be
# in flight when the first fails: it is ignored; the file is the same as P = 1.
mpirun -np 3 "$lorahub" run huge.yaml --output huge_np3.h5 --no-progress 2> np3.log || fail "np 3: $(cat np3.log)"
$compare huge.h5 huge_np3.h5 || fail "mpirun -np 3 differs from P = 1"
# --resume keeps failed trials: nothing runs again, and the line says why.
"$lorahub" run diverge.yaml --output diverge.h5 --resume --no-progress 2> resume.log || fail "resume: $(cat resume.log)"
grep -q "^done: 0 trials run, 3 already finished, results in .*diverge.h5; 1 trial failed (status 'failed', the reason under 'error'; --resume does not run them again)\$" resume.log ||
  fail "resume: $(cat resume.log)"
echo "non-finite trials fail with their reason; the sweep goes on"
