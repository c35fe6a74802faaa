"""tools/bench/bench.py --baseline: the order of the interleaved rounds, the
start-up blocks, then a real run of fib with build/nsc as its own baseline
(one round, a few start-up runs) whose table must have the baseline column,
the new/baseline ratio and a start-up row, and whose JSON must hold the
baseline's runs; and a run without --baseline that must have none of them.

    python3 tests/bench_harness/test_bench_baseline.py NSC
Exits 77 (skipped) where lua5.4 is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import bench  # noqa: E402

if not shutil.which("lua5.4"):
    print("skipped: lua5.4 not installed (bash tools/setup.sh --bench)")
    sys.exit(77)

failures = []


def expect(cond, what):
    print("%s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        failures.append(what)


impls = [bench.Impl(n, "x", [n]) for n in ("nsc", "baseline", "lua5.4", "python3")]
names = lambda order: [i.name for i in order]
expect(names(bench.round_order(impls, 0)) == ["nsc", "baseline", "lua5.4", "python3"], "round 0: as given")
expect(names(bench.round_order(impls, 1)) == ["baseline", "nsc", "lua5.4", "python3"],
       "round 1: the two nsc builds swap places")
three = [i for i in impls if i.name != "baseline"]
expect(names(bench.round_order(three, 1)) == ["nsc", "lua5.4", "python3"], "without a baseline: always as given")
expect(bench.block_sizes(20, 5) == [4, 4, 4, 4, 4] and bench.block_sizes(11, 5) == [3, 2, 2, 2, 2]
       and bench.block_sizes(3, 5) == [3] and bench.block_sizes(1, 5) == [1], "start-up blocks")

nsc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "nsc")
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "r.json")
    common = [sys.executable, os.path.join(ROOT, "tools", "bench", "bench.py"), "--nsc", nsc, "--reps", "1",
              "--only", "fib", "--no-warmup", "--json", out]
    r = subprocess.run(common + ["--baseline", nsc, "--startup-runs", "4"], capture_output=True, text=True)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    expect(r.returncode == 0, "--baseline run exits 0")
    expect("| benchmark | nsc (s) | baseline (s) | new/baseline | lua5.4 (s) |" in r.stdout, "baseline columns")
    expect(re.search(r"^\| fib \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|", r.stdout, re.M) is not None,
           "fib row with both medians and their ratio")
    expect(re.search(r"^\| start-up \(hello\) \| [0-9.]+ ms \| [0-9.]+ ms \| [0-9.]+x \|", r.stdout, re.M)
           is not None, "start-up row with the ratio")
    expect("new/baseline cpu" in r.stdout and "baseline range" in r.stdout, "baseline in the CPU table")
    with open(out) as f:
        rep = json.load(f)
    b = rep["benchmarks"][0]
    expect(rep["baseline"] == os.path.abspath(nsc) and len(b["results"]["baseline"]["wall"]) == 1
           and b["new_over_baseline"] > 0 and rep["startup_ms"]["baseline"] > 0
           and rep["startup_new_over_baseline"] > 0, "JSON holds the baseline's runs and ratios")

    r = subprocess.run(common + ["--no-startup"], capture_output=True, text=True)
    expect(r.returncode == 0 and "| benchmark | nsc (s) | lua5.4 (s) | python3 (s) | nsc/lua |" in r.stdout
           and "baseline" not in r.stdout, "without --baseline: the table has no baseline")
    with open(out) as f:
        rep = json.load(f)
    expect("baseline" not in rep and "baseline" not in rep["benchmarks"][0]["results"], "JSON without a baseline")

if failures:
    print("%d failed: %s" % (len(failures), ", ".join(failures)))
    sys.exit(1)
print("all --baseline checks pass")
