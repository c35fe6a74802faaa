#!/bin/sh
# A few training steps of each optimizer, and single-op gradients, against
# PyTorch (tests/torch/steps.ns writes .npy files, tests/torch/compare.py
# repeats everything in torch and compares). Exits 77, which ctest counts
# as skipped, where Debian's python3-torch is not installed.
#   sh tests/torch/compare.sh path/to/nsc      (run from the source root)
nsc="$1"
python=/usr/bin/python3
if [ ! -x "$python" ]; then
  echo "skipped: $python not found (install python3-torch python3-numpy)"
  exit 77
fi
if ! "$python" -c 'import torch, numpy' 2>/dev/null; then
  echo "skipped: $python cannot import torch and numpy (install python3-torch python3-numpy)"
  exit 77
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-torch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$nsc" run tests/torch/steps.ns "$tmp" || exit 1
"$python" tests/torch/compare.py "$tmp"
