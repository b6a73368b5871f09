"""PEFT's side of scripts/real_adapter_check.sh: the losses of a real adapter (and LoraHub compositions of it with a
copy) at the weight vectors `lorahub learn --history` evaluated, computed with transformers 4.36.2 + PEFT 0.7.1.

The adapter was saved by a newer PEFT: PEFT 0.7.1's LoraConfig(**config) raises TypeError on keys it does not
know, where newer PEFT warns and drops them. This script writes a copy of the adapter whose adapter_config.json
keeps only the LoraConfig 0.7.1 fields, lists the dropped keys with their values (they must be null, false or
their default for the numbers to be the same), and uses that copy.

Losses are lorahub's default_get_loss (one batch of all examples: HF's mean token cross-entropy, divided by the
number of examples) of lorahub's preprocessing (right padding, labels' pad ids -> -100); compositions are
lorahub's get_score: every lora_A / lora_B is sum_i w_i * state_dict_i[key], loaded with set_peft_model_state_dict.
"""
import argparse
import copy
import dataclasses
import json
import os
import shutil

import torch


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True)
    p.add_argument("--adapter", required=True)
    p.add_argument("--examples", required=True)
    p.add_argument("--history", required=True, help="lorahub learn --history of the adapter and its copy")
    p.add_argument("--stripped", required=True, help="where to write the copy PEFT 0.7.1 can read")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    return p.parse_args()


def strip_config(adapter, stripped):
    from peft import LoraConfig
    known = {f.name for f in dataclasses.fields(LoraConfig)}
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        config = json.load(f)
    dropped = {k: v for k, v in config.items() if k not in known}
    os.makedirs(stripped, exist_ok=True)
    with open(os.path.join(stripped, "adapter_config.json"), "w") as f:
        json.dump({k: v for k, v in config.items() if k in known}, f, indent=2)
    shutil.copy(os.path.join(adapter, "adapter_model.safetensors"), stripped)
    return dropped


def lorahub_loss(model, batch, n):
    with torch.no_grad():
        return float(model(**batch).loss.float()) / n


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    from peft import PeftModel
    from peft.utils.save_and_load import get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    dropped = strip_config(args.adapter, args.stripped)
    with open(args.examples) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    batch = tokenizer([r["input"] for r in rows], padding=True, return_tensors="pt")
    labels = tokenizer([r["target"] for r in rows], padding=True, return_tensors="pt")["input_ids"]
    labels[labels == tokenizer.pad_token_id] = -100
    batch["labels"] = labels
    n = len(rows)

    base = AutoModelForSeq2SeqLM.from_pretrained(args.base, torch_dtype=torch.float32).eval()
    base_loss = lorahub_loss(base, batch, n)
    model = PeftModel.from_pretrained(base, args.stripped).eval()
    adapter_loss = lorahub_loss(model, batch, n)
    state = copy.deepcopy(get_peft_model_state_dict(model))
    with open(args.history) as f:
        history = json.load(f)
    evaluations = []
    for e in history["evaluations"]:
        w = e["weights"]  # the adapter and its copy, as get_score: w_0 * state + w_1 * state
        set_peft_model_state_dict(model, {k: w[0] * v + w[1] * v for k, v in state.items()})
        peft = lorahub_loss(model, batch, n)
        evaluations.append({"weights": w, "peft_loss": peft, "ours_loss": e["loss"],
                            "rel_diff": abs(peft - e["loss"]) / abs(peft)})
    out = {"dropped_config_keys": dropped, "tensors": len(state), "base_loss": base_loss,
           "adapter_loss": adapter_loss, "evaluations": evaluations}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
