"""Every adapter and checkpoint the product writes, loaded by PEFT / transformers themselves.

The oracle is the Hugging Face stack the fixtures' golden numbers came from (transformers 4.36.2 + PEFT 0.7.1 on
Debian's torch, scripts/hf_venv.sh): for each export of `lorahub` on tiny-t5 and tiny-llama (LoraHub and CAT
compositions, every merge method, per-layer CAT learned with AdamW, a trained LoRA and IA3 adapter, a composition
merged into a checkpoint), PEFT loads the files and computes the loss of each golden example; `lorahub loss`
computes them on the same files. They must agree within 1e-5 relative, the float32 tolerance the
fixtures' READMEs use. The LoraHub composition's PEFT loss is also checked against golden.json, which holds the
Python loss definition used here to the one the fixtures were made with.

  python peft_load_test.py LORAHUB SHARED_DIR WORK_DIR    (run by ctest with the venv's python)
"""
import json
import math
import os
import shutil
import subprocess
import sys

import torch
import transformers
from peft import PeftModel

import hf_oracle
from hf_oracle import examples, hf_losses

LORAHUB, SHARED, WORK = sys.argv[1:4]
TOL = 1e-5
failures = []


def lorahub(*args):
    return hf_oracle.lorahub(LORAHUB, *args)


def check(what, ours, theirs):
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours["per_example_loss"] + [ours["batch_loss"]], theirs[0] + [theirs[1]]))
    ok = worst <= TOL
    print(f"{'ok  ' if ok else 'FAIL'} {what}: batch loss ours {ours['batch_loss']:.7f} PEFT {theirs[1]:.7f}, "
          f"largest relative difference {worst:.2e}")
    if not ok:
        failures.append(what)


def variant(work, tag, src, edit, keep=None):
    """A copy of adapter `src` with its config edited and (keep) only some of its tensors."""
    from safetensors.torch import load_file, save_file
    d = os.path.join(work, "src_" + tag)
    os.makedirs(d)
    tensors = load_file(os.path.join(src, "adapter_model.safetensors"))
    save_file({k: v for k, v in tensors.items() if keep is None or keep(k)}, os.path.join(d, "adapter_model.safetensors"),
              metadata={"format": "pt"})
    config = json.load(open(os.path.join(src, "adapter_config.json")))
    edit(config)
    json.dump(config, open(os.path.join(d, "adapter_config.json"), "w"))
    return d


def issue16_exports(work, base, modules, exports):
    """Issue 16: modules whose targets or scales are written in other forms, as sources (PEFT reads alpha_pattern,
    a regex, layers_to_transform as we do) and composed (the export's target_modules is the shared string or an
    explicit list, never a regex inside a list; a shared alpha_pattern is folded into B)."""
    regex = variant(work, "regex", modules[0], lambda c: c.update(target_modules=r".*\.(q|v)"))
    q16 = [variant(work, f"q16_{i}", modules[i], lambda c: c.update(alpha_pattern={"q": 16})) for i in (0, 1)]
    block0 = [variant(work, "block0_pattern", modules[0], lambda c: c.update(layers_to_transform=[0], layers_pattern="block"),
                      keep=lambda k: ".block.0." in k),
              variant(work, "block0_names", modules[1], lambda c: c.update(
                  target_modules=["SelfAttention.q", "SelfAttention.v", "EncDecAttention.q", "EncDecAttention.v"],
                  layers_to_transform=[0], layers_pattern="block"), keep=lambda k: ".block.0." in k)]
    exports += [("source regex", regex, True), ("source alpha_pattern q 16", q16[0], True),
                ("source layers_to_transform block 0", block0[0], True)]
    for tag, mods, extra in [("cat of regex + list", [regex, modules[1]], ["--method", "cat"]),
                             ("linear of block 0 said two ways", block0, ["--method", "linear"]),
                             ("lorahub of a shared alpha_pattern", q16, ["--method", "lorahub"]),
                             ("svd of a shared alpha_pattern", q16, ["--method", "svd"])]:
        out = os.path.join(work, "issue16_" + tag.replace(" ", "_"))
        lorahub("compose", "--model", base, "--modules", *mods, "--weights=0.7,-0.4", "--out", out, *extra)
        exports.append((tag, out, True))


