#!/usr/bin/python3
"""The analysis numbers equal a recount from the results file.

report.py reads /summary; this recounts every accuracy from the per-trial
/trials/<id>/eval/correct arrays and compares each cell of the printed
table, then checks that plots.py writes its PNGs.
Usage: report_test.py RESULTS.h5 WORKDIR
"""
import collections
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
with h5py.File(results, "r") as f:
    for tid, g in f["trials"].items():
        correct = g["eval/correct"][()]
        acc[(g.attrs["task"], g.attrs["method"])].append(correct.sum() / len(correct))
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
assert any(v > 0 for v in recount.values()), "all accuracies are zero: the recount checks nothing"
print(f"{checked} table cells equal the recount from eval/correct")

out = subprocess.run(["/usr/bin/python3", os.path.join(analysis, "plots.py"), results, "--out", os.path.join(work, "plot")],
                     check=True, capture_output=True, text=True).stdout
for name in ("plot-objective.png", "plot-summary.csv"):
    path = os.path.join(work, name)
    assert os.path.getsize(path) > 0, path
print(out.strip())
