/* Methods of lists, tuples and ranges, and the sort they share.
 *
 * Lists are mutable and shared by reference: push/pop/insert/remove/sort/
 * reverse change the list in place; map/filter/sorted/reversed/... return
 * new lists. Iterator-style chains (`xs.iter().map(f).collect()`) work
 * because iter() returns the list itself and collect() a copy. Tuples and
 * ranges answer the read-only methods by first listing their elements
 * (ranges keep O(1) len, contains and sum). Methods that may find nothing
 * (pop, first, get, find, position, reduce) return an Option; min and max
 * return the element and fail on an empty list. */
#include <stdlib.h>

#include "builtins.h"

#define SELF(a) AS_LIST((a)[0])

/* Callbacks run interpreted code, which may collect garbage: a native
 * keeps what it builds across them in the VM's temporary roots (its
 * arguments are already on the VM stack). */
static bool call1(VM *vm, Value f, Value x, Value *out) { return vm_call(vm, f, &x, 1, out); }

static bool call2(VM *vm, Value f, Value x, Value y, Value *out) {
  Value args[2] = {x, y};
  return vm_call(vm, f, args, 2, out);
}

/* Replace the innermost temporary root (an accumulator that changes). */
static void set_root(VM *vm, Value v) { vm->heap.temp_roots[vm->heap.ntemp - 1] = v; }

static bool test(VM *vm, Value f, Value x, const char *who, bool *out) {
  Value r;
  return call1(vm, f, x, &r) && lib_bool_result(vm, r, who, out);
}

/* An index argument in 0..len (0..=len with allow_end). */
static bool index_arg(VM *vm, Value v, uint32_t len, bool allow_end, const char *who, uint32_t *out) {
  int64_t i;
  if (!lib_int_arg(vm, v, who, &i)) return false;
  if (i < 0 || (uint64_t)i > len || (!allow_end && (uint64_t)i == len)) {
    vm_error(vm, "%s: index %lld out of range for a list of length %u", who, (long long)i, len);
    return false;
  }
  *out = (uint32_t)i;
  return true;
}

static bool count_arg(VM *vm, Value v, const char *who, int64_t *out) {
  if (!lib_int_arg(vm, v, who, out)) return false;
  if (*out < 0) {
    vm_error(vm, "%s expects a non-negative count, got %lld", who, (long long)*out);
    return false;
  }
  return true;
}

static ObjList *copy_items(VM *vm, const Value *items, uint32_t n) {
  ObjList *l = list_new(vm, n);
  for (uint32_t i = 0; i < n; i++) list_push(vm, l, items[i]);
  return l;
}

/* ---- sorting: a stable merge sort whose comparisons may fail ---- */

typedef struct {
  Value key, val;
} Pair;

typedef struct {
  VM *vm;
  Value cmp; /* UNDEF: natural order of the keys */
} SortCtx;

static bool sort_less(SortCtx *c, const Pair *x, const Pair *y, bool *out) {
  if (IS_UNDEF(c->cmp)) {
    int o;
    if (!lib_order(c->vm, x->key, y->key, &o)) return false;
    *out = o < 0;
    return true;
  }
  Value r;
  if (!call2(c->vm, c->cmp, x->val, y->val, &r)) return false;
  if (IS_BOOL(r)) *out = r.as.b;
  else if (IS_INT(r)) *out = r.as.i < 0;
  else if (IS_FLOAT(r)) *out = r.as.f < 0;
  else {
    vm_error(c->vm, "a sort comparator must return an int or a bool, got %s", value_type_name(r));
    return false;
  }
  return true;
}

static bool merge_sort(SortCtx *c, Pair *a, Pair *tmp, size_t n) {
  if (n <= 12) {
    for (size_t i = 1; i < n; i++) {
      for (size_t j = i; j > 0; j--) {
        bool lt;
        if (!sort_less(c, &a[j], &a[j - 1], &lt)) return false;
        if (!lt) break;
        Pair t = a[j];
        a[j] = a[j - 1];
        a[j - 1] = t;
      }
    }
    return true;
  }
  size_t mid = n / 2;
  if (!merge_sort(c, a, tmp, mid) || !merge_sort(c, a + mid, tmp, n - mid)) return false;
  bool lt;
  if (!sort_less(c, &a[mid], &a[mid - 1], &lt)) return false;
  if (!lt) return true; /* already in order */
  memcpy(tmp, a, mid * sizeof *a);
  size_t i = 0, j = mid, k = 0;
  while (i < mid && j < n) {
    if (!sort_less(c, &a[j], &tmp[i], &lt)) return false;
    a[k++] = lt ? a[j++] : tmp[i++];
  }
  while (i < mid) a[k++] = tmp[i++];
  return true;
}