def layers_exports(work, base, modules, family, exports):
    """Issue 16: layers_to_transform without layers_pattern, where PEFT 0.7.1 (the first of layers, h, block, blocks,
    layer) and newer PEFT (the last ".<name>.<n>.") read the same layers, loads as PEFT 0.7.1 reads it (T5 [0, 1]:
    every block and every sub-layer; Llama [1]: "layers.1" under both), and its export writes that layers_pattern
    explicitly, so that every PEFT version reads it alike."""
    if family == "t5":
        src, pattern = variant(work, "ltt01", modules[0], lambda c: c.update(layers_to_transform=[0, 1])), "block"
    else:
        src, pattern = variant(work, "ltt1", modules[0], lambda c: c.update(layers_to_transform=[1]),
                               keep=lambda k: ".layers.1." in k), "layers"
    exports.append(("source layers_to_transform without layers_pattern", src, True))
    out = os.path.join(work, "ltt_export")
    lorahub("compose", "--model", base, "--modules", src, "--weights=0.7", "--out", out, "--method", "linear")
    written = json.load(open(os.path.join(out, "adapter_config.json")))["layers_pattern"]
    print(f"{'ok  ' if written == [pattern] else 'FAIL'} {family}: the export of layers_to_transform without "
          f"layers_pattern writes layers_pattern {written} (expected {[pattern]})")
    if written != [pattern]:
        failures.append(f"{family} layers_pattern of the export")
    exports.append(("export of layers_to_transform without layers_pattern", out, True))


def state_dict_dump_is_no_adapter(work, base, lora0, family, exs, tok, auto):
    """Issue 16: keys with the adapter name ("...lora_A.default.weight", a PeftModel.state_dict() dump), which
    lorahub refuses: PEFT 0.7.1's loader reads none of them and gives the base model's losses."""
    from safetensors.torch import load_file, save_file
    d = os.path.join(work, "state_dict_dump")
    os.makedirs(d)
    tensors = load_file(os.path.join(lora0, "adapter_model.safetensors"))
    save_file({k[:-len(".weight")] + ".default.weight": v for k, v in tensors.items()},
              os.path.join(d, "adapter_model.safetensors"), metadata={"format": "pt"})
    shutil.copy(os.path.join(lora0, "adapter_config.json"), d)
    dumped = hf_losses(PeftModel.from_pretrained(auto.from_pretrained(base), d).eval(), tok, family, exs)[1]
    plain = hf_losses(auto.from_pretrained(base).eval(), tok, family, exs)[1]
    adapted = hf_losses(PeftModel.from_pretrained(auto.from_pretrained(base), lora0).eval(), tok, family, exs)[1]
    ok = abs(dumped - plain) <= TOL * abs(plain) and abs(adapted - plain) > 100 * TOL * abs(plain)
    print(f"{'ok  ' if ok else 'FAIL'} {family}: PEFT on a state_dict dump {dumped:.7f}, base model {plain:.7f}, "
          f"the adapter itself {adapted:.7f}")
    if not ok:
        failures.append(f"{family} state_dict dump")


