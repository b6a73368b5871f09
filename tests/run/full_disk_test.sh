#!/usr/bin/env bash
# A full disk under the results (issue 16, break16d F4). The sweep writes
# into a directory that an LD_PRELOAD shim (full_disk_shim.c) makes a small
# disk: writes past its size fail with ENOSPC. Sizes that stop it at the
# first HDF5 file, at the journal and at a later HDF5 rewrite. Each time:
# exit 1 with one line that names the file and "No space left on device",
# no crash, no temporary left, every journal line whole; `--resume` with
# room completes it equal to an uninterrupted run; and the journal alone
# rebuilds the results file. A journal whose last line was cut (a kill
# mid-append) is mended on resume.
# Usage: full_disk_test.sh LORAHUB CONFIG SHIM WORKDIR
set -euo pipefail
lorahub=$1 config=$2 shim=$3 work=$4
source "$(dirname "$0")/common.sh"
sed -e 's/max_eval: 6/max_eval: 2/' "$config" > sweep.yaml
"$lorahub" run sweep.yaml --output ref.h5 --no-progress 2> ref.log
trials=$(/usr/bin/python3 -c "import h5py; print(len(h5py.File('ref.h5', 'r')['trials']))")

journal_reads() {  # every line of the journal is a whole JSON object
  /usr/bin/python3 -c "
import json, sys
for n, line in enumerate(open(sys.argv[1], 'rb').read().split(b'\n')[:-1], 1):
    json.loads(line)
" "$1" || fail "$1: a line does not read"
}

# Disk sizes in KiB: the first HDF5 file does not fit; the journal fills
# (HDF5 file written at the end only); a later HDF5 rewrite does not fit.
for case in "0 4" "1000 12" "0 24"; do
  read -r flush limit <<< "$case"
  disk="disk-$limit" out="disk-$limit/o.h5"
  mkdir "$disk"
  sed -e "s/flush_interval_s: 0/flush_interval_s: $flush/" sweep.yaml > limited.yaml
  set +e
  FULL_DISK_DIR=$PWD/$disk FULL_DISK_BYTES=$((limit * 1024)) LD_PRELOAD=$shim \
    "$lorahub" run limited.yaml --output "$out" --no-progress 2> "$disk.log"
  rc=$?
  set -e
  [[ $rc == 1 ]] || fail "limit ${limit}k, flush $flush: exit $rc (expected 1): $(head -c 600 "$disk.log")"
  [[ $(wc -l < "$disk.log") == 1 ]] || fail "limit ${limit}k: more than one line: $(head -c 600 "$disk.log")"
  grep -q "^lorahub run: error: .*$out.*No space left on device" "$disk.log" ||
    fail "limit ${limit}k: cause not named: $(cat "$disk.log")"
  [[ -z $(ls "$disk" | grep -E '\.(tmp|lock)(\.|$)' || true) ]] || fail "limit ${limit}k: files left: $(ls "$disk")"
  [[ ! -e $out.journal ]] || journal_reads "$out.journal"
  "$lorahub" run limited.yaml --output "$out" --resume --no-progress 2> "$disk.resume.log"
  $compare ref.h5 "$out" || fail "limit ${limit}k: resumed results differ from the uninterrupted run"
  mv "$out" "$out.moved"  # the journal alone holds every trial
  "$lorahub" run limited.yaml --output "$out" --resume --no-progress 2> "$disk.rebuild.log"
  grep -q "^done: 0 trials run, $trials already finished" "$disk.rebuild.log" || fail "rebuild: $(cat "$disk.rebuild.log")"
  $compare ref.h5 "$out" || fail "limit ${limit}k: rebuilt results differ"
  echo "limit ${limit}k, flush $flush: $(cut -c1-160 "$disk.log")"
done

# A journal cut mid-line, beside a results file that holds that trial.
cp ref.h5 cut.h5 && cp ref.h5.journal cut.h5.journal
truncate -s -50 cut.h5.journal
"$lorahub" run sweep.yaml --output cut.h5 --resume --no-progress 2> cut.log
grep -q "^done: 0 trials run, $trials already finished" cut.log || fail "cut journal: $(cat cut.log)"
journal_reads cut.h5.journal
[[ $(grep -c '"id"' cut.h5.journal) == "$trials" ]] || fail "cut journal: $(grep -c '"id"' cut.h5.journal) trials in it"
rm cut.h5
"$lorahub" run sweep.yaml --output cut.h5 --resume --no-progress 2> cut2.log
grep -q "^done: 0 trials run, $trials already finished" cut2.log || fail "cut journal, rebuilt: $(cat cut2.log)"
$compare ref.h5 cut.h5 || fail "cut journal: rebuilt results differ"
echo "full-disk test passed ($trials trials)"