bool lib_sort(VM *vm, ObjList *l, Value cmp, bool by_key) {
  uint32_t n = l->len;
  if (n < 2) return true;
  Pair *a = malloc(sizeof(Pair) * n), *tmp = malloc(sizeof(Pair) * (n / 2 + 1));
  if (!a || !tmp) {
    free(a);
    free(tmp);
    return vm_error(vm, "out of memory");
  }
  bool ok = true;
  ObjList *keys = by_key ? list_new(vm, n) : NULL;
  if (keys) vm_push_root(vm, OBJ_VAL(keys));
  for (uint32_t i = 0; i < n && ok; i++) {
    a[i].val = l->items[i];
    a[i].key = l->items[i];
    if (by_key && (ok = call1(vm, cmp, l->items[i], &a[i].key))) list_push(vm, keys, a[i].key);
  }
  SortCtx c = {vm, by_key ? UNDEF_VAL : cmp};
  ok = ok && merge_sort(&c, a, tmp, n);
  if (keys) vm_pop_root(vm, 1);
  if (ok && l->len != n) ok = vm_error(vm, "the list was changed while it was being sorted");
  if (ok)
    for (uint32_t i = 0; i < n; i++) l->items[i] = a[i].val;
  free(a);
  free(tmp);
  return ok;
}

/* ---- list methods ---- */

static bool l_len(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(SELF(a)->len);
  return true;
}

static bool l_is_empty(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = BOOL_VAL(SELF(a)->len == 0);
  return true;
}

static bool l_push(VM *vm, Value *a, int n, Value *out) {
  for (int i = 1; i < n; i++) list_push(vm, SELF(a), a[i]);
  *out = UNIT_VAL;
  return true;
}

static bool l_pop(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  if (l->len == 0) return lib_none(vm, out);
  return lib_some(vm, l->items[--l->len], out);
}

static bool l_insert(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  uint32_t i;
  if (!index_arg(vm, a[1], l->len, true, "insert", &i)) return false;
  list_push(vm, l, UNIT_VAL);
  memmove(l->items + i + 1, l->items + i, sizeof(Value) * (l->len - 1 - i));
  l->items[i] = a[2];
  *out = UNIT_VAL;
  return true;
}

static bool l_remove(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  uint32_t i;
  if (!index_arg(vm, a[1], l->len, false, "remove", &i)) return false;
  *out = l->items[i];
  memmove(l->items + i, l->items + i + 1, sizeof(Value) * (l->len - 1 - i));
  l->len--;
  return true;
}

static bool l_swap_remove(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  uint32_t i;
  if (!index_arg(vm, a[1], l->len, false, "swap_remove", &i)) return false;
  *out = l->items[i];
  l->items[i] = l->items[--l->len];
  return true;
}

static bool l_clear(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  SELF(a)->len = 0;
  *out = UNIT_VAL;
  return true;
}

static bool l_truncate(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t k;
  if (!count_arg(vm, a[1], "truncate", &k)) return false;
  if ((uint64_t)k < SELF(a)->len) SELF(a)->len = (uint32_t)k;
  *out = UNIT_VAL;
  return true;
}

static bool l_fill(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  for (uint32_t i = 0; i < SELF(a)->len; i++) SELF(a)->items[i] = a[1];
  *out = UNIT_VAL;
  return true;
}

static bool l_contains(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  ObjList *l = SELF(a);
  bool found = false;
  for (uint32_t i = 0; i < l->len && !found; i++) found = value_equal(l->items[i], a[1]);
  *out = BOOL_VAL(found);
  return true;
}

static bool l_index_of(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++)
    if (value_equal(l->items[i], a[1])) return lib_some(vm, INT_VAL(i), out);
  return lib_none(vm, out);
}

static bool l_reverse(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0, j = l->len; i + 1 < j; i++, j--) {
    Value t = l->items[i];
    l->items[i] = l->items[j - 1];
    l->items[j - 1] = t;
  }
  *out = UNIT_VAL;
  return true;
}

static bool l_reversed(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, l->len);
  for (uint32_t i = l->len; i-- > 0;) list_push(vm, r, l->items[i]);
  *out = OBJ_VAL(r);
  return true;
}

static bool l_sort(VM *vm, Value *a, int n, Value *out) {
  *out = UNIT_VAL;
  return lib_sort(vm, SELF(a), n > 1 ? a[1] : UNDEF_VAL, false);
}

static bool l_sort_by_key(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = UNIT_VAL;
  return lib_sort(vm, SELF(a), a[1], true);
}

