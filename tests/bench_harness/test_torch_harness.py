"""Unit test of tools/bench/torch/run.py's own logic: the per-rep ratios
and their median, the validity check ("both losses decrease and agree"),
the JIT's agreement with the interpreter, the table and the JSON report;
then real tiny runs end to end, one of them through an nsc whose JIT side
is made to report a wrong loss.

    python3 tests/bench_harness/test_torch_harness.py NSC
Exits 77 (skipped) where torch or numpy cannot be imported.
"""
import contextlib
import io
import json
import os
import sys
import tempfile

try:
    import numpy  # noqa: F401
    import torch  # noqa: F401
except ImportError:
    print("skipped: cannot import torch and numpy (install python3-torch python3-numpy)")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench", "torch"))
import run  # noqa: E402

failures = []


def expect(cond, what):
    print("%s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def side(rate, start, end, rss=1000, early=None):
    r = {"samples_per_s": rate, "loss_start": start, "loss_end": end, "peak_rss_kib": rss}
    if early is not None:
        r["loss_early"] = early
    return r


# Ratios are taken per rep, then the median: JIT/torch 2, 3, 0.5 -> 2;
# JIT/interp 2, 1, 0.5 -> 1.
pairs = [{"torch": side(100, 1.0, 0.5), "interp": side(100, 1.0, 0.5), "jit": side(200, 1.0, 0.5)},
         {"torch": side(100, 1.0, 0.5), "interp": side(300, 1.0, 0.5), "jit": side(300, 1.0, 0.5)},
         {"torch": side(400, 1.0, 0.5), "interp": side(400, 1.0, 0.5), "jit": side(200, 1.0, 0.5)}]
expect(run.pair_ratios(pairs) == [2.0, 3.0, 0.5], "per-rep ratios")
cfg = {"name": "unit"}
row = run.summarize(cfg, 1, pairs)
expect(row["ratios"]["jit/torch"]["median_of_reps"] == 2.0, "JIT/torch: median of the per-rep ratios")
expect(row["ratios"]["jit/interp"]["median_of_reps"] == 1.0, "JIT/interp: median of the per-rep ratios")
expect(row["torch"]["samples_per_s"] == 100 and row["interp"]["samples_per_s"] == 300
       and row["jit"]["samples_per_s"] == 200, "median samples/s per side")
expect(abs(row["ratios"]["jit/torch"]["of_medians"] - 2.0) < 1e-12
       and abs(row["ratios"]["jit/interp"]["of_medians"] - 2 / 3) < 1e-12, "ratios of the medians")
expect(row["valid"] and row["jit_vs_interp"]["max_rel_diff"] == 0.0, "agreeing, decreasing losses are valid")
# A rep with a failed side counts for that side's medians only.
row = run.summarize(cfg, 1, pairs + [{"torch": side(100, 1.0, 0.5), "interp": side(100, 1.0, 0.5), "jit": None,
                                      "errors": ["jit: crashed"]}])
expect(row["ratios"]["jit/torch"]["median_of_reps"] == 2.0 and not row["valid"] and "jit: crashed" in row["void"],
       "a failed run voids the row but not the other ratios")

# The JIT against the interpreter: 1e-5 relative on the first loss and on
# the mean of the first 10 steps, every JIT run against the interpreter's.
agree = lambda j, i: run.jit_agreement(j, i)
a = agree([side(1, 1.0, 0.5, early=0.9)], [side(1, 1.0 + 5e-6, 0.5, early=0.9)])
expect(a["why"] == [] and 4e-6 < a["max_rel_diff"] < 6e-6, "JIT 5e-6 apart from the interpreter agrees")
a = agree([side(1, 1.0, 0.5, early=0.9), side(1, 1.0, 0.5, early=0.90003)], [side(1, 1.0, 0.5, early=0.9)])
expect(len(a["why"]) == 1 and "loss_early" in a["why"][0] and "more than 1e-05" in a["why"][0]
       and a["max_rel_diff"] > 3e-5, "a second JIT run 3e-5 apart on the first 10 steps disagrees")
a = agree([side(1, float("nan"), 0.5, early=0.9)], [side(1, 1.0, 0.5, early=0.9)])
expect(len(a["why"]) == 1 and "loss_start" in a["why"][0], "a NaN loss never agrees")
expect(agree([side(1, 1.0, 0.5)], [side(1, 1.0, 0.5, early=0.9)])["why"]
       == ["JIT against interpreter: no loss_early to compare"], "a missing early loss is reported")
expect(agree([side(1, 1.0, 0.5)], [side(1, 1.0, 0.5)]) == {"max_rel_diff": 0.0, "rtol": 1e-5, "why": []},
       "an early loss neither side printed is not compared")
expect(agree([], [side(1, 1.0, 0.5)])["max_rel_diff"] is None, "no JIT run: nothing compared")
bad = [dict(p, jit=dict(p["jit"], loss_start=1.0001)) for p in pairs]
row = run.summarize(cfg, 1, bad)
expect(not row["valid"] and row["jit_vs_interp"]["why"]
       and any(w.startswith("JIT and interpreter disagree on loss_start") for w in row["void"]),
       "a JIT disagreeing with the interpreter (within PyTorch's 1e-3) voids the row")
expect("| 1.0e-04 FAIL |" in run.table([row]), "the table marks the disagreement")

stats = ["jit: on", "jit: ops recorded        120",
         "jit: graphs run          40 (compiled 35, op by op 5: first sighting 5)",
         "jit: graphs compiled     3 (distinct graphs cached 3), compile 12.0 ms",
         "jit: kernels             6, ops per kernel 4.0 (max 9)",
         "jit: fallback: JIT unavailable: cannot load libnsjit.so"]
s = run.parse_jit_stats(stats)
expect(s["graphs_run"] == 40 and s["graphs_compiled"] == 35 and s["kernels"] == 6
       and s["fallback"] == ["JIT unavailable: cannot load libnsjit.so"], "--jit-stats parsed")
row = run.summarize(cfg, 1, [dict(p, jit=dict(p["jit"], jit_stats=stats[:5])) for p in pairs])
expect(run.fmt_graphs(row) == "35/40", "JIT graphs compiled/run")
row = run.summarize(cfg, 1, [dict(p, jit=dict(p["jit"], jit_stats=stats)) for p in pairs])
expect(run.fmt_graphs(row) == "unavailable", "the JIT unavailable")
expect(run.parse_jit_stats(None) is None and run.fmt_graphs(run.summarize(cfg, 1, pairs)) == "-",
       "no --jit-stats")

with tempfile.NamedTemporaryFile("w", suffix=".cpuinfo", delete=False) as f:
    f.write("model name\t: Some CPU\nflags\t\t: fpu sse2 sse4_2 avx avx2 fma avx512f avx512bw amx_tile "
            "avx_vnni ssse3\nflags\t\t: other\n")
expect(run.cpu_simd_flags(f.name) == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "amx_tile", "avx_vnni"],
       "the CPU's SIMD flags")
