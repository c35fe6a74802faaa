/* Object creation: every heap object is allocated here through vm_realloc,
 * linked into HEAP(vm)->objects for the sweep, and starts unmarked. Nothing here
 * collects: the collector runs only at the interpreter's safe points, so C
 * code may hold fresh objects in locals until it stores them somewhere the
 * collector can see. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gc.h"

void *vm_realloc(VM *vm, void *ptr, size_t old_size, size_t new_size) {
  HEAP(vm)->bytes_allocated += new_size - old_size;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  void *p = realloc(ptr, new_size);
  if (p == NULL) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  if (HEAP(vm)->bytes_allocated > HEAP(vm)->next_gc) HEAP(vm)->gc_requested = true;
  return p;
}

static Obj *alloc_object(VM *vm, size_t size, ObjType type) {
  Obj *o = vm_realloc(vm, NULL, 0, size);
  o->type = type;
  o->marked = false;
  o->next = HEAP(vm)->objects;
  HEAP(vm)->objects = o;
  return o;
}

Obj *obj_alloc(VM *vm, size_t size, ObjType type) { return alloc_object(vm, size, type); }

#define ALLOC_OBJ(vm, T, tag) ((T *)alloc_object(vm, sizeof(T), tag))

/* Grow a dynamic array to hold at least `need` items (capacity doubles). */
#define GROW(vm, T, ptr, cap, need)                                                                \
  do {                                                                                             \
    if ((need) > (cap)) {                                                                          \
      uint32_t ncap_ = (cap) < 8 ? 8 : (cap)*2;                                                    \
      while (ncap_ < (need)) ncap_ *= 2;                                                           \
      (ptr) = vm_realloc(vm, ptr, sizeof(T) * (cap), sizeof(T) * ncap_);                           \
      (cap) = ncap_;                                                                               \
    }                                                                                              \
  } while (0)

/* ---- strings ---- */

/* FNV-1a. */
uint32_t str_hash(const char *chars, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (uint8_t)chars[i];
    h *= 16777619u;
  }
  return h;
}

/* A long string's hash samples at most ~64 bytes (Lua 5.1 does the same):
 * enough for map keys, and O(1) for the long intermediate strings of
 * string building. */
static uint32_t long_str_hash(const char *chars, size_t len) {
  uint32_t h = 2166136261u ^ (uint32_t)len;
  size_t step = (len >> 6) + 1;
  for (size_t i = 0; i < len; i += step) {
    h ^= (uint8_t)chars[i];
    h *= 16777619u;
  }
  return h;
}

