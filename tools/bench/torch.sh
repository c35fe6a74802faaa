#!/usr/bin/env bash
# Training benchmarks of NeuralScript against PyTorch (same MLPs, weights,
# data and batch order); see docs/BENCHMARKS.md, "Training against PyTorch".
#
#   tools/bench/torch.sh                    everything: every training config, 5 A/B pairs at
#                                           1 and 2 threads, the accuracy check, GEMM (~15 min)
#   tools/bench/torch.sh --gemm --threads 1,2   GEMM only (a ⊙ b against torch.mm)
#   tools/bench/torch.sh --accuracy         Fashion-MNIST test accuracy after 5 epochs, both sides
#   tools/bench/torch.sh --quick            a subset in under 2 minutes
#   tools/bench/torch.sh --only tiny,fashion --reps 7
#   tools/bench/torch.sh --quick --baseline /tmp/nsc-old   also an older nsc build, new/baseline
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
