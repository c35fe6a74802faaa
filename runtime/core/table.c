/* Hash tables keyed by interned strings: open addressing with linear
 * probing, power-of-two capacity, at most 3/4 full counting tombstones.
 * Keys compare by pointer since equal strings are the same object. */
#include "gc.h"

#define TABLE_MAX_LOAD_NUM 3
#define TABLE_MAX_LOAD_DEN 4

void table_init(Table *t) {
  t->count = 0;
  t->cap = 0;
  t->entries = NULL;
}

void table_free(VM *vm, Table *t) {
  FREE_ARRAY(vm, TableEntry, t->entries, t->cap);
  table_init(t);
}

/* The entry for `key`, or the slot where it would be inserted (the first
 * tombstone passed, else the empty slot that ended the probe). */
static TableEntry *find_entry(TableEntry *entries, uint32_t cap, ObjString *key) {
  uint32_t mask = cap - 1, i = key->hash & mask;
  TableEntry *tomb = NULL;
  for (;;) {
    TableEntry *e = &entries[i];
    if (e->key == key || (e->key && str_eq(e->key, key))) return e;
    if (e->key == NULL) {
      if (IS_UNDEF(e->value)) return tomb ? tomb : e;
      if (!tomb) tomb = e;
    }
    i = (i + 1) & mask;
  }
}

static void grow(VM *vm, Table *t, uint32_t cap) {
  TableEntry *entries = ALLOCATE(vm, TableEntry, cap);
  for (uint32_t i = 0; i < cap; i++) {
    entries[i].key = NULL;
    entries[i].value = UNDEF_VAL;
  }
  t->count = 0;
  for (uint32_t i = 0; i < t->cap; i++) {
    TableEntry *old = &t->entries[i];
    if (old->key == NULL) continue;
    TableEntry *e = find_entry(entries, cap, old->key);
    e->key = old->key;
    e->value = old->value;
    t->count++;
  }
  FREE_ARRAY(vm, TableEntry, t->entries, t->cap);
  t->entries = entries;
  t->cap = cap;
}

bool table_get(const Table *t, ObjString *key, Value *out) {
  if (t->count == 0) return false;
  TableEntry *e = find_entry(t->entries, t->cap, key);
  if (e->key == NULL) return false;
  *out = e->value;
  return true;
}

bool table_set(VM *vm, Table *t, ObjString *key, Value v) {
  if ((t->count + 1) * TABLE_MAX_LOAD_DEN > t->cap * TABLE_MAX_LOAD_NUM)
    grow(vm, t, t->cap < 8 ? 8 : t->cap * 2);
  TableEntry *e = find_entry(t->entries, t->cap, key);
  bool is_new = e->key == NULL;
  /* Reusing a tombstone does not change the count: it was counted already. */
  if (is_new && IS_UNDEF(e->value)) t->count++;
  e->key = key;
  e->value = v;
  return is_new;
}

bool table_delete(Table *t, ObjString *key) {
  if (t->count == 0) return false;
  TableEntry *e = find_entry(t->entries, t->cap, key);
  if (e->key == NULL) return false;
  e->key = NULL;
  e->value = UNIT_VAL;
  return true;
}

/* The intern set keeps each string's hash as its value, so a probe
 * compares hashes without touching the string (a cache miss each). */
ObjString *table_find_string(const Table *t, const char *chars, uint32_t len, uint32_t hash) {
  if (t->count == 0) return NULL;
  uint32_t mask = t->cap - 1, i = hash & mask;
  for (;;) {
    TableEntry *e = &t->entries[i];
    if (e->key == NULL) {
      if (IS_UNDEF(e->value)) return NULL;
    } else if ((uint32_t)e->value.as.i == hash && e->key->len == len &&
               memcmp(e->key->chars, chars, len) == 0) {
      return e->key;
    }
    i = (i + 1) & mask;
  }
}
