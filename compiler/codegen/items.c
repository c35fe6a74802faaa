/* Module items: structs, enums, traits, impls, functions, constants, type
 * aliases and `use`, plus type annotations (typespecs).
 *
 * Items are defined while compiling, not by running code: a struct or enum
 * becomes its class object, a fn its closure, stored straight into the
 * module's global slot. So every item is visible from the first statement
 * on, in any order, and the compiler can check struct literals, enum
 * patterns and paths against the real classes. Only `use` (imports run a
 * module) and constants that are not literals compile to code that runs in
 * statement order. */
#include "cstate.h"

#include <string.h>

/* ---- names ---- */

static const char *item_name(Node *it) {
  switch (it->kind) {
  case N_FN: return it->as.fn.name;
  case N_STRUCT: return it->as.strct.name;
  case N_ENUM: return it->as.enm.name;
  case N_TRAIT: return it->as.trait.name;
  case N_CONST: return it->as.cnst.name;
  case N_TYPE_ALIAS: return it->as.alias.name;
  case N_MOD: return it->as.mod.name;
  default: return NULL;
  }
}

ItemInfo *c_find_item(Compiler *c, const char *name) {
  for (ItemInfo *it = c->items; it; it = it->next)
    if (!strcmp(it->name, name)) return it;
  return NULL;
}

static void remember(Compiler *c, const char *name, Node *node) {
  ItemInfo *it = arena_alloc(&c->arena, sizeof *it);
  it->name = name;
  it->node = node;
  it->next = c->items;
  c->items = it;
}

static uint32_t declare(Compiler *c, const char *name, uint8_t flags) {
  uint32_t slot = module_declare(c->vm, c->mod, str_cstr(c->vm, name), flags);
  c->mod->flags[slot] = flags;
  return slot;
}

static void set_global(Compiler *c, const char *name, Value v) {
  int slot = c_resolve_global(c, name);
  if (slot >= 0) c->mod->values[slot] = v;
}

/* The name a `use` binds for one leaf. */
static const char *use_leaf_name(Node *leaf) {
  return leaf->as.ident.alias ? leaf->as.ident.alias : leaf->as.ident.name;
}

static const char *file_stem(Compiler *c, const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot ? (size_t)(dot - base) : strlen(base);
  return arena_strndup(&c->arena, base, n);
}

static const char *use_binding(Compiler *c, Node *u) {
  if (u->as.use.alias) return u->as.use.alias;
  if (u->as.use.file) return file_stem(c, u->as.use.file);
  NodeList *p = &u->as.use.path;
  return p->len ? p->items[p->len - 1]->as.ident.name : NULL;
}

static bool use_std_units(Node *u);

static void declare_pattern_names(Compiler *c, Node *pat, Node *let) {
  switch (pat->kind) {
  case N_PAT_BIND:
    if (!c_find_item(c, pat->as.pat_bind.name) || c_find_item(c, pat->as.pat_bind.name)->node->kind == N_LET) {
      int slot = c_resolve_global(c, pat->as.pat_bind.name);
      /* A later `let` of an existing item name shadows it at run time;
       * declare only new names here. */
      if (slot < 0 || (c->mod->flags[slot] & GLOBAL_BUILTIN))
        declare(c, pat->as.pat_bind.name, pat->as.pat_bind.is_mut || !let->as.let.init ? GLOBAL_MUTABLE : 0);
      else if (pat->as.pat_bind.is_mut)
        c->mod->flags[slot] |= GLOBAL_MUTABLE;
    }
    if (pat->as.pat_bind.sub) declare_pattern_names(c, pat->as.pat_bind.sub, let);
    break;
  case N_PAT_TUPLE:
    for (int i = 0; i < pat->as.pat_tuple.elems.len; i++) declare_pattern_names(c, pat->as.pat_tuple.elems.items[i], let);
    break;
  default: break;
  }
}

void c_declare_items(Compiler *c, NodeList *items) {
  for (int i = 0; i < items->len; i++) {
    Node *it = items->items[i];
    const char *name = item_name(it);
    if (name) {
      ItemInfo *prev = c_find_item(c, name);
      if (prev && prev->node->kind != N_LET) {
        c_error(c, it->span, "the name `%s` is defined more than once", name);
        diag_add(c->diags, DIAG_NOTE, c->src, prev->node->span, "first defined here");
        continue;
      }
      remember(c, name, it);
      if (it->kind != N_TYPE_ALIAS) declare(c, name, 0);
    } else if (it->kind == N_USE) {
      NodeList *names = &it->as.use.names;
      if (names->len) {
        for (int j = 0; j < names->len; j++) declare(c, use_leaf_name(names->items[j]), 0);
      } else if (!it->as.use.glob && !use_std_units(it)) {
        const char *b = use_binding(c, it);
        if (b) declare(c, b, 0);
      }
    } else if (it->kind == N_LET) {
      declare_pattern_names(c, it->as.let.pattern, it);
    } else if (it->kind == N_EXTERN) {
      c_declare_items(c, &it->as.ext.items);
      c_extern_block(c, it);
    }
  }
}

/* ---- type annotations ---- */