static bool l_sorted(VM *vm, Value *a, int n, Value *out) {
  ObjList *l = copy_items(vm, SELF(a)->items, SELF(a)->len);
  *out = OBJ_VAL(l);
  vm_push_root(vm, *out);
  bool ok = lib_sort(vm, l, n > 1 ? a[1] : UNDEF_VAL, false);
  vm_pop_root(vm, 1);
  return ok;
}

static bool l_map(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, l->len);
  *out = OBJ_VAL(r);
  vm_push_root(vm, *out);
  bool ok = true;
  for (uint32_t i = 0; i < l->len && ok; i++) {
    Value v;
    if ((ok = call1(vm, a[1], l->items[i], &v))) list_push(vm, r, v);
  }
  vm_pop_root(vm, 1);
  return ok;
}

static bool l_filter(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, 0);
  *out = OBJ_VAL(r);
  vm_push_root(vm, *out);
  bool ok = true;
  for (uint32_t i = 0; i < l->len && ok; i++) {
    Value x = l->items[i];
    bool keep = false;
    if ((ok = test(vm, a[1], x, "filter", &keep)) && keep) list_push(vm, r, x);
  }
  vm_pop_root(vm, 1);
  return ok;
}

static bool l_retain(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  uint32_t k = 0;
  for (uint32_t i = 0; i < l->len; i++) {
    Value x = l->items[i];
    bool keep;
    if (!test(vm, a[1], x, "retain", &keep)) return false;
    if (keep) l->items[k++] = x;
  }
  l->len = k;
  *out = UNIT_VAL;
  return true;
}

static bool l_fold(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  Value acc = a[1];
  bool ok = true;
  vm_push_root(vm, acc);
  for (uint32_t i = 0; i < l->len && ok; i++) {
    ok = call2(vm, a[2], acc, l->items[i], &acc);
    set_root(vm, acc);
  }
  vm_pop_root(vm, 1);
  *out = acc;
  return ok;
}

static bool l_reduce(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  if (l->len == 0) return lib_none(vm, out);
  Value acc = l->items[0];
  bool ok = true;
  vm_push_root(vm, acc);
  for (uint32_t i = 1; i < l->len && ok; i++) {
    ok = call2(vm, a[1], acc, l->items[i], &acc);
    set_root(vm, acc);
  }
  vm_pop_root(vm, 1);
  return ok && lib_some(vm, acc, out);
}

static bool l_for_each(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++) {
    Value ignored;
    if (!call1(vm, a[1], l->items[i], &ignored)) return false;
  }
  *out = UNIT_VAL;
  return true;
}

static bool l_sum(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_unary(vm, AOP_SUM, a[0], out);
}

static bool l_prod(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_unary(vm, AOP_PROD, a[0], out);
}

static bool l_mean(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (SELF(a)->len == 0) return vm_error(vm, "mean of an empty list");
  Value s;
  if (!arith_unary(vm, AOP_SUM, a[0], &s)) return false;
  return arith_binary(vm, AOP_DIV, s, FLOAT_VAL((double)SELF(a)->len), out);
}

/* Index of the first smallest (want = -1) or largest (want = 1) key. */
static bool extreme_index(VM *vm, ObjList *l, Value key_fn, int want, const char *who, uint32_t *at,
                          Value *best_out) {
  if (l->len == 0) {
    vm_error(vm, "%s of an empty list", who);
    return false;
  }
  Value best = l->items[0];
  if (!IS_UNDEF(key_fn) && !call1(vm, key_fn, best, &best)) return false;
  *at = 0;
  bool ok = true;
  vm_push_root(vm, best);
  for (uint32_t i = 1; i < l->len && ok; i++) {
    Value k = l->items[i];
    int c = 0;
    ok = (IS_UNDEF(key_fn) || call1(vm, key_fn, k, &k)) && lib_order(vm, k, best, &c);
    /* max_by_key keeps the last maximum, as Rust does; others the first */
    if (ok && (c == want || (c == 0 && want > 0 && !IS_UNDEF(key_fn)))) {
      best = k;
      set_root(vm, best);
      *at = i;
    }
  }
  vm_pop_root(vm, 1);
  if (ok && best_out) *best_out = best;
  return ok;
}

static bool l_min(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), UNDEF_VAL, -1, "min", &at, NULL)) return false;
  *out = SELF(a)->items[at];
  return true;
}

static bool l_max(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), UNDEF_VAL, 1, "max", &at, NULL)) return false;
  *out = SELF(a)->items[at];
  return true;
}

