/* Type names, equality and hashing of values. */
#include <math.h>

#include "value.h"
#include "units.h"

const char *value_type_name(Value v) {
  switch (v.type) {
  case VAL_UNDEF: return "undefined";
  case VAL_UNIT: return "()";
  case VAL_BOOL: return "bool";
  case VAL_INT: return "int";
  case VAL_FLOAT: return "float";
  case VAL_CHAR: return "char";
  case VAL_OBJ: break;
  }
  switch (OBJ_TYPE(v)) {
  case OBJ_STRING: return "string";
  case OBJ_LIST: return "list";
  case OBJ_TUPLE: return "tuple";
  case OBJ_RANGE: return "range";
  case OBJ_MAP: return "HashMap";
  case OBJ_PROTO:
  case OBJ_CLOSURE:
  case OBJ_BOUND:
  case OBJ_CTOR: return "fn";
  case OBJ_NATIVE: return "native fn";
  case OBJ_UPVALUE: return "upvalue";
  case OBJ_CLASS: return "type";
  case OBJ_INSTANCE: return AS_INSTANCE(v)->cls->name->chars;
  case OBJ_VARIANT: return AS_VARIANT(v)->cls->name->chars;
  case OBJ_MODULE: return "module";
  case OBJ_TYPESPEC: return "type";
  case OBJ_COMPLEX: return "complex";
  case OBJ_TENSOR: return "Tensor";
  case OBJ_GRADNODE: return "GradNode";
  case OBJ_QUANTITY: return "quantity";
  case OBJ__COUNT: break;
  }
  return "?";
}

bool value_truthy(Value v) { return v.type == VAL_BOOL && v.as.b; }

/* An int equals a float only when the float is exactly that integer (so
 * 2^53 + 1 is not equal to 2^53 as a float). */
static bool int_eq_float(int64_t i, double f) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return false;
  return (double)i == f && (int64_t)f == i;
}

/* Containers nested deeper than this compare unequal and do not hash: it
 * bounds the C stack when a list contains itself. */
#define VALUE_MAX_DEPTH 10000

static bool equal_at(Value a, Value b, int depth);

static bool values_equal(const Value *a, const Value *b, uint32_t n, int depth) {
  for (uint32_t i = 0; i < n; i++)
    if (!equal_at(a[i], b[i], depth)) return false;
  return true;
}

static bool maps_equal(ObjMap *a, ObjMap *b, int depth) {
  if (a->count != b->count) return false;
  for (uint32_t i = 0; i < a->nentries; i++) {
    if (IS_UNDEF(a->keys[i])) continue;
    Value other;
    if (!map_get(b, a->keys[i], &other) || !equal_at(a->values[i], other, depth)) return false;
  }
  return true;
}

bool value_equal(Value a, Value b) { return equal_at(a, b, 0); }

static bool equal_at(Value a, Value b, int depth) {
  if (a.type != b.type) {
    if (a.type == VAL_INT && b.type == VAL_FLOAT) return int_eq_float(a.as.i, b.as.f);
    if (a.type == VAL_FLOAT && b.type == VAL_INT) return int_eq_float(b.as.i, a.as.f);
    /* a complex with a zero imaginary part equals the real number */
    if (IS_OBJ_TYPE(a, OBJ_COMPLEX) && IS_NUM(b))
      return AS_COMPLEX(a)->im == 0 && AS_COMPLEX(a)->re == AS_NUM(b);
    if (IS_OBJ_TYPE(b, OBJ_COMPLEX) && IS_NUM(a))
      return AS_COMPLEX(b)->im == 0 && AS_COMPLEX(b)->re == AS_NUM(a);
    return false;
  }
  switch (a.type) {
  case VAL_UNDEF:
  case VAL_UNIT: return true;
  case VAL_BOOL: return a.as.b == b.as.b;
  case VAL_INT:
  case VAL_CHAR: return a.as.i == b.as.i;
  case VAL_FLOAT: return a.as.f == b.as.f;
  case VAL_OBJ: break;
  }
  Obj *x = a.as.o, *y = b.as.o;
  if (x == y) return true;
  if (x->type != y->type || depth > VALUE_MAX_DEPTH) return false;
  depth++;
  switch (x->type) {
  case OBJ_LIST: {
    ObjList *l = (ObjList *)x, *m = (ObjList *)y;
    return l->len == m->len && values_equal(l->items, m->items, l->len, depth);
  }
  case OBJ_TUPLE: {
    ObjTuple *l = (ObjTuple *)x, *m = (ObjTuple *)y;
    return l->len == m->len && values_equal(l->items, m->items, l->len, depth);
  }
  case OBJ_RANGE: {
    ObjRange *l = (ObjRange *)x, *m = (ObjRange *)y;
    return l->lo == m->lo && l->hi == m->hi && l->step == m->step && l->flags == m->flags;
  }
  case OBJ_MAP: return maps_equal((ObjMap *)x, (ObjMap *)y, depth);
  case OBJ_INSTANCE: {
    ObjInstance *l = (ObjInstance *)x, *m = (ObjInstance *)y;
    return l->cls == m->cls && values_equal(l->fields, m->fields, l->cls->nfields, depth);
  }
  case OBJ_VARIANT: {
    ObjVariant *l = (ObjVariant *)x, *m = (ObjVariant *)y;
    return l->cls == m->cls && l->tag == m->tag && l->nfields == m->nfields &&
           values_equal(l->fields, m->fields, l->nfields, depth);
  }
  case OBJ_COMPLEX: {
    ObjComplex *l = (ObjComplex *)x, *m = (ObjComplex *)y;
    return l->re == m->re && l->im == m->im;
  }
  case OBJ_QUANTITY: {
    ObjQuantity *l = (ObjQuantity *)x, *m = (ObjQuantity *)y;
    return l->value == m->value && l->im == m->im && !memcmp(l->dim, m->dim, UNIT_NDIMS);
  }
  case OBJ_BOUND: {
    ObjBound *l = (ObjBound *)x, *m = (ObjBound *)y;
    return equal_at(l->receiver, m->receiver, depth) && equal_at(l->method, m->method, depth);
  }
  case OBJ_STRING: return str_eq((ObjString *)x, (ObjString *)y);
  default: return false; /* the rest compare by identity */
  }
}

