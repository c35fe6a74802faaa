#!/bin/sh
# Checkpoints across processes:
#   1. 2 epochs in one process print the same weights as 1 epoch, save, and
#      1 more epoch in a second process that loads the checkpoint;
#   2. a save that fails while writing (the file size limit is hit) leaves
#      the previous checkpoint byte for byte as it was, and no temporary
#      file behind.
#   sh tests/checkpoint/resume.sh path/to/nsc      (run from the source root)
nsc="$1"
script=tests/checkpoint/train.ns
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-ckpt.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

"$nsc" run "$script" 2 >"$tmp/straight" || fail "the 2-epoch run"
"$nsc" run "$script" 1 --save "$tmp/ck.safetensors" >"$tmp/first" || fail "the 1-epoch run with --save"
"$nsc" run "$script" 1 --load "$tmp/ck.safetensors" >"$tmp/resumed" || fail "the resumed run"
if ! cmp -s "$tmp/straight" "$tmp/resumed"; then
  fail "resumed weights differ from the uninterrupted run"
  diff "$tmp/straight" "$tmp/resumed" | head -5 >&2
fi
grep -q "^step 6$" "$tmp/resumed" || fail "the resumed run did not continue from step 3"

cp "$tmp/ck.safetensors" "$tmp/before"
# A file size limit of 1 block: the write fails with EFBIG (SIGXFSZ ignored).
(
  trap '' XFSZ
  ulimit -f 1
  "$nsc" run "$script" 1 --load "$tmp/ck.safetensors" --save "$tmp/ck.safetensors" >"$tmp/out" 2>"$tmp/err"
)
status=$?
[ "$status" -eq 1 ] || fail "the failing save exited with $status, expected 1"
grep -q "save_safetensors: cannot write $tmp/ck.safetensors" "$tmp/err" || {
  fail "the failing save did not report the write error"
  cat "$tmp/err" >&2
}
cmp -s "$tmp/before" "$tmp/ck.safetensors" || fail "the failing save changed the previous checkpoint"
ls "$tmp" | grep -q '\.tmp\.' && fail "the failing save left a temporary file"

exit $failed
