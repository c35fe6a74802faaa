/* Patterns: `match` arms, `if let`, `while let`, destructuring `let`, for
 * loops and parameters. A pattern compiles to tests that jump away on a
 * mismatch, interleaved with the bindings it introduces; `match` over a
 * known enum is checked for exhaustiveness at compile time. */
#include "cstate.h"

#include <string.h>

/* What a bare name in a pattern means: a unit variant or constant of the
 * module (`None`, `RED`), else a new binding. */
static bool names_constant(Compiler *c, const char *name, Value *out) {
  Node id = {.kind = N_IDENT};
  id.as.ident.name = name;
  Value v = c_static_value(c, &id);
  if (IS_OBJ_TYPE(v, OBJ_VARIANT) || IS_OBJ_TYPE(v, OBJ_CTOR)) {
    *out = v;
    return true;
  }
  return false;
}

/* Literal value of a pattern bound (PAT_LIT or a literal expression). */
static Node *lit_expr(Node *n) { return n->kind == N_PAT_LIT ? n->as.pat_lit.value : n; }

static void emit_test_jump(Compiler *c, uint32_t ins, Span sp, Jumps *fails) {
  c_emit(c, ins, sp);
  c_jumps_push(c, fails, c_jump(c, sp));
}

static void bind(Compiler *c, const char *name, bool is_mut, int reg, Span sp) {
  int r = c_alloc_reg(c, sp);
  c_emit(c, MAKE_ABC(BC_MOVE, r, reg, 0), sp);
  c_add_local(c, name, r, is_mut, sp);
}

/* Variant info for a static ctor/unit variant value. */
static bool variant_of(Value v, ObjClass **cls, int *tag) {
  if (IS_OBJ_TYPE(v, OBJ_CTOR)) {
    *cls = AS_CTOR(v)->cls;
    *tag = AS_CTOR(v)->tag;
    return true;
  }
  if (IS_OBJ_TYPE(v, OBJ_VARIANT)) {
    *cls = AS_VARIANT(v)->cls;
    *tag = AS_VARIANT(v)->tag;
    return true;
  }
  return false;
}

static void test_against(Compiler *c, Node *path, int reg, Jumps *fails, Span sp) {
  int save = c->fs->freereg;
  int d = c_alloc_reg(c, sp);
  c_load_path(c, path, d);
  emit_test_jump(c, MAKE_ABC(BC_JVARIANT, reg, d, 0), sp, fails);
  c_free_to(c, save);
}

static void sub_pattern(Compiler *c, Node *pat, int reg, int index, Jumps *fails) {
  if (pat->kind == N_PAT_WILD || pat->kind == N_PAT_REST) return;
  int t = c_alloc_reg(c, pat->span);
  c_emit(c, MAKE_ABC(BC_UNPACK, t, reg, index), pat->span);
  if (pat->kind == N_PAT_BIND && !pat->as.pat_bind.sub) {
    Value v;
    if (!names_constant(c, pat->as.pat_bind.name, &v)) {
      c_add_local(c, pat->as.pat_bind.name, t, pat->as.pat_bind.is_mut, pat->span);
      return;
    }
  }
  c_pattern(c, pat, t, fails);
}