/* 64-bit mix (from splitmix64), folded to 32 bits. */
static uint32_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return (uint32_t)(x ^ (x >> 32));
}

static uint32_t combine(uint32_t h, uint32_t x) { return (h ^ x) * 16777619u + 0x9e3779b9u; }

static uint32_t hash_at(Value v, bool *ok, int depth);

uint32_t value_hash(Value v, bool *ok) {
  *ok = true;
  return hash_at(v, ok, 0);
}

static uint32_t hash_at(Value v, bool *ok, int depth) {
  switch (v.type) {
  case VAL_UNDEF: *ok = false; return 0;
  case VAL_UNIT: return 0x2545f491u;
  case VAL_BOOL: return v.as.b ? 0x9e3779b1u : 0x7f4a7c15u;
  case VAL_INT: return mix64((uint64_t)v.as.i);
  case VAL_CHAR: return mix64((uint64_t)v.as.i ^ 0xc4ceb9fe1a85ec53ULL);
  case VAL_FLOAT: {
    double f = v.as.f;
    /* equal values hash equal: 1.0 like 1, -0.0 like 0 */
    if (f >= -9223372036854775808.0 && f < 9223372036854775808.0 && f == floor(f))
      return mix64((uint64_t)(int64_t)f);
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    return mix64(bits);
  }
  case VAL_OBJ: break;
  }
  if (depth > VALUE_MAX_DEPTH) {
    *ok = false;
    return 0;
  }
  depth++;
  switch (OBJ_TYPE(v)) {
  case OBJ_STRING: return AS_STRING(v)->hash;
  case OBJ_TUPLE: {
    ObjTuple *t = AS_TUPLE(v);
    uint32_t h = 0x811c9dc5u + t->len;
    for (uint32_t i = 0; i < t->len && *ok; i++) h = combine(h, hash_at(t->items[i], ok, depth));
    return h;
  }
  case OBJ_VARIANT: {
    /* enum values are immutable, so they can be keys: Color::Red, Some(3) */
    ObjVariant *e = AS_VARIANT(v);
    uint32_t h = combine(e->cls->name->hash, e->tag);
    for (uint32_t i = 0; i < e->nfields && *ok; i++) h = combine(h, hash_at(e->fields[i], ok, depth));
    return h;
  }
  case OBJ_COMPLEX: {
    ObjComplex *c = AS_COMPLEX(v);
    if (c->im == 0) return hash_at(FLOAT_VAL(c->re), ok, depth);
    return combine(hash_at(FLOAT_VAL(c->re), ok, depth), hash_at(FLOAT_VAL(c->im), ok, depth));
  }
  case OBJ_RANGE: {
    ObjRange *r = AS_RANGE(v);
    return combine(combine(mix64((uint64_t)r->lo), mix64((uint64_t)r->hi)),
                   mix64((uint64_t)r->step) + (uint32_t)r->flags);
  }
  default: *ok = false; return 0;
  }
}

bool value_is_callable(Value v) {
  if (!IS_OBJ(v)) return false;
  switch (OBJ_TYPE(v)) {
  case OBJ_CLOSURE:
  case OBJ_NATIVE:
  case OBJ_BOUND:
  case OBJ_CTOR: return true;
  case OBJ_CLASS: return AS_CLASS(v)->is_tuple_struct; /* Point(1, 2) */
  default: return false;
  }
}
