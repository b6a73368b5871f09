#!/usr/bin/python3
"""Plots from a lorahub results file, as PNGs.

    analysis/plots.py RESULTS.h5 --out PREFIX

Writes, when the file has the data for them:
  PREFIX-modules.png     accuracy vs number of modules N (mean over tasks; band = spread over seeds)
  PREFIX-shots.png       accuracy vs number of shots k, per method
  PREFIX-objective.png   best objective so far vs evaluations, per optimizer (mean over trials)
and PREFIX-summary.csv with the numbers behind the first two.
"""
import argparse
import collections

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def curves(rows, key):
    """method -> {x: [per-seed accuracy averaged over tasks]}."""
    acc = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        if s(r["status"]) != "done":  # failed trials have no accuracy
            continue
        acc[(s(r["method"]), int(r[key]), int(r["seed"]))][s(r["task"])].append(float(r["accuracy"]))
    out = collections.defaultdict(lambda: collections.defaultdict(list))
    for (method, x, _seed), per_task in acc.items():
        out[method][x].append(np.mean([np.mean(v) for v in per_task.values()]))
    return out


def plot_curves(data, xlabel, path, csv_rows, key):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method, points in sorted(data.items()):
        xs = sorted(points)
        if key == "n_modules" and xs == [0]:
            continue  # baselines have no N
        mean = np.array([np.mean(points[x]) for x in xs]) * 100
        lo = np.array([np.min(points[x]) for x in xs]) * 100
        hi = np.array([np.max(points[x]) for x in xs]) * 100
        ax.plot(xs, mean, marker="o", label=method)
        ax.fill_between(xs, lo, hi, alpha=0.2)
        for x, m in zip(xs, mean):
            csv_rows.append((key, method, x, m))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%), mean over tasks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    # No HDF5 file locking: a results file on a file system without POSIX
    # locks (cluster scratch) opens all the same; only lorahub writes it.
    with h5py.File(a.results, "r", locking=False) as f:
        rows = f["summary"][()]
        histories = collections.defaultdict(list)
        for tid, g in f["trials"].items():
            if "objective" in g["history"] and len(g["history/objective"]):
                histories[s(g.attrs["method"])].append(np.minimum.accumulate(g["history/objective"][()]))
    csv_rows = []
    written = []
    if len({int(r["n_modules"]) for r in rows if int(r["n_modules"]) > 0}) > 1:
        plot_curves(curves(rows, "n_modules"), "number of modules N", f"{a.out}-modules.png", csv_rows, "n_modules")
        written.append(f"{a.out}-modules.png")
    if len({int(r["n_shots"]) for r in rows}) > 1:
        plot_curves(curves(rows, "n_shots"), "number of shots k", f"{a.out}-shots.png", csv_rows, "n_shots")
        written.append(f"{a.out}-shots.png")
    if histories:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for method, hs in sorted(histories.items()):
            n = min(len(h) for h in hs)
            ax.plot(np.arange(1, n + 1), np.mean([h[:n] for h in hs], axis=0), label=f"{method} ({len(hs)} trials)")
        ax.set_xlabel("objective evaluations")
        ax.set_ylabel("best objective so far (mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(f"{a.out}-objective.png", dpi=120)
        plt.close(fig)
        written.append(f"{a.out}-objective.png")
    with open(f"{a.out}-summary.csv", "w") as f:
        f.write("axis,method,x,accuracy_percent\n")
        for row in csv_rows:
            f.write(",".join(str(v) for v in row) + "\n")
    print("wrote " + ", ".join(written + [f"{a.out}-summary.csv"]))


if __name__ == "__main__":
    main()