void c_pattern(Compiler *c, Node *pat, int reg, Jumps *fails) {
  switch (pat->kind) {
  case N_PAT_WILD:
  case N_PAT_REST:
    break;
  case N_PAT_BIND: {
    Value v;
    if (!pat->as.pat_bind.sub && names_constant(c, pat->as.pat_bind.name, &v)) {
      if (IS_OBJ_TYPE(v, OBJ_CTOR)) {
        c_error(c, pat->span, "`%s` carries a value: match it as `%s(..)`", pat->as.pat_bind.name,
                pat->as.pat_bind.name);
        break;
      }
      Node id = {.kind = N_IDENT, .span = pat->span};
      id.as.ident.name = pat->as.pat_bind.name;
      test_against(c, &id, reg, fails, pat->span);
      break;
    }
    if (pat->as.pat_bind.sub) c_pattern(c, pat->as.pat_bind.sub, reg, fails);
    bind(c, pat->as.pat_bind.name, pat->as.pat_bind.is_mut, reg, pat->span);
    break;
  }
  case N_PAT_LIT: {
    int save = c->fs->freereg;
    int t = c_alloc_reg(c, pat->span);
    c_expr(c, lit_expr(pat), t);
    emit_test_jump(c, MAKE_ABC(BC_JEQ, reg, t, 0), pat->span, fails);
    c_free_to(c, save);
    break;
  }
  case N_PAT_RANGE: {
    int save = c->fs->freereg;
    if (pat->as.pat_range.lo) {
      int lo = c_alloc_reg(c, pat->span);
      c_expr(c, lit_expr(pat->as.pat_range.lo), lo);
      emit_test_jump(c, MAKE_ABC(BC_JLE, lo, reg, 0), pat->span, fails);
    }
    if (pat->as.pat_range.hi) {
      int hi = c_alloc_reg(c, pat->span);
      c_expr(c, lit_expr(pat->as.pat_range.hi), hi);
      OpCode op = pat->as.pat_range.inclusive ? BC_JLE : BC_JLT;
      emit_test_jump(c, MAKE_ABC(op, reg, hi, 0), pat->span, fails);
    }
    c_free_to(c, save);
    break;
  }
  case N_PAT_TUPLE: {
    NodeList *el = &pat->as.pat_tuple.elems;
    int rest = -1;
    for (int i = 0; i < el->len; i++)
      if (el->items[i]->kind == N_PAT_REST) rest = i;
    if (rest < 0) emit_test_jump(c, MAKE_ABC(BC_JTUPLE, reg, el->len, 0), pat->span, fails);
    else if (rest != el->len - 1)
      c_error(c, el->items[rest]->span, "`..` is supported only at the end of a tuple pattern");
    for (int i = 0; i < el->len; i++) sub_pattern(c, el->items[i], reg, i, fails);
    break;
  }
  case N_PAT_VARIANT: {
    Node *path = pat->as.pat_variant.path;
    NodeList *el = &pat->as.pat_variant.elems;
    Value v = c_static_value(c, path);
    ObjClass *cls;
    int tag;
    if (variant_of(v, &cls, &tag)) {
      int want = cls->variants[tag].nfields;
      bool has_rest = el->len && el->items[el->len - 1]->kind == N_PAT_REST;
      if (IS_OBJ_TYPE(v, OBJ_VARIANT) && el->len) {
        c_error(c, pat->span, "`%s` has no fields", c_path_text(c, path));
      } else if (!has_rest && el->len != want) {
        c_error(c, pat->span, "this pattern has %d field%s, but the variant `%s` has %d", el->len,
                el->len == 1 ? "" : "s", cls->variants[tag].name->chars, want);
      }
    } else if (IS_CLASS(v) && AS_CLASS(v)->kind == CLASS_STRUCT) {
      /* tuple struct pattern: Point(x, y) */
    } else if (!IS_UNDEF(v)) {
      c_error(c, path->span, "`%s` is not an enum variant or tuple struct", c_path_text(c, path));
    }
    test_against(c, path, reg, fails, pat->span);
    for (int i = 0; i < el->len; i++) sub_pattern(c, el->items[i], reg, i, fails);
    break;
  }
  case N_PAT_PATH: {
    Node *path = pat->as.pat_path.path;
    Value v = c_static_value(c, path);
    if (IS_OBJ_TYPE(v, OBJ_CTOR)) {
      c_error(c, pat->span, "`%s` carries a value: match it as `%s(..)`", c_path_text(c, path),
              c_path_text(c, path));
    } else if (IS_OBJ_TYPE(v, OBJ_VARIANT) || IS_UNDEF(v) || IS_CLASS(v)) {
      test_against(c, path, reg, fails, pat->span);
    } else {
      int save = c->fs->freereg;
      int t = c_alloc_reg(c, pat->span);
      c_expr(c, path, t);
      emit_test_jump(c, MAKE_ABC(BC_JEQ, reg, t, 0), pat->span, fails);
      c_free_to(c, save);
    }
    break;
  }
  case N_PAT_STRUCT: {
    Node *path = pat->as.pat_struct.path;
    test_against(c, path, reg, fails, pat->span);
    NodeList *fl = &pat->as.pat_struct.fields;
    for (int i = 0; i < fl->len; i++) {
      Node *f = fl->items[i];
      const char *name = f->as.field_init.name;
      int t = c_alloc_reg(c, f->span);
      c_emit_k8(c, BC_GETFIELD, t, reg, c_str_const(c, name, f->span), f->span);
      Node *sub = f->as.field_init.value;
      if (!sub) c_add_local(c, name, t, false, f->span);
      else if (sub->kind == N_PAT_BIND && !sub->as.pat_bind.sub && !names_constant(c, sub->as.pat_bind.name, &(Value){0}))
        c_add_local(c, sub->as.pat_bind.name, t, sub->as.pat_bind.is_mut, sub->span);
      else c_pattern(c, sub, t, fails);
    }
    break;
  }
  case N_PAT_OR: {
    NodeList *alts = &pat->as.pat_or.alts;
    Jumps ok = {0};
    int nlocals = c->fs->nlocals;
    for (int i = 0; i < alts->len; i++) {
      bool last = i == alts->len - 1;
      Jumps alt_fails = {0};
      c_pattern(c, alts->items[i], reg, last ? fails : &alt_fails);
      if (c->fs->nlocals != nlocals) {
        c_error(c, alts->items[i]->span, "bindings inside `|` patterns are not supported");
        c_pop_locals(c, nlocals);
      }
      if (!last) {
        c_jumps_push(c, &ok, c_jump(c, pat->span));
        c_patch_here(c, &alt_fails);
      }
    }
    c_patch_here(c, &ok);
    break;
  }
  default:
    c_error(c, pat->span, "expected a pattern");
    break;
  }
}

