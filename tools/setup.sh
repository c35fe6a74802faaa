#!/usr/bin/env bash
# Installs the Debian packages NeuralScript needs (only those missing) and
# builds it. Safe to run again: an up-to-date tree rebuilds nothing.
#
#   bash tools/setup.sh           packages + Release build in build/
#   bash tools/setup.sh --asan    ... + clang, AddressSanitizer/UBSan build in build-asan/
#   bash tools/setup.sh --fuzz    ... + clang, the libFuzzer targets in build-fuzz/
#   bash tools/setup.sh --gc-stress        a collection at every safe point,
#                                 in build-gcstress/
#   bash tools/setup.sh --switch-dispatch  dispatch by switch, not computed
#                                 goto, in build-switch/
#   bash tools/setup.sh --bench   ... + lua5.4, hyperfine, python3-torch,
#                                 python3-numpy; build/
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

asan=0 fuzz=0 bench=0 gcstress=0 switch=0
for arg in "$@"; do
  case "$arg" in
    --asan) asan=1 ;;
    --fuzz) fuzz=1 ;;
    --gc-stress) gcstress=1 ;;
    --switch-dispatch) switch=1 ;;
    --bench) bench=1 ;;
    -h | --help)
      sed -n '2,13s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "setup.sh: unknown option $arg (try --help)" >&2
      exit 64
      ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log="$(mktemp "${TMPDIR:-/tmp}/ns-setup.XXXXXX")"
trap 'rm -f "$log"' EXIT

# Run a command quietly; on failure show what it printed.
quiet() {
  if ! "$@" >"$log" 2>&1; then
    echo "setup.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

# ---- packages ----------------------------------------------------------------
packages=(build-essential cmake pkg-config re2c llvm-19-dev libffi-dev libedit-dev python3
          libopenblas-dev zlib1g-dev dataset-fashion-mnist tmux)
if ((asan || fuzz)); then packages+=(clang libclang-rt-14-dev); fi
if ((bench)); then packages+=(lua5.4 hyperfine python3-torch python3-numpy); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "setup.sh: missing packages (${missing[*]}) and not root, no sudo" >&2
      exit 1
    fi
  fi
  echo "setup.sh: installing ${missing[*]}"
  quiet "${sudo[@]}" apt-get update
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ---- build ----------------------------------------------------------------------
# build DIR CMAKE-ARGS... [-- TARGET]: configure and build; compiler
# warnings are shown even when the build succeeds.
build() {
  local dir="$1"
  shift
  local target=()
  local args=()
  while (($#)); do
    if [ "$1" = "--" ]; then
      target=(--target "$2")
      break
    fi
    args+=("$1")
    shift
  done
  quiet cmake -S . -B "$dir" "${args[@]}"
  quiet cmake --build "$dir" -j"$(nproc)" "${target[@]}"
  grep -E "warning:" "$log" >&2 || true
  echo "setup.sh: built $dir/"
}

if ((asan)); then build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_SANITIZE=ON; fi
if ((fuzz)); then build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_FUZZ=ON -DCMAKE_C_COMPILER=clang -- fuzz; fi
# With assert() on. For ASan on top (slower, but a use of a freed object
# is reported where it happens): README, "Building and testing".
if ((gcstress)); then build build-gcstress -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_GC_STRESS=ON; fi
if ((switch)); then build build-switch -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_SWITCH_DISPATCH=ON; fi
if ((!asan && !fuzz && !gcstress && !switch)); then build build -DCMAKE_BUILD_TYPE=Release; fi
