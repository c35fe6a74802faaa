"""Training benchmarks: NeuralScript against PyTorch on the same work, and
nsc's tensor JIT against its interpreter.

For each config, `train.ns prep` writes the data and the model's initial
parameters as .npy (seeded), then `nsc train.ns train` and its PyTorch twin
`train.py` train from them: same architecture, float32, same batches in the
same order, forward + loss + backward + optimizer step every step, the same
thread count. nsc runs twice: as the interpreter (`--jit=off`, or NS_JIT=0
for a build without the option) and with the JIT (`--jit=on --jit-stats`,
or NS_JIT=1; jit_switch). Each rep runs the three sides once, in an order
that rotates from rep to rep (rep_order); each run prints samples/s of the
timed steps (step 0 is the warm-up), its first loss, its mean loss over the
first 10 steps and over the last epoch. Peak RSS is each process's own,
from /usr/bin/time -f %M (else os.wait4's rusage). A row gives each side's
median samples/s and peak RSS, and JIT/interp and JIT/torch, the medians
of the per-rep ratios. A config's result is void unless every side's loss
decreases, each nsc side agrees with PyTorch on the first loss
(START_RTOL), on the first 10 steps (EARLY_RTOL) and, loosely, on the end
loss (END_RTOL and END_ATOL_OF_START; see check_valid), every run of a
side gives the same losses, and the JIT agrees with the interpreter on the
first loss and the first 10 steps within JIT_RTOL (jit_agreement). A run
with a JIT disagreeing says so after the table and exits 1. The header and
the JSON name the CPU and its SIMD flags (cpu_simd_flags), which decide
what the JIT's kernels can use.

The parts: the training configs (--train), `--gemm` (`a ⊙ b` in gemm.ns
against `torch.mm` in gemm.py on square f32 matrices, GFLOP/s per size and
the 1000×1000 product in ms) and `--accuracy` (the Fashion-MNIST MLP
trained for 5 epochs once per side and thread count by accuracy.ns and
accuracy.py, both test accuracies). A run that names none of them does all
three; --only selects training configs.

GEMM and accuracy run nsc with its defaults (the JIT on): a matrix
product is not an elementwise op, so the JIT does not change GEMM.

--baseline PATH adds a second nsc build, run with its defaults, to the
training configs and GEMM: each rep then runs it too, and the training
table adds its samples/s and JIT/baseline (the GEMM table new/baseline,
the ratio of the medians; above 1 the new build is faster). The
baseline's losses are checked against PyTorch's like the new build's. The
accuracy part runs the new build alone.

Run it through tools/bench/torch.sh; `--help` lists the options.
"""

import argparse
import datetime
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(BENCH))
sys.path.insert(0, BENCH)
import bench  # noqa: E402  (machine_info, capture, shell_quote)

START_RTOL = 1e-3
EARLY_RTOL = 1e-3
END_RTOL = 0.5
END_ATOL_OF_START = 1e-3
JIT_RTOL = 1e-5         # the JIT's first and first-10-steps losses against the interpreter's
ACCURACY_POINTS = 2.0   # test accuracies within 2 percentage points
ACCURACY_LOSS_RTOL = 0.05  # last-epoch losses within 5 %


def Config(name, arch, data, n, batch, opt, lr, loss, epochs=0, steps=0, quick_epochs=0, quick_steps=0,
           quick=True, seed=1):
    """ARCH: an MLP's layer sizes ("784,128,64,10") or "cnn" (train.ns's
    build). QUICK: part of the --quick subset, which runs quick_epochs or
    quick_steps."""
    return dict(name=name, arch=arch, data=data, n=n, batch=batch, opt=opt, lr=lr, loss=loss,
                epochs=epochs, steps=steps, quick_epochs=quick_epochs, quick_steps=quick_steps, quick=quick,
                seed=seed)


def configs():
    out = []
    for sizes in ("784,128,64,10", "784,256,128,64,10"):
        for n in (1000, 2000):
            for batch in (32, 64):
                # --quick: the smallest MLP on the least data in the smallest
                # batches, and the largest on the most in the largest
                quick = (sizes, n, batch) in (("784,128,64,10", 1000, 32), ("784,256,128,64,10", 2000, 64))
                out.append(Config("mlp%s-n%d-b%d" % (sizes.replace(",", "-")[4:], n, batch), sizes,
                                  "random", n, batch, "adam", 1e-3, "mse", epochs=20, quick_epochs=3, quick=quick))
    out.append(Config("tiny-xor-2-8-1", "2,8,1", "xor", 4, 4, "adam", 1e-2, "mse",
                      steps=10000, quick_steps=2000))
    out.append(Config("fashion-784-256-128-10", "784,256,128,10", "fashion", 60000, 128, "sgdm", 0.05, "ce",
                      epochs=1, quick_steps=150))
    # The CNN of examples/fashion_cnn.ns on the first 6464 images: one epoch
    # is 101 steps of 64, the first of them the warm-up.
    out.append(Config("fashion-cnn-b64", "cnn", "fashion-img", 6464, 64, "adam", 1e-3, "ce",
                      epochs=1, quick_steps=40))
    out.append(Config("wide-1024-2048-2048-10", "1024,2048,2048,10", "random", 256, 256, "adam", 1e-3, "mse",
                      steps=12, quick_steps=6))
    return out


