#!/usr/bin/env bash
# Language benchmarks of nsc against Lua 5.4 and CPython 3; see
# docs/BENCHMARKS.md.
#
#   tools/bench/run.sh              5 interleaved runs of each program
#   tools/bench/run.sh --quick      3 runs
#   tools/bench/run.sh --reps 11 --only fib,loop
#   tools/bench/run.sh --quick --baseline /tmp/nsc-old   also an older nsc build, new/baseline
#   tools/bench/run.sh --help       all options
#
# Needs build/nsc, lua5.4, /usr/bin/python3 and (for start-up) hyperfine:
# `bash tools/setup.sh --bench` installs and builds them.
set -euo pipefail
py=/usr/bin/python3
if [ ! -x "$py" ]; then
  echo "run.sh: $py not found (apt-get install python3)" >&2
  exit 1
fi
exec "$py" "$(dirname "${BASH_SOURCE[0]}")/bench.py" "$@"
