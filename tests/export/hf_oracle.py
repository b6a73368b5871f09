"""What the tests that run transformers 4.36.2 + PEFT 0.7.1 share (tests/export/*_test.py, run with the venv of
scripts/hf_venv.sh): lorahub as a subprocess, the fixtures' examples, and transformers' losses by the fixtures'
definitions."""
import json
import os
import subprocess
import sys

import torch


def lorahub(binary, *args):
    """stdout of `binary args --threads 1`; exits naming the command when it fails."""
    r = subprocess.run([binary, *args, "--threads", "1"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"lorahub {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def examples(fixture):
    return json.load(open(os.path.join(fixture, "golden.json")))["examples"]


def hf_losses(model, tok, family, exs):
    """Per-example mean token cross-entropy and the batch loss (mean over every target token) by the fixture README's
    definitions: T5 labels = tokenizer(target); Llama prompt = tokenizer(input), target = tokenizer(target without
    specials) + EOS, loss on the target positions only."""
    per, total, count = [], 0.0, 0
    with torch.no_grad():
        for e in exs:
            if family == "t5":
                enc = tok(e["input"], return_tensors="pt")
                labels = tok(e["target"], return_tensors="pt").input_ids
                logits = model(**enc, labels=labels).logits[0]
                tgt = labels[0]
            else:
                prompt = tok(e["input"]).input_ids
                target = tok(e["target"], add_special_tokens=False).input_ids + [tok.eos_token_id]
                ids = torch.tensor([prompt + target])
                logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1]
                tgt = torch.tensor(target)
            ce = torch.nn.functional.cross_entropy(logits.double(), tgt, reduction="none")
            per.append(ce.mean().item())
            total += ce.sum().item()
            count += len(tgt)
    return per, total / count