# ---- the harness's logic (tested by tests/bench_harness) -------------------

def median_or_none(xs):
    return statistics.median(xs) if xs else None


def pair_ratios(reps, a="jit", b="torch"):
    """a/b samples/s of each rep where both ran."""
    return [p[a]["samples_per_s"] / p[b]["samples_per_s"] for p in reps
            if p.get(a) and p.get(b) and p[b]["samples_per_s"] > 0]


def rep_order(i, sides):
    """The order of rep I. Two sides alternate (the first given first in
    even reps); more rotate, and after as many reps as there are sides run
    reversed, so that over twice that many reps each side runs in each
    place, and before each other side, equally often."""
    if len(sides) == 2:
        return tuple(sides) if i % 2 == 0 else tuple(reversed(sides))
    k = i % len(sides)
    order = tuple(sides[k:]) + tuple(sides[:k])
    return order if (i // len(sides)) % 2 == 0 else tuple(reversed(order))


def check_valid(ns, th, name="nsc"):
    """Reasons the run is void (empty when valid). ns and th hold loss_start,
    loss_end and (when given) loss_early of an nsc side (NAME in the
    messages) and of PyTorch.

    The first loss and the first 10 steps must agree closely: they show the
    two sides compute the same thing (forward, backward, 10 optimizer
    updates). The end losses must agree within a factor of two (END_RTOL of
    the larger), or to END_ATOL_OF_START of the first loss when both have
    trained close to zero: float32 trajectories can part after many steps,
    since a rounding difference (a matrix product's rounding depends on
    OpenBLAS's partitioning, which changes with the thread count) can flip a
    ReLU or an Adam update, and chaotic training amplifies it. On the grid's
    784-256-128-64-10 / n 2000 / batch 64 at 2 threads nsc parts from
    PyTorch within the first epoch and ends at 0.0073 against 0.0042."""
    why = []
    for side, r in ((name, ns), ("torch", th)):
        if r is None:
            why.append("%s: no result" % side)
        elif not r["loss_end"] < r["loss_start"]:
            why.append("%s: loss did not decrease (%g -> %g)" % (side, r["loss_start"], r["loss_end"]))
    if ns is None or th is None:
        return why
    a, b = ns["loss_start"], th["loss_start"]
    if abs(a - b) > START_RTOL * max(abs(a), abs(b)) + 1e-7:
        why.append("start losses disagree (%s %g, torch %g)" % (name, a, b))
    a, b = ns.get("loss_early"), th.get("loss_early")
    if a is not None and b is not None and abs(a - b) > EARLY_RTOL * max(abs(a), abs(b)) + 1e-7:
        why.append("losses of the first 10 steps disagree (%s %g, torch %g)" % (name, a, b))
    a, b = ns["loss_end"], th["loss_end"]
    if abs(a - b) > END_RTOL * max(abs(a), abs(b)) + END_ATOL_OF_START * max(ns["loss_start"], th["loss_start"]):
        why.append("end losses disagree (%s %g, torch %g)" % (name, a, b))
    return why


def check_runs_agree(side, runs):
    """Every run of one side at one thread count must give the same losses
    (both sides are deterministic for a given thread count)."""
    why = []
    for r in runs[1:]:
        for k in ("loss_start", "loss_early", "loss_end"):
            a, b = runs[0].get(k), r.get(k)
            if a is not None and b is not None and abs(a - b) > EARLY_RTOL * max(abs(a), abs(b)) + 1e-7:
                why.append("%s: runs disagree on %s (%g, %g)" % (side, k, a, b))
                return why
    return why


def rel_diff(a, b):
    """|a - b| relative to the larger magnitude; infinite when either is not
    finite and the two differ (a NaN never agrees)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return 0.0 if a == b else math.inf
    m = max(abs(a), abs(b))
    return abs(a - b) / m if m > 0 else 0.0


def jit_agreement(jit_runs, interp_runs):
    """The JIT against the interpreter: both run the same nsc on the same
    data, so the first loss and the mean of the first 10 steps must agree
    within JIT_RTOL relative (float32 rounding of fused kernels, no more).
    Every JIT run is compared with the interpreter's first; a loss neither
    side printed is not compared. Returns
    {max_rel_diff, rtol, why}: the largest relative difference (None
    without both sides) and one message per loss that disagrees."""
    out = {"max_rel_diff": None, "rtol": JIT_RTOL, "why": []}
    if not jit_runs or not interp_runs:
        return out
    ref = interp_runs[0]
    for k in ("loss_start", "loss_early"):
        worst = None
        for r in jit_runs:
            a, b = r.get(k), ref.get(k)
            if a is None and b is None:
                break
            if a is None or b is None:
                out["why"].append("JIT against interpreter: no %s to compare" % k)
                break
            d = rel_diff(a, b)
            if worst is None or d > worst[0]:
                worst = (d, a, b)
        if worst is None:
            continue
        out["max_rel_diff"] = max(out["max_rel_diff"] or 0.0, worst[0])
        if worst[0] > JIT_RTOL:
            out["why"].append("JIT and interpreter disagree on %s (JIT %.9g, interpreter %.9g: %.2g relative, "
                              "more than %g)" % (k, worst[1], worst[2], worst[0], JIT_RTOL))
    return out


def parse_jit_stats(lines):
    """The counts of nsc --jit-stats (lines starting "jit:"): graphs run and
    compiled, kernels, and the fallback lines (the JIT unavailable, graphs
    that failed to compile). None without stats."""
    if not lines:
        return None
    out = {"graphs_run": None, "graphs_compiled": None, "kernels": None, "fallback": []}
    for line in lines:
        m = re.match(r"jit: graphs run\s+(\d+) \(compiled (\d+)", line)
        if m:
            out["graphs_run"], out["graphs_compiled"] = int(m.group(1)), int(m.group(2))
        m = re.match(r"jit: kernels\s+(\d+)", line)
        if m:
            out["kernels"] = int(m.group(1))
        if line.startswith("jit: fallback:"):
            out["fallback"].append(line[len("jit: fallback:"):].strip())
    return out


def check_accuracy(row):
    """Reasons an accuracy row is void: a missing side, test accuracies more
    than ACCURACY_POINTS apart, or last-epoch losses more than
    ACCURACY_LOSS_RTOL apart."""
    ns, th = row.get("nsc"), row.get("torch")
    if ns is None or th is None:
        return ["%s: no result" % s for s, r in (("nsc", ns), ("torch", th)) if r is None]
    why = []
    if abs(ns["test_accuracy"] - th["test_accuracy"]) * 100 > ACCURACY_POINTS:
        why.append("test accuracies differ by more than %g points" % ACCURACY_POINTS)
    a, b = ns["loss_end"], th["loss_end"]
    if abs(a - b) > ACCURACY_LOSS_RTOL * max(a, b):
        why.append("last-epoch losses disagree (nsc %g, torch %g)" % (a, b))
    return why


SIDES = ("torch", "interp", "jit", "baseline")   # the table's order
SIDE_LABEL = {"torch": "PyTorch", "interp": "interpreter", "jit": "JIT", "baseline": "baseline"}
RATIOS = (("jit", "interp"), ("jit", "torch"), ("jit", "baseline"))


def summarize(cfg, threads, reps):
    """One table row from the reps of a config: per side the median
    samples/s and peak RSS and the first run's losses; per ratio
    (RATIOS, where both sides ran) the median of the per-rep ratios and the
    ratio of the medians; the JIT against the interpreter (jit_agreement);
    and void, the reasons the row is not valid."""
    row = {"config": cfg["name"], "threads": threads, "reps": len(reps)}
    sides = [s for s in SIDES if any(s in p for p in reps)]
    for side in sides:
        rs = [p[side] for p in reps if p.get(side)]
        row[side] = {
            "samples_per_s": median_or_none([r["samples_per_s"] for r in rs]),
            "loss_start": rs[0]["loss_start"] if rs else None,
            "loss_early": rs[0].get("loss_early") if rs else None,
            "loss_end": rs[0]["loss_end"] if rs else None,
            "peak_rss_kib": median_or_none([r["peak_rss_kib"] for r in rs]),
            "runs": rs,
        }
    row["ratios"] = {}
    for a, b in RATIOS:
        if a in row and b in row:
            x, y = row[a]["samples_per_s"], row[b]["samples_per_s"]
            row["ratios"]["%s/%s" % (a, b)] = {"median_of_reps": median_or_none(pair_ratios(reps, a, b)),
                                               "of_medians": x / y if x and y else None}
    if "jit" in row:
        row["jit"]["jit_stats"] = parse_jit_stats(row["jit"]["runs"][0].get("jit_stats") if row["jit"]["runs"]
                                                  else None)
    first = lambda side: row[side] if row[side]["loss_start"] is not None else None
    void = [e for p in reps for e in p.get("errors", [])]
    for side in sides:
        if side == "torch":
            continue
        # Each nsc side must compute what PyTorch does; PyTorch's own
        # failures are reported once.
        why = check_valid(first(side), first("torch") if "torch" in row else None, side)
        void += [w for w in why if not w.startswith("torch:") or w not in void]
    for side in sides:
        void += check_runs_agree(side, row[side]["runs"])
    if "jit" in row and "interp" in row:
        row["jit_vs_interp"] = jit_agreement(row["jit"]["runs"], row["interp"]["runs"])
        void += row["jit_vs_interp"]["why"]
    row["void"] = void
    row["valid"] = not void
    return row


def fmt_rate(x):
    return "%.0f" % x if x is not None else "-"


def fmt_loss(r):
    return "%.4g → %.4g" % (r["loss_start"], r["loss_end"]) if r and r["loss_start"] is not None else "-"


def fmt_mib(k):
    return "%.0f" % (k / 1024) if k is not None else "-"


def fmt_x(x):
    return "%.2fx" % x if x is not None else "-"


def fmt_ratio(row, name):
    return fmt_x(row["ratios"].get(name, {}).get("median_of_reps"))


def fmt_agreement(row):
    """The JIT's largest relative loss difference from the interpreter's,
    and FAIL above JIT_RTOL."""
    a = row.get("jit_vs_interp")
    if not a or a["max_rel_diff"] is None:
        return "-"
    d = a["max_rel_diff"]
    return ("%.1e" % d if d else "0") + (" FAIL" if a["why"] else "")


def fmt_graphs(row):
    """The JIT side's graphs compiled / graphs run (from --jit-stats), or
    why none were compiled."""
    s = row.get("jit", {}).get("jit_stats")
    if not s or s["graphs_run"] is None:
        return "-"
    if any(f.startswith("JIT unavailable") for f in s["fallback"]):
        return "unavailable"
    return "%d/%d" % (s["graphs_compiled"], s["graphs_run"])


def table(rows):
    """The training table: per side median samples/s, the ratios (medians
    of the per-rep ratios), the JIT's graphs compiled/run, the JIT's loss
    agreement with the interpreter, both losses of PyTorch and the JIT,
    peak RSS per side. A --baseline run adds its samples/s, JIT/baseline
    and its RSS."""
    base = any("baseline" in r for r in rows)
    sides = ("torch", "interp", "jit") + (("baseline",) if base else ())
    head = ["config", "threads", "PyTorch samples/s", "interpreter samples/s", "JIT samples/s"]
    head += ["baseline samples/s"] if base else []
    head += ["JIT/interp", "JIT/torch"] + (["JIT/baseline"] if base else [])
    head += ["JIT graphs compiled/run", "JIT vs interp loss (max rel. diff)", "PyTorch loss start → end",
             "JIT loss start → end", "peak RSS MiB (%s)" % " / ".join(SIDE_LABEL[s] for s in sides), "valid"]
    # Right-aligned: the numbers; left: config, losses and valid.
    align = ["---", "---:"] + ["---:"] * (len(sides) + 2 + base) + ["---:", "---:", "---", "---", "---:", "---"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        cells = [r["config"], "%d" % r["threads"]]
        cells += [fmt_rate(r[s]["samples_per_s"]) if s in r else "-" for s in sides]
        cells += [fmt_ratio(r, "jit/interp"), fmt_ratio(r, "jit/torch")]
        cells += [fmt_ratio(r, "jit/baseline")] if base else []
        cells += [fmt_graphs(r), fmt_agreement(r), fmt_loss(r.get("torch")), fmt_loss(r.get("jit")),
                  " / ".join(fmt_mib(r[s]["peak_rss_kib"]) if s in r else "-" for s in sides),
                  "yes" if r["valid"] else "VOID: " + "; ".join(r["void"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_simd_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's SIMD-relevant flags from its first "flags" line: the SSE4,
    AVX, AVX2, FMA, F16C, AVX-512, AVX-VNNI and AMX families (what LLVM's
    host target can use). None where /proc/cpuinfo cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return [x for x in flags if re.fullmatch(r"sse4_[12]|avx|avx2|fma|f16c|avx512\w*|avx_vnni\w*"
                                                              r"|amx\w*", x)]
    except OSError:
        pass
    return None


def fmt_flags(flags):
    return " ".join(flags) if flags else ("none of avx2, fma, avx512" if flags == [] else "unknown")


def jit_switch(nsc):
    """The argv prefixes of nsc's two sides: the interpreter (JIT off) and
    the JIT (on, with --jit-stats where nsc has it). nsc's --help names the
    options it has; a build without --jit gets NS_JIT in the environment
    (ignored by a build that has no JIT at all). The JIT side sets the
    switch explicitly too, so that an NS_JIT=0 in the caller's environment
    cannot turn it into a second interpreter."""
    try:
        text = subprocess.run([nsc, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    if "--jit=" in text:
        sides = {"interp": [nsc, "--jit=off"], "jit": [nsc, "--jit=on"]}
    else:
        sides = {"interp": ["env", "NS_JIT=0", nsc], "jit": ["env", "NS_JIT=1", nsc]}
    if "--jit-stats" in text:
        sides["jit"].append("--jit-stats")
    return sides


GEMM_SIZES = (64, 128, 256, 512, 1024, 2048)
GEMM_REPS = 5    # timed repetitions inside one process
GEMM_ROUNDS = 3  # processes per side, interleaved
ACCURACY = dict(name="fashion-784-256-128-10", sizes="784,256,128,10", batch=128, lr=0.05, epochs=5, seed=1)


def gemm_merge(results):
    """One side's GEMM result from its rounds: the median per size."""
    results = [r for r in results if r]
    if not results:
        return None
    return {"gflops": {k: statistics.median([r["gflops"][k] for r in results if k in r["gflops"]])
                       for k in results[0]["gflops"]},
            "mm1000_ms": statistics.median([r["mm1000_ms"] for r in results]),
            "rounds": results}


def gemm_rows(threads, ns, th, base=False):
    """Table rows of one thread count from the sides' gemm JSON. BASE: the
    baseline's (None when it failed), or False without a baseline. Every
    ratio is "new is faster" above 1: GFLOP/s over GFLOP/s, time
    over time the other way round."""
    rows = []
    for n in GEMM_SIZES:
        a = ns["gflops"].get(str(n)) if ns else None
        b = th["gflops"].get(str(n)) if th else None
        rows.append({"n": n, "threads": threads, "torch_gflops": b, "nsc_gflops": a,
                     "ratio": a / b if a and b else None})
        if base is not False:
            c = base["gflops"].get(str(n)) if base else None
            rows[-1].update(baseline_gflops=c, new_over_baseline=a / c if a and c else None)
    a = ns["mm1000_ms"] if ns else None
    b = th["mm1000_ms"] if th else None
    rows.append({"n": "1000 (ms)", "threads": threads, "torch_ms": b, "nsc_ms": a,
                 "ratio": b / a if a and b else None})
    if base is not False:
        c = base["mm1000_ms"] if base else None
        rows[-1].update(baseline_ms=c, new_over_baseline=c / a if a and c else None)
    return rows


def gemm_table(rows):
    has_base = any("new_over_baseline" in r for r in rows)
    num = lambda x, f: f % x if x is not None else "-"
    if has_base:
        lines = ["| n | threads | PyTorch `torch.mm` GFLOP/s | NeuralScript `a ⊙ b` GFLOP/s | baseline GFLOP/s "
                 "| new/baseline | nsc/torch |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
    else:
        lines = ["| n | threads | PyTorch `torch.mm` GFLOP/s | NeuralScript `a ⊙ b` GFLOP/s | nsc/torch |",
                 "|---|---:|---:|---:|---:|"]
    for r in rows:
        ms = "torch_ms" in r
        cells = [num(r["torch_ms"], "%.2f"), num(r["nsc_ms"], "%.2f")] if ms else \
            [num(r["torch_gflops"], "%.1f"), num(r["nsc_gflops"], "%.1f")]
        if has_base:
            cells += [num(r["baseline_ms"], "%.2f") if ms else num(r["baseline_gflops"], "%.1f"),
                      num(r["new_over_baseline"], "%.2fx")]
        cells.append(num(r["ratio"], "%.2fx"))
        lines.append("| %s | %d | %s |" % ("1000×1000 time, ms" if ms else "%d" % r["n"], r["threads"],
                                          " | ".join(cells)))
    return "\n".join(lines)


def accuracy_table(rows):
    lines = ["| config | epochs | threads | PyTorch test accuracy | NeuralScript test accuracy "
             "| PyTorch last-epoch loss | NeuralScript last-epoch loss | PyTorch train s | NeuralScript train s "
             "| valid |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    pct = lambda r, k, f: f % (r[k] * (100 if k == "test_accuracy" else 1)) if r else "-"
    for r in rows:
        why = check_accuracy(r)
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["config"], r["epochs"], r["threads"], pct(r["torch"], "test_accuracy", "%.2f %%"),
            pct(r["nsc"], "test_accuracy", "%.2f %%"), pct(r["torch"], "loss_end", "%.4f"),
            pct(r["nsc"], "loss_end", "%.4f"), pct(r["torch"], "train_s", "%.1f"), pct(r["nsc"], "train_s", "%.1f"),
            "yes" if not why else "VOID: " + "; ".join(why)))
    return "\n".join(lines)


def write_json(path, report):
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


# ---- running ---------------------------------------------------------------

def run_json(argv, timeout):
    """Runs argv; (the JSON of its last stdout line + peak_rss_kib, None) or
    (None, error)."""
    # ru_maxrss of a child forked from this process counts this process's
    # own pages up to the exec; /usr/bin/time forks from a tiny process and
    # so reports the benchmark's own peak. wait4's figure is the fallback.
    timer = "/usr/bin/time"
    rss_file = tempfile.NamedTemporaryFile(suffix=".rss", delete=False)
    rss_file.close()
    if os.access(timer, os.X_OK):
        argv = [timer, "-f", "%M", "-o", rss_file.name] + argv
    with tempfile.TemporaryFile() as err:
        # Its own process group, so that a timeout kills the benchmark under
        # /usr/bin/time too, not just the timer.
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = []

        def kill():
            timed_out.append(True)
            os.killpg(proc.pid, signal.SIGKILL)
        killer = threading.Timer(timeout, kill)
        killer.start()
        out = proc.stdout.read().decode("utf-8", "replace")
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        killer.cancel()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss
    try:
        with open(rss_file.name) as f:
            peak = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    os.unlink(rss_file.name)
    lines = out.strip().splitlines()
    if timed_out:
        return None, "killed after %g s (--timeout)" % timeout
    if code != 0 or not lines:
        return None, "exit status %d: %s" % (code, (stderr.strip() or out.strip())[-300:])
    try:
        r = json.loads(lines[-1])
    except ValueError:
        return None, "not JSON: %r" % lines[-1][:200]
    r["peak_rss_kib"] = peak
    stats = [line for line in stderr.splitlines() if line.startswith("jit:")]
    if stats:
        r["jit_stats"] = stats
    return r, None


def torch_cmd(args, threads, rest):
    """The PyTorch side's command. Debian's torch does its GEMMs in the
    system OpenBLAS, whose own thread pool torch.set_num_threads does not
    size (it would use every core at "1 thread"), so the environment sets it.
    OMP_WAIT_POLICY=PASSIVE stops torch's OpenMP threads spinning while
    OpenBLAS's threads work: with both pools spinning on 2 cores, PyTorch at
    2 threads ran the MLPs 2-4x slower than at 1 (docs/BENCHMARKS.md)."""
    return ["env", "OPENBLAS_NUM_THREADS=%d" % threads, "OMP_NUM_THREADS=%d" % threads,
            "MKL_NUM_THREADS=%d" % threads, "OMP_WAIT_POLICY=PASSIVE", args.python] + rest


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="tools/bench/torch.sh",
        description="Train the same models with PyTorch, the nsc interpreter (--jit=off) and the nsc JIT "
        "(--jit=on), interleaved; print each side's median samples/s and peak RSS, JIT/interp and JIT/torch. "
        "Exits 1 when a row is void, among others when the JIT's first loss or mean loss of the first 10 "
        "steps differs from the interpreter's by more than %g relative." % JIT_RTOL)
    p.add_argument("--reps", type=int, default=None,
                   help="reps per config and thread count, each running every side once in a rotating order "
                   "(default 5; 3 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="a subset in a few minutes: 6 of the 12 training configs, shorter, 3 reps, and GEMM")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--only", metavar="SUBSTR[,SUBSTR]",
                   help="training configs whose name contains one of these (implies --train alone)")
    p.add_argument("--train", action="store_true", help="the training configs")
    p.add_argument("--gemm", action="store_true", help="the GEMM benchmark (a ⊙ b against torch.mm)")
    p.add_argument("--accuracy", action="store_true",
                   help="Fashion-MNIST test accuracy after 5 epochs, one run per side and thread count")
    p.add_argument("--steps", type=int, default=0, help="override every config's length with this many steps")
    p.add_argument("--nsc", default=os.environ.get("NSC", os.path.join(ROOT, "build", "nsc")),
                   help="the nsc binary (default: $NSC or build/nsc)")
    p.add_argument("--baseline", metavar="PATH",
                   help="a second (older) nsc binary, run with its defaults: every training config and GEMM "
                   "run it too, interleaved with the other sides in each rep; the training table adds its "
                   "samples/s, JIT/baseline and peak RSS, the GEMM table its GFLOP/s and new/baseline "
                   "(above 1 the new build is faster); --accuracy runs the new build alone")
    p.add_argument("--python", default="/usr/bin/python3")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before one run is killed")
    p.add_argument("--json", default=os.path.join(HERE, "results.json"),
                   help="where to write the results (default tools/bench/torch/results.json)")
    a = p.parse_args(argv)
    if a.reps is None:
        a.reps = 3 if a.quick else 5
    if a.reps < 1:
        p.error("--reps must be at least 1")
    if a.steps and a.steps < 2:
        p.error("--steps must be at least 2 (step 0 is the untimed warm-up)")
    a.threads = [int(t) for t in a.threads.split(",") if t.strip()]
    if a.only:
        a.train = True
    if not (a.train or a.gemm or a.accuracy):
        a.train = a.gemm = True
        a.accuracy = not a.quick
    return a


