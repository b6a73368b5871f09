#!/usr/bin/python3
"""Tables from a lorahub results file.

    analysis/report.py RESULTS.h5 [--latex] [--world DEMO_WORLD/world.json]

Prints, per task and method, the mean accuracy over seeds (and for LoraHub
methods also the best seed), then the average over tasks, as Markdown (or
LaTeX); then each method's accuracy per (N, k) and its best setting. With
--world (the demo world's world.json), also each same-skill held-out task at
every LoraHub method's best setting against the accuracy of its skill's
upstream module alone on that module's own task. When the file holds LoRA
Soups methods (labels single-*, data_mix*, merge-*, cat_learned*), also the
LoRA Soups-style table: one row per method, one column per task they ran on
(the composed tasks), and the mean over those tasks. Reads /summary with h5py; needs python3-h5py and python3-numpy
(Debian packages, installed by scripts/setup.sh).
"""
import argparse
import collections
import json
import sys

import h5py
import numpy as np


def load(path):
    # No HDF5 file locking: a results file on a file system without POSIX
    # locks (cluster scratch) opens all the same; only lorahub writes it.
    with h5py.File(path, "r", locking=False) as f:
        rows = f["summary"][()]
    def s(x):
        return x.decode() if isinstance(x, bytes) else str(x)
    failed = [s(r["id"]) for r in rows if s(r["status"]) != "done"]
    if failed:  # no accuracy: their reason is the attribute /trials/<id>@error
        print(f"warning: {path}: {len(failed)} failed trials left out ({', '.join(failed[:3])}"
              f"{', ...' if len(failed) > 3 else ''}); see /trials/<id> attribute 'error'", file=sys.stderr)
    return [
        {"id": s(r["id"]), "task": s(r["task"]), "method": s(r["method"]), "seed": int(r["seed"]),
         "n_modules": int(r["n_modules"]), "n_shots": int(r["n_shots"]), "accuracy": float(r["accuracy"]),
         "n_correct": int(r["n_correct"]), "n_eval": int(r["n_eval"])}
        for r in rows if s(r["status"]) == "done"
    ]


def table(rows):
    """{(task, method): (mean over seeds, best seed)} and the method list."""
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["task"], r["method"])].append(r["accuracy"])
    cells = {k: (float(np.mean(v)), float(np.max(v))) for k, v in groups.items()}
    methods = sorted({m for _, m in cells}, key=lambda m: (m != "zero_shot", m != "icl", m))
    return cells, methods


def render(cells, methods, latex=False):
    tasks = sorted({t for t, _ in cells})
    header = ["task"] + [f"{m} (avg)" if m.startswith("lorahub") else m for m in methods]
    header += [f"{m} (best)" for m in methods if m.startswith("lorahub")]
    lines = []
    def row(values):
        if latex:
            return " & ".join(values) + r" \\"
        return "| " + " | ".join(values) + " |"
    lines.append(row(header))
    if not latex:
        lines.append("|" + "---|" * len(header))
    averages = collections.defaultdict(list)
    for t in tasks:
        values = [t]
        for m in methods:
            v = cells.get((t, m), (float("nan"),) * 2)[0]
            averages[m].append(v)
            values.append(f"{100 * v:.1f}")
        for m in methods:
            if m.startswith("lorahub"):
                v = cells.get((t, m), (float("nan"),) * 2)[1]
                averages[m + " best"].append(v)
                values.append(f"{100 * v:.1f}")
        lines.append(row(values))
    avg = ["average"] + [f"{100 * np.mean(averages[m]):.1f}" for m in methods]
    avg += [f"{100 * np.mean(averages[m + ' best']):.1f}" for m in methods if m.startswith("lorahub")]
    lines.append(row(avg))
    if latex:
        lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule"] + lines[:1] + [r"\midrule"] + \
                lines[1:-1] + [r"\midrule", lines[-1], r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def best_settings(rows):
    """{method: (mean accuracy over tasks and seeds, N, k)} at its best (N, k), and the per-setting groups."""
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["method"], r["n_modules"], r["n_shots"])].append(r["accuracy"])
    best = {}
    for (m, n, k), v in sorted(groups.items()):
        if m not in best or np.mean(v) > best[m][0]:
            best[m] = (float(np.mean(v)), n, k)
    return best, groups


