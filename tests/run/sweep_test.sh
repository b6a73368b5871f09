#!/usr/bin/env bash
# The runner end to end on configs/fixture.yaml:
#   P = 1, mpirun -np 3 and -np 4 give identical results;
#   SIGTERM mid-run exits 0 with a resume hint, and --resume completes it to the same results;
#   SIGKILL of rank 0 mid-run leaves a file that opens, and --resume completes it;
#   a bad config fails with one line before any work.
# Usage: sweep_test.sh LORAHUB_BINARY CONFIG WORKDIR
set -euo pipefail
lorahub=$1 config=$2 work=$3
source "$(dirname "$0")/common.sh"

# Waits until the journal of $1 lists at least $2 finished trials (the first
# line is the config hash).
wait_trials() {
  for _ in $(seq 1 600); do
    [[ -f "$1.journal" ]] && (( $(wc -l < "$1.journal") > $2 )) && return 0
    sleep 0.02
  done
  fail "no progress in $1"
}

echo "== reference run, one process"
"$lorahub" run "$config" --output ref.h5 --no-progress
for np in 3 4; do
  echo "== mpirun -np $np"
  mpirun -np $np "$lorahub" run "$config" --output np$np.h5 --no-progress
  $compare ref.h5 np$np.h5 || fail "np $np differs from the reference"
done

echo "== SIGTERM mid-run, then --resume"
"$lorahub" run "$config" --output term.h5 --no-progress 2> term.log &
pid=$!
wait_trials term.h5 5
kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 0 ]] || fail "SIGTERM exit code $rc"
grep -q -- "--resume" term.log || fail "no resume hint: $(cat term.log)"
n=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('term.h5','r')['trials']))")
(( n > 0 && n < 36 )) || fail "interrupted file holds $n trials"
echo "interrupted after $n trials"
"$lorahub" run "$config" --output term.h5 --resume --no-progress
$compare ref.h5 term.h5 || fail "resumed run differs"

echo "== SIGKILL of rank 0 under mpirun -np 3, then --resume"
mpirun -np 3 "$lorahub" run "$config" --output kill.h5 --no-progress 2> kill.log &
mpipid=$!
wait_trials kill.h5 8
rank0=""
for p in $(pgrep -f "lorahub run $config --output kill.h5"); do
  tr '\0' '\n' < /proc/$p/environ > environ.txt 2>/dev/null || continue
  if grep -qx "OMPI_COMM_WORLD_RANK=0" environ.txt; then rank0=$p; fi
done
[[ -n $rank0 ]] || fail "rank 0 not found"
kill -KILL "$rank0"
wait $mpipid || true
/usr/bin/python3 -c "import h5py; f = h5py.File('kill.h5', 'r'); print('after SIGKILL the file opens with', len(f['trials']), 'trials')"
mpirun -np 3 "$lorahub" run "$config" --output kill.h5 --resume --no-progress
$compare ref.h5 kill.h5 || fail "run resumed after SIGKILL differs"

echo "== baselines (ICL, LoRA tuning, full fine-tuning, IA3, LoraHub-CAT with CMA-ES): P = 1 vs mpirun -np 3"
baselines="$(dirname "$config")/fixture-baselines.yaml"
"$lorahub" run "$baselines" --output base1.h5 --no-progress
mpirun -np 3 "$lorahub" run "$baselines" --output base3.h5 --no-progress
$compare base1.h5 base3.h5 || fail "baselines differ between P = 1 and P = 3"
/usr/bin/python3 "$here/../analysis/report_test.py" base1.h5 analysis || fail "analysis differs from the recount"

echo "== bad config: one line, exit != 0, nothing written"
sed 's/budget: 6/budget: -2/' "$config" > bad.yaml
rc=0; "$lorahub" run bad.yaml --output bad.h5 2> bad.log || rc=$?
[[ $rc -ne 0 ]] || fail "bad config accepted"
[[ $(wc -l < bad.log) -eq 1 ]] || fail "expected one error line: $(cat bad.log)"
grep -q "sweep.methods.budget': expected a positive integer, found -2" bad.log || fail "$(cat bad.log)"
[[ ! -e bad.h5 ]] || fail "bad config wrote a file"
rc=0; mpirun -np 3 "$lorahub" run bad.yaml --output bad.h5 2> bad3.log || rc=$?
[[ $rc -ne 0 ]] && grep -q "expected a positive integer" bad3.log || fail "bad config under mpirun: rc=$rc $(cat bad3.log)"
echo "all runner checks passed"
