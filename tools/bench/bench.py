"""Language benchmarks: nsc against Lua 5.4 and CPython 3.

Each benchmark is three programs doing the same work (NAME.ns, NAME.lua,
NAME.py in this folder) that print the same result line. The three are run
interleaved (nsc, lua, python, nsc, lua, python, ...) so that load from
other processes on the machine falls on all of them alike; every output is
checked against the others, and the table reports median wall-clock
seconds and the ratios of the medians. Start-up is `nsc run hello.ns`,
timed by hyperfine (or by repeated runs when hyperfine is not installed).

With --baseline, a second nsc build runs every program too, in the same
rounds (the two builds alternating which goes first), and the table adds
its medians and new/baseline, the ratio of the two builds' medians; their
start-up runs in alternating blocks.

Run it through run.sh; `run.sh --help` lists the options.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

BENCHMARKS = [
    ("fib", "recursive fib(30)"),
    ("loop", "10^7-iteration int/float loop"),
    ("method", "3*10^6 method calls updating fields"),
    ("strings", "10^6 formatted pieces joined"),
]

# Targets from docs/BENCHMARKS.md.
TARGET_VS_LUA = 1.5
TARGET_STARTUP_MS = 5.0


class Impl:
    def __init__(self, name, ext, argv):
        self.name = name
        self.ext = ext
        self.argv = argv  # command before the program path

    def command(self, program):
        return self.argv + [os.path.join(HERE, program + "." + self.ext)]


def parse_args():
    p = argparse.ArgumentParser(
        prog="run.sh",
        description="Run the language benchmarks (nsc, lua5.4, python3) "
        "interleaved and print a table of medians.",
    )
    p.add_argument("--reps", type=int, default=5, help="timed runs of each program (default 5)")
    p.add_argument("--quick", action="store_true", help="3 timed runs and 20 start-up runs")
    p.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks")
    p.add_argument("--nsc", default=os.environ.get("NSC", os.path.join(ROOT, "build", "nsc")),
                   help="the nsc binary (default: $NSC or build/nsc)")
    p.add_argument("--baseline", metavar="PATH",
                   help="a second nsc binary to compare against: it runs every program "
                   "(and hello.ns) in the same interleaved rounds, and the table adds its "
                   "medians and new/baseline, the ratio of the medians (below 1: the new "
                   "build is faster)")
    p.add_argument("--lua", default="lua5.4", help="the Lua interpreter (default lua5.4)")
    p.add_argument("--python", default="/usr/bin/python3",
                   help="the Python interpreter (default /usr/bin/python3)")
    p.add_argument("--startup-runs", type=int, default=50,
                   help="runs of each hello program (default 50)")
    p.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed first run of each program")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds before one run is killed (default 300)")
    p.add_argument("--json", default=os.path.join(HERE, "results.json"),
                   help="where to write the results (default tools/bench/results.json)")
    args = p.parse_args()
    if args.quick:
        args.reps = 3
        args.startup_runs = min(args.startup_runs, 20)
    if args.reps < 1:
        p.error("--reps must be at least 1")
    names = [b[0] for b in BENCHMARKS]
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            p.error("unknown benchmark %s (have: %s)" % (", ".join(unknown), ", ".join(names)))
        args.only = wanted
    else:
        args.only = names
    return args


def capture(argv):
    """First line of a command's output (stdout, else stderr), or None."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (r.stdout.strip() or r.stderr.strip()).splitlines()
    return text[0].strip() if text else None


