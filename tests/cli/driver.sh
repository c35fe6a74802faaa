#!/bin/sh
# The nsc command line: exit statuses, -e, a program piped on stdin, check.
#   sh tests/cli/driver.sh path/to/nsc      (run from the source root)
nsc="$1"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-cli.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect STATUS STDOUT-SUBSTRING COMMAND...: stdin is /dev/null unless given.
expect() {
  want_status="$1" want_out="$2"
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  if [ "$status" -ne "$want_status" ] ||
    { [ -n "$want_out" ] && ! grep -qF -- "$want_out" "$tmp/out"; }; then
    echo "FAIL: $*" >&2
    echo "  exit status $status (expected $want_status), stdout should contain '$want_out'" >&2
    sed 's/^/  stdout: /' "$tmp/out" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failed=1
  fi
}

printf 'fn main() {\n    println!("ok")\n}\n' >"$tmp/good.ns"
printf 'fn main( {\n' >"$tmp/bad.ns"

expect 0 "nsc 0.1.0 (NeuralScript)" "$nsc" --version
expect 0 "Exit status" "$nsc" --help
expect 64 "" "$nsc" --no-such-option
expect 64 "" "$nsc" no-such-command
expect 64 "" "$nsc" run
expect 64 "" "$nsc" check
expect 66 "" "$nsc" run "$tmp/missing.ns"
expect 66 "" "$nsc" "$tmp/missing.ns"
expect 0 "ok" "$nsc" run "$tmp/good.ns"
expect 0 "ok" "$nsc" "$tmp/good.ns"
expect 0 "" "$nsc" check "$tmp/good.ns"
expect 2 "" "$nsc" check "$tmp/good.ns" "$tmp/bad.ns"
expect 2 "" "$nsc" run "$tmp/bad.ns"
expect 0 "hi" "$nsc" -e 'println!("hi")'
expect 1 "" "$nsc" -e 'let zero = 0; let x = 1 / zero'

out="$(printf 'println!("from stdin")\n' | "$nsc")"
if [ "$out" != "from stdin" ]; then
  echo "FAIL: program piped to nsc printed '$out'" >&2
  failed=1
fi
out="$(printf '1 + 2\n' | "$nsc" repl)"
if [ "$out" != "3" ]; then
  echo "FAIL: nsc repl with piped input printed '$out', expected 3" >&2
  failed=1
fi

exit $failed