static bool l_min_by_key(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), a[1], -1, "min_by_key", &at, NULL)) return false;
  *out = SELF(a)->items[at];
  return true;
}

static bool l_max_by_key(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), a[1], 1, "max_by_key", &at, NULL)) return false;
  *out = SELF(a)->items[at];
  return true;
}

static bool l_argmin(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), UNDEF_VAL, -1, "argmin", &at, NULL)) return false;
  *out = INT_VAL(at);
  return true;
}

static bool l_argmax(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  uint32_t at;
  if (!extreme_index(vm, SELF(a), UNDEF_VAL, 1, "argmax", &at, NULL)) return false;
  *out = INT_VAL(at);
  return true;
}

static bool l_any(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++) {
    bool t;
    if (!test(vm, a[1], l->items[i], "any", &t)) return false;
    if (t) {
      *out = BOOL_VAL(true);
      return true;
    }
  }
  *out = BOOL_VAL(false);
  return true;
}

static bool l_all(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++) {
    bool t;
    if (!test(vm, a[1], l->items[i], "all", &t)) return false;
    if (!t) {
      *out = BOOL_VAL(false);
      return true;
    }
  }
  *out = BOOL_VAL(true);
  return true;
}

static bool l_count(VM *vm, Value *a, int n, Value *out) {
  ObjList *l = SELF(a);
  if (n < 2) {
    *out = INT_VAL(l->len);
    return true;
  }
  int64_t k = 0;
  for (uint32_t i = 0; i < l->len; i++) {
    bool t;
    if (!test(vm, a[1], l->items[i], "count", &t)) return false;
    k += t;
  }
  *out = INT_VAL(k);
  return true;
}

static bool l_position(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++) {
    bool t;
    if (!test(vm, a[1], l->items[i], "position", &t)) return false;
    if (t) return lib_some(vm, INT_VAL(i), out);
  }
  return lib_none(vm, out);
}

static bool l_find(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 0; i < l->len; i++) {
    bool t;
    Value x = l->items[i];
    if (!test(vm, a[1], x, "find", &t)) return false;
    if (t) return lib_some(vm, x, out);
  }
  return lib_none(vm, out);
}

static bool l_self(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = a[0];
  return true;
}

static bool l_collect(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = OBJ_VAL(copy_items(vm, SELF(a)->items, SELF(a)->len));
  return true;
}

static bool l_enumerate(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, l->len);
  for (uint32_t i = 0; i < l->len; i++) {
    ObjTuple *t = tuple_new(vm, 2);
    t->items[0] = INT_VAL(i);
    t->items[1] = l->items[i];
    list_push(vm, r, OBJ_VAL(t));
  }
  *out = OBJ_VAL(r);
  return true;
}

static bool l_zip(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *o;
  if (!lib_to_list(vm, a[1], "zip", &o)) return false;
  uint32_t len = l->len < o->len ? l->len : o->len;
  ObjList *r = list_new(vm, len);
  for (uint32_t i = 0; i < len; i++) {
    ObjTuple *t = tuple_new(vm, 2);
    t->items[0] = l->items[i];
    t->items[1] = o->items[i];
    list_push(vm, r, OBJ_VAL(t));
  }
  *out = OBJ_VAL(r);
  return true;
}

static bool l_first(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return SELF(a)->len ? lib_some(vm, SELF(a)->items[0], out) : lib_none(vm, out);
}

static bool l_last(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  return l->len ? lib_some(vm, l->items[l->len - 1], out) : lib_none(vm, out);
}

static bool l_get(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t i;
  if (!lib_int_arg(vm, a[1], "get", &i)) return false;
  if (i < 0 || (uint64_t)i >= SELF(a)->len) return lib_none(vm, out);
  return lib_some(vm, SELF(a)->items[i], out);
}

