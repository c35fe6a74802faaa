"""Unit test of tools/bench/torch/run.py's own logic: the per-pair ratios
and their median, the validity check ("both losses decrease and agree"),
the table and the JSON report; then one real tiny run end to end.

    python3 tests/bench_harness/test_torch_harness.py NSC
Exits 77 (skipped) where torch or numpy cannot be imported.
"""
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


# Ratios are taken per pair, then the median: 2, 3, 0.5 -> 2.
pairs = [{"torch": side(100, 1.0, 0.5), "nsc": side(200, 1.0, 0.5)},
         {"torch": side(100, 1.0, 0.5), "nsc": side(300, 1.0, 0.5)},
         {"torch": side(400, 1.0, 0.5), "nsc": side(200, 1.0, 0.5)}]
expect(run.pair_ratios(pairs) == [2.0, 3.0, 0.5], "per-pair ratios")
cfg = {"name": "unit"}
row = run.summarize(cfg, 1, pairs)
expect(row["ratio_median"] == 2.0, "median of the per-pair ratios")
expect(row["torch"]["samples_per_s"] == 100 and row["nsc"]["samples_per_s"] == 200, "median samples/s per side")
expect(abs(row["ratio_of_medians"] - 2.0) < 1e-12, "ratio of the medians")
expect(row["valid"], "agreeing, decreasing losses are valid")
# A pair with a failed side counts for that side's medians only.
row = run.summarize(cfg, 1, pairs + [{"torch": side(100, 1.0, 0.5), "nsc": None, "errors": ["nsc: crashed"]}])
expect(row["ratio_median"] == 2.0 and not row["valid"] and "nsc: crashed" in row["void"],
       "a failed run voids the row but not the other ratios")

expect(run.check_valid(side(1, 1.0, 0.5), side(1, 1.0, 0.5)) == [], "valid")
expect(any("nsc: loss did not decrease" in w for w in run.check_valid(side(1, 1.0, 1.0), side(1, 1.0, 0.5))),
       "non-decreasing nsc loss is void")
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
row = run.summarize(cfg, 1, [{"torch": side(100, 1.0, 0.5), "nsc": side(200, 1.0, 0.5)},
                             {"torch": side(100, 1.0, 0.5), "nsc": side(200, 1.0, 0.4)}])
expect(not row["valid"] and any("nsc: runs disagree" in w for w in row["void"]), "summarize checks every run")

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
expect("| unit | 2 | 100 | 200 | 2.00x |" in t and "| yes |" in t, "table row")

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

# --baseline: three sides per rep, their order rotating and then reversed.
orders = [run.rep_order(i, ("torch", "nsc", "baseline")) for i in range(6)]
expect(orders[:3] == [("torch", "nsc", "baseline"), ("nsc", "baseline", "torch"), ("baseline", "torch", "nsc")]
       and orders[3] == ("baseline", "nsc", "torch"), "rep order of three sides")
expect(all(sum(o.index(s) == k for o in orders) == 2 for s in orders[0] for k in range(3))
       and sum(o.index("nsc") < o.index("baseline") for o in orders) == 3,
       "over six reps each side runs in each place, and the two builds first equally often")
expect([run.rep_order(i, ("torch", "nsc")) for i in range(2)] == [("torch", "nsc"), ("nsc", "torch")],
       "two sides alternate as before")
# nsc 200, 300 against baseline 100, 500: medians 250 and 300, per-rep ratios 2 and 0.6.
three = [dict(p, baseline=side(r, 1.0, 0.5, rss=2048)) for p, r in zip(pairs[:2], (100, 500))]
row = run.summarize(cfg, 1, three)
expect(row["baseline"]["samples_per_s"] == 300 and abs(row["new_over_baseline"] - 250 / 300) < 1e-12
       and abs(row["baseline_ratio_median"] - 1.3) < 1e-12 and row["baseline"]["peak_rss_kib"] == 2048
       and row["valid"], "baseline medians, new/baseline (ratio of medians) and the median of per-rep ratios")
expect(run.summarize(cfg, 1, pairs).get("new_over_baseline") is None and "baseline" not in run.summarize(cfg, 1, pairs),
       "no baseline entries without a baseline")