def by_setting(rows):
    """Per method and (N, k): mean accuracy over tasks and seeds."""
    best, groups = best_settings(rows)
    lines = ["| method | N | k | accuracy (mean over tasks and seeds) | trials |", "|---|---|---|---|---|"]
    for (m, n, k), v in sorted(groups.items()):
        lines.append(f"| {m} | {n} | {k} | {100 * np.mean(v):.1f} | {len(v)} |")
    lines.append("")
    for m, (v, n, k) in sorted(best.items()):
        lines.append(f"best {m}: {100 * v:.1f} at N = {n}, k = {k}")
    return "\n".join(lines)


def same_skill(rows, world):
    """Same-skill held-out tasks at each LoraHub method's best (N, k) against their upstream module."""
    best, _ = best_settings(rows)
    lines = ["| task | method (N, k) | accuracy (mean over seeds) | module | module on its task | ratio | module alone on this task |",
             "|---|---|---|---|---|---|---|"]
    for task, s in sorted(world.get("same_skill", {}).items()):
        for m, (_, n, k) in sorted(best.items()):
            if not m.startswith("lorahub"):
                continue
            v = [r["accuracy"] for r in rows if r["task"] == task and r["method"] == m and
                 (r["n_modules"], r["n_shots"]) == (n, k)]
            if not v:
                continue
            ratio = np.mean(v) / s["module_accuracy"] if s["module_accuracy"] > 0 else float("inf")
            lines.append(f"| {task} | {m} ({n}, {k}) | {100 * np.mean(v):.1f} | {s['module']} | "
                         f"{100 * s['module_accuracy']:.1f} | {ratio:.2f} | {100 * s['module_on_heldout']:.1f} |")
    return "\n".join(lines)


SOUPS_PREFIXES = ("single-", "data_mix", "merge-", "cat_learned")


def is_soups(method):
    return method.startswith(SOUPS_PREFIXES)


def soups_table(rows):
    """LoRA Soups-style table: method x task (the tasks the soups methods ran on), mean over seeds, plus the mean
    over tasks. The modules alone (single-<module>) differ per task, so they are two rows: per task, the module of
    the higher and of the lower mean accuracy (named below the table). Returns (text, {(row, task): mean})."""
    tasks = sorted({r["task"] for r in rows if is_soups(r["method"])})
    groups = collections.defaultdict(list)
    for r in rows:
        if r["task"] in tasks:
            groups[(r["task"], r["method"])].append(r["accuracy"])
    cells, notes = {}, []
    for t in tasks:
        single = sorted(((float(np.mean(v)), m[len("single-"):]) for (tt, m), v in groups.items()
                         if tt == t and m.startswith("single-")), key=lambda x: (-x[0], x[1]))
        if single:
            cells[("single (better module)", t)] = single[0][0]
            cells[("single (worse module)", t)] = single[-1][0]
            notes.append(f"{t}: " + ", ".join(f"{m} {100 * v:.1f}" for v, m in single))
    for (t, m), v in groups.items():
        if not m.startswith("single-"):
            cells[(m, t)] = float(np.mean(v))
    def order(m):
        rank = ["zero_shot", "icl", "single (better module)", "single (worse module)", "data_mix", "merge-",
                "cat_learned", "lorahub"]
        return next((i for i, p in enumerate(rank) if m.startswith(p)), len(rank)), m
    methods = sorted({m for m, _ in cells}, key=order)
    lines = ["| method | " + " | ".join(tasks) + " | mean |", "|---" * (len(tasks) + 2) + "|"]
    for m in methods:
        values = [cells.get((m, t), float("nan")) for t in tasks]
        mean = float(np.mean(values))  # NaN when the method misses a task
        lines.append(f"| {m} | " + " | ".join(f"{100 * v:.1f}" for v in values) + f" | {100 * mean:.1f} |")
    if notes:
        lines += ["", "modules alone (mean over seeds): " + "; ".join(notes)]
    return "\n".join(lines), cells


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("--latex", action="store_true")
    p.add_argument("--world", help="the demo world's world.json: adds the same-skill table")
    a = p.parse_args()
    rows = load(a.results)
    cells, methods = table(rows)
    print(render(cells, methods, a.latex))
    if not a.latex:
        print()
        print(by_setting(rows))
    if a.world and not a.latex:
        with open(a.world) as f:
            world = json.load(f)
        print()
        print(same_skill(rows, world))
    if not a.latex and any(is_soups(r["method"]) for r in rows):
        print()
        print("LoRA Soups-style table: accuracy (mean over seeds) per task the soups methods ran on")
        print(soups_table(rows)[0])
    print(f"\n{len(rows)} trials from {a.results}")


if __name__ == "__main__":
    main()
