#!/bin/sh
# nsc bench: bench_* functions, the whole-script fallback, errors.
#   sh tests/cli/bench.sh path/to/nsc      (run from the source root)
nsc="$1"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-bench.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
  echo "FAIL: $1" >&2
  sed 's/^/  stdout: /' "$tmp/out" >&2
  sed 's/^/  stderr: /' "$tmp/err" >&2
  failed=1
}

# run WANT-STATUS ARGS...: nsc ARGS with stdout in $tmp/out, stderr in $tmp/err.
run() {
  want="$1"
  shift
  "$nsc" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  [ "$status" -eq "$want" ] || fail "nsc $* exited $status, expected $want"
}

# A table row: the name, three decimal numbers in ms, then (REPS).
row='^NAME  *[0-9][0-9]*\.[0-9][0-9]*  *[0-9][0-9]*\.[0-9][0-9]*  *[0-9][0-9]*\.[0-9][0-9]*  *(REPS)$'
has_row() {
  grep -q "$(echo "$row" | sed "s/NAME/$1/; s/REPS/$2/")" "$tmp/out" || fail "no timing row for $1 ($2 reps)"
}

cat >"$tmp/two.ns" <<'NS'
println!("top level")
fn fib(n: int) -> int {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}
fn bench_fib() -> int {
    fib(12)
}
fn bench_sum() {
    let mut s = 0
    for i in 0..1000 {
        s += i
    }
}
fn main() {
    println!("main ran")
}
NS
run 0 bench "$tmp/two.ns"
has_row bench_fib 10
has_row bench_sum 10
grep -q "top level" "$tmp/out" || fail "top-level code did not run"
grep -q "main ran" "$tmp/out" && fail "main() ran under nsc bench"
grep -q "median" "$tmp/out" || fail "no table header"

run 0 bench "$tmp/two.ns" --warmup 0 --reps 3
has_row bench_fib 3

cat >"$tmp/whole.ns" <<'NS'
fn main() {
    let mut s = 0
    for i in 0..1000 {
        s += i
    }
    println!("{}", s)
}
NS
run 0 bench --reps 4 "$tmp/whole.ns"
has_row 'whole\.ns' 4
grep -q "499500" "$tmp/out" && fail "the timed runs' output was not discarded"

# --compare-interp: each bench_* function with the JIT off and on, the
# speedup and whether the results agree; it needs bench_* functions.
cat >"$tmp/cmp.ns" <<'NS'
let x = randn([64, 64])
fn bench_chain() { ((x * 2.0 + 1.0).tanh() * x).sum().item() }
fn bench_tensor() { (x.exp() - x).relu() }
NS
run 0 bench "$tmp/cmp.ns" --compare-interp --reps 3 --warmup 2
for name in bench_chain bench_tensor; do
  grep -q "^$name  *[0-9][0-9]*\.[0-9]*  *[0-9][0-9]*\.[0-9]*  *[0-9][0-9]*\.[0-9][0-9]x  agree$" "$tmp/out" ||
    fail "--compare-interp: no agreeing row for $name"
done
run 1 bench "$tmp/whole.ns" --compare-interp
grep -q "no bench_\* functions" "$tmp/err" || fail "--compare-interp without bench_* functions"

cat >"$tmp/err.ns" <<'NS'
fn bench_divide() {
    let zero = 0
    let x = 1 / zero
}
NS
run 1 bench "$tmp/err.ns"
grep -q "runtime error: division by zero" "$tmp/err" || fail "no runtime error message"
grep -q "at bench_divide" "$tmp/err" || fail "no stack trace through bench_divide"

run 66 bench "$tmp/missing.ns"
printf 'fn bench_x( {\n' >"$tmp/bad.ns"
run 2 bench "$tmp/bad.ns"
run 64 bench
run 64 bench "$tmp/two.ns" --reps 0
run 64 bench "$tmp/two.ns" --reps
run 64 bench "$tmp/two.ns" --no-such-option
run 64 bench "$tmp/two.ns" "$tmp/whole.ns"

exit $failed
