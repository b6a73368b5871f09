"""Shared by the CLI tests on the tiny-llama fixture (../shared/fixtures/tiny-llama):
paths, golden.json, running lorahub, and two oracles independent of the
project's code: numpy reading safetensors and SentencePiece's own spm_decode.
Usage from a test: `from llama_cli import *` after putting tests/cli on sys.path.
"""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

LORAHUB, SHARED, WORK = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
FIXTURE = os.path.join(SHARED, "fixtures", "tiny-llama")
BASE = os.path.join(FIXTURE, "base")
LORAS = [os.path.join(FIXTURE, "lora", "lora%d" % i) for i in range(5)]
IA3 = [os.path.join(FIXTURE, "ia3", "ia3_%d" % i) for i in range(2)]
GOLDEN = json.load(open(os.path.join(FIXTURE, "golden.json")))
GOLDEN_IA3 = json.load(open(os.path.join(FIXTURE, "golden_ia3.json")))
EXAMPLES = GOLDEN["examples"]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)


def lorahub(*args, check=True):
    """Runs `lorahub ARGS --threads 1`; returns the completed process (stdout, stderr as text)."""
    r = subprocess.run([LORAHUB, *args, "--threads", "1"], capture_output=True)
    # decoded by hand: text=True would turn a generated "\r" into "\n"
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    if check and r.returncode != 0:
        sys.exit("lorahub %s failed (%d): %s" % (" ".join(args[:1]), r.returncode, r.stderr))
    return r


def write_examples(path, examples):
    with open(path, "w") as f:
        for e in examples:
            f.write(json.dumps({"input": e["input"], "target": e["target"]}) + "\n")
    return path


def losses(*args):
    """`lorahub loss ARGS` as a dict (batch_loss, lorahub_loss, ...)."""
    return json.loads(lorahub("loss", *args).stdout)


def rel(a, b):
    return abs(a - b) / abs(b)


def read_safetensors(path):
    """name -> float32 numpy array, read with numpy alone."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        lo, hi = v["data_offsets"]
        out[k] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(v["shape"])
    return out


def spm_decode(ids):
    """SentencePiece's decoding of `ids` with the fixture's tokenizer.model
    (BOS/EOS dropped, byte pieces joined, invalid UTF-8 as U+FFFD): what HF's
    LlamaTokenizer.decode(skip_special_tokens=True) gives for these ids."""
    r = subprocess.run(["spm_decode", "--model", os.path.join(BASE, "tokenizer.model"), "--input_format=id"],
                       input=(" ".join(map(str, ids)) + "\n").encode(), capture_output=True, check=True)
    assert r.stdout.endswith(b"\n")
    return r.stdout[:-1].decode()


failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def finish():
    if failures:
        sys.exit("%d checks failed" % len(failures))
    print("all checks passed")
