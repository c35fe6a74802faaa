#!/bin/sh
# With stdout and stderr going to one file (2>&1), the program's output
# comes before what nsc writes to stderr after it: runtime errors, the
# diagnostics of a module imported at run time, and the --stats lines.
#   sh tests/cli/output_order.sh path/to/nsc
nsc="$1"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-order.XXXXXX")" || exit 2
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect NAME FILE EXPECTED: FILE must hold EXPECTED.
expect() {
  got="$(cat "$2")"
  if [ "$got" != "$3" ]; then
    printf 'FAIL: %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$3" "$(cat "$2")" >&2
    failed=1
  fi
}

printf 'println!("one")\nprintln!("two")\n' >"$tmp/ok.ns"
"$nsc" --stats run "$tmp/ok.ns" >"$tmp/out" 2>&1
if [ "$(sed -n 1,2p "$tmp/out")" != "one
two" ] || [ "$(sed -n '3,$p' "$tmp/out" | cut -c1-6 | sort -u)" != "stats:" ]; then
  printf 'FAIL: --stats after the output\n%s\n' "$(cat "$tmp/out")" >&2
  failed=1
fi

printf 'println!("one")\nprintln!("two")\nlet z = 0\nprintln!("{}", 1 / z)\n' >"$tmp/err.ns"
"$nsc" run "$tmp/err.ns" >"$tmp/out" 2>&1
expect "a runtime error after the output" "$tmp/out" "one
two
$tmp/err.ns:4:16: runtime error: division by zero
    4 | println!(\"{}\", 1 / z)
      |                ^
stack trace:
  at <module> ($tmp/err.ns:4:16)"

"$nsc" --stats run "$tmp/err.ns" >"$tmp/out" 2>&1
if [ "$(sed -n 2p "$tmp/out")" != "two" ] || [ "$(sed -n 8p "$tmp/out" | cut -c1-6)" != "stats:" ]; then
  printf 'FAIL: --stats after a runtime error\n%s\n' "$(cat "$tmp/out")" >&2
  failed=1
fi

# Output that stops mid-line (print!, a progress bar): the stats and an
# error start on a line of their own in the shared file, and nothing is
# added when stdout and stderr go to different places.
printf 'print!("3 of 4 ")\nprint!("{} {}", 1, 2)\n' >"$tmp/mid.ns"
"$nsc" --stats run "$tmp/mid.ns" >"$tmp/out" 2>&1
if [ "$(sed -n 1p "$tmp/out")" != "3 of 4 1 2" ] || [ "$(sed -n 2p "$tmp/out" | cut -c1-24)" != "stats: tensor allocator " ]; then
  printf 'FAIL: --stats after output without a newline\n%s\n' "$(cat "$tmp/out")" >&2
  failed=1
fi
"$nsc" --stats run "$tmp/mid.ns" >"$tmp/out" 2>"$tmp/err"
if [ "$(cat "$tmp/out")" != "3 of 4 1 2" ] || [ "$(wc -l <"$tmp/out")" -ne 0 ] ||
   [ "$(sed -n 1p "$tmp/err" | cut -c1-6)" != "stats:" ]; then
  printf 'FAIL: --stats with stdout and stderr apart\n%s\n---\n%s\n' "$(cat "$tmp/out")" "$(cat "$tmp/err")" >&2
  failed=1
fi
printf 'print!("partial")\nlet z = 0\nprint(1 / z)\n' >"$tmp/miderr.ns"
"$nsc" run "$tmp/miderr.ns" >"$tmp/out" 2>&1
expect "a runtime error after output without a newline" "$tmp/out" "partial
$tmp/miderr.ns:3:7: runtime error: division by zero
    3 | print(1 / z)
      |       ^
stack trace:
  at <module> ($tmp/miderr.ns:3:7)"

printf 'fn f() { let x = 1 +\n' >"$tmp/bad.ns"
printf 'println!("before")\nimport "./bad.ns"\n' >"$tmp/imp.ns"
"$nsc" run "$tmp/imp.ns" >"$tmp/out" 2>&1
if [ "$(sed -n 1p "$tmp/out")" != "before" ]; then
  printf 'FAIL: an import with compile errors after the output\n%s\n' "$(cat "$tmp/out")" >&2
  failed=1
fi
exit "$failed"
