/* The bytecode compiler: expressions and functions (instructions,
 * registers and jumps are emitted by emit.c, names resolved by resolve.c,
 * statements and control flow are in stmt.c, patterns in pattern.c, items
 * in items.c, list/tuple/struct literals and f-strings in literal.c).
 *
 * Registers are allocated like Lua's: locals occupy the low registers of a
 * frame in declaration order, temporaries are taken above them (freereg) and
 * released at the end of each statement. c_expr(e, dst) leaves the value of
 * e in register dst, writing dst only as its last step, so `x = f(x)` is
 * safe; c_expr_any(e) returns a register holding e without a copy when e is
 * a local variable. */
#include "cstate.h"

#include <stdlib.h>
#include <string.h>


/* ---- expressions ---- */

/* The one place parser operators become runtime operators: the UNOP
 * operand and the unit rules the compiler folds with. */
ArithOp c_arith_op(OpKind op) {
  switch (op) {
  case OP_ADD: return AOP_ADD;
  case OP_SUB: return AOP_SUB;
  case OP_MUL: return AOP_MUL;
  case OP_DIV: return AOP_DIV;
  case OP_MOD: return AOP_MOD;
  case OP_POW: return AOP_POW;
  case OP_MATMUL: return AOP_MATMUL;
  case OP_OUTER: return AOP_OUTER;
  case OP_DOT: return AOP_DOT;
  case OP_BITAND: return AOP_BITAND;
  case OP_BITOR: return AOP_BITOR;
  case OP_SHL: return AOP_SHL;
  case OP_SHR: return AOP_SHR;
  case OP_EQ: return AOP_EQ;
  case OP_NE: return AOP_NE;
  case OP_LT: return AOP_LT;
  case OP_GT: return AOP_GT;
  case OP_LE: return AOP_LE;
  case OP_GE: return AOP_GE;
  case OP_APPROX: return AOP_APPROX;
  case OP_IN: return AOP_IN;
  case OP_NEG: return AOP_NEG;
  case OP_NOT: return AOP_NOT;
  case OP_SQRT: return AOP_SQRT;
  case OP_CBRT: return AOP_CBRT;
  case OP_GRAD: return AOP_GRAD;
  case OP_PARTIAL: return AOP_PARTIAL;
  case OP_SUM: return AOP_SUM;
  case OP_PROD: return AOP_PROD;
  case OP_ABS: return AOP_ABS;
  case OP_NONE: case OP_AND: case OP_OR: case OP_NOT_IN: case OP_DEREF: case OP__COUNT: break;
  }
  return AOP__COUNT;
}

static OpCode binop_opcode(OpKind op) {
  switch (op) {
  case OP_ADD: return BC_ADD;
  case OP_SUB: return BC_SUB;
  case OP_MUL: return BC_MUL;
  case OP_DIV: return BC_DIV;
  case OP_MOD: return BC_MOD;
  case OP_POW: return BC_POW;
  case OP_MATMUL: return BC_MATMUL;
  case OP_OUTER: return BC_OUTER;
  case OP_DOT: return BC_DOT;
  case OP_BITAND: return BC_BAND;
  case OP_BITOR: return BC_BOR;
  case OP_SHL: return BC_SHL;
  case OP_SHR: return BC_SHR;
  case OP_APPROX: return BC_APPROX;
  case OP_IN: return BC_IN;
  default: return BC__NUM;
  }
}

/* The K-operand variant of an arithmetic opcode, or BC__NUM. */
static OpCode k_variant(OpCode op) {
  switch (op) {
  case BC_ADD: return BC_ADDK;
  case BC_SUB: return BC_SUBK;
  case BC_MUL: return BC_MULK;
  case BC_DIV: return BC_DIVK;
  case BC_MOD: return BC_MODK;
  default: return BC__NUM;
  }
}

static bool is_num_literal(Node *e) { return e->kind == N_INT || e->kind == N_FLOAT; }

static Value literal_value(Node *e) {
  return e->kind == N_INT ? INT_VAL(e->as.int_lit.value) : FLOAT_VAL(e->as.float_lit.value);
}

/* ---- evaluation order ----
 *
 * Operands are evaluated left to right. c_expr_any hands out a local's own
 * register instead of a copy, so a local operand is read only when the
 * instruction using it runs, after the operands to its right. Where those
 * may assign the local, it is copied first (operand_before). */

static bool writes_list(Compiler *c, NodeList *l, const Local *loc);

/* Could evaluating e assign the mutable local loc? An assignment to its
 * name can, and so can anything that runs user code (a call, a macro, a
 * formatted value's to_string, an iterator's next): a closure may assign
 * it through an upvalue. Closure literals do not run where written. */
static bool may_write(Compiler *c, Node *e, const Local *loc) {
  if (!e) return false;
  switch (e->kind) {
  case N_INT: case N_FLOAT: case N_IMAG: case N_QUANTITY: case N_STRING: case N_CHAR: case N_BOOL: case N_UNIT:
  case N_IDENT: case N_PATH: case N_SELF: case N_CLOSURE: case N_CONTINUE:
    return false;
  case N_CALL: case N_METHOD_CALL: case N_MACRO: case N_FSTRING: case N_FOR: case N_BIG_OP: case N_NO_GRAD:
    return true;
  case N_ASSIGN: {
    Node *root = c_place_root(e->as.assign.target);
    if (root->kind == N_IDENT && loc->name && !strcmp(root->as.ident.name, loc->name)) return true;
    return may_write(c, e->as.assign.target, loc) || may_write(c, e->as.assign.value, loc);
  }
  case N_UNARY: return may_write(c, e->as.unary.operand, loc);
  case N_BINARY: return may_write(c, e->as.binary.lhs, loc) || may_write(c, e->as.binary.rhs, loc);
  case N_REF: return may_write(c, e->as.ref.operand, loc);
  case N_TRY: case N_AWAIT: case N_ABS: return may_write(c, e->as.postfix.operand, loc);
  case N_CAST: return may_write(c, e->as.cast.operand, loc);
  case N_FIELD: return may_write(c, e->as.field.object, loc);
  case N_INDEX: return may_write(c, e->as.index.object, loc) || writes_list(c, &e->as.index.indices, loc);
  case N_SLICE:
    return may_write(c, e->as.slice.lo, loc) || may_write(c, e->as.slice.hi, loc) || may_write(c, e->as.slice.step, loc);
  case N_RANGE: return may_write(c, e->as.range.lo, loc) || may_write(c, e->as.range.hi, loc);
  case N_TUPLE: return writes_list(c, &e->as.tuple.elems, loc);
  case N_LIST: return writes_list(c, &e->as.list.elems, loc);
  case N_LIST_REPEAT: return may_write(c, e->as.repeat.value, loc) || may_write(c, e->as.repeat.count, loc);
  case N_STRUCT_LIT:
    for (int i = 0; i < e->as.struct_lit.fields.len; i++)
      if (may_write(c, e->as.struct_lit.fields.items[i]->as.field_init.value, loc)) return true;
    return may_write(c, e->as.struct_lit.base, loc);
  case N_BLOCK:
    for (int i = 0; i < e->as.block.stmts.len; i++) {
      Node *st = e->as.block.stmts.items[i];
      if (st->kind == N_LET ? may_write(c, st->as.let.init, loc)
                            : st->kind == N_EXPR_STMT ? may_write(c, st->as.expr_stmt.expr, loc)
                                                      : st->kind != N_FN && may_write(c, st, loc))
        return true;
    }
    return may_write(c, e->as.block.tail, loc);
  case N_IF:
    return may_write(c, e->as.if_.cond, loc) || may_write(c, e->as.if_.then, loc) || may_write(c, e->as.if_.els, loc);
  case N_WHILE: case N_LOOP: return may_write(c, e->as.loop.cond, loc) || may_write(c, e->as.loop.body, loc);
  case N_MATCH:
    if (may_write(c, e->as.match.scrutinee, loc)) return true;
    for (int i = 0; i < e->as.match.arms.len; i++) {
      Node *arm = e->as.match.arms.items[i];
      if (may_write(c, arm->as.arm.guard, loc) || may_write(c, arm->as.arm.body, loc)) return true;
    }
    return false;
  case N_BREAK: case N_RETURN: return may_write(c, e->as.brk.value, loc);
  default: return true;
  }
}