bool c_pattern_is_binding(Compiler *c, Node *pat) {
  Value v;
  return pat->kind == N_PAT_BIND && !pat->as.pat_bind.sub && !names_constant(c, pat->as.pat_bind.name, &v);
}

bool c_pattern_irrefutable(Compiler *c, Node *pat) {
  Value v;
  switch (pat->kind) {
  case N_PAT_WILD: case N_PAT_REST: return true;
  case N_PAT_BIND:
    if (names_constant(c, pat->as.pat_bind.name, &v)) return false;
    return !pat->as.pat_bind.sub || c_pattern_irrefutable(c, pat->as.pat_bind.sub);
  case N_PAT_TUPLE:
    for (int i = 0; i < pat->as.pat_tuple.elems.len; i++)
      if (!c_pattern_irrefutable(c, pat->as.pat_tuple.elems.items[i])) return false;
    return true;
  default: return false;
  }
}

bool c_pattern_destructures(Compiler *c, Node *pat) {
  Value v;
  switch (pat->kind) {
  case N_PAT_WILD: case N_PAT_REST: return true;
  case N_PAT_BIND:
    if (names_constant(c, pat->as.pat_bind.name, &v)) return false;
    return !pat->as.pat_bind.sub || c_pattern_destructures(c, pat->as.pat_bind.sub);
  case N_PAT_TUPLE:
    for (int i = 0; i < pat->as.pat_tuple.elems.len; i++)
      if (!c_pattern_destructures(c, pat->as.pat_tuple.elems.items[i])) return false;
    return true;
  case N_PAT_VARIANT: {
    v = c_static_value(c, pat->as.pat_variant.path);
    if (!IS_CLASS(v) || AS_CLASS(v)->kind != CLASS_STRUCT) return false;
    for (int i = 0; i < pat->as.pat_variant.elems.len; i++)
      if (!c_pattern_destructures(c, pat->as.pat_variant.elems.items[i])) return false;
    return true;
  }
  case N_PAT_STRUCT: {
    v = c_static_value(c, pat->as.pat_struct.path);
    if (!IS_CLASS(v) || AS_CLASS(v)->kind != CLASS_STRUCT) return false;
    for (int i = 0; i < pat->as.pat_struct.fields.len; i++) {
      Node *sub = pat->as.pat_struct.fields.items[i]->as.field_init.value;
      if (sub && !c_pattern_destructures(c, sub)) return false;
    }
    return true;
  }
  default: return false;
  }
}

/* ---- exhaustiveness ---- */

