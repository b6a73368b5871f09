#!/usr/bin/env bash
# Crash campaign: a sweep on the fixture model is killed with SIGKILL at random
# moments, again and again, and resumed each time. Victims rotate through the
# single process of a P = 1 run, rank 0 (the coordinator) under mpirun -np 3,
# and a worker rank under mpirun -np 3. After every kill the results file must
# open, list each of its trials once in /summary, and hold only trials equal to
# those of an uninterrupted run; every completed sweep must equal it whole.
#
# Usage: crash_test.sh LORAHUB CONFIG WORKDIR [KILLS] [SEED]
#   KILLS defaults to 21 (the CI run, about two minutes); the long campaign:
#   CRASH_KILLS=200 ctest -R run_crash   (or pass KILLS directly).
set -euo pipefail
lorahub=$1 config=$2 work=$3
kills_wanted=${4:-${CRASH_KILLS:-21}}
RANDOM=${5:-${CRASH_SEED:-7}}  # the kill moments are reproducible for a seed
source "$(dirname "$0")/common.sh"

# The fixture sweep with four seeds and more examples: 72 trials, long enough
# (~7 s uninterrupted) that most kills land mid-sweep.
sed -e 's/seeds: \[1, 2\]/seeds: [1, 2, 3, 4]/' -e 's/max_eval: 6/max_eval: 12/' "$config" > crash.yaml
grep -q "seeds: \[1, 2, 3, 4\]" crash.yaml || fail "could not derive the crash config from $config"
"$lorahub" run crash.yaml --output ref.h5 --no-progress 2> ref.log
trials=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('ref.h5', 'r')['trials']))")
echo "uninterrupted reference: $trials trials"

# The pid of rank $2 of the mpirun job writing $1 ("" until it has started
# or after it has ended). Always succeeds: under `set -e` a failed match on
# the last process listed would end the campaign (it did, once in 49 cycles).
rank_pid() {
  for p in $(pgrep -f -- "--output $1 " || true); do
    if tr '\0' '\n' 2> /dev/null < "/proc/$p/environ" | grep -x "OMPI_COMM_WORLD_RANK=$2" > /dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 0
}

kills=0 completed=0 cycle=0
declare -A victims=()
while (( kills < kills_wanted )); do
  cycle=$((cycle + 1))
  resume=(); [[ -f crash-out.h5 ]] && resume=(--resume)
  case $((cycle % 3)) in
    0) victim="P=1 process"
       "$lorahub" run crash.yaml --output crash-out.h5 "${resume[@]}" --no-progress 2>> runs.log & job=$! ;;
    1) victim="rank 0 of 3"
       mpirun -np 3 "$lorahub" run crash.yaml --output crash-out.h5 "${resume[@]}" --no-progress 2>> runs.log & job=$! ;;
    2) victim="worker rank $((1 + RANDOM % 2)) of 3"
       mpirun -np 3 "$lorahub" run crash.yaml --output crash-out.h5 "${resume[@]}" --no-progress 2>> runs.log & job=$! ;;
  esac
  # A random moment: 0.3-2.8 s after the start (startup, loading, trials, flushes).
  sleep "$(( RANDOM % 3 )).$(( RANDOM % 10 ))" && sleep 0.3
  target=$job
  case $victim in
    rank*) target=$(rank_pid crash-out.h5 0) ;;
    worker*) target=$(rank_pid crash-out.h5 "${victim:12:1}") ;;
  esac
  if [[ -n $target ]] && kill -KILL "$target" 2> /dev/null; then
    kills=$((kills + 1))
    victims[$victim]=$(( ${victims[$victim]:-0} + 1 ))
  fi
  wait "$job" 2> /dev/null || true
  # mpirun tears the job down after a rank dies; nothing may be left running.
  for _ in $(seq 1 100); do pgrep -f -- "--output crash-out.h5 " > /dev/null || break; sleep 0.1; done
  pgrep -f -- "--output crash-out.h5 " > /dev/null && fail "processes left after kill $kills: $(pgrep -af -- '--output crash-out.h5 ')"
  if [[ -f crash-out.h5 ]]; then
    $compare ref.h5 crash-out.h5 --partial > cmp.log || fail "after kill $kills ($victim): $(cat cmp.log)"
    have=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('crash-out.h5', 'r')['trials']))")
  else
    have=0
  fi
  echo "cycle $cycle: killed $victim -> kill $kills, file holds $have of $trials trials"
  if (( have == trials )); then
    $compare ref.h5 crash-out.h5 > cmp.log || fail "completed sweep differs: $(cat cmp.log)"
    completed=$((completed + 1))
    rm -f crash-out.h5 crash-out.h5.journal
  fi
done

# Finish the last interrupted sweep and compare it whole.
if [[ -f crash-out.h5 ]]; then
  "$lorahub" run crash.yaml --output crash-out.h5 --resume --no-progress 2>> runs.log
  $compare ref.h5 crash-out.h5 > cmp.log || fail "final resumed sweep differs: $(cat cmp.log)"
  completed=$((completed + 1))
fi
leftovers=$(ls -A | grep -v -E '^(crash.yaml|ref.h5|ref.h5.journal|ref.log|crash-out.h5|crash-out.h5.journal|runs.log|cmp.log)$' || true)
[[ -z $leftovers ]] || fail "files left behind: $leftovers"
echo "survived $kills SIGKILLs ($(for v in "${!victims[@]}"; do printf '%s: %d; ' "$v" "${victims[$v]}"; done)) in $cycle cycles;" \
     "$completed sweeps completed, each equal to the uninterrupted run"
