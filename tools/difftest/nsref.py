"""The program model of the differential tester: a small AST for a subset of
NeuralScript, its rendering to source text, and a reference evaluator that
implements the documented semantics (docs/LANGUAGE.md) of that subset.

Semantics the evaluator implements (and so predicts):
  * int is i64; `+ - *` and unary `-` outside the range are the runtime error
    "integer overflow"; `/` truncates toward zero, `%` has the sign of the
    dividend, a zero divisor is "division by zero"; i64::MIN / -1 overflows.
  * float is f64; an int operand of a mixed operation is converted; float
    `/` and `%` follow IEEE (fmod), so they never fail.
  * comparisons of ints and floats are exact; `&&` `||` short-circuit.
  * operands are evaluated strictly left to right: the left operand of a
    binary operator, the callee, then the arguments; `v op= e` reads `v`
    before evaluating `e`; `xs[i] op= e` evaluates `xs`, `i`, reads the
    element, then `e`, then stores; `xs[i] = e` evaluates `xs`, `i`, then `e`.
  * lists are shared by reference; `xs.clone()` copies.
  * bindings are lexical; `let` shadows; closures and nested fn items
    capture variables by reference; a `for` loop variable is a fresh
    variable in every iteration.
  * top-level `let`s are module globals, looked up by name when used (a
    function sees the latest top-level binding of the name); `let`s in a
    block at top level, loop variables and parameters are locals.
  * println! evaluates all its arguments left to right, then formats the
    line (a list shows its state after every argument ran) and prints it
    (nothing of a line whose argument fails is printed).
  * runtime errors stop the program with exit status 1.

Anything outside this model (a type error, an unbound name, a step budget
exceeded) raises Invalid: such a program says nothing about the compiler.
"""

import math

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