os.unlink(f.name)
expect(run.cpu_simd_flags("/nonexistent/cpuinfo") is None, "no /proc/cpuinfo")

# An nsc whose --help has no --jit option gets NS_JIT in the environment.
with tempfile.TemporaryDirectory() as tmp:
    old_nsc = os.path.join(tmp, "nsc-old")
    with open(old_nsc, "w") as f:
        f.write("#!/bin/sh\necho 'Usage: nsc [options] run FILE'\n")
    os.chmod(old_nsc, 0o755)
    expect(run.jit_switch(old_nsc) == {"interp": ["env", "NS_JIT=0", old_nsc], "jit": ["env", "NS_JIT=1", old_nsc]},
           "no --jit in nsc --help: NS_JIT=0 and NS_JIT=1")
    with open(old_nsc, "w") as f:
        f.write("#!/bin/sh\necho '  --jit=on|off  ...'; echo '  --jit-stats  ...'\n")
    expect(run.jit_switch(old_nsc) == {"interp": [old_nsc, "--jit=off"], "jit": [old_nsc, "--jit=on", "--jit-stats"]},
           "--jit=on|off and --jit-stats in nsc --help")

expect(run.check_valid(side(1, 1.0, 0.5), side(1, 1.0, 0.5)) == [], "valid")
expect(any("nsc: loss did not decrease" in w for w in run.check_valid(side(1, 1.0, 1.0), side(1, 1.0, 0.5))),
       "non-decreasing nsc loss is void")
