#!/usr/bin/env python3
"""Our COBYLA against scipy's (Powell's Fortran COBYLA, the optimizer behind
nevergrad's NGOpt in the LoraHub reference), on the same function values.

Both run in nevergrad's standardised space over the box (optim/box.h): x =
bounce(x0 + (upper - lower) / 6 * z), from z = 0, rhobeg = 1, rhoend = 0
(nevergrad passes tol=0), maxfun = budget, restarting from the best point if
scipy returns early (nevergrad's recast loop).

  cobyla_scipy_test.py ASK_TELL_PIPE OBJECTIVE_SERVER

1. Rosenbrock (2-D, 1000 evaluations; 5-D, 3000), the oracle for the progress
   bounds of Optimizers.RosenbrockIsSolvedByCmaEsAndCobyla. The candidates
   must agree (relative 1e-9) through the initial simplex and the first
   trust-region steps (2n + 2 evaluations). After that the two paths part:
   the Fortran and our C++ round the simplex algebra differently (the values
   differ in the last ulp from evaluation 6 in 2-D) and Rosenbrock's valley
   turns that into another branch. Each path is then one sample of the same
   crawl, so ours must make the same progress: a best value within a factor
   2 of scipy's (measured: 0.047 vs 0.030 in 2-D, 0.093 vs 0.107 in 5-D).
2. The LoraHub objective of the recorded learning run (tiny-t5, 40
   evaluations), served by our engine: scipy's trajectory on our values must
   equal ours. The reference's trajectory (golden.json) branches from ours
   after evaluation 9 (Learner.CobylaReproducesTheReferenceTrajectory); if
   scipy on our values branches the same way, the branch comes from the
   losses' last ulps and not from our optimizer.
3. The reference's own objective values (tiny-llama golden.json
   lorahub_learning, 40 evaluations), replayed: fed score k as the value of
   the k-th candidate, scipy's COBYLA must ask exactly the reference's 40
   weight vectors (so the harness above is the reference's optimizer) and
   ours the first 10 of them within 1e-12 (the issue's scope; measured: 17
   within 4e-16, then our algebra's last bits take another branch). Fed the
   same values, the optimizer reproduces the reference: any difference in
   tests/cli/learn_llama_test.py comes from the losses.
"""
import json
import os
import subprocess
import sys

import numpy as np
from scipy.optimize import minimize

