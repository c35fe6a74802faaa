/* Statements and control flow: blocks, let, if / if let, while / while
 * let / loop, for (a numeric FORPREP/FORLOOP loop over `a..b`, ITERPREP/
 * ITERNEXT over anything else), break / continue / return, and ∑ / ∏
 * comprehensions. Expressions are in compiler.c. */
#include "cstate.h"

#include <string.h>

/* ---- blocks, statements, control flow ---- */


static bool is_toplevel_scope(Compiler *c) { return c->fs->is_toplevel && c->fs->depth == 0; }

void c_block(Compiler *c, Node *b, int dst) {
  int floor = c->fs->floor;
  c->fs->floor = c->fs->freereg; /* statements must not reuse dst */
  c_enter_scope(c);
  NodeList *stmts = &b->as.block.stmts;
  for (int i = 0; i < stmts->len; i++) c_stmt(c, stmts->items[i]);
  if (b->as.block.tail) c_expr(c, b->as.block.tail, dst);
  else if (dst != NO_REG) c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), b->span);
  c_exit_scope(c);
  c->fs->floor = floor;
}

/* `if let` / `while let`: open a scope, evaluate the scrutinee into a
 * hidden local and match it (mismatches jump via fails). The caller
 * compiles the body and closes the scope. */
static void open_let_scope(Compiler *c, Node *scrutinee, Node *pattern, Span sp, Jumps *fails) {
  c_enter_scope(c);
  int r = c_alloc_reg(c, scrutinee->span);
  c_expr(c, scrutinee, r);
  c_add_local(c, NULL, r, false, sp);
  c_pattern(c, pattern, r, fails);
}

void c_if(Compiler *c, Node *e, int dst) {
  Jumps fails = {0};
  if (e->as.if_.pattern) {
    open_let_scope(c, e->as.if_.cond, e->as.if_.pattern, e->span, &fails);
    c_expr(c, e->as.if_.then, dst);
    c_exit_scope(c);
  } else {
    c_cond_jump(c, e->as.if_.cond, false, &fails);
    c_expr(c, e->as.if_.then, dst);
  }
  if (e->as.if_.els) {
    int j = c_jump(c, e->span);
    c_patch_here(c, &fails);
    c_expr(c, e->as.if_.els, dst);
    c_patch_to(c, j, c_here(c));
  } else if (dst != NO_REG) {
    int j = c_jump(c, e->span);
    c_patch_here(c, &fails);
    c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), e->span);
    c_patch_to(c, j, c_here(c));
  } else {
    c_patch_here(c, &fails);
  }
}

static void push_loop(Compiler *c, Loop *l, const char *label, int dst) {
  memset(l, 0, sizeof *l);
  l->outer = c->fs->loop;
  l->label = label;
  l->dst = dst;
  l->depth = c->fs->depth;
  l->base_reg = c->fs->freereg;
  c->fs->loop = l;
}

static void pop_loop(Compiler *c, Loop *l, int continue_target) {
  for (int i = 0; i < l->continues.len; i++) c_patch_to(c, l->continues.at[i], continue_target);
  c_patch_here(c, &l->breaks);
  c->fs->loop = l->outer;
}

void c_while(Compiler *c, Node *e, int dst) {
  Loop loop;
  push_loop(c, &loop, e->as.loop.label, NO_REG);
  int start = c_here(c);
  Jumps exits = {0};
  if (e->as.loop.cond) {
    if (e->as.loop.pattern) {
      open_let_scope(c, e->as.loop.cond, e->as.loop.pattern, e->span, &exits);
      c_expr(c, e->as.loop.body, NO_REG);
      c_exit_scope(c);
    } else {
      c_cond_jump(c, e->as.loop.cond, false, &exits);
      c_expr(c, e->as.loop.body, NO_REG);
    }
  } else {
    loop.dst = dst;
    c_expr(c, e->as.loop.body, NO_REG);
  }
  c_patch_to(c, c_jump(c, e->span), start);
  c_patch_here(c, &exits);
  pop_loop(c, &loop, start);
  if (dst != NO_REG && e->as.loop.cond) c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), e->span);
}

/* Bind a for-loop's pattern to the item in register r. */
static void bind_loop_pattern(Compiler *c, Node *pat, int r) {
  if (c_pattern_is_binding(c, pat)) {
    c_add_local(c, pat->as.pat_bind.name, r, pat->as.pat_bind.is_mut, pat->span);
    return;
  }
  c_add_local(c, NULL, r, false, pat->span);
  Jumps fails = {0};
  c_pattern(c, pat, r, &fails);
  c_pattern_must_match(c, pat, r, &fails, "a `for` loop");
}