expect(any("start losses disagree (jit 1, torch 1.01)" == w
           for w in run.check_valid(side(1, 1.0, 0.5), side(1, 1.01, 0.5), "jit")), "messages name the nsc side")
expect(any("torch: loss did not decrease" in w for w in run.check_valid(side(1, 1.0, 0.5), side(1, 1.0, 1.2))),
       "increasing torch loss is void")
expect(any("start losses disagree" in w for w in run.check_valid(side(1, 1.0, 0.5), side(1, 1.01, 0.5))),
       "start losses 1% apart are void")
expect(run.check_valid(side(1, 1.0, 0.5), side(1, 1.0 + 1e-5, 0.5)) == [], "start losses 1e-5 apart are valid")
expect(any("end losses disagree" in w for w in run.check_valid(side(1, 1.0, 0.5), side(1, 1.0, 0.2))),
       "end losses 2.5x apart are void")
expect(run.check_valid(side(1, 1.0, 0.0073), side(1, 1.0, 0.0042)) == [],
       "end losses 1.7x apart (float32 drift over 20 epochs) are valid")
expect(any("first 10 steps disagree" in w
           for w in run.check_valid(side(1, 1.0, 0.5, early=0.9), side(1, 1.0, 0.5, early=0.905))),
       "early losses 0.5% apart are void")
expect(run.check_valid(side(1, 1.0, 0.5, early=0.9), side(1, 1.0, 0.5, early=0.90001)) == [],
       "early losses 1e-5 apart are valid")
expect(run.check_valid(side(1, 1.0, 0.5, early=0.9), side(1, 1.0, 0.5)) == [], "a side without an early loss")
expect(run.check_valid(side(1, 1.0, 1e-9), side(1, 1.0, 1e-6)) == [], "end losses both near zero are valid")
expect(run.check_valid(None, side(1, 1.0, 0.5)) == ["nsc: no result"], "missing side is void")
expect(any("end losses disagree" in w for w in run.check_valid(side(1, 0.12, 0.0088), side(1, 0.12, 0.0024))),
       "small end losses 3.7x apart are void (the absolute slack scales with the first loss)")
r1 = side(1, 1.0, 0.5, early=0.9)
expect(run.check_runs_agree("nsc", [r1, dict(r1), dict(r1)]) == [], "identical runs agree")
expect(any("runs disagree on loss_end" in w for w in run.check_runs_agree("nsc", [r1, side(1, 1.0, 0.45, early=0.9)])),
       "runs of one side with different end losses are void")
row = run.summarize(cfg, 1, [{"torch": side(100, 1.0, 0.5), "interp": side(200, 1.0, 0.5)},
                             {"torch": side(100, 1.0, 0.5), "interp": side(200, 1.0, 0.4)}])
expect(not row["valid"] and any("interp: runs disagree" in w for w in row["void"]), "summarize checks every run")
row = run.summarize(cfg, 1, [dict(p, interp=side(100, 1.1, 0.5)) for p in pairs])
expect(not row["valid"] and "start losses disagree (interp 1.1, torch 1)" in row["void"],
       "the interpreter is checked against PyTorch too")

acc = lambda a, l: {"test_accuracy": a, "loss_end": l, "train_s": 1.0}
expect(run.check_accuracy({"nsc": acc(0.8629, 0.3098), "torch": acc(0.8576, 0.3109)}) == [],
       "accuracies 0.5 points apart, losses 0.4 % apart: valid")
expect(any("more than 2 points" in w for w in run.check_accuracy({"nsc": acc(0.80, 0.31), "torch": acc(0.86, 0.31)})),
       "accuracies 6 points apart are void")
expect(any("last-epoch losses" in w for w in run.check_accuracy({"nsc": acc(0.86, 0.40), "torch": acc(0.86, 0.31)})),
       "last-epoch losses 25 % apart are void")
expect(run.check_accuracy({"nsc": None, "torch": acc(0.86, 0.31)}) == ["nsc: no result"], "accuracy without a side")