class Node:
    """One AST node: `kind` plus named fields. Blocks are Block nodes whose
    `stmts` list is what the minimizer shrinks."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.__dict__.update(fields)

    def __repr__(self):
        f = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if k != "kind")
        return f"{self.kind}({f})"


def N(kind, **fields):
    return Node(kind, **fields)


def Block(stmts, tail=None):
    return Node("blk", stmts=stmts, tail=tail)


# ---- rendering ------------------------------------------------------------

# Binding strength of the binary operators (higher binds tighter).
PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
        "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def fmt_float_lit(v):
    r = repr(v)
    if "e" in r or "." in r:
        return r
    return r + ".0"


def render_expr(e):
    k = e.kind
    if k == "int":
        return str(e.v) if e.v >= 0 else f"({e.v})" if e.v != I64_MIN else "(-9223372036854775807 - 1)"
    if k == "float":
        return fmt_float_lit(e.v) if e.v >= 0 else f"(-{fmt_float_lit(-e.v)})"
    if k == "bool":
        return "true" if e.v else "false"
    if k == "var":
        return e.name
    if k == "bin":
        p = PREC[e.op]
        ls = render_expr(e.l)
        rs = render_expr(e.r)
        # Comparisons do not chain: both sides of one are parenthesized when
        # they are comparisons too; otherwise left associativity.
        if e.l.kind == "bin" and (PREC[e.l.op] < p or (p == 3 and PREC[e.l.op] == 3)):
            ls = f"({ls})"
        if e.r.kind == "bin" and PREC[e.r.op] <= p:
            rs = f"({rs})"
        return f"{ls} {e.op} {rs}"
    if k == "un":
        return f"({e.op}{atom(e.e)})"
    if k == "tofloat":
        return f"({atom(e.e)} as f64)"
    if k == "call":
        return f"{atom(e.f)}({', '.join(render_expr(a) for a in e.args)})"
    if k == "index":
        return f"{atom(e.l)}[{render_expr(e.i)}]"
    if k == "len":
        return f"{atom(e.l)}.len()"
    if k == "clone":
        return f"{atom(e.l)}.clone()"
    if k == "list":
        return "[" + ", ".join(render_expr(x) for x in e.elems) + "]"
    if k == "ife":
        return f"(if {render_expr(e.c)} {render_inline(e.t)} else {render_inline(e.e)})"
    if k == "blocke":
        return f"({render_inline(e.b)})"
    if k == "loope":
        w = e.counter
        head = f"let mut {w} = 0; loop {{ {w} += 1; if {w} > {e.bound} {{ break {render_expr(e.final)} }}"
        body = "; ".join(render_stmt_inline(s) for s in e.b.stmts)
        return f"({{ {head}; {body} }} }})" if body else f"({{ {head} }} }})"
    if k == "closure":
        ps = ", ".join(f"{n}: {t}" for n, t in e.params)
        return f"(|{ps}| {render_inline(e.b)})"
    raise ValueError(k)


def atom(e):
    s = render_expr(e)
    if e.kind in ("bin",):
        return f"({s})"
    return s


def render_inline(b):
    """A block on one line (inside an expression)."""
    parts = [render_stmt_inline(s) for s in b.stmts]
    if b.tail is not None:
        parts.append(render_expr(b.tail))
    return "{ " + "; ".join(parts) + " }" if parts else "{ }"


def render_stmt_inline(s):
    return "\n".join(render_stmt(s, 0, inline=True))


def render_block(b, ind, inline):
    if inline:
        return [render_inline(b)]
    lines = ["{"]
    for s in b.stmts:
        lines += render_stmt(s, ind + 1, False)
    if b.tail is not None:
        lines.append("    " * (ind + 1) + render_expr(b.tail))
    lines.append("    " * ind + "}")
    return lines


def _join(head, blk, ind, inline):
    """`head {` + block lines; the first block line is glued to head."""
    lines = render_block(blk, ind, inline)
    lines[0] = head + lines[0]
    return lines


def render_stmt(s, ind, inline=False):
    pad = "" if inline else "    " * ind
    k = s.kind
    if k == "let":
        ann = f": {s.ann}" if getattr(s, "ann", None) else ""
        return [f"{pad}let {'mut ' if s.mut else ''}{s.name}{ann} = {render_expr(s.e)}"]
    if k == "assign":
        return [f"{pad}{render_expr(s.target)} {s.op} {render_expr(s.e)}"]
    if k == "push":
        return [f"{pad}{atom(s.l)}.push({render_expr(s.e)})"]
    if k == "print":
        fmt = " ".join("{}" for _ in s.args)
        args = "".join(", " + render_expr(a) for a in s.args)
        return [f'{pad}println!("{fmt}"{args})']
    if k == "expr":
        return [f"{pad}{render_expr(s.e)}"]
    if k == "if":
        lines = _join(f"{pad}if {render_expr(s.c)} ", s.t, ind, inline)
        if s.e is not None:
            el = render_block(s.e, ind, inline)
            lines[-1] = lines[-1] + " else " + el[0]
            lines += el[1:]
        return _glue(lines, inline)
    if k == "for":
        return _glue(_join(f"{pad}for {s.var} in {atom(s.lo)}..{atom(s.hi)} ", s.b, ind, inline), inline)
    if k == "forlist":
        return _glue(_join(f"{pad}for {s.var} in {render_expr(s.l)} ", s.b, ind, inline), inline)
    if k in ("while", "loop"):
        w = s.counter
        if k == "while":
            head = f"{pad}while {w} < {s.bound} "
            pre = f"{w} += 1"
        else:
            head = f"{pad}loop "
            pre = f"{w} += 1; if {w} > {s.bound} {{ break }}"
        # The counter update is part of the node, not a statement of the body,
        # so the minimizer can never make a loop unbounded.
        body = Block([N("raw", text=pre)] + s.b.stmts, None)
        lines = _glue(_join(head, body, ind, inline), inline)
        if inline:
            return [f"{pad}let mut {w} = 0; " + lines[0].lstrip()]
        return [f"{pad}let mut {w} = 0"] + lines
    if k == "raw":
        return [pad + s.text]
    if k == "break":
        return [f"{pad}break"]
    if k == "breakv":
        return [f"{pad}break {render_expr(s.e)}"]
    if k == "continue":
        return [f"{pad}continue"]
    if k == "return":
        return [f"{pad}return {render_expr(s.e)}" if s.e is not None else f"{pad}return"]
    if k == "block":
        return _glue(render_block(s.b, ind, inline), inline, pad)
    if k == "fn":
        ps = ", ".join(f"{n}: {t}" for n, t in s.params)
        ret = f" -> {s.ret}" if s.ret else ""
        return _glue(_join(f"{pad}fn {s.name}({ps}){ret} ", s.b, ind, inline), inline)
    raise ValueError(k)


def _glue(lines, inline, pad=""):
    if inline:
        return [" ".join(lines)]
    if pad:
        lines[0] = pad + lines[0]
    return lines


def render_program(prog):
    lines = []
    for s in prog.stmts:
        lines += render_stmt(s, 0)
    return "\n".join(lines) + "\n"


# ---- evaluation -----------------------------------------------------------

class Invalid(Exception):
    """The program is outside the modelled subset (e.g. after minimization
    removed a binding): it cannot be compared."""


class NSError(Exception):
    """A NeuralScript runtime error; `kind` is a substring of its message."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class BreakEx(Exception):
    def __init__(self, value=None):
        self.value = value


