#!/usr/bin/env bash
# lorahub demo-world --quick builds every artefact in the real formats; they
# load back (model, tokenizer, every module, the BBH layout, each module's
# training data as JSONL), the demo configs expand on them (demo-soups.yaml
# gives each composed task the modules world.json names), and a second call
# reuses the cached world. The same with --family llama (Llama's files,
# CAUSAL_LM modules), and a tiny sweep on it.
# Usage: demo_world_test.sh LORAHUB REPO WORKDIR
set -euo pipefail
lorahub=$1 repo=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$lorahub" demo-world --out world --quick --threads 1
for f in world/model/config.json world/model/model.safetensors world/model/spiece.model world/modules.txt \
         world/bbh/bbh/alphabetical_order.json world/bbh/cot-prompts/alphabetical_order.txt; do
  [[ -s $f ]] || { echo "FAIL: missing $f"; exit 1; }
done
[[ $(wc -l < world/modules.txt) -eq 12 && $(ls world/bbh/bbh | wc -l) -eq 7 && $(ls world/skill_data | wc -l) -eq 12 ]]
# world.json scores each module alone; the four same-skill held-out tasks name
# theirs, the three composed ones their two skills' modules. Each module's
# training data: 400 prompts in the held-out tasks' format.
LORAHUB_DEMO_WORLD=$work/world "$lorahub" plan "$repo/configs/demo-soups.yaml" > plan_soups.txt
/usr/bin/python3 - world plan_soups.txt <<'PY'
import json, sys
w = json.load(open(sys.argv[1] + "/world.json"))
assert sorted(w["module_accuracy"]) == sorted(w["modules"]), w["module_accuracy"]
expected = {"alphabetical_order": "sort_words", "biggest_value": "largest_number",
            "backwards_list": "reverse_words", "lowest_value": "smallest_number"}
assert {h: s["module"] for h, s in w["same_skill"].items()} == expected, w["same_skill"]
assert all(0 <= s["module_on_heldout"] <= 1 for s in w["same_skill"].values())
composed = {"alphabetically_first": ["sort_words", "first_word"],
            "alphabetically_last": ["sort_words", "last_word"],
            "animal_in_list": ["word_in_list", "find_animal"]}
assert w["composed"] == composed, w["composed"]
for m in w["modules"]:
    lines = open(f"{sys.argv[1]}/{w['skill_data']}/{m}.jsonl").read().splitlines()
    rows = [json.loads(l) for l in lines]
    assert len(rows) == 400 and all(r["input"].endswith("\nA:") and "\n\nQ: " in r["input"] and r["target"] for r in rows), m
# demo-soups.yaml's modules.per_task = world.json's composed: single runs exactly those modules
plan = open(sys.argv[2]).read().split()
for task, modules in composed.items():
    single = sorted({i.split(".")[1] for i in plan if i.startswith(task + ".single-")})
    assert single == sorted("single-" + m for m in modules), (task, single)
PY
grep -q "^90 trials (3 tasks" plan_soups.txt
# (outputs are captured before grep: grep -q would cut the pipe under pipefail)
plan=$(LORAHUB_DEMO_WORLD=$work/world "$lorahub" plan "$repo/configs/demo.yaml")
grep -q "^630 trials (7 tasks" <<< "$plan"
# Every module composes with the others (LoraPool checks ranks, targets, base).
"$lorahub" compose --model world/model --modules-file world/modules.txt --modules-dir world/lora \
  --weights=0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1 --out composed --threads 1
out=$("$lorahub" eval --model world/model --adapter composed --bbh world/bbh --tasks alphabetical_order,biggest_value \
  --max-eval 3 --max-new-tokens 4 --threads 1)
grep -q "^average" <<< "$out"
out=$("$lorahub" demo-world --out world --quick 2>&1)
grep -q "reusing" <<< "$out"
# Deterministic for a seed: a second build elsewhere writes the same bytes
# (base model, every module, the BBH files) and the same vocabulary (the
# SentencePiece file itself records the paths it was trained from); another
# seed does not.
"$lorahub" demo-world --out again --quick --threads 1 > /dev/null
"$lorahub" demo-world --out other --quick --threads 1 --seed 1 > /dev/null
digest() { (cd "$1" && find model lora bbh -type f ! -name spiece.model | LC_ALL=C sort | xargs sha256sum
            spm_export_vocab --model=model/spiece.model | sha256sum); }
