#!/bin/sh
# Inputs that are not regular files: a directory, an endless device
# (/dev/zero), a pipe and a FIFO, given to nsc as the program and to the
# loaders and read_file() as data; and checkpoint/npy saves onto targets
# that are not regular files, or symbolic links.
#   sh tests/cli/inputs.sh path/to/nsc      (run from the source root)
nsc="$1"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-inputs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect STATUS STDERR-TEXT COMMAND...: the exit status and the whole of
# stderr (when STDERR-TEXT is not "-"); stdin is /dev/null.
expect() {
  want_status="$1" want_err="$2"
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  if [ "$status" -ne "$want_status" ] || { [ "$want_err" != "-" ] && [ "$(cat "$tmp/err")" != "$want_err" ]; }; then
    echo "FAIL: $*" >&2
    echo "  exit status $status (expected $want_status), stderr should be '$want_err'" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failed=1
  fi
}
# runs PROGRAM-TEXT STATUS STDERR-SUBSTRING [STDOUT-SUBSTRING]
runs() {
  printf '%s\n' "$1" >"$tmp/p.ns"
  "$nsc" run "$tmp/p.ns" >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  if [ "$status" -ne "$2" ] || { [ -n "$3" ] && ! grep -qF -- "$3" "$tmp/err"; } || { [ -n "$4" ] && ! grep -qF -- "$4" "$tmp/out"; }; then
    echo "FAIL: $1" >&2
    echo "  exit status $status (expected $2), stderr should contain '$3', stdout '$4'" >&2
    sed 's/^/  stdout: /' "$tmp/out" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failed=1
  fi
}

# ---- the program file ----
mkdir "$tmp/dir"
expect 66 "nsc: cannot read '$tmp/dir': Is a directory" "$nsc" run "$tmp/dir"
expect 66 "nsc: cannot read '$tmp/dir': Is a directory" "$nsc" check "$tmp/dir"
expect 66 "nsc: cannot read '/dev/zero': not a regular file and longer than 256 MiB" "$nsc" run /dev/zero
# a pipe is a program like any other
out="$(echo 'println!("piped")' | "$nsc" run /dev/stdin 2>&1)"
[ "$out" = "piped" ] || { echo "FAIL: nsc run /dev/stdin: $out" >&2; failed=1; }

# ---- data files ----
# (every loader reads through lib_read_input: one /dev/zero is enough)
for f in load_npy load_idx load_csv load_safetensors; do
  runs "$f(\"$tmp/dir\")" 1 "$f: $tmp/dir: is a directory"
done
runs 'load_npy("/dev/zero")' 1 "load_npy: /dev/zero: not a regular file and longer than 256 MiB"
runs "println!(\"{}\", read_file(\"$tmp/dir\").unwrap_err())" 0 "" "$tmp/dir: is a directory"
runs 'println!("{}", read_file("/dev/zero").unwrap_err())' 0 "" "/dev/zero: not a regular file and longer than 256 MiB"
# a FIFO is read to its end like a file
if mkfifo "$tmp/fifo" 2>/dev/null; then
  cat tests/data/f32_2x3.npy >"$tmp/fifo" &
  runs "println!(\"{}\", load_npy(\"$tmp/fifo\").tolist())" 0 "" "[[1.0, 2.0, 3.0], [4.5, -5.0, 6.0]]"
  wait
fi

# ---- saving onto what is not a regular file ----
model='use nn; use checkpoint; let m = nn::Sequential([nn::Linear(2, 2)]);'
runs "$model checkpoint::save(\"$tmp/dir\", m, ())" 1 "save_safetensors: $tmp/dir is a directory, not a regular file; refusing to replace it"
runs "$model checkpoint::save(\"/dev/full\", m, ())" 1 "save_safetensors: /dev/full is a device, not a regular file; refusing to replace it"
runs "save_npy(\"/dev/null\", zeros([2]))" 1 "save_npy: /dev/null is a device, not a regular file; refusing to replace it"
[ -c /dev/full ] && [ -c /dev/null ] || { echo "FAIL: /dev/full or /dev/null was replaced" >&2; failed=1; }
[ -d "$tmp/dir" ] || { echo "FAIL: $tmp/dir was replaced" >&2; failed=1; }
if [ -p "$tmp/fifo" ]; then
  runs "$model checkpoint::save(\"$tmp/fifo\", m, ())" 1 "save_safetensors: $tmp/fifo is a FIFO, not a regular file; refusing to replace it"
  [ -p "$tmp/fifo" ] || { echo "FAIL: the FIFO was replaced" >&2; failed=1; }
fi
# a symbolic link is followed: the file it points to is replaced, the link stays
echo old >"$tmp/real.safetensors"
ln -s real.safetensors "$tmp/link.safetensors"
runs "$model checkpoint::save(\"$tmp/link.safetensors\", m, (), 7); println!(\"{}\", checkpoint::load(\"$tmp/real.safetensors\", m, ()))" 0 "" "7"
[ -L "$tmp/link.safetensors" ] || { echo "FAIL: the link was replaced by a file" >&2; failed=1; }
# a link to a missing file is refused
ln -s missing.safetensors "$tmp/dangling.safetensors"
runs "$model checkpoint::save(\"$tmp/dangling.safetensors\", m, ())" 1 "save_safetensors: $tmp/dangling.safetensors is a symbolic link to a missing file; refusing to follow it"
[ ! -e "$tmp/missing.safetensors" ] || { echo "FAIL: a file was created through the dangling link" >&2; failed=1; }
exit "$failed"
