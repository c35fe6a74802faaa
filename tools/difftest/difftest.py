#!/usr/bin/python3
"""Differential tester for NeuralScript: random programs are run by `nsc run`
and by a reference evaluator (nsref.py); any difference in stdout, exit
status or runtime-error kind is a finding.

usage: difftest.py [--seeds A..B | --minutes N] [--nsc PATH] [--out DIR]
                   [--no-FEATURE ...] [--no-minimize] [--quiet]
                   [--max-findings N] [--show SEED] [--selftest]
                   [-- EXTRA_NSC_ARGS...]

  --seeds A..B      run seeds A to B inclusive (default 0..99); A..B with
                    --minutes stops at whichever comes first; A.. needs
                    --minutes; a single number is one seed
  --minutes N       run consecutive seeds from A for N minutes
  --nsc PATH        the compiler driver (default: build/nsc of this tree)
  --out DIR         where failing programs are saved (default /tmp/difftest)
  --no-FEATURE      leave a feature class out of the programs; FEATURE is one
                    of: shadow-globals side-effects closures floats lists
                    functions errors
  --no-minimize     report mismatches without shrinking them
  --quiet           one line per mismatch instead of the outputs
  --max-findings N  stop after N mismatching seeds (default: no limit)
  --show SEED       print the program of SEED and the expected output, run nothing
  --selftest        check the reference evaluator on hand-written programs
  -- ARGS           extra arguments for nsc, placed before `run FILE`:
                    `nsc ARGS run FILE` (e.g. a JIT switch)

Exit status: 0 when every seed agreed, 1 when some mismatched, 64 on a bad
command line. Each mismatch is reported with its seed, the saved program,
the expected and the actual output, and (unless --no-minimize) the path of
a minimized program that still mismatches. To reproduce seed N run
`--seeds N..N` (the same generator flags give the same program).
"""

import copy
import os
import subprocess
import sys
import tempfile
import time

sys.setrecursionlimit(20000)
sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen  # noqa: E402
import nsref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 10


def expected_of(prog):
    """(stdout text, exit status, error kind) predicted for prog; raises
    nsref.Invalid when the program is outside the model."""
    out, err = nsref.evaluate(prog)
    text = "".join(line + "\n" for line in out)
    return text, (1 if err else 0), err


def run_nsc(nsc, extra, source, workdir):
    path = os.path.join(workdir, "prog.ns")
    with open(path, "w") as f:
        f.write(source)
    try:
        p = subprocess.run([nsc] + extra + ["run", path], capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "", "timeout", -999
    return (p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), p.returncode)


def verdict(exp, act):
    """None when they agree, else a short class of the difference."""
    etext, erc, ekind = exp
    atext, aerr, arc = act
    if arc == -999:
        return "timeout"
    if arc < 0 or arc >= 128:
        return "crash"
    if arc == 2:
        return "compile-error"
    if arc != erc:
        return "exit-status"
    if ekind:
        msg = next((line for line in aerr.splitlines() if "runtime error: " in line), "")
        if ekind not in msg:
            return "error-kind"
    if atext != etext:
        return "stdout"
    return None


class Checker:
    def __init__(self, nsc, extra, workdir):
        self.nsc, self.extra, self.workdir = nsc, extra, workdir
        self.runs = 0

    def check(self, prog):
        """(verdict, expected, actual) or None when prog is outside the model."""
        try:
            exp = expected_of(prog)
        except nsref.Invalid:
            return None
        act = run_nsc(self.nsc, self.extra, nsref.render_program(prog), self.workdir)
        self.runs += 1
        return verdict(exp, act), exp, act


# ---- minimization ----------------------------------------------------------

def stmt_lists(node, acc):
    """Every statement list in the tree (program and block bodies)."""
    if isinstance(node, nsref.Node):
        if node.kind in ("prog", "blk"):
            acc.append(node.stmts)
        for v in node.__dict__.values():
            stmt_lists(v, acc)
    elif isinstance(node, list):
        for x in node:
            stmt_lists(x, acc)
    return acc


def expr_slots(node, acc, parent=None, key=None):
    """(holder, key) of every expression that could be replaced."""
    if isinstance(node, nsref.Node):
        for k, v in node.__dict__.items():
            if isinstance(v, nsref.Node) and v.kind not in ("blk", "prog") and k not in ("target", "f"):
                acc.append((node, k))
            if isinstance(v, (nsref.Node, list)):
                expr_slots(v, acc, node, k)
    elif isinstance(node, list):
        for x in node:
            expr_slots(x, acc, parent, key)
    return acc