static const struct {
  const char *name;
  TypeSpecKind kind;
} builtin_types[] = {
    {"i8", TS_INT},      {"i16", TS_INT},       {"i32", TS_INT},     {"i64", TS_INT},       {"i128", TS_INT},
    {"isize", TS_INT},   {"u8", TS_INT},        {"u16", TS_INT},     {"u32", TS_INT},       {"u64", TS_INT},
    {"u128", TS_INT},    {"usize", TS_INT},     {"int", TS_INT},     {"f16", TS_FLOAT},     {"f32", TS_FLOAT},
    {"f64", TS_FLOAT},   {"float", TS_FLOAT},   {"Real", TS_FLOAT},   {"bool", TS_BOOL},   {"char", TS_CHAR},     {"str", TS_STRING},
    {"String", TS_STRING}, {"Vec", TS_LIST},    {"List", TS_LIST},   {"Array", TS_LIST},    {"VecDeque", TS_LIST},
    {"HashMap", TS_MAP}, {"BTreeMap", TS_MAP},  {"Option", TS_OPTION}, {"Result", TS_RESULT}, {"Range", TS_RANGE},
    {"Complex", TS_COMPLEX}, {"complex", TS_COMPLEX}, {"c32", TS_COMPLEX}, {"c64", TS_COMPLEX}, {"c128", TS_COMPLEX}, {"Fn", TS_FN},
    {"FnMut", TS_FN},    {"FnOnce", TS_FN},     {"Number", TS_NUMBER}, {"Numeric", TS_NUMBER}, {"Any", TS_ANY},
};

static bool is_generic_name(Compiler *c, const char *name) {
  for (int g = 0; g < c->ngenerics; g++) {
    NodeList *l = c->generics[g];
    for (int i = 0; i < l->len; i++)
      if (!strcmp(l->items[i]->as.generic.name, name)) return true;
  }
  return false;
}

static ObjString *span_text(Compiler *c, Span sp) {
  return str_copy(c->vm, c->src->text + sp.start, sp.end - sp.start);
}

static ObjTypeSpec *make_spec(Compiler *c, TypeSpecKind kind, Node *type, const char *what) {
  return typespec_new(c->vm, kind, span_text(c, type->span), str_cstr(c->vm, what));
}

static void unknown_type(Compiler *c, const char *name, Span sp) {
  Diag *d = c_error(c, sp, "cannot find type `%s` in this scope", name);
  const char *names[128];
  int n = 0;
  for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++) names[n++] = builtin_types[i].name;
  for (uint32_t i = 0; i < c->mod->nglobals && n < 128; i++)
    if (IS_CLASS(c->mod->values[i])) names[n++] = c->mod->names[i]->chars;
  const char *close = diag_closest(name, names, n);
  if (close && d) diag_hint(d, "did you mean `%s`?", close);
}

const char *const c_tensor_dtypes[4] = {"f32", "f64", "i64", "bool"};

/* A dimension of a tensor type: an int literal, or -1 for a name (`N`). */
static bool tensor_dim(Compiler *c, Node *n, int64_t *out) {
  if (n->kind == N_INT && n->as.int_lit.value >= 0) return *out = n->as.int_lit.value, true;
  if (n->kind == N_TYPE_NAME || n->kind == N_IDENT || n->kind == N_TYPE_INFER) return *out = -1, true;
  c_error(c, n->span, "a tensor dimension must be an integer or a name");
  return false;
}

/* Tensor<f32, [3, 4]>, Tensor<f32>, Tensor, Matrix<f32, 784, 128>,
 * Vector<f64, N>: checked against a tensor's dtype and shape. */
static ObjTypeSpec *tensor_spec(Compiler *c, Node *type, const char *name, const char *what) {
  ObjTypeSpec *ts = make_spec(c, TS_TENSOR, type, what);
  ts->dtype = -1;
  ts->ndim = (int8_t)(!strcmp(name, "Matrix") ? 2 : !strcmp(name, "Vector") ? 1 : -1);
  for (int i = 0; i < 8; i++) ts->dims[i] = -1;
  NodeList *args = &type->as.type_name.args;
  int i = 0, nd = 0;
  if (args->len > 0 && args->items[0]->kind == N_TYPE_NAME) {
    Node *p = args->items[0]->as.type_name.path;
    const char *dn = p->kind == N_IDENT ? p->as.ident.name : "";
    for (int d = 0; d < 4; d++)
      if (!strcmp(dn, c_tensor_dtypes[d])) ts->dtype = (int8_t)d;
    if (!strcmp(dn, "f16") || !strcmp(dn, "bf16") || !strcmp(dn, "i32") || !strcmp(dn, "u8")) {
      c_error(c, args->items[0]->span, "tensors have dtypes f32, f64, i64 and bool, not `%s`", dn);
      return NULL;
    }
    i = 1;
  }
  for (; i < args->len; i++) {
    Node *a = args->items[i];
    if (a->kind == N_LIST) {
      for (int j = 0; j < a->as.list.elems.len; j++) {
        if (nd >= 8) break;
        if (!tensor_dim(c, a->as.list.elems.items[j], &ts->dims[nd++])) return NULL;
      }
      ts->ndim = (int8_t)nd;
      continue;
    }
    if (nd >= 8) break;
    if (!tensor_dim(c, a, &ts->dims[nd++])) return NULL;
    if (ts->ndim < 0) ts->ndim = (int8_t)nd;
  }
  if (ts->ndim >= 0 && nd > ts->ndim) {
    c_error(c, type->span, "`%s` has %d dimension%s, got %d", name, ts->ndim, ts->ndim == 1 ? "" : "s", nd);
    return NULL;
  }
  return ts;
}

