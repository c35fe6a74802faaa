#!/bin/sh
# Inputs that once crashed, hung or leaked in the lexer, parser or compiler
# (found by fuzz_compile). `nsc check` must end each one with status 0 (it
# compiles) or 2 (a compile error): never a signal, never another status.
#   sh tests/fuzz/check_regressions.sh path/to/nsc DIR
nsc="$1"
dir="$2"
failed=0
for file in "$dir"/*.ns; do
  [ -e "$file" ] || continue
  "$nsc" check "$file" >/dev/null 2>&1 </dev/null
  status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
    echo "FAIL: nsc check $file: exit status $status (expected 0 or 2)" >&2
    failed=1
  fi
done
exit "$failed"