def machine_info():
    cpu = None
    lscpu = capture(["sh", "-c", "lscpu | grep -m1 'Model name'"])
    if lscpu and ":" in lscpu:
        cpu = lscpu.split(":", 1)[1].strip()
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor() or "unknown",
        "nproc": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(impls):
    v = {}
    nsc, lua, py = impls[0], impls[-2], impls[-1]
    v[nsc.name] = capture(nsc.argv[:1] + ["--version"])
    if len(impls) == 4:
        v[impls[1].name] = capture(impls[1].argv[:1] + ["--version"])
    lua_v = capture(lua.argv[:1] + ["-v"])
    v[lua.name] = re.sub(r"\s+Copyright.*", "", lua_v) if lua_v else None
    v[py.name] = capture(py.argv[:1] + ["--version"])
    v["cc"] = capture(["cc", "--version"])
    commit = capture(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    v["nsc_commit"] = commit if commit and re.fullmatch(r"[0-9a-f]+", commit) else None
    return v


def binary_stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def run_once(argv, timeout):
    """Run argv; returns (wall s, cpu s, exit status, stdout, stderr)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as e:
            return None, None, 127, "", str(e)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return wall, cpu, proc.returncode, out.decode("utf-8", "replace").strip(), stderr


def describe_failure(impl, program, status, out, stderr):
    lines = stderr.strip().splitlines()[:8]
    msg = "%s %s.%s: exit status %d" % (impl.name, program, impl.ext, status)
    if status < 0:
        msg += " (killed by signal %d)" % -status
    if out:
        msg += "\n    stdout: " + out[:200]
    for line in lines:
        msg += "\n    " + line
    return msg


def bench_one(name, impls, args, log):
    """Warm-up (checks outputs), then args.reps interleaved timed rounds."""
    res = {i.name: {"wall": [], "cpu": [], "output": None, "error": None} for i in impls}
    live = list(impls)

    def record(impl, rep_timed):
        wall, cpu, status, out, stderr = run_once(impl.command(name), args.timeout)
        r = res[impl.name]
        if status != 0:
            r["error"] = describe_failure(impl, name, status, out, stderr)
        elif r["output"] is not None and out != r["output"]:
            r["error"] = "%s %s.%s: output changed between runs: %r then %r" % (
                impl.name, name, impl.ext, r["output"], out)
        else:
            r["output"] = out
            if rep_timed:
                r["wall"].append(wall)
                r["cpu"].append(cpu)
            return True
        live.remove(impl)
        log("  " + r["error"].replace("\n", "\n  "))
        return False

    rounds = ([False] if not args.no_warmup else []) + [True] * args.reps
    for i, timed in enumerate(rounds):
        for impl in round_order(live, i):
            record(impl, timed)
    outputs = {n: r["output"] for n, r in res.items() if r["error"] is None and r["output"] is not None}
    agree = len(set(outputs.values())) <= 1
    if not agree:
        log("  outputs differ: " + ", ".join("%s=%r" % kv for kv in outputs.items()))
    for r in res.values():
        r["median_wall"] = statistics.median(r["wall"]) if r["wall"] and r["error"] is None else None
        r["median_cpu"] = statistics.median(r["cpu"]) if r["cpu"] and r["error"] is None else None
        r["min_wall"] = min(r["wall"]) if r["wall"] and r["error"] is None else None
        r["max_wall"] = max(r["wall"]) if r["wall"] and r["error"] is None else None
    return res, agree


def round_order(impls, i):
    """The order of round I: as given, except that the new nsc and the
    baseline swap places every other round, so neither always runs right
    after the other's warm caches or right after python3."""
    order = list(impls)
    names = [x.name for x in order]
    if i % 2 and "nsc" in names and "baseline" in names:
        a, b = names.index("nsc"), names.index("baseline")
        order[a], order[b] = order[b], order[a]
    return order


def ratio(a, b):
    return a / b if a is not None and b else None


STARTUP_BLOCKS = 5  # alternating blocks of the new nsc's and the baseline's start-up runs


def startup_times(argv, runs, hyperfine, args, log):
    """RUNS wall-clock seconds of argv: hyperfine's, else timed from Python."""
    if hyperfine:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = " ".join(shell_quote(a) for a in argv)
            r = subprocess.run(
                [hyperfine, "-N", "--warmup", "5", "--runs", str(runs),
                 "--style", "none", "--export-json", tmp.name, cmd],
                capture_output=True, text=True)
            if r.returncode == 0:
                with open(tmp.name) as f:
                    return json.load(f)["results"][0]["times"]
            log("  hyperfine failed: " + r.stderr.strip()[:300])
    times = []
    for _ in range(runs):
        wall, *_ = run_once(argv, args.timeout)
        times.append(wall)
    return times


def block_sizes(runs, blocks):
    """RUNS split into at most BLOCKS blocks of at least 2 runs (hyperfine's
    minimum), as even as possible."""
    n = max(1, min(blocks, runs // 2))
    return [runs // n + (1 if i < runs % n else 0) for i in range(n)]


def startup(impls, args, log):
    """Median start-up in ms of each hello program. The new nsc and the
    baseline run in alternating blocks, the order swapping per block, so
    that a burst of load from elsewhere falls on both."""
    out = {}
    hyperfine = shutil.which("hyperfine")
    ok = []
    for impl in impls:
        argv = impl.command("hello")
        wall, _, status, text, stderr = run_once(argv, args.timeout)
        if status != 0 or text != "Hello, world!":
            log("  start-up: " + describe_failure(impl, "hello", status, text, stderr))
            out[impl.name] = None
        else:
            ok.append(impl)
    pair = [i for i in ok if i.name in ("nsc", "baseline")]
    if len(pair) == 2:
        times = {i.name: [] for i in pair}
        for b, runs in enumerate(block_sizes(args.startup_runs, STARTUP_BLOCKS)):
            for impl in (pair if b % 2 == 0 else pair[::-1]):
                times[impl.name] += startup_times(impl.command("hello"), runs, hyperfine, args, log)
        for name, t in times.items():
            out[name] = statistics.median(t) * 1000
    for impl in ok:
        if impl.name not in out:
            out[impl.name] = statistics.median(
                startup_times(impl.command("hello"), args.startup_runs, hyperfine, args, log)) * 1000
    out = {i.name: out[i.name] for i in impls}
    return out, ("hyperfine -N --warmup 5 --runs %d" % args.startup_runs) if hyperfine else \
        ("median of %d runs timed from Python" % args.startup_runs)


def shell_quote(s):
    return s if re.fullmatch(r"[\w./=:+-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def fmt_s(x):
    return "%.3f" % x if x is not None else "error"


def fmt_ratio(x):
    return "%.2fx" % x if x is not None else "-"


def main():
    args = parse_args()
    nsc = Impl("nsc", "ns", [args.nsc, "run"])
    lua = Impl("lua5.4", "lua", [args.lua])
    py = Impl("python3", "py", [args.python])
    impls = [nsc, lua, py]
    # Programs run by absolute path; the nsc binary too, so the working
    # directory does not matter.
    if os.sep in args.nsc:
        nsc.argv[0] = os.path.abspath(args.nsc)
    base = None
    if args.baseline:
        base = Impl("baseline", "ns", [args.baseline, "run"])
        if os.sep in args.baseline:
            base.argv[0] = os.path.abspath(args.baseline)
        impls.insert(1, base)
    log = lambda s: print(s, file=sys.stderr, flush=True)

    missing = [i.argv[0] for i in impls if not shutil.which(i.argv[0])]
    if missing:
        log("run.sh: not found or not executable: " + ", ".join(missing))
        if os.path.abspath(args.nsc) in [os.path.abspath(m) for m in missing]:
            log("run.sh: build nsc first: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build")
        return 1

    command = "tools/bench/run.sh" + "".join(" " + shell_quote(a) for a in sys.argv[1:])
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "reps": args.reps,
        "machine": machine_info(),
        "versions": versions(impls),
        "benchmarks": [],
    }
    if base:
        report["baseline"] = base.argv[0]
    m = report["machine"]
    log("machine: %s, %s cores, load %s" % (m["cpu"], m["nproc"], m["loadavg_at_start"]))
    for k, v in report["versions"].items():
        log("%s: %s" % (k, v))

    # A rebuild of nsc during the run would mix two builds in one table.
    nsc_path = shutil.which(nsc.argv[0])
    nsc_stamp = binary_stamp(nsc_path)
    base_path = shutil.which(base.argv[0]) if base else None
    base_stamp = binary_stamp(base_path) if base else None
    failed = False
    started = time.perf_counter()
    for name, what in BENCHMARKS:
        if name not in args.only:
            continue
        log("%s (%s): %d runs of each, interleaved" % (name, what, args.reps))
        res, agree = bench_one(name, impls, args, log)
        failed |= not agree or any(r["error"] for r in res.values())
        report["benchmarks"].append({
            "name": name,
            "what": what,
            "outputs_agree": agree,
            "results": res,
            "nsc_over_lua": ratio(res["nsc"]["median_wall"], res["lua5.4"]["median_wall"]),
            "nsc_over_python": ratio(res["nsc"]["median_wall"], res["python3"]["median_wall"]),
        })
        if base:
            report["benchmarks"][-1]["new_over_baseline"] = ratio(
                res["nsc"]["median_wall"], res["baseline"]["median_wall"])
            report["benchmarks"][-1]["new_over_baseline_cpu"] = ratio(
                res["nsc"]["median_cpu"], res["baseline"]["median_cpu"])

    if not args.no_startup:
        log("start-up: hello programs")
        report["startup_ms"], report["startup_method"] = startup(impls, args, log)
        failed |= report["startup_ms"].get("nsc") is None
        if base:
            failed |= report["startup_ms"].get("baseline") is None
            report["startup_new_over_baseline"] = ratio(
                report["startup_ms"].get("nsc"), report["startup_ms"].get("baseline"))
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    if binary_stamp(nsc_path) != nsc_stamp:
        log("run.sh: %s changed during the run; the nsc figures mix two builds" % nsc_path)
        report["nsc_binary_changed"] = True
        failed = True
    if base and binary_stamp(base_path) != base_stamp:
        log("run.sh: %s changed during the run; the baseline figures mix two builds" % base_path)
        report["baseline_binary_changed"] = True
        failed = True
    report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        log("wrote " + os.path.relpath(args.json))
    return 1 if failed else 0


def print_table(report):
    m, v = report["machine"], report["versions"]
    has_base = "baseline" in report
    print()
    print("Machine: %s, %s cores, %s RAM, Linux %s (load %s at start, %s at end)" % (
        m["cpu"], m["nproc"], m["memory"], m["kernel"],
        " ".join(map(str, m["loadavg_at_start"])), " ".join(map(str, m["loadavg_at_end"]))))
    print("nsc: %s%s; %s; %s" % (
        v["nsc"], " (commit %s)" % v["nsc_commit"] if v["nsc_commit"] else "", v["lua5.4"], v["python3"]))
    if has_base:
        print("baseline: %s (%s)" % (v.get("baseline"), report["baseline"]))
    print("Median wall-clock seconds of %d interleaved runs; ratios are of the medians." % report["reps"])
    if has_base:
        print("new/baseline is the new nsc's median over the baseline's: below 1.00x the new build is faster.")
    print()
    # (header, cell of a benchmark) of the columns that exist only with a baseline
    base_cols = [("baseline (s)", lambda b: fmt_s(b["results"]["baseline"]["median_wall"])),
                 ("new/baseline", lambda b: fmt_ratio(b["new_over_baseline"]))] if has_base else []
    cols = [("nsc (s)", lambda b: fmt_s(b["results"]["nsc"]["median_wall"]))] + base_cols + [
        ("lua5.4 (s)", lambda b: fmt_s(b["results"]["lua5.4"]["median_wall"])),
        ("python3 (s)", lambda b: fmt_s(b["results"]["python3"]["median_wall"])),
        ("nsc/lua", lambda b: fmt_ratio(b["nsc_over_lua"])),
        ("nsc/python3", lambda b: fmt_ratio(b["nsc_over_python"]))]
    print("| benchmark | " + " | ".join(c[0] for c in cols) + " | outputs |")
    print("|---|" + "---:|" * len(cols) + "---|")
    for b in report["benchmarks"]:
        r = b["results"]
        outs = {x["output"] for x in r.values() if x["output"] is not None and x["error"] is None}
        agree = "agree" if b["outputs_agree"] and all(x["error"] is None for x in r.values()) else \
            ("DIFFER" if not b["outputs_agree"] else "error")
        shown = next(iter(outs)) if len(outs) == 1 else ""
        print("| %s | %s | %s%s |" % (b["name"], " | ".join(c[1](b) for c in cols), agree,
                                      " `%s`" % shown if shown else ""))
    ms = lambda x: "%.2f ms" % x if x is not None else "error"
    if has_base and "startup_ms" in report:
        s = report["startup_ms"]
        cells = {"nsc (s)": ms(s.get("nsc")), "baseline (s)": ms(s.get("baseline")),
                 "new/baseline": fmt_ratio(report["startup_new_over_baseline"]),
                 "lua5.4 (s)": ms(s.get("lua5.4")), "python3 (s)": ms(s.get("python3")),
                 "nsc/lua": fmt_ratio(ratio(s.get("nsc"), s.get("lua5.4"))),
                 "nsc/python3": fmt_ratio(ratio(s.get("nsc"), s.get("python3")))}
        print("| start-up (hello) | %s | |" % " | ".join(cells[c[0]] for c in cols))
    print()
    print("CPU seconds (user+sys, median) and wall-clock range (min-max) of the same runs:")
    print()
    names = ["nsc", "baseline", "lua5.4", "python3"] if has_base else ["nsc", "lua5.4", "python3"]
    print("| benchmark | " + " | ".join(n + " cpu" for n in names) +
          (" | new/baseline cpu" if has_base else "") + " | nsc/lua cpu | nsc/python3 cpu | " +
          " | ".join(n + " range" for n in names) + " |")
    print("|---|" + "---:|" * (2 * len(names) + 2 + has_base))
    for b in report["benchmarks"]:
        r = b["results"]
        cpu = {n: r[n]["median_cpu"] for n in names}
        rng = lambda x: "%.3f-%.3f" % (x["min_wall"], x["max_wall"]) if x["min_wall"] is not None else "-"
        cells = [fmt_s(cpu[n]) for n in names]
        if has_base:
            cells.append(fmt_ratio(b["new_over_baseline_cpu"]))
        cells += [fmt_ratio(ratio(cpu["nsc"], cpu["lua5.4"])), fmt_ratio(ratio(cpu["nsc"], cpu["python3"]))]
        cells += [rng(r[n]) for n in names]
        print("| %s | %s |" % (b["name"], " | ".join(cells)))
    if "startup_ms" in report:
        s = report["startup_ms"]
        print()
        print("Start-up (hello world, %s): nsc run hello.ns %s; %slua5.4 %s; python3 %s" % (
            report["startup_method"], ms(s.get("nsc")),
            "baseline %s (new/baseline %s); " % (ms(s.get("baseline")), fmt_ratio(report["startup_new_over_baseline"]))
            if has_base else "",
            ms(s.get("lua5.4")), ms(s.get("python3"))))
    print()
    print("Targets: nsc/lua <= %.1fx, nsc/python3 < 1.0x, start-up <= %.0f ms" % (
        TARGET_VS_LUA, TARGET_STARTUP_MS))
    for b in report["benchmarks"]:
        rl, rp = b["nsc_over_lua"], b["nsc_over_python"]
        if rl is None:
            print("  %-8s no result" % b["name"])
            continue
        print("  %-8s vs lua %s, vs python3 %s" % (
            b["name"], "met" if rl <= TARGET_VS_LUA else "missed",
            "met" if rp is not None and rp < 1.0 else "missed"))
    if "startup_ms" in report and report["startup_ms"].get("nsc") is not None:
        print("  %-8s %s" % ("start-up", "met" if report["startup_ms"]["nsc"] <= TARGET_STARTUP_MS else "missed"))


if __name__ == "__main__":
    sys.exit(main())
