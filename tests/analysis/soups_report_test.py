#!/usr/bin/python3
"""report.py's LoRA Soups table equals a recount from the results file.

The fixture's random model gets nothing right, so the test first gives a
copy of the file made-up results in the file's own format: every trial's
/trials/<id>/eval/correct redrawn (seeded) and its /summary row set to match.
Then it recounts every accuracy from eval/correct (not from /summary, which
report.py reads) and checks each cell of the table: a
method's mean over seeds per task; the modules alone as two rows, per task
the module of the higher and of the lower mean; the mean column as the mean
of the row. The table must list every method of the file on the tasks the
soups methods ran on (report_test.py checks that a file without soups
methods has no such table).
Usage: soups_report_test.py RESULTS.h5 WORKDIR
"""
import collections
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
report = os.path.join(here, "..", "..", "analysis", "report.py")
os.makedirs(sys.argv[2], exist_ok=True)
results = os.path.join(sys.argv[2], "soups-report.h5")
shutil.copy(sys.argv[1], results)

rng = np.random.default_rng(15)
with h5py.File(results, "r+") as f:
    summary = f["summary"][()]
    for row in summary:
        tid = row["id"].decode() if isinstance(row["id"], bytes) else str(row["id"])
        correct = f["trials"][tid]["eval/correct"]
        redrawn = (rng.random(correct.shape) < rng.random()).astype(correct.dtype)
        correct[...] = redrawn
        row["n_correct"] = int(redrawn.sum())
        row["accuracy"] = redrawn.sum() / len(redrawn)
    f["summary"][...] = summary

acc = collections.defaultdict(list)
with h5py.File(results, "r") as f:
    for g in f["trials"].values():
        correct = g["eval/correct"][()]
        acc[(g.attrs["task"], g.attrs["method"])].append(correct.sum() / len(correct))
soups = ("single-", "data_mix", "merge-", "cat_learned")
tasks = sorted({t for t, m in acc if m.startswith(soups)})
assert tasks, "no soups methods in " + results
expected = {}
for t in tasks:
    single = [100 * np.mean(v) for (tt, m), v in acc.items() if tt == t and m.startswith("single-")]
    if single:
        expected[("single (better module)", t)] = max(single)
        expected[("single (worse module)", t)] = min(single)
    for (tt, m), v in acc.items():
        if tt == t and not m.startswith("single-"):
            expected[(m, t)] = 100 * np.mean(v)
assert any(v > 0 for v in expected.values()), "all accuracies are zero: the recount checks nothing"

out = subprocess.run(["/usr/bin/python3", report, results], check=True, capture_output=True, text=True).stdout
lines = out.splitlines()
start = lines.index(next(l for l in lines if l.startswith("LoRA Soups-style table")))
header = [c.strip() for c in lines[start + 1].strip("|").split("|")]
assert header == ["method"] + tasks + ["mean"], header
rows = set()
for line in lines[start + 3:]:
    if not line.startswith("|"):
        break
    cells = [c.strip() for c in line.strip("|").split("|")]
    method, values = cells[0], [float(c) for c in cells[1:]]
    rows.add(method)
    for t, v in zip(tasks, values):
        assert abs(v - expected[(method, t)]) < 0.051, (method, t, v, expected[(method, t)])
    assert abs(values[-1] - np.mean([expected[(method, t)] for t in tasks])) < 0.051, (method, values)
assert rows == {m for m, _ in expected}, (rows, expected.keys())
print(f"LoRA Soups table: {len(rows)} rows x {len(tasks)} tasks equal the recount from eval/correct")