void c_pattern_must_match(Compiler *c, Node *pat, int reg, Jumps *fails, const char *what) {
  if (!fails->len) return;
  if (!c_pattern_destructures(c, pat)) {
    Diag *d = c_error(c, pat->span, "refutable pattern in %s", what);
    if (d) diag_hint(d, "use `match` or `if let` for patterns that may not match");
    return;
  }
  int j = c_jump(c, pat->span);
  c_patch_here(c, fails);
  c_emit(c, MAKE_ABC(BC_MATCHFAIL, reg, 0, 0), pat->span);
  c_patch_to(c, j, c_here(c));
}

void c_for(Compiler *c, Node *e, int dst) {
  Node *iter = e->as.for_.iter;
  Loop loop;
  c_enter_scope(c);
  int save = c->fs->freereg;
  if (iter->kind == N_RANGE && iter->as.range.lo && iter->as.range.hi) {
    /* for i in a..b: a numeric loop on ints */
    int base = c_alloc_reg(c, iter->span);
    c_alloc_reg(c, iter->span);
    c_alloc_reg(c, iter->span);
    c_expr(c, iter->as.range.lo, base);
    c_expr(c, iter->as.range.hi, base + 1);
    c_emit(c, MAKE_AsBx(BC_LOADI, base + 2, 1), iter->span);
    for (int i = 0; i < 3; i++) c_add_local(c, NULL, base + i, false, iter->span);
    OpCode prep_op = iter->as.range.inclusive ? BC_FORPREPI : BC_FORPREP;
    int prep = c_emit(c, MAKE_AsBx(prep_op, base, 0), e->span);
    push_loop(c, &loop, e->as.for_.label, NO_REG);
    int body = c_here(c);
    c_enter_scope(c);
    /* R[base+3] is the index FORLOOP writes: it is allocated (freereg past
     * it) before the pattern binds, so no binding or temporary lands on it */
    c_free_to(c, base + 3);
    c_alloc_reg(c, iter->span);
    bind_loop_pattern(c, e->as.for_.pattern, base + 3);
    c_expr(c, e->as.for_.body, NO_REG);
    c_exit_scope(c);
    int cont = c_here(c);
    int back = c_emit(c, MAKE_AsBx(BC_FORLOOP, base, 0), e->span);
    c_patch_to(c, back, body);
    c_patch_to(c, prep, c_here(c));
    pop_loop(c, &loop, cont);
  } else {
    int base = c_alloc_reg(c, iter->span);
    c_alloc_reg(c, iter->span);
    c_alloc_reg(c, iter->span);
    c_expr(c, iter, base);
    for (int i = 0; i < 2; i++) c_add_local(c, NULL, base + i, false, iter->span);
    int prep = c_emit(c, MAKE_AsBx(BC_ITERPREP, base, 0), e->span);
    push_loop(c, &loop, e->as.for_.label, NO_REG);
    int body = c_here(c);
    c_enter_scope(c);
    c_free_to(c, base + 3);
    bind_loop_pattern(c, e->as.for_.pattern, base + 2);
    c_expr(c, e->as.for_.body, NO_REG);
    c_exit_scope(c);
    int cont = c_here(c);
    c_patch_to(c, prep, cont);
    int next = c_emit(c, MAKE_AsBx(BC_ITERNEXT, base, 0), e->span);
    c_patch_to(c, next, body);
    pop_loop(c, &loop, cont);
  }
  c_exit_scope(c);
  c_free_to(c, save);
  if (dst != NO_REG) c_emit(c, MAKE_ABC(BC_LOADUNIT, dst, 0, 0), e->span);
}

static Loop *find_loop(Compiler *c, Node *e, const char *what) {
  const char *label = e->as.brk.label;
  for (Loop *l = c->fs->loop; l; l = l->outer)
    if (!label || (l->label && !strcmp(l->label, label))) return l;
  if (c->fs->no_grad) c_error(c, e->span, "return/break inside no_grad is not supported");
  else if (label) c_error(c, e->span, "use of undeclared label `'%s`", label);
  else c_error(c, e->span, "`%s` outside of a loop", what);
  return NULL;
}

void c_break(Compiler *c, Node *e, bool is_continue) {
  Loop *l = find_loop(c, e, is_continue ? "continue" : "break");
  if (!l) return;
  if (!is_continue && e->as.brk.value)
    c_expr(c, e->as.brk.value, l->dst);
  else if (!is_continue && l->dst != NO_REG) /* `break` alone: the loop's value is () */
    c_emit(c, MAKE_ABC(BC_LOADUNIT, l->dst, 0, 0), e->span);
  /* Close upvalues of locals declared inside the loop. */
  bool captured = false;
  for (int i = c->fs->nlocals - 1; i >= 0 && c->fs->locals[i].depth > l->depth; i--)
    if (c->fs->locals[i].captured) captured = true;
  if (captured) c_emit(c, MAKE_ABC(BC_CLOSE, l->base_reg, 0, 0), e->span);
  c_jumps_push(c, is_continue ? &l->continues : &l->breaks, c_jump(c, e->span));
}

