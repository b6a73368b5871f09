#!/usr/bin/env bash
# The cheap torch 2.x check that CI runs (scripts/test.sh): every translation
# unit of the Debian build (build/compile_commands.json: src/ and tests/) is
# compiled with -fsyntax-only against the headers of the PyTorch wheel's
# LibTorch, in C++20 as its CMake config asks. Needs only the torch wheel
# itself (pip download --no-deps: 539 MB for torch 2.15.0, cached in
# build-torch2-headers/), not its 2.5 GB of nvidia-* wheels, the CUDA toolkit
# or a link; API differences between LibTorch 1.13 and 2.x show up as compile
# errors. scripts/torch2.sh is the full build and test run.
#
# Debian's LibTorch 1.13 headers live in /usr/include, which the compiler
# searches after the wheel's: a header that 2.x no longer has would be taken
# from 1.13 silently, so every header read from there fails the check too.
#
#   LORAHUB_TORCH_SPEC   default torch==2.15.0 (as scripts/libtorch_pip.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
spec=${LORAHUB_TORCH_SPEC:-torch==2.15.0}
dir=build-torch2-headers
db=build/compile_commands.json
[[ -f $db ]] || { echo "torch2_compile_check: no $db: run scripts/build.sh first" >&2; exit 2; }
start=$(date +%s)

mkdir -p "$dir/wheel"
wheel=$(ls "$dir"/wheel/torch-*.whl 2>/dev/null | head -1 || true)
if [[ -z $wheel ]]; then
  /usr/bin/python3 -m pip download --no-deps --progress-bar off -d "$dir/wheel" "$spec" >"$dir/pip.log" 2>&1 ||
    { tail -20 "$dir/pip.log" >&2; exit 1; }
  wheel=$(ls "$dir"/wheel/torch-*.whl | head -1)
  echo "torch2_compile_check: downloaded $(basename "$wheel") ($(du -m "$wheel" | cut -f1) MB) in $(( $(date +%s) - start )) s"
fi
inc="$PWD/$dir/include-$(basename "$wheel" .whl)"
if [[ ! -d $inc ]]; then
  rm -rf "$inc.tmp"
  /usr/bin/python3 - "$wheel" "$inc.tmp" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("torch/include/")])
EOF
  mv "$inc.tmp" "$inc"
fi
t_fetch=$(date +%s)

# One command per translation unit: the Debian build's, in C++20, with the
# wheel's headers first, syntax only, printing every header it opens (-H).
/usr/bin/python3 - "$db" "$inc/torch/include" "$dir/commands" <<'EOF'
import json, os, shlex, sys
db, inc, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
for old in os.listdir(out):
    os.remove(os.path.join(out, old))
n = 0
for e in json.load(open(db)):
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    keep, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-std=") or a.startswith("-g"):
            continue
        keep.append(a)
    cmd = [args[0], "-std=c++20", "-fsyntax-only", "-H", "-isystem", inc,
           "-isystem", inc + "/torch/csrc/api/include"] + keep
    with open(os.path.join(out, "%03d.sh" % n), "w") as f:
        f.write("cd %s && %s\n" % (shlex.quote(e["directory"]), shlex.join(cmd)))
    n += 1
print(n)
EOF
count=$(ls "$dir/commands" | wc -l)
export dir
check_one() {
  local cmd=$1 log="${1%.sh}.log"
  if ! bash "$cmd" >"$log" 2>&1; then
    grep -E 'error|Error' "$log" | head -5
    echo "FAILED: $(grep -o '[^ ]*\.cc' "$cmd" | tail -1)"
    return 1
  fi
  # -H lists headers as ". /path"; 1.13's must not be among them.
  if grep -E '^\.+ /usr/include/(ATen|c10|torch|caffe2)/' "$log" | head -3 | grep .; then
    echo "FAILED: $(grep -o '[^ ]*\.cc' "$cmd" | tail -1) reads LibTorch 1.13 headers (not in 2.x)"
    return 1
  fi
}
export -f check_one
status=0
ls "$dir"/commands/*.sh | xargs -P "$(nproc)" -I{} bash -c 'check_one {}' || status=1
end=$(date +%s)
echo "torch2_compile_check: $count translation units against $(basename "$wheel" .whl) headers:" \
     "$( ((status)) && echo FAILED || echo ok ) (wheel $((t_fetch - start)) s, compile $((end - t_fetch)) s)"
exit "$status"