m = run.gemm_merge([{"gflops": {"64": 10.0}, "mm1000_ms": 3.0}, None, {"gflops": {"64": 30.0}, "mm1000_ms": 5.0},
                    {"gflops": {"64": 20.0}, "mm1000_ms": 4.0}])
expect(m["gflops"]["64"] == 20.0 and m["mm1000_ms"] == 4.0 and len(m["rounds"]) == 3, "GEMM rounds: medians")
expect(run.gemm_merge([None, None]) is None, "GEMM rounds all failed")

a = run.parse_args([])
expect(a.train and a.gemm and a.accuracy and a.threads == [1, 2] and a.reps == 5,
       "the default run: every part, 1 and 2 threads, 5 pairs")
a = run.parse_args(["--gemm"])
expect(a.gemm and not a.train and not a.accuracy, "--gemm alone")
a = run.parse_args(["--quick", "--reps=4"])
expect(a.reps == 4, "--reps=N with --quick")
a = run.parse_args(["--quick"])
expect(a.reps == 3 and a.train and a.gemm and not a.accuracy, "--quick: 3 pairs, training and GEMM")
expect(any(c["arch"] == "cnn" for c in run.configs()), "the CNN config")

t = run.table([run.summarize(cfg, 2, pairs)])
expect("| interpreter samples/s | JIT samples/s | JIT/interp | JIT/torch |" in t
       and "| unit | 2 | 100 | 300 | 200 | 1.00x | 2.00x | - | 0 | 1 → 0.5 | 1 → 0.5 | 1 / 1 / 1 | yes |" in t,
       "table row: three sides, the ratios, the JIT's agreement, RSS per side")

# GEMM: nsc/torch per size from GFLOP/s; for the 1000×1000 time, torch/nsc.
g = run.gemm_rows(2, {"gflops": {"64": 10.0, "2048": 90.0}, "mm1000_ms": 20.0},
                  {"gflops": {"64": 20.0, "2048": 100.0}, "mm1000_ms": 30.0})
expect(len(g) == len(run.GEMM_SIZES) + 1, "one GEMM row per size and one for 1000×1000")
expect(g[0]["ratio"] == 0.5 and g[1]["ratio"] is None and abs(g[-2]["ratio"] - 0.9) < 1e-12, "GEMM ratios")
expect(g[-1]["ratio"] == 1.5, "1000×1000 ratio is torch time over nsc time")
t = run.gemm_table(g)
expect("| 64 | 2 | 20.0 | 10.0 | 0.50x |" in t and "| 128 | 2 | - | - | - |" in t
       and "| 1000×1000 time, ms | 2 | 30.00 | 20.00 | 1.50x |" in t, "GEMM table")
expect(run.gemm_rows(1, None, None)[0]["ratio"] is None, "GEMM rows without results")
t = run.accuracy_table([{"config": "f", "epochs": 5, "threads": 1, "nsc": None,
                         "torch": {"test_accuracy": 0.8765, "loss_end": 0.3, "train_s": 4.0}}])
expect("| f | 5 | 1 | 87.65 % | - | 0.3000 | - | 4.0 | - | VOID: nsc: no result |" in t, "accuracy table")

# Three sides per rep (four with --baseline), their order rotating and then
# reversed.
sides = ("torch", "interp", "jit")
orders = [run.rep_order(i, sides) for i in range(6)]
expect(orders[:3] == [("torch", "interp", "jit"), ("interp", "jit", "torch"), ("jit", "torch", "interp")]
       and orders[3] == ("jit", "interp", "torch"), "rep order of three sides")
expect(all(sum(o.index(s) == k for o in orders) == 2 for s in sides for k in range(3))
       and sum(o.index("interp") < o.index("jit") for o in orders) == 3,
       "over six reps each side runs in each place, and the interpreter before the JIT half the time")
orders = [run.rep_order(i, sides + ("baseline",)) for i in range(8)]
expect(all(sum(o.index(s) == k for o in orders) == 2 for s in orders[0] for k in range(4))
       and sum(o.index("jit") < o.index("baseline") for o in orders) == 4, "four sides over eight reps")
expect([run.rep_order(i, ("torch", "nsc")) for i in range(2)] == [("torch", "nsc"), ("nsc", "torch")],
       "two sides alternate as before")