static bool l_join(VM *vm, Value *a, int n, Value *out) {
  ObjString *sep = NULL;
  if (n > 1 && !lib_str_arg(vm, a[1], "join", &sep)) return false;
  ObjList *l = SELF(a);
  StrBuf sb = {0};
  for (uint32_t i = 0; i < l->len; i++) {
    if (i && sep) strbuf_add(&sb, sep->chars, sep->len);
    if (!format_append(vm, &sb, l->items[i], false)) {
      strbuf_free(&sb);
      return false;
    }
  }
  ObjString *s = strbuf_finish(vm, &sb);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

static bool l_extend(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *src;
  if (!lib_to_list(vm, a[1], "extend", &src)) return false;
  uint32_t len = src->len; /* extending a list with itself doubles it once */
  for (uint32_t i = 0; i < len; i++) list_push(vm, l, src->items[i]);
  *out = UNIT_VAL;
  return true;
}

static bool l_concat(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *src;
  if (!lib_to_list(vm, a[1], "concat", &src)) return false;
  ObjList *r = copy_items(vm, SELF(a)->items, SELF(a)->len);
  for (uint32_t i = 0; i < src->len; i++) list_push(vm, r, src->items[i]);
  *out = OBJ_VAL(r);
  return true;
}

static bool l_slice(VM *vm, Value *a, int n, Value *out) {
  ObjList *l = SELF(a);
  uint32_t lo, hi = l->len;
  if (!index_arg(vm, a[1], l->len, true, "slice", &lo)) return false;
  if (n > 2 && !index_arg(vm, a[2], l->len, true, "slice", &hi)) return false;
  if (hi < lo) return vm_error(vm, "slice: start %u is after end %u", lo, hi);
  *out = OBJ_VAL(copy_items(vm, l->items + lo, hi - lo));
  return true;
}

static bool l_take(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t k;
  if (!count_arg(vm, a[1], "take", &k)) return false;
  uint32_t len = (uint64_t)k < SELF(a)->len ? (uint32_t)k : SELF(a)->len;
  *out = OBJ_VAL(copy_items(vm, SELF(a)->items, len));
  return true;
}

static bool l_skip(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t k;
  if (!count_arg(vm, a[1], "skip", &k)) return false;
  uint32_t from = (uint64_t)k < SELF(a)->len ? (uint32_t)k : SELF(a)->len;
  *out = OBJ_VAL(copy_items(vm, SELF(a)->items + from, SELF(a)->len - from));
  return true;
}

static bool l_step_by(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t k;
  if (!lib_int_arg(vm, a[1], "step_by", &k)) return false;
  if (k <= 0) return vm_error(vm, "step_by expects a positive step, got %lld", (long long)k);
  ObjList *l = SELF(a), *r = list_new(vm, 0);
  for (uint64_t i = 0; i < l->len; i += (uint64_t)k) list_push(vm, r, l->items[i]);
  *out = OBJ_VAL(r);
  return true;
}

static bool l_swap(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  uint32_t i, j;
  if (!index_arg(vm, a[1], l->len, false, "swap", &i) || !index_arg(vm, a[2], l->len, false, "swap", &j))
    return false;
  Value t = l->items[i];
  l->items[i] = l->items[j];
  l->items[j] = t;
  *out = UNIT_VAL;
  return true;
}

static bool l_dedup(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  ObjList *l = SELF(a);
  uint32_t k = 0;
  for (uint32_t i = 0; i < l->len; i++)
    if (k == 0 || !value_equal(l->items[k - 1], l->items[i])) l->items[k++] = l->items[i];
  l->len = k;
  *out = UNIT_VAL;
  return true;
}

/* Append the elements of x (a list, tuple or range) to r, or x itself. */
static bool push_flat(VM *vm, ObjList *r, Value x, const char *who) {
  if (IS_LIST(x) || IS_TUPLE(x) || IS_OBJ_TYPE(x, OBJ_RANGE)) {
    ObjList *inner;
    if (!lib_to_list(vm, x, who, &inner)) return false;
    for (uint32_t j = 0; j < inner->len; j++) list_push(vm, r, inner->items[j]);
    return true;
  }
  return vm_error(vm, "%s expects lists of lists, got an element of type %s", who, value_type_name(x));
}

static bool l_flatten(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, l->len);
  *out = OBJ_VAL(r);
  for (uint32_t i = 0; i < l->len; i++)
    if (!push_flat(vm, r, l->items[i], "flatten")) return false;
  return true;
}

static bool l_flat_map(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a), *r = list_new(vm, l->len);
  *out = OBJ_VAL(r);
  vm_push_root(vm, *out);
  bool ok = true;
  for (uint32_t i = 0; i < l->len && ok; i++) {
    Value v;
    ok = call1(vm, a[1], l->items[i], &v) && push_flat(vm, r, v, "flat_map");
  }
  vm_pop_root(vm, 1);
  return ok;
}

/* chunks(k): consecutive pieces of k (the last may be shorter);
 * windows(k): every run of k neighbours. */
static bool pieces(VM *vm, Value *a, Value *out, bool windows) {
  const char *who = windows ? "windows" : "chunks";
  int64_t k;
  if (!lib_int_arg(vm, a[1], who, &k)) return false;
  if (k <= 0) return vm_error(vm, "%s expects a positive size, got %lld", who, (long long)k);
  ObjList *l = SELF(a), *r = list_new(vm, 0);
  uint64_t len = l->len;
  if (windows) {
    for (uint64_t i = 0; i + (uint64_t)k <= len; i++)
      list_push(vm, r, OBJ_VAL(copy_items(vm, l->items + i, (uint32_t)k)));
  } else {
    for (uint64_t i = 0; i < len; i += (uint64_t)k) {
      uint64_t m = len - i < (uint64_t)k ? len - i : (uint64_t)k;
      list_push(vm, r, OBJ_VAL(copy_items(vm, l->items + i, (uint32_t)m)));
    }
  }
  *out = OBJ_VAL(r);
  return true;
}

