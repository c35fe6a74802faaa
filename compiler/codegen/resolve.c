/* Name resolution for the compiler: block scopes and the locals they
 * declare (with their live ranges for the verifier), upvalues captured from
 * enclosing functions, module globals, compile-time values of paths such
 * as `Enum::Variant` or `module::f`, whether an assignment target may be
 * assigned, and the "cannot find ... did you mean" diagnostics.
 *
 * A name is looked up innermost first: a local of the current function,
 * then an upvalue (a local of an enclosing function, captured on first
 * use), then a global of the module. */
#include "cstate.h"

#include <string.h>

/* ---- scopes and names ---- */

void c_enter_scope(Compiler *c) { c->fs->depth++; }

/* A new entry of the verifier's table of locals and assignments. */
VerifyLocal *c_live_entry(Compiler *c) {
  FuncState *fs = c->fs;
  if (fs->nlive == fs->caplive) {
    int cap = fs->caplive ? fs->caplive * 2 : 32;
    VerifyLocal *grown = arena_alloc(&c->arena, sizeof(VerifyLocal) * cap);
    if (fs->nlive) memcpy(grown, fs->live, sizeof(VerifyLocal) * fs->nlive);
    fs->live = grown;
    fs->caplive = cap;
  }
  return &fs->live[fs->nlive++];
}

/* The verifier's record of local i, completed when its scope ends. */
static void close_live(Compiler *c, Local *l) {
  VerifyLocal *v = &c->fs->live[l->live];
  v->name = l->name;
  v->is_mut = l->is_mut;
  v->endpc = (uint32_t)c_here(c);
}

void c_pop_locals(Compiler *c, int n) {
  FuncState *fs = c->fs;
  while (fs->nlocals > n) close_live(c, &fs->locals[--fs->nlocals]);
}

void c_local_starts_here(Compiler *c, int local) {
  c->fs->live[c->fs->locals[local].live].startpc = (uint32_t)c_here(c);
}

void c_exit_scope(Compiler *c) {
  FuncState *fs = c->fs;
  fs->depth--;
  int lowest = -1, lowest_captured = -1;
  while (fs->nlocals > 0 && fs->locals[fs->nlocals - 1].depth > fs->depth) {
    Local *l = &fs->locals[fs->nlocals - 1];
    lowest = l->reg;
    if (l->captured) lowest_captured = l->reg;
    c_pop_locals(c, fs->nlocals - 1);
  }
  if (lowest_captured >= 0) c_emit(c, MAKE_ABC(BC_CLOSE, lowest_captured, 0, 0), (Span){0, 0});
  if (lowest >= 0) fs->freereg = lowest;
}

int c_add_local(Compiler *c, const char *name, int reg, bool is_mut, Span sp) {
  FuncState *fs = c->fs;
  if (fs->nlocals >= MAX_LOCALS) {
    c_error(c, sp, "too many local variables in one function (more than %d)", MAX_LOCALS);
    return 0;
  }
  /* A local's register stays allocated while it lives: temporaries are
   * taken above it. */
  if (fs->freereg <= reg) c_free_to(c, reg + 1);
  VerifyLocal *v = c_live_entry(c);
  v->name = name;
  v->reg = (uint8_t)reg;
  v->is_mut = is_mut;
  v->startpc = (uint32_t)c_here(c);
  v->endpc = UINT32_MAX;
  v->assigns = false;
  Local *l = &fs->locals[fs->nlocals++];
  l->live = (int)(v - fs->live);
  l->name = name;
  l->reg = reg;
  l->depth = fs->depth;
  l->is_mut = is_mut;
  l->mut_target = is_mut;
  l->captured = false;
  l->has_unit = false;
  l->span = sp;
  return fs->nlocals - 1;
}

int c_local_index(FuncState *fs, const char *name) {
  for (int i = fs->nlocals - 1; i >= 0; i--)
    if (fs->locals[i].name && strcmp(fs->locals[i].name, name) == 0) return i;
  return -1;
}

Local *c_find_local(Compiler *c, const char *name) {
  int i = c_local_index(c->fs, name);
  return i >= 0 ? &c->fs->locals[i] : NULL;
}

static int add_upval(Compiler *c, FuncState *fs, const char *name, int index, bool in_stack,
                     bool is_mut, bool mut_target, Span decl) {
  if (fs->nupvals >= MAX_UPVALS) {
    c_error(c, decl, "closure captures too many variables");
    return 0;
  }
  Upval *u = &fs->upvals[fs->nupvals];
  u->name = name;
  u->index = (uint8_t)index;
  u->in_stack = in_stack;
  u->is_mut = is_mut;
  u->mut_target = mut_target;
  u->span = decl;
  return fs->nupvals++;
}