static bool writes_list(Compiler *c, NodeList *l, const Local *loc) {
  for (int i = 0; i < l->len; i++) {
    Node *n = l->items[i];
    if (may_write(c, n->kind == N_ARG ? n->as.arg.value : n, loc)) return true;
  }
  return false;
}

/* The register of operand e, which is followed by the operands a, b and
 * the list more (any may be NULL): e's own register when e is a local
 * they cannot assign, else a temporary holding e's value now. */
static int operand_before(Compiler *c, Node *e, Node *a, Node *b, NodeList *more) {
  if (e->kind == N_IDENT || e->kind == N_SELF) {
    Local *l = c_find_local(c, e->kind == N_SELF ? "self" : e->as.ident.name);
    if (l && l->is_mut &&
        (may_write(c, a, l) || may_write(c, b, l) || (more && writes_list(c, more, l)))) {
      int t = c_alloc_reg(c, e->span);
      c_emit(c, MAKE_ABC(BC_MOVE, t, l->reg, 0), e->span);
      return t;
    }
  }
  return c_expr_any(c, e);
}

/* A temporary register for a value that will be discarded or moved. */
static int temp_for(Compiler *c, int dst, Span sp) { return dst != NO_REG ? dst : c_alloc_reg(c, sp); }

/* Can dst be used as the base of a call (the topmost temporary)? */
static bool is_top_temp(Compiler *c, int dst) {
  return dst != NO_REG && dst == c->fs->freereg - 1 && dst >= c_locals_top(c->fs);
}

/* Compile call arguments into consecutive registers after base; returns the
 * count, and the constant index of the names tuple for named args (-1 if
 * none). callee (NULL for a method) lends its parameters' tensor
 * annotations to constructor arguments (expect.c). */
static int call_args(Compiler *c, NodeList *args, int first_reg, int *kw_const, Span sp, Node *callee) {
  *kw_const = -1;
  if (args->len > MAX_CALL_ARGS) {
    Diag *d = c_error(c, sp, "a call takes at most %d arguments, this one has %d", MAX_CALL_ARGS, args->len);
    if (d) diag_hint(d, "pass the values in a list: f([a, b, ...])");
    return 0;
  }
  int named = 0;
  bool saw_named = false;
  for (int i = 0; i < args->len; i++) {
    Node *a = args->items[i];
    if (a->as.arg.name) {
      saw_named = true;
      named++;
    } else if (saw_named) {
      c_error(c, a->span, "positional argument after named arguments");
    }
  }
  for (int i = 0; i < args->len; i++) {
    int r = c_alloc_reg(c, args->items[i]->span);
    if (r != first_reg + i && !c->fs->out_of_regs) c_error(c, sp, "internal: argument registers out of order");
    c_expr_for(c, args->items[i]->as.arg.value, r, c_param_expect(c, callee, args, i));
  }
  if (named) {
    ObjTuple *t = tuple_new(c->vm, (uint32_t)named);
    int j = 0;
    for (int i = 0; i < args->len; i++) {
      const char *name = args->items[i]->as.arg.name;
      if (!name) continue;
      for (int k = 0; k < j; k++)
        if (strcmp(AS_STRING(t->items[k])->chars, name) == 0)
          c_error(c, args->items[i]->span, "argument `%s` given twice", name);
      t->items[j++] = OBJ_VAL(str_cstr(c->vm, name));
    }
    *kw_const = c_const(c, OBJ_VAL(t), sp);
  }
  return args->len;
}

static int call_base(Compiler *c, int dst, Span sp) {
  return is_top_temp(c, dst) ? dst : c_alloc_reg(c, sp);
}

static void finish_call(Compiler *c, int base, int dst, int save, Span sp) {
  if (dst != NO_REG && dst != base) c_emit(c, MAKE_ABC(BC_MOVE, dst, base, 0), sp);
  c_free_to(c, base == dst ? dst + 1 : save);
}

static void compile_call(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  int base = call_base(c, dst, e->span);
  c_expr(c, e->as.call.callee, base);
  int kw;
  int n = call_args(c, &e->as.call.args, base + 1, &kw, e->span, e->as.call.callee);
  if (kw + 1 >= K_EXTRA) c_error(c, e->span, "too many constants before this call");
  c_emit(c, MAKE_ABC(BC_CALL, base, n, kw + 1), e->span);
  finish_call(c, base, dst, save, e->span);
}

static void compile_method_call(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  int base = call_base(c, dst, e->span);
  c_expr(c, e->as.method.receiver, base);
  int kw;
  int n = call_args(c, &e->as.method.args, base + 1, &kw, e->span, NULL);
  int name = c_str_const(c, e->as.method.name, e->as.method.name_span);
  if (kw >= 0) {
    c_emit_k8(c, BC_INVOKEKW, base, n, name, e->span);
    c_emit(c, MAKE_Ax(BC_EXTRA, kw), e->span);
  } else {
    c_emit_k8(c, BC_INVOKE, base, n, name, e->span);
  }
  finish_call(c, base, dst, save, e->span);
}

/* Call the prelude function `name` with the values of args (already nodes). */
static void call_builtin(Compiler *c, const char *name, Node **args, int nargs, int dst, Span sp) {
  int save = c->fs->freereg;
  int base = call_base(c, dst, sp);
  c_load_name(c, name, sp, base);
  for (int i = 0; i < nargs; i++) {
    int r = c_alloc_reg(c, sp);
    c_expr(c, args[i], r);
  }
  c_emit(c, MAKE_ABC(BC_CALL, base, nargs, 0), sp);
  finish_call(c, base, dst, save, sp);
}

