#!/usr/bin/python3
"""lorahub train-lora on the tiny-llama fixture (issue 14 item 5).

LoRA (PEFT's default targets for llama, q_proj and v_proj), IA3 (PEFT's
defaults: k_proj, v_proj and down_proj, down_proj feed-forward) and full
fine-tuning on golden.json's 6 examples: the loss falls below the base
model's (golden base.batch_loss), the written adapter or checkpoint has
PEFT's layout for a causal LM, and loading it again (`lorahub loss`) gives
the final loss train-lora printed (1e-6 relative: the same float32 tensors).
Usage: train_llama_test.py LORAHUB SHARED WORK
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cli import *  # noqa: E402,F401,F403

data = write_examples("data.jsonl", EXAMPLES)
base_loss = GOLDEN["base"]["batch_loss"]


def train(out, *flags):
    r = lorahub("train-lora", "--model", BASE, "--data", data, "--out", out, "--batch-size", "6", "--seed", "1", *flags)
    steps = re.search(r"loss ([0-9.]+) \(first step\) -> ([0-9.]+) \(last step\)", r.stdout)
    final = re.search(r"final loss (\S+) on all 6 examples", r.stdout)
    assert steps and final, r.stdout
    first, last, final = float(steps.group(1)), float(steps.group(2)), float(final.group(1))
    check(abs(first - base_loss) <= 1e-4 * base_loss, "%s: first step loss %.4f is the base model's %.4f" % (out, first, base_loss))
    check(last < first and final < base_loss, "%s: loss falls: %.4f -> %.4f, final %.6f" % (out, first, last, final))
    return final


def reloaded(final, what, *flags):
    got = losses("--examples", data, *flags)["batch_loss"]
    check(rel(got, final) <= 1e-6, "%s reloaded: loss %.9g, train-lora printed %.9g" % (what, got, final))


def module_of(key, suffix):
    return key[len("base_model.model."):-len(suffix)]


# LoRA, PEFT's default targets for llama.
final = train("lora", "--steps", "20", "--lr", "1e-2", "--rank", "4", "--alpha", "8")
config = json.load(open("lora/adapter_config.json"))
check(config["task_type"] == "CAUSAL_LM" and config["peft_type"] == "LORA" and sorted(config["target_modules"]) == ["q_proj", "v_proj"]
      and config["r"] == 4 and config["lora_alpha"] == 8, "lora: adapter_config.json (CAUSAL_LM, q_proj and v_proj, r 4)")
t = read_safetensors("lora/adapter_model.safetensors")
mods = sorted({module_of(k, ".lora_A.weight") for k in t if k.endswith(".lora_A.weight")})
check(mods == ["model.layers.%d.self_attn.%s" % (i, p) for i in range(2) for p in ("q_proj", "v_proj")] and len(t) == 8,
      "lora: A and B of q_proj and v_proj in both layers")
check(all(t[k].shape == ((4, 64) if "lora_A" in k else (64 if "q_proj" in k else 32, 4)) for k in t), "lora: shapes")
reloaded(final, "lora adapter", "--model", BASE, "--adapter", "lora")

# Every Llama projection.
final = train("lora-all", "--steps", "5", "--lr", "1e-2", "--rank", "2", "--alpha", "4",
              "--targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
check(len(read_safetensors("lora-all/adapter_model.safetensors")) == 2 * 7 * 2, "lora on all 7 projections of 2 layers")
reloaded(final, "lora adapter on all projections", "--model", BASE, "--adapter", "lora-all")

# IA3 as PEFT's defaults for llama (golden_ia3.json peft_default_modules).
final = train("ia3", "--mode", "ia3", "--steps", "20", "--lr", "5e-2")
config = json.load(open("ia3/adapter_config.json"))
fixture_config = GOLDEN_IA3["ia3_config"]
check(config["peft_type"] == "IA3" and config["task_type"] == "CAUSAL_LM" and
      sorted(config["target_modules"]) == sorted(fixture_config["target_modules"]) and
      config["feedforward_modules"] == fixture_config["feedforward_modules"],
      "ia3: adapter_config.json targets %s, feed-forward %s" % (config["target_modules"], config["feedforward_modules"]))
t = read_safetensors("ia3/adapter_model.safetensors")
want = {m["key"]: m["shape"] for m in GOLDEN_IA3["modules"]}
check({k: list(v.shape) for k, v in t.items()} == want, "ia3: keys and shapes as the fixture's PEFT adapters")
reloaded(final, "ia3 adapter", "--model", BASE, "--adapter", "ia3")

# Full fine-tuning: a checkpoint with the tokenizer.
final = train("full", "--mode", "full", "--steps", "5", "--lr", "1e-3")
check(all(os.path.exists(os.path.join("full", f)) for f in ("config.json", "model.safetensors", "tokenizer.model")),
      "full: config.json, model.safetensors, tokenizer.model")
check(json.load(open("full/config.json"))["model_type"] == "llama", "full: model_type llama")
reloaded(final, "fine-tuned checkpoint", "--model", "full")
finish()
