#!/usr/bin/env bash
# Large-tensor allocation: nsc against NumPy on a Fashion-MNIST-sized f32
# tensor (60000 x 784, 188 MB); see docs/BENCHMARKS.md.
#
#   tools/bench/alloc.sh                 5 interleaved runs, 10 ops per run
#   tools/bench/alloc.sh --reps 7 --ops 20
#   tools/bench/alloc.sh --nsc PATH      another nsc binary; repeat --nsc to
#                                        compare builds (e.g. an older commit)
#
# Each run is one process that makes x = randn([60000, 784]) and then times
#   clone:   y = x.clone()                       (NumPy: y = x.copy())
#   shuffle: y = x.index_select(0, perm), a new permutation every epoch
#            (NumPy: y = x[perm])
# op by op, dropping each result before the next. A run reports the mean
# time of an op after the first (steady state) and the first op's time (a
# fresh block). The runs of each nsc and NumPy alternate; the table shows
# the medians over runs. Needs build/nsc and, for the NumPy column,
# /usr/bin/python3 with numpy (apt-get install python3-numpy).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nscs=()
reps=5
ops=10
while [ $# -gt 0 ]; do
  case "$1" in
  --reps) reps="$2"; shift 2 ;;
  --ops) ops="$2"; shift 2 ;;
  --nsc) nscs+=("$2"); shift 2 ;;
  -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "alloc.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ ${#nscs[@]} -eq 0 ]; then nscs=("$here/build/nsc"); fi
for nsc in "${nscs[@]}"; do
  if [ ! -x "$nsc" ]; then
    echo "alloc.sh: $nsc not found (bash tools/setup.sh builds it)" >&2
    exit 1
  fi
done
py=/usr/bin/python3
have_numpy=0
if [ -x "$py" ] && "$py" -c 'import numpy' 2>/dev/null; then have_numpy=1; fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Both programs print "first_ms steady_ms" for one op kind.
cat >"$tmp/bench.ns" <<'EOF'
use data::permutation
let kind = args()[0]
let ops = int(args()[1])
let x = randn([60000, 784])
let mut first = 0.0
let mut rest = 0.0
for i in 0..ops {
    let perm = if kind == "shuffle" { tensor(permutation(60000)) } else { tensor([0]) }
    let t0 = clock()
    let y = if kind == "clone" { x.clone() } else { x.index_select(0, perm) }
    let dt = clock() - t0
    if i == 0 { first = dt } else { rest += dt }
}
println(f"{first * 1000.0} {rest * 1000.0 / float(ops - 1)}")
EOF
cat >"$tmp/bench.py" <<'EOF'
import sys, time
import numpy as np
kind, ops = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.standard_normal((60000, 784), dtype=np.float32)
first = rest = 0.0
for i in range(ops):
    perm = rng.permutation(60000) if kind == "shuffle" else None
    t0 = time.perf_counter()
    y = x.copy() if kind == "clone" else x[perm]
    dt = time.perf_counter() - t0
    del y
    if i == 0: first = dt
    else: rest += dt
print(f"{first * 1000.0} {rest * 1000.0 / (ops - 1)}")
EOF

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# tools: nsc0, nsc1, ... (the --nsc binaries in order), numpy
tools=()
for ((k = 0; k < ${#nscs[@]}; k++)); do tools+=("nsc$k"); done
if ((have_numpy)); then tools+=(numpy); fi
for ((r = 0; r < reps; r++)); do
  for kind in clone shuffle; do
    for tool in "${tools[@]}"; do
      if [ "$tool" = numpy ]; then
        "$py" "$tmp/bench.py" "$kind" "$ops" >>"$tmp/${tool}_$kind"
      else
        "${nscs[${tool#nsc}]}" run "$tmp/bench.ns" "$kind" "$ops" >>"$tmp/${tool}_$kind"
      fi
    done
  done
done

printf 'alloc.sh: %s runs x %s ops, 60000x784 f32 (188 MB); medians in ms\n' "$reps" "$ops"
for ((k = 0; k < ${#nscs[@]}; k++)); do printf '  nsc%d = %s\n' "$k" "${nscs[$k]}"; done
printf '%-8s %-7s %10s %10s\n' tool op first steady
for tool in "${tools[@]}"; do
  for kind in clone shuffle; do
    f=$(awk '{print $1}' "$tmp/${tool}_$kind" | median)
    st=$(awk '{print $2}' "$tmp/${tool}_$kind" | median)
    printf '%-8s %-7s %10.1f %10.1f\n' "$tool" "$kind" "$f" "$st"
  done
done
if ((!have_numpy)); then echo "alloc.sh: no numpy for $py (apt-get install python3-numpy)"; fi