static void load_int(Compiler *c, int64_t v, int dst, Span sp) {
  if (v >= SBX_MIN && v <= SBX_MAX) c_emit(c, MAKE_AsBx(BC_LOADI, dst, (int)v), sp);
  else c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, INT_VAL(v), sp)), sp);
}

static void compile_binary(Compiler *c, Node *e, int dst) {
  OpKind op = e->as.binary.op;
  Node *lhs = e->as.binary.lhs, *rhs = e->as.binary.rhs;
  int save = c->fs->freereg;
  c_check_units(c, e);
  if (op == OP_AND || op == OP_OR) {
    /* Value form of && and ||: evaluate into a fresh register so that
     * `ok = x && ok` reads the old `ok`. */
    int t = c_alloc_reg(c, e->span);
    c_expr(c, lhs, t);
    c_emit(c, MAKE_ABC(BC_TEST, t, op == OP_OR, 0), e->span);
    int j = c_jump(c, e->span);
    c_expr(c, rhs, t);
    /* TEST raises "condition must be bool" for a non-bool right operand;
     * the zero-length jump after it goes nowhere either way. */
    c_emit(c, MAKE_ABC(BC_TEST, t, 0, 0), e->span);
    c_emit(c, MAKE_AsBx(BC_JMP, 0, 0), e->span);
    c_patch_to(c, j, c_here(c));
    if (t != dst) c_emit(c, MAKE_ABC(BC_MOVE, dst, t, 0), e->span);
    c_free_to(c, save);
    return;
  }
  switch (op) {
  case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE: {
    int a = operand_before(c, lhs, rhs, NULL, NULL), b = c_expr_any(c, rhs);
    OpCode code = op == OP_EQ ? BC_EQ : op == OP_NE ? BC_NE : (op == OP_LT || op == OP_GT) ? BC_LT : BC_LE;
    if (op == OP_GT || op == OP_GE) {
      int t = a;
      a = b;
      b = t;
    }
    c_emit(c, MAKE_ABC(code, dst, a, b), e->span);
    break;
  }
  case OP_NOT_IN: {
    int a = operand_before(c, lhs, rhs, NULL, NULL), b = c_expr_any(c, rhs);
    c_emit(c, MAKE_ABC(BC_IN, dst, a, b), e->span);
    c_emit(c, MAKE_ABC(BC_NOT, dst, dst, 0), e->span);
    break;
  }
  default: {
    OpCode code = binop_opcode(op);
    if (code == BC__NUM) {
      c_error(c, e->span, "operator `%s` is not supported here", ns_op_names[op]);
      break;
    }
    OpCode kcode = k_variant(code);
    /* A left-nested chain (a + b + c + ...) accumulates in dst when dst is
     * a temporary, so it needs two registers, not one per term. */
    int a;
    if (lhs->kind == N_BINARY && binop_opcode(lhs->as.binary.op) != BC__NUM && dst >= c_locals_top(c->fs)) {
      c_expr(c, lhs, dst);
      a = dst;
    } else {
      a = operand_before(c, lhs, rhs, NULL, NULL);
    }
    if (kcode != BC__NUM && is_num_literal(rhs)) {
      int k = c_const(c, literal_value(rhs), rhs->span);
      if (k < K_EXTRA) {
        c_emit(c, MAKE_ABC(kcode, dst, a, k), e->span);
        break;
      }
    }
    int b = c_expr_any(c, rhs);
    c_emit(c, MAKE_ABC(code, dst, a, b), e->span);
  }
  }
  c_free_to(c, save);
}

static void compile_unary(Compiler *c, Node *e, int dst) {
  OpKind op = e->as.unary.op;
  Node *x = e->as.unary.operand;
  if (op == OP_NEG && x->kind == N_INT) {
    load_int(c, -x->as.int_lit.value, dst, e->span);
    return;
  }
  if (op == OP_NEG && x->kind == N_FLOAT) {
    c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, FLOAT_VAL(-x->as.float_lit.value), e->span)), e->span);
    return;
  }
  if (op == OP_DEREF) {
    c_expr(c, x, dst);
    return;
  }
  int slot;
  if (op == OP_GRAD && e->as.unary.name && c_resolve(c, e->as.unary.name, &slot) != NAME_NONE) {
    c_expr(c, e->as.unary.as_name, dst); /* the variable ∇ψ, not ∇ applied to ψ */
    return;
  }
  int save = c->fs->freereg;
  int r = c_expr_any(c, x);
  if (op == OP_NEG) c_emit(c, MAKE_ABC(BC_UNM, dst, r, 0), e->span);
  else if (op == OP_NOT) c_emit(c, MAKE_ABC(BC_NOT, dst, r, 0), e->span);
  else c_emit(c, MAKE_ABC(BC_UNOP, dst, r, c_arith_op(op)), e->span);
  c_free_to(c, save);
}

/* R[dst] = range/slice from optional lo, hi, step. */
static void compile_range_parts(Compiler *c, Node *lo, Node *hi, Node *step, int flags, int dst, Span sp) {
  int save = c->fs->freereg;
  int base = c_alloc_reg(c, sp);
  c_alloc_reg(c, sp);
  c_alloc_reg(c, sp);
  Node *parts[3] = {lo, hi, step};
  int has[3] = {RANGE_HAS_LO, RANGE_HAS_HI, RANGE_HAS_STEP};
  for (int i = 0; i < 3; i++) {
    if (parts[i]) {
      c_expr(c, parts[i], base + i);
      flags |= has[i];
    }
  }
  c_emit(c, MAKE_ABC(BC_NEWRANGE, dst, base, flags), sp);
  c_free_to(c, save);
}

static int index_key(Compiler *c, Node *e, Node *later);

static void compile_index(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  int obj = operand_before(c, e->as.index.object, NULL, NULL, &e->as.index.indices);
  int key = index_key(c, e, NULL);
  c_emit(c, MAKE_ABC(BC_GETINDEX, dst, obj, key), e->span);
  c_free_to(c, save);
}

/* The key of obj[...]: one value, a range for a slice, or a tuple of them.
 * `later` is evaluated after it (an assigned value), or NULL. */
static int index_key(Compiler *c, Node *e, Node *later) {
  NodeList *ix = &e->as.index.indices;
  if (ix->len == 1 && ix->items[0]->kind != N_SLICE) return operand_before(c, ix->items[0], later, NULL, NULL);
  int base = c->fs->freereg;
  for (int i = 0; i < ix->len; i++) {
    Node *k = ix->items[i];
    int r = c_alloc_reg(c, k->span);
    if (k->kind == N_SLICE)
      compile_range_parts(c, k->as.slice.lo, k->as.slice.hi, k->as.slice.step, 0, r, k->span);
    else
      c_expr(c, k, r);
  }
  if (ix->len == 1) return base;
  int t = c_alloc_reg(c, e->span);
  c_emit(c, MAKE_ABC(BC_NEWTUPLE, t, base, ix->len), e->span);
  return t;
}

