#!/usr/bin/env bash
# lorahub train-lora on a BBH task, then lorahub eval with that adapter over
# two tasks: the printed accuracies must equal an independent recount of the
# printed predictions (strip, lower-case, drop "."); an IA3 adapter round trip.
# Usage: eval_test.sh LORAHUB SHARED WORKDIR
set -euo pipefail
lorahub=$1 shared=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
model=$shared/fixtures/tiny-t5/base bbh=$shared/data/bbh
"$lorahub" train-lora --model "$model" --bbh "$bbh" --task navigate --out adapter --steps 15 --lr 1e-2 --rank 4 --threads 1 | tee train.log
grep -q "wrote PEFT adapter adapter" train.log
"$lorahub" eval --model "$model" --adapter adapter --bbh "$bbh" --tasks navigate,snarks --max-eval 20 \
  --max-new-tokens 6 --predictions predictions.jsonl --threads 1 | tee eval.log
/usr/bin/python3 - <<'PY'
import json, collections
norm = lambda s: s.strip().lower().replace(".", "")
hits = collections.defaultdict(list)
for line in open("predictions.jsonl"):
    r = json.loads(line)
    hits[r["task"]].append(norm(r["prediction"]) == norm(r["target"]))
printed = {}
for line in open("eval.log"):
    parts = line.split()
    if len(parts) == 3 and parts[0] in hits:
        printed[parts[0]] = float(parts[1])
assert set(printed) == {"navigate", "snarks"}, printed
for task, v in hits.items():
    assert len(v) == 20, (task, len(v))
    recount = sum(v) / len(v)
    assert abs(recount - printed[task]) < 1e-4, (task, recount, printed[task])
    print(f"{task}: printed {printed[task]:.4f}, recount {recount:.4f}")
PY
# IA3: trained and exported in PEFT's layout, then applied by eval. With
# lr 0 its vectors stay ones, so its predictions are the base model's.
"$lorahub" train-lora --model "$model" --bbh "$bbh" --task navigate --mode ia3 --lr 0 --out ia3 --steps 2 --threads 1 | tee ia3.log
grep -q "wrote PEFT IA3 adapter ia3" ia3.log
"$lorahub" eval --model "$model" --adapter ia3 --bbh "$bbh" --tasks navigate --max-eval 10 --max-new-tokens 6 \
  --predictions ia3.jsonl --threads 1 > /dev/null
"$lorahub" eval --model "$model" --bbh "$bbh" --tasks navigate --max-eval 10 --max-new-tokens 6 \
  --predictions base.jsonl --threads 1 > /dev/null
cmp ia3.jsonl base.jsonl
rc=0; "$lorahub" eval --model "$model" --bbh "$bbh" --tasks navigate,chess 2> bad.log || rc=$?
[[ $rc -ne 0 ]] && grep -q "unknown BBH task 'chess'" bad.log
echo "eval checks passed"
