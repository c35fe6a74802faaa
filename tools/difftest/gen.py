"""Random NeuralScript programs for the differential tester.

generate(seed, features) builds a Program (nsref Nodes) that is well typed
by construction: every variable has one static type (int, float, bool, list
of ints, or a closure kind), assignments keep it, and loops are bounded by
counters that are part of the loop node. Runtime errors (overflow, division
by zero, an index out of range) may happen; the reference evaluator predicts
them.
"""

import random

from nsref import N, Block

# Feature classes that can be switched off (--no-NAME on the command line).
FEATURES = {
    "shadow-globals": "locals, parameters and loop variables reuse the names of globals",
    "side-effects": "closures and functions that mutate variables used in the same expression",
    "closures": "closures, lists of closures capturing loop variables",
    "floats": "float values and mixed int/float arithmetic",
    "lists": "lists: literals, push, index, index assignment, len, clone",
    "functions": "fn items, nested fn items and bounded recursion",
    "errors": "operations that may fail at run time (big literals, unchecked indices, division by variables)",
}

GLOBAL_NAMES = ["a", "b", "c", "i", "n", "x", "v", "total"]
LOCAL_NAMES = ["a", "b", "c", "i", "j", "n", "x", "v", "t", "acc", "total"]
SEPARATE_LOCALS = ["p", "q", "r", "s", "u", "w", "k", "m", "z"]
FLOATS = [0.5, 1.5, 2.0, 0.25, 3.75, 0.1, 10.0, 2.5, 0.125, 100.0]


class Var:
    __slots__ = ("ty", "mut", "glob", "minlen")

    def __init__(self, ty, mut, glob, minlen=0):
        self.ty, self.mut, self.glob, self.minlen = ty, mut, glob, minlen


class FnInfo:
    def __init__(self, name, params, ret):
        self.name, self.params, self.ret = name, params, ret


