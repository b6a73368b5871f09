# Shared by scripts/peer.sh, scripts/real_adapter_check.sh and scripts/hf_venv.sh (sourced from the repository
# root). The Hugging Face stack in a virtual environment, our binary, and the five fixture examples as JSONL.

# The Hugging Face stack the fixtures' golden numbers came from (transformers 4.36 + PEFT), pinned; installed with
# --no-deps into a virtual environment that sees Debian's python3-torch 1.13 (it says 1.13.0a0, which pip does not
# count as >= 1.13, so resolving dependencies would pull a torch wheel). tokenizers + protobuf: transformers 4.36's
# T5Tokenizer module imports tokenizers, and AutoTokenizer converts spiece.model to the fast tokenizer through
# protobuf. Used by the PEFT export test (tests/export) and, with the packages of the official LoraHub, by the peers.
hf_packages=(
  transformers==4.36.2 peft==0.7.1 accelerate==0.25.0 tokenizers==0.15.0 protobuf==4.25.1 sentencepiece==0.1.97
  safetensors==0.4.1 huggingface_hub==0.20.1 tqdm==4.66.1 filelock==3.13.1 regex==2023.12.25 fsspec==2023.10.0
)
# The official LoraHub on top of it. lorahub 0.1.0 also declares `dataset` (a database library it never imports).
peer_packages=(
  "${hf_packages[@]}" lorahub==0.1.0 nevergrad==1.0.1 cma==3.3.0 joblib==1.3.2
  datasets==2.16.1 pyarrow==14.0.2 pyarrow-hotfix==0.6 dill==0.3.7 multiprocess==0.70.15 xxhash==3.4.1
  aiohttp==3.9.1 multidict==6.0.4 yarl==1.9.4 frozenlist==1.4.1 aiosignal==1.3.1 attrs==23.1.0
)

# setup_venv DIR PACKAGE...: Debian's torch and the Python packages the stack takes from Debian, then DIR as a virtual
# environment with exactly PACKAGE... (recreated when the list changes).
setup_venv() {
  local venv=$1 apt=() sudo=""
  shift
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  for p in python3-torch python3-venv python3-pip python3-scipy python3-pandas python3-psutil python3-packaging \
           python3-yaml python3-requests; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || apt+=("$p")
  done
  if ((${#apt[@]})); then
    echo "setup_venv: apt-get install ${apt[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt[@]}" >/dev/null
  fi
  local stamp=$venv/.packages
  if [[ ! -f $stamp || "$(cat "$stamp")" != "$*" ]]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install -q --no-deps "$@"
    echo "$*" >"$stamp"
  fi
}

setup_peer() { setup_venv "$venv" "${peer_packages[@]}"; }

build_ours() {
  [[ -x build/bin/lorahub ]] && return
  ./scripts/setup.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  ninja -C build lorahub
}

# write_shots GOLDEN OUT: the first 5 examples of golden.json as JSONL (input, target).
write_shots() {
  "$venv/bin/python" - "$1" "$2" <<'EOF'
import json, sys
examples = json.load(open(sys.argv[1]))["examples"][:5]
with open(sys.argv[2], "w") as f:
    for e in examples:
        f.write(json.dumps({"input": e["input"], "target": e["target"]}) + "\n")
EOF
}
