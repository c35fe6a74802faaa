#!/usr/bin/env bash
# Training benchmarks of NeuralScript against PyTorch (same MLPs, weights,
# data and batch order) and of nsc's tensor JIT against its interpreter; see
# docs/BENCHMARKS.md, "Training against PyTorch". Each training config runs
# three sides per rep, in a rotating order: PyTorch, the nsc interpreter
# (--jit=off) and the nsc JIT (--jit=on). The table gives each side's median
# samples/s and peak RSS, JIT/interp and JIT/torch (medians of the per-rep
# ratios) and how far the JIT's losses are from the interpreter's; the run
# fails (exit 1, FAIL after the table) when the JIT's first loss or mean
# loss of the first 10 steps differs from the interpreter's by more than
# 1e-5 relative. The header and results.json name the CPU's SIMD flags.
#
#   tools/bench/torch.sh                    everything: every training config, 5 reps at
#                                           1 and 2 threads, the accuracy check, GEMM
#   tools/bench/torch.sh --gemm --threads 1,2   GEMM only (a ⊙ b against torch.mm)
#   tools/bench/torch.sh --accuracy         Fashion-MNIST test accuracy after 5 epochs, both sides
#   tools/bench/torch.sh --quick            a subset in a few minutes
#   tools/bench/torch.sh --only tiny,fashion --reps 7 --threads 1
#   tools/bench/torch.sh --quick --baseline /tmp/nsc-old   also an older nsc build, JIT/baseline
#   tools/bench/torch.sh --help             all options
#
# Needs build/nsc and /usr/bin/python3 with torch and numpy (Debian's
# python3-torch python3-numpy); the fashion configs need dataset-fashion-mnist.
set -euo pipefail
py=/usr/bin/python3
if [ ! -x "$py" ]; then
  echo "torch.sh: $py not found (apt-get install python3-torch python3-numpy)" >&2
  exit 1
fi
exec "$py" "$(dirname "${BASH_SOURCE[0]}")/torch/run.py" "$@"