static void compile_field(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  int obj = c_expr_any(c, e->as.field.object);
  const char *name = e->as.field.name;
  int k;
  if (name[0] >= '0' && name[0] <= '9') k = c_const(c, INT_VAL(strtoll(name, NULL, 10)), e->span);
  else k = c_str_const(c, name, e->as.field.name_span);
  c_emit_k8(c, BC_GETFIELD, dst, obj, k, e->span);
  c_free_to(c, save);
}

static void compile_path(Compiler *c, Node *e, int dst) {
  NodeList *segs = &e->as.path.segments;
  const char *first = segs->items[0]->as.ident.name;
  if (strcmp(first, "Self") == 0) {
    if (!c->self_class) {
      c_error(c, e->span, "`Self` is only available inside `impl` and `trait` blocks");
      return;
    }
    c_emit(c, MAKE_ABx(BC_GETGLOBAL, dst, c->self_slot), e->span);
  } else {
    c_load_name(c, first, segs->items[0]->span, dst);
  }
  /* Check statically known members so typos are compile errors. */
  Value v = c_static_value(c, segs->items[0]);
  if (strcmp(first, "Self") == 0 && c->self_class) v = OBJ_VAL(c->self_class);
  for (int i = 1; i < segs->len; i++) {
    const char *name = segs->items[i]->as.ident.name;
    if (IS_CLASS(v) && AS_CLASS(v)->kind != CLASS_BUILTIN) {
      Value m = c_static_member(c, v, name);
      if (IS_UNDEF(m)) {
        ObjClass *cls = AS_CLASS(v);
        Diag *d = c_error(c, segs->items[i]->span, "no variant or associated function `%s` in `%s`", name,
                          cls->name->chars);
        const char *names[256];
        int n = 0;
        for (int j = 0; j < cls->nvariants && n < 256; j++) names[n++] = cls->variants[j].name->chars;
        for (uint32_t j = 0; j < cls->methods.cap && n < 256; j++)
          if (cls->methods.entries[j].key) names[n++] = cls->methods.entries[j].key->chars;
        const char *close = diag_closest(name, names, n);
        if (close && d) diag_hint(d, "did you mean `%s`?", close);
      }
      v = m;
    } else {
      v = UNDEF_VAL;
    }
    c_emit_k8(c, BC_GETFIELD, dst, dst, c_str_const(c, name, segs->items[i]->span), segs->items[i]->span);
  }
}

/* Load what a path names (a class, a variant ctor, a function) without the
 * unit-struct instance rule of plain identifiers. */
void c_load_path(Compiler *c, Node *path, int dst) {
  if (path->kind == N_PATH) {
    compile_path(c, path, dst);
  } else if (path->kind == N_IDENT && !strcmp(path->as.ident.name, "Self") && c->self_class) {
    c_emit(c, MAKE_ABx(BC_GETGLOBAL, dst, c->self_slot), path->span);
  } else if (path->kind == N_IDENT) {
    c_load_name(c, path->as.ident.name, path->span, dst);
  } else {
    c_expr(c, path, dst);
  }
}

static void compile_macro(Compiler *c, Node *e, int dst) {
  const char *name = e->as.macro.name;
  NodeList *args = &e->as.macro.args;
  Span sp = e->span;
  if (!strcmp(name, "println") || !strcmp(name, "print") || !strcmp(name, "eprintln") ||
      !strcmp(name, "eprint") || !strcmp(name, "panic")) {
    if (args->len > 1) c_error(c, args->items[1]->span, "`%s!` takes a format string and its arguments", name);
    call_builtin(c, !strcmp(name, "print") ? "print!" : name, args->items, args->len ? 1 : 0, dst, sp);
  } else if (!strcmp(name, "format")) {
    if (args->len == 0) c_error(c, sp, "`format!` needs a format string");
    else c_expr(c, args->items[0], dst);
  } else if (!strcmp(name, "vec")) {
    if (args->len == 1 && args->items[0]->kind == N_LIST_REPEAT) c_expr(c, args->items[0], dst);
    else c_sequence(c, args, BC_NEWLIST, dst, sp, &(Node){.kind = N_LIST, .span = sp, .as.list.elems = *args});
  } else if (!strcmp(name, "assert") || !strcmp(name, "assert_eq") || !strcmp(name, "assert_ne") ||
             !strcmp(name, "debug_assert")) {
    const char *fn = !strcmp(name, "debug_assert") ? "assert" : name;
    int need = !strcmp(fn, "assert") ? 1 : 2;
    if (args->len < need) c_error(c, sp, "`%s!` needs %d argument%s", name, need, need > 1 ? "s" : "");
    else call_builtin(c, fn, args->items, args->len, dst, sp);
  } else if (!strcmp(name, "unreachable")) {
    call_builtin(c, "unreachable", args->items, args->len ? 1 : 0, dst, sp);
  } else if (!strcmp(name, "todo") || !strcmp(name, "unimplemented")) {
    Node msg = {.kind = N_STRING, .span = sp};
    msg.as.str.value = "not yet implemented";
    msg.as.str.len = (uint32_t)strlen(msg.as.str.value);
    Node *argv[1] = {args->len ? args->items[0] : &msg};
    call_builtin(c, "panic", argv, 1, dst, sp);
  } else if (!strcmp(name, "tensor") || !strcmp(name, "matrix") || !strcmp(name, "vector")) {
    /* tensor![[1, 2], [3, 4]]: the prelude's tensor() of the list literal */
    Node list = {.kind = N_LIST, .span = sp};
    list.as.list.elems = *args;
    Node *argv[1] = {&list};
    call_builtin(c, "tensor", argv, 1, dst, sp);
  } else if (!strcmp(name, "dbg")) {
    if (args->len != 1) c_error(c, sp, "`dbg!` takes one expression");
    else call_builtin(c, "dbg", args->items, 1, dst, sp);
  } else {
    Diag *d = c_error(c, sp, "unknown macro `%s!`", name);
    if (d)
      diag_hint(d, "available macros: println! print! eprintln! eprint! format! vec! panic! assert! "
                   "assert_eq! assert_ne! unreachable! dbg! tensor! matrix! vector!");
  }
}

/* The opcode of `x op= y`: in-place forms for + - * / (a tensor leaf is
 * updated where it is, so every holder of it sees the change). */
static OpCode compound_opcode(OpKind op) {
  switch (op) {
  case OP_ADD: return BC_IADD;
  case OP_SUB: return BC_ISUB;
  case OP_MUL: return BC_IMUL;
  case OP_DIV: return BC_IDIV;
  default: return binop_opcode(op);
  }
}