void c_emit_return(Compiler *c, int r, Span sp) {
  if (c->fs->ret_spec) {
    if (r < 0) {
      r = c_alloc_reg(c, sp);
      c_emit(c, MAKE_ABC(BC_LOADUNIT, r, 0, 0), sp);
    } else if (r < c_locals_top(c->fs)) {
      /* CHECKTYPE may widen an int to a float in place: not in a local's
       * register (a closure may still see the local) */
      int t = c_alloc_reg(c, sp);
      c_emit(c, MAKE_ABC(BC_MOVE, t, r, 0), sp);
      r = t;
    }
    c_emit(c, MAKE_ABx(BC_CHECKTYPE, r, c_const(c, OBJ_VAL(c->fs->ret_spec), sp)), sp);
  }
  if (r < 0) c_emit(c, MAKE_ABC(BC_RETURN, 0, 0, 0), sp);
  else c_emit(c, MAKE_ABC(BC_RETURN, r, 1, 0), sp);
}

/* ∑ i in xs { body } / ∏: a loop accumulating into dst. */
void c_big_op(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  int acc = c_alloc_reg(c, e->span);
  c_emit(c, MAKE_AsBx(BC_LOADI, acc, e->as.big_op.op == OP_PROD ? 1 : 0), e->span);
  c_add_local(c, NULL, acc, false, e->span);
  /* Reuse the for-loop compiler with a synthetic body `acc = acc op body`. */
  Node *body = e->as.big_op.body;
  /* The accumulator is a hidden local the synthetic assignment can name. */
  Node accref = {.kind = N_IDENT, .span = e->span};
  accref.as.ident.name = " acc";
  c->fs->locals[c->fs->nlocals - 1].name = " acc";
  c->fs->locals[c->fs->nlocals - 1].is_mut = true;
  Node upd = {.kind = N_ASSIGN, .span = e->span};
  upd.as.assign.op = e->as.big_op.op == OP_PROD ? OP_MUL : OP_ADD;
  upd.as.assign.target = &accref;
  upd.as.assign.value = body;
  Node f = {.kind = N_FOR, .span = e->span};
  f.as.for_.pattern = e->as.big_op.pattern;
  f.as.for_.iter = e->as.big_op.iter;
  f.as.for_.body = &upd;
  c_for(c, &f, NO_REG);
  c_pop_locals(c, c->fs->nlocals - 1);
  if (dst != NO_REG && dst != acc) c_emit(c, MAKE_ABC(BC_MOVE, dst, acc, 0), e->span);
  c_free_to(c, save);
}

/* ---- statements ---- */

/* let pattern = init at the top level of a module: the bindings are module
 * globals. */
static void compile_global_let(Compiler *c, Node *s) {
  Node *pat = s->as.let.pattern;
  int save = c->fs->freereg;
  int r = c_alloc_reg(c, s->span);
  ObjTypeSpec *ts = s->as.let.type && s->as.let.init ? c_typespec(c, s->as.let.type, "the `let` binding") : NULL;
  if (s->as.let.init) c_expr_for(c, s->as.let.init, r, ts);
  else c_emit(c, MAKE_ABC(BC_LOADUNDEF, r, 0, 0), s->span);
  if (ts && ts->kind != TS_ANY) c_emit(c, MAKE_ABx(BC_CHECKTYPE, r, c_const(c, OBJ_VAL(ts), s->span)), s->span);
  if (pat->kind == N_PAT_BIND && !pat->as.pat_bind.sub) {
    ObjString *name = str_cstr(c->vm, pat->as.pat_bind.name);
    uint32_t slot = module_declare(c->vm, c->mod, name, 0);
    /* `let x;` is assigned later, like a local */
    c->mod->flags[slot] = pat->as.pat_bind.is_mut || !s->as.let.init ? GLOBAL_MUTABLE : 0;
    if (s->as.let.init) c_emit(c, MAKE_ABx(BC_SETGLOBAL, r, slot), pat->span);
    ItemInfo *it = arena_alloc(&c->arena, sizeof *it);
    it->name = pat->as.pat_bind.name;
    it->node = s;
    it->next = c->items;
    c->items = it;
    c_free_to(c, save);
    return;
  }
  c_enter_scope(c);
  int first = c->fs->nlocals;
  c_add_local(c, NULL, r, false, s->span);
  Jumps fails = {0};
  c_pattern(c, pat, r, &fails);
  c_pattern_must_match(c, pat, r, &fails, "a `let` binding");
  for (int i = first + 1; i < c->fs->nlocals; i++) {
    Local *l = &c->fs->locals[i];
    if (!l->name) continue;
    ObjString *name = str_cstr(c->vm, l->name);
    uint32_t slot = module_declare(c->vm, c->mod, name, 0);
    c->mod->flags[slot] = (uint8_t)((c->mod->flags[slot] & ~GLOBAL_MUTABLE & ~GLOBAL_BUILTIN) |
                                    (l->is_mut ? GLOBAL_MUTABLE : 0));
    c_emit(c, MAKE_ABx(BC_SETGLOBAL, l->reg, slot), l->span);
    ItemInfo *it = arena_alloc(&c->arena, sizeof *it);
    it->name = l->name;
    it->node = s;
    it->next = c->items;
    c->items = it;
  }
  c->fs->depth--;
  c_pop_locals(c, first);
  c_free_to(c, save);
}

