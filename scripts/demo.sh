#!/usr/bin/env bash
# The demo command of the README. Until the demo world lands (issue 7) this
# runs the engine end to end on the tiny fixture model: setup, build, generate.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
shared="${LORAHUB_SHARED:-$(cd .. && pwd)/shared}"
model="$shared/fixtures/tiny-t5/base"
printf '%s\n' '{"input": "Evaluate the result of a random Boolean expression.\n\nQ: not ( True ) and ( True ) is\nA:"}' \
  '{"input": "Sort the following words alphabetically: List: oven costume counterpart\nA:"}' > build/demo-inputs.jsonl
./build/bin/lorahub generate --model "$model" --input-file build/demo-inputs.jsonl --max-new-tokens 16