# JIT 200, 300 against baseline 100, 500: medians 250 and 300, per-rep ratios 2 and 0.6.
three = [dict(p, baseline=side(r, 1.0, 0.5, rss=2048)) for p, r in zip(pairs[:2], (100, 500))]
row = run.summarize(cfg, 1, three)
expect(row["baseline"]["samples_per_s"] == 300 and abs(row["ratios"]["jit/baseline"]["of_medians"] - 250 / 300) < 1e-12
       and abs(row["ratios"]["jit/baseline"]["median_of_reps"] - 1.3) < 1e-12
       and row["baseline"]["peak_rss_kib"] == 2048 and row["valid"],
       "baseline medians, JIT/baseline: the median of per-rep ratios and the ratio of medians")
expect("jit/baseline" not in run.summarize(cfg, 1, pairs)["ratios"] and "baseline" not in run.summarize(cfg, 1, pairs),
       "no baseline entries without a baseline")
three[0]["baseline"] = side(100, 1.1, 0.5)
row = run.summarize(cfg, 1, three)
expect(not row["valid"] and "start losses disagree (baseline 1.1, torch 1)" in row["void"],
       "a baseline disagreeing with PyTorch voids the row")
t = run.table([run.summarize(cfg, 2, [dict(p, baseline=side(100, 1.0, 0.5, rss=2048)) for p in pairs])])
expect("| baseline samples/s | JIT/interp | JIT/torch | JIT/baseline |" in t
       and "| unit | 2 | 100 | 300 | 200 | 100 | 1.00x | 2.00x | 2.00x |" in t and "| 1 / 1 / 1 / 2 | yes |" in t,
       "table with a baseline")
g = run.gemm_rows(1, {"gflops": {"64": 10.0}, "mm1000_ms": 20.0}, {"gflops": {"64": 20.0}, "mm1000_ms": 30.0},
                  {"gflops": {"64": 5.0}, "mm1000_ms": 40.0})
t = run.gemm_table(g)
expect("| 64 | 1 | 20.0 | 10.0 | 5.0 | 2.00x | 0.50x |" in t and "| 1000×1000 time, ms | 1 | 30.00 | 20.00 | 40.00 | 2.00x | 1.50x |"
       in t, "GEMM table with a baseline (new/baseline above 1: the new build is faster)")
# run_gemm with canned runs: without --baseline the table has no baseline
# columns.
real_run_json = run.run_json
run.run_json = lambda argv, timeout: ({"gflops": {"64": 10.0}, "mm1000_ms": 20.0}, None)
report = {"gemm": []}
run.run_gemm(run.parse_args(["--gemm", "--threads", "1"]), "nsc", None, report, [], lambda s: None)
run.run_json = real_run_json
expect(len(report["gemm"]) == len(run.GEMM_SIZES) + 1 and "new_over_baseline" not in report["gemm"][0]
       and "baseline" not in run.gemm_table(report["gemm"]), "GEMM without a baseline: no baseline columns")