ObjTypeSpec *c_typespec(Compiler *c, Node *type, const char *what) {
  switch (type->kind) {
  case N_TYPE_INFER: return make_spec(c, TS_ANY, type, what);
  case N_TYPE_REF: return c_typespec(c, type->as.type_ref.inner, what);
  case N_TYPE_ARRAY: return make_spec(c, TS_LIST, type, what);
  case N_TYPE_FN: return make_spec(c, TS_FN, type, what);
  case N_TYPE_TUPLE: {
    int n = type->as.type_tuple.elems.len;
    ObjTypeSpec *ts = make_spec(c, n ? TS_TUPLE : TS_UNIT, type, what);
    ts->tuple_len = (int16_t)n;
    return ts;
  }
  case N_TYPE_BINARY: return c_unit_typespec(c, type, what);
  case N_TYPE_NAME: break;
  default: c_error(c, type->span, "expected a type"); return NULL;
  }
  Node *path = type->as.type_name.path;
  const char *name = path->kind == N_PATH
                         ? path->as.path.segments.items[path->as.path.segments.len - 1]->as.ident.name
                         : c_path_text(c, path);
  if (!strcmp(name, "*const") || !strcmp(name, "*mut")) return make_spec(c, TS_ANY, type, what); /* an address or a tensor */
  if (is_generic_name(c, name)) return make_spec(c, TS_ANY, type, what);
  if (!strcmp(name, "Box") || !strcmp(name, "Rc") || !strcmp(name, "Arc") || !strcmp(name, "RefCell") ||
      !strcmp(name, "Cell")) {
    if (type->as.type_name.args.len == 1) return c_typespec(c, type->as.type_name.args.items[0], what);
    return make_spec(c, TS_ANY, type, what);
  }
  if (!strcmp(name, "Self")) {
    if (!c->self_class) {
      c_error(c, type->span, "`Self` is only available inside `impl` and `trait` blocks");
      return NULL;
    }
    ObjTypeSpec *ts = make_spec(c, TS_CLASS, type, what);
    ts->module = c->mod;
    ts->slot = c->self_slot;
    return ts;
  }
  /* The tensor types, unless the module defines a type of that name (the
   * prelude's `Matrix` and `Vector` hold constructors, expect.c) */
  int own = c_resolve_global(c, name);
  bool redefined = own >= 0 && !(c->mod->flags[own] & GLOBAL_BUILTIN) && c_find_item(c, name);
  if ((!strcmp(name, "Tensor") || !strcmp(name, "Matrix") || !strcmp(name, "Vector")) && !redefined)
    return tensor_spec(c, type, name, what);
  if (c_resolve_global(c, name) < 0 && c_is_unit_type(c, type)) return c_unit_typespec(c, type, what);
  ItemInfo *alias = c_find_item(c, name);
  if (alias && alias->node->kind == N_TYPE_ALIAS) return c_typespec(c, alias->node->as.alias.type, what);
  int slot = c_resolve_global(c, name);
  if (slot >= 0) {
    Value v = c->mod->values[slot];
    ItemInfo *it = c_find_item(c, name);
    bool is_type = IS_CLASS(v) ||
                   (it && (it->node->kind == N_STRUCT || it->node->kind == N_ENUM || it->node->kind == N_TRAIT)) ||
                   (IS_UNDEF(v) && !(it && it->node->kind != N_USE));
    if (IS_CLASS(v) && AS_CLASS(v)->kind == CLASS_BUILTIN) is_type = false;
    if (is_type) {
      ObjTypeSpec *ts = make_spec(c, TS_CLASS, type, what);
      ts->module = c->mod;
      ts->slot = (uint32_t)slot;
      return ts;
    }
  }
  for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++)
    if (!strcmp(builtin_types[i].name, name)) {
      ObjTypeSpec *ts = make_spec(c, builtin_types[i].kind, type, what);
      ts->tuple_len = -1;
      return ts;
    }
  unknown_type(c, name, type->span);
  return NULL;
}

/* ---- classes ---- */

/* A field default must be a literal (it is stored in the class). */
static Value literal_default(Compiler *c, Node *e) {
  bool neg = false;
  if (e->kind == N_UNARY && e->as.unary.op == OP_NEG) {
    neg = true;
    e = e->as.unary.operand;
  }
  switch (e->kind) {
  case N_INT: return INT_VAL(neg ? -e->as.int_lit.value : e->as.int_lit.value);
  case N_FLOAT: return FLOAT_VAL(neg ? -e->as.float_lit.value : e->as.float_lit.value);
  case N_BOOL: if (!neg) return BOOL_VAL(e->as.bool_lit.value); break;
  case N_STRING: if (!neg) return OBJ_VAL(str_copy(c->vm, e->as.str.value, e->as.str.len)); break;
  case N_CHAR: if (!neg) return CHAR_VAL(e->as.char_lit.value); break;
  default: break;
  }
  return UNDEF_VAL;
}

