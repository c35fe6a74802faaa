/* Literals that build a value from many parts: list, tuple and vec!
 * literals of any length, f-strings and format strings, struct literals.
 * Their parts are evaluated left to right into consecutive registers.
 * Other expressions are in compiler.c. */
#include "cstate.h"

#include <string.h>

/* ---- list and tuple literals ----
 *
 * A literal of any length: its elements go to registers SEQ_CHUNK at a
 * time (NEWLIST, then APPENDN per chunk; a long tuple is built as a list
 * and converted by TUPLEOF). A list literal made only of literals (pasted
 * data: numbers, strings, nested lists of them) is one constant that LISTK
 * copies, so it costs neither registers nor a constant per element. */
#define SEQ_CHUNK 64
#define LISTK_MIN 16 /* smaller literal lists are built from registers */

/* Is e a literal LISTK can hold? Adds its scalar count to *n. Tuples are
 * shared by the copies, so they may not hold lists. */
static bool literal_tree(Node *e, bool in_tuple, long *n) {
  switch (e->kind) {
  case N_INT: case N_FLOAT: case N_STRING: case N_CHAR: case N_BOOL: case N_UNIT: ++*n; return true;
  case N_UNARY:
    ++*n;
    return e->as.unary.op == OP_NEG && (e->as.unary.operand->kind == N_INT || e->as.unary.operand->kind == N_FLOAT);
  case N_LIST:
    if (in_tuple) return false;
    for (int i = 0; i < e->as.list.elems.len; i++)
      if (!literal_tree(e->as.list.elems.items[i], false, n)) return false;
    return true;
  case N_TUPLE:
    for (int i = 0; i < e->as.tuple.elems.len; i++)
      if (!literal_tree(e->as.tuple.elems.items[i], true, n)) return false;
    return true;
  default: return false;
  }
}

/* The value of a literal_tree node (the compiler's heap is not collected). */
static Value literal_tree_value(Compiler *c, Node *e) {
  switch (e->kind) {
  case N_INT: return INT_VAL(e->as.int_lit.value);
  case N_FLOAT: return FLOAT_VAL(e->as.float_lit.value);
  case N_STRING: return OBJ_VAL(str_copy(c->vm, e->as.str.value, e->as.str.len));
  case N_CHAR: return CHAR_VAL(e->as.char_lit.value);
  case N_BOOL: return BOOL_VAL(e->as.bool_lit.value);
  case N_UNARY: {
    Node *x = e->as.unary.operand;
    return x->kind == N_INT ? INT_VAL((int64_t)(0 - (uint64_t)x->as.int_lit.value)) : FLOAT_VAL(-x->as.float_lit.value);
  }
  case N_LIST: {
    NodeList *el = &e->as.list.elems;
    ObjList *l = list_new(c->vm, (uint32_t)el->len);
    for (int i = 0; i < el->len; i++) l->items[i] = literal_tree_value(c, el->items[i]);
    l->len = (uint32_t)el->len;
    return OBJ_VAL(l);
  }
  case N_TUPLE: {
    NodeList *el = &e->as.tuple.elems;
    ObjTuple *t = tuple_new(c->vm, (uint32_t)el->len);
    for (int i = 0; i < el->len; i++) t->items[i] = literal_tree_value(c, el->items[i]);
    return OBJ_VAL(t);
  }
  default: return UNIT_VAL;
  }
}

/* Elements into consecutive registers, then NEWLIST/NEWTUPLE (chunked for
 * long literals); `whole` is the literal node when it is a list literal
 * that LISTK may load, else NULL. */
void c_sequence(Compiler *c, NodeList *elems, OpCode op, int dst, Span sp, Node *whole) {
  int save = c->fs->freereg;
  int n = elems->len;
  long scalars = 0;
  if (whole && op == BC_NEWLIST && literal_tree(whole, false, &scalars) && scalars >= LISTK_MIN) {
    int k = c_const(c, literal_tree_value(c, whole), sp);
    c_emit(c, MAKE_ABx(BC_LISTK, dst, k), sp);
    return;
  }
  if (n <= SEQ_CHUNK) {
    int base = c->fs->freereg;
    for (int i = 0; i < n; i++) c_expr(c, elems->items[i], c_alloc_reg(c, sp));
    c_emit(c, MAKE_ABC(op, dst, base, n), sp);
    c_free_to(c, save);
    return;
  }
  int t = c_alloc_reg(c, sp);
  for (int done = 0; done < n;) {
    int chunk = n - done < SEQ_CHUNK ? n - done : SEQ_CHUNK;
    c_free_to(c, t + 1);
    int b = c->fs->freereg;
    for (int i = 0; i < chunk; i++) c_expr(c, elems->items[done + i], c_alloc_reg(c, sp));
    c_emit(c, MAKE_ABC(done ? BC_APPENDN : BC_NEWLIST, t, b, chunk), sp);
    done += chunk;
  }
  if (op == BC_NEWTUPLE) c_emit(c, MAKE_ABC(BC_TUPLEOF, dst, t, 0), sp);
  else c_emit(c, MAKE_ABC(BC_MOVE, dst, t, 0), sp);
  c_free_to(c, save);
}

