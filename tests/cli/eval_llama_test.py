#!/usr/bin/python3
"""lorahub eval on the tiny-llama fixture (issue 14 items 4 and 5).

A BBH directory is built from golden.json's examples that carry an
instruction (0, 2, 3, 5): each becomes a task whose cot-prompts file holds
that instruction, so the zero-shot prompt is the example's input again. The
predictions (12 new tokens, default stop strings) must equal golden.json's
greedy outputs for the base model, lora0, the LoraHub composition (merged,
as eval applies it) and golden_ia3.json's for ia3_0; the printed accuracy of
each task must equal a recount of the predictions (one example of the first
task has the base model's output as its target: accuracy 0.5).
Usage: eval_llama_test.py LORAHUB SHARED WORK
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cli import *  # noqa: E402,F401,F403

picked = [0, 2, 3, 5]
os.makedirs("bbh/bbh")
os.makedirs("bbh/cot-prompts")
tasks = {}
for k in picked:
    text = EXAMPLES[k]["input"]
    instruction, rest = text.split("\n\nQ: ", 1)
    assert rest.endswith("\nA:"), rest
    question = rest[:-len("\nA:")]
    name = "task%d" % k
    items = [{"input": question, "target": EXAMPLES[k]["target"]}]
    if k == 0:  # a second example whose target is the base model's prediction
        items.append({"input": question, "target": GOLDEN["base"]["greedy"]["single"][0]["text"]})
    json.dump({"examples": items}, open("bbh/bbh/%s.json" % name, "w"))
    with open("bbh/cot-prompts/%s.txt" % name, "w") as f:
        f.write("canary\n-----\n%s\n\nQ: an exemplar\nA: So the answer is yes.\n" % instruction)
    tasks[name] = (k, items)


def norm(s):
    return s.strip().lower().replace(".", "")


def evaluate(label, expected, *flags):
    """expected[k]: the golden output for example k."""
    path = label + ".jsonl"
    r = lorahub("eval", "--model", BASE, "--bbh", "bbh", "--tasks", ",".join(sorted(tasks)), "--max-new-tokens", "12",
                "--predictions", path, *flags)
    printed = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in tasks:
            printed[parts[0]] = float(parts[1])
    rows = [json.loads(line) for line in open(path)]
    want = [expected[tasks[r["task"]][0]] for r in rows]
    got = [r["prediction"] for r in rows]
    check(len(rows) == 5 and got == want, "%s: predictions equal golden (%d rows)" % (label, len(rows)))
    for name, (k, items) in tasks.items():
        mine = [r for r in rows if r["task"] == name]
        recount = sum(norm(r["prediction"]) == norm(r["target"]) for r in mine) / len(items)
        check(name in printed and abs(printed[name] - recount) < 1e-4,
              "%s: %s accuracy printed %s, recount %.4f" % (label, name, printed.get(name), recount))
    return printed


texts = lambda entry: [s["text"] for s in entry["greedy"]["single"]]  # noqa: E731
printed = evaluate("base", texts(GOLDEN["base"]))
check(printed.get("task0") == 0.5, "task0 accuracy 0.5 (its second target is the prediction)")
evaluate("lora0", texts(GOLDEN["adapters"][0]), "--adapter", LORAS[0])
evaluate("lorahub", texts(GOLDEN["lorahub_composition"]), "--modules", *LORAS, "--weights=0.5,-0.3,1.2,0.0,0.7")
evaluate("ia3_0", texts(GOLDEN_IA3["adapters"][0]), "--adapter", IA3[0])
finish()