static void define_struct(Compiler *c, Node *it) {
  ObjClass *cls = class_new(c->vm, CLASS_STRUCT, str_cstr(c->vm, it->as.strct.name));
  NodeList *fl = &it->as.strct.fields;
  int n = fl->len;
  if (n > UINT16_MAX) {
    c_error(c, it->span, "struct `%s` has too many fields (more than %d)", it->as.strct.name, UINT16_MAX);
    n = UINT16_MAX;
  }
  cls->nfields = (uint16_t)n;
  cls->is_tuple_struct = it->as.strct.is_tuple;
  cls->field_names = ALLOCATE(c->vm, ObjString *, n ? n : 1);
  cls->field_types = ALLOCATE(c->vm, Value, n ? n : 1);
  cls->field_defaults = ALLOCATE(c->vm, Value, n ? n : 1);
  Table seen; /* names so far, so a struct of thousands of fields is not quadratic */
  table_init(&seen);
  for (int i = 0; i < n; i++) {
    cls->field_names[i] = str_cstr(c->vm, fl->items[i]->as.field_def.name);
    cls->field_types[i] = UNDEF_VAL;
    cls->field_defaults[i] = UNDEF_VAL;
    if (!table_set(c->vm, &seen, cls->field_names[i], UNIT_VAL))
      c_error(c, fl->items[i]->span, "field `%s` is already declared", cls->field_names[i]->chars);
  }
  table_free(c->vm, &seen);
  set_global(c, it->as.strct.name, OBJ_VAL(cls));
}

/* Field types and defaults, once every class of the module exists. */
static void finish_struct(Compiler *c, Node *it) {
  int slot = c_resolve_global(c, it->as.strct.name);
  if (slot < 0 || !IS_CLASS(c->mod->values[slot])) return;
  ObjClass *cls = AS_CLASS(c->mod->values[slot]);
  NodeList *fl = &it->as.strct.fields;
  c->generics[c->ngenerics++] = &it->as.strct.generics;
  for (int i = 0; i < fl->len && i < cls->nfields; i++) {
    Node *f = fl->items[i];
    if (f->as.field_def.type) {
      char what[256];
      snprintf(what, sizeof what, "field `%s` of `%s`", f->as.field_def.name, it->as.strct.name);
      ObjTypeSpec *ts = c_typespec(c, f->as.field_def.type, what);
      if (ts && ts->kind != TS_ANY) cls->field_types[i] = OBJ_VAL(ts);
    }
    if (f->as.field_def.deflt) {
      cls->field_defaults[i] = literal_default(c, f->as.field_def.deflt);
      if (IS_UNDEF(cls->field_defaults[i]))
        c_error(c, f->as.field_def.deflt->span, "a field default must be a literal");
    }
  }
  c->ngenerics--;
}

static void define_enum(Compiler *c, Node *it) {
  ObjClass *cls = class_new(c->vm, CLASS_ENUM, str_cstr(c->vm, it->as.enm.name));
  NodeList *vl = &it->as.enm.variants;
  /* variant tags and field counts are 16-bit */
  int nv = vl->len;
  if (nv > UINT16_MAX) {
    c_error(c, it->span, "enum `%s` has too many variants (more than %d)", it->as.enm.name, UINT16_MAX);
    nv = UINT16_MAX;
  }
  cls->nvariants = (uint16_t)nv;
  cls->variants = ALLOCATE(c->vm, VariantInfo, nv ? nv : 1);
  int64_t next = 0;
  Table seen;
  table_init(&seen);
  for (int i = 0; i < nv; i++) {
    Node *v = vl->items[i];
    VariantInfo *vi = &cls->variants[i];
    vi->name = str_cstr(c->vm, v->as.variant.name);
    int nf = v->as.variant.fields.len;
    if (nf > UINT16_MAX) {
      c_error(c, v->span, "variant `%s` has too many fields (more than %d)", vi->name->chars, UINT16_MAX);
      nf = UINT16_MAX;
    }
    vi->nfields = (uint16_t)nf;
    vi->field_names = NULL;
    vi->unit_value = UNDEF_VAL;
    vi->ctor = UNDEF_VAL;
    if (v->as.variant.value) {
      Value d = literal_default(c, v->as.variant.value);
      if (IS_INT(d)) next = d.as.i;
      else c_error(c, v->as.variant.value->span, "an enum discriminant must be an integer literal");
    }
    vi->discriminant = next++;
    if (!table_set(c->vm, &seen, vi->name, UNIT_VAL))
      c_error(c, v->span, "variant `%s` is already declared", vi->name->chars);
    if (v->as.variant.shape == VARIANT_STRUCT) {
      vi->field_names = ALLOCATE(c->vm, ObjString *, vi->nfields ? vi->nfields : 1);
      for (int j = 0; j < vi->nfields; j++)
        vi->field_names[j] = str_cstr(c->vm, v->as.variant.fields.items[j]->as.field_def.name);
    }
    if (v->as.variant.shape == VARIANT_UNIT) vi->unit_value = OBJ_VAL(variant_new(c->vm, cls, (uint16_t)i, 0));
    else vi->ctor = OBJ_VAL(ctor_new(c->vm, cls, (uint16_t)i));
  }
  table_free(c->vm, &seen);
  set_global(c, it->as.enm.name, OBJ_VAL(cls));
}

static void define_trait(Compiler *c, Node *it) {
  ObjClass *cls = class_new(c->vm, CLASS_TRAIT, str_cstr(c->vm, it->as.trait.name));
  set_global(c, it->as.trait.name, OBJ_VAL(cls));
}

static Value make_closure(Compiler *c, ObjProto *p) {
  if (!p) return UNDEF_VAL;
  return OBJ_VAL(closure_new(c->vm, p));
}

static void compile_method_into(Compiler *c, ObjClass *cls, Node *fn) {
  char name[512];
  snprintf(name, sizeof name, "%s::%s", cls->name->chars, fn->as.fn.name);
  c->generics[c->ngenerics++] = &fn->as.fn.generics;
  ObjProto *p = c_function(c, fn, arena_strndup(&c->arena, name, strlen(name)));
  c->ngenerics--;
  Value v = make_closure(c, p);
  if (!IS_UNDEF(v)) table_set(c->vm, &cls->methods, str_cstr(c->vm, fn->as.fn.name), v);
}