static bool l_chunks(VM *vm, Value *a, int n, Value *out) { (void)n; return pieces(vm, a, out, false); }
static bool l_windows(VM *vm, Value *a, int n, Value *out) { (void)n; return pieces(vm, a, out, true); }

static bool l_repeat(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_MUL, a[0], a[1], out);
}

static bool l_dot(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_DOT, a[0], a[1], out);
}

static bool l_is_sorted(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l = SELF(a);
  for (uint32_t i = 1; i < l->len; i++) {
    int c;
    if (!lib_order(vm, l->items[i - 1], l->items[i], &c)) return false;
    if (c > 0) {
      *out = BOOL_VAL(false);
      return true;
    }
  }
  *out = BOOL_VAL(true);
  return true;
}

/* Vec::new(), Vec::with_capacity(n), Vec::from(iterable) */
static bool l_new(VM *vm, Value *a, int n, Value *out) {
  (void)a, (void)n;
  *out = OBJ_VAL(list_new(vm, 0));
  return true;
}

static bool l_with_capacity(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t cap;
  if (!count_arg(vm, a[0], "with_capacity", &cap)) return false;
  *out = OBJ_VAL(list_new(vm, cap > (1 << 24) ? (1 << 24) : (uint32_t)cap));
  return true;
}

static bool l_from(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *src;
  if (!lib_to_list(vm, a[0], "Vec::from", &src)) return false;
  *out = OBJ_VAL(IS_LIST(a[0]) ? copy_items(vm, src->items, src->len) : src);
  return true;
}

typedef struct {
  const char *name;
  NativeFn fn;
  int min, max;
} MethodDef;

static const MethodDef list_methods[] = {
  {"len", l_len, 1, 1},           {"is_empty", l_is_empty, 1, 1},
  {"push", l_push, 2, -1},        {"append", l_push, 2, 2},
  {"pop", l_pop, 1, 1},           {"insert", l_insert, 3, 3},
  {"remove", l_remove, 2, 2},     {"swap_remove", l_swap_remove, 2, 2},
  {"clear", l_clear, 1, 1},       {"truncate", l_truncate, 2, 2},
  {"fill", l_fill, 2, 2},         {"contains", l_contains, 2, 2},
  {"index_of", l_index_of, 2, 2}, {"reverse", l_reverse, 1, 1},
  {"reversed", l_reversed, 1, 1}, {"rev", l_reversed, 1, 1},
  {"sort", l_sort, 1, 2},         {"sort_by", l_sort, 2, 2},
  {"sort_unstable", l_sort, 1, 2}, {"sort_unstable_by", l_sort, 2, 2},
  {"sort_by_key", l_sort_by_key, 2, 2}, {"sorted", l_sorted, 1, 2},
  {"map", l_map, 2, 2},           {"filter", l_filter, 2, 2},
  {"retain", l_retain, 2, 2},     {"fold", l_fold, 3, 3},
  {"reduce", l_reduce, 2, 2},     {"for_each", l_for_each, 2, 2},
  {"sum", l_sum, 1, 1},           {"prod", l_prod, 1, 1},
  {"product", l_prod, 1, 1},      {"mean", l_mean, 1, 1},
  {"min", l_min, 1, 1},           {"max", l_max, 1, 1},
  {"min_by_key", l_min_by_key, 2, 2}, {"max_by_key", l_max_by_key, 2, 2},
  {"argmin", l_argmin, 1, 1},     {"argmax", l_argmax, 1, 1},
  {"any", l_any, 2, 2},           {"all", l_all, 2, 2},
  {"count", l_count, 1, 2},       {"position", l_position, 2, 2},
  {"find", l_find, 2, 2},         {"iter", l_self, 1, 1},
  {"into_iter", l_self, 1, 1},    {"iter_mut", l_self, 1, 1},
  {"collect", l_collect, 1, 1},   {"to_vec", l_collect, 1, 1},
  {"to_list", l_collect, 1, 1},   {"cloned", l_collect, 1, 1},
  {"copied", l_collect, 1, 1},    {"enumerate", l_enumerate, 1, 1},
  {"zip", l_zip, 2, 2},           {"first", l_first, 1, 1},
  {"last", l_last, 1, 1},         {"get", l_get, 2, 2},
  {"join", l_join, 1, 2},         {"extend", l_extend, 2, 2},
  {"concat", l_concat, 2, 2},     {"slice", l_slice, 2, 3},
  {"take", l_take, 2, 2},         {"skip", l_skip, 2, 2},
  {"step_by", l_step_by, 2, 2},   {"swap", l_swap, 3, 3},
  {"dedup", l_dedup, 1, 1},       {"flatten", l_flatten, 1, 1},
  {"flat_map", l_flat_map, 2, 2}, {"chunks", l_chunks, 2, 2},
  {"windows", l_windows, 2, 2},   {"repeat", l_repeat, 2, 2},
  {"dot", l_dot, 2, 2},           {"is_sorted", l_is_sorted, 1, 1},
  {"new", l_new, 0, 0},           {"with_capacity", l_with_capacity, 1, 1},
  {"from", l_from, 1, 1},
};

