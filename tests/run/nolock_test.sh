#!/usr/bin/env bash
# The results store on a file system without POSIX locks (issue 16): an
# LD_PRELOAD shim makes flock/fcntl/lockf locks fail with ENOLCK. The sweep
# runs, writes the same results as with locks, resumes, and leaves no
# partial file; the analysis step (report.py, plots.py) reads the results.
# Usage: nolock_test.sh LORAHUB CONFIG SHIM WORKDIR
set -euo pipefail
lorahub=$1 config=$2 shim=$3 work=$4
source "$(dirname "$0")/common.sh"
sed -e 's/max_eval: 6/max_eval: 2/' -e 's/seeds: \[1, 2\]/seeds: [1]/' "$config" > sweep.yaml

# The shim is in force: flock(1) itself cannot lock.
if LD_PRELOAD=$shim flock -n lockfile true 2> flock.err; then fail "the shim let flock(2) succeed"; fi
grep -q "No locks available" flock.err || fail "flock failed otherwise: $(cat flock.err)"
# ... and HDF5 with its default file locking cannot create a file under it.
if LD_PRELOAD=$shim /usr/bin/python3 -c "import h5py, sys; h5py.File(sys.argv[1], 'w')" default.h5 2> h5py.err; then
  fail "HDF5's default locking worked under the shim"
fi
grep -q "unable to lock file" h5py.err || fail "h5py failed otherwise: $(cat h5py.err)"
rm -f default.h5  # HDF5 leaves it behind, empty

"$lorahub" run sweep.yaml --output locks.h5 --no-progress 2> locks.log
LD_PRELOAD=$shim "$lorahub" run sweep.yaml --output nolocks.h5 --no-progress 2> nolocks.log ||
  fail "run without locks: $(cat nolocks.log)"
$compare locks.h5 nolocks.h5
LD_PRELOAD=$shim "$lorahub" run sweep.yaml --output nolocks.h5 --resume --no-progress 2> resume.log ||
  fail "resume without locks: $(cat resume.log)"
grep -q "^done: 0 trials run, [1-9][0-9]* already finished" resume.log || fail "resume: $(cat resume.log)"
leftovers=$(ls | grep -E '\.(tmp|lock)(\.|$)' || true)
[[ -z $leftovers ]] || fail "partial files left: $leftovers"
analysis="$here/../../analysis"
LD_PRELOAD=$shim /usr/bin/python3 "$analysis/report.py" nolocks.h5 > report.txt 2> report.err ||
  fail "report.py without locks: $(tail -1 report.err)"
[[ -s report.txt ]] || fail "report.py printed nothing"
LD_PRELOAD=$shim MPLBACKEND=Agg /usr/bin/python3 "$analysis/plots.py" nolocks.h5 --out plots > plots.log 2>&1 ||
  fail "plots.py without locks: $(tail -1 plots.log)"
echo "results store works without POSIX locks"