/* A required method's signature for checking impls: (parameter count
 * including self, the declaration's text with whitespace runs as one space). */
static Value required_signature(Compiler *c, Node *m) {
  char buf[256];
  size_t n = 0;
  const char *t = c->src->text;
  bool space = false;
  for (uint32_t i = m->span.start; i < m->span.end && i < c->src->len && n + 2 < sizeof buf; i++) {
    if (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r') {
      space = true;
      continue;
    }
    if (space && n) buf[n++] = ' ';
    space = false;
    buf[n++] = t[i];
  }
  ObjTuple *sig = tuple_new(c->vm, 2);
  sig->items[0] = INT_VAL(m->as.fn.params.len);
  sig->items[1] = OBJ_VAL(str_copy(c->vm, buf, n));
  return OBJ_VAL(sig);
}

/* Every required method of trait tr is in the impl (items) with the trait's
 * number of parameters. */
static void check_impl_signatures(Compiler *c, Node *it, ObjClass *tr, const char *trname, const char *tname) {
  NodeList *items = &it->as.impl.items;
  for (uint32_t i = 0; i < tr->traits.cap; i++) {
    TableEntry *e = &tr->traits.entries[i];
    if (!e->key) continue;
    const char *want = "";
    int64_t nparams = -1;
    if (IS_TUPLE(e->value)) {
      nparams = AS_TUPLE(e->value)->items[0].as.i;
      want = AS_STRING(AS_TUPLE(e->value)->items[1])->chars;
    }
    Node *have = NULL;
    for (int j = 0; j < items->len; j++)
      if (items->items[j]->kind == N_FN && !strcmp(items->items[j]->as.fn.name, e->key->chars)) have = items->items[j];
    if (!have) {
      c_error(c, it->span, "missing method `%s` in `impl %s for %s` (the trait declares `%s`)", e->key->chars, trname,
              tname, want);
    } else if (nparams >= 0 && have->as.fn.params.len != nparams) {
      c_error(c, have->span, "`%s` in `impl %s for %s` takes %d parameter%s, but the trait `%s` declares `%s`",
              e->key->chars, trname, tname, have->as.fn.params.len, have->as.fn.params.len == 1 ? "" : "s", trname,
              want);
    }
  }
}

/* Trait default methods; the signatures of required methods (no body) are
 * kept in the trait class's `traits` table so impls can be checked. */
static void compile_trait(Compiler *c, Node *it) {
  int slot = c_resolve_global(c, it->as.trait.name);
  if (slot < 0 || !IS_CLASS(c->mod->values[slot])) return;
  ObjClass *cls = AS_CLASS(c->mod->values[slot]);
  ObjClass *saved = c->self_class;
  uint32_t saved_slot = c->self_slot;
  c->self_class = cls;
  c->self_slot = (uint32_t)slot;
  c->generics[c->ngenerics++] = &it->as.trait.generics;
  NodeList *items = &it->as.trait.items;
  for (int i = 0; i < items->len; i++) {
    Node *m = items->items[i];
    if (m->kind != N_FN) continue;
    if (m->as.fn.body) compile_method_into(c, cls, m);
    else table_set(c->vm, &cls->traits, str_cstr(c->vm, m->as.fn.name), required_signature(c, m));
  }
  c->ngenerics--;
  c->self_class = saved;
  c->self_slot = saved_slot;
}

/* Built-in types an operator trait may be implemented for, with a struct
 * or enum on the right: `impl Mul<Vector3> for f64`: the int, float,
 * number and complex type names, and `Quantity`. */
static bool is_builtin_operand(const char *name) {
  if (!strcmp(name, "Quantity")) return true;
  for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++)
    if (!strcmp(builtin_types[i].name, name)) {
      TypeSpecKind k = builtin_types[i].kind;
      return k == TS_INT || k == TS_FLOAT || k == TS_NUMBER || k == TS_COMPLEX;
    }
  return false;
}

/* `impl Mul<Vector3> for f64 { fn mul(self, v: Vector3) -> Vector3 }`: the
 * methods go to the right operand's type as `@mul`, which the VM calls when
 * the left operand of `*` is any built-in value (int, float, complex,
 * quantity) and the right one is that type. */