/* The constant-operand form of a compound opcode, or BC__NUM. */
static OpCode compound_k_opcode(OpKind op) {
  switch (op) {
  case OP_ADD: return BC_IADDK;
  case OP_SUB: return BC_ISUBK;
  case OP_MUL: return BC_IMULK;
  case OP_DIV: return BC_IDIVK;
  default: return k_variant(binop_opcode(op));
  }
}

/* R[dst] = R[cur] op value, for compound assignment. */
static void compound(Compiler *c, OpKind op, int dst, int cur, Node *value, Span sp) {
  int save = c->fs->freereg;
  OpCode kcode = compound_k_opcode(op);
  if (kcode != BC__NUM && is_num_literal(value)) {
    int k = c_const(c, literal_value(value), value->span);
    if (k < K_EXTRA) {
      c_emit(c, MAKE_ABC(kcode, dst, cur, k), sp);
      return;
    }
  }
  int r = c_expr_any(c, value);
  OpCode code = compound_opcode(op);
  if (code == BC__NUM) c_error(c, sp, "operator `%s=` is not supported", ns_op_names[op]);
  else c_emit(c, MAKE_ABC(code, dst, cur, r), sp);
  c_free_to(c, save);
}

/* target = value, target op= value. */
/* Tell the verifier that the code from pc `start` to here assigns the local
 * named by target (an identifier), if it is one: the only place a live
 * local's register may be written. */
static void note_assignment(Compiler *c, Node *target, int start) {
  if (target->kind != N_IDENT) return;
  Local *l = c_find_local(c, target->as.ident.name);
  if (!l) return;
  *c_live_entry(c) = (VerifyLocal){l->name, (uint8_t)l->reg, true, true, (uint32_t)start, (uint32_t)c_here(c)};
}

static void compile_assign(Compiler *c, Node *e, int dst) {
  Node *target = e->as.assign.target, *value = e->as.assign.value;
  OpKind op = e->as.assign.op;
  int save = c->fs->freereg;
  int start = c_here(c);
  if (target->kind == N_IDENT) {
    const char *name = target->as.ident.name;
    int i;
    NameKind k = c_resolve(c, name, &i);
    if (k == NAME_LOCAL && op == OP_NONE && !(value->kind == N_BINARY || value->kind == N_CALL ||
                                              value->kind == N_METHOD_CALL || is_num_literal(value) ||
                                              value->kind == N_STRING || value->kind == N_IDENT ||
                                              value->kind == N_FIELD || value->kind == N_UNARY)) {
      /* Control-flow values are computed aside, then moved. */
      int t = c_alloc_reg(c, value->span);
      c_expr(c, value, t);
      c_store_name(c, name, target->span, t);
    } else if (k == NAME_LOCAL) {
      Local *l = &c->fs->locals[i];
      if (op == OP_NONE) {
        c_expr(c, value, l->reg);
      } else {
        /* x op= v is x = x op v with x read first */
        int cur = operand_before(c, target, value, NULL, NULL);
        compound(c, op, l->reg, cur, value, e->span);
      }
      if (!l->is_mut) c_assign_error_immutable(c, name, target->span, l->span, false);
    } else {
      int t = c_alloc_reg(c, e->span);
      if (op == OP_NONE) {
        c_expr(c, value, t);
      } else {
        c_load_name(c, name, target->span, t);
        compound(c, op, t, t, value, e->span);
      }
      c_store_name(c, name, target->span, t);
    }
  } else if (target->kind == N_FIELD) {
    c_check_mutable_root(c, target);
    int obj = operand_before(c, target->as.field.object, value, NULL, NULL);
    const char *name = target->as.field.name;
    int k = (name[0] >= '0' && name[0] <= '9') ? c_const(c, INT_VAL(strtoll(name, NULL, 10)), target->span)
                                               : c_str_const(c, name, target->as.field.name_span);
    int v = c_alloc_reg(c, e->span);
    if (op == OP_NONE) {
      c_expr(c, value, v);
    } else {
      c_emit_k8(c, BC_GETFIELD, v, obj, k, target->span);
      compound(c, op, v, v, value, e->span);
    }
    if (k < K_EXTRA) {
      c_emit(c, MAKE_ABC(BC_SETFIELD, obj, k, v), e->span);
    } else {
      c_emit(c, MAKE_ABC(BC_SETFIELD, obj, K_EXTRA, v), e->span);
      c_emit(c, MAKE_Ax(BC_EXTRA, k), e->span);
    }
  } else if (target->kind == N_INDEX) {
    c_check_mutable_root(c, target);
    int obj = operand_before(c, target->as.index.object, value, NULL, &target->as.index.indices);
    int key = index_key(c, target, value);
    int v = c_alloc_reg(c, e->span);
    if (op == OP_NONE) {
      c_expr(c, value, v);
    } else {
      c_emit(c, MAKE_ABC(BC_GETINDEX, v, obj, key), target->span);
      compound(c, op, v, v, value, e->span);
    }
    c_emit(c, MAKE_ABC(BC_SETINDEX, obj, key, v), e->span);
  } else if (target->kind == N_UNARY && target->as.unary.op == OP_DEREF) {
    Node inner = *e;
    inner.as.assign.target = target->as.unary.operand;
    compile_assign(c, &inner, NO_REG);
  } else if (target->kind == N_UNARY && target->as.unary.as_name &&
             c_resolve(c, target->as.unary.name, &(int){0}) != NAME_NONE) {
    Node inner = *e; /* ∇ψ = v, ∇ψ[i] += v: the variable ∇ψ */
    inner.as.assign.target = target->as.unary.as_name;
    compile_assign(c, &inner, NO_REG);
  } else if (target->kind == N_TUPLE && op == OP_NONE) {
    /* (a, b) = (b, a): evaluate all, then store. */
    int v = c_expr_any(c, value);
    NodeList *el = &target->as.tuple.elems;
    int base = c->fs->freereg;
    for (int i = 0; i < el->len; i++) {
      int r = c_alloc_reg(c, el->items[i]->span);
      c_emit(c, MAKE_ABC(BC_UNPACK, r, v, i), el->items[i]->span);
    }
    for (int i = 0; i < el->len; i++) {
      Node *t = el->items[i];
      if (t->kind == N_IDENT) c_store_name(c, t->as.ident.name, t->span, base + i);
      else if (t->kind != N_PAT_WILD) c_error(c, t->span, "tuple assignment targets must be variables");
    }
  } else {
    c_error(c, target->span, "invalid assignment target");
  }
  note_assignment(c, target, start);
  if (target->kind == N_TUPLE)
    for (int i = 0; i < target->as.tuple.elems.len; i++) note_assignment(c, target->as.tuple.elems.items[i], start);
  c_free_to(c, save);
  if (dst != NO_REG) c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), e->span);
}

/* ---- conditions ---- */

