#!/usr/bin/env bash
# For users with internet access: fetches everything the paper's configs need
# into one directory, in the layout they expect:
#   DEST/flan-t5-large/                     google/flan-t5-large (config, safetensors, spiece.model)
#   DEST/modules/lorahub/flan_t5_large-*/   the 196 LoraHub PEFT adapters
#   DEST/bbh/                               BIG-Bench Hard (bbh/*.json, cot-prompts/*.txt)
# and prints the environment for jobs/submit_paper.sh.
#
#   scripts/fetch_paper_assets.sh [--dry-run] DEST [MODULE_LIST]
#
# Needs git and git-lfs (Hugging Face repositories are git repositories).
set -euo pipefail
dry=0
if [[ ${1:-} == --dry-run ]]; then dry=1; shift; fi
dest=${1:?usage: fetch_paper_assets.sh [--dry-run] DEST [MODULE_LIST]}
here=$(cd "$(dirname "$0")/.." && pwd)
list=${2:-$here/../shared/data/lorahub_flan_t5_large_modules.txt}
[[ -f $list ]] || { echo "module list $list not found" >&2; exit 1; }
hf=${HF_ENDPOINT:-https://huggingface.co}

run() {
  if [[ $dry -eq 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}
clone() {  # clone URL DIR, skipping what is already there
  if [[ $dry -eq 0 && -d $2/.git ]]; then echo "have $2"; return; fi
  run git clone --depth 1 "$1" "$2"
}

run mkdir -p "$dest/modules/lorahub"
clone "$hf/google/flan-t5-large" "$dest/flan-t5-large"
n=0
while read -r id; do
  [[ -z $id || $id == \#* ]] && continue
  clone "$hf/$id" "$dest/modules/$id"
  n=$((n + 1))
done < "$list"
clone https://github.com/suzgunmirac/BIG-Bench-Hard "$dest/bbh"
echo "# $n modules"
echo "export LORAHUB_MODEL=$dest/flan-t5-large LORAHUB_MODULES=$dest/modules LORAHUB_BBH=$dest/bbh LORAHUB_MODULE_LIST=$list"