static void compile_builtin_impl(Compiler *c, Node *it, const char *tname) {
  Node *tn = it->as.impl.trait;
  Node *tp = tn->kind == N_TYPE_NAME ? tn->as.type_name.path : tn;
  const char *trname = c_path_text(c, tp);
  Value tv = c_static_value(c, tp);
  if (!IS_CLASS(tv) || AS_CLASS(tv)->kind != CLASS_TRAIT) {
    c_error(c, tp->span, "`%s` is not a trait", trname);
    return;
  }
  Node *arg = tn->kind == N_TYPE_NAME && tn->as.type_name.args.len == 1 ? tn->as.type_name.args.items[0] : NULL;
  Value rv = UNDEF_VAL;
  if (arg) rv = c_static_value(c, arg->kind == N_TYPE_NAME ? arg->as.type_name.path : arg);
  if (!IS_CLASS(rv) || (AS_CLASS(rv)->kind != CLASS_STRUCT && AS_CLASS(rv)->kind != CLASS_ENUM)) {
    c_error(c, tn->span,
            "`impl %s for %s` needs the right operand's type, a struct or enum of this module: `impl %s<Type> for %s`",
            trname, tname, trname, tname);
    return;
  }
  ObjClass *cls = AS_CLASS(rv);
  check_impl_signatures(c, it, AS_CLASS(tv), trname, tname);
  NodeList *items = &it->as.impl.items;
  for (int i = 0; i < items->len; i++) {
    Node *m = items->items[i];
    if (m->kind != N_FN) continue;
    char key[256], name[512];
    snprintf(key, sizeof key, "@%s", m->as.fn.name);
    Value have;
    if (table_get(&cls->methods, str_cstr(c->vm, key), &have)) {
      c_error(c, m->span,
              "`%s` already has a `%s` for a built-in left operand (one impl serves int, float, complex and quantities)",
              cls->name->chars, m->as.fn.name);
      continue;
    }
    snprintf(name, sizeof name, "%s::%s", tname, m->as.fn.name);
    c->generics[c->ngenerics++] = &m->as.fn.generics;
    ObjProto *p = c_function(c, m, arena_strndup(&c->arena, name, strlen(name)));
    c->ngenerics--;
    Value v = make_closure(c, p);
    if (!IS_UNDEF(v)) table_set(c->vm, &cls->methods, str_cstr(c->vm, key), v);
  }
}

static void compile_impl(Compiler *c, Node *it) {
  Node *st = it->as.impl.self_type;
  Node *path = st->kind == N_TYPE_NAME ? st->as.type_name.path : st;
  Value v = c_static_value(c, path);
  const char *tname = c_path_text(c, path);
  if (it->as.impl.trait && path->kind == N_IDENT && is_builtin_operand(tname) &&
      !(IS_CLASS(v) && (AS_CLASS(v)->kind == CLASS_STRUCT || AS_CLASS(v)->kind == CLASS_ENUM))) {
    compile_builtin_impl(c, it, tname);
    return;
  }
  if (!IS_CLASS(v) || AS_CLASS(v)->kind == CLASS_TRAIT) {
    if (IS_UNDEF(v) && c_resolve_global(c, tname) < 0) {
      unknown_type(c, tname, path->span);
    } else {
      c_error(c, path->span, "`impl` needs a struct or enum defined in this module, and `%s` is not one", tname);
    }
    return;
  }
  ObjClass *cls = AS_CLASS(v);
  ObjClass *saved = c->self_class;
  uint32_t saved_slot = c->self_slot;
  c->self_class = cls;
  c->self_slot = (uint32_t)c_resolve_global(c, path->kind == N_PATH ? tname : path->as.ident.name);
  c->generics[c->ngenerics++] = &it->as.impl.generics;
  NodeList *items = &it->as.impl.items;
  for (int i = 0; i < items->len; i++) {
    Node *m = items->items[i];
    if (m->kind == N_FN) compile_method_into(c, cls, m);
    else if (m->kind == N_CONST) {
      Value cv = m->as.cnst.value ? literal_default(c, m->as.cnst.value) : UNDEF_VAL;
      if (IS_UNDEF(cv)) c_error(c, m->span, "an associated constant must be a literal");
      else table_set(c->vm, &cls->methods, str_cstr(c->vm, m->as.cnst.name), cv);
    }
  }
  if (it->as.impl.trait) {
    Node *tp = it->as.impl.trait->kind == N_TYPE_NAME ? it->as.impl.trait->as.type_name.path : it->as.impl.trait;
    Value tv = c_static_value(c, tp);
    const char *trname = c_path_text(c, tp);
    if (!IS_CLASS(tv) || AS_CLASS(tv)->kind != CLASS_TRAIT) {
      c_error(c, tp->span, "`%s` is not a trait", trname);
    } else {
      ObjClass *tr = AS_CLASS(tv);
      for (uint32_t i = 0; i < tr->methods.cap; i++) {
        TableEntry *e = &tr->methods.entries[i];
        Value have;
        if (e->key && (!table_get(&cls->methods, e->key, &have) || IS_UNDEF(have)))
          table_set(c->vm, &cls->methods, e->key, e->value);
      }
      check_impl_signatures(c, it, tr, trname, tname);
      table_set(c->vm, &cls->traits, tr->name, OBJ_VAL(tr));
    }
  }
  c->ngenerics--;
  c->self_class = saved;
  c->self_slot = saved_slot;
}

static void compile_fn_item(Compiler *c, Node *it) {
  c->generics[c->ngenerics++] = &it->as.fn.generics;
  ObjProto *p = c_function(c, it, it->as.fn.name);
  c->ngenerics--;
  Value v = make_closure(c, p);
  if (!IS_UNDEF(v)) set_global(c, it->as.fn.name, v);
}

/* X of a plain `use std::X` or `use core::X` (`import std.X`), else NULL. */
static const char *std_member(Node *u) {
  NodeList *path = &u->as.use.path;
  if (path->len != 2 || u->as.use.file || u->as.use.glob || u->as.use.names.len) return NULL;
  const char *first = path->items[0]->as.ident.name;
  return !strcmp(first, "std") || !strcmp(first, "core") ? path->items[1]->as.ident.name : NULL;
}

/* `use std::X` where X is no prelude name: the standard library module X,
 * imported at run time like `use X`. */
static bool use_std_module(Compiler *c, Node *u) {
  const char *x = std_member(u);
  return x && module_find(c->env->prelude, str_cstr(c->vm, x)) < 0;
}

/* `use std::units`: the units are built into the language, so it binds
 * nothing (it is accepted for programs written with it). */