three[0]["baseline"] = side(100, 1.1, 0.5)
row = run.summarize(cfg, 1, three)
expect(not row["valid"] and "start losses disagree (baseline 1.1, torch 1)" in row["void"],
       "a baseline disagreeing with PyTorch voids the row")
t = run.table([run.summarize(cfg, 2, [dict(p, baseline=side(100, 1.0, 0.5, rss=2048)) for p in pairs])])
expect("| baseline samples/s | new/baseline |" in t and "| unit | 2 | 100 | 200 | 100 | 2.00x | 2.00x |" in t
       and "| 1 | 1 | 2 | yes |" in t, "table with a baseline")
g = run.gemm_rows(1, {"gflops": {"64": 10.0}, "mm1000_ms": 20.0}, {"gflops": {"64": 20.0}, "mm1000_ms": 30.0},
                  {"gflops": {"64": 5.0}, "mm1000_ms": 40.0})
t = run.gemm_table(g)
expect("| 64 | 1 | 20.0 | 10.0 | 5.0 | 2.00x | 0.50x |" in t and "| 1000×1000 time, ms | 1 | 30.00 | 20.00 | 40.00 | 2.00x | 1.50x |"
       in t, "GEMM table with a baseline (new/baseline above 1: the new build is faster)")
a = run.parse_args(["--quick", "--baseline", "/tmp/nsc-old"])
expect(a.baseline == "/tmp/nsc-old" and a.reps == 3, "--baseline PATH")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "r.json")
    run.write_json(path, {"rows": [run.summarize(cfg, 1, pairs)]})
    with open(path) as f:
        back = json.load(f)
    expect(back["rows"][0]["ratio_median"] == 2.0 and back["rows"][0]["valid"] is True, "JSON round trip")

    # End to end: the tiny config, 2 pairs of 300 steps.
    if len(sys.argv) > 1:
        out = os.path.join(tmp, "tiny.json")
        code = run.main(["--nsc", sys.argv[1], "--only", "tiny", "--threads", "1", "--reps", "2", "--steps", "300", "--json", out])
        with open(out) as f:
            rep = json.load(f)
        rows = rep["rows"]
        expect(code == 0 and len(rows) == 1 and rows[0]["valid"], "tiny run is valid")
        expect(rows[0]["pairs"] == 2 and rows[0]["ratio_median"] > 0, "tiny run has 2 pairs and a ratio")
        r = rows[0]["nsc"]
        expect(r["peak_rss_kib"] > 0 and r["runs"][0]["steps"] == 300, "tiny run: RSS and steps recorded")
        expect(abs(rows[0]["nsc"]["loss_start"] - rows[0]["torch"]["loss_start"]) < 1e-5, "tiny start losses agree")
        expect(rows[0]["nsc"]["loss_early"] is not None
               and abs(rows[0]["nsc"]["loss_early"] - rows[0]["torch"]["loss_early"]) < 1e-5,
               "tiny losses of the first 10 steps agree")
        expect(rep["gemm"] == [] and rep["accuracy"] == [], "--only runs the training configs alone")
        expect(len(r["runs"][0]["loss_curve"]) == 20 and r["runs"][0]["loss_curve"][-1] < r["runs"][0]["loss_curve"][0],
               "tiny run: a falling loss curve of 20 points")

        # The same with nsc as its own baseline: three sides per rep.
        code = run.main(["--nsc", sys.argv[1], "--baseline", sys.argv[1], "--only", "tiny", "--threads", "1",
                         "--reps", "3", "--steps", "300", "--json", out])
        with open(out) as f:
            rep = json.load(f)
        row = rep["rows"][0]
        expect(code == 0 and row["valid"] and len(row["baseline"]["runs"]) == 3 and row["new_over_baseline"] > 0
               and rep["baseline"] == os.path.abspath(sys.argv[1]), "tiny run with a baseline")
        expect(row["baseline"]["loss_end"] == row["nsc"]["loss_end"], "the same build gives the same losses")

if failures:
    print("%d failed: %s" % (len(failures), ", ".join(failures)))
    sys.exit(1)
print("all harness checks pass")
