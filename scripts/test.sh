#!/usr/bin/env bash
# The test command of the README: setup, build, every test through CTest,
# every translation unit compiled against LibTorch 2.x's headers
# (scripts/torch2_compile_check.sh), then the unit tests under ASan + UBSan
# (scripts/sanitize.sh) and a short libFuzzer run of each target
# (scripts/fuzz.sh, 30 s each; CI must stay under 45 minutes on 2 cores).
#   LORAHUB_SKIP_TORCH2=1     leave out the LibTorch 2.x compile check
#   LORAHUB_SKIP_SANITIZE=1   leave out the sanitizer build
#   LORAHUB_FUZZ_SECONDS=N    seconds per fuzz target (0: leave fuzzing out)
# Extra args go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
if [[ -z ${LORAHUB_SKIP_TORCH2:-} ]]; then
  echo "== every translation unit against LibTorch 2.x's headers (the PyTorch wheel)"
  ./scripts/torch2_compile_check.sh
fi
if [[ -z ${LORAHUB_SKIP_SANITIZE:-} ]]; then
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  ./scripts/sanitize.sh
fi
fuzz_seconds=${LORAHUB_FUZZ_SECONDS:-30}
if (( fuzz_seconds > 0 )); then
  echo "== libFuzzer targets, $fuzz_seconds s each"
  ./scripts/fuzz.sh "$fuzz_seconds"
fi