void c_cond_jump(Compiler *c, Node *e, bool jump_if, Jumps *out) {
  int save = c->fs->freereg;
  if (e->kind == N_UNARY && e->as.unary.op == OP_NOT) {
    c_cond_jump(c, e->as.unary.operand, !jump_if, out);
    return;
  }
  if (e->kind == N_BOOL) {
    if (e->as.bool_lit.value == jump_if) c_jumps_push(c, out, c_jump(c, e->span));
    return;
  }
  if (e->kind == N_BINARY) {
    OpKind op = e->as.binary.op;
    Node *l = e->as.binary.lhs, *r = e->as.binary.rhs;
    c_check_units(c, e);
    if (op == OP_AND || op == OP_OR) {
      bool is_and = op == OP_AND;
      if (jump_if != is_and) {
        /* and/false or or/true: either side decides */
        c_cond_jump(c, l, jump_if, out);
        c_cond_jump(c, r, jump_if, out);
      } else {
        Jumps skip = {0};
        c_cond_jump(c, l, !jump_if, &skip);
        c_cond_jump(c, r, jump_if, out);
        c_patch_here(c, &skip);
      }
      return;
    }
    if (op == OP_EQ || op == OP_NE || op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE) {
      int a = operand_before(c, l, r, NULL, NULL), b = c_expr_any(c, r);
      OpCode code;
      int k = jump_if;
      switch (op) {
      case OP_EQ: code = BC_JEQ; break;
      case OP_NE: code = BC_JEQ; k = !jump_if; break;
      case OP_LT: code = BC_JLT; break;
      case OP_LE: code = BC_JLE; break;
      case OP_GT: code = BC_JLT; { int t = a; a = b; b = t; } break;
      default: code = BC_JLE; { int t = a; a = b; b = t; } break;
      }
      c_emit(c, MAKE_ABC(code, a, b, k), e->span);
      c_jumps_push(c, out, c_jump(c, e->span));
      c_free_to(c, save);
      return;
    }
  }
  int r = c_expr_any(c, e);
  c_emit(c, MAKE_ABC(BC_TEST, r, jump_if, 0), e->span);
  c_jumps_push(c, out, c_jump(c, e->span));
  c_free_to(c, save);
}

static void compile_literal(Compiler *c, Node *e, int dst) {
  switch (e->kind) {
  case N_INT: load_int(c, e->as.int_lit.value, dst, e->span); break;
  case N_FLOAT: c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, FLOAT_VAL(e->as.float_lit.value), e->span)), e->span); break;
  case N_IMAG: {
    ObjComplex *z = complex_new(c->vm, 0.0, e->as.float_lit.value);
    c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, OBJ_VAL(z), e->span)), e->span);
    break;
  }
  case N_STRING: {
    ObjString *s = str_copy(c->vm, e->as.str.value, e->as.str.len);
    c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, OBJ_VAL(s), e->span)), e->span);
    break;
  }
  case N_CHAR: c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, CHAR_VAL(e->as.char_lit.value), e->span)), e->span); break;
  case N_BOOL: c_emit(c, MAKE_ABC(BC_LOADBOOL, dst, e->as.bool_lit.value, 0), e->span); break;
  case N_UNIT: c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), e->span); break;
  default: break;
  }
}

int c_expr_any(Compiler *c, Node *e) {
  if (e->kind == N_IDENT || e->kind == N_SELF) {
    int i = c_local_index(c->fs, e->kind == N_SELF ? "self" : e->as.ident.name);
    if (i >= 0) return c->fs->locals[i].reg;
  }
  int r = c_alloc_reg(c, e->span);
  c_expr(c, e, r);
  return r;
}

static ObjProto *function_body(Compiler *c, NodeList *params, Node *ret, Node *body, const char *fname,
                               Span sp);
static void begin_function(Compiler *c, FuncState *fs, const char *name);

/* no_grad { body }: __no_grad(|| body), a native that turns gradient
 * recording off around the call and restores it however the call ends.
 * `return`, `break` and `continue` cannot leave the block (they would only
 * leave the closure), so they are compile errors inside it. */
static void compile_no_grad(Compiler *c, Node *e, int dst) {
  Span sp = e->span;
  int save = c->fs->freereg;
  int base = call_base(c, dst, sp);
  c_load_name(c, "__no_grad", sp, base);
  int r = c_alloc_reg(c, sp);
  NodeList none = {0};
  FuncState fs;
  begin_function(c, &fs, "<no_grad>");
  fs.no_grad = true;
  ObjProto *p = function_body(c, &none, NULL, e->as.no_grad.body, c->fn_name ? c->fn_name : "<no_grad>", sp);
  if (p) c_emit(c, MAKE_ABx(BC_CLOSURE, r, proto_add_proto(c->vm, c->fs->proto, p)), sp);
  c_emit(c, MAKE_ABC(BC_CALL, base, 1, 0), sp);
  finish_call(c, base, dst, save, sp);
}

/* Kinds whose code handles dst == NO_REG itself. */
static bool handles_no_reg(NodeKind k) {
  switch (k) {
  case N_IF: case N_WHILE: case N_LOOP: case N_FOR: case N_MATCH: case N_BLOCK: case N_ASSIGN:
  case N_BREAK: case N_CONTINUE: case N_RETURN: case N_CALL: case N_METHOD_CALL: case N_MACRO:
  case N_NO_GRAD: case N_AWAIT:
    return true;
  default:
    return false;
  }
}