static bool use_std_units(Node *u) {
  const char *x = std_member(u);
  return x && !u->as.use.alias && !strcmp(x, "units");
}

/* `use Enum::{A, B}` and `use std::...`: bindings known at compile time. */
static bool use_static(Compiler *c, Node *u) {
  NodeList *path = &u->as.use.path;
  if (!path->len || u->as.use.file || use_std_units(u) || use_std_module(c, u)) return false;
  const char *first = path->items[0]->as.ident.name;
  bool is_std = !strcmp(first, "std") || !strcmp(first, "core");
  Value base = UNDEF_VAL;
  if (!is_std) {
    int slot = c_resolve_global(c, first);
    if (slot < 0 || !IS_CLASS(c->mod->values[slot]) || AS_CLASS(c->mod->values[slot])->kind == CLASS_BUILTIN)
      return false;
    base = c->mod->values[slot];
  }
  NodeList *names = &u->as.use.names;
  if (u->as.use.glob) {
    if (is_std || !IS_CLASS(base)) return false;
    ObjClass *cls = AS_CLASS(base);
    for (int i = 0; i < cls->nvariants; i++) {
      VariantInfo *vi = &cls->variants[i];
      declare(c, vi->name->chars, 0);
      set_global(c, vi->name->chars, IS_UNDEF(vi->ctor) ? vi->unit_value : vi->ctor);
    }
    return true;
  }
  int nleaves = names->len ? names->len : 1;
  for (int i = 0; i < nleaves; i++) {
    Node *leaf = names->len ? names->items[i] : path->items[path->len - 1];
    const char *member = leaf->as.ident.name;
    const char *bind = names->len ? use_leaf_name(leaf) : use_binding(c, u);
    Value v = UNDEF_VAL;
    if (is_std) {
      int ps = module_find(c->env->prelude, str_cstr(c->vm, member));
      if (ps >= 0) v = c->env->prelude->values[ps];
      if (IS_UNDEF(v)) {
        c_error(c, leaf->span, "`%s` is not available: NeuralScript's prelude has no `%s`", c_path_text(c, leaf),
                member);
        continue;
      }
    } else {
      /* use Enum::{A, B} or use Enum::A: members of a class of this module */
      ObjClass *cls = AS_CLASS(base);
      ObjString *s = str_cstr(c->vm, member);
      for (int k = 0; k < cls->nvariants; k++)
        if (cls->variants[k].name == s)
          v = IS_UNDEF(cls->variants[k].ctor) ? cls->variants[k].unit_value : cls->variants[k].ctor;
      if (IS_UNDEF(v)) table_get(&cls->methods, s, &v);
      if (IS_UNDEF(v)) {
        c_error(c, leaf->span, "no variant or associated function `%s` in `%s`", member, first);
        continue;
      }
    }
    declare(c, bind, 0);
    set_global(c, bind, v);
  }
  return true;
}

/* A constant whose value is a literal of a simply-checked type is set
 * while compiling (and its annotation checked now); others run in order. */
static bool is_literal_const(Compiler *c, Node *it) {
  if (!it->as.cnst.value || IS_UNDEF(literal_default(c, it->as.cnst.value))) return false;
  Node *t = it->as.cnst.type;
  if (!t || t->kind != N_TYPE_NAME) return !t;
  const char *n = c_path_text(c, t->as.type_name.path);
  static const char *const simple[] = {"i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize",
                                       "int", "f32", "f64", "float", "bool", "char", "str", "String"};
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
    if (!strcmp(n, simple[i])) return true;
  return false;
}

static void check_literal_const(Compiler *c, Node *it, Value *v) {
  if (!it->as.cnst.type) return;
  char what[256];
  snprintf(what, sizeof what, "constant `%s`", it->as.cnst.name);
  ObjTypeSpec *ts = c_typespec(c, it->as.cnst.type, what);
  if (!ts) return;
  bool ok = true;
  switch (ts->kind) {
  case TS_INT: ok = IS_INT(*v); break;
  case TS_FLOAT:
    if (IS_INT(*v)) *v = FLOAT_VAL((double)v->as.i);
    ok = IS_FLOAT(*v);
    break;
  case TS_BOOL: ok = IS_BOOL(*v); break;
  case TS_CHAR: ok = IS_CHAR(*v); break;
  case TS_STRING: ok = IS_STRING(*v); break;
  default: break;
  }
  if (!ok)
    c_error(c, it->as.cnst.value->span, "%s expects %s, got %s", what, ts->text->chars, value_type_name(*v));
}

/* Every method name of every impl, registered before any body is compiled,
 * so `Point::new` resolves wherever it is used. Placeholders are UNDEF. */