def minimize(prog, checker, want, log=None, max_runs=3000):
    """Shrinks prog while checker still reports the verdict `want`."""
    prog = copy.deepcopy(prog)
    start = checker.runs

    def still(candidate):
        if checker.runs - start > max_runs:
            return False
        r = checker.check(candidate)
        return r is not None and r[0] == want

    changed = True
    while changed and checker.runs - start <= max_runs:
        changed = False
        # 1. delete chunks of statements, larger chunks first (ddmin-like).
        li = 0
        while True:
            lists = stmt_lists(prog, [])
            if li >= len(lists):
                break
            lst = lists[li]
            chunk = max(1, len(lst) // 2)
            while chunk >= 1:
                i = 0
                while i < len(lst):
                    saved = lst[i:i + chunk]
                    del lst[i:i + chunk]
                    if still(prog):
                        changed = True
                    else:
                        lst[i:i] = saved
                        i += chunk
                chunk //= 2
            li += 1
        # 2. replace a compound statement by its body.
        for lst in stmt_lists(prog, []):
            i = 0
            while i < len(lst):
                s = lst[i]
                inner = None
                if s.kind in ("block", "for", "forlist", "while", "loop"):
                    inner = s.b.stmts
                elif s.kind == "if":
                    inner = s.t.stmts
                if inner is not None:
                    lst[i:i + 1] = inner
                    if still(prog):
                        changed = True
                        continue
                    lst[i:i + len(inner)] = [s]
                i += 1
        # 3. replace an expression by one of its operands or a small literal.
        for holder, key in expr_slots(prog, []):
            e = getattr(holder, key)
            cands = []
            if e.kind == "bin":
                cands += [e.l, e.r]
            elif e.kind in ("un", "tofloat"):
                cands.append(e.e)
            elif e.kind in ("ife", "blocke"):
                cands.append(e.t.tail if e.kind == "ife" else e.b.tail)
            elif e.kind == "call":
                cands += e.args
            elif e.kind == "list" and len(e.elems) > 1:
                cands.append(nsref.N("list", elems=e.elems[:len(e.elems) - 1]))
            if e.kind not in ("int", "float", "bool", "closure", "list"):
                cands += [nsref.N("int", v=0), nsref.N("int", v=1)]
            elif e.kind == "int" and e.v not in (0, 1):
                cands += [nsref.N("int", v=0), nsref.N("int", v=1)]
            for c in cands:
                if c is None:
                    continue
                setattr(holder, key, c)
                if still(prog):
                    changed = True
                    break
                setattr(holder, key, e)
    if log:
        log(f"  minimized with {checker.runs - start} runs")
    return prog


def as_test(prog, exp, header):
    """prog's source with the reference's expectations as the `// expect:`
    annotations of tests/runner.c."""
    text, rc, kind = exp
    lines = [f"// {h}" for h in header]
    lines.append(nsref.render_program(prog).rstrip("\n"))
    lines += [f"// expect: {line}" for line in text.splitlines()]
    if kind == "out of range":
        lines += ["// expect stderr: out of range for list", "// exit: 1"]
    elif kind:
        lines.append(f"// expect runtime error: {kind}")
    return "\n".join(lines) + "\n"


def save(base, prog, exp, seed, flags, what):
    with open(base + ".ns", "w") as f:
        f.write(nsref.render_program(prog))
    with open(base + ".test.ns", "w") as f:
        f.write(as_test(prog, exp, [f"{what} program of difftest seed {seed}{' ' + flags if flags else ''};",
                                    "the expectations are the reference evaluator's."]))


# ---- driver ------------------------------------------------------------------

def parse_args(argv):
    opts = {"seeds": (0, 99), "minutes": None, "nsc": os.path.join(ROOT, "build", "nsc"),
            "out": "/tmp/difftest", "features": {k: True for k in gen.FEATURES},
            "minimize": True, "extra": [], "show": None, "selftest": False,
            "max_findings": None, "quiet": False}
    i = 0
    while i < len(argv):
        a = argv[i]

        def val():
            nonlocal i
            i += 1
            if i >= len(argv):
                usage_error(f"{a} needs a value")
            return argv[i]

        if a == "--":
            opts["extra"] = argv[i + 1:]
            break
        elif a == "--seeds":
            v = val()
            try:
                lo, dots, hi = v.partition("..")
                opts["seeds"] = (int(lo), int(hi) if hi else (None if dots else int(lo)))
            except ValueError:
                usage_error(f"--seeds wants A..B, got {v}")
        elif a == "--minutes":
            try:
                opts["minutes"] = float(val())
            except ValueError:
                usage_error("--minutes wants a number")
        elif a == "--nsc":
            opts["nsc"] = val()
        elif a == "--out":
            opts["out"] = val()
        elif a == "--no-minimize":
            opts["minimize"] = False
        elif a == "--quiet":
            opts["quiet"] = True
        elif a == "--max-findings":
            opts["max_findings"] = int(val())
        elif a == "--show":
            opts["show"] = int(val())
        elif a == "--selftest":
            opts["selftest"] = True
        elif a.startswith("--no-") and a[5:] in gen.FEATURES:
            opts["features"][a[5:]] = False
        elif a.startswith("--") and a[2:] in gen.FEATURES:
            opts["features"][a[2:]] = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        else:
            usage_error(f"unknown argument {a}")
        i += 1
    return opts


def usage_error(msg):
    print(f"difftest: {msg} (try --help)", file=sys.stderr)
    sys.exit(64)


def indent(text):
    return "".join("    | " + line + "\n" for line in text.splitlines()) or "    | (nothing)\n"


def describe(exp, act):
    etext, erc, ekind = exp
    atext, aerr, arc = act
    s = f"  expected (exit {erc}{', runtime error: ' + ekind if ekind else ''}):\n{indent(etext)}"
    s += f"  actual (exit {arc}):\n{indent(atext)}"
    err = [line for line in aerr.splitlines() if "error" in line][:1]
    if err:
        s += f"  actual stderr: {err[0]}\n"
    return s


def main(argv):
    opts = parse_args(argv)
    if opts["selftest"]:
        import selftest
        return selftest.main(opts["nsc"], opts["extra"])
    feats = opts["features"]
    if opts["show"] is not None:
        prog = gen.generate(opts["show"], feats)
        sys.stdout.write(nsref.render_program(prog))
        try:
            text, rc, kind = expected_of(prog)
            print(f"// expected exit {rc}{' (runtime error: ' + kind + ')' if kind else ''}:")
            sys.stdout.write("".join("// " + line + "\n" for line in text.splitlines()))
        except nsref.Invalid as e:
            print(f"// outside the model: {e}")
        return 0
    if not os.access(opts["nsc"], os.X_OK):
        usage_error(f"no executable nsc at {opts['nsc']} (build first, or give --nsc)")
    os.makedirs(opts["out"], exist_ok=True)
    work = tempfile.mkdtemp(prefix="difftest.")
    checker = Checker(opts["nsc"], opts["extra"], work)
    lo, hi = opts["seeds"]
    if hi is None and opts["minutes"] is None:
        usage_error("an open seed range A.. needs --minutes")
    deadline = time.time() + opts["minutes"] * 60 if opts["minutes"] is not None else None
    t0 = time.time()
    ran = skipped = 0
    findings = []
    seed = lo
    off = [k for k, v in feats.items() if not v]
    tag = "".join("-no-" + k for k in off)
    while True:
        if deadline is not None:
            if time.time() >= deadline or (hi is not None and seed > hi):
                break
        elif hi is not None and seed > hi:
            break
        prog = gen.generate(seed, feats)
        r = checker.check(prog)
        if r is None:
            skipped += 1
        else:
            ran += 1
            v, exp, act = r
            if v is not None:
                base = os.path.join(opts["out"], f"seed{seed}{tag}")
                flags = " ".join("--no-" + k for k in off)
                save(base, prog, exp, seed, flags, "A")
                msg = f"MISMATCH seed {seed} ({v}): {base}.ns\n"
                if not opts["quiet"]:
                    msg += describe(exp, act)
                if opts["minimize"]:
                    small = minimize(prog, checker, v)
                    sr = checker.check(small)
                    save(base + ".min", small, sr[1], seed, flags, "The minimized")
                    msg += f"  minimized: {base}.min.ns (with expectations: {base}.min.test.ns)\n"
                    if not opts["quiet"]:
                        msg += indent(nsref.render_program(small)) + describe(sr[1], sr[2])
                print(msg, end="", flush=True)
                findings.append(seed)
                if opts["max_findings"] and len(findings) >= opts["max_findings"]:
                    break
        seed += 1
    secs = time.time() - t0
    flags = " ".join("--no-" + k for k in off)
    print(f"difftest: {ran} programs compared, {skipped} outside the model, "
          f"{len(findings)} mismatched, {secs:.1f} s{' (' + flags + ')' if flags else ''}"
          f"; seeds {lo}..{seed - 1}")
    if findings:
        print("mismatching seeds: " + " ".join(str(s) for s in findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