PIPE, SERVER = sys.argv[1], sys.argv[2]
SHARED = os.environ.get("LORAHUB_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))


def to_box(z, lo, hi, x0=0.0):
    scale = (hi - lo) / 6.0
    raw = x0 + scale * np.asarray(z, dtype=float)
    clipped = np.clip(raw, lo, hi)
    return np.clip(2.0 * clipped - raw, lo, hi)


def scipy_cobyla(f, n, budget, lo, hi):
    """nevergrad's recast loop around scipy's COBYLA; returns the x's evaluated."""
    xs, values = [], []

    def fz(z):
        if len(xs) >= budget:  # scipy may ask once more than maxfun on restart
            raise StopIteration
        x = to_box(z, lo, hi)
        v = f(x)
        xs.append(x)
        values.append(v)
        return v

    start = np.zeros(n)
    while len(xs) < budget:
        try:
            minimize(fz, start, method="COBYLA", tol=0, options={"maxiter": budget - len(xs), "rhobeg": 1.0})
        except StopIteration:
            break
        best = int(np.argmin(values))
        scale = (hi - lo) / 6.0
        start = (xs[best] - 0.0) / scale  # inside the box the bounce is the identity
    return np.array(xs), np.array(values)


def ours(f, n, budget, lo, hi):
    proc = subprocess.Popen([PIPE, "cobyla", str(n), str(budget), str(lo), str(hi)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    xs, values = [], []
    for line in proc.stdout:
        if line.startswith("best "):
            break
        x = np.array([float(t) for t in line.split()])
        v = f(x)
        xs.append(x)
        values.append(v)
        proc.stdin.write("%.17g\n" % v)
        proc.stdin.flush()
    proc.stdin.close()
    assert proc.wait() == 0, "ask_tell_pipe failed"
    return np.array(xs), np.array(values)


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2
    return s


def first_divergence(a, b, rel=1e-9):
    for k in range(min(len(a), len(b))):
        if np.max(np.abs(a[k] - b[k])) > rel * max(1.0, np.max(np.abs(b[k]))):
            return k
    return min(len(a), len(b))


failures = []
for n, budget in ((2, 1000), (5, 3000)):
    xa, va = ours(rosenbrock, n, budget, -5.0, 5.0)
    xb, vb = scipy_cobyla(rosenbrock, n, budget, -5.0, 5.0)
    k = first_divergence(xa, xb)
    print("rosenbrock %d-D, %d evaluations: ours best %.6g, scipy best %.6g, identical for %d of %d evaluations"
          % (n, budget, va.min(), vb.min(), k, budget))
    if len(xa) != budget or len(xb) != budget:
        failures.append("rosenbrock %d-D: %d / %d evaluations" % (n, len(xa), len(xb)))
    if k < 2 * n + 2:
        failures.append("rosenbrock %d-D: trajectories differ from evaluation %d" % (n, k))
    if va.min() > 2 * vb.min():
        failures.append("rosenbrock %d-D: best %.6g, more than twice scipy's %.6g" % (n, va.min(), vb.min()))

server = subprocess.Popen([SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def lorahub_objective(w):
    server.stdin.write(" ".join("%.17g" % v for v in w) + "\n")
    server.stdin.flush()
    return float(server.stdout.readline())


xa, va = ours(lorahub_objective, 5, 40, -1.5, 1.5)
xb, vb = scipy_cobyla(lorahub_objective, 5, 40, -1.5, 1.5)
server.stdin.close()
assert server.wait() == 0, "objective_server failed"
golden = json.load(open(os.path.join(SHARED, "fixtures", "tiny-t5", "golden.json")))
ref = golden["lorahub_learning"]["evaluations"]
xr = np.array([e["weights"] for e in ref])
vr = np.array([e["score"] for e in ref])
k = first_divergence(xa, xb)
kr = first_divergence(xb, xr, rel=1e-4)
print("lorahub objective (tiny-t5, 40 evaluations): ours best %.8g, scipy on our values %.8g, reference %.8g;"
      " ours = scipy for %d of 40 evaluations; scipy on our values follows the reference for %d"
      % (va.min(), vb.min(), vr.min(), k, kr))
print("best so far, ours / reference, at evaluations 10, 20, 30, 40: %s" % ", ".join(
    "%.4f" % (np.min(va[:j]) / np.min(vr[:j])) for j in (10, 20, 30, 40)))
if k < 40:
    failures.append("lorahub objective: our COBYLA and scipy's differ from evaluation %d" % k)

# 3. The reference's own values replayed.
llama = json.load(open(os.path.join(SHARED, "fixtures", "tiny-llama", "golden.json")))["lorahub_learning"]["evaluations"]
lw = np.array([e["weights"] for e in llama])
lv = [e["score"] for e in llama]


def replay():
    calls = [0]

    def f(x):
        calls[0] += 1
        return lv[calls[0] - 1]
    return f


xa, _ = ours(replay(), 5, 40, -1.5, 1.5)
xb, _ = scipy_cobyla(replay(), 5, 40, -1.5, 1.5)
ka, kb = first_divergence(xa, lw, rel=1e-12), first_divergence(xb, lw, rel=1e-12)
print("tiny-llama reference values replayed: scipy asks the reference's weights for %d of 40 evaluations, ours for %d"
      " (within 1e-12)" % (kb, ka))
if kb < 40:
    failures.append("replayed reference values: scipy's COBYLA leaves the reference's weights at evaluation %d" % kb)
if ka < 10:
    failures.append("replayed reference values: our COBYLA leaves the reference's weights at evaluation %d" % ka)

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