def main(argv=None):
    args = parse_args(argv)
    log = lambda s: print(s, file=sys.stderr, flush=True)
    nsc = os.path.abspath(args.nsc)
    base = os.path.abspath(args.baseline) if args.baseline else None
    script = os.path.join(HERE, "train.ns")
    twin = os.path.join(HERE, "train.py")
    cfgs = configs()
    if args.quick:
        cfgs = [c for c in cfgs if c["quick"]]
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        cfgs = [c for c in cfgs if any(w in c["name"] for w in wanted)]
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "tools/bench/torch.sh" + "".join(" " + bench.shell_quote(x) for x in
                                                    (argv if argv is not None else sys.argv[1:])),
        "reps": args.reps, "quick": args.quick, "machine": bench.machine_info(),
        "versions": {"nsc": bench.capture([nsc, "--version"]),
                     "torch": bench.capture([args.python, "-c", "import torch; print(torch.__version__)"]),
                     "python": bench.capture([args.python, "--version"]),
                     "nsc_commit": bench.capture(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])},
        "tolerances": {"start_rtol": START_RTOL, "early_rtol": EARLY_RTOL, "end_rtol": END_RTOL,
                       "end_atol_of_start": END_ATOL_OF_START, "accuracy_points": ACCURACY_POINTS,
                       "accuracy_loss_rtol": ACCURACY_LOSS_RTOL, "jit_rtol": JIT_RTOL},
        "rows": [],
    }
    if base:
        report["baseline"] = base
        report["versions"]["baseline"] = bench.capture([base, "--version"])
    switch = jit_switch(nsc)
    # How the two nsc sides run, for the header: "nsc --jit=off" or
    # "NS_JIT=0 nsc".
    report["nsc_sides"] = {side: " ".join("nsc" if x == nsc else x for x in argv if x != "env")
                           for side, argv in switch.items()}
    m = report["machine"]
    m["cpu_flags"] = cpu_simd_flags()
    log("machine: %s (%s), %s cores, load %s" % (m["cpu"], fmt_flags(m["cpu_flags"]), m["nproc"],
                                                m["loadavg_at_start"]))
    started = time.perf_counter()
    if not args.train:
        cfgs = []
    report["gemm"] = []
    report["accuracy"] = []
    failed = []
    with tempfile.TemporaryDirectory(prefix="nsc-torch-bench.") as tmp:
        if args.accuracy:
            run_accuracy(args, nsc, tmp, report, failed, log)
        for cfg in cfgs:
            d = os.path.join(tmp, cfg["name"])
            os.mkdir(d)
            r = subprocess.run([nsc, "--threads", "1", "run", script, "prep", d, cfg["data"], cfg["arch"],
                                str(cfg["n"]), str(cfg["seed"])], capture_output=True, text=True)
            if r.returncode != 0:
                failed.append("%s: prep failed: %s" % (cfg["name"], r.stderr.strip()[-300:]))
                log(failed[-1])
                continue
            epochs = cfg["quick_epochs"] if args.quick else cfg["epochs"]
            steps = cfg["quick_steps"] if args.quick else cfg["steps"]
            if args.steps:
                epochs, steps = 0, args.steps
            for threads in args.threads:
                tail = [cfg["arch"], str(cfg["batch"]), cfg["opt"], repr(cfg["lr"]), str(epochs), str(steps),
                        cfg["loss"]]
                run_tail = ["--threads", str(threads), "run", script, "train", d] + tail
                cmds = {"torch": torch_cmd(args, threads, [twin, str(threads), d] + tail),
                        "interp": switch["interp"] + run_tail, "jit": switch["jit"] + run_tail}
                sides = ("torch", "interp", "jit")
                if base:
                    cmds["baseline"] = [base] + run_tail
                    sides += ("baseline",)
                log("%s, %d thread(s): %d reps of %s" % (cfg["name"], threads, args.reps,
                                                         ", ".join(SIDE_LABEL[s] for s in sides)))
                reps = []
                for i in range(args.reps):
                    rep = {"errors": []}
                    for side in rep_order(i, sides):
                        res, err = run_json(cmds[side], args.timeout)
                        rep[side] = res
                        if err:
                            rep["errors"].append("%s: %s" % (side, err))
                            log("  " + rep["errors"][-1])
                    reps.append(rep)
                row = summarize(cfg, threads, reps)
                row["commands"] = cmds
                report["rows"].append(row)
                log("  samples/s: %s; JIT/interp %s, JIT/torch %s%s; JIT vs interp losses %s%s" % (
                    ", ".join("%s %s" % (SIDE_LABEL[s], fmt_rate(row[s]["samples_per_s"])) for s in sides),
                    fmt_ratio(row, "jit/interp"), fmt_ratio(row, "jit/torch"),
                    ", JIT/baseline %s" % fmt_ratio(row, "jit/baseline") if base else "",
                    fmt_agreement(row), "" if row["valid"] else "; VOID: " + "; ".join(row["void"])))
    if args.gemm:
        run_gemm(args, nsc, base, report, failed, log)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print("Machine: %s, %s cores, %s RAM, Linux %s (load %s at start, %s at end)" % (
        m["cpu"], m["nproc"], m["memory"], m["kernel"], " ".join(map(str, m["loadavg_at_start"])),
        " ".join(map(str, m["loadavg_at_end"]))))
    print("CPU flags (SIMD): %s" % fmt_flags(m["cpu_flags"]))
    v = report["versions"]
    print("%s (commit %s); torch %s; %s; %s%.0f s in all" % (
        v["nsc"], v["nsc_commit"], v["torch"], v["python"],
        "%d reps per row, each running every side once (order rotating); " % args.reps
        if report["rows"] else "", report["elapsed_s"]))
    if report["rows"]:
        print("interpreter: %s; JIT: %s. Ratios are medians of the per-rep ratios, above 1.00x the JIT "
              "is faster; JIT vs interp: the largest relative difference of the first loss and of the mean of the "
              "first 10 steps (at most %g)" % (report["nsc_sides"]["interp"],
                                              report["nsc_sides"]["jit"], JIT_RTOL))
    if base:
        print("baseline: %s (%s), run with its defaults" % (v["baseline"], base))
    print()
    if report["rows"]:
        print(table(report["rows"]))
        print()
    if report["accuracy"]:
        print(accuracy_table(report["accuracy"]))
        print()
    if report["gemm"]:
        print("GEMM, f32 square n×n: per size the median of %d interleaved processes per side, each the median "
              "of %d timed repetitions after a warm-up:" % (GEMM_ROUNDS, GEMM_REPS))
        print()
        print(gemm_table(report["gemm"]))
    for f in failed:
        print(f)
    fallback = {}   # a fallback's text without its count: the rows that had it
    for r in report["rows"]:
        for f in ((r.get("jit") or {}).get("jit_stats") or {}).get("fallback", []):
            fallback.setdefault(re.sub(r"^\d+ ", "", f), []).append(r)
    if fallback:
        print()
    for f, rs in sorted(fallback.items()):
        print("JIT fallback (nsc --jit-stats), %d of %d rows: %s" % (len(rs), len(report["rows"]), f))
    disagree = [r for r in report["rows"] if r.get("jit_vs_interp", {}).get("why")]
    if disagree:
        print()
        print("FAIL: the JIT's losses differ from the interpreter's by more than %g relative:" % JIT_RTOL)
        for r in disagree:
            print("  %s, %d thread(s): %s" % (r["config"], r["threads"], "; ".join(r["jit_vs_interp"]["why"])))
    if args.json:
        write_json(args.json, report)
        log("wrote " + args.json)
    ok = (report["rows"] or report["gemm"] or report["accuracy"]) and not failed
    ok = ok and all(r["valid"] for r in report["rows"]) and not any(check_accuracy(r) for r in report["accuracy"])
    return 0 if ok else 1


