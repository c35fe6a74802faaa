/* Units in the compiler: quantity literals become constants, unit type
 * annotations become TS_QUANTITY typespecs, and + - and comparisons whose
 * operands are both known at compile time (literals, and products of
 * them) are checked for matching dimensions before the program runs. */
#include "cstate.h"

#include <string.h>

#include "units.h"

/* 9.8_m/s² -> a constant quantity (a float when the unit is dimensionless:
 * 90_deg is π/2). */
void c_quantity_literal(Compiler *c, Node *e, int dst) {
  Qty q;
  char err[160];
  if (!units_literal(e->as.quantity.value, e->as.quantity.unit, &q, err, sizeof err)) {
    Diag *d = c_error(c, e->span, "%s", err);
    if (d) diag_hint(d, "units are SI symbols with prefixes (km, ms, µs, kN), joined with * ⋅ or /");
    return;
  }
  Value v = units_value(c->vm, &q);
  c_emit(c, MAKE_ABx(BC_LOADK, dst, c_const(c, v, e->span)), e->span);
}

/* The quantity an expression has at compile time, if it is built from
 * literals alone. Numbers count so that `1_m + 2` is caught too. */
static bool static_qty(Compiler *c, Node *e, Qty *out, int depth) {
  char err[160];
  if (depth > 32) return false;
  switch (e->kind) {
  case N_QUANTITY: return units_literal(e->as.quantity.value, e->as.quantity.unit, out, err, sizeof err);
  case N_INT:
  case N_FLOAT:
    memset(out, 0, sizeof *out);
    out->value = e->kind == N_INT ? (double)e->as.int_lit.value : e->as.float_lit.value;
    out->scale = 1;
    out->number = true;
    strcpy(out->unit, e->kind == N_INT ? "int" : "float");
    return true;
  case N_IDENT: {
    /* a local annotated with a unit type: its dimensions, value unknown */
    Local *l = c_find_local(c, e->as.ident.name);
    if (!l || !l->has_unit) return false;
    memset(out, 0, sizeof *out);
    out->value = 1;
    out->scale = 1;
    memcpy(out->dim, l->unit_dim, UNIT_NDIMS);
    units_dims_text(out->dim, out->unit, sizeof out->unit);
    return true;
  }
  case N_UNARY:
    if (e->as.unary.op != OP_NEG || !static_qty(c, e->as.unary.operand, out, depth + 1)) return false;
    out->value = -out->value;
    return true;
  case N_BINARY: {
    OpKind op = e->as.binary.op;
    if (op != OP_MUL && op != OP_DIV && op != OP_POW) return false;
    Qty a, b;
    if (!static_qty(c, e->as.binary.lhs, &a, depth + 1) || !static_qty(c, e->as.binary.rhs, &b, depth + 1))
      return false;
    if (a.number && b.number) return false; /* int / int and powers follow their own rules */
    if (!units_apply(c_arith_op(op), &a, &b, out, err, sizeof err)) return false;
    if (units_dimensionless(out->dim)) {
      out->number = true;
      strcpy(out->unit, "float");
    }
    return true;
  }
  default: return false;
  }
}

/* Where the operator of a binary node is: the first non-blank byte after
 * its left operand (skipping a closing parenthesis). */
static Span operator_span(Compiler *c, Node *e) {
  const char *t = c->src->text;
  uint32_t i = e->as.binary.lhs->span.end, end = e->as.binary.rhs->span.start;
  while (i < end && (t[i] == ' ' || t[i] == '\t' || t[i] == ')' || t[i] == '\n' || t[i] == '\r')) i++;
  if (i >= end) return e->span;
  Span sp = e->span;
  sp.start = i;
  sp.end = i + 1;
  return sp;
}

void c_check_units(Compiler *c, Node *e) {
  OpKind op = e->as.binary.op;
  switch (op) {
  case OP_ADD: case OP_SUB: case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_APPROX: break;
  default: return;
  }
  Qty a, b, r;
  if (!static_qty(c, e->as.binary.lhs, &a, 0) || !static_qty(c, e->as.binary.rhs, &b, 0)) return;
  if (a.number && b.number) return;
  char err[160];
  if (!units_apply(c_arith_op(op), &a, &b, &r, err, sizeof err)) c_error(c, operator_span(c, e), "%s", err);
}