static void preregister_methods(Compiler *c, NodeList *items) {
  for (int i = 0; i < items->len; i++) {
    Node *it = items->items[i];
    if (it->kind != N_IMPL) continue;
    Node *st = it->as.impl.self_type;
    Value v = c_static_value(c, st->kind == N_TYPE_NAME ? st->as.type_name.path : st);
    if (!IS_CLASS(v) || AS_CLASS(v)->kind == CLASS_TRAIT || AS_CLASS(v)->kind == CLASS_BUILTIN) continue;
    ObjClass *cls = AS_CLASS(v);
    Value have;
    for (int j = 0; j < it->as.impl.items.len; j++) {
      Node *m = it->as.impl.items.items[j];
      if (m->kind != N_FN) continue;
      ObjString *name = str_cstr(c->vm, m->as.fn.name);
      if (!table_get(&cls->methods, name, &have)) table_set(c->vm, &cls->methods, name, UNDEF_VAL);
    }
    if (!it->as.impl.trait) continue;
    Node *tp = it->as.impl.trait->kind == N_TYPE_NAME ? it->as.impl.trait->as.type_name.path : it->as.impl.trait;
    Value tv = c_static_value(c, tp);
    if (!IS_CLASS(tv) || AS_CLASS(tv)->kind != CLASS_TRAIT) continue;
    ObjClass *tr = AS_CLASS(tv);
    for (uint32_t k = 0; k < tr->methods.cap; k++)
      if (tr->methods.entries[k].key && !table_get(&cls->methods, tr->methods.entries[k].key, &have))
        table_set(c->vm, &cls->methods, tr->methods.entries[k].key, UNDEF_VAL);
  }
}

void c_define_items(Compiler *c, NodeList *items) {
  for (int i = 0; i < items->len; i++) {
    Node *it = items->items[i];
    if (it->kind == N_STRUCT) define_struct(c, it);
    else if (it->kind == N_ENUM) define_enum(c, it);
    else if (it->kind == N_TRAIT) define_trait(c, it);
    else if (it->kind == N_MOD) c_error(c, it->span, "inline `mod` blocks are not supported; put the module in its own file and `use` it");
  }
  for (int i = 0; i < items->len; i++) {
    Node *it = items->items[i];
    if (it->kind == N_STRUCT) finish_struct(c, it);
    else if (it->kind == N_USE) use_static(c, it);
    else if (it->kind == N_CONST && is_literal_const(c, it)) {
      Value v = literal_default(c, it->as.cnst.value);
      check_literal_const(c, it, &v);
      set_global(c, it->as.cnst.name, v);
    }
  }
  for (int i = 0; i < items->len; i++)
    if (items->items[i]->kind == N_TRAIT) compile_trait(c, items->items[i]);
  preregister_methods(c, items);
  for (int i = 0; i < items->len; i++) {
    Node *it = items->items[i];
    if (it->kind == N_FN) compile_fn_item(c, it);
    else if (it->kind == N_IMPL) compile_impl(c, it);
  }
}

/* `use` of modules and non-literal constants run in statement order. */
void c_item_runtime(Compiler *c, Node *it) {
  Span sp = it->span;
  if (it->kind == N_CONST) {
    if (is_literal_const(c, it)) return;
    if (!it->as.cnst.value) {
      /* only a trait's constants may leave the value to the impl */
      Diag *d = c_error(c, sp, "constant `%s` has no value", it->as.cnst.name);
      diag_hint(d, "give it one: `const %s = ...`", it->as.cnst.name);
      return;
    }
    int slot = c_resolve_global(c, it->as.cnst.name);
    int r = c_alloc_reg(c, sp);
    c_expr(c, it->as.cnst.value, r);
    if (it->as.cnst.type) {
      char what[256];
      snprintf(what, sizeof what, "constant `%s`", it->as.cnst.name);
      ObjTypeSpec *ts = c_typespec(c, it->as.cnst.type, what);
      if (ts && ts->kind != TS_ANY) c_emit(c, MAKE_ABx(BC_CHECKTYPE, r, c_const(c, OBJ_VAL(ts), sp)), sp);
    }
    if (slot >= 0) c_emit(c, MAKE_ABx(BC_SETGLOBAL, r, slot), sp);
    return;
  }
  if (it->kind != N_USE) return;
  NodeList *path = &it->as.use.path;
  if (path->len) {
    const char *first = path->items[0]->as.ident.name;
    int slot = c_resolve_global(c, first);
    if (use_std_units(it)) return;
    if ((!strcmp(first, "std") || !strcmp(first, "core")) && !use_std_module(c, it)) return;
    if (slot >= 0 && IS_CLASS(c->mod->values[slot]) && AS_CLASS(c->mod->values[slot])->kind != CLASS_BUILTIN)
      return; /* use Enum::{...}: bound at compile time */
  }
  if (it->as.use.glob) {
    Diag *d = c_error(c, sp, "glob imports (`::*`) of modules are not supported");
    if (d) diag_hint(d, "list the names you need: `use module::{a, b}`");
    return;
  }
  const char *spec;
  if (it->as.use.file) {
    spec = it->as.use.file;
  } else {
    /* a::b::c as written; the loader decides whether `c` is a module or a
     * member of module a::b. With a {..} list the path is the module. */
    spec = c_path_text(c, &(Node){.kind = N_PATH, .as.path.segments = *path});
  }
  int r = c_alloc_reg(c, sp);
  c_emit(c, MAKE_ABx(BC_IMPORT, r, c_str_const(c, spec, sp)), sp);
  NodeList *names = &it->as.use.names;
  if (!names->len) {
    int slot = c_resolve_global(c, use_binding(c, it));
    if (slot >= 0) c_emit(c, MAKE_ABx(BC_SETGLOBAL, r, slot), sp);
    return;
  }
  int t = c_alloc_reg(c, sp);
  for (int i = 0; i < names->len; i++) {
    Node *leaf = names->items[i];
    c_emit_k8(c, BC_GETFIELD, t, r, c_str_const(c, leaf->as.ident.name, leaf->span), leaf->span);
    int slot = c_resolve_global(c, use_leaf_name(leaf));
    if (slot >= 0) c_emit(c, MAKE_ABx(BC_SETGLOBAL, t, slot), leaf->span);
  }
}