/* ---- tuples and ranges: read-only methods answered on their elements ---- */

/* Forwarders that list the receiver's elements, then run the list method. */
#define VIA_LIST(name)                                                   \
  static bool v_##name(VM *vm, Value *a, int n, Value *out) {            \
    Value args[4];                                                       \
    ObjList *l;                                                          \
    if (!lib_to_list(vm, a[0], #name, &l)) return false;                 \
    args[0] = OBJ_VAL(l);                                                \
    for (int i = 1; i < n && i < 4; i++) args[i] = a[i];                 \
    vm_push_root(vm, args[0]);                                           \
    bool ok = l_##name(vm, args, n, out);                                \
    vm_pop_root(vm, 1);                                                  \
    return ok;                                                           \
  }

VIA_LIST(map) VIA_LIST(filter) VIA_LIST(fold) VIA_LIST(reduce) VIA_LIST(for_each)
VIA_LIST(prod) VIA_LIST(mean) VIA_LIST(min) VIA_LIST(max) VIA_LIST(min_by_key)
VIA_LIST(max_by_key) VIA_LIST(argmin) VIA_LIST(argmax) VIA_LIST(any) VIA_LIST(all)
VIA_LIST(count) VIA_LIST(position) VIA_LIST(find) VIA_LIST(enumerate) VIA_LIST(zip)
VIA_LIST(first) VIA_LIST(last) VIA_LIST(get) VIA_LIST(join) VIA_LIST(take) VIA_LIST(skip)
VIA_LIST(flat_map) VIA_LIST(chunks) VIA_LIST(windows) VIA_LIST(reversed) VIA_LIST(sorted)
VIA_LIST(index_of) VIA_LIST(sum) VIA_LIST(contains)

static bool v_to_list(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjList *l;
  if (!lib_to_list(vm, a[0], "to_list", &l)) return false;
  *out = OBJ_VAL(l);
  return true;
}

static const MethodDef seq_methods[] = {
  {"map", v_map, 2, 2},           {"filter", v_filter, 2, 2},
  {"fold", v_fold, 3, 3},         {"reduce", v_reduce, 2, 2},
  {"for_each", v_for_each, 2, 2}, {"prod", v_prod, 1, 1},
  {"product", v_prod, 1, 1},      {"mean", v_mean, 1, 1},
  {"min", v_min, 1, 1},           {"max", v_max, 1, 1},
  {"min_by_key", v_min_by_key, 2, 2}, {"max_by_key", v_max_by_key, 2, 2},
  {"argmin", v_argmin, 1, 1},     {"argmax", v_argmax, 1, 1},
  {"any", v_any, 2, 2},           {"all", v_all, 2, 2},
  {"count", v_count, 1, 2},       {"position", v_position, 2, 2},
  {"find", v_find, 2, 2},         {"enumerate", v_enumerate, 1, 1},
  {"zip", v_zip, 2, 2},           {"first", v_first, 1, 1},
  {"last", v_last, 1, 1},         {"get", v_get, 2, 2},
  {"join", v_join, 1, 2},         {"take", v_take, 2, 2},
  {"skip", v_skip, 2, 2},         {"flat_map", v_flat_map, 2, 2},
  {"chunks", v_chunks, 2, 2},     {"windows", v_windows, 2, 2},
  {"reversed", v_reversed, 1, 1}, {"rev", v_reversed, 1, 1},
  {"sorted", v_sorted, 1, 2},     {"index_of", v_index_of, 2, 2},
  {"sum", v_sum, 1, 1},           {"contains", v_contains, 2, 2},
  {"to_list", v_to_list, 1, 1},   {"to_vec", v_to_list, 1, 1},
  {"collect", v_to_list, 1, 1},
};

static bool t_len(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(AS_TUPLE(a[0])->len);
  return true;
}

static bool t_is_empty(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = BOOL_VAL(AS_TUPLE(a[0])->len == 0);
  return true;
}

static bool r_bounded(VM *vm, ObjRange *r, const char *who) {
  if ((r->flags & (RANGE_HAS_LO | RANGE_HAS_HI)) != (RANGE_HAS_LO | RANGE_HAS_HI))
    return vm_error(vm, "%s of an unbounded range", who);
  return true;
}

static bool r_len(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t len = 0;
  if (!range_len(vm, AS_RANGE(a[0]), "len", &len)) return false;
  *out = INT_VAL(len);
  return true;
}

static bool r_is_empty(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjRange *r = AS_RANGE(a[0]);
  if (!r_bounded(vm, r, "is_empty")) return false;
  *out = BOOL_VAL(range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE) == 0);
  return true;
}

