#!/usr/bin/env bash
# Submits the paper's sweeps (Table 1, the ablations over N and k, the
# optimizer comparison) and the analysis as a job that runs after them.
#
#   LORAHUB_MODEL=... LORAHUB_MODULES=... LORAHUB_BBH=... LORAHUB_RESULTS=... jobs/submit_paper.sh [sbatch flags]
#
# scripts/fetch_paper_assets.sh DEST prepares the three inputs under DEST.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LORAHUB_MODEL:?}" "${LORAHUB_MODULES:?}" "${LORAHUB_BBH:?}"
export LORAHUB_RESULTS=${LORAHUB_RESULTS:-$PWD/results}
gpus=${GPUS_PER_NODE:-4}  # workers per node = GPUs; one more task for the coordinator
mkdir -p "$LORAHUB_RESULTS"
ids=()
for config in table1 ablation_modules ablation_shots optimizers; do
  build/bin/lorahub plan "configs/paper/$config.yaml" | tail -1
  id=$(sbatch --parsable --export=ALL --job-name="lorahub-$config" --gpus-per-node="$gpus" --ntasks=$((gpus + 1)) "$@" \
    jobs/lorahub.sbatch "configs/paper/$config.yaml")
  echo "submitted $config as job $id"
  ids+=("$id")
done
deps=$(IFS=:; echo "${ids[*]}")
id=$(sbatch --parsable --export=ALL --dependency=afterok:"$deps" jobs/analysis.sbatch "$LORAHUB_RESULTS")
echo "analysis job $id runs after $deps"