def run_gemm(args, nsc, base, report, failed, log):
    sizes = ",".join(map(str, GEMM_SIZES))
    reps = str(GEMM_REPS)
    for threads in args.threads:
        log("gemm, %d thread(s): %d rounds" % (threads, GEMM_ROUNDS))
        cmds = {"nsc": [nsc, "--threads", str(threads), "run", os.path.join(HERE, "gemm.ns"), reps, sizes],
                "torch": torch_cmd(args, threads, [os.path.join(HERE, "gemm.py"), str(threads), reps, sizes])}
        sides = ("torch", "nsc")
        if base:
            cmds["baseline"] = [base] + cmds["nsc"][1:]
            sides = ("torch", "nsc", "baseline")
        res = {side: [] for side in sides}
        for i in range(GEMM_ROUNDS):
            for side in rep_order(i, sides):
                r, err = run_json(cmds[side], args.timeout)
                res[side].append(r)
                if err:
                    failed.append("gemm %s, %d thread(s): %s" % (side, threads, err))
                    log("  " + failed[-1])
        report["gemm"].extend(gemm_rows(threads, gemm_merge(res["nsc"]), gemm_merge(res["torch"]),
                                        gemm_merge(res["baseline"]) if base else False))


def run_accuracy(args, nsc, tmp, report, failed, log):
    c = ACCURACY
    d = os.path.join(tmp, "accuracy")
    os.mkdir(d)
    r = subprocess.run([nsc, "--threads", "1", "run", os.path.join(HERE, "accuracy.ns"), "prep", d, c["sizes"],
                        str(c["seed"])], capture_output=True, text=True)
    if r.returncode != 0:
        failed.append("accuracy: prep failed: %s" % r.stderr.strip()[-300:])
        log(failed[-1])
        return
    tail = [d, c["sizes"], str(c["batch"]), repr(c["lr"]), str(c["epochs"])]
    for threads in args.threads:
        cmds = {"nsc": [nsc, "--threads", str(threads), "run", os.path.join(HERE, "accuracy.ns"), "train"] + tail,
                "torch": torch_cmd(args, threads, [os.path.join(HERE, "accuracy.py"), str(threads)] + tail)}
        log("accuracy: %s, %d epochs, %d thread(s)" % (c["name"], c["epochs"], threads))
        row = {"config": c["name"], "epochs": c["epochs"], "threads": threads, "commands": cmds}
        for side in ("torch", "nsc"):
            row[side], err = run_json(cmds[side], args.timeout)
            if err:
                failed.append("accuracy %s, %d thread(s): %s" % (side, threads, err))
                log("  " + failed[-1])
        row["void"] = check_accuracy(row)
        row["valid"] = not row["void"]
        if row["void"]:
            log("  VOID: " + "; ".join(row["void"]))
        report["accuracy"].append(row)


if __name__ == "__main__":
    sys.exit(main())
