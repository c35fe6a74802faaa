"""Checks of the reference evaluator against hand-written programs whose
output is derived from docs/LANGUAGE.md, so a mistake in the reference does
not show up as a compiler bug (or hide one). Each case also checks the
rendered source text, which is what nsc is given.

Run: tools/difftest/run.sh --selftest
"""

import sys

from nsref import N, Block, evaluate, render_program, Invalid


def I(v):
    return N("int", v=v)


def F(v):
    return N("float", v=v)


def V(name):
    return N("var", name=name)


def B(op, left, right):
    return N("bin", op=op, l=left, r=right)


def let(name, e, mut=False):
    return N("let", name=name, mut=mut, e=e, ann=None)


def pr(*args):
    return N("print", args=list(args))


def asg(target, op, e):
    return N("assign", target=V(target) if isinstance(target, str) else target, op=op, e=e)


def call(f, *args):
    return N("call", f=V(f) if isinstance(f, str) else f, args=list(args))


def clo(params, stmts, tail):
    return N("closure", params=params, b=Block(stmts, tail))


def prog(*stmts):
    return N("prog", stmts=list(stmts))


MAX = (1 << 63) - 1

# (name, program, expected stdout lines, expected runtime error kind or None,
#  expected source text or None)
CASES = [
    ("int division truncates, % has the dividend's sign",
     prog(pr(B("/", I(7), I(2)), B("/", I(-7), I(2)), B("%", I(-7), I(3)), B("%", I(7), I(-3)))),
     ["3 -3 -1 1"], None, 'println!("{} {} {} {}", 7 / 2, (-7) / 2, (-7) % 3, 7 % (-3))\n'),
    ("overflow is a runtime error; the line being built is not printed",
     prog(pr(I(1)), pr(I(2), B("+", I(MAX), I(1)))),
     ["1"], "integer overflow", None),
    ("division by zero, float IEEE division and fmod",
     prog(pr(B("/", F(1.0), F(0.0)), B("%", F(-7.5), F(2.0)), B("/", I(1), F(4.0))),
          pr(B("/", I(1), I(0)))),
     ["inf -1.5 0.25"], "division by zero", None),
    ("float display: shortest text that reads back, .0 on whole values",
     prog(pr(B("+", F(0.1), F(0.2)), B("*", F(2.5), I(4)), B("*", F(100.0), F(1e20)), N("tofloat", e=I(3)))),
     ["0.30000000000000004 10.0 1e+22 3.0"], None, None),
    ("precedence is rendered with the fewest parentheses",
     prog(pr(B("*", B("+", I(1), I(2)), B("-", I(3), B("-", I(4), I(5)))))),
     ["12"], None, 'println!("{}", (1 + 2) * (3 - (4 - 5)))\n'),
    ("lists are shared; clone copies; index out of range",
     prog(let("xs", N("list", elems=[I(1), I(2), I(3)]), True), let("ys", V("xs")),
          let("zs", N("clone", l=V("xs"))), N("push", l=V("ys"), e=I(4)),
          asg(N("index", l=V("xs"), i=I(0)), "+=", I(10)),
          pr(V("xs"), V("ys"), V("zs"), N("len", l=V("zs"))),
          pr(N("index", l=V("zs"), i=I(3)))),
     ["[11, 2, 3, 4] [11, 2, 3, 4] [1, 2, 3] 3"], "out of range", None),
    ("shadowing in a block; a top-level block's let is not a global",
     prog(let("x", I(1)), N("block", b=Block([let("x", I(2)), pr(V("x"))])), pr(V("x"))),
     ["2", "1"], None, None),
    ("a function sees the latest top-level let of a global",
     prog(N("fn", name="f", params=[], ret="int", b=Block([], V("x"))),
          let("x", I(1)), pr(call("f")), let("x", I(2)), pr(call("f"))),
     ["1", "2"], None, None),
    ("a for variable named like a global is a fresh local per iteration",
     prog(let("i", I(100)), let("fs", N("list", elems=[]), True),
          N("fn", name="g", params=[], ret="int", b=Block([], V("i"))),
          N("for", var="i", lo=I(0), hi=I(3),
            b=Block([N("push", l=V("fs"), e=clo([], [], B("*", V("i"), I(10)))), pr(V("i"), call("g"))])),
          pr(call(N("index", l=V("fs"), i=I(0))), call(N("index", l=V("fs"), i=I(2))), V("i"))),
     ["0 100", "1 100", "2 100", "0 20 100"], None, None),
    ("closures capture by reference; later lets do not affect them",
     prog(N("block", b=Block([
         let("c", I(1), True),
         let("bump", clo([], [asg("c", "+=", I(10))], V("c"))),
         N("expr", e=call("bump")),
         let("c", I(5)),
         pr(V("c"), call("bump"))]))),
     ["5 21"], None, None),
    ("operands left to right: v + h() and v += h() read v before the call",
     prog(N("block", b=Block([
         let("v", I(1), True),
         let("h", clo([], [asg("v", "=", I(10))], I(0))),
         pr(B("+", V("v"), call("h"))),
         asg("v", "=", I(5)),
         let("k", clo([], [asg("v", "=", I(100))], I(1))),
         asg("v", "+=", call("k")),
         pr(V("v"))]))),
     ["1", "6"], None, None),
    ("xs[i] += h() evaluates xs, i and the element before h",
     prog(let("xs", N("list", elems=[I(1), I(2), I(3)]), True), let("j", I(0), True),
          let("g", clo([], [asg("j", "=", I(2)), asg(N("index", l=V("xs"), i=I(0)), "=", I(50))], I(9))),
          asg(N("index", l=V("xs"), i=V("j")), "+=", call("g")), pr(V("xs"), V("j"))),
     ["[10, 2, 3] 2"], None, None),
    ("bounded loops: while, loop with break/continue, loop as a value",
     prog(let("t", I(0), True),
          N("while", counter="w1", bound=4, b=Block([
              asg("t", "+=", I(1)),
              N("if", c=B("==", V("t"), I(2)), t=Block([N("continue")]), e=None),
              pr(V("t"))])),
          N("loop", counter="w2", bound=10, b=Block([
              N("if", c=B(">", V("t"), I(5)), t=Block([N("break")]), e=None), asg("t", "*=", I(2))])),
          pr(V("t"), N("loope", counter="w3", bound=3, b=Block([]), final=I(7)))),
     ["1", "3", "4", "8 7"], None, None),
    ("recursion with a bounded depth; float parameter converts an int",
     prog(N("fn", name="r", params=[("depth", "int"), ("s", "float")], ret="int",
            b=Block([N("if", c=B("<=", V("depth"), I(0)), t=Block([N("return", e=I(1))]), e=None)],
                    B("*", call("r", B("-", V("depth"), I(1)), V("s")), I(2)))),
          pr(call("r", I(5), I(1)))),
     ["32"], None, None),
]


def main(nsc=None, extra=None):
    failed = 0
    for name, p, out, kind, src in CASES:
        problems = []
        try:
            got, err = evaluate(p)
            if got != out:
                problems.append(f"output {got!r}, want {out!r}")
            if err != kind:
                problems.append(f"error {err!r}, want {kind!r}")
        except Invalid as e:
            problems.append(f"outside the model: {e}")
        if src is not None and render_program(p) != src:
            problems.append(f"source {render_program(p)!r}, want {src!r}")
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        elif nsc:
            # For information only: where nsc differs, the case is a compiler
            # finding (or a semantic question), not a failure of the reference.
            import difftest
            import tempfile
            with tempfile.TemporaryDirectory() as d:
                act = difftest.run_nsc(nsc, extra or [], render_program(p), d)
            exp = ("".join(line + "\n" for line in out), 1 if kind else 0, kind)
            v = difftest.verdict(exp, act)
            if v:
                print(f"note: nsc differs ({v}) on: {name}")
    print(f"selftest: {len(CASES) - failed}/{len(CASES)} reference checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
