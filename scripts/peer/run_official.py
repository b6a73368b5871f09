"""Runs the official LoraHub package's lorahub_learning, unmodified, and times every get_score call.

Used by scripts/peer.sh inside its virtual environment (the `lorahub` wheel from the package index,
transformers 4.36.2, peft 0.7.1, nevergrad 1.0.1, Debian's torch 1.13). Writes JSON:
  evaluations: [{weights, objective, seconds}] in get_score call order (objective = loss + L1, the value
               NGOpt minimises; seconds = wall time of that get_score call: compose + set_peft_model_state_dict
               + default_get_loss + L1)
  final_weights, final_merged_model_loss (default_get_loss of the returned merged model), optimizer (the
  optimizer NGOpt selected), threads, blas (torch.__config__ BLAS_INFO and the libblas the process mapped).

--deepcopy-cache applies the one change between lorahub 0.1.0 (the index's wheel) and sail-sg/lorahub df73afe
(the commit the fixtures were made with): load_base_model_and_lora_modules keeps a deep copy of each module's
state dict (commit dcfe5b7, "use copy.deepcopy to prevent modifying the peft state dict").
"""
import argparse
import copy
import json
import time

import torch


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--modules", nargs="+", required=True)
    p.add_argument("--examples", required=True, help="JSONL with input and target")
    p.add_argument("--budget", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--deepcopy-cache", action="store_true")
    p.add_argument("--out", required=True)
    return p.parse_args()


def mapped_blas():
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "libblas" in line or "openblas" in line}
    return sorted(libs)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import lorahub.algorithm as alg  # the package from the index
    import nevergrad as ng

    records = []
    original_get_score = alg.get_score

    def timed_get_score(weights, *a, **kw):
        start = time.perf_counter()
        value = original_get_score(weights, *a, **kw)
        records.append({"weights": [float(x) for x in weights], "objective": float(value),
                        "seconds": time.perf_counter() - start})
        return value

    alg.get_score = timed_get_score  # lorahub_learning binds the module global through partial()

    created = []
    original_ngopt = ng.optimizers.NGOpt

    def recording_ngopt(*a, **kw):
        opt = original_ngopt(*a, **kw)
        created.append(opt)
        return opt

    ng.optimizers.NGOpt = recording_ngopt

    if args.deepcopy_cache:
        # df73afe: cache[id] = copy.deepcopy(get_peft_model_state_dict(cur_peft_model)) inside the loading loop.
        original_state = alg.get_peft_model_state_dict
        alg.get_peft_model_state_dict = lambda *a, **kw: copy.deepcopy(original_state(*a, **kw))

    with open(args.examples) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    inputs = [r["input"] for r in rows]
    targets = [r["target"] for r in rows]

    start = time.perf_counter()
    weights, model, tokenizer = alg.lorahub_learning(
        lora_module_list=args.modules, example_inputs=inputs, example_outputs=targets,
        max_inference_step=args.budget, model_name_or_path=args.model, batch_size=args.batch_size, seed=args.seed)
    total = time.perf_counter() - start
    dataset = alg.load_dataset(inputs, targets, tokenizer)
    final_loss = alg.default_get_loss(dataset, model, args.batch_size)

    optimizer = created[0] if created else None
    optim = getattr(optimizer, "optim", None)
    selected = getattr(optim, "method", type(optim).__name__)
    out = {
        "implementation": "lorahub (index wheel)" + (" + df73afe deepcopy" if args.deepcopy_cache else ""),
        "threads": torch.get_num_threads(),
        "blas": {"torch_blas_info": [s for s in torch.__config__.show().replace(",", "\n").split("\n")
                                     if "BLAS_INFO" in s][0].strip(),
                 "mapped": mapped_blas()},
        "optimizer": selected,
        "final_weights": [float(x) for x in weights],
        "final_merged_model_loss": final_loss,
        "learning_seconds": total,
        "tokenizer": type(tokenizer).__name__,
        "input_ids": [list(map(int, x)) for x in dataset["input_ids"]],
        "labels": [list(map(int, x)) for x in dataset["labels"]],
        "evaluations": records,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
