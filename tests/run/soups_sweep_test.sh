#!/usr/bin/env bash
# The LoRA Soups runner methods end to end on the tiny-t5 fixture. On
# navigate (N = 1 drawn, so every method has one module): merge-linear and
# merge-cat of one module (lora/merge_methods.cc) must predict exactly what
# single-<that module> (the LoraHub composition with w = 1,
# lora/composition.cc) predicts, and differ from zero_shot; cat_learned and
# data_mix record their weights and one loss per training step. On snarks,
# modules.per_task gives the task its own two modules: every method uses
# exactly those, single runs only them. Then the report's LoRA Soups table
# against a recount (tests/analysis/soups_report_test.py).
# Usage: soups_sweep_test.sh LORAHUB_BINARY WORKDIR
set -euo pipefail
lorahub=$1 work=$2
source "$(dirname "$0")/common.sh"
mkdir skills
for i in 0 1 2 3 4; do
  printf '{"input": "skill %s one", "target": "yes %s"}\n{"input": "skill %s two", "target": "no"}\n' $i $i $i > skills/lora$i.jsonl
done
cat > soups.yaml <<YAML
model: $LORAHUB_SHARED/fixtures/tiny-t5/base
modules:
  dir: $LORAHUB_SHARED/fixtures/tiny-t5/lora
  ids: [lora0, lora1, lora2, lora3, lora4]
  skill_data: skills
  per_task: {snarks: [lora3, lora1]}
bbh:
  dir: $LORAHUB_SHARED/data/bbh
  tasks: [navigate, snarks]
  max_eval: 6
sweep:
  seeds: [1]
  n_modules: [1]
  n_shots: [3]
  methods:
    - zero_shot
    - single
    - {name: merge, merge_method: linear}
    - {name: merge, merge_method: cat}
    - {name: cat_learned, epochs: 2, train_batch_size: 2}
    - {name: cat_learned, label: cat_learned-per_target, per_target: true, epochs: 1}
    - {name: data_mix, train_steps: 3, rank: 4, alpha: 8, train_batch_size: 2}
evaluation:
  max_new_tokens: 8
  batch_size: 4
  shard_size: 3
runtime:
  device: cpu
  threads: 1
output: soups.h5
flush_interval_s: 0
YAML
"$lorahub" run soups.yaml --no-progress
/usr/bin/python3 - <<'PY' || fail "soups results"
import h5py, sys
t = h5py.File("soups.h5", "r")["trials"]
names = sorted(t)
assert len(names) == (1 + 5 + 2 + 2 + 1) + (1 + 2 + 2 + 2 + 1), names
pred = lambda k: [p.decode() if isinstance(p, bytes) else p for p in t[k]["eval"]["prediction"][()]]
mods = lambda k: [m.decode() if isinstance(m, bytes) else m for m in t[k]["modules"][()]]
lin, cat = "navigate.merge-linear.s1.n1.k3", "navigate.merge-cat.s1.n1.k3"
drawn = mods(lin)[0]
assert mods(cat) == [drawn], (mods(cat), drawn)
single = f"navigate.single-{drawn}.s1.n1.k3"
assert pred(lin) == pred(single) == pred(cat), (pred(lin), pred(single), pred(cat))
assert pred(single) != pred("navigate.zero_shot.s1.n0.k3"), "the module changes nothing"
cl = t["navigate.cat_learned.s1.n1.k3"]
assert cl["weights"].shape == (1,) and len(cl["history"]["loss"]) == 2 * 2, (cl["weights"].shape, len(cl["history"]["loss"]))
pt = t["navigate.cat_learned-per_target.s1.n1.k3"]
assert pt["weights"].shape == (12,), pt["weights"].shape  # 1 module x 12 targets: q, v of 2 encoder self-, 2 decoder self- and 2 cross-attentions
dm = t["navigate.data_mix.s1.n1.k3"]
assert len(dm["history"]["loss"]) == 3
own = ["lora3", "lora1"]
assert sorted(n for n in names if n.startswith("snarks.single-")) == ["snarks.single-lora1.s1.n1.k3", "snarks.single-lora3.s1.n1.k3"]
for label in ("merge-linear", "merge-cat", "cat_learned", "cat_learned-per_target", "data_mix"):
    assert mods(f"snarks.{label}.s1.n2.k3") == own, (label, mods(f"snarks.{label}.s1.n2.k3"))
assert t["snarks.cat_learned.s1.n2.k3"]["weights"].shape == (2,)
print("soups methods: merge-linear = merge-cat = single-%s; cat_learned w = %.4f; snarks uses %s" % (drawn, cl["weights"][0], own))
PY
/usr/bin/python3 "$here/../analysis/soups_report_test.py" soups.h5 report || fail "soups table differs from the recount"