[[ $(digest world) == "$(digest again)" ]] || { echo "FAIL: two builds with seed 0 differ"; diff <(digest world) <(digest again) | head; exit 1; }
[[ $(digest world | grep model.safetensors) != "$(digest other | grep model.safetensors)" ]] || { echo "FAIL: seed 1 gave seed 0's model"; exit 1; }
# An unknown family is a command-line error naming the flag.
rc=0; out=$("$lorahub" demo-world --out bad --family gpt2 2>&1) || rc=$?
[[ $rc -eq 2 && $out == *"--family: expected one of t5, llama, mistral, found 'gpt2'"* && ! -e bad ]] || { echo "FAIL: --family gpt2: rc $rc: $out"; exit 1; }
# The Llama world: the same tasks with Llama's files (config.json of a
# LlamaForCausalLM, tokenizer.model with HF's tokenizer files) and CAUSAL_LM
# modules on q_proj and v_proj; cached by family.
"$lorahub" demo-world --family llama --out llama --quick --threads 1
for f in llama/model/config.json llama/model/model.safetensors llama/model/tokenizer.model \
         llama/model/tokenizer_config.json llama/model/special_tokens_map.json llama/lora/sort_words/adapter_model.safetensors; do
  [[ -s $f ]] || { echo "FAIL: missing $f"; exit 1; }
done
[[ ! -e llama/model/spiece.model ]] || { echo "FAIL: a T5 vocabulary in the Llama world"; exit 1; }
cmp -s llama/bbh/bbh/biggest_value.json world/bbh/bbh/biggest_value.json || { echo "FAIL: the families' tasks differ"; exit 1; }
/usr/bin/python3 - llama <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(d + "/model/config.json"))
assert c["model_type"] == "llama" and c["architectures"] == ["LlamaForCausalLM"], c
t = json.load(open(d + "/model/tokenizer_config.json"))
assert t["tokenizer_class"] == "LlamaTokenizer" and t["add_bos_token"] and not t["add_eos_token"], t
a = json.load(open(d + "/lora/sort_words/adapter_config.json"))
assert a["task_type"] == "CAUSAL_LM" and a["target_modules"] == ["q_proj", "v_proj"], a
assert a["base_model_name_or_path"] == "demo-llama", a
w = json.load(open(d + "/world.json"))
assert w["family"] == "llama" and sorted(w["module_accuracy"]) == sorted(w["modules"]), w
assert sorted(w["base_accuracy"]) == sorted(w["modules"]), w
assert json.load(open("world/world.json"))["family"] == "t5"
PY
out=$("$lorahub" demo-world --family llama --out llama --quick 2>&1)
grep -q "reusing" <<< "$out"
plan=$(LORAHUB_DEMO_LLAMA_WORLD=$work/llama "$lorahub" plan "$repo/configs/demo-llama.yaml")
grep -q "^630 trials (7 tasks" <<< "$plan"
# A tiny sweep on the Llama world: zero-shot, ICL and LoraHub on one held-out task.
cat > tiny-llama-sweep.yaml <<YAML
model: $work/llama/model
modules: {dir: $work/llama/lora, list: $work/llama/modules.txt}
bbh: {dir: $work/llama/bbh, tasks: [biggest_value], max_eval: 4}
sweep:
  seeds: [1]
  n_modules: [3]
  n_shots: [2]
  methods: [zero_shot, icl, {name: lorahub, optimizer: cobyla, budget: 4}]
evaluation: {max_new_tokens: 4, batch_size: 4, shard_size: 4}
runtime: {device: cpu, threads: 1, candidates_per_pass: 4}
output: $work/tiny-llama-sweep.h5
flush_interval_s: 0
YAML
"$lorahub" run tiny-llama-sweep.yaml --no-progress
/usr/bin/python3 - tiny-llama-sweep.h5 <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1], "r")
family = f.attrs["model_family"]
assert (family.decode() if isinstance(family, bytes) else family) == "llama", family
t = f["summary"]
assert len(t) == 3, len(t)
assert all(s == b"done" for s in t["status"]) and all(n == 4 for n in t["n_eval"]), t[()]
PY
# The family is part of the cache key: a T5 world asked for in the Llama
# world's directory is built, not reused (its first log line is enough; head
# ends the build there).
first=$("$lorahub" demo-world --out llama --quick --threads 1 2>&1 >/dev/null | head -1 || true)
[[ $first == *"held-out tasks"* ]] || { echo "FAIL: a T5 world reused the Llama world: $first"; exit 1; }
echo "demo world pipeline ok"
