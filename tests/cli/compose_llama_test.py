#!/usr/bin/python3
"""lorahub compose and lorahub loss on the tiny-llama fixture (issue 14 item 5).

Against golden.json, on its 6 examples (one padded batch): the base model's
and each adapter's losses; the LoraHub composition (weights 0.5, -0.3, 1.2,
0, 0.7) from the modules, exported as a PEFT adapter (CAUSAL_LM; its composed
A and B within 1e-6, read back with numpy) and loaded again, and merged into
a checkpoint (--merge): losses within 1e-5 relative, the merged model's
greedy outputs token for token; CAT (PEFT add_weighted_adapter 'cat':
r = 20, lora_alpha = 20, A and B within 1e-6) exported and merged, the same.
Usage: compose_llama_test.py LORAHUB SHARED WORK
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cli import *  # noqa: E402,F401,F403

examples = write_examples("examples.jsonl", EXAMPLES)
W = "0.5,-0.3,1.2,0.0,0.7"
LOSS_REL = 1e-5  # the fixture README: a float32 implementation matches losses to ~1e-5 relative


def check_losses(got, want, what):
    ok = rel(got["batch_loss"], want["batch_loss"]) <= LOSS_REL and rel(got["lorahub_loss"], want["lorahub_loss"]) <= LOSS_REL
    check(ok, "%s: batch_loss %.9g (golden %.9g), lorahub_loss %.9g (golden %.9g)" % (
        what, got["batch_loss"], want["batch_loss"], got["lorahub_loss"], want["lorahub_loss"]))


base = losses("--model", BASE, "--examples", examples)
check(base["examples"] == 6 and base["target_tokens"] == GOLDEN["batch"]["num_target_tokens"], "6 examples, 29 target tokens")
check_losses(base, GOLDEN["base"], "base model")
for i in (0, 3):
    check_losses(losses("--model", BASE, "--examples", examples, "--adapter", LORAS[i]), GOLDEN["adapters"][i],
                 "adapter lora%d" % i)

# LoraHub: straight from the modules (get_score), exported, merged.
lh = GOLDEN["lorahub_composition"]
got = losses("--model", BASE, "--examples", examples, "--modules", *LORAS, "--weights=" + W)
check_losses(got, lh, "LoraHub composition of the modules")
check(abs(got["l1_term"] - lh["l1_term"]) <= 1e-12 and rel(got["score"], lh["get_score"]) <= LOSS_REL,
      "get_score %.9g (golden %.9g)" % (got["score"], lh["get_score"]))

lorahub("compose", "--model", BASE, "--modules", *LORAS, "--weights=" + W, "--out", "lorahub-adapter")
config = json.load(open("lorahub-adapter/adapter_config.json"))
check(config["task_type"] == "CAUSAL_LM" and config["r"] == 4 and config["lora_alpha"] == 8 and
      sorted(config["target_modules"]) == sorted(json.load(open(os.path.join(LORAS[0], "adapter_config.json")))["target_modules"]),
      "exported adapter_config.json: CAUSAL_LM, r 4, lora_alpha 8, the modules' targets")
tensors = read_safetensors("lorahub-adapter/adapter_model.safetensors")
check(sorted(tensors) == sorted(GOLDEN["lora_state_dict_keys"]), "exported keys are PEFT's state dict keys")
ex = lh["composed_example"]
for key, name in ((ex["lora_A_key"], "lora_A"), (ex["lora_B_key"], "lora_B")):
    d = np.abs(tensors[key] - np.array(ex[name], dtype=np.float32)).max()
    check(d <= 1e-6, "exported composed %s of %s within 1e-6 (%.2g)" % (name, key, d))
check_losses(losses("--model", BASE, "--examples", examples, "--adapter", "lorahub-adapter"), lh,
             "exported LoraHub adapter, loaded again")

lorahub("compose", "--model", BASE, "--modules", *LORAS, "--weights=" + W, "--out", "lorahub-merged", "--merge")
check(all(os.path.exists(os.path.join("lorahub-merged", f)) for f in ("config.json", "model.safetensors", "tokenizer.model")),
      "merged checkpoint: config.json, model.safetensors, tokenizer.model")
check_losses(losses("--model", "lorahub-merged", "--examples", examples), lh["merged"], "merged LoraHub checkpoint")
check_losses(losses("--model", BASE, "--examples", examples, "--modules", *LORAS, "--weights=" + W, "--merged"),
             lh["merged"], "LoraHub composition merged in memory (loss --merged)")
with open("prompts.jsonl", "w") as f:
    for e in EXAMPLES:
        f.write(json.dumps({"input": e["input"]}) + "\n")
out = [json.loads(line)["output"] for line in
       lorahub("generate", "--model", "lorahub-merged", "--input-file", "prompts.jsonl", "--max-new-tokens", "12").stdout.splitlines()]
check(out == [s["text"] for s in lh["greedy"]["single"]], "merged checkpoint's greedy outputs equal golden")

# CAT as PEFT's add_weighted_adapter(combination_type='cat').
cat = GOLDEN["peft_add_weighted_adapter"]["cat"]
lorahub("compose", "--model", BASE, "--modules", *LORAS, "--weights=" + W, "--method", "cat", "--out", "cat-adapter")
config = json.load(open("cat-adapter/adapter_config.json"))
check(config["task_type"] == "CAUSAL_LM" and config["r"] == cat["new_r"] and config["lora_alpha"] == cat["new_lora_alpha"],
      "cat adapter_config.json: CAUSAL_LM, r %d, lora_alpha %d" % (cat["new_r"], cat["new_lora_alpha"]))
tensors = read_safetensors("cat-adapter/adapter_model.safetensors")
probe = "base_model.model." + GOLDEN["peft_add_weighted_adapter"]["probe_module"]
for name in ("lora_A", "lora_B"):
    d = np.abs(tensors[probe + "." + name + ".weight"] - np.array(cat[name], dtype=np.float32)).max()
    check(d <= 1e-6, "cat %s of %s within 1e-6 (%.2g)" % (name, probe, d))
check_losses(losses("--model", BASE, "--examples", examples, "--adapter", "cat-adapter"), cat, "exported CAT adapter")
check_losses(losses("--model", BASE, "--examples", examples, "--modules", *LORAS, "--weights=" + W, "--composition", "cat"),
             cat, "CAT composition of the modules")
lorahub("compose", "--model", BASE, "--modules", *LORAS, "--weights=" + W, "--method", "cat", "--merge", "--out", "cat-merged")
check_losses(losses("--model", "cat-merged", "--examples", examples), cat["manual_delta_w"], "merged CAT checkpoint")
finish()
