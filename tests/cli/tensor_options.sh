#!/bin/sh
# nsc's tensor options: --threads (results identical for 1 and 2 threads,
# also through NS_THREADS, for elementwise ops, reductions and split matrix
# products), --detect-anomaly (forward and backward) and
# --stats.
#   sh tests/cli/tensor_options.sh path/to/nsc      (run from the source root)
nsc="$1"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-opt.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
  echo "FAIL: $1" >&2
  for f in out err; do [ -f "$tmp/$f" ] && sed "s/^/  $f: /" "$tmp/$f" >&2; done
  failed=1
}

# Threads: elementwise ops, sums over long rows, softmax rows.
det=tests/cli/threads_determinism.ns
"$nsc" --threads 1 run "$det" >"$tmp/t1" 2>"$tmp/err" || fail "--threads 1"
"$nsc" run --threads 2 "$det" >"$tmp/t2" 2>"$tmp/err" || fail "run --threads 2"
NS_THREADS=2 "$nsc" run "$det" >"$tmp/t3" 2>"$tmp/err" || fail "NS_THREADS=2"
[ "$(wc -l <"$tmp/t1")" -eq 7 ] || fail "threads_determinism.ns printed $(wc -l <"$tmp/t1") lines"
cmp -s "$tmp/t1" "$tmp/t2" || { diff "$tmp/t1" "$tmp/t2" >&2; fail "--threads 1 and 2 differ"; }
cmp -s "$tmp/t1" "$tmp/t3" || fail "--threads 1 and NS_THREADS=2 differ"
mm=tests/cli/threads_matmul.ns
"$nsc" --threads 1 run "$mm" >"$tmp/m1" 2>"$tmp/err" || fail "matmul --threads 1"
"$nsc" --threads 2 run "$mm" >"$tmp/m2" 2>"$tmp/err" || fail "matmul --threads 2"
[ "$(wc -l <"$tmp/m1")" -eq 8 ] || fail "threads_matmul.ns printed $(wc -l <"$tmp/m1") lines"
cmp -s "$tmp/m1" "$tmp/m2" || { diff "$tmp/m1" "$tmp/m2" >&2; fail "matrix products: --threads 1 and 2 differ"; }
# After a matrix product at --threads 1 with the JIT off the process has one
# thread: OpenBLAS started no threads of its own.
printf 'println!("{}", randn([64, 64]).matmul(randn([64, 64])).shape())\nlet s = read_file("/proc/self/status").unwrap()\nfor l in s.split("\\n") { if l.starts_with("Threads:") { println!("{}", l) } }\n' >"$tmp/blas.ns"
if [ -r /proc/self/status ]; then
  "$nsc" --threads 1 --jit=off run "$tmp/blas.ns" >"$tmp/out" 2>"$tmp/err" || fail "threads of OpenBLAS: run"
  grep -qx 'Threads:	1' "$tmp/out" || fail "OpenBLAS started threads of its own"
fi
"$nsc" --threads 0 run "$det" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 64 ] || fail "--threads 0 is a usage error"

# --detect-anomaly in the forward pass: the op, its input shapes, the trace.
printf 'fn f(x) { log(x) }\nlet x = tensor![1.0, -1.0]\nprintln!("{}", f(x))\n' >"$tmp/fwd.ns"
"$nsc" run "$tmp/fwd.ns" >"$tmp/out" 2>"$tmp/err" || fail "NaN without --detect-anomaly is not an error"
"$nsc" run --detect-anomaly "$tmp/fwd.ns" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] || fail "--detect-anomaly forward: exit $st"
grep -qF 'runtime error: anomaly: `log` produced NaN (input shapes [2])' "$tmp/err" || fail "forward anomaly message"
grep -qF 'at f (' "$tmp/err" || fail "forward anomaly stack trace"

# ... and in an in-place update (an optimizer step): the op and its inputs.
printf 'let p = tensor![1.0, 2.0]\np.div_(tensor![0.0, 1.0])\nprintln!("{}", p)\n' >"$tmp/inplace.ns"
"$nsc" run "$tmp/inplace.ns" >"$tmp/out" 2>"$tmp/err" || fail "Inf in place without --detect-anomaly is not an error"
"$nsc" run --detect-anomaly "$tmp/inplace.ns" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] || fail "--detect-anomaly in place: exit $st"
grep -qF 'runtime error: anomaly: `div` produced Inf (input shapes [2], [2])' "$tmp/err" || fail "in-place anomaly message"

# ... and in backward: d sqrt(x)/dx at 0 is Inf.
printf 'let mut x = tensor![0.0, 1.0]\nx.requires_grad = true\nsqrt(x).sum().backward()\nprintln!("{}", x.grad)\n' >"$tmp/bwd.ns"
"$nsc" run "$tmp/bwd.ns" >"$tmp/out" 2>"$tmp/err" || fail "Inf gradient without --detect-anomaly is not an error"
"$nsc" --detect-anomaly run "$tmp/bwd.ns" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq 1 ] || fail "--detect-anomaly backward: exit $st"
grep -qF 'runtime error: anomaly: backward of `sqrt` produced Inf in the gradient of input 1 (shape [2])' "$tmp/err" ||
  fail "backward anomaly message"

# --stats: printed to stderr at exit, stdout untouched.
"$nsc" run --stats "$det" >"$tmp/out" 2>"$tmp/err" || fail "--stats run"
cmp -s "$tmp/t1" "$tmp/out" || fail "--stats changed stdout"
for want in "stats: tensor allocator" "hits" "misses" "peak" "current" "garbage collections" "wall time"; do
  grep -qF "$want" "$tmp/err" || fail "--stats output lacks '$want'"
done

exit $failed
