#!/usr/bin/env bash
# MPI failures end the job (issue 16): a worker that fails or is killed
# mid-sweep ends the whole job promptly (no rank left waiting in a probe or a
# send), with one clear line, and the results file resumes to the results of
# an undisturbed run.
# Usage: abort_test.sh LORAHUB CONFIG WORKDIR
set -euo pipefail
lorahub=$1 config=$2 work=$3
source "$(dirname "$0")/common.sh"
cp "$config" sweep.yaml
"$lorahub" run sweep.yaml --output ref.h5 --no-progress 2> ref.log

wait_for_trials() {  # journal lines beyond the header
  for _ in $(seq 1 1200); do
    [[ -f $1 ]] && (( $(wc -l < "$1") > $2 )) && return 0
    sleep 0.05
  done
  fail "no trial finished in $1"
}

echo "== a worker that cannot load the model (its LORAHUB_SHARED points nowhere)"
rc=0
start=$SECONDS
timeout 120 mpirun -np 2 "$lorahub" run sweep.yaml --output fail.h5 --no-progress : \
  -np 1 env LORAHUB_SHARED=/nonexistent "$lorahub" run sweep.yaml --output fail.h5 --no-progress 2> fail.log || rc=$?
echo "rc $rc after $((SECONDS - start)) s"
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "rc $rc (124: the job hung): $(cat fail.log)"
grep -q "^lorahub run: error: rank [0-9] of 3: .*/nonexistent/.*; ending the job (MPI_Abort)$" fail.log ||
  fail "no clear error line: $(cat fail.log)"
"$lorahub" run sweep.yaml --output fail.h5 --resume --no-progress 2> fail-resume.log || fail "resume: $(cat fail-resume.log)"
$compare ref.h5 fail.h5

echo "== SIGKILL of a worker mid-sweep"
mpirun -np 3 "$lorahub" run sweep.yaml --output kill.h5 --no-progress 2> kill.log &
job=$!
wait_for_trials kill.h5.journal 3
worker=""
for p in $(pgrep -f "lorahub run sweep.yaml --output kill.h5"); do
  if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=2"; then worker=$p; fi
done
[[ -n $worker ]] || fail "worker rank 2 not found"
kill -KILL "$worker"
start=$SECONDS
rc=0
for _ in $(seq 1 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then kill -KILL $job; fail "the job still runs 60 s after its worker died"; fi
wait $job || rc=$?
echo "rc $rc after $((SECONDS - start)) s"
[[ $rc -ne 0 ]] || fail "the job reported success after losing a worker"
grep -q "rank 2" kill.log || fail "mpirun did not name the lost rank: $(cat kill.log)"
mpirun -np 3 "$lorahub" run sweep.yaml --output kill.h5 --resume --no-progress 2> kill-resume.log ||
  fail "resume: $(cat kill-resume.log)"
$compare ref.h5 kill.h5
echo "MPI failures end the job and leave a resumable file"