/* Mark the variant a pattern fully covers. Returns true for a catch-all. */
static bool cover(Compiler *c, Node *pat, ObjClass **enm, bool *covered, bool *mixed) {
  ObjClass *cls;
  int tag;
  Value v;
  bool full = true;
  switch (pat->kind) {
  case N_PAT_WILD: return true;
  case N_PAT_BIND:
    if (names_constant(c, pat->as.pat_bind.name, &v)) break;
    return !pat->as.pat_bind.sub || cover(c, pat->as.pat_bind.sub, enm, covered, mixed);
  case N_PAT_OR:
    for (int i = 0; i < pat->as.pat_or.alts.len; i++)
      if (cover(c, pat->as.pat_or.alts.items[i], enm, covered, mixed)) return true;
    return false;
  case N_PAT_PATH: v = c_static_value(c, pat->as.pat_path.path); break;
  case N_PAT_VARIANT:
    v = c_static_value(c, pat->as.pat_variant.path);
    for (int i = 0; i < pat->as.pat_variant.elems.len; i++)
      if (!c_pattern_irrefutable(c, pat->as.pat_variant.elems.items[i])) full = false;
    break;
  case N_PAT_STRUCT:
    v = c_static_value(c, pat->as.pat_struct.path);
    for (int i = 0; i < pat->as.pat_struct.fields.len; i++) {
      Node *sub = pat->as.pat_struct.fields.items[i]->as.field_init.value;
      if (sub && !c_pattern_irrefutable(c, sub)) full = false;
    }
    break;
  default: *mixed = true; return false;
  }
  if (!variant_of(v, &cls, &tag)) {
    *mixed = true;
    return false;
  }
  if (*enm && *enm != cls) *mixed = true;
  *enm = cls;
  if (full && tag < 1024) covered[tag] = true;
  return false;
}

static void check_exhaustive(Compiler *c, Node *e) {
  ObjClass *enm = NULL;
  bool covered[1024] = {0};
  bool mixed = false;
  NodeList *arms = &e->as.match.arms;
  for (int i = 0; i < arms->len; i++) {
    Node *arm = arms->items[i];
    bool guarded = arm->as.arm.guard != NULL;
    bool scratch[1024];
    bool *target = guarded ? scratch : covered;
    if (cover(c, arm->as.arm.pattern, &enm, target, &mixed) && !guarded) return;
  }
  if (!enm || mixed) return;
  char missing[512] = "";
  int nmissing = 0;
  for (int t = 0; t < enm->nvariants && t < 1024; t++) {
    if (covered[t]) continue;
    if (nmissing < 4) {
      size_t len = strlen(missing);
      snprintf(missing + len, sizeof missing - len, "%s`%s`", nmissing ? ", " : "", enm->variants[t].name->chars);
    }
    nmissing++;
  }
  if (!nmissing) return;
  if (nmissing > 4) {
    size_t len = strlen(missing);
    snprintf(missing + len, sizeof missing - len, " and %d more", nmissing - 4);
  }
  Diag *d = c_error(c, e->as.match.scrutinee->span, "non-exhaustive match: %s of `%s` not covered", missing,
                    enm->name->chars);
  if (d) diag_hint(d, "add an arm for each missing variant, or a `_ =>` arm");
}

/* match scrutinee { pat if guard => body, ... } */
void c_match(Compiler *c, Node *e, int dst) {
  int save = c->fs->freereg;
  c_enter_scope(c);
  int scrut = c_alloc_reg(c, e->span);
  c_expr(c, e->as.match.scrutinee, scrut);
  c_add_local(c, NULL, scrut, false, e->span);
  Jumps ends = {0};
  NodeList *arms = &e->as.match.arms;
  for (int i = 0; i < arms->len; i++) {
    Node *arm = arms->items[i];
    Jumps fails = {0};
    c_free_to(c, scrut + 1);
    c_enter_scope(c);
    c_pattern(c, arm->as.arm.pattern, scrut, &fails);
    if (arm->as.arm.guard) c_cond_jump(c, arm->as.arm.guard, false, &fails);
    c_expr(c, arm->as.arm.body, dst);
    c_exit_scope(c);
    c_jumps_push(c, &ends, c_jump(c, arm->span));
    c_patch_here(c, &fails);
  }
  c_emit(c, MAKE_ABC(BC_MATCHFAIL, scrut, 0, 0), e->as.match.scrutinee->span);
  c_patch_here(c, &ends);
  c_exit_scope(c);
  c_free_to(c, save);
  check_exhaustive(c, e);
}
