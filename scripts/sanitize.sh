#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/, gcc). Run before each merge to main; CI runs it too.
#   scripts/sanitize.sh            build and run every GoogleTest executable
#   scripts/sanitize.sh -R t5      extra args go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
build=${LORAHUB_ASAN_BUILD:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLORAHUB_SANITIZE=ON > /dev/null
# text_tests and the tests that tokenize with SentencePiece are left out: it
# cannot be loaded beside libtorch without RTLD_DEEPBIND, which ASan refuses
# (src/text/spm_module.cc); the rest of the engine runs on token ids. A new
# test that loads spiece.model belongs in this filter.
units=(io_tests t5_tests lora_tests optim_tests tasks_tests learn_tests run_tests)
export GTEST_FILTER=-T5V10.LoadedModelMatchesIndependentReference:Learner.LegacyFalseTokenizerGivesTheCaseLoss
ninja -C "$build" -j "$(nproc)" "${units[@]}"
# Leaks: libtorch and yaml-cpp keep static caches for the process lifetime.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" -R "^($(IFS='|'; echo "${units[*]}"))\$" "$@"
