#!/usr/bin/env bash
# One run per results file (issue 16, break16c F4, F8): a run claims
# <output>.lock (O_EXCL, host pid job) before any work and removes it at
# exit; a second run is refused naming the holder; a lock whose holder is
# gone (this host, dead pid; or this same SLURM job, requeued) is taken
# over with a note. Paths in the way of the journal or the lock are refused
# before anything is written; a damaged results file beside its journal
# says how to rebuild it.
# Usage: lock_test.sh LORAHUB CONFIG WORKDIR
set -euo pipefail
lorahub=$1 config=$2 work=$3
source "$(dirname "$0")/common.sh"
sed -e 's/max_eval: 6/max_eval: 2/' -e 's/seeds: \[1, 2\]/seeds: [1]/' "$config" > sweep.yaml
host=$(hostname)

# A live holder on this host: refused, one line naming it, nothing written.
sleep 60 & holder=$!
trap 'kill $holder 2>/dev/null || true' EXIT
echo "$host $holder -" > r.h5.lock
if "$lorahub" run sweep.yaml --output r.h5 --no-progress 2> held.log; then fail "ran beside a live lock"; fi
expected="lorahub run: error: r.h5: in use by another run (r.h5.lock: host $host, pid $holder, job -); wait for it to end, or remove r.h5.lock if that run no longer exists"
[[ $(cat held.log) == "$expected" ]] || fail "held: $(cat held.log)"
[[ ! -e r.h5 && ! -e r.h5.journal ]] || fail "a refused run wrote files"
# Another host's lock cannot be checked: refused too.
echo "other-host 1 -" > r.h5.lock
if "$lorahub" run sweep.yaml --output r.h5 --no-progress 2> other.log; then fail "ran beside another host's lock"; fi
grep -q "in use by another run (r.h5.lock: host other-host, pid 1, job -)" other.log || fail "other host: $(cat other.log)"

# Stale (this host, the pid gone): taken over with a note; the lock is gone at exit.
kill $holder; wait $holder 2>/dev/null || true
echo "$host $holder -" > r.h5.lock
"$lorahub" run sweep.yaml --output r.h5 --no-progress 2> stale.log || fail "stale lock: $(cat stale.log)"
grep -q "^note: r.h5.lock: taking over the lock of a run that is gone (host $host, pid $holder, job -)" stale.log ||
  fail "no takeover note: $(cat stale.log)"
grep -q "^done: " stale.log || fail "stale: $(cat stale.log)"
[[ ! -e r.h5.lock ]] || fail "the lock outlived its run"
# A requeued SLURM job (same job id, the old step gone, perhaps on another node) takes its own lock over.
echo "other-host 1 4242" > r.h5.lock
SLURM_JOB_ID=4242 "$lorahub" run sweep.yaml --output r.h5 --resume --no-progress 2> requeue.log ||
  fail "requeued: $(cat requeue.log)"
grep -q "^done: 0 trials run" requeue.log || fail "requeued: $(cat requeue.log)"
[[ -z $(ls | grep -E '\.(tmp|lock)(\.|$)' || true) ]] || fail "files left: $(ls)"

# A directory where the journal or the lock goes: refused up front, nothing written.
for side in journal lock; do
  mkdir "d.h5.$side"
  if "$lorahub" run sweep.yaml --output d.h5 --no-progress 2> "dir-$side.log"; then fail "ran over d.h5.$side/"; fi
  [[ $(cat "dir-$side.log") == "lorahub run: error: --output's $side: 'd.h5.$side' is a directory, expected a file" ]] ||
    fail "$side dir: $(cat "dir-$side.log")"
  [[ $(ls -d d.h5*) == "d.h5.$side" ]] || fail "files written beside d.h5.$side: $(ls -d d.h5*)"
  rmdir "d.h5.$side"
done

# A damaged results file beside an intact journal: the message says how to rebuild it.
head -c 100 r.h5 > r2.h5 && cp r.h5.journal r2.h5.journal
if "$lorahub" run sweep.yaml --output r2.h5 --resume --no-progress 2> damaged.log; then fail "resumed a damaged file"; fi
grep -q "r2.h5.journal holds every finished trial: move r2.h5 away and rerun with --resume to rebuild it from the journal$" damaged.log ||
  fail "damaged: $(cat damaged.log)"
mv r2.h5 r2.h5.damaged
"$lorahub" run sweep.yaml --output r2.h5 --resume --no-progress 2> rebuilt.log || fail "rebuild: $(cat rebuilt.log)"
$compare r.h5 r2.h5
# Workers that fail at start-up end the job by MPI_Abort (break16d F8): rank 0
# has not yet taken the lock, so none is left for the fixed job to trip on.
if command -v mpirun > /dev/null; then
  sed -e 's/device: cpu/device: cuda/' sweep.yaml > cuda.yaml
  if timeout 120 mpirun -np 3 "$lorahub" run cuda.yaml --output c.h5 --no-progress > /dev/null 2> cuda.log; then
    fail "device cuda ran without a GPU"
  fi
  grep -q "no CUDA device is available; ending the job (MPI_Abort)" cuda.log || fail "cuda: $(cat cuda.log)"
  [[ -z $(ls | grep -E '^c\.h5' || true) ]] || fail "a failed start-up left: $(ls | grep -E '^c\.h5')"
fi
echo "one run per results file; stale and requeued locks taken over; paths in the way refused"
