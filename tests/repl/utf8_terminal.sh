#!/bin/sh
# The REPL on a real terminal (a tmux pane): non-ASCII input reaches the
# parser, and the editing keys move and delete whole characters.
#   sh tests/repl/utf8_terminal.sh path/to/nsc
# Exit status 77 (skipped) when tmux is not installed.
nsc="$1"
command -v tmux >/dev/null 2>&1 || { echo "tmux is not installed: skipped"; exit 77; }
case "$nsc" in /*) ;; *) nsc="$(pwd)/$nsc" ;; esac
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nsc-tty.XXXXXX")" || exit 2
export TMUX_TMPDIR="$tmp" # the servers' sockets go away with the directory
unset TMUX
sock=""
n=0
trap 'tmux -L "$sock" kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
failed=0

# start LANG: a new tmux server with one pane running the REPL in that
# locale (the pane stays open after the REPL ends, for capture-pane).
start() {
  [ -n "$sock" ] && tmux -L "$sock" kill-server >/dev/null 2>&1
  n=$((n + 1))
  sock="nsc-tty-$$-$n"
  tmux -L "$sock" -f /dev/null new-session -d -s repl -x 120 -y 30 \
    "env -u LC_ALL -u LC_CTYPE HOME='$tmp' LANG=$1 NO_COLOR=1 '$nsc' repl; sleep 60"
}
keys() { tmux -L "$sock" send-keys -t repl "$@"; }
screen() { tmux -L "$sock" capture-pane -p -t repl 2>/dev/null; }

# wait_for TEXT N: until the screen shows TEXT on N lines (10 s at most);
# a prompt is matched as "ns>" at the start of a line.
wait_for() {
  i=0
  while [ "$i" -lt 100 ]; do
    if [ "$1" = "ns>" ]; then
      c="$(screen | grep -c '^ns>')"
    else
      c="$(screen | grep -c -F -- "$1")"
    fi
    [ "$c" -ge "$2" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  printf 'FAIL: %s: the screen never showed "%s" %s time(s):\n%s\n' "$what" "$1" "$2" "$(screen)" >&2
  failed=1
  return 1
}

for lang in C.UTF-8 C; do
  what="LANG=$lang"
  start "$lang"
  wait_for "ns>" 1
  keys 'let θ = 2.0' Enter
  wait_for "ns>" 2
  keys 'θ² + π' Enter
  wait_for "7.141592653589793" 1
  # Left over four characters, two of them two bytes long, then insert
  keys 'θ + π' Left Left Left Left '²' Enter
  wait_for "7.141592653589793" 2
  # Backspace deletes the whole π
  keys 'θ² + ππ' BSpace Enter
  wait_for "7.141592653589793" 3
  keys '"é" + "ü" + "→"' Enter
  wait_for '"éü→"' 1
  keys '"naïve".len()' Enter
  wait_for "ns>" 7
  if screen | grep -q "error"; then
    printf 'FAIL: %s: an error on the screen:\n%s\n' "$what" "$(screen)" >&2
    failed=1
  fi
  screen | grep -q -x "6" || { printf 'FAIL: %s: "naïve".len() is not 6:\n%s\n' "$what" "$(screen)" >&2; failed=1; }
  keys C-d
done

# The history file keeps non-ASCII entries: a new session recalls one.
what="history"
start C.UTF-8
wait_for "ns>" 1
keys Up Enter
wait_for "ns>" 2
screen | grep -q -x 'ns> "naïve".len()' || { printf 'FAIL: history: not recalled:\n%s\n' "$(screen)" >&2; failed=1; }
exit "$failed"
