#!/usr/bin/env bash
# A trial whose objective never became finite (issue 16) is stored as failed
# with its reason, never as done with the base model's predictions; the
# other trials of the sweep are unaffected. The model's weights are finite
# (the load check passes) but so large that every loss is NaN.
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
sed -e "s|^model: .*|model: $work/huge|" -e 's/seeds: \[1, 2\]/seeds: [1]/' -e 's/n_shots: \[3, 5\]/n_shots: [3]/' \
  -e 's/tasks: \[boolean_expressions, navigate, word_sorting\]/tasks: [navigate]/' "$config" > huge.yaml
"$lorahub" run huge.yaml --output huge.h5 --no-progress 2> run.log || fail "run: $(cat run.log)"
/usr/bin/python3 - huge.h5 <<'PY'
import math, sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    rows = {r["id"].decode(): r for r in f["summary"][()]}
    assert len(rows) == 3, rows.keys()
    for tid, r in rows.items():
        g = f["trials"][tid]
        if r["method"].decode().startswith("lorahub"):
            assert r["status"].decode() == "failed", (tid, r["status"])
            error = g.attrs["error"]
            error = error.decode() if isinstance(error, bytes) else error
            assert error == ("the objective was not finite for any of the 6 candidates (NaN or inf losses: "
                             "check the modules' and the model's weights)"), error
            assert r["n_eval"] == 0 and math.isnan(r["accuracy"]) and len(g["eval"]["prediction"]) == 0, tid
            assert len(g["weights"]) == 0 and len(g["history"]["loss"]) == 6, tid
            assert all(math.isnan(x) or math.isinf(x) for x in g["history"]["loss"][()]), tid
        else:
            assert r["status"].decode() == "done" and "error" not in g.attrs and r["n_eval"] > 0, tid
print("failed trials:", sorted(t for t, r in rows.items() if r["status"].decode() == "failed"))
PY
"$lorahub" run huge.yaml --output huge.h5 --resume --no-progress 2> resume.log || fail "resume: $(cat resume.log)"
grep -q "^done: 0 trials run, 3 already finished" resume.log || fail "resume: $(cat resume.log)"
echo "never-finite objectives fail their trial, with the reason"
