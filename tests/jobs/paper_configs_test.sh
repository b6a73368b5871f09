#!/usr/bin/env bash
# The paper's configs expand to the expected sweeps on a stand-in layout
# (the fixture model, 196 links to one fixture adapter, the shared BBH), and
# the fetch script's dry run names the model, the 196 adapters and BBH.
# Usage: paper_configs_test.sh LORAHUB SHARED WORKDIR
set -euo pipefail
lorahub=$1 shared=$2 work=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work/modules" && cd "$work"
list=$shared/data/lorahub_flan_t5_large_modules.txt
while read -r id; do
  [[ -z $id ]] && continue
  mkdir -p "modules/$(dirname "$id")"
  ln -s "$shared/fixtures/tiny-t5/lora/lora0" "modules/$id"
done < "$list"
export LORAHUB_MODEL=$shared/fixtures/tiny-t5/base LORAHUB_MODULES=$work/modules LORAHUB_BBH=$shared/data/bbh
export LORAHUB_MODULE_LIST=$list LORAHUB_RESULTS=$work
expect() {  # expect CONFIG TRIALS
  local line; line=$("$lorahub" plan "$repo/configs/paper/$1.yaml" | tail -1)
  [[ $line == "$2 trials (27 tasks"* ]] || { echo "FAIL: $1: $line (expected $2 trials)"; exit 1; }
  echo "$1: $line"
}
expect table1 810            # 27 tasks x 5 seeds x 6 methods
expect ablation_modules 810  # 27 x 5 seeds x 6 values of N
expect ablation_shots 1350   # 27 x 5 seeds x 5 values of k x (zero-shot, lorahub)
expect optimizers 405        # 27 x 5 seeds x 3 optimizers
out=$("$repo/scripts/fetch_paper_assets.sh" --dry-run "$work/assets" "$list")
[[ $(grep -c "git clone --depth 1 https://huggingface.co/lorahub/flan_t5_large-" <<< "$out") -eq 196 ]] || { echo "FAIL: adapters"; exit 1; }
grep -q "huggingface.co/google/flan-t5-large $work/assets/flan-t5-large" <<< "$out" || { echo "FAIL: model"; exit 1; }
grep -q "BIG-Bench-Hard $work/assets/bbh" <<< "$out" || { echo "FAIL: bbh"; exit 1; }
grep -q "^# 196 modules" <<< "$out"
echo "paper configs and fetch dry run ok"