int c_upval_index(Compiler *c, FuncState *fs, const char *name) {
  for (int i = 0; i < fs->nupvals; i++)
    if (strcmp(fs->upvals[i].name, name) == 0) return i;
  if (!fs->enclosing) return -1;
  int l = c_local_index(fs->enclosing, name);
  if (l >= 0) {
    Local *loc = &fs->enclosing->locals[l];
    loc->captured = true;
    return add_upval(c, fs, name, loc->reg, true, loc->is_mut, loc->mut_target, loc->span);
  }
  int u = c_upval_index(c, fs->enclosing, name);
  if (u >= 0) {
    Upval *up = &fs->enclosing->upvals[u];
    return add_upval(c, fs, name, u, false, up->is_mut, up->mut_target, up->span);
  }
  return -1;
}

int c_resolve_global(Compiler *c, const char *name) {
  ObjString *s = str_cstr(c->vm, name);
  int slot = module_find(c->mod, s);
  if (slot < 0 && c->env->prelude_more && c->env->prelude_more(c->vm, c->mod, name)) slot = module_find(c->mod, s);
  return slot;
}

/* Collect every visible name for a "did you mean" hint. */
static const char *closest_name(Compiler *c, const char *name) {
  const char **names = NULL;
  int n = 0, cap = 0;
#define ADD_NAME(s)                                                      \
  do {                                                                   \
    if (n == cap) {                                                      \
      cap = cap ? cap * 2 : 64;                                          \
      const char **nn = arena_alloc(&c->arena, sizeof(char *) * cap);    \
      if (n) memcpy(nn, names, sizeof(char *) * n);                      \
      names = nn;                                                        \
    }                                                                    \
    names[n++] = (s);                                                    \
  } while (0)
  for (FuncState *fs = c->fs; fs; fs = fs->enclosing) {
    for (int i = 0; i < fs->nlocals; i++)
      if (fs->locals[i].name) ADD_NAME(fs->locals[i].name);
    for (int i = 0; i < fs->nupvals; i++) ADD_NAME(fs->upvals[i].name);
  }
  for (uint32_t i = 0; i < c->mod->nglobals; i++) ADD_NAME(c->mod->names[i]->chars);
#undef ADD_NAME
  return diag_closest(name, names, n);
}

static void undefined_name(Compiler *c, const char *name, Span sp) {
  Diag *d = c_error(c, sp, "cannot find `%s` in this scope", name);
  const char *close = closest_name(c, name);
  if (close && d) diag_hint(d, "did you mean `%s`?", close);
}

NameKind c_resolve(Compiler *c, const char *name, int *index) {
  int i = c_local_index(c->fs, name);
  if (i >= 0) {
    *index = i;
    return NAME_LOCAL;
  }
  i = c_upval_index(c, c->fs, name);
  if (i >= 0) {
    *index = i;
    return NAME_UPVAL;
  }
  i = c_resolve_global(c, name);
  if (i >= 0) {
    *index = i;
    return NAME_GLOBAL;
  }
  return NAME_NONE;
}

/* Load the variable `name` into dst. */
void c_load_name(Compiler *c, const char *name, Span sp, int dst) {
  int i;
  switch (c_resolve(c, name, &i)) {
  case NAME_LOCAL:
    if (c->fs->locals[i].reg != dst) c_emit(c, MAKE_ABC(BC_MOVE, dst, c->fs->locals[i].reg, 0), sp);
    break;
  case NAME_UPVAL: c_emit(c, MAKE_ABC(BC_GETUPVAL, dst, i, 0), sp); break;
  case NAME_GLOBAL: c_emit(c, MAKE_ABx(BC_GETGLOBAL, dst, i), sp); break;
  case NAME_NONE: undefined_name(c, name, sp); break;
  }
}

const char *c_path_text(Compiler *c, Node *path) {
  if (path->kind == N_IDENT) return path->as.ident.name;
  if (path->kind == N_SELF) return "self";
  if (path->kind != N_PATH) return "?";
  size_t len = 0;
  for (int i = 0; i < path->as.path.segments.len; i++)
    len += strlen(path->as.path.segments.items[i]->as.ident.name) + 2;
  char *s = arena_alloc(&c->arena, len + 1), *p = s;
  for (int i = 0; i < path->as.path.segments.len; i++) {
    const char *seg = path->as.path.segments.items[i]->as.ident.name;
    if (i) *p++ = ':', *p++ = ':';
    size_t n = strlen(seg);
    memcpy(p, seg, n);
    p += n;
  }
  *p = 0;
  return s;
}

/* Member `name` of a compile-time value (a class's variant or method, a
 * module's global), or UNDEF. */
Value c_static_member(Compiler *c, Value v, const char *name) {
  if (!IS_OBJ(v)) return UNDEF_VAL;
  ObjString *s = str_cstr(c->vm, name);
  if (IS_CLASS(v)) {
    ObjClass *cls = AS_CLASS(v);
    for (int i = 0; i < cls->nvariants; i++)
      if (cls->variants[i].name == s)
        return IS_UNDEF(cls->variants[i].ctor) ? cls->variants[i].unit_value : cls->variants[i].ctor;
    Value m;
    if (table_get(&cls->methods, s, &m)) return IS_UNDEF(m) ? UNIT_VAL : m; /* UNDEF: not compiled yet */
  } else if (IS_OBJ_TYPE(v, OBJ_MODULE)) {
    int slot = module_find(AS_MODULE(v), s);
    if (slot >= 0) return AS_MODULE(v)->values[slot];
  }
  return UNDEF_VAL;
}