def run_family(name, family):
    fixture = os.path.join(SHARED, "fixtures", name)
    base, lora = os.path.join(fixture, "base"), os.path.join(fixture, "lora")
    golden = json.load(open(os.path.join(fixture, "golden.json")))
    exs = examples(fixture)
    work = os.path.join(WORK, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shots = os.path.join(work, "shots.jsonl")
    with open(shots, "w") as f:
        for e in exs:
            f.write(json.dumps({"input": e["input"], "target": e["target"]}) + "\n")
    modules = [os.path.join(lora, f"lora{i}") for i in range(5)]
    weights = "--weights=" + ",".join(str(w) for w in golden["lorahub_composition"]["weights"])

    # The exports: (name, directory, is_adapter).
    exports = []
    def compose(tag, *extra):
        out = os.path.join(work, tag)
        lorahub("compose", "--model", base, "--modules", *modules, weights, "--out", out, *extra)
        exports.append((tag, out, "--merge" not in extra))
    compose("lorahub", "--method", "lorahub")
    compose("cat", "--method", "cat")
    compose("linear", "--method", "linear")
    compose("svd", "--method", "svd", "--svd-rank", "3")
    compose("ties", "--method", "ties", "--density", "0.5")
    compose("dare_ties", "--method", "dare_ties", "--density", "0.7", "--seed", "3")
    compose("magnitude_prune", "--method", "magnitude_prune", "--density", "0.5")
    compose("lorahub_merged", "--method", "lorahub", "--merge")
    out = os.path.join(work, "cat_per_layer")
    lorahub("learn", "--model", base, "--modules", *modules[:3], "--examples", shots, "--optimizer", "adamw",
            "--method", "cat", "--per-target", "--steps", "3", "--lr", "0.05", "--export", out, "--quiet")
    exports.append(("cat_per_layer (adamw)", out, True))
    for mode in ("lora", "ia3"):
        out = os.path.join(work, "trained_" + mode)
        lorahub("train-lora", "--model", base, "--data", shots, "--out", out, "--mode", mode, "--steps", "3",
                "--lr", "0.05")
        exports.append((f"train-lora --mode {mode}", out, True))

    if family == "t5":
        issue16_exports(work, base, modules, exports)
    layers_exports(work, base, modules, family, exports)

    auto = transformers.AutoModelForSeq2SeqLM if family == "t5" else transformers.AutoModelForCausalLM
    tok_class = transformers.T5Tokenizer if family == "t5" else transformers.LlamaTokenizer
    tok = tok_class.from_pretrained(base)
    state_dict_dump_is_no_adapter(work, base, modules[0], family, exs, tok, auto)
    results = {}
    for tag, path, is_adapter in exports:
        if is_adapter:
            model = PeftModel.from_pretrained(auto.from_pretrained(base), path).eval()
            ours = json.loads(lorahub("loss", "--model", base, "--adapter", path, "--examples", shots))
        else:
            model = auto.from_pretrained(path).eval()
            ours = json.loads(lorahub("loss", "--model", path, "--examples", shots))
        theirs = hf_losses(model, tok, family, exs)
        check(f"{name} {tag}", ours, theirs)
        results[tag] = ours, theirs
        if tag == "lorahub":
            key = "hf_batch_loss" if family == "t5" else "batch_loss"
            want = golden["lorahub_composition"][key]
            # golden's batch loss is over one padded batch; ours per example then pooled: equal up to float32 rounding.
            rel = abs(theirs[1] - want) / abs(want)
            print(f"{'ok  ' if rel <= TOL else 'FAIL'} {name} lorahub: PEFT on our export {theirs[1]:.7f}, "
                  f"golden {want:.7f} ({rel:.1e})")
            if rel > TOL:
                failures.append(f"{name} lorahub vs golden")
    # The check can fail: our losses of one export against PEFT's of another differ by far more than TOL.
    crossed = max(abs(a - b) / abs(b) for a, b in zip(results["lorahub"][0]["per_example_loss"], results["cat"][1][0]))
    print(f"{'ok  ' if crossed > 100 * TOL else 'FAIL'} {name}: lorahub's losses against PEFT's for cat differ by "
          f"{crossed:.1e} (the check discriminates)")
    if crossed <= 100 * TOL:
        failures.append(f"{name} negative control")


torch.set_num_threads(1)
run_family("tiny-t5", "t5")
run_family("tiny-llama", "llama")
if failures:
    sys.exit("PEFT disagrees with lorahub on: " + ", ".join(failures))
print("every export loads in PEFT / transformers with the same losses")
