#!/usr/bin/env bash
# The official LoraHub package as a live peer: runs its lorahub_learning and our `lorahub learn` on the same
# model, modules and examples, with the same thread counts, and prints per-step times (median), their ratio,
# both final objectives and both first-10-evaluation trajectories (scripts/peer/compare.py).
#
#   ./scripts/peer.sh                  the fixture (tiny-t5) and the flan-t5-base shape
#   PEER_LARGE=0 ./scripts/peer.sh     the fixture only (a few minutes)
#   PEER_THREADS=1,2 PEER_LARGE_THREADS=$PEER_THREADS PEER_LARGE_MODULES=20 PEER_LARGE_BUDGET=10   (defaults;
#   the first 10 evaluations are what can be compared across implementations, see compare.py)
#
# The peer lives in build/peer-venv: /usr/bin/python3 -m venv --system-site-packages (Debian's python3-torch
# 1.13, numpy, scipy, pandas) plus the official `lorahub` wheel from the package index and the versions the
# fixtures were made with (transformers 4.36.2, peft 0.7.1, nevergrad 1.0.1), every package pinned and installed
# with --no-deps so pip never pulls a torch wheel. Outputs go to build/peer/. Settings: golden.json's
# lorahub_learning (first 5 examples, max_inference_step 40, batch_size 5, seed 42); ours: COBYLA, budget 40,
# --exact-batch (one padded batch, as the reference).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${LORAHUB_SHARED:-$(cd .. && pwd)/shared}
fixture=$shared/fixtures/tiny-t5
venv=build/peer-venv
out=build/peer
threads=${PEER_THREADS:-1,2}
large=${PEER_LARGE:-1}
large_modules=${PEER_LARGE_MODULES:-20}
large_budget=${PEER_LARGE_BUDGET:-10}
large_threads=${PEER_LARGE_THREADS:-$threads}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME=$PWD/$out/hf-home
export TOKENIZERS_PARALLELISM=false

source scripts/peer/common.sh

# run_pair DIR MODEL MODULES_DIR N_MODULES BUDGET THREADS: both implementations at each thread count.
run_pair() {
  local dir=$1 model=$2 lora=$3 n=$4 budget=$5 threads=$6 t
  local modules=()
  for ((i = 0; i < n; ++i)); do modules+=("$lora/lora$i"); done
  mkdir -p "$dir"
  for t in ${threads//,/ }; do
    echo "peer: $dir, $t thread(s): official lorahub_learning"
    OMP_NUM_THREADS=$t "$venv/bin/python" scripts/peer/run_official.py --model "$model" --modules "${modules[@]}" \
      --examples "$out/shots.jsonl" --budget "$budget" --batch-size 5 --seed 42 --threads "$t" \
      --out "$dir/official_t$t.json" >"$dir/official_t$t.log" 2>&1
    echo "peer: $dir, $t thread(s): lorahub learn"
    OMP_NUM_THREADS=$t build/bin/lorahub learn --model "$model" --modules "${modules[@]}" \
      --examples "$out/shots.jsonl" --optimizer cobyla --budget "$budget" --exact-batch --threads "$t" --quiet \
      --history "$dir/ours_t$t.json" >"$dir/ours_t$t.log"
  done
}

setup_peer
build_ours
mkdir -p "$out"
write_shots "$fixture/golden.json" "$out/shots.jsonl"
ours_blas=$(readlink -f "$(ldd build/bin/lorahub | awk '/libblas.so.3/ {print $3}')")
echo "peer: load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

run_pair "$out/fixture" "$fixture/base" "$fixture/lora" 5 40 "$threads"
# The official code of the fixtures (df73afe) differs from the wheel by one deepcopy; its trajectory too.
OMP_NUM_THREADS=1 "$venv/bin/python" scripts/peer/run_official.py --model "$fixture/base" \
  --modules "$fixture"/lora/lora{0,1,2,3,4} --examples "$out/shots.jsonl" --threads 1 --deepcopy-cache \
  --out "$out/fixture/official_df73afe_t1.json" >"$out/fixture/official_df73afe_t1.log" 2>&1
"$venv/bin/python" scripts/peer/compare.py --dir "$out/fixture" --threads "$threads" --golden "$fixture/golden.json" \
  --ours-blas "$ours_blas" --title "fixture tiny-t5: 5 modules (r 4, q v), first 5 examples, budget 40"

if [[ $large == 1 ]]; then
  base=$out/flan-t5-base-random
  stamp="flan-t5-base seed 0, $large_modules modules"
  if [[ ! -f $base/.stamp || "$(cat "$base/.stamp")" != "$stamp" ]]; then
    rm -rf "$base"
    echo "peer: writing a random flan-t5-base-shaped T5 and $large_modules random modules to $base"
    "$venv/bin/python" scripts/peer/make_random_t5.py --shape flan-t5-base --out "$base" \
      --tokenizer-from "$fixture/base" --modules "$large_modules"
    echo "$stamp" >"$base/.stamp"
  fi
  run_pair "$out/flan-t5-base" "$base/base" "$base/lora" "$large_modules" "$large_budget" "$large_threads"
  "$venv/bin/python" scripts/peer/compare.py --dir "$out/flan-t5-base" --threads "$large_threads" --ours-blas "$ours_blas" \
    --title "random flan-t5-base shape: $large_modules modules (r 16, q v), the same 5 examples, budget $large_budget"
fi
echo "peer: load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