void c_expr(Compiler *c, Node *e, int dst) {
  if (dst == NO_REG && !handles_no_reg(e->kind)) {
    int save = c->fs->freereg;
    c_expr(c, e, c_alloc_reg(c, e->span));
    c_free_to(c, save);
    return;
  }
  switch (e->kind) {
  case N_INT: case N_FLOAT: case N_IMAG: case N_STRING: case N_CHAR: case N_BOOL: case N_UNIT:
    compile_literal(c, e, dst);
    break;
  case N_QUANTITY: c_quantity_literal(c, e, dst); break;
  case N_FSTRING: c_fstring(c, e, dst); break;
  case N_IDENT: {
    const char *name = e->as.ident.name;
    if (!strcmp(name, "Self") && c->self_class) {
      c_emit(c, MAKE_ABx(BC_GETGLOBAL, dst, c->self_slot), e->span);
      break;
    }
    c_load_name(c, name, e->span, dst);
    /* A unit struct's name is its value: `let m = Marker;` */
    Value v = c_static_value(c, e);
    if (IS_CLASS(v) && AS_CLASS(v)->kind == CLASS_STRUCT && AS_CLASS(v)->nfields == 0 &&
        !AS_CLASS(v)->is_tuple_struct) {
      ObjTuple *none = tuple_new(c->vm, 0);
      c_emit_k8(c, BC_NEWSTRUCT, dst, dst, c_const(c, OBJ_VAL(none), e->span), e->span);
    }
    break;
  }
  case N_SELF:
    if (c_local_index(c->fs, "self") < 0 && c_upval_index(c, c->fs, "self") < 0) {
      c_error(c, e->span, "`self` is only available in methods");
      break;
    }
    c_load_name(c, "self", e->span, dst);
    break;
  case N_PATH: compile_path(c, e, dst); break;
  case N_UNARY: compile_unary(c, e, dst); break;
  case N_BINARY: compile_binary(c, e, dst); break;
  case N_ASSIGN: compile_assign(c, e, dst); break;
  case N_CALL: {
    if (dst == NO_REG) {
      int save = c->fs->freereg;
      compile_call(c, e, c_alloc_reg(c, e->span));
      c_free_to(c, save);
    } else {
      compile_call(c, e, dst);
    }
    break;
  }
  case N_METHOD_CALL: {
    if (dst == NO_REG) {
      int save = c->fs->freereg;
      compile_method_call(c, e, c_alloc_reg(c, e->span));
      c_free_to(c, save);
    } else {
      compile_method_call(c, e, dst);
    }
    break;
  }
  case N_MACRO: {
    int save = c->fs->freereg;
    compile_macro(c, e, temp_for(c, dst, e->span));
    if (dst == NO_REG) c_free_to(c, save);
    break;
  }
  case N_FIELD: compile_field(c, e, dst); break;
  case N_INDEX: compile_index(c, e, dst); break;
  case N_SLICE: compile_range_parts(c, e->as.slice.lo, e->as.slice.hi, e->as.slice.step, 0, dst, e->span); break;
  case N_TUPLE: c_sequence(c, &e->as.tuple.elems, BC_NEWTUPLE, dst, e->span, NULL); break;
  case N_LIST: c_sequence(c, &e->as.list.elems, BC_NEWLIST, dst, e->span, e); break;
  case N_LIST_REPEAT: {
    int save = c->fs->freereg;
    int v = operand_before(c, e->as.repeat.value, e->as.repeat.count, NULL, NULL);
    int n = c_expr_any(c, e->as.repeat.count);
    c_emit(c, MAKE_ABC(BC_REPEAT, dst, v, n), e->span);
    c_free_to(c, save);
    break;
  }
  case N_STRUCT_LIT: c_struct_lit(c, e, dst); break;
  case N_RANGE:
    compile_range_parts(c, e->as.range.lo, e->as.range.hi, NULL, e->as.range.inclusive ? RANGE_INCLUSIVE : 0, dst,
                        e->span);
    break;
  case N_BLOCK: c_block(c, e, dst); break;
  case N_NO_GRAD: compile_no_grad(c, e, dst); break;
  case N_IF: c_if(c, e, dst); break;
  case N_WHILE: case N_LOOP: c_while(c, e, dst); break;
  case N_FOR: c_for(c, e, dst); break;
  case N_MATCH: c_match(c, e, dst); break;
  case N_BREAK: c_break(c, e, false); break;
  case N_CONTINUE: c_break(c, e, true); break;
  case N_RETURN: {
    if (c->fs->no_grad) {
      c_error(c, e->span, "return/break inside no_grad is not supported");
      break;
    }
    int save = c->fs->freereg;
    int r = e->as.brk.value ? c_expr_any(c, e->as.brk.value) : -1;
    c_emit_return(c, r, e->span);
    c_free_to(c, save);
    break;
  }
  case N_CLOSURE: {
    ObjProto *p = c_closure_proto(c, e);
    if (p) c_emit(c, MAKE_ABx(BC_CLOSURE, dst, proto_add_proto(c->vm, c->fs->proto, p)), e->span);
    break;
  }
  case N_REF: c_expr(c, e->as.ref.operand, dst); break;
  case N_AWAIT: c_expr(c, e->as.postfix.operand, dst); break;
  case N_TRY: {
    if (c->fs->no_grad) c_error(c, e->span, "`?` inside no_grad is not supported");
    int save = c->fs->freereg;
    int r = c_expr_any(c, e->as.postfix.operand);
    c_emit(c, MAKE_ABC(BC_TRY, dst, r, 0), e->span);
    c_free_to(c, save);
    break;
  }
  case N_ABS: {
    int save = c->fs->freereg;
    int r = c_expr_any(c, e->as.postfix.operand);
    c_emit(c, MAKE_ABC(BC_UNOP, dst, r, AOP_ABS), e->span);
    c_free_to(c, save);
    break;
  }
  case N_CAST: {
    int save = c->fs->freereg;
    int r = c_expr_any(c, e->as.cast.operand);
    Node *t = e->as.cast.type;
    const char *name = t->kind == N_TYPE_NAME ? c_path_text(c, t->as.type_name.path) : "?";
    c_emit_k8(c, BC_CAST, dst, r, c_str_const(c, name, t->span), e->span);
    c_free_to(c, save);
    break;
  }
  case N_BIG_OP: c_big_op(c, e, dst); break;
  default:
    c_error(c, e->span, "expected an expression, found %s", ns_node_names[e->kind]);
    break;
  }
}

/* ---- functions ---- */

/* Run the bytecode verifier on the function just finished (c->fs), when
 * verification is on and the module has compiled without errors so far. A
 * rejection is a bug in this compiler, reported as an internal error. */
static void verify_function(Compiler *c) {
  if (!verify_enabled() || c->diags->nerrors > 0) return;
  FuncState *fs = c->fs;
  ObjProto *p = fs->proto;
  VerifyError err;
  if (verify_proto(p, fs->live, fs->nlive, &err)) return;
  uint32_t off = err.pc < p->ncode ? p->offsets[err.pc] : 0;
  c_error(c, (Span){off, off + 1}, "internal compiler error: the bytecode verifier rejected `%s` at pc %u: %s",
          p->name ? p->name->chars : "?", err.pc, err.msg);
}

static void begin_function(Compiler *c, FuncState *fs, const char *name) {
  memset(fs, 0, sizeof *fs);
  fs->enclosing = c->fs;
  fs->proto = proto_new(c->vm, c->mod, c->src);
  fs->proto->name = str_cstr(c->vm, name);
  c->fs = fs;
}

/* Parameters, defaults, annotation checks and the body of fn or closure
 * node params/ret/body; returns the finished proto. */
