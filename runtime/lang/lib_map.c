/* Methods of HashMap: insertion-ordered, keys are any hashable value (ints,
 * floats, bools, chars, strings, tuples and enum values of those). Lookups
 * that may miss return an Option. Iteration yields (key, value) tuples. */
#include "builtins.h"

#define SELF(a) AS_MAP((a)[0])

static bool m_new(VM *vm, Value *a, int n, Value *out) {
  (void)a, (void)n;
  *out = OBJ_VAL(map_new(vm));
  return true;
}

/* HashMap::from([(k, v), ...]) */
static bool m_from(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *pairs;
  if (!lib_to_list(vm, a[0], "HashMap::from", &pairs)) return false;
  ObjMap *m = map_new(vm);
  *out = OBJ_VAL(m);
  for (uint32_t i = 0; i < pairs->len; i++) {
    Value p = pairs->items[i];
    if (!IS_TUPLE(p) || AS_TUPLE(p)->len != 2)
      return vm_error(vm, "HashMap::from expects (key, value) tuples, got %s", value_type_name(p));
    if (!map_set(vm, m, AS_TUPLE(p)->items[0], AS_TUPLE(p)->items[1])) return false;
  }
  return true;
}

static bool m_insert(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  Value old;
  bool had = map_get(SELF(a), a[1], &old);
  if (!map_set(vm, SELF(a), a[1], a[2])) return false;
  return had ? lib_some(vm, old, out) : lib_none(vm, out);
}

static bool m_get(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  Value v;
  return map_get(SELF(a), a[1], &v) ? lib_some(vm, v, out) : lib_none(vm, out);
}

static bool m_get_or(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  if (!map_get(SELF(a), a[1], out)) *out = a[2];
  return true;
}

/* get_or_insert(k, default): the value at k, inserting default first if absent. */
static bool m_get_or_insert(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (map_get(SELF(a), a[1], out)) return true;
  if (!map_set(vm, SELF(a), a[1], a[2])) return false;
  *out = a[2];
  return true;
}

static bool m_contains_key(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  Value ignored;
  *out = BOOL_VAL(map_get(SELF(a), a[1], &ignored));
  return true;
}

static bool m_remove(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  Value old;
  if (!map_get(SELF(a), a[1], &old)) return lib_none(vm, out);
  map_delete(SELF(a), a[1]);
  return lib_some(vm, old, out);
}

static bool m_len(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(SELF(a)->count);
  return true;
}

static bool m_is_empty(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = BOOL_VAL(SELF(a)->count == 0);
  return true;
}

/* keys / values / items in insertion order */
static bool listing(VM *vm, ObjMap *m, int what, Value *out) {
  ObjList *l = list_new(vm, m->count);
  for (uint32_t i = 0; i < m->nentries; i++) {
    if (IS_UNDEF(m->keys[i])) continue;
    if (what == 0) {
      list_push(vm, l, m->keys[i]);
    } else if (what == 1) {
      list_push(vm, l, m->values[i]);
    } else {
      ObjTuple *t = tuple_new(vm, 2);
      t->items[0] = m->keys[i];
      t->items[1] = m->values[i];
      list_push(vm, l, OBJ_VAL(t));
    }
  }
  *out = OBJ_VAL(l);
  return true;
}

static bool m_keys(VM *vm, Value *a, int n, Value *out) { (void)n; return listing(vm, SELF(a), 0, out); }
static bool m_values(VM *vm, Value *a, int n, Value *out) { (void)n; return listing(vm, SELF(a), 1, out); }
static bool m_items(VM *vm, Value *a, int n, Value *out) { (void)n; return listing(vm, SELF(a), 2, out); }

static bool m_clear(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  ObjMap *m = SELF(a);
  for (uint32_t i = 0; i < m->nentries; i++)
    if (!IS_UNDEF(m->keys[i])) map_delete(m, m->keys[i]);
  *out = UNIT_VAL;
  return true;
}

/* extend(other): insert every (key, value) of another map or list of pairs. */
static bool m_extend(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *pairs;
  if (!lib_to_list(vm, a[1], "extend", &pairs)) return false;
  for (uint32_t i = 0; i < pairs->len; i++) {
    Value p = pairs->items[i];
    if (!IS_TUPLE(p) || AS_TUPLE(p)->len != 2)
      return vm_error(vm, "extend expects (key, value) tuples, got %s", value_type_name(p));
    if (!map_set(vm, SELF(a), AS_TUPLE(p)->items[0], AS_TUPLE(p)->items[1])) return false;
  }
  *out = UNIT_VAL;
  return true;
}

void lib_map_init(VM *vm) {
  ObjClass *c = lib_class(vm, "HashMap");
  vm->class_of_obj[OBJ_MAP] = c;
  lib_add_common(vm, c);
  static const struct {
    const char *name;
    NativeFn fn;
    int min, max;
  } m[] = {
    {"new", m_new, 0, 0},
    {"with_capacity", m_new, 1, 1},
    {"from", m_from, 1, 1},
    {"insert", m_insert, 3, 3},
    {"get", m_get, 2, 2},
    {"get_or", m_get_or, 3, 3},
    {"get_or_insert", m_get_or_insert, 3, 3},
    {"contains_key", m_contains_key, 2, 2},
    {"remove", m_remove, 2, 2},
    {"len", m_len, 1, 1},
    {"is_empty", m_is_empty, 1, 1},
    {"keys", m_keys, 1, 1},
    {"values", m_values, 1, 1},
    {"items", m_items, 1, 1},
    {"iter", m_items, 1, 1},
    {"into_iter", m_items, 1, 1},
    {"clear", m_clear, 1, 1},
    {"extend", m_extend, 2, 2},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) lib_method(vm, c, m[i].name, m[i].fn, m[i].min, m[i].max);
}