class ContinueEx(Exception):
    pass


class ReturnEx(Exception):
    def __init__(self, value):
        self.value = value


class Unit:
    def __repr__(self):
        return "()"


UNIT = Unit()


class Cell:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class NSList:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


class Closure:
    def __init__(self, name, params, ret, body, env):
        self.name, self.params, self.ret, self.body, self.env = name, params, ret, body, env


class Env:
    """An immutable frame chain: one binding per frame, so a closure keeps
    exactly the bindings visible where it was created (a later `let` of the
    same name in the same block does not affect it)."""
    __slots__ = ("name", "cell", "parent")

    def __init__(self, name, cell, parent):
        self.name, self.cell, self.parent = name, cell, parent


def _live(lst):
    i = 0
    while i < len(lst.items):
        yield lst.items[i]
        i += 1


def typename(v):
    t = type(v)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is NSList:
        return "list"
    if t is Closure:
        return "fn"
    return "()"


def display(v, inner=False):
    t = type(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        if math.isnan(v):
            return "NaN"
        return repr(v)
    if t is NSList:
        return "[" + ", ".join(display(x, True) for x in v.items) + "]"
    if t is Closure:
        raise Invalid("printing a function")
    return "()"


def chk(v, op):
    if v < I64_MIN or v > I64_MAX:
        raise NSError("integer overflow")
    return v


def fdiv(a, b):
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def fmod(a, b):
    if b == 0.0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


def arith(op, a, b):
    ta, tb = typename(a), typename(b)
    if ta == "int" and tb == "int":
        if op == "+":
            return chk(a + b, op)
        if op == "-":
            return chk(a - b, op)
        if op == "*":
            return chk(a * b, op)
        if b == 0:
            raise NSError("division by zero")
        q = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            q = -q
        if op == "/":
            return chk(q, op)
        return a - b * q
    if ta in ("int", "float") and tb in ("int", "float"):
        x, y = float(a), float(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return fdiv(x, y)
        return fmod(x, y)
    raise Invalid(f"{op} on {ta} and {tb}")


def compare(op, a, b):
    ta, tb = typename(a), typename(b)
    num = ("int", "float")
    if op in ("==", "!="):
        if ta in num and tb in num:
            eq = a == b
        elif ta == tb and ta == "bool":
            eq = a == b
        else:
            raise Invalid(f"{op} on {ta} and {tb}")
        return eq if op == "==" else not eq
    if not (ta in num and tb in num):
        raise Invalid(f"{op} on {ta} and {tb}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


class Evaluator:
    def __init__(self, max_steps=2_000_000, max_out=20000):
        self.out = []
        self.globals = {}
        self.steps = 0
        self.max_steps = max_steps
        self.max_out = max_out
        self.depth = 0

    def tick(self):
        self.steps += 1
        if self.steps > self.max_steps:
            raise Invalid("step budget exceeded")

    # -- names
    def lookup(self, env, name):
        while env is not None:
            if env.name == name:
                return env.cell
            env = env.parent
        c = self.globals.get(name)
        if c is None:
            raise Invalid(f"unbound {name}")
        return c

    # -- expressions
    def ev(self, e, env):
        self.tick()
        k = e.kind
        if k in ("int", "float", "bool"):
            return e.v
        if k == "var":
            v = self.lookup(env, e.name).v
            if v is None:
                raise Invalid(f"{e.name} used before its definition")
            return v
        if k == "bin":
            if e.op in ("&&", "||"):
                a = self.ev(e.l, env)
                if type(a) is not bool:
                    raise Invalid("condition not bool")
                if (e.op == "&&") != a:
                    return a
                b = self.ev(e.r, env)
                if type(b) is not bool:
                    raise Invalid("condition not bool")
                return b
            a = self.ev(e.l, env)
            b = self.ev(e.r, env)
            if e.op in PREC and PREC[e.op] == 3:
                return compare(e.op, a, b)
            return arith(e.op, a, b)
        if k == "un":
            a = self.ev(e.e, env)
            if e.op == "-":
                if type(a) is int:
                    return chk(-a, "-")
                if type(a) is float:
                    return -a
                raise Invalid("neg")
            if type(a) is not bool:
                raise Invalid("not")
            return not a
        if k == "tofloat":
            a = self.ev(e.e, env)
            if type(a) not in (int, float):
                raise Invalid("cast")
            return float(a)
        if k == "call":
            f = self.ev(e.f, env)
            args = [self.ev(a, env) for a in e.args]
            return self.call(f, args)
        if k == "index":
            lst = self.ev(e.l, env)
            i = self.ev(e.i, env)
            return self.get_index(lst, i)
        if k == "len":
            lst = self.ev(e.l, env)
            if type(lst) is not NSList:
                raise Invalid("len")
            return len(lst.items)
        if k == "clone":
            lst = self.ev(e.l, env)
            if type(lst) is not NSList:
                raise Invalid("clone")
            return NSList(list(lst.items))
        if k == "list":
            return NSList([self.ev(x, env) for x in e.elems])
        if k == "ife":
            c = self.ev(e.c, env)
            if type(c) is not bool:
                raise Invalid("cond")
            return self.block(e.t if c else e.e, env)
        if k == "blocke":
            return self.block(e.b, env)
        if k == "loope":
            n = 0
            while True:
                n += 1
                self.tick()
                if n > e.bound:
                    return self.ev(e.final, env)
                try:
                    self.stmts(e.b.stmts, env)
                except BreakEx as b:
                    if b.value is None:
                        raise Invalid("break without value in a value loop")
                    return b.value
                except ContinueEx:
                    pass
        if k == "closure":
            return Closure(None, e.params, None, e.b, env)
        raise ValueError(k)

    def get_index(self, lst, i):
        if type(lst) is not NSList or type(i) is not int:
            raise Invalid("index")
        if i < 0 or i >= len(lst.items):
            raise NSError("out of range")
        return lst.items[i]

    def call(self, f, args):
        if type(f) is not Closure:
            raise Invalid("call of a non-function")
        if len(args) != len(f.params):
            raise Invalid("arity")
        self.depth += 1
        if self.depth > 200:
            raise Invalid("recursion too deep for the model")
        env = f.env
        for (pn, pt), a in zip(f.params, args):
            env = Env(pn, Cell(self.conform(a, pt)), env)
        try:
            v = self.block(f.body, env)
        except ReturnEx as r:
            v = r.value
        except (BreakEx, ContinueEx):
            raise Invalid("break out of a function")
        finally:
            self.depth -= 1
        if f.ret:
            v = self.conform(v, f.ret)
        elif f.name is not None:
            v = UNIT if v is None else v
        return v

    def conform(self, v, ty):
        if ty == "int":
            if type(v) is not int:
                raise Invalid("annotation int")
            return v
        if ty == "float":
            if type(v) not in (int, float):
                raise Invalid("annotation float")
            return float(v)
        if ty == "bool":
            if type(v) is not bool:
                raise Invalid("annotation bool")
        return v

    # -- statements
    def block(self, b, env):
        env = self.stmts(b.stmts, env)
        if b.tail is None:
            return UNIT
        return self.ev(b.tail, env)

    def stmts(self, stmts, env, top=False):
        for s in stmts:
            env = self.stmt(s, env, top)
        return env

    def emit(self, line):
        self.out.append(line)
        if len(self.out) > self.max_out:
            raise Invalid("too much output")

    def stmt(self, s, env, top=False):
        self.tick()
        k = s.kind
        if k == "let":
            v = self.ev(s.e, env)
            if getattr(s, "ann", None):
                v = self.conform(v, s.ann)
            if top:
                self.globals[s.name] = Cell(v)
                return env
            return Env(s.name, Cell(v), env)
        if k == "assign":
            self.assign(s, env)
            return env
        if k == "push":
            lst = self.ev(s.l, env)
            v = self.ev(s.e, env)
            if type(lst) is not NSList:
                raise Invalid("push")
            lst.items.append(v)
            return env
        if k == "print":
            vals = [self.ev(a, env) for a in s.args]
            self.emit(" ".join(display(v) for v in vals))
            return env
        if k == "expr":
            self.ev(s.e, env)
            return env
        if k == "if":
            c = self.ev(s.c, env)
            if type(c) is not bool:
                raise Invalid("cond")
            if c:
                self.block(s.t, env)
            elif s.e is not None:
                self.block(s.e, env)
            return env
        if k in ("for", "forlist"):
            if k == "for":
                lo = self.ev(s.lo, env)
                hi = self.ev(s.hi, env)
                if type(lo) is not int or type(hi) is not int:
                    raise Invalid("range")
                seq = range(lo, hi)
            else:
                lst = self.ev(s.l, env)
                if type(lst) is not NSList:
                    raise Invalid("for over a non-list")
                # The loop walks the live list (an element pushed in the body
                # is visited too); the generator iterates only fresh lists.
                seq = _live(lst)
            for x in seq:
                self.tick()
                try:
                    self.block(s.b, Env(s.var, Cell(x), env))
                except BreakEx as b:
                    if b.value is not None:
                        raise Invalid("break value in for")
                    break
                except ContinueEx:
                    pass
            return env
        if k in ("while", "loop"):
            # The counter is a variable of the enclosing scope (a global at
            # top level), which the body may read.
            cell = Cell(0)
            if top:
                self.globals[s.counter] = cell
            else:
                env = Env(s.counter, cell, env)
            while True:
                self.tick()
                if k == "while":
                    if not cell.v < s.bound:
                        break
                    cell.v += 1
                else:
                    cell.v += 1
                    if cell.v > s.bound:
                        break
                try:
                    self.block(s.b, env)
                except BreakEx as b:
                    if b.value is not None:
                        raise Invalid("break value in a loop statement")
                    break
                except ContinueEx:
                    pass
            return env
        if k == "break":
            raise BreakEx()
        if k == "breakv":
            raise BreakEx(self.ev(s.e, env))
        if k == "continue":
            raise ContinueEx()
        if k == "return":
            raise ReturnEx(UNIT if s.e is None else self.ev(s.e, env))
        if k == "block":
            self.block(s.b, env)
            return env
        if k == "fn":
            if top:
                return env  # hoisted by run()
            cell = Cell(None)
            env = Env(s.name, cell, env)
            cell.v = Closure(s.name, s.params, s.ret, s.b, env)
            return env
        raise ValueError(k)

    def assign(self, s, env):
        t = s.target
        if t.kind == "var":
            cell = self.lookup(env, t.name)
            if s.op == "=":
                cell.v = self.ev(s.e, env)
                return
            old = cell.v
            rhs = self.ev(s.e, env)
            cell.v = arith(s.op[0], old, rhs)
            return
        if t.kind != "index":
            raise Invalid("assignment target")
        lst = self.ev(t.l, env)
        i = self.ev(t.i, env)
        if type(lst) is not NSList or type(i) is not int:
            raise Invalid("index target")
        if s.op == "=":
            v = self.ev(s.e, env)
        else:
            old = self.get_index(lst, i)
            rhs = self.ev(s.e, env)
            v = arith(s.op[0], old, rhs)
        if i < 0 or i >= len(lst.items):
            raise NSError("out of range")
        lst.items[i] = v

    def run(self, prog):
        """Returns (stdout lines, error kind or None); raises Invalid."""
        for s in prog.stmts:
            if s.kind == "fn":
                self.globals[s.name] = Cell(Closure(s.name, s.params, s.ret, s.b, None))
        try:
            try:
                self.stmts(prog.stmts, None, top=True)
            except (BreakEx, ContinueEx, ReturnEx):
                raise Invalid("control flow outside its construct")
        except NSError as err:
            return self.out, err.kind
        except RecursionError:
            raise Invalid("Python recursion limit")
        return self.out, None


def evaluate(prog, max_steps=2_000_000):
    return Evaluator(max_steps=max_steps).run(prog)