/* Dimensions of a unit type: a name (Meter, or an alias of a unit type) or
 * Kilogram*Meter/(Second*Second), Second^2. */
static bool unit_dims(Compiler *c, Node *t, int8_t dim[UNIT_NDIMS], bool *any, int depth) {
  if (depth > 32) return false;
  if (t->kind == N_TYPE_BINARY) {
    int8_t l[UNIT_NDIMS], r[UNIT_NDIMS];
    if (!unit_dims(c, t->as.type_binary.lhs, l, any, depth + 1)) return false;
    long k;
    if (t->as.type_binary.op == OP_POW) {
      Node *n = t->as.type_binary.rhs;
      if (n->kind != N_INT) {
        c_error(c, n->span, "a unit type's power must be an integer");
        return false;
      }
      k = (long)n->as.int_lit.value;
      memset(r, 0, UNIT_NDIMS);
      for (int i = 0; i < UNIT_NDIMS; i++) r[i] = (int8_t)(l[i] * k);
      memcpy(dim, r, UNIT_NDIMS);
      return true;
    }
    if (!unit_dims(c, t->as.type_binary.rhs, r, any, depth + 1)) return false;
    k = t->as.type_binary.op == OP_DIV ? -1 : 1;
    for (int i = 0; i < UNIT_NDIMS; i++) dim[i] = (int8_t)(l[i] + k * r[i]);
    return true;
  }
  if (t->kind != N_TYPE_NAME) {
    c_error(c, t->span, "expected a unit type such as `Meter` or `Kilogram*Meter/Second^2`");
    return false;
  }
  const char *name = c_path_text(c, t->as.type_name.path);
  for (ItemInfo *it = c->items; it; it = it->next)
    if (!strcmp(it->name, name) && it->node->kind == N_TYPE_ALIAS)
      return unit_dims(c, it->node->as.alias.type, dim, any, depth + 1);
  if (!strcmp(name, "Quantity")) {
    memset(dim, 0, UNIT_NDIMS);
    *any = true;
    return true;
  }
  if (units_type_dims(name, dim)) return true;
  c_error(c, t->span, "`%s` is not a unit type", name);
  return false;
}

void c_note_local_unit(Compiler *c, int local, Node *type) {
  if (!c_is_unit_type(c, type)) return;
  /* a struct or enum of the program named like a quantity (Current) wins */
  if (type->kind == N_TYPE_NAME && c_resolve_global(c, c_path_text(c, type->as.type_name.path)) >= 0) return;
  int8_t dim[UNIT_NDIMS];
  bool any = false;
  int errors = c->diags->nerrors;
  if (!unit_dims(c, type, dim, &any, 0) || any) return;
  /* a dimensionless annotation (Radian) holds a plain float */
  if (c->diags->nerrors != errors || units_dimensionless(dim)) return;
  Local *l = &c->fs->locals[local];
  l->has_unit = true;
  memcpy(l->unit_dim, dim, UNIT_NDIMS);
}

/* Whether a type (or the alias it names) is a unit type. */
bool c_is_unit_type(Compiler *c, Node *t) {
  if (t->kind == N_TYPE_BINARY) return true;
  if (t->kind != N_TYPE_NAME || t->as.type_name.args.len) return false;
  const char *name = c_path_text(c, t->as.type_name.path);
  int8_t dim[UNIT_NDIMS];
  for (ItemInfo *it = c->items; it; it = it->next)
    if (!strcmp(it->name, name) && it->node->kind == N_TYPE_ALIAS) return c_is_unit_type(c, it->node->as.alias.type);
  return !strcmp(name, "Quantity") || units_type_dims(name, dim);
}

ObjTypeSpec *c_unit_typespec(Compiler *c, Node *type, const char *what) {
  ObjTypeSpec *ts = typespec_new(c->vm, TS_QUANTITY,
                                 str_copy(c->vm, c->src->text + type->span.start, type->span.end - type->span.start),
                                 str_cstr(c->vm, what));
  bool any = false;
  if (!unit_dims(c, type, ts->unit_dims, &any, 0)) return NULL;
  ts->unit_any = any;
  return ts;
}
