#!/usr/bin/env bash
# How the README's first set-up step resolves torch, checked offline.
#
# Builds two local "simple" indexes from a torch CPU wheel file (argument 1, a
# torch-X+cpu-*.whl): cpu/ stands in for https://download.pytorch.org/whl/cpu (the file under its
# +cpu name), pypi/ for PyPI (the same file under the plain version name, standing in for the CUDA
# build). Then runs pip with no config (PIP_CONFIG_FILE=/dev/null, no find-links), as on a stock
# machine, and prints what it would install:
#   1. --index-url <cpu>                      (the README's command): torch-X+cpu
#   2. PyPI + --extra-index-url <cpu>         (the other form on pytorch.org): torch-X+cpu too
# Usage: scripts/check_cpu_index.sh /path/to/torch-2.13.0+cpu-cp311-...whl [python]
set -euo pipefail
wheel=${1:?usage: $0 torch-X+cpu-...whl [python]}
python=${2:-python3}
name=$(basename "$wheel")
plain=${name/+cpu/}
version=$(echo "$name" | cut -d- -f2 | sed 's/+cpu//')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cpu/torch" "$work/pypi/torch"
ln -s "$(realpath "$wheel")" "$work/cpu/torch/$name"
ln -s "$(realpath "$wheel")" "$work/pypi/torch/$plain"
echo "<a href=\"${name/+/%2B}\">$name</a>" > "$work/cpu/torch/index.html"
echo "<a href=\"$plain\">$plain</a>" > "$work/pypi/torch/index.html"
"$python" -m venv "$work/venv"
pip=("$work/venv/bin/pip")
run() { env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
        "${pip[@]}" install --dry-run --no-deps --retries 1 --timeout 15 "torch==$version" "$@" \
        2>&1 | grep "Would install"; }
echo "--index-url CPU index:            $(run --index-url "file://$work/cpu")"
echo "PyPI + --extra-index-url CPU:     $(run --index-url "file://$work/pypi" --extra-index-url "file://$work/cpu")"
