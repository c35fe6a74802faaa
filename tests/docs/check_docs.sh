#!/bin/sh
# Runs the examples of a Markdown document (docs/LANGUAGE.md) so they stay true.
#   sh tests/docs/check_docs.sh NSC RUNNER [DOC]     (from the source root)
# RUNNER is ns_test_runner (tests/runner.c). The fenced blocks it checks:
#   ```ns             a program with inline expectations (`// expect: ...`,
#                     `// expect error: ...`, `// args: ...`), run by RUNNER
#                     exactly like a tests/lang file
#   ```ns-norun       a program that must compile cleanly (`NSC check`)
#   ```ns-repl        a REPL session: lines starting `ns> ` or `..> ` are
#                     typed in, every other line is the expected stdout
#   ```ns file=NAME   a module (NAME.ns) that other examples import; it must
#                     compile, and is written next to every example
# Other fences (```sh, ```text, ...) are left alone. Each example is written
# to a scratch directory after as many blank lines as precede it in DOC, so
# the line numbers in any diagnostic are DOC's. A failure names the block by
# its line in DOC. Exit status: 0 all passed, 1 some failed, 2 bad usage.
nsc="$1"
runner="$2"
doc="${3:-docs/LANGUAGE.md}"
if [ -z "$nsc" ] || [ -z "$runner" ] || [ ! -r "$doc" ]; then
  echo "usage: sh tests/docs/check_docs.sh NSC RUNNER [DOC]" >&2
  exit 2
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-docs.XXXXXX")" || exit 2
trap 'rm -rf "$tmp"' EXIT

# Split DOC into example files and a manifest of "KIND LINE FILE" rows.
awk -v dir="$tmp" -v doc="$doc" '
  function pad(file, n,   i) { for (i = 0; i < n; i++) print "" > file }
  function bad(msg) { printf "%s:%d: %s\n", doc, NR, msg > "/dev/stderr"; errors++ }
  !open && /^```/ {
    info = substr($0, 4)
    sub(/[ \t]+$/, "", info)
    open = 1; kind = ""; start = NR
    if (info == "ns") kind = "run"
    else if (info == "ns-norun") kind = "check"
    else if (info == "ns-repl") kind = "repl"
    else if (info ~ /^ns file=[A-Za-z_][A-Za-z0-9_]*\.ns$/) {
      kind = "module"; name = substr(info, 9)
      if (name in modules) bad("module " name " is defined twice")
      modules[name] = 1
    } else if (info ~ /^ns/) bad("unknown example kind \"" info "\"")
    if (kind == "run" || kind == "check") { file = dir "/ex" start ".ns"; pad(file, start) }
    else if (kind == "module") { file = dir "/" name; pad(file, start) }
    else if (kind == "repl") { file = dir "/ex" start ".in"; out = dir "/ex" start ".out"; printf "" > file; printf "" > out }
    next
  }
  open && /^```[ \t]*$/ {
    if (kind != "") {
      print kind, start, (kind == "module" ? name : "ex" start) > (dir "/manifest")
      close(file)
      if (kind == "repl") close(out)
      count++
    }
    open = 0
    next
  }
  open && kind == "repl" {
    if ($0 ~ /^(ns|\.\.)>( |$)/) print substr($0, 5) > file
    else print > out
    next
  }
  open && kind != "" { print > file }
  END {
    if (open) { NR = start; bad("unclosed code fence") }
    if (count == 0) { NR = 0; bad("no examples found") }
    exit errors ? 1 : 0
  }
' "$doc" || exit 1

failed=0
total=0
while read -r kind line name; do
  total=$((total + 1))
  case "$kind" in
    run) "$runner" "$nsc" "$tmp/$name.ns" >"$tmp/log" 2>&1 ;;
    check | module)
      file="$tmp/$name"
      [ "$kind" = check ] && file="$file.ns"
      NO_COLOR=1 "$nsc" check "$file" >"$tmp/log" 2>&1 ;;
    repl) "$runner" --repl "$nsc" "$tmp/$name.in" >"$tmp/log" 2>&1 ;;
  esac
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "$doc:$line: the $kind example fails:"
    sed 's/^/  /' "$tmp/log"
    failed=$((failed + 1))
  fi
done <"$tmp/manifest"

echo "$doc: $((total - failed)) of $total examples pass"
[ "$failed" -eq 0 ]
