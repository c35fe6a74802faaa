/* Initialisers that take their shape from the annotation they initialise.
 *
 * In `struct Net { w: Matrix<f64, 784, 128> }` the literal
 * `Net { w: Matrix::random_normal(0.0, 0.1) }` and in
 * `let w: Matrix<f64, 784, 128> = Matrix::zeros()` the constructor is not
 * told its shape: the compiler knows it from the annotation and passes it
 * as the named arguments `shape: [784, 128]` and `dtype: "f64"` (each only
 * when the annotation gives it and the call does not name it already). The
 * constructors are the prelude's `Matrix::` and `Vector::` associated
 * functions; they prefer a shape written in the call and say "shape
 * unknown" when there is none. The annotation is still checked afterwards,
 * as every annotation is. */
#include <string.h>

#include "cstate.h"

/* Whether `callee` is `Matrix::f` or `Vector::f` of the prelude (a module
 * may define its own `Matrix`, which then keeps its plain meaning). */
static bool prelude_tensor_ctor(Compiler *c, Node *callee) {
  if (callee->kind != N_PATH || callee->as.path.segments.len != 2) return false;
  Node *first = callee->as.path.segments.items[0];
  const char *name = first->as.ident.name;
  if (strcmp(name, "Matrix") != 0 && strcmp(name, "Vector") != 0) return false;
  int slot;
  if (c_resolve(c, name, &slot) != NAME_GLOBAL) return false;
  return (c->mod->flags[slot] & GLOBAL_BUILTIN) && IS_CLASS(c->mod->values[slot]);
}

static bool has_named_arg(NodeList *args, const char *name) {
  for (int i = 0; i < args->len; i++)
    if (args->items[i]->as.arg.name && !strcmp(args->items[i]->as.arg.name, name)) return true;
  return false;
}

static Node *new_node(Compiler *c, NodeKind kind, Span sp) {
  Node *n = arena_alloc(&c->arena, sizeof *n);
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->span = sp;
  return n;
}

static void push_named(Compiler *c, NodeList *args, const char *name, Node *value) {
  Node *a = new_node(c, N_ARG, value->span);
  a->as.arg.name = name;
  a->as.arg.value = value;
  nodelist_push(&c->arena, args, a);
}

void c_expr_for(Compiler *c, Node *e, int dst, const ObjTypeSpec *expect) {
  if (!expect || expect->kind != TS_TENSOR || e->kind != N_CALL || !prelude_tensor_ctor(c, e->as.call.callee)) {
    c_expr(c, e, dst);
    return;
  }
  NodeList *given = &e->as.call.args;
  NodeList args = {0};
  for (int i = 0; i < given->len; i++) nodelist_push(&c->arena, &args, given->items[i]);
  bool known = expect->ndim >= 0;
  for (int d = 0; d < expect->ndim && d < 8; d++) known &= expect->dims[d] >= 0;
  if (known && !has_named_arg(given, "shape")) {
    Node *list = new_node(c, N_LIST, e->span);
    for (int d = 0; d < expect->ndim; d++) {
      Node *n = new_node(c, N_INT, e->span);
      n->as.int_lit.value = expect->dims[d];
      nodelist_push(&c->arena, &list->as.list.elems, n);
    }
    push_named(c, &args, "shape", list);
  }
  if (expect->dtype >= 0 && expect->dtype < 4 && !has_named_arg(given, "dtype")) {
    Node *s = new_node(c, N_STRING, e->span);
    s->as.str.value = c_tensor_dtypes[expect->dtype];
    s->as.str.len = (uint32_t)strlen(s->as.str.value);
    push_named(c, &args, "dtype", s);
  }
  Node *call = new_node(c, N_CALL, e->span);
  call->as.call.callee = e->as.call.callee;
  call->as.call.args = args;
  c_expr(c, call, dst);
}

/* The module-level `fn` a call's callee names at compile time, or NULL. */
static Node *callee_fn(Compiler *c, Node *callee) {
  int slot;
  if (!callee || callee->kind != N_IDENT || c_resolve(c, callee->as.ident.name, &slot) != NAME_GLOBAL) return NULL;
  ItemInfo *it = c_find_item(c, callee->as.ident.name);
  return it && it->node->kind == N_FN ? it->node : NULL;
}

/* The parameter is found by position, or by name. Only tensor annotations
 * are read here: another annotation may name the callee's generic
 * parameters, which mean nothing at the call. */
const ObjTypeSpec *c_param_expect(Compiler *c, Node *callee, NodeList *args, int i) {
  Node *arg = args->items[i], *prm = NULL;
  Node *v = arg->as.arg.value;
  if (v->kind != N_CALL || !prelude_tensor_ctor(c, v->as.call.callee)) return NULL;
  Node *fn = callee_fn(c, callee);
  if (!fn) return NULL;
  NodeList *params = &fn->as.fn.params;
  if (arg->as.arg.name) {
    for (int j = 0; j < params->len && !prm; j++) {
      Node *pat = params->items[j]->as.param.pattern;
      if (pat && pat->kind == N_PAT_BIND && !strcmp(pat->as.pat_bind.name, arg->as.arg.name)) prm = params->items[j];
    }
  } else if (i < params->len) {
    prm = params->items[i];
  }
  Node *type = prm ? prm->as.param.type : NULL;
  while (type && type->kind == N_TYPE_REF) type = type->as.type_ref.inner;
  if (!type || type->kind != N_TYPE_NAME || type->as.type_name.path->kind != N_IDENT) return NULL;
  const char *name = type->as.type_name.path->as.ident.name;
  if (strcmp(name, "Tensor") != 0 && strcmp(name, "Matrix") != 0 && strcmp(name, "Vector") != 0) return NULL;
  return c_typespec(c, type, "the argument");
}
