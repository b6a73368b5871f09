#!/usr/bin/env bash
# The demo command of the README, end to end on a machine with no downloads:
# setup, build, the synthetic demo world (a model trained from scratch, twelve
# LoRA modules, seven held-out tasks in the BBH layout; cached), a LoraHub sweep
# under mpirun, the table and the plots, then (T5) the LoRA Soups
# skill-composition sweep (configs/demo-soups.yaml) and its table.
#   scripts/demo.sh                  the T5 world (build/demo-world), configs/demo.yaml
#   scripts/demo.sh --family llama   the same world with a small Llama
#                                    (build/demo-world-llama), configs/demo-llama.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
family=t5
if [[ ${1:-} == --family ]]; then
  family=${2:?--family needs t5 or llama}
  shift 2
fi
case "$family" in
  t5) world=build/demo-world config=configs/demo.yaml out=build/demo-results.h5 plots=build/demo minutes=9 ;;
  llama) world=build/demo-world-llama config=configs/demo-llama.yaml out=build/demo-llama-results.h5
         plots=build/demo-llama minutes=8 ;;
  *) echo "demo.sh: --family: expected t5 or llama, found '$family'" >&2; exit 2 ;;
esac
[[ $# -eq 0 ]] || { echo "demo.sh: unexpected argument '$1' (usage: scripts/demo.sh [--family t5|llama])" >&2; exit 2; }
stage() { echo; echo "== $* ($(date +%T))"; }
stage setup
./scripts/setup.sh
stage build
time ./scripts/build.sh
stage "demo world, $family (cached in $world; about $minutes minutes on 2 cores the first time)"
time ./build/bin/lorahub demo-world --family "$family" --out "$world"
export LORAHUB_DEMO_WORLD="$PWD/build/demo-world" LORAHUB_DEMO_LLAMA_WORLD="$PWD/build/demo-world-llama"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
rm -f "$out" "$out.journal"
stage "sweep: $(./build/bin/lorahub plan "$config" | tail -1)"
time mpirun -np 3 ./build/bin/lorahub run "$config" --output "$out"
stage report
/usr/bin/python3 analysis/report.py "$out" --world "$world/world.json"
/usr/bin/python3 analysis/plots.py "$out" --out "$plots"
[[ $family == t5 ]] || exit 0
soups=build/demo-soups.h5
rm -f "$soups" "$soups.journal"
stage "LoRA Soups sweep: $(./build/bin/lorahub plan configs/demo-soups.yaml | tail -1)"
time mpirun -np 3 ./build/bin/lorahub run configs/demo-soups.yaml --output "$soups"
stage "LoRA Soups report"
/usr/bin/python3 analysis/report.py "$soups"