static ObjProto *function_body(Compiler *c, NodeList *params, Node *ret, Node *body, const char *fname,
                               Span sp) {
  FuncState *fs = c->fs;
  ObjProto *p = fs->proto;
  int n = params->len;
  if (n > 64) {
    c_error(c, sp, "too many parameters (more than 64)");
    n = 64;
  }
  p->nparams = (uint8_t)n;
  p->param_names = ALLOCATE(c->vm, ObjString *, n ? n : 1);
  for (int i = 0; i < n; i++) p->param_names[i] = NULL;
  int regs[64];
  for (int i = 0; i < n; i++) {
    Node *prm = params->items[i];
    int r = c_alloc_reg(c, prm->span);
    regs[i] = r;
    if (prm->as.param.self_kind) {
      if (i != 0) c_error(c, prm->span, "`self` must be the first parameter");
      p->is_method = true;
      p->param_names[i] = str_cstr(c->vm, "self");
      int l = c_add_local(c, "self", r, false, prm->span);
      fs->locals[l].mut_target = prm->as.param.self_kind != SELF_REF;
      continue;
    }
    Node *pat = prm->as.param.pattern;
    if (pat && pat->kind == N_PAT_BIND) {
      p->param_names[i] = str_cstr(c->vm, pat->as.pat_bind.name);
      for (int j = 0; j < i; j++)
        if (p->param_names[j] == p->param_names[i])
          c_error(c, pat->span, "parameter `%s` is bound more than once", pat->as.pat_bind.name);
      int l = c_add_local(c, pat->as.pat_bind.name, r, pat->as.pat_bind.is_mut, pat->span);
      Node *t = prm->as.param.type;
      fs->locals[l].mut_target = pat->as.pat_bind.is_mut || !t || (t->kind == N_TYPE_REF && t->as.type_ref.is_mut);
      if (t) c_note_local_unit(c, l, t);
    } else {
      p->param_names[i] = str_printf(c->vm, "arg%d", i);
      c_add_local(c, NULL, r, false, prm->span);
    }
    if (prm->as.param.deflt) p->has_default |= (uint64_t)1 << i;
  }
  for (int i = 0; i < n; i++) {
    Node *prm = params->items[i];
    if (prm->as.param.deflt) {
      int j = c_emit(c, MAKE_AsBx(BC_JUNDEF, regs[i], 0), prm->span);
      c_expr(c, prm->as.param.deflt, regs[i]);
      c_patch_to(c, j, c_here(c));
    }
    if (prm->as.param.type && !prm->as.param.self_kind) {
      char what[256];
      snprintf(what, sizeof what, "argument `%s` of `%s`", p->param_names[i]->chars, fname);
      ObjTypeSpec *ts = c_typespec(c, prm->as.param.type, what);
      if (ts && ts->kind != TS_ANY)
        c_emit(c, MAKE_ABx(BC_CHECKTYPE, regs[i], c_const(c, OBJ_VAL(ts), prm->span)), prm->span);
    }
  }
  for (int i = 0; i < n; i++) {
    Node *pat = params->items[i]->as.param.pattern;
    if (pat && pat->kind != N_PAT_BIND) {
      Jumps fails = {0};
      c_pattern(c, pat, regs[i], &fails);
      c_pattern_must_match(c, pat, regs[i], &fails, "a function parameter");
    }
  }
  if (ret) {
    char what[256];
    snprintf(what, sizeof what, "return value of `%s`", fname);
    ObjTypeSpec *ts = c_typespec(c, ret, what);
    if (ts && ts->kind != TS_ANY) fs->ret_spec = ts;
  }
  /* parameters are final from here on (defaults, int -> float widening) */
  for (int i = 0; i < fs->nlocals; i++) c_local_starts_here(c, i);
  c_free_to(c, c_active_top(c->fs));
  int r = c_alloc_reg(c, body->span);
  c_expr(c, body, r);
  c_emit_return(c, r, (Span){body->span.end > 0 ? body->span.end - 1 : 0, body->span.end});
  c_pop_locals(c, 0);
  p->nupvals = (uint8_t)fs->nupvals;
  if (fs->nupvals) {
    p->upvals = ALLOCATE(c->vm, UpvalDesc, fs->nupvals);
    for (int i = 0; i < fs->nupvals; i++) {
      p->upvals[i].in_stack = fs->upvals[i].in_stack;
      p->upvals[i].index = fs->upvals[i].index;
    }
  }
  verify_function(c);
  c->fs = fs->enclosing;
  return p;
}

ObjProto *c_function(Compiler *c, Node *fn, const char *name) {
  if (!fn->as.fn.body) {
    c_error(c, fn->span, "function `%s` has no body", fn->as.fn.name);
    return NULL;
  }
  FuncState fs;
  FuncState *saved = c->fs;
  c->fs = NULL; /* items do not capture locals */
  begin_function(c, &fs, name);
  const char *saved_name = c->fn_name;
  c->fn_name = name;
  ObjProto *p = function_body(c, &fn->as.fn.params, fn->as.fn.ret, fn->as.fn.body, name, fn->span);
  c->fn_name = saved_name;
  c->fs = saved;
  return p;
}

ObjProto *c_closure_proto(Compiler *c, Node *cl) {
  FuncState fs;
  begin_function(c, &fs, "<closure>");
  return function_body(c, &cl->as.closure.params, cl->as.closure.ret, cl->as.closure.body, "<closure>", cl->span);
}

/* ---- modules ---- */

ObjProto *compile_module(VM *vm, ObjModule *mod, Source *src, const Ast *ast, DiagList *diags,
                         const CompileEnv *env) {
  Compiler c;
  memset(&c, 0, sizeof c);
  c.vm = vm;
  c.env = env;
  c.mod = mod;
  c.src = src;
  c.diags = diags;
  c.flags = env->flags;
  int flags = env->flags;
  arena_init(&c.arena);
  HEAP(vm)->gc_pause++;
  int errors_before = diags->nerrors;

  FuncState top;
  begin_function(&c, &top, "<module>");
  top.enclosing = NULL;
  top.is_toplevel = true;
  NodeList items = ast->items;
  c_declare_items(&c, &items);
  c_define_items(&c, &items);

  int last_expr = -1;
  if (flags & COMPILE_REPL) {
    for (int i = items.len - 1; i >= 0; i--) {
      Node *s = items.items[i];
      if (s->kind == N_EXPR_STMT && !s->as.expr_stmt.has_semi) last_expr = i;
      break;
    }
  }
  for (int i = 0; i < items.len; i++) {
    Node *s = items.items[i];
    if (i == last_expr) {
      c_free_to(&c, c_active_top(c.fs));
      int r = c_alloc_reg(&c, s->span);
      c_expr(&c, s->as.expr_stmt.expr, r);
      c_emit(&c, MAKE_ABC(BC_RETURN, r, 1, 0), s->span);
    } else {
      c_stmt(&c, s);
    }
  }
  Span end = {(uint32_t)src->len, (uint32_t)src->len};
  /* GETGLOBAL and SETGLOBAL address the slots with 16 bits */
  if (mod->nglobals > 0x10000)
    c_error(&c, items.len ? items.items[items.len - 1]->span : end,
            "too many global names in one module (more than 65536)");
  c_emit(&c, MAKE_ABC(BC_RETURN, 0, 0, 0), end);
  c_pop_locals(&c, 0);
  verify_function(&c);
  c.fs = NULL;
  arena_free(&c.arena);
  HEAP(vm)->gc_pause--;
  return diags->nerrors > errors_before ? NULL : top.proto;
}