a = run.parse_args(["--quick", "--baseline", "/tmp/nsc-old"])
expect(a.baseline == "/tmp/nsc-old" and a.reps == 3, "--baseline PATH")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "r.json")
    run.write_json(path, {"rows": [run.summarize(cfg, 1, pairs)]})
    with open(path) as f:
        back = json.load(f)
    expect(back["rows"][0]["ratios"]["jit/torch"]["median_of_reps"] == 2.0 and back["rows"][0]["valid"] is True,
           "JSON round trip")

    # End to end: the tiny config, 2 reps of 300 steps.
    if len(sys.argv) > 1:
        nsc = os.path.abspath(sys.argv[1])
        out = os.path.join(tmp, "tiny.json")
        code = run.main(["--nsc", nsc, "--only", "tiny", "--threads", "1", "--reps", "2", "--steps", "300",
                         "--json", out])
        with open(out) as f:
            rep = json.load(f)
        rows = rep["rows"]
        expect(code == 0 and len(rows) == 1 and rows[0]["valid"], "tiny run is valid")
        expect(rows[0]["reps"] == 2 and rows[0]["ratios"]["jit/torch"]["median_of_reps"] > 0
               and rows[0]["ratios"]["jit/interp"]["median_of_reps"] > 0, "tiny run has 2 reps and the ratios")
        r = rows[0]["jit"]
        expect(r["peak_rss_kib"] > 0 and rows[0]["interp"]["peak_rss_kib"] > 0 and r["runs"][0]["steps"] == 300,
               "tiny run: RSS and steps recorded")
        expect(abs(r["loss_start"] - rows[0]["torch"]["loss_start"]) < 1e-5, "tiny start losses agree")
        expect(r["loss_early"] is not None and abs(r["loss_early"] - rows[0]["torch"]["loss_early"]) < 1e-5,
               "tiny losses of the first 10 steps agree")
        expect(rows[0]["jit_vs_interp"]["max_rel_diff"] is not None and not rows[0]["jit_vs_interp"]["why"],
               "tiny: the JIT agrees with the interpreter")
        expect("--jit=off" in rows[0]["commands"]["interp"] and "--jit=on" in rows[0]["commands"]["jit"],
               "the interpreter side runs with the JIT off, the JIT side with it on")
        # (tiny's tensors are too small to be recorded: no graphs, but the stats are there)
        expect(r["jit_stats"] is not None and r["jit_stats"]["graphs_run"] is not None, "the JIT side's --jit-stats")
        expect(rep["gemm"] == [] and rep["accuracy"] == [], "--only runs the training configs alone")
        expect(len(r["runs"][0]["loss_curve"]) == 20 and r["runs"][0]["loss_curve"][-1] < r["runs"][0]["loss_curve"][0],
               "tiny run: a falling loss curve of 20 points")
        expect(rep["machine"]["cpu_flags"] is not None and rep["tolerances"]["jit_rtol"] == 1e-5,
               "the CPU flags and the JIT's tolerance in the JSON")

        # The same with nsc as its own baseline: four sides per rep.
        code = run.main(["--nsc", nsc, "--baseline", nsc, "--only", "tiny", "--threads", "1",
                         "--reps", "2", "--steps", "300", "--json", out])
        with open(out) as f:
            rep = json.load(f)
        row = rep["rows"][0]
        expect(code == 0 and row["valid"] and len(row["baseline"]["runs"]) == 2
               and row["ratios"]["jit/baseline"]["median_of_reps"] > 0 and rep["baseline"] == nsc,
               "tiny run with a baseline")
        expect(row["baseline"]["loss_end"] == row["jit"]["loss_end"], "the same build gives the same losses")

        # An nsc whose JIT side reports a mean of the first 10 steps 1e-4
        # off: within PyTorch's 1e-3, but the run must fail on the JIT.
        fake = os.path.join(tmp, "nsc-off-by-1e-4")
        with open(fake, "w") as f:
            f.write("#!%s\n" % sys.executable + """import json, subprocess, sys
r = subprocess.run([%r] + sys.argv[1:], capture_output=True, text=True)
out = r.stdout
if "--jit=on" in sys.argv and "train" in sys.argv:
    lines = out.strip().splitlines()
    d = json.loads(lines[-1])
    d["loss_early"] *= 1.0001
    out = "\\n".join(lines[:-1] + [json.dumps(d)]) + "\\n"
sys.stdout.write(out)
sys.stderr.write(r.stderr)
sys.exit(r.returncode)
""" % nsc)
        os.chmod(fake, 0o755)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = run.main(["--nsc", fake, "--only", "tiny", "--threads", "1", "--reps", "1", "--steps", "300",
                             "--json", out])
        with open(out) as f:
            row = json.load(f)["rows"][0]
        text = printed.getvalue()
        expect(code == 1 and not row["valid"] and row["jit_vs_interp"]["why"]
               and "JIT and interpreter disagree on loss_early" in row["jit_vs_interp"]["why"][0],
               "a JIT 1e-4 off the interpreter fails the run")
        expect("FAIL: the JIT's losses differ from the interpreter's by more than 1e-05 relative:" in text
               and "tiny-xor-2-8-1, 1 thread(s): JIT and interpreter disagree on loss_early" in text
               and " FAIL |" in text, "... with a clear message")

if failures:
    print("%d failed: %s" % (len(failures), ", ".join(failures)))
    sys.exit(1)
print("all harness checks pass")
