#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/: coverage, ASan, UBSan)
# and runs each for SECONDS (default 60) from its seed corpus in
# tests/fuzz/corpus/<target> (which also keeps every input that once found a
# bug: regress-*). A crash, sanitizer report or abort fails the run
# and leaves the reproducer in build-fuzz/findings/<target>/ (the build
# directory is $LORAHUB_FUZZ_BUILD when set).
#   scripts/fuzz.sh            CI: 60 s per target
#   scripts/fuzz.sh 1800       the long campaign (report its exec counts)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
build=${LORAHUB_FUZZ_BUILD:-build-fuzz}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DLORAHUB_FUZZ=ON -DBUILD_TESTING=OFF > /dev/null
targets=(fuzz_safetensors fuzz_json fuzz_jsonl fuzz_config)
ninja -C "$build" -j "$(nproc)" "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1  # libtorch's static caches are not leaks
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t findings=$build/findings/$t
  mkdir -p "$corpus" "$findings"
  # -rss_limit_mb: a 2 GB file may legitimately ask for 2 GB; we stop at 2 GB.
  # -timeout: one input running 10 s is a hang (a finding), not a slow input;
  # libFuzzer's default of 1200 s per input once let a hang eat all of CI.
  "$build/tests/fuzz/$t" "$corpus" "tests/fuzz/corpus/${t#fuzz_}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 > "$build/$t.log" 2>&1 || {
    tail -40 "$build/$t.log"; echo "FAIL: $t found a bug; reproducer in $findings"; exit 1; }
  runs=$(grep -m1 "stat::number_of_executed_units" "$build/$t.log" | awk '{print $2}')
  echo "$t: $runs executions in $seconds s, no crash (corpus: $(ls "$corpus" | wc -l) inputs)"
done
