"""Prints the side-by-side figures of scripts/peer.sh: per-step times, their ratio, final objectives, trajectories.

Reads the JSON of scripts/peer/run_official.py (the official package) and the --history JSON of `lorahub learn`
(ours) for each thread count, from DIR/official_tT.json and DIR/ours_tT.json; DIR/official_df73afe_t1.json (the
official code with the fixtures' deepcopy) and --golden (golden.json's lorahub_learning) are added when present.
"""
import argparse
import json
import os
import statistics


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--title", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--golden", help="golden.json (fixture only): its lorahub_learning and examples")
    p.add_argument("--ours-blas", default="", help="what our binary's libblas.so.3 resolves to")
    return p.parse_args()


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def median_ms(run):
    return 1000 * statistics.median(e["seconds"] for e in run["evaluations"])


def official_final(run):
    """Objective of the official recommendation: its get_score value if it was evaluated (NGOpt recommends an
    evaluated point for COBYLA), else min over evaluations."""
    w = run["final_weights"]
    for e in run["evaluations"]:
        if max(abs(a - b) for a, b in zip(e["weights"], w)) < 1e-12:
            return e["objective"]
    return min(e["objective"] for e in run["evaluations"])


def check_token_ids(official, golden):
    strip = lambda ids, pad: [x for x in ids if x != pad]
    ok = all(strip(official["input_ids"][k], 0) == golden["examples"][k]["input_ids"] and
             strip(official["labels"][k], -100) == golden["examples"][k]["label_ids"]
             for k in range(len(official["input_ids"])))
    return "equal to golden.json's examples" if ok else "DIFFERENT from golden.json's examples"


def trajectories(columns, n=10):
    names = [c[0] for c in columns]
    print("  k  " + "  ".join(f"{name:>22}" for name in names) + "   |official-ours|")
    for k in range(n):
        row = [c[1][k] if c[1] is not None and k < len(c[1]) else None for c in columns]
        cells = "  ".join(f"{v:22.9f}" if v is not None else f"{'-':>22}" for v in row)
        diff = abs(row[0] - row[1]) if row[0] is not None and row[1] is not None else float("nan")
        print(f"  {k:<2} {cells}   {diff:.2e}")


def main():
    args = parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    runs = {t: (load(f"{args.dir}/official_t{t}.json"), load(f"{args.dir}/ours_t{t}.json")) for t in threads}
    first = runs[threads[0]][0]
    print(f"\n== {args.title} ==")
    print(f"official: {first['implementation']}, NGOpt selected {first['optimizer']}, tokenizer "
          f"{first['tokenizer']}; torch {first['blas']['torch_blas_info'].lstrip('- ')}, mapped "
          f"{', '.join(os.path.basename(x) for x in first['blas']['mapped'])}")
    print(f"ours:     lorahub learn --optimizer cobyla --exact-batch; libblas.so.3 -> {args.ours_blas}")
    golden = load(args.golden) if args.golden else None
    if golden:
        print(f"token ids of the official run: {check_token_ids(first, golden)}")
    print(f"\n  threads  official ms/step  ours ms/step  official/ours   (median over {len(first['evaluations'])} "
          f"get_score calls / evaluations)")
    for t in threads:
        off, ours = runs[t]
        if off is None or ours is None:
            print(f"  {t:<7}  (missing)")
            continue
        print(f"  {t:<7}  {median_ms(off):15.2f}  {median_ms(ours):12.2f}  {median_ms(off) / median_ms(ours):12.2f}x")
    off, ours = runs[threads[0]]
    print(f"\n  final objective (loss + L1 of the returned weights), {threads[0]} thread(s): official "
          f"{official_final(off):.6f} (loss of its merged model {off['final_merged_model_loss']:.6f}), ours "
          f"{ours['best_objective']:.6f}")
    columns = [("official (index wheel)", [e["objective"] for e in off["evaluations"]]),
               ("ours", [e["objective"] for e in ours["evaluations"]])]
    df73afe = load(f"{args.dir}/official_df73afe_t1.json")
    if df73afe:
        columns.append(("official + df73afe copy", [e["objective"] for e in df73afe["evaluations"]]))
        print(f"  official + df73afe deepcopy: final objective {official_final(df73afe):.6f}")
    if golden:
        ref = golden["lorahub_learning"]
        columns.append(("golden (ref BLAS)", [e["score"] for e in ref["evaluations"]]))
        print(f"  golden.json (df73afe, reference BLAS): final merged-model loss "
              f"{ref['final_merged_model_lorahub_get_loss']:.6f}")
    print(f"\n  first 10 evaluations (objective = loss + 0.05 mean|w|), {threads[0]} thread(s):")
    trajectories(columns)
    first_diff = next((k for k, (a, b) in enumerate(zip(columns[0][1], columns[1][1])) if abs(a - b) > 1e-5), None)
    print(f"  official and ours agree within 1e-5 up to evaluation "
          f"{first_diff if first_diff is not None else len(columns[0][1])} (0-based, exclusive)")
    if df73afe:
        pairs = list(zip(ours["evaluations"], df73afe["evaluations"]))
        d_obj = max(abs(a["objective"] - b["objective"]) for a, b in pairs)
        d_w = max(max(abs(x - y) for x, y in zip(a["weights"], b["weights"])) for a, b in pairs)
        print(f"  ours vs official + df73afe copy over all {len(pairs)} evaluations: max |objective difference| "
              f"{d_obj:.1e}, max |weight difference| {d_w:.1e}")


if __name__ == "__main__":
    main()
