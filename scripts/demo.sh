#!/usr/bin/env bash
# The demo command of the README: setup, build, a LoraHub sweep under
# mpirun on the tiny fixture model with three BBH tasks, then the report.
# (The built-in demo world with a trained model, where accuracies mean
# something, is being built: see the project's issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
export LORAHUB_SHARED="${LORAHUB_SHARED:-$(cd .. && pwd)/shared}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=build/demo-results.h5
rm -f "$out" "$out.journal"
./build/bin/lorahub plan configs/fixture.yaml | tail -1
time mpirun -np 3 ./build/bin/lorahub run configs/fixture.yaml --output "$out"
/usr/bin/python3 analysis/report.py "$out"