static void compile_let(Compiler *c, Node *s) {
  if (is_toplevel_scope(c)) {
    compile_global_let(c, s);
    return;
  }
  Node *pat = s->as.let.pattern;
  int r = c_alloc_reg(c, s->span);
  ObjTypeSpec *ts = s->as.let.type && s->as.let.init ? c_typespec(c, s->as.let.type, "the `let` binding") : NULL;
  if (s->as.let.init) c_expr_for(c, s->as.let.init, r, ts);
  else c_emit(c, MAKE_ABC(BC_LOADUNDEF, r, 0, 0), s->span);
  if (ts && ts->kind != TS_ANY) c_emit(c, MAKE_ABx(BC_CHECKTYPE, r, c_const(c, OBJ_VAL(ts), s->span)), s->span);
  c_free_to(c, r + 1);
  if (pat->kind == N_PAT_BIND && !pat->as.pat_bind.sub) {
    int i = c_add_local(c, pat->as.pat_bind.name, r, pat->as.pat_bind.is_mut, pat->span);
    if (s->as.let.type) c_note_local_unit(c, i, s->as.let.type);
    Node *init = s->as.let.init;
    if (init && init->kind == N_REF && init->as.ref.is_mut) c->fs->locals[i].mut_target = true;
    if (s->as.let.type && s->as.let.type->kind == N_TYPE_REF && s->as.let.type->as.type_ref.is_mut)
      c->fs->locals[i].mut_target = true;
    /* `let x;` then `x = 1` once: allowed like Rust's deferred init. */
    if (!init) c->fs->locals[i].is_mut = true;
    return;
  }
  c_add_local(c, NULL, r, false, s->span);
  Jumps fails = {0};
  c_pattern(c, pat, r, &fails);
  c_pattern_must_match(c, pat, r, &fails, "a `let` binding");
}

static void compile_local_fn(Compiler *c, Node *s) {
  /* fn inside a block: a local closure that can call itself. */
  int r = c_alloc_reg(c, s->span);
  int local = c_add_local(c, s->as.fn.name, r, false, s->span);
  Node cl = {.kind = N_CLOSURE, .span = s->span};
  cl.as.closure.params = s->as.fn.params;
  cl.as.closure.ret = s->as.fn.ret;
  cl.as.closure.body = s->as.fn.body;
  const char *saved = c->fn_name;
  c->fn_name = s->as.fn.name;
  ObjProto *p = c_closure_proto(c, &cl);
  c->fn_name = saved;
  if (p) {
    p->name = str_cstr(c->vm, s->as.fn.name);
    c_emit(c, MAKE_ABx(BC_CLOSURE, r, proto_add_proto(c->vm, c->fs->proto, p)), s->span);
  }
  c_local_starts_here(c, local);
}

void c_stmt(Compiler *c, Node *s) {
  c_free_to(c, c_active_top(c->fs));
  switch (s->kind) {
  case N_LET: compile_let(c, s); break;
  case N_EXPR_STMT: c_expr(c, s->as.expr_stmt.expr, NO_REG); break;
  case N_FN:
    if (c->fs->is_toplevel && c->fs->depth == 0) break; /* defined with the module */
    compile_local_fn(c, s);
    break;
  case N_USE: case N_CONST:
    if (is_toplevel_scope(c)) c_item_runtime(c, s);
    else c_error(c, s->span, "`%s` inside a block is not supported; move it to the top level",
                 s->kind == N_USE ? "use" : "const");
    break;
  case N_STRUCT: case N_ENUM: case N_IMPL: case N_TRAIT: case N_TYPE_ALIAS: case N_MOD: case N_EXTERN:
    if (!is_toplevel_scope(c)) c_error(c, s->span, "items other than `fn` must be at the top level of a module");
    break;
  default: c_expr(c, s, NO_REG); break;
  }
  c_free_to(c, c_active_top(c->fs));
}