static bool r_contains(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_IN, a[1], a[0], out);
}

static bool r_sum(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_unary(vm, AOP_SUM, a[0], out);
}

static bool r_step_by(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjRange *r = AS_RANGE(a[0]);
  int64_t k, step;
  if (!lib_int_arg(vm, a[1], "step_by", &k)) return false;
  if (k <= 0) return vm_error(vm, "step_by expects a positive step, got %lld", (long long)k);
  if (__builtin_mul_overflow(r->step ? r->step : 1, k, &step))
    return vm_error(vm, "integer overflow in `step_by`");
  *out = OBJ_VAL(range_new(vm, r->lo, r->hi, step, r->flags | RANGE_HAS_STEP));
  return true;
}

/* The same elements backwards: last ..= lo stepping by -step. */
static bool r_rev(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjRange *r = AS_RANGE(a[0]);
  if (!r_bounded(vm, r, "rev")) return false;
  unsigned __int128 len = range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE);
  int64_t step = r->step ? r->step : 1;
  if (len == 0 || step == INT64_MIN) {
    ObjList *l;
    if (!lib_to_list(vm, a[0], "rev", &l)) return false;
    return l_reversed(vm, (Value[]){OBJ_VAL(l)}, 1, out);
  }
  *out = OBJ_VAL(range_new(vm, range_at(r, (uint64_t)(len - 1)), r->lo, -step,
                           RANGE_HAS_LO | RANGE_HAS_HI | RANGE_INCLUSIVE | RANGE_HAS_STEP));
  return true;
}

static bool r_start(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(AS_RANGE(a[0])->lo);
  return true;
}

static bool r_end(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(AS_RANGE(a[0])->hi);
  return true;
}

static void add_methods(VM *vm, ObjClass *c, const MethodDef *m, size_t n) {
  for (size_t i = 0; i < n; i++) lib_method(vm, c, m[i].name, m[i].fn, m[i].min, m[i].max);
}

#define ADD_METHODS(vm, cls, table) add_methods(vm, cls, table, sizeof table / sizeof table[0])

void lib_list_init(VM *vm) {
  ObjClass *list = lib_class(vm, "list");
  ObjClass *tuple = lib_class(vm, "tuple");
  ObjClass *range = lib_class(vm, "range");
  vm->class_of_obj[OBJ_LIST] = list;
  vm->class_of_obj[OBJ_TUPLE] = tuple;
  vm->class_of_obj[OBJ_RANGE] = range;
  lib_add_common(vm, list);
  lib_add_common(vm, tuple);
  lib_add_common(vm, range);
  ADD_METHODS(vm, list, list_methods);

  ADD_METHODS(vm, tuple, seq_methods);
  static const MethodDef tuple_methods[] = {
    {"len", t_len, 1, 1},          {"is_empty", t_is_empty, 1, 1},
    {"iter", v_to_list, 1, 1},     {"into_iter", v_to_list, 1, 1},
  };
  ADD_METHODS(vm, tuple, tuple_methods);

  ADD_METHODS(vm, range, seq_methods);
  static const MethodDef range_methods[] = {
    {"len", r_len, 1, 1},           {"is_empty", r_is_empty, 1, 1},
    {"contains", r_contains, 2, 2}, {"sum", r_sum, 1, 1},
    {"step_by", r_step_by, 2, 2},   {"rev", r_rev, 1, 1},
    {"iter", l_self, 1, 1},
    {"into_iter", l_self, 1, 1},    {"start", r_start, 1, 1},
    {"end", r_end, 1, 1},
  };
  ADD_METHODS(vm, range, range_methods);
}