void c_fstring(Compiler *c, Node *f, int dst) {
  NodeList *pieces = &f->as.fstring.pieces;
  if (pieces->len == 0) {
    c_emit(c, MAKE_ABx(BC_LOADK, dst, c_str_const(c, "", f->span)), f->span);
    return;
  }
  if (pieces->len == 1 && pieces->items[0]->kind == N_STRING) {
    c_expr(c, pieces->items[0], dst);
    return;
  }
  /* pieces SEQ_CHUNK at a time: each CONCAT after the first starts from
   * the text so far, in the register below its pieces */
  int save = c->fs->freereg;
  int base = c->fs->freereg, npieces = 0;
  for (int i = 0; i < pieces->len; i++) {
    Node *p = pieces->items[i];
    if (npieces == SEQ_CHUNK) {
      c_emit(c, MAKE_ABC(BC_CONCAT, base, base, npieces), f->span);
      c_free_to(c, base + 1);
      npieces = 1;
    }
    npieces++;
    int r = c_alloc_reg(c, p->span);
    if (p->kind == N_STRING) {
      c_expr(c, p, r);
    } else {
      if (!p->as.fmt.expr) {
        /* The parser reported the argument count and left the tree whole
         * (PARSE_ERROR_SOUND); it is compiled only for its other errors. */
        c_emit(c, MAKE_ABx(BC_LOADK, r, c_str_const(c, "", p->span)), p->span);
        continue;
      }
      c_expr(c, p->as.fmt.expr, r);
      /* CONCAT displays non-strings itself; FORMAT only for a spec. */
      if (p->as.fmt.spec && p->as.fmt.spec[0])
        c_emit_k8(c, BC_FORMAT, r, r, c_str_const(c, p->as.fmt.spec, p->span), p->span);
    }
  }
  c_emit(c, MAKE_ABC(BC_CONCAT, dst, base, npieces), f->span);
  c_free_to(c, save);
}

/* The annotation of field `name` of a struct known at compile time, or NULL. */
static const ObjTypeSpec *field_type(Value cls_v, const char *name) {
  if (!IS_CLASS(cls_v) || AS_CLASS(cls_v)->kind != CLASS_STRUCT) return NULL;
  ObjClass *cls = AS_CLASS(cls_v);
  for (int i = 0; i < cls->nfields; i++)
    if (!strcmp(cls->field_names[i]->chars, name) && IS_OBJ_TYPE(cls->field_types[i], OBJ_TYPESPEC))
      return AS_TYPESPEC(cls->field_types[i]);
  return NULL;
}

void c_struct_lit(Compiler *c, Node *e, int dst) {
  Node *path = e->as.struct_lit.path;
  NodeList *fields = &e->as.struct_lit.fields;
  Value cls_v = c_static_value(c, path);
  /* Compile-time field checks when the struct (or struct variant) is known. */
  ObjString **names = NULL;
  int nnames = 0;
  Value *defaults = NULL;
  const char *tname = c_path_text(c, path);
  if (IS_CLASS(cls_v) && AS_CLASS(cls_v)->kind == CLASS_STRUCT) {
    names = AS_CLASS(cls_v)->field_names;
    nnames = AS_CLASS(cls_v)->nfields;
    defaults = AS_CLASS(cls_v)->field_defaults;
  } else if (IS_OBJ_TYPE(cls_v, OBJ_CTOR)) {
    ObjCtor *ct = AS_CTOR(cls_v);
    names = ct->cls->variants[ct->tag].field_names;
    nnames = names ? ct->cls->variants[ct->tag].nfields : 0;
  } else if (IS_CLASS(cls_v) || !IS_UNDEF(cls_v)) {
    c_error(c, path->span, "`%s` is not a struct", tname);
  }
  if (names) {
    for (int i = 0; i < fields->len; i++) {
      const char *fname = fields->items[i]->as.field_init.name;
      bool found = false;
      const char *cands[256];
      for (int j = 0; j < nnames; j++) {
        if (j < 256) cands[j] = names[j]->chars;
        if (!strcmp(names[j]->chars, fname)) found = true;
      }
      if (!found) {
        Diag *d = c_error(c, fields->items[i]->span, "struct `%s` has no field named `%s`", tname, fname);
        const char *close = diag_closest(fname, cands, nnames < 256 ? nnames : 256);
        if (close && d) diag_hint(d, "did you mean `%s`?", close);
      }
    }
    if (!e->as.struct_lit.base) {
      for (int j = 0; j < nnames; j++) {
        bool given = false;
        for (int i = 0; i < fields->len; i++)
          if (!strcmp(fields->items[i]->as.field_init.name, names[j]->chars)) given = true;
        if (!given && !(defaults && !IS_UNDEF(defaults[j])))
          c_error(c, e->span, "missing field `%s` in initializer of `%s`", names[j]->chars, tname);
      }
    }
  }
  int save = c->fs->freereg;
  int base = c_alloc_reg(c, e->span);
  c_load_path(c, path, base);
  int n = fields->len + (e->as.struct_lit.base ? 1 : 0);
  ObjTuple *t = tuple_new(c->vm, (uint32_t)n);
  for (int i = 0; i < fields->len; i++) {
    Node *f = fields->items[i];
    int r = c_alloc_reg(c, f->span);
    t->items[i] = OBJ_VAL(str_cstr(c->vm, f->as.field_init.name));
    if (f->as.field_init.value) {
      c_expr_for(c, f->as.field_init.value, r, field_type(cls_v, f->as.field_init.name));
    } else {
      c_load_path(c, &(Node){.kind = N_IDENT, .span = f->span, .as.ident.name = f->as.field_init.name}, r);
    }
  }
  if (e->as.struct_lit.base) {
    t->items[n - 1] = OBJ_VAL(str_cstr(c->vm, ".."));
    c_expr(c, e->as.struct_lit.base, c_alloc_reg(c, e->span));
  }
  c_emit_k8(c, BC_NEWSTRUCT, dst, base, c_const(c, OBJ_VAL(t), e->span), e->span);
  c_free_to(c, save);
}

