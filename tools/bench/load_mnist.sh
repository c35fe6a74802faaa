#!/usr/bin/env bash
# Fashion-MNIST decoding, NeuralScript against NumPy, side by side: both
# read the four gzip IDX files of /usr/share/datasets/fashion-mnist and
# turn the images into f32 / 255 ([N, 784]) and the labels into integers.
#   NeuralScript: data::fashion_mnist()
#   NumPy:        gzip.open(...).read(), np.frombuffer(...).astype(np.float32) / 255
# Each round runs one fresh process of each, interleaved, and reads the
# time each spends loading (measured inside the process, after start-up);
# the medians and their ratio are printed.
#   bash tools/bench/load_mnist.sh [ROUNDS=11] [path/to/nsc]
# Needs python3-numpy (apt-get install python3-numpy) and the
# dataset-fashion-mnist package.
set -euo pipefail
rounds="${1:-11}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nsc="${2:-$root/build/nsc}"
dir=/usr/share/datasets/fashion-mnist
# The first python3 with NumPy: on PATH, else the system's (where apt's
# python3-numpy goes when PATH has another python3 first).
py=""
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then py="$p" && break; fi
done
[ -n "$py" ] || {
  echo "load_mnist.sh: python3-numpy is missing (apt-get install python3-numpy)" >&2
  exit 1
}
tmp="$(mktemp -d "${TMPDIR:-/tmp}/load_mnist.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/load.ns" <<'NS'
use data
let t0 = clock()
let ((x, y), (xt, yt)) = data::fashion_mnist()
let t = clock() - t0
if x.shape() != [60000, 784] || xt.shape() != [10000, 784] || y.shape() != [60000] { panic!("bad shapes") }
println!("{t}")
NS
cat >"$tmp/load.py" <<PY
import gzip, time
import numpy as np
def images(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    n = int.from_bytes(b[4:8], "big")
    return (np.frombuffer(b, np.uint8, offset=16).astype(np.float32) / 255).reshape(n, 784)
def labels(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
t0 = time.perf_counter()
x = images("$dir/train-images-idx3-ubyte.gz"); y = labels("$dir/train-labels-idx1-ubyte.gz")
xt = images("$dir/t10k-images-idx3-ubyte.gz"); yt = labels("$dir/t10k-labels-idx1-ubyte.gz")
t = time.perf_counter() - t0
assert x.shape == (60000, 784) and xt.shape == (10000, 784) and y.shape == (60000,)
print(t)
PY

# Also the CPU time (user + sys) of each whole process, start-up included:
# on a busy machine it moves less than the wall time.
cpu() { awk '{print $1 + $2}' "$tmp/time"; }
ns=() np=() ns_cpu=() np_cpu=()
for ((i = 0; i < rounds; i++)); do
  ns+=("$(/usr/bin/time -o "$tmp/time" -f "%U %S" "$nsc" run "$tmp/load.ns")")
  ns_cpu+=("$(cpu)")
  np+=("$(/usr/bin/time -o "$tmp/time" -f "%U %S" "$py" "$tmp/load.py")")
  np_cpu+=("$(cpu)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
m_ns="$(median "${ns[@]}")" m_np="$(median "${np[@]}")"
c_ns="$(median "${ns_cpu[@]}")" c_np="$(median "${np_cpu[@]}")"
echo "rounds: $rounds; medians of the load time (wall) and of the process CPU time"
printf 'NeuralScript data::fashion_mnist():  %.3f s wall, %.2f s CPU\n' "$m_ns" "$c_ns"
printf 'NumPy gzip + astype(float32) / 255:  %.3f s wall, %.2f s CPU\n' "$m_np" "$c_np"
awk -v a="$m_ns" -v b="$m_np" -v c="$c_ns" -v d="$c_np" \
  'BEGIN {printf "ratio NeuralScript / NumPy: %.2f (wall), %.2f (CPU)\n", a / b, c / d}'
