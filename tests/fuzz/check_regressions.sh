#!/bin/sh
# Inputs that once crashed, hung or leaked in the lexer, parser or compiler
# (found by fuzz_compile and by stress inputs). `nsc check` must end each
# one with status 0 (it compiles) or 2 (a compile error): never a signal,
# never another status, and within the time limit.
#   sh tests/fuzz/check_regressions.sh path/to/nsc DIR
# The stack is cut to 4 MB so unbounded recursion shows up with inputs of
# tens of kilobytes; the deepest nesting the parser allows needs less.
nsc="$1"
dir="$2"
ulimit -s 4096 2>/dev/null
limit=""
command -v timeout >/dev/null 2>&1 && limit="timeout 30"
failed=0
for file in "$dir"/*.ns; do
  [ -e "$file" ] || continue
  $limit "$nsc" check "$file" >/dev/null 2>&1 </dev/null
  status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
    echo "FAIL: nsc check $file: exit status $status (expected 0 or 2)" >&2
    failed=1
  fi
done
exit "$failed"
