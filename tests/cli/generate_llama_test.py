#!/usr/bin/python3
"""lorahub generate on the tiny-llama fixture (issue 14 items 4 and 5).

Greedy outputs (12 new tokens) must equal golden.json base.greedy, single
(--input) and batched (--input-file, left-padded batches of 6 and of 4 + 2);
--max-new-tokens k must print SentencePiece's own decoding (spm_decode) of
the golden's first k token ids; stop strings: --stop cuts the output before
the earliest of them, --no-stop turns the defaults ("\\n\\n", "Q:") off, and
the defaults cut a longer output where it first holds one of them.
Usage: generate_llama_test.py LORAHUB SHARED WORK
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_cli import *  # noqa: E402,F401,F403

single = GOLDEN["base"]["greedy"]["single"]
batched = GOLDEN["base"]["greedy"]["batched"]["text"]

# The oracle first: spm_decode of the golden ids gives the golden texts.
check(all(spm_decode(s["new_ids"]) == s["text"] for s in single), "spm_decode(golden new_ids) == golden text")


def generate_one(text, *flags):
    out = lorahub("generate", "--model", BASE, "--input", text, *flags).stdout
    assert out.endswith("\n"), out
    return out[:-1]


def generate_file(path, *flags):
    r = lorahub("generate", "--model", BASE, "--input-file", path, *flags)
    return [json.loads(line)["output"] for line in r.stdout.splitlines()]


for k in (0, 5):
    check(generate_one(EXAMPLES[k]["input"], "--max-new-tokens", "12") == single[k]["text"],
          "single %d equals golden greedy.single" % k)

with open("prompts.jsonl", "w") as f:
    for e in EXAMPLES:
        f.write(json.dumps({"input": e["input"]}) + "\n")
for bs in ("6", "4"):
    out = generate_file("prompts.jsonl", "--max-new-tokens", "12", "--batch-size", bs)
    check(out == batched, "batched (--batch-size %s) equals golden greedy.batched" % bs)

# max_new_tokens: the first k golden tokens, decoded by SentencePiece itself.
for k in (1, 5):
    want = [spm_decode(s["new_ids"][:k]) for s in single]
    check(generate_file("prompts.jsonl", "--max-new-tokens", str(k)) == want, "--max-new-tokens %d" % k)

# Stop strings given: the output ends before the earliest one (and --no-stop
# changes nothing here: no golden output holds a default stop string).
check(not any("\n\n" in s["text"] or "Q:" in s["text"] for s in single), "golden outputs hold no default stop string")
check(generate_file("prompts.jsonl", "--max-new-tokens", "12", "--no-stop") == batched, "--no-stop")


def cut(text, stops):
    at = min([text.find(s) for s in stops if s in text] + [len(text)])
    return text[:at]


stops = ["ru", "om", "a"]
want = [cut(s["text"], stops) for s in single]
check(sum(w != s["text"] for w, s in zip(want, single)) >= 3, "the stop strings occur in the golden outputs")
got = generate_file("prompts.jsonl", "--max-new-tokens", "12", *sum((["--stop", s] for s in stops), []))
check(got == want, "--stop ru --stop om --stop a: %r" % got)

# The default stop strings need outputs that hold them; the random fixture
# model writes none in hundreds of tokens, so a copy fine-tuned to answer
# with them provides some: "\n\n" and "Q:" each come first in some outputs.
targets = ["False\n\nQ: and then", "(A) Q: again", "(A)\n\nmore", "costume Q: x", "No\n\nQ:", "-21 Q: 7"]
write_examples("stops.jsonl", [{"input": e["input"], "target": t} for e, t in zip(EXAMPLES, targets)])
lorahub("train-lora", "--model", BASE, "--data", "stops.jsonl", "--out", "tuned", "--mode", "full", "--steps", "40",
        "--lr", "3e-3", "--batch-size", "6")


def generate_tuned(*flags):
    r = lorahub("generate", "--model", "tuned", "--input-file", "prompts.jsonl", "--max-new-tokens", "16", *flags)
    return [json.loads(line)["output"] for line in r.stdout.splitlines()]


free = generate_tuned("--no-stop")
defaults = ["\n\n", "Q:"]
first = [min((o.find(s), s) for s in defaults if s in o)[1] if any(s in o for s in defaults) else None for o in free]
print("outputs without stop strings: %r" % free)
check("\n\n" in first and "Q:" in first, "each default stop string comes first in some output")
check(generate_tuned() == [cut(o, defaults) for o in free], "default stop strings \\n\\n and Q: cut the outputs")
check(generate_tuned("--stop", "\\n\\n") == [cut(o, ["\n\n"]) for o in free], "--stop '\\n\\n' (escapes) replaces the defaults")

# Bad stop flags: one line naming the flag, exit 2.
r = lorahub("generate", "--model", BASE, "--input", "x", "--stop", "a\\q", check=False)
check(r.returncode == 2 and r.stderr.strip() == 'lorahub generate: error: --stop: unknown escape in "a\\q" (expected \\n, '
      '\\t or \\\\) (see lorahub generate --help)', "unknown escape refused: %s" % r.stderr.strip())
r = lorahub("generate", "--model", BASE, "--input", "x", "--stop", "a", "--no-stop", check=False)
check(r.returncode == 2 and "--stop and --no-stop exclude each other" in r.stderr, "--stop with --no-stop refused")
finish()