class Gen:
    def __init__(self, seed, features):
        self.r = random.Random(seed)
        self.f = features
        self.globals = {}      # name -> Var, globals defined so far
        self.scopes = []       # local scopes (innermost last); [] at top level
        self.fn_scope_base = []  # stack of len(scopes) where each fn body starts
        self.fns = []          # top-level fn items callable so far
        self.local_fns = []    # stack of lists of nested fn items per scope
        self.loops = []        # "stmt" / "value" per enclosing loop
        self.ret = []          # return type per enclosing fn (None: unit)
        self.counter = 0
        self.budget = 0
        # Deeper expressions now and then: more temporaries at once.
        self.max_depth = self.r.choice([2, 2, 2, 3, 4])

    # -- helpers
    def chance(self, p):
        return self.r.random() < p

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def visible(self):
        """name -> Var for every visible name (innermost wins)."""
        vis = dict(self.globals)
        for sc in self.scopes:
            vis.update(sc)
        return vis

    def vars_of(self, ty, mut=False):
        if mut and not self.f["side-effects"]:
            # Without side effects a function or closure changes only its own
            # variables: no call can change a variable of its caller.
            vis = self.own_vars()
        else:
            vis = self.visible()
        return [n for n, v in vis.items() if v.ty == ty and (v.mut or not mut)]

    def own_vars(self):
        """The variables declared inside the innermost fn or closure body
        (all visible ones outside any)."""
        if not self.fn_scope_base:
            return self.visible()
        own = {}
        for sc in self.scopes[self.fn_scope_base[-1]:]:
            own.update(sc)
        return own

    def local_name(self):
        if self.f["shadow-globals"]:
            if self.globals and self.chance(0.4):
                return self.r.choice(sorted(self.globals))
            return self.r.choice(LOCAL_NAMES)
        return self.r.choice(SEPARATE_LOCALS)

    def declare(self, name, var):
        if self.scopes:
            self.scopes[-1][name] = var
        else:
            self.globals[name] = var

    def push_scope(self):
        self.scopes.append({})
        self.local_fns.append([])

    def pop_scope(self):
        self.scopes.pop()
        self.local_fns.pop()

    def push_expr_scope(self):
        """A block inside an expression: without side effects it changes
        only its own variables (another operand may read the outer ones)."""
        self.push_scope()
        self.fn_scope_base.append(len(self.scopes) - 1)

    def pop_expr_scope(self):
        self.fn_scope_base.pop()
        self.pop_scope()

    # -- literals
    def int_lit(self):
        roll = self.r.random()
        if roll < 0.75:
            return N("int", v=self.r.randint(0, 9))
        if roll < 0.9:
            return N("int", v=self.r.randint(-20, 300))
        if self.f["errors"] and roll < 0.97:
            return N("int", v=self.r.choice([1 << 62, (1 << 63) - 1, -(1 << 62), 3037000499, 4611686018427387904]))
        return N("int", v=self.r.randint(1000, 100000))

    def float_lit(self):
        return N("float", v=self.r.choice(FLOATS))

    # -- expressions
    def expr(self, ty, d):
        self.budget -= 1
        d = min(d, self.max_depth)
        if d <= 0 or self.budget < 0:
            return self.leaf(ty)
        g = getattr(self, "e_" + ty)
        return g(d)

    def leaf(self, ty):
        names = self.vars_of(ty)
        if names and self.chance(0.7):
            return N("var", name=self.r.choice(names))
        if ty == "int":
            return self.int_lit()
        if ty == "float":
            return self.float_lit()
        if ty == "bool":
            return N("bool", v=self.chance(0.5))
        if ty == "list":
            return N("list", elems=[self.int_lit() for _ in range(self.r.randint(3, 4))])
        raise ValueError(ty)

    def e_int(self, d):
        opts = ["leaf", "leaf", "bin", "bin", "bin", "neg"]
        if self.f["lists"] and self.vars_of("list"):
            opts += ["index", "index", "len"]
        if self.f["functions"] and any(f.ret == "int" for f in self.callable_fns()):
            opts += ["call", "call"]
        if self.f["closures"] and (self.vars_of("fn0") or self.vars_of("fn1") or self.vars_of("fnlist")):
            opts += ["ccall", "ccall", "ccall"]
        if self.f["side-effects"] and self.vars_of("fn0"):
            opts += ["effect_bin", "effect_bin"]
        opts *= 3
        opts += ["ife", "blocke", "loope"]
        o = self.r.choice(opts)
        if o == "leaf":
            return self.leaf("int")
        if o == "bin":
            op = self.r.choice(["+", "+", "-", "-", "*", "/", "%"])
            l = self.expr("int", d - 1)
            if op in "/%" and not (self.f["errors"] and self.chance(0.3)):
                r = N("int", v=self.r.choice([1, 2, 3, 5, 7, -3]))
            elif op == "*" and self.chance(0.6):
                r = N("int", v=self.r.randint(-3, 5))
            else:
                r = self.expr("int", d - 1)
            return N("bin", op=op, l=l, r=r)
        if o == "neg":
            return N("un", op="-", e=self.expr("int", d - 1))
        if o == "index":
            return N("index", l=N("var", name=self.pick_list()), i=self.index_expr(d))
        if o == "len":
            return N("len", l=N("var", name=self.r.choice(self.vars_of("list"))))
        if o == "call":
            return self.fn_call("int", d)
        if o == "ccall":
            return self.closure_call(d)
        if o == "effect_bin":
            # A variable next to a call that may change it: the order of the
            # operands decides the value.
            h = N("call", f=N("var", name=self.r.choice(self.vars_of("fn0"))), args=[])
            v = self.leaf("int")
            op = self.r.choice(["+", "-", "*"])
            return N("bin", op=op, l=v, r=h) if self.chance(0.6) else N("bin", op=op, l=h, r=v)
        if o == "ife":
            return self.ife("int", d)
        if o == "blocke":
            self.push_expr_scope()
            stmts = self.stmts(self.r.randint(1, 2), d - 1)
            tail = self.expr("int", d - 1)
            self.pop_expr_scope()
            return N("blocke", b=Block(stmts, tail))
        if o == "loope":
            w = self.fresh("w")
            self.loops.append("value")
            self.push_expr_scope()
            stmts = self.stmts(self.r.randint(1, 3), d - 1)
            self.pop_expr_scope()
            self.loops[-1] = None   # no break in the final value
            final = self.expr("int", d - 1)
            self.loops.pop()
            return N("loope", counter=w, bound=self.r.randint(1, 5), b=Block(stmts, None), final=final)
        raise ValueError(o)

    def pick_list(self):
        return self.r.choice(self.vars_of("list"))

    def index_expr(self, d):
        if self.f["errors"] and self.chance(0.1):
            return self.expr("int", d - 1)
        return N("int", v=self.r.randint(0, 2))

    def e_float(self, d):
        opts = ["leaf", "leaf", "bin", "bin", "mixed", "tofloat", "neg", "ife"]
        o = self.r.choice(opts)
        if o == "leaf":
            return self.leaf("float")
        if o == "bin":
            return N("bin", op=self.r.choice(["+", "-", "*", "/", "%"]),
                     l=self.expr("float", d - 1), r=self.expr("float", d - 1))
        if o == "mixed":
            a, b = self.expr("float", d - 1), self.expr("int", d - 1)
            if self.chance(0.5):
                a, b = b, a
            return N("bin", op=self.r.choice(["+", "-", "*", "/"]), l=a, r=b)
        if o == "tofloat":
            return N("tofloat", e=self.expr("int", d - 1))
        if o == "neg":
            return N("un", op="-", e=self.expr("float", d - 1))
        return self.ife("float", d)

    def e_bool(self, d):
        o = self.r.choice(["leaf", "cmp", "cmp", "cmp", "and", "not"])
        if o == "leaf":
            return self.leaf("bool")
        if o == "cmp":
            ta = "float" if self.f["floats"] and self.chance(0.25) else "int"
            tb = "float" if self.f["floats"] and self.chance(0.25) else "int"
            return N("bin", op=self.r.choice(["<", "<=", ">", ">=", "==", "!="]),
                     l=self.expr(ta, d - 1), r=self.expr(tb, d - 1))
        if o == "and":
            return N("bin", op=self.r.choice(["&&", "||"]), l=self.expr("bool", d - 1), r=self.expr("bool", d - 1))
        return N("un", op="!", e=self.expr("bool", d - 1))

    def e_list(self, d):
        names = self.vars_of("list")
        if names and self.chance(0.3):
            return N("clone", l=N("var", name=self.r.choice(names)))
        if names and self.chance(0.4):
            return N("var", name=self.r.choice(names))
        return N("list", elems=[self.expr("int", d - 1) for _ in range(self.r.randint(3, 4))])

    def ife(self, ty, d):
        c = self.expr("bool", d - 1)
        self.push_expr_scope()
        ts = self.stmts(self.r.randint(0, 2), d - 1)
        te = self.expr(ty, d - 1)
        self.pop_expr_scope()
        self.push_expr_scope()
        es = self.stmts(self.r.randint(0, 1), d - 1)
        ee = self.expr(ty, d - 1)
        self.pop_expr_scope()
        return N("ife", c=c, t=Block(ts, te), e=Block(es, ee))

    def callable_fns(self):
        fs = list(self.fns)
        for lst in self.local_fns:
            fs += lst
        vis = self.visible()
        # A fn item whose name is shadowed by a variable cannot be called.
        return [f for f in fs if f.name not in vis]

    def fn_call(self, ret, d):
        cands = [f for f in self.callable_fns() if f.ret == ret]
        f = self.r.choice(cands)
        args = [self.expr(t, d - 1) if not (t == "int" and pn == "depth") else N("int", v=self.r.randint(0, 4))
                for pn, t in f.params]
        return N("call", f=N("var", name=f.name), args=args)

    def closure_call(self, d):
        kinds = [k for k in ("fn0", "fn1", "fnlist") if self.vars_of(k)]
        k = self.r.choice(kinds)
        name = self.r.choice(self.vars_of(k))
        if k == "fn0":
            return N("call", f=N("var", name=name), args=[])
        if k == "fn1":
            return N("call", f=N("var", name=name), args=[self.expr("int", d - 1)])
        v = self.visible()[name]
        return N("call", f=N("index", l=N("var", name=name), i=N("int", v=self.r.randint(0, max(0, v.minlen - 1)))), args=[])

    # -- statements
    def stmts(self, n, d):
        out = []
        for _ in range(n):
            out += self.stmt(d)
        return out

    def block(self, n, d, setup=None):
        self.push_scope()
        if setup:
            setup()
        b = Block(self.stmts(n, d), None)
        self.pop_scope()
        return b

    def printable(self):
        return [n for n, v in self.visible().items() if v.ty in ("int", "float", "bool", "list")]

    def print_stmt(self, d):
        names = self.printable()
        args = []
        for _ in range(self.r.randint(1, 3)):
            if names and self.chance(0.6):
                args.append(N("var", name=self.r.choice(names)))
            else:
                args.append(self.expr(self.any_ty(), d))
        return N("print", args=args)

    def any_ty(self):
        tys = ["int", "int", "int", "bool"]
        if self.f["floats"]:
            tys.append("float")
        if self.f["lists"]:
            tys.append("list")
        return self.r.choice(tys)

    def stmt(self, d):
        self.budget -= 1
        top = not self.scopes
        w = {"let": 5, "assign": 5, "print": 4, "if": 2, "for": 3, "while": 1, "loop": 1, "block": 1}
        if self.f["lists"]:
            w["push"] = 1
            w["lassign"] = 2
        if self.f["closures"]:
            w["closure"] = 2
            w["closurelist"] = 1
        if self.f["side-effects"]:
            w["effect"] = 2
        if self.f["functions"]:
            w["callstmt"] = 1
            w["fn"] = 2 if top else (1 if self.ret else 0)
        if self.loops and self.loops[-1]:
            w["break"] = 1
            w["continue"] = 1
        if self.ret:
            w["return"] = 1
        if d <= 0 or self.budget < 0:
            for k in ("if", "for", "while", "loop", "block", "fn", "closurelist"):
                w.pop(k, None)
        kinds = list(w)
        k = self.r.choices(kinds, weights=[w[x] for x in kinds])[0]
        return getattr(self, "s_" + k)(d)

    def s_let(self, d):
        ty = self.any_ty()
        e = self.expr(ty, d)
        if not self.scopes:
            # Globals keep one type and one mutability per name, so functions
            # written earlier stay well typed whatever top-level `let` ran last.
            cands = [n for n in GLOBAL_NAMES if n not in self.globals or self.globals[n].ty == ty]
            if not self.f["shadow-globals"]:
                cands = [n for n in cands if n not in SEPARATE_LOCALS]
            name = self.r.choice(cands) if cands else self.fresh("g")
            prev = self.globals.get(name)
            mut = prev.mut if prev else self.chance(0.7)
        else:
            name = self.local_name()
            mut = self.chance(0.6)
        minlen = len(e.elems) if e.kind == "list" else (3 if ty == "list" else 0)
        ann = None
        if ty in ("int", "float", "bool") and self.chance(0.15):
            ann = ty
        s = N("let", name=name, mut=mut, e=e, ann=ann)
        self.declare(name, Var(ty, mut, not self.scopes, minlen))
        out = [s]
        if self.chance(0.3):
            out.append(N("print", args=[N("var", name=name)]))
        return out

    def s_assign(self, d):
        tys = [t for t in ("int", "float", "bool", "list") if self.vars_of(t, mut=True)]
        if not tys:
            return self.s_print(d)
        ty = self.r.choice(tys)
        name = self.r.choice(self.vars_of(ty, mut=True))
        if ty == "int":
            op = self.r.choice(["=", "+=", "+=", "-=", "*=", "/=", "%="])
        elif ty == "float":
            op = self.r.choice(["=", "+=", "-=", "*=", "/="])
        else:
            op = "="
        if op == "*=" and ty == "int" and self.chance(0.7):
            e = N("int", v=self.r.randint(-2, 3))
        elif op in ("/=", "%=") and not (self.f["errors"] and self.chance(0.2)):
            e = N("int", v=self.r.choice([1, 2, 3, 7, -2]))
        else:
            e = self.expr(ty if not (ty == "float" and self.chance(0.3)) else "int", d)
        if ty == "list":
            e = N("list", elems=[self.expr("int", d - 1) for _ in range(3)])
        out = [N("assign", target=N("var", name=name), op=op, e=e)]
        if self.chance(0.5):
            out.append(N("print", args=[N("var", name=name)]))
        return out

    def s_print(self, d):
        return [self.print_stmt(d)]

    def s_push(self, d):
        lists = self.vars_of("list", mut=not self.f["side-effects"])
        if not lists:
            return self.s_let(d)
        name = self.r.choice(lists)
        return [N("push", l=N("var", name=name), e=self.expr("int", d - 1))]

    def s_lassign(self, d):
        lists = self.vars_of("list", mut=True)
        if not lists:
            return self.s_let(d)
        name = self.r.choice(lists)
        op = self.r.choice(["=", "+=", "-=", "*="])
        e = self.expr("int", d - 1) if op != "*=" else N("int", v=self.r.randint(-2, 3))
        return [N("assign", target=N("index", l=N("var", name=name), i=self.index_expr(d)), op=op, e=e),
                N("print", args=[N("var", name=name)])]

    def s_if(self, d):
        c = self.expr("bool", d - 1)
        t = self.block(self.r.randint(1, 3), d - 1)
        e = self.block(self.r.randint(1, 2), d - 1) if self.chance(0.5) else None
        return [N("if", c=c, t=t, e=e)]

    def s_for(self, d):
        var = self.local_name()
        if self.f["lists"] and self.chance(0.25):
            names = self.vars_of("list")
            l = N("clone", l=N("var", name=self.r.choice(names))) if names and self.chance(0.5) else \
                N("list", elems=[self.expr("int", d - 1) for _ in range(self.r.randint(0, 4))])
            self.loops.append("stmt")
            b = self.block(self.r.randint(1, 4), d - 1,
                           lambda: self.declare(var, Var("int", False, False)))
            self.loops.pop()
            return [N("forlist", var=var, l=l, b=b)]
        lo = N("int", v=self.r.randint(-1, 2))
        hi = N("int", v=self.r.randint(0, 5)) if self.chance(0.7) else self.expr("int", 1)
        if hi.kind != "int":
            hi = N("bin", op="%", l=hi, r=N("int", v=6))
        self.loops.append("stmt")
        b = self.block(self.r.randint(1, 4), d - 1, lambda: self.declare(var, Var("int", False, False)))
        self.loops.pop()
        out = [N("for", var=var, lo=lo, hi=hi, b=b)]
        return out

    def s_while(self, d):
        return self.counted("while", self.r.randint(0, 4), d)

    def s_loop(self, d):
        return self.counted("loop", self.r.randint(1, 4), d)

    def counted(self, kind, bound, d):
        """`let mut wN = 0` and a while/loop bounded by it; the body may read
        wN (a global at top level)."""
        w = self.fresh("w")
        self.loops.append("stmt")
        b = self.block(self.r.randint(1, 4), d - 1,
                       lambda: self.declare(w, Var("int", False, not self.scopes[:-1])))
        self.loops.pop()
        return [N(kind, counter=w, bound=bound, b=b)]

    def s_block(self, d):
        return [N("block", b=self.block(self.r.randint(1, 4), d - 1))]

    def s_break(self, d):
        c = self.expr("bool", 1)
        if self.loops[-1] == "value":
            st = N("breakv", e=self.expr("int", 1))
        else:
            st = N(self.r.choice(["break", "continue"]))
        return [N("if", c=c, t=Block([st]), e=None)]

    s_continue = s_break

    def s_return(self, d):
        ret = self.ret[-1]
        c = self.expr("bool", 1)
        st = N("return", e=self.expr(ret, 1) if ret else None)
        return [N("if", c=c, t=Block([st]), e=None)]

    def s_callstmt(self, d):
        cands = self.callable_fns()
        if not cands:
            return self.s_print(d)
        f = self.r.choice(cands)
        call = self.fn_call(f.ret, d) if f.ret else N("call", f=N("var", name=f.name),
                                                    args=[self.expr(t, d - 1) for _, t in f.params])
        if f.ret:
            return [N("print", args=[call])]
        return [N("expr", e=call)]

    def s_closure(self, d):
        name = self.local_name() if self.scopes else self.fresh("h")
        if self.chance(0.5):
            kind, params = "fn0", []
        else:
            kind, params = "fn1", [(self.local_name(), "int")]
        self.push_scope()
        self.fn_scope_base.append(len(self.scopes) - 1)
        for pn, pt in params:
            self.declare(pn, Var(pt, False, False))
        saved = self.loops
        self.loops = []
        self.ret.append("int")
        stmts = self.stmts(self.r.randint(0, 2), d - 1)
        tail = self.expr("int", d - 1)
        self.ret.pop()
        self.loops = saved
        self.fn_scope_base.pop()
        self.pop_scope()
        self.declare(name, Var(kind, False, not self.scopes))
        return [N("let", name=name, mut=False, e=N("closure", params=params, b=Block(stmts, tail)), ann=None)]

    def s_effect(self, d):
        """A closure that changes a variable and returns a value from it,
        then an expression or compound assignment that uses both."""
        ints = self.vars_of("int", mut=True)
        if not ints:
            return self.s_let(d)
        v = self.r.choice(ints)
        name = self.local_name() if self.scopes else self.fresh("h")
        op = self.r.choice(["+=", "-=", "=", "*="])
        amount = N("int", v=self.r.randint(1, 9)) if op != "*=" else N("int", v=self.r.randint(2, 3))
        body = [N("assign", target=N("var", name=v), op=op, e=amount)]
        lists = self.vars_of("list", mut=True)
        if lists and self.chance(0.3):
            body.append(N("assign", target=N("index", l=N("var", name=self.r.choice(lists)), i=N("int", v=0)),
                          op="+=", e=N("int", v=self.r.randint(1, 9))))
        tail = self.r.choice([N("var", name=v), N("int", v=self.r.randint(0, 5)),
                              N("bin", op="*", l=N("var", name=v), r=N("int", v=2))])
        out = [N("let", name=name, mut=False, e=N("closure", params=[], b=Block(body, tail)), ann=None)]
        self.declare(name, Var("fn0", False, not self.scopes))
        if name == v:
            return out  # the closure shadowed the variable it changes
        h = N("call", f=N("var", name=name), args=[])
        use = self.r.random()
        if use < 0.35:
            out.append(N("assign", target=N("var", name=v), op=self.r.choice(["+=", "-=", "*="]), e=h))
        elif use < 0.7:
            out.append(N("print", args=[N("bin", op=self.r.choice(["+", "-", "*"]), l=N("var", name=v), r=h)]))
        elif use < 0.85:
            out.append(N("print", args=[N("var", name=v), h, N("var", name=v)]))
        else:
            lists = self.vars_of("list", mut=True)
            if lists:
                ln = self.r.choice(lists)
                # The index reads the variable the call changes: (v % 3 + 3) % 3
                # is in 0..2 whatever v is.
                idx = N("int", v=self.r.randint(0, 2)) if self.chance(0.3) else \
                    N("bin", op="%", l=N("bin", op="+", l=N("bin", op="%", l=N("var", name=v), r=N("int", v=3)),
                                         r=N("int", v=3)), r=N("int", v=3))
                out.append(N("assign", target=N("index", l=N("var", name=ln), i=idx),
                             op=self.r.choice(["=", "+="]), e=h))
                out.append(N("print", args=[N("var", name=ln)]))
        out.append(N("print", args=[N("var", name=v)]))
        return out

    def s_closurelist(self, d):
        """Closures that capture a loop variable, collected in a list and
        called after the loop."""
        fs = self.local_name() if self.scopes else self.fresh("fs")
        var = self.local_name()
        while var == fs:
            var = self.local_name()
        n = self.r.randint(1, 4)
        out = [N("let", name=fs, mut=True, e=N("list", elems=[]), ann=None)]
        # Not usable as a value until the loop has filled it.
        self.declare(fs, Var("pending", True, not self.scopes))
        # The list holds closures; declare it as such only after the loop.
        # No break in the body: every iteration pushes its closure.
        saved = self.loops
        self.loops = []
        self.push_scope()
        self.declare(var, Var("int", False, False))
        self.push_scope()
        pre = self.stmts(self.r.randint(0, 1), 1)
        if any(st.kind == "let" for st in pre):
            pre = [N("block", b=Block(pre))]  # its bindings must not hide the list
        self.pop_scope()
        self.push_scope()
        tail = self.expr("int", 2)
        if self.chance(0.7):
            tail = N("bin", op="+", l=N("var", name=var), r=N("bin", op="*", l=tail, r=N("int", v=10)))
        self.pop_scope()
        self.pop_scope()
        self.loops = saved
        clo = N("closure", params=[], b=Block([], tail))
        if self.chance(0.3):
            # The captured variable is a `let` of a while body, fresh in
            # each iteration, initialized from the counter.
            w = self.fresh("w")
            body = Block([N("let", name=var, mut=False, e=N("bin", op="-", l=N("var", name=w), r=N("int", v=1)),
                            ann=None)] + pre + [N("push", l=N("var", name=fs), e=clo)], None)
            out.append(N("while", counter=w, bound=n, b=body))
        else:
            body = Block(pre + [N("push", l=N("var", name=fs), e=clo)], None)
            out.append(N("for", var=var, lo=N("int", v=0), hi=N("int", v=n), b=body))
        self.declare(fs, Var("fnlist", True, not self.scopes, n))
        calls = [N("call", f=N("index", l=N("var", name=fs), i=N("int", v=k)), args=[]) for k in range(n)]
        out.append(N("print", args=calls))
        return out

    def s_fn(self, d):
        name = self.fresh("f")
        top = not self.scopes
        nparams = self.r.randint(0, 3)
        params = []
        for _ in range(nparams):
            pn = self.local_name()
            if pn in (p for p, _ in params):
                continue
            params.append((pn, self.r.choice(["int", "int", "float"] if self.f["floats"] else ["int"])))
        ret = self.r.choice(["int", "int", None])
        recursive = self.chance(0.35) and ret == "int"
        if recursive:
            params = [("depth", "int")] + [p for p in params if p[0] != "depth"]
        # A top-level fn sees only globals; a nested one sees its enclosing
        # scopes too (it captures like a closure).
        saved_scopes, saved_loops = self.scopes, self.loops
        if top:
            self.scopes = []
        self.loops = []
        self.push_scope()
        self.fn_scope_base.append(len(self.scopes) - 1)
        for pn, pt in params:
            self.declare(pn, Var(pt, False, False))
        info = FnInfo(name, params, ret)
        if recursive:
            # Calls of a fn inside its own body: only the bounded recursion.
            stmts = self.stmts(self.r.randint(0, 3), d - 1)
            self.ret.append(ret)
            rest = [N("int" if t == "int" else "float", v=1 if t == "int" else 0.5) if False else self.expr(t, 1)
                    for pn, t in params[1:]]
            rec = N("call", f=N("var", name=name), args=[N("bin", op="-", l=N("var", name="depth"), r=N("int", v=1))] + rest)
            base = self.expr("int", 2)
            step = N("bin", op=self.r.choice(["+", "-", "*"]), l=rec, r=self.expr("int", 2)) if self.chance(0.5) \
                else N("bin", op=self.r.choice(["+", "-"]), l=self.expr("int", 2), r=rec)
            self.ret.pop()
            body = Block(stmts + [N("if", c=N("bin", op="<=", l=N("var", name="depth"), r=N("int", v=0)),
                                      t=Block([N("return", e=base)]), e=None)], step)
        else:
            self.ret.append(ret)
            stmts = self.stmts(self.r.randint(1, 4), d - 1)
            tail = self.expr(ret, d - 1) if ret else None
            self.ret.pop()
            body = Block(stmts, tail)
        self.fn_scope_base.pop()
        self.pop_scope()
        self.scopes, self.loops = saved_scopes, saved_loops
        if top:
            self.fns.append(info)
        else:
            self.local_fns[-1].append(info)
            # The fn's name is now a binding of this scope.
            self.scopes[-1].pop(name, None)
        out = [N("fn", name=name, params=params, ret=ret, b=body)]
        if ret and self.chance(0.7):
            out.append(N("print", args=[self.fn_call(ret, 2)]))
        return out

    def program(self, size):
        self.budget = size * 12
        stmts = []
        while len(stmts) < size and self.budget > 0:
            stmts += self.stmt(3)
        # The final values of all globals show clobbering anywhere above.
        names = [n for n in sorted(self.globals) if self.globals[n].ty in ("int", "float", "bool", "list")]
        if names:
            stmts.append(N("print", args=[N("var", name=n) for n in names]))
        return N("prog", stmts=stmts)


def generate(seed, features, size=None):
    g = Gen(seed, features)
    if size is None:
        size = g.r.randint(8, 30)
    return g.program(size)
