# Shared by the runner's end-to-end scripts (source it after setting `work`):
# MPI as root, the shared fixtures, a fresh work directory, compare, fail.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
compare="/usr/bin/python3 $here/compare_results.py"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
: "${LORAHUB_SHARED:?set LORAHUB_SHARED to the shared fixtures directory}"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
