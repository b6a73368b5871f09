#!/usr/bin/env bash
# The real jobs/lorahub.sbatch on a one-node SLURM brought up here: a 3-rank
# job on configs/fixture.yaml gives the same results as a local run; a job
# stopped with SIGTERM (as the time limit's --signal does) stops cleanly (rank
# 0 prints its resume line, the script its stop line), requeues itself and
# completes to the same results, with both runs in the job's output file.
# Usage: slurm_test.sh LORAHUB REPO WORKDIR   (needs root, slurm-wlm, munge)
set -euo pipefail
lorahub=$1 repo=$2 work=$3
: "${LORAHUB_SHARED:?}"
if ! command -v slurmctld >/dev/null || [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root and slurm-wlm + munge (scripts/setup.sh installs them)"; exit 77
fi
rm -rf "$work" && mkdir -p "$work" && cd "$work"
source "$repo/tests/jobs/slurm_cluster.sh" "$work/slurm"
trap slurm_down EXIT
slurm_up
export LORAHUB=$lorahub OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
compare="/usr/bin/python3 $repo/tests/run/compare_results.py"
config=$repo/configs/fixture.yaml

"$lorahub" run "$config" --output local.h5 --no-progress

echo "== sbatch, 3 ranks"
id=$(sbatch --parsable --ntasks=3 --overcommit --cpus-per-task=1 \
  --export=ALL --chdir="$work" "$repo/jobs/lorahub.sbatch" "$config" --output "$work/slurm.h5" --no-progress)
state=$(slurm_wait "$id")
[[ $state == COMPLETED ]] || { cat "$work"/*-"$id".out; echo "FAIL: job $id $state"; exit 1; }
$compare local.h5 slurm.h5

echo "== SIGTERM to the batch script, requeue, complete"
id=$(sbatch --parsable --ntasks=3 --overcommit --cpus-per-task=1 \
  --export=ALL --chdir="$work" "$repo/jobs/lorahub.sbatch" "$config" --output "$work/term.h5" --no-progress)
for _ in $(seq 1 600); do
  [[ -f term.h5.journal ]] && (( $(wc -l < term.h5.journal) > 4 )) && break
  sleep 0.05
done
scancel --signal=TERM --batch "$id"
# The script requeues the job; it runs again with --resume and completes
# (SLURM holds a requeued job for two minutes first).
for _ in $(seq 1 3000); do
  restarts=$(scontrol show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  state=$(scontrol show job "$id" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  # Done when the requeued run has finished every trial (36 + the journal's header line).
  [[ ${restarts:-0} -ge 1 && $state == COMPLETED && $(wc -l < term.h5.journal) -ge 37 ]] && break
  sleep 0.2
done
echo "job $id: restarts ${restarts:-0}, state $state"
[[ ${restarts:-0} -ge 1 && $state == COMPLETED ]] || { cat "$work"/*-"$id".out; echo "FAIL: not requeued and completed"; exit 1; }
out=$(ls "$work"/*-"$id".out)
# First run: a clean stop, not srun killing the tasks (rc 137).
grep -q "^interrupted: finished trials are saved in $work/term.h5; continue with: lorahub run $config --resume --output $work/term.h5\$" "$out" ||
  { cat "$out"; echo "FAIL: rank 0's clean-stop line is missing"; exit 1; }
# The step's tasks were signalled, not killed by srun (rc 137). slurmstepd
# logs a SIGTERM sent to a step as "CANCELLED" and srun then returns 143 even
# when every task exits 0, so the rc itself is not the proof: the lines are.
grep -q "^lorahub.sbatch: stopped by SIGTERM (rc \(0\|143\)); requeueing $id\$" "$out" ||
  { cat "$out"; echo "FAIL: the job step was killed, not stopped"; exit 1; }
# Second run, appended (--open-mode=append): it finishes the remaining trials.
grep -q "^done: [0-9]* trials run, [1-9][0-9]* already finished, results in $work/term.h5\$" "$out" ||
  { cat "$out"; echo "FAIL: the requeued run's log is missing"; exit 1; }
[[ $(grep -n "^interrupted:" "$out" | cut -d: -f1) -lt $(grep -n "^done:" "$out" | cut -d: -f1) ]] ||
  { cat "$out"; echo "FAIL: the runs are not in order in the log"; exit 1; }
$compare local.h5 term.h5
echo "slurm checks passed"