ObjString *str_new(VM *vm, const char *chars, size_t len) {
  ObjString *s = (ObjString *)alloc_object(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
  s->len = (uint32_t)len;
  s->hash = len > STR_INTERN_MAX ? long_str_hash(chars, len) : str_hash(chars, len);
  s->interned = false;
  memcpy(s->chars, chars, len);
  s->chars[len] = '\0';
  return s;
}

ObjString *str_copy(VM *vm, const char *chars, size_t len) {
  if (len > STR_INTERN_MAX) return str_new(vm, chars, len);
  uint32_t hash = str_hash(chars, len);
  ObjString *s = table_find_string(&HEAP(vm)->strings, chars, (uint32_t)len, hash);
  if (s) return s;
  s = (ObjString *)alloc_object(vm, sizeof(ObjString) + len + 1, OBJ_STRING);
  s->len = (uint32_t)len;
  s->hash = hash;
  s->interned = true;
  memcpy(s->chars, chars, len);
  s->chars[len] = '\0';
  table_set(vm, &HEAP(vm)->strings, s, INT_VAL(hash));
  return s;
}

ObjString *str_cstr(VM *vm, const char *chars) { return str_copy(vm, chars, strlen(chars)); }

ObjString *str_printf(VM *vm, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return str_copy(vm, "", 0);
  if ((size_t)n < sizeof small) return str_copy(vm, small, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  ObjString *s = str_copy(vm, big, (size_t)n);
  free(big);
  return s;
}

/* ---- lists, tuples, ranges ---- */

ObjList *list_new(VM *vm, uint32_t cap) {
  ObjList *l = ALLOC_OBJ(vm, ObjList, OBJ_LIST);
  l->len = 0;
  l->cap = 0;
  l->items = NULL;
  if (cap) {
    l->items = ALLOCATE(vm, Value, cap);
    l->cap = cap;
  }
  return l;
}

void list_push(VM *vm, ObjList *l, Value v) {
  GROW(vm, Value, l->items, l->cap, l->len + 1);
  l->items[l->len++] = v;
}

ObjTuple *tuple_new(VM *vm, uint32_t len) {
  ObjTuple *t = (ObjTuple *)alloc_object(vm, sizeof(ObjTuple) + sizeof(Value) * len, OBJ_TUPLE);
  t->len = len;
  for (uint32_t i = 0; i < len; i++) t->items[i] = UNIT_VAL;
  return t;
}

ObjRange *range_new(VM *vm, int64_t lo, int64_t hi, int64_t step, int flags) {
  ObjRange *r = ALLOC_OBJ(vm, ObjRange, OBJ_RANGE);
  r->lo = lo;
  r->hi = hi;
  r->step = step;
  r->flags = flags;
  return r;
}

/* ---- HashMap: a dense insertion-ordered entry array plus an open-addressing
 * index of entry numbers. Deleted entries keep their place (key UNDEF) until
 * the next rebuild compacts them. entries_cap is always 3/4 of the index
 * capacity, so the index never runs fuller than that. ---- */

enum { MAP_EMPTY = -1, MAP_DELETED = -2 };

ObjMap *map_new(VM *vm) {
  ObjMap *m = ALLOC_OBJ(vm, ObjMap, OBJ_MAP);
  m->count = m->cap = m->nentries = m->entries_cap = 0;
  m->index = NULL;
  m->keys = m->values = NULL;
  return m;
}

/* Index slot holding `key`, or -1; *insert gets the slot where it would go. */
static int32_t map_find(const ObjMap *m, Value key, uint32_t hash, int32_t *insert) {
  uint32_t mask = m->cap - 1, i = hash & mask;
  int32_t tomb = -1;
  for (;;) {
    int32_t e = m->index[i];
    if (e == MAP_EMPTY) {
      if (insert) *insert = tomb >= 0 ? tomb : (int32_t)i;
      return -1;
    }
    if (e == MAP_DELETED) {
      if (tomb < 0) tomb = (int32_t)i;
    } else if (value_equal(m->keys[e], key)) {
      return (int32_t)i;
    }
    i = (i + 1) & mask;
  }
}

static void map_rebuild(VM *vm, ObjMap *m) {
  uint32_t live = 0;
  for (uint32_t e = 0; e < m->nentries; e++) {
    if (IS_UNDEF(m->keys[e])) continue;
    m->keys[live] = m->keys[e];
    m->values[live] = m->values[e];
    live++;
  }
  m->nentries = live;
  uint32_t cap = 8;
  while (cap / 4 * 3 < (live + 1) * 2) cap *= 2;
  uint32_t ecap = cap / 4 * 3;
  m->keys = vm_realloc(vm, m->keys, sizeof(Value) * m->entries_cap, sizeof(Value) * ecap);
  m->values = vm_realloc(vm, m->values, sizeof(Value) * m->entries_cap, sizeof(Value) * ecap);
  m->entries_cap = ecap;
  m->index = vm_realloc(vm, m->index, sizeof(int32_t) * m->cap, sizeof(int32_t) * cap);
  m->cap = cap;
  for (uint32_t i = 0; i < cap; i++) m->index[i] = MAP_EMPTY;
  for (uint32_t e = 0; e < live; e++) {
    bool ok;
    uint32_t h = value_hash(m->keys[e], &ok);
    uint32_t i = h & (cap - 1);
    while (m->index[i] != MAP_EMPTY) i = (i + 1) & (cap - 1);
    m->index[i] = (int32_t)e;
  }
}

bool map_get(ObjMap *m, Value key, Value *out) {
  if (m->count == 0) return false;
  bool ok;
  uint32_t h = value_hash(key, &ok);
  if (!ok) return false;
  int32_t slot = map_find(m, key, h, NULL);
  if (slot < 0) return false;
  *out = m->values[m->index[slot]];
  return true;
}

bool map_set(VM *vm, ObjMap *m, Value key, Value v) {
  bool ok;
  uint32_t h = value_hash(key, &ok);
  if (!ok) return heap_error(vm, "a value of type %s cannot be a map key", value_type_name(key));
  int32_t insert = -1;
  if (m->cap) {
    int32_t slot = map_find(m, key, h, &insert);
    if (slot >= 0) {
      m->values[m->index[slot]] = v;
      return true;
    }
  }
  if (m->nentries + 1 > m->entries_cap) {
    map_rebuild(vm, m);
    map_find(m, key, h, &insert);
  }
  uint32_t e = m->nentries++;
  m->keys[e] = key;
  m->values[e] = v;
  m->index[insert] = (int32_t)e;
  m->count++;
  return true;
}

bool map_delete(ObjMap *m, Value key) {
  if (m->count == 0) return false;
  bool ok;
  uint32_t h = value_hash(key, &ok);
  if (!ok) return false;
  int32_t slot = map_find(m, key, h, NULL);
  if (slot < 0) return false;
  int32_t e = m->index[slot];
  m->keys[e] = UNDEF_VAL;
  m->values[e] = UNDEF_VAL;
  m->index[slot] = MAP_DELETED;
  m->count--;
  return true;
}

/* ---- functions ---- */

ObjProto *proto_new(VM *vm, ObjModule *module, Source *src) {
  ObjProto *p = ALLOC_OBJ(vm, ObjProto, OBJ_PROTO);
  memset((char *)p + sizeof(Obj), 0, sizeof(ObjProto) - sizeof(Obj));
  p->module = module;
  p->src = src;
  return p;
}

uint32_t proto_emit(VM *vm, ObjProto *p, uint32_t ins, uint32_t offset) {
  if (p->ncode + 1 > p->capcode) {
    uint32_t old = p->capcode;
    uint32_t cap = old < 16 ? 16 : old * 2;
    p->code = vm_realloc(vm, p->code, sizeof(uint32_t) * old, sizeof(uint32_t) * cap);
    p->offsets = vm_realloc(vm, p->offsets, sizeof(uint32_t) * old, sizeof(uint32_t) * cap);
    p->capcode = cap;
  }
  p->code[p->ncode] = ins;
  p->offsets[p->ncode] = offset;
  return p->ncode++;
}

/* Strings are interned, so pointer equality is string equality; numbers
 * match by type and bits (so 0.0 and -0.0 stay distinct, and 1 is not 1.0). */
static bool same_constant(Value a, Value b) {
  if (a.type != b.type) return false;
  switch (a.type) {
  case VAL_INT:
  case VAL_CHAR: return a.as.i == b.as.i;
  case VAL_FLOAT: return memcmp(&a.as.f, &b.as.f, sizeof(double)) == 0;
  case VAL_BOOL: return a.as.b == b.as.b;
  case VAL_UNIT: return true;
  case VAL_OBJ: return a.as.o == b.as.o && a.as.o->type == OBJ_STRING;
  default: return false;
  }
}

uint32_t proto_add_const(VM *vm, ObjProto *p, Value v) {
  for (uint32_t i = 0; i < p->nk; i++)
    if (same_constant(p->k[i], v)) return i;
  GROW(vm, Value, p->k, p->capk, p->nk + 1);
  p->k[p->nk] = v;
  return p->nk++;
}

uint32_t proto_add_proto(VM *vm, ObjProto *p, ObjProto *child) {
  GROW(vm, ObjProto *, p->protos, p->capprotos, p->nprotos + 1);
  p->protos[p->nprotos] = child;
  return p->nprotos++;
}

ObjClosure *closure_new(VM *vm, ObjProto *proto) {
  ObjClosure *c = (ObjClosure *)alloc_object(
      vm, sizeof(ObjClosure) + sizeof(ObjUpvalue *) * proto->nupvals, OBJ_CLOSURE);
  c->proto = proto;
  c->nupvals = proto->nupvals;
  for (uint32_t i = 0; i < c->nupvals; i++) c->upvals[i] = NULL;
  return c;
}

ObjUpvalue *upvalue_new(VM *vm, Value *slot) {
  ObjUpvalue *u = ALLOC_OBJ(vm, ObjUpvalue, OBJ_UPVALUE);
  u->location = slot;
  u->closed = UNIT_VAL;
  u->next_open = NULL;
  return u;
}

ObjNative *native_new(VM *vm, const char *name, NativeFn fn, int min_args, int max_args) {
  ObjString *s = str_cstr(vm, name);
  ObjNative *n = ALLOC_OBJ(vm, ObjNative, OBJ_NATIVE);
  n->fn = fn;
  n->name = s;
  n->min_args = (int16_t)min_args;
  n->max_args = (int16_t)max_args;
  n->data = NULL;
  n->free_data = NULL;
  n->params = NULL;
  return n;
}

ObjBound *bound_new(VM *vm, Value receiver, Value method) {
  ObjBound *b = ALLOC_OBJ(vm, ObjBound, OBJ_BOUND);
  b->receiver = receiver;
  b->method = method;
  return b;
}

/* ---- classes and their values ---- */

ObjClass *class_new(VM *vm, ClassKind kind, ObjString *name) {
  ObjClass *c = ALLOC_OBJ(vm, ObjClass, OBJ_CLASS);
  memset((char *)c + sizeof(Obj), 0, sizeof(ObjClass) - sizeof(Obj));
  c->kind = kind;
  c->name = name;
  table_init(&c->methods);
  table_init(&c->traits);
  return c;
}

ObjInstance *instance_new(VM *vm, ObjClass *cls) {
  ObjInstance *in = (ObjInstance *)alloc_object(
      vm, sizeof(ObjInstance) + sizeof(Value) * cls->nfields, OBJ_INSTANCE);
  in->cls = cls;
  for (uint16_t i = 0; i < cls->nfields; i++) in->fields[i] = UNDEF_VAL;
  return in;
}

ObjVariant *variant_new(VM *vm, ObjClass *enm, uint16_t tag, uint16_t nfields) {
  ObjVariant *v =
      (ObjVariant *)alloc_object(vm, sizeof(ObjVariant) + sizeof(Value) * nfields, OBJ_VARIANT);
  v->cls = enm;
  v->tag = tag;
  v->nfields = nfields;
  for (uint16_t i = 0; i < nfields; i++) v->fields[i] = UNIT_VAL;
  return v;
}

ObjCtor *ctor_new(VM *vm, ObjClass *enm, uint16_t tag) {
  ObjCtor *c = ALLOC_OBJ(vm, ObjCtor, OBJ_CTOR);
  c->cls = enm;
  c->tag = tag;
  return c;
}

/* ---- modules ---- */

ObjModule *module_new(VM *vm, ObjString *name, ObjString *path) {
  ObjModule *m = ALLOC_OBJ(vm, ObjModule, OBJ_MODULE);
  memset((char *)m + sizeof(Obj), 0, sizeof(ObjModule) - sizeof(Obj));
  m->name = name;
  m->path = path;
  table_init(&m->index);
  m->state = MODULE_NEW;
  return m;
}

uint32_t module_declare(VM *vm, ObjModule *m, ObjString *name, uint8_t flags) {
  Value slot;
  if (table_get(&m->index, name, &slot)) {
    m->flags[slot.as.i] = flags;
    return (uint32_t)slot.as.i;
  }
  if (m->nglobals + 1 > m->cap) {
    uint32_t old = m->cap, cap = old < 16 ? 16 : old * 2;
    m->names = vm_realloc(vm, m->names, sizeof(ObjString *) * old, sizeof(ObjString *) * cap);
    m->values = vm_realloc(vm, m->values, sizeof(Value) * old, sizeof(Value) * cap);
    m->flags = vm_realloc(vm, m->flags, old, cap);
    m->cap = cap;
  }
  uint32_t s = m->nglobals++;
  m->names[s] = name;
  m->values[s] = UNDEF_VAL;
  m->flags[s] = flags;
  table_set(vm, &m->index, name, INT_VAL(s));
  return s;
}

int32_t module_find(ObjModule *m, ObjString *name) {
  Value slot;
  if (!table_get(&m->index, name, &slot)) return -1;
  return (int32_t)slot.as.i;
}

void module_define(VM *vm, ObjModule *m, const char *name, Value v, uint8_t flags) {
  uint32_t s = module_declare(vm, m, str_cstr(vm, name), flags);
  m->values[s] = v;
}

/* ---- annotations, numbers ---- */

ObjTypeSpec *typespec_new(VM *vm, TypeSpecKind kind, ObjString *text, ObjString *what) {
  ObjTypeSpec *t = ALLOC_OBJ(vm, ObjTypeSpec, OBJ_TYPESPEC);
  t->kind = kind;
  t->text = text;
  t->what = what;
  t->module = NULL;
  t->slot = 0;
  t->tuple_len = -1;
  t->dtype = -1;
  t->ndim = -1;
  for (int i = 0; i < 8; i++) t->dims[i] = -1;
  return t;
}

ObjComplex *complex_new(VM *vm, double re, double im) {
  ObjComplex *c = ALLOC_OBJ(vm, ObjComplex, OBJ_COMPLEX);
  c->re = re;
  c->im = im;
  return c;
}
