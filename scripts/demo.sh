#!/usr/bin/env bash
# The demo command of the README, end to end on a machine with no downloads:
# setup, build, the synthetic demo world (a T5 trained from scratch, twelve
# LoRA modules, seven held-out tasks in the BBH layout; cached), a LoraHub sweep
# under mpirun (configs/demo.yaml), the table and the plots, then the LoRA
# Soups skill-composition sweep (configs/demo-soups.yaml) and its table.
set -euo pipefail
cd "$(dirname "$0")/.."
stage() { echo; echo "== $* ($(date +%T))"; }
stage setup
./scripts/setup.sh
stage build
time ./scripts/build.sh
stage "demo world (cached in build/demo-world; about 9 minutes on 2 cores the first time)"
time ./build/bin/lorahub demo-world --out build/demo-world
export LORAHUB_DEMO_WORLD="$PWD/build/demo-world"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=build/demo-results.h5
rm -f "$out" "$out.journal"
stage "sweep: $(./build/bin/lorahub plan configs/demo.yaml | tail -1)"
time mpirun -np 3 ./build/bin/lorahub run configs/demo.yaml --output "$out"
stage report
/usr/bin/python3 analysis/report.py "$out" --world build/demo-world/world.json
/usr/bin/python3 analysis/plots.py "$out" --out build/demo
soups=build/demo-soups.h5
rm -f "$soups" "$soups.journal"
stage "LoRA Soups sweep: $(./build/bin/lorahub plan configs/demo-soups.yaml | tail -1)"
time mpirun -np 3 ./build/bin/lorahub run configs/demo-soups.yaml --output "$soups"
stage "LoRA Soups report"
/usr/bin/python3 analysis/report.py "$soups"
