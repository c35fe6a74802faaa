#!/usr/bin/env bash
# Differential tester: random NeuralScript programs run by nsc and by a
# reference evaluator; see tools/difftest/README.md or `run.sh --help`.
#
#   tools/difftest/run.sh --seeds 0..299              a fixed seed set
#   tools/difftest/run.sh --minutes 30 --seeds 10000..  seeds from 10000 for 30 min
#   tools/difftest/run.sh --show 42                   print seed 42's program
#   tools/difftest/run.sh --seeds 42..42              rerun (and minimize) one seed
#   tools/difftest/run.sh --seeds 0..99 -- --jit      pass arguments to nsc
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec /usr/bin/python3 "$here/difftest.py" "$@"