Value c_static_value(Compiler *c, Node *path) {
  if (path->kind == N_IDENT && !strcmp(path->as.ident.name, "Self"))
    return c->self_class ? OBJ_VAL(c->self_class) : UNDEF_VAL;
  if (path->kind == N_IDENT) {
    if (c_local_index(c->fs, path->as.ident.name) >= 0) return UNDEF_VAL;
    int slot = c_resolve_global(c, path->as.ident.name);
    return slot >= 0 ? c->mod->values[slot] : UNDEF_VAL;
  }
  if (path->kind != N_PATH) return UNDEF_VAL;
  NodeList *segs = &path->as.path.segments;
  Value v;
  const char *first = segs->items[0]->as.ident.name;
  if (strcmp(first, "Self") == 0) {
    v = c->self_class ? OBJ_VAL(c->self_class) : UNDEF_VAL;
  } else {
    v = c_static_value(c, segs->items[0]);
  }
  for (int i = 1; i < segs->len && !IS_UNDEF(v); i++) v = c_static_member(c, v, segs->items[i]->as.ident.name);
  return v;
}

/* ---- assignment targets and mutability ---- */

/* The variable at the root of a place expression (`p` in `p.a[1].b`). */
Node *c_place_root(Node *e) {
  for (;;) {
    if (e->kind == N_FIELD) e = e->as.field.object;
    else if (e->kind == N_INDEX) e = e->as.index.object;
    else return e;
  }
}

void c_check_mutable_root(Compiler *c, Node *target) {
  Node *root = c_place_root(target);
  const char *name;
  if (root->kind == N_IDENT) name = root->as.ident.name;
  else if (root->kind == N_SELF) name = "self";
  else return; /* a temporary: f().x = 1 is allowed */
  int i;
  bool ok = true;
  Span decl = {0, 0};
  switch (c_resolve(c, name, &i)) {
  case NAME_LOCAL: ok = c->fs->locals[i].mut_target; decl = c->fs->locals[i].span; break;
  case NAME_UPVAL: ok = c->fs->upvals[i].mut_target; decl = c->fs->upvals[i].span; break;
  case NAME_GLOBAL: {
    ok = (c->mod->flags[i] & GLOBAL_MUTABLE) != 0;
    for (ItemInfo *it = c->items; it; it = it->next)
      if (!strcmp(it->name, name)) {
        decl = it->node->span;
        break;
      }
    break;
  }
  case NAME_NONE: return;
  }
  if (ok) return;
  if (root->kind == N_SELF) {
    Diag *d = c_error(c, target->span, "cannot assign through `self`: the method takes `&self`");
    if (d) diag_hint(d, "take `&mut self` to modify the receiver");
    return;
  }
  Diag *d = c_error(c, target->span, "cannot assign to a part of `%s`, which is not mutable", name);
  if (d) diag_hint(d, "declare it mutable: `let mut %s`", name);
  if (decl.end > decl.start) c_note(c, decl, "declared here");
}

void c_assign_error_immutable(Compiler *c, const char *name, Span sp, Span decl, bool is_const) {
  Diag *d;
  if (is_const) {
    d = c_error(c, sp, "cannot assign to `%s`, which is not a variable", name);
  } else {
    d = c_error(c, sp, "cannot assign twice to immutable variable `%s`", name);
    if (d) diag_hint(d, "make it mutable: `let mut %s`", name);
  }
  if (decl.end > decl.start) c_note(c, decl, "first assigned here");
}

/* Store register r into variable `name`. */
void c_store_name(Compiler *c, const char *name, Span sp, int r) {
  int i;
  switch (c_resolve(c, name, &i)) {
  case NAME_LOCAL: {
    Local *l = &c->fs->locals[i];
    if (!l->is_mut) c_assign_error_immutable(c, name, sp, l->span, false);
    if (l->reg != r) c_emit(c, MAKE_ABC(BC_MOVE, l->reg, r, 0), sp);
    break;
  }
  case NAME_UPVAL: {
    Upval *u = &c->fs->upvals[i];
    if (!u->is_mut) c_assign_error_immutable(c, name, sp, u->span, false);
    c_emit(c, MAKE_ABC(BC_SETUPVAL, r, i, 0), sp);
    break;
  }
  case NAME_GLOBAL:
    if (!(c->mod->flags[i] & GLOBAL_MUTABLE)) {
      Span decl = {0, 0};
      bool is_var = false;
      for (ItemInfo *it = c->items; it; it = it->next)
        if (strcmp(it->name, name) == 0) {
          decl = it->node->span;
          is_var = it->node->kind == N_LET;
          break;
        }
      c_assign_error_immutable(c, name, sp, decl, !is_var);
    }
    c_emit(c, MAKE_ABx(BC_SETGLOBAL, r, i), sp);
    break;
  case NAME_NONE: undefined_name(c, name, sp); break;
  }
}
