#!/usr/bin/python3
"""Exit 0 when two lorahub results files hold the same trial results.

Compares, per trial: attributes (except wall_s), modules, weights, shots,
history and evaluation datasets, and that each file's /summary lists every
trial of /trials once. Reads with h5py, independently of the project's own
reader.
Usage: compare_results.py A.h5 B.h5 [--partial]
  --partial: B may hold a subset of A's trials (an interrupted run); each must
             equal A's.
"""
import sys

import h5py
import numpy as np


def trial(g):
    attrs = {k: v for k, v in g.attrs.items() if k != "wall_s"}
    data = {}
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            data[name] = obj[()]
    g.visititems(visit)
    return attrs, data


def same(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind == "f" and y.dtype.kind == "f":
        return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
    return x.shape == y.shape and np.array_equal(x, y)


def summary_ids(f):
    return sorted(x.decode() if isinstance(x, bytes) else str(x) for x in f["summary"]["id"])


def main(a_path, b_path, partial=False):
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        ids_a, ids_b = sorted(a["trials"]), sorted(b["trials"])
        for path, f, ids in ((a_path, a, ids_a), (b_path, b, ids_b)):
            if summary_ids(f) != ids:
                print(f"{path}: /summary does not list each trial once: {len(summary_ids(f))} rows, {len(ids)} trials")
                return 1
        if partial and not set(ids_b) <= set(ids_a):
            print(f"trials not in {a_path}: {sorted(set(ids_b) - set(ids_a))[:5]}")
            return 1
        if not partial and ids_a != ids_b:
            print(f"trial sets differ: {len(ids_a)} vs {len(ids_b)}: {sorted(set(ids_a) ^ set(ids_b))[:5]}")
            return 1
        for tid in ids_b:
            (aa, ad), (ba, bd) = trial(a["trials"][tid]), trial(b["trials"][tid])
            for k in aa:
                if not same(aa[k], ba[k]):
                    print(f"{tid}: attribute {k}: {aa[k]} vs {ba[k]}")
                    return 1
            if sorted(ad) != sorted(bd):
                print(f"{tid}: datasets differ: {sorted(ad)} vs {sorted(bd)}")
                return 1
            for k in ad:
                if not same(ad[k], bd[k]):
                    print(f"{tid}: {k}: {ad[k]} vs {bd[k]}")
                    return 1
        print(f"{len(ids_b)} trials identical")
    return 0


if __name__ == "__main__":
    args = [x for x in sys.argv[1:] if x != "--partial"]
    sys.exit(main(args[0], args[1], partial="--partial" in sys.argv))
