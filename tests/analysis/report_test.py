#!/usr/bin/python3
"""The analysis numbers equal a recount from the results file.

report.py reads /summary; this recounts every accuracy from the per-trial
/trials/<id>/eval/correct arrays and compares each cell of the printed
table, then checks that plots.py writes its PNGs.
Usage: report_test.py RESULTS.h5 WORKDIR
"""
import collections
import json
import os
import subprocess
import sys

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
analysis = os.path.join(here, "..", "..", "analysis")
results, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)

acc = collections.defaultdict(list)
acc_setting = collections.defaultdict(list)  # (task, method, N, k)
with h5py.File(results, "r") as f:
    for tid, g in f["trials"].items():
        correct = g["eval/correct"][()]
        a = correct.sum() / len(correct)
        acc[(g.attrs["task"], g.attrs["method"])].append(a)
        acc_setting[(g.attrs["task"], g.attrs["method"], int(g.attrs["n_modules"]), int(g.attrs["n_shots"]))].append(a)
recount = {k: 100 * np.mean(v) for k, v in acc.items()}

table = subprocess.run(["/usr/bin/python3", os.path.join(analysis, "report.py"), results],
                       check=True, capture_output=True, text=True).stdout.splitlines()
header = [c.strip() for c in table[0].strip("|").split("|")]
checked = 0
for line in table[2:]:
    if not line.startswith("|"):
        break
    cells = [c.strip() for c in line.strip("|").split("|")]
    task = cells[0]
    if task == "average":
        continue
    for name, value in zip(header[1:], cells[1:]):
        if name.endswith("(best)"):
            continue
        method = name.replace(" (avg)", "")
        expected = recount[(task, method)]
        assert abs(float(value) - expected) < 0.051, (task, method, value, expected)
        checked += 1
assert checked == len(recount), (checked, len(recount))
assert not any(l.startswith("LoRA Soups-style table") for l in table), "a soups table without soups methods"
assert any(v > 0 for v in recount.values()), "all accuracies are zero: the recount checks nothing"
print(f"{checked} table cells equal the recount from eval/correct")

# Same-skill table: every task of the file stands in for a held-out task whose
# module scored 0.5 on its own task; each row is the task's mean over seeds at
# the method's best (N, k) (best by the mean over every task and seed).
tasks = sorted({t for t, _ in recount})
world = os.path.join(work, "world.json")
with open(world, "w") as f:
    json.dump({"same_skill": {t: {"module": "m_" + t, "module_accuracy": 0.5, "module_on_heldout": 0.25} for t in tasks}}, f)
table = subprocess.run(["/usr/bin/python3", os.path.join(analysis, "report.py"), results, "--world", world],
                       check=True, capture_output=True, text=True).stdout.splitlines()
start = table.index(next(l for l in table if l.startswith("| task | method (N, k)")))
rows = [[c.strip() for c in l.strip("|").split("|")] for l in table[start + 2:] if l.startswith("|")]
methods = sorted({m for _, m in recount if m.startswith("lorahub")})
assert len(rows) == len(tasks) * len(methods), rows
for task, label, value, module, module_acc, ratio, alone in rows:
    method, setting = label.split(" ", 1)
    n, k = (int(x) for x in setting.strip("()").split(","))
    means = collections.defaultdict(list)
    for (t, m, nn, kk), v in acc_setting.items():
        if m == method:
            means[(nn, kk)] += v
    assert (n, k) == max(sorted(means), key=lambda s: np.mean(means[s])), (label, means)
    expected = 100 * np.mean(acc_setting[(task, method, n, k)])
    assert abs(float(value) - expected) < 0.051, (task, label, value, expected)
    assert abs(float(ratio) - expected / 50) < 0.0051 and module == "m_" + task and alone == "25.0", (ratio, expected)
print(f"{len(rows)} same-skill rows equal the recount at each method's best (N, k)")

out = subprocess.run(["/usr/bin/python3", os.path.join(analysis, "plots.py"), results, "--out", os.path.join(work, "plot")],
                     check=True, capture_output=True, text=True).stdout
for name in ("plot-objective.png", "plot-summary.csv"):
    path = os.path.join(work, name)
    assert os.path.getsize(path) > 0, path
print(out.strip())
