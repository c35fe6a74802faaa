/* The slow path of the operators: every type combination the VM's inline
 * int/float cases leave out. Ints are checked for overflow; ints mixed with
 * floats give floats; complex numbers mix with both. Lists of numbers act as
 * vectors and lists of equal-length lists as matrices for ⊙ ⊗ ⋅. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "numeric.h"
#include "strbuf.h"
#include "tensor.h"
#include "units.h"
#include "utf8.h"
#include "num_complex.h"
#include "vm.h"

/* These error functions return false explicitly (not vm_error's result) so the
 * compiler can see outputs are never read after them. */
static bool type_error2(VM *vm, ArithOp op, Value a, Value b) {
  vm_error(vm, "cannot apply `%s` to %s and %s", arith_op_name(op), value_type_name(a),
           value_type_name(b));
  return false;
}

static bool type_error1(VM *vm, ArithOp op, Value a) {
  vm_error(vm, "cannot apply `%s` to %s", arith_op_name(op), value_type_name(a));
  return false;
}

static bool overflow(VM *vm, ArithOp op) {
  vm_error(vm, "integer overflow in `%s`", arith_op_name(op));
  return false;
}

static bool is_complex(Value v) { return IS_OBJ_TYPE(v, OBJ_COMPLEX); }
static bool is_scalar(Value v) { return IS_NUM(v) || is_complex(v); }

static double complex to_complex(Value v) {
  if (is_complex(v)) return CMPLX(AS_COMPLEX(v)->re, AS_COMPLEX(v)->im);
  return CMPLX(AS_NUM(v), 0.0);
}

static Value complex_val(VM *vm, double complex z) {
  return OBJ_VAL(complex_new(vm, creal(z), cimag(z)));
}

/* ---- numbers ---- */

static bool int_arith(VM *vm, ArithOp op, int64_t x, int64_t y, Value *out) {
  int64_t r = 0;
  NumStatus st = NUM_OK;
  switch (op) {
  case AOP_ADD:
    if (__builtin_add_overflow(x, y, &r)) return overflow(vm, op);
    break;
  case AOP_SUB:
    if (__builtin_sub_overflow(x, y, &r)) return overflow(vm, op);
    break;
  case AOP_MUL:
  case AOP_DOT:
  case AOP_MATMUL:
  case AOP_OUTER:
    if (__builtin_mul_overflow(x, y, &r)) return overflow(vm, AOP_MUL);
    break;
  case AOP_DIV: st = num_int_div(x, y, &r); break;
  case AOP_MOD: st = num_int_mod(x, y, &r); break;
  case AOP_POW:
    if (y < 0) {
      *out = FLOAT_VAL(num_int_pow_neg(x, y));
      return true;
    }
    st = num_int_pow(x, y, &r);
    break;
  case AOP_BITAND: r = x & y; break;
  case AOP_BITOR: r = x | y; break;
  case AOP_SHL: st = num_int_shl(x, y, &r); break;
  case AOP_SHR: st = num_int_shr(x, y, &r); break;
  default: return type_error2(vm, op, INT_VAL(x), INT_VAL(y));
  }
  switch (st) {
  case NUM_OK: break;
  case NUM_OVERFLOW: return overflow(vm, op);
  case NUM_DIV_ZERO: return vm_error(vm, "division by zero");
  case NUM_BAD_SHIFT: return vm_error(vm, "shift by %lld is out of range 0..64", (long long)y);
  }
  *out = INT_VAL(r);
  return true;
}

static bool float_arith(VM *vm, ArithOp op, double x, double y, Value *out, Value a, Value b) {
  double r;
  switch (op) {
  case AOP_ADD: r = x + y; break;
  case AOP_SUB: r = x - y; break;
  case AOP_MUL:
  case AOP_DOT:
  case AOP_MATMUL:
  case AOP_OUTER: r = x * y; break;
  case AOP_DIV: r = x / y; break;
  case AOP_MOD: r = num_float_mod(x, y); break;
  case AOP_POW: r = pow(x, y); break;
  default: return type_error2(vm, op, a, b);
  }
  *out = FLOAT_VAL(r);
  return true;
}

static bool complex_arith(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  double complex x = to_complex(a), y = to_complex(b), r;
  switch (op) {
  case AOP_ADD: r = x + y; break;
  case AOP_SUB: r = x - y; break;
  case AOP_MUL:
  case AOP_DOT:
  case AOP_MATMUL:
  case AOP_OUTER: r = x * y; break;
  case AOP_DIV: r = x / y; break;
  case AOP_POW:
    if (IS_INT(b) && llabs(b.as.i) <= (1 << 20))
      r = num_cpow_int(x, b.as.i);
    else if (IS_FLOAT(b) && b.as.f == floor(b.as.f) && fabs(b.as.f) <= (1 << 20))
      r = num_cpow_int(x, (int64_t)b.as.f);
    else if (y == 0)
      r = 1.0;
    else
      r = cpow(x, y);
    break;
  default: return type_error2(vm, op, a, b);
  }
  *out = complex_val(vm, r);
  return true;
}

/* Containers nested deeper than this (a list that contains itself) are not
 * approximately equal and cannot be ordered. */
#define NEST_LIMIT 10000

static bool approx(Value a, Value b, bool *ok, int depth) {
  if (IS_NUM(a) && IS_NUM(b)) return num_approx(AS_NUM(a), AS_NUM(b));
  if (is_scalar(a) && is_scalar(b)) {
    double complex x = to_complex(a), y = to_complex(b);
    return x == y || num_near(cabs(x - y), fmax(cabs(x), cabs(y)));
  }
  const Value *xs, *ys;
  uint32_t nx, ny;
  if (IS_LIST(a) && IS_LIST(b)) {
    xs = AS_LIST(a)->items, nx = AS_LIST(a)->len;
    ys = AS_LIST(b)->items, ny = AS_LIST(b)->len;
  } else if (IS_TUPLE(a) && IS_TUPLE(b)) {
    xs = AS_TUPLE(a)->items, nx = AS_TUPLE(a)->len;
    ys = AS_TUPLE(b)->items, ny = AS_TUPLE(b)->len;
  } else {
    *ok = false;
    return false;
  }
  if (nx != ny || depth > NEST_LIMIT) return false;
  for (uint32_t i = 0; i < nx; i++) {
    bool inner = true;
    bool r = approx(xs[i], ys[i], &inner, depth + 1);
    if (!inner) r = value_equal(xs[i], ys[i]);
    if (!r) return false;
  }
  return true;
}

/* ---- strings and lists ---- */

static const char *find_bytes(const char *h, size_t hn, const char *n, size_t nn) {
  if (nn == 0) return h;
  if (nn > hn) return NULL;
  for (size_t i = 0; i + nn <= hn; i++)
    if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
  return NULL;
}

static bool concat(VM *vm, const char *x, size_t nx, const char *y, size_t ny, Value *out) {
  StrBuf sb = {0};
  strbuf_add(&sb, x, nx);
  strbuf_add(&sb, y, ny);
  ObjString *s = strbuf_finish(vm, &sb);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

static bool repeat_count(VM *vm, int64_t n, uint64_t unit, const char *what) {
  if (n < 0) return vm_error(vm, "cannot repeat a %s a negative number of times (%lld)", what,
                             (long long)n);
  if (unit && (uint64_t)n > (uint64_t)UINT32_MAX / unit)
    return vm_error(vm, "out of memory: repeating a %s %lld times", what, (long long)n);
  return true;
}

static bool string_repeat(VM *vm, ObjString *s, int64_t n, Value *out) {
  if (!repeat_count(vm, n, s->len, "string")) return false;
  StrBuf sb = {0};
  for (int64_t i = 0; i < n; i++) strbuf_add(&sb, s->chars, s->len);
  ObjString *r = strbuf_finish(vm, &sb);
  if (!r) return false;
  *out = OBJ_VAL(r);
  return true;
}

static bool list_repeat(VM *vm, ObjList *l, int64_t n, Value *out) {
  if (!repeat_count(vm, n, l->len, "list")) return false;
  ObjList *r = list_new(vm, (uint32_t)(l->len * n));
  for (int64_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < l->len; j++) list_push(vm, r, l->items[j]);
  *out = OBJ_VAL(r);
  return true;
}

static bool contains(VM *vm, ArithOp op, Value item, Value coll, bool *out) {
  if (IS_OBJ(coll)) {
    switch (OBJ_TYPE(coll)) {
    case OBJ_RANGE: {
      ObjRange *r = AS_RANGE(coll);
      if (!IS_NUM(item)) break;
      double x = AS_NUM(item);
      bool incl = r->flags & RANGE_INCLUSIVE;
      bool has_lo = r->flags & RANGE_HAS_LO, has_hi = r->flags & RANGE_HAS_HI;
      bool in;
      if (IS_INT(item)) { /* exactly: near the ends of the int range a double rounds */
        int64_t xi = item.as.i;
        if (r->step > 0)
          in = (!has_lo || xi >= r->lo) && (!has_hi || (incl ? xi <= r->hi : xi < r->hi));
        else
          in = (!has_lo || xi <= r->lo) && (!has_hi || (incl ? xi >= r->hi : xi > r->hi));
      } else if (r->step > 0) {
        in = (!has_lo || x >= (double)r->lo) &&
             (!has_hi || (incl ? x <= (double)r->hi : x < (double)r->hi));
      } else {
        in = (!has_lo || x <= (double)r->lo) &&
             (!has_hi || (incl ? x >= (double)r->hi : x > (double)r->hi));
      }
      if (in && r->step != 1) {
        /* a stepped range holds only lo + k*step */
        if (IS_FLOAT(item) && x != floor(x)) in = false;
        else {
          int64_t xi = IS_INT(item) ? item.as.i : (int64_t)x;
          int64_t lo = has_lo ? r->lo : 0;
          in = ((__int128)xi - lo) % r->step == 0;
        }
      }
      *out = in;
      return true;
    }
    case OBJ_LIST:
    case OBJ_TUPLE: {
      const Value *xs = IS_LIST(coll) ? AS_LIST(coll)->items : AS_TUPLE(coll)->items;
      uint32_t n = IS_LIST(coll) ? AS_LIST(coll)->len : AS_TUPLE(coll)->len;
      *out = false;
      for (uint32_t i = 0; i < n && !*out; i++) *out = value_equal(item, xs[i]);
      return true;
    }
    case OBJ_STRING: {
      ObjString *h = AS_STRING(coll);
      if (IS_STRING(item)) {
        *out = find_bytes(h->chars, h->len, AS_STRING(item)->chars, AS_STRING(item)->len) != NULL;
        return true;
      }
      if (IS_CHAR(item)) {
        char b[4];
        int n = utf8_encode(item.as.i, b);
        *out = n > 0 && find_bytes(h->chars, h->len, b, (size_t)n) != NULL;
        return true;
      }
      break;
    }
    case OBJ_MAP: {
      Value ignored;
      *out = map_get(AS_MAP(coll), item, &ignored);
      return true;
    }
    default: break;
    }
  }
  return type_error2(vm, op, item, coll);
}

/* ---- vectors and matrices (lists of numbers, lists of lists) ---- */

/* 1: a vector of *rows numbers; 2: a rows x cols matrix; 0: neither. */
static int shape_of(Value v, uint32_t *rows, uint32_t *cols) {
  if (!IS_LIST(v)) return 0;
  ObjList *l = AS_LIST(v);
  *rows = l->len;
  *cols = 0;
  if (l->len == 0) return 1;
  if (IS_LIST(l->items[0])) {
    *cols = AS_LIST(l->items[0])->len;
    for (uint32_t i = 0; i < l->len; i++) {
      if (!IS_LIST(l->items[i]) || AS_LIST(l->items[i])->len != *cols) return 0;
      ObjList *row = AS_LIST(l->items[i]);
      for (uint32_t j = 0; j < row->len; j++)
        if (!is_scalar(row->items[j])) return 0;
    }
    return 2;
  }
  for (uint32_t i = 0; i < l->len; i++)
    if (!is_scalar(l->items[i])) return 0;
  return 1;
}

static void shape_text(char *buf, size_t n, int dims, uint32_t rows, uint32_t cols) {
  if (dims == 2)
    snprintf(buf, n, "[%u, %u]", rows, cols);
  else
    snprintf(buf, n, "[%u]", rows);
}

/* acc += x * y */
static bool mul_add(VM *vm, Value *acc, Value x, Value y) {
  Value p;
  if (IS_INT(x) && IS_INT(y) && IS_INT(*acc)) {
    int64_t r;
    if (__builtin_mul_overflow(x.as.i, y.as.i, &r)) return overflow(vm, AOP_MUL);
    if (__builtin_add_overflow(acc->as.i, r, &r)) return overflow(vm, AOP_ADD);
    *acc = INT_VAL(r);
    return true;
  }
  if (IS_NUM(x) && IS_NUM(y) && IS_NUM(*acc)) {
    *acc = FLOAT_VAL(AS_NUM(*acc) + AS_NUM(x) * AS_NUM(y));
    return true;
  }
  return arith_binary(vm, AOP_MUL, x, y, &p) && arith_binary(vm, AOP_ADD, *acc, p, acc);
}

/* Σ a[i] * b[i] for i < n */
static bool dot_items(VM *vm, const Value *a, const Value *b, uint32_t n, Value *out) {
  Value acc = INT_VAL(0);
  for (uint32_t i = 0; i < n; i++)
    if (!mul_add(vm, &acc, a[i], b[i])) return false;
  *out = acc;
  return true;
}

static bool vector_op(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  uint32_t ra, ca, rb, cb;
  int da = shape_of(a, &ra, &ca), db = shape_of(b, &rb, &cb);
  if (!da || !db) return type_error2(vm, op, a, b);
  char sa[48], sb[48];
  shape_text(sa, sizeof sa, da, ra, ca);
  shape_text(sb, sizeof sb, db, rb, cb);
  ObjList *x = AS_LIST(a), *y = AS_LIST(b);

  if (op == AOP_DOT || (op == AOP_MATMUL && da == 1 && db == 1)) {
    if (da != 1 || db != 1)
      return vm_error(vm, "`%s` needs two vectors, got shapes %s and %s", arith_op_name(op), sa, sb);
    if (ra != rb)
      return vm_error(vm, "%s: lengths %u and %u differ", op == AOP_DOT ? "dot" : "matmul", ra, rb);
    return dot_items(vm, x->items, y->items, ra, out);
  }

  if (op == AOP_OUTER) {
    if (da != 1 || db != 1)
      return vm_error(vm, "`⊗` needs two vectors, got shapes %s and %s", sa, sb);
    ObjList *r = list_new(vm, ra);
    *out = OBJ_VAL(r);
    for (uint32_t i = 0; i < ra; i++) {
      ObjList *row = list_new(vm, rb);
      list_push(vm, r, OBJ_VAL(row));
      for (uint32_t j = 0; j < rb; j++) {
        Value p;
        if (!arith_binary(vm, AOP_MUL, x->items[i], y->items[j], &p)) return false;
        list_push(vm, row, p);
      }
    }
    return true;
  }

  /* matmul: (n x k) (k x m), (n x k) (k), (k) (k x m) */
  uint32_t k_a = da == 2 ? ca : ra, k_b = rb;
  if (k_a != k_b) return vm_error(vm, "matmul: shapes %s and %s are not aligned", sa, sb);
  uint32_t k = k_a;
  Value *col = NULL;
  if (db == 2 && k > 0) {
    col = malloc(sizeof(Value) * k);
    if (!col) return vm_error(vm, "out of memory");
  }
  bool ok = true;
  if (da == 2) {
    ObjList *r = list_new(vm, ra);
    *out = OBJ_VAL(r);
    for (uint32_t i = 0; i < ra && ok; i++) {
      ObjList *arow = AS_LIST(x->items[i]);
      if (db == 1) {
        Value v;
        ok = dot_items(vm, arow->items, y->items, k, &v);
        if (ok) list_push(vm, r, v);
        continue;
      }
      ObjList *row = list_new(vm, cb);
      list_push(vm, r, OBJ_VAL(row));
      for (uint32_t j = 0; j < cb && ok; j++) {
        for (uint32_t t = 0; t < k; t++) col[t] = AS_LIST(y->items[t])->items[j];
        Value v;
        ok = dot_items(vm, arow->items, col, k, &v);
        if (ok) list_push(vm, row, v);
      }
    }
  } else {
    ObjList *r = list_new(vm, cb);
    *out = OBJ_VAL(r);
    for (uint32_t j = 0; j < cb && ok; j++) {
      for (uint32_t t = 0; t < k; t++) col[t] = AS_LIST(y->items[t])->items[j];
      Value v;
      ok = dot_items(vm, x->items, col, k, &v);
      if (ok) list_push(vm, r, v);
    }
  }
  free(col);
  return ok;
}

/* ---- operators of struct and enum values (the prelude's operator traits) ----
 * `a + b` with a struct or enum operand calls a method of its type: `add`
 * on the left operand's type, else `@add` on the right operand's type (what
 * `impl Add<T> for f64` defines, for a built-in value on the left). */

static bool is_user(Value v) { return IS_INSTANCE(v) || IS_VARIANT(v); }

/* The method an operator calls and the trait the type must implement for
 * it (NULL: any method of that name, as √x calls `sqrt`). */
static const char *op_method(ArithOp op, const char **trait) {
  *trait = NULL;
  switch (op) {
  case AOP_ADD: *trait = "Add"; return "add";
  case AOP_SUB: *trait = "Sub"; return "sub";
  case AOP_MUL: *trait = "Mul"; return "mul";
  case AOP_DIV: *trait = "Div"; return "div";
  case AOP_MOD: *trait = "Rem"; return "rem";
  case AOP_POW: *trait = "Pow"; return "pow";
  case AOP_EQ:
  case AOP_NE: *trait = "PartialEq"; return "eq";
  case AOP_LT:
  case AOP_LE:
  case AOP_GT:
  case AOP_GE: *trait = "PartialOrd"; return "lt";
  case AOP_NEG: *trait = "Neg"; return "neg";
  case AOP_DOT: return "dot";
  case AOP_SQRT: return "sqrt";
  case AOP_ABS: return "abs";
  default: return NULL;
  }
}

/* (vm.h) */
bool arith_user_method(VM *vm, Value v, const char *trait, const char *name, Value *out) {
  if (!is_user(v)) return false;
  ObjClass *cls = vm_class_of(vm, v);
  Value t;
  if (!cls || (trait && !table_get(&cls->traits, str_cstr(vm, trait), &t))) return false;
  return table_get(&cls->methods, str_cstr(vm, name), out) && value_is_callable(*out);
}

/* (vm.h) */
bool arith_call_user(VM *vm, Value f, Value *args, int argc, Value *out) {
  vm->native_depth++;
  bool ok = vm_call(vm, f, args, argc, out);
  vm->native_depth--;
  return ok;
}

static bool call2(VM *vm, Value f, Value a, Value b, Value *out) {
  Value args[2] = {a, b};
  return arith_call_user(vm, f, args, 2, out);
}

/* *found: an operator method applied; the result is in *out. */
static bool user_binary(VM *vm, ArithOp op, Value a, Value b, Value *out, bool *found) {
  *found = false;
  const char *trait;
  const char *name = op_method(op, &trait);
  if (!name) return true;
  Value f;
  bool swap = op == AOP_GT || op == AOP_LE; /* a > b is b < a; a <= b is !(b < a) */
  Value x = swap ? b : a, y = swap ? a : b;
  if (!arith_user_method(vm, x, trait, name, &f)) {
    char rname[16];
    snprintf(rname, sizeof rname, "@%s", name);
    if (!arith_user_method(vm, y, NULL, rname, &f)) { /* only impls of the trait for built-in types define @name */
      /* x² and x³ without a pow method: products by itself */
      if (op == AOP_POW && IS_INT(b) && (b.as.i == 2 || b.as.i == 3) && arith_user_method(vm, a, "Mul", "mul", &f)) {
        *found = true;
        Value r;
        if (!call2(vm, f, a, a, &r)) return false;
        if (b.as.i == 3 && !call2(vm, f, r, a, &r)) return false;
        *out = r;
      }
      return true;
    }
  }
  *found = true;
  Value r;
  if (!call2(vm, f, x, y, &r)) return false;
  if (op == AOP_EQ || op == AOP_NE || op == AOP_LT || op == AOP_LE || op == AOP_GT || op == AOP_GE) {
    if (!IS_BOOL(r))
      return vm_error(vm, "`%s` of %s returned %s, expected bool", name, value_type_name(is_user(x) ? x : y),
                      value_type_name(r));
    if (op == AOP_NE || op == AOP_LE || op == AOP_GE) r = BOOL_VAL(!r.as.b);
  }
  *out = r;
  return true;
}

bool arith_user_equal(VM *vm, Value a, Value b, bool *out) {
  bool found = false;
  Value r;
  if ((is_user(a) || is_user(b)) && !user_binary(vm, AOP_EQ, a, b, &r, &found)) return false;
  *out = found ? r.as.b : value_equal(a, b);
  return true;
}

/* ---- binary operators ---- */

bool arith_inplace(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  if (IS_TENSOR(a)) return vm->lang.tensor_inplace(vm, op, a, b, out);
  const char *trait;
  const char *base = op_method(op, &trait);
  if (is_user(a) && base && trait) {
    /* a += b: add_assign(&mut a, b) when the type implements AddAssign, else a = a + b */
    char name[24], tname[24];
    snprintf(name, sizeof name, "%s_assign", base);
    snprintf(tname, sizeof tname, "%sAssign", trait);
    Value f, r;
    if (arith_user_method(vm, a, tname, name, &f)) {
      if (!call2(vm, f, a, b, &r)) return false;
      *out = a;
      return true;
    }
  }
  return arith_binary(vm, op, a, b, out);
}

bool arith_binary(VM *vm, ArithOp op, Value a, Value b, Value *out) {
  if (is_user(a) || is_user(b)) {
    bool found;
    if (!user_binary(vm, op, a, b, out, &found)) return false;
    if (found) return true;
  }
  if (IS_TENSOR(a) || IS_TENSOR(b)) return vm->lang.tensor_binary(vm, op, a, b, out);
  if ((IS_QUANTITY(a) || IS_QUANTITY(b)) && op != AOP_IN)
    return vm->lang.quantity_binary(vm, op, a, b, out);
  switch (op) {
  case AOP_EQ: *out = BOOL_VAL(value_equal(a, b)); return true;
  case AOP_NE: *out = BOOL_VAL(!value_equal(a, b)); return true;
  case AOP_LT:
  case AOP_LE:
  case AOP_GT:
  case AOP_GE: {
    bool r;
    if (!arith_compare(vm, op, a, b, &r)) return false;
    *out = BOOL_VAL(r);
    return true;
  }
  case AOP_APPROX: {
    bool ok = true;
    bool r = approx(a, b, &ok, 0);
    if (!ok) return type_error2(vm, op, a, b);
    *out = BOOL_VAL(r);
    return true;
  }
  case AOP_IN: {
    bool r = false;
    if (!contains(vm, op, a, b, &r)) return false;
    *out = BOOL_VAL(r);
    return true;
  }
  case AOP_BITAND:
  case AOP_BITOR:
    if (IS_BOOL(a) && IS_BOOL(b)) {
      *out = BOOL_VAL(op == AOP_BITAND ? (a.as.b && b.as.b) : (a.as.b || b.as.b));
      return true;
    }
    break;
  default: break;
  }

  if (IS_INT(a) && IS_INT(b)) return int_arith(vm, op, a.as.i, b.as.i, out);
  if (IS_NUM(a) && IS_NUM(b)) {
    if (op == AOP_BITAND || op == AOP_BITOR || op == AOP_SHL || op == AOP_SHR)
      return type_error2(vm, op, a, b);
    return float_arith(vm, op, AS_NUM(a), AS_NUM(b), out, a, b);
  }
  if (is_scalar(a) && is_scalar(b)) return complex_arith(vm, op, a, b, out);

  if (op == AOP_ADD) {
    if (IS_STRING(a) && IS_STRING(b))
      return concat(vm, AS_STRING(a)->chars, AS_STRING(a)->len, AS_STRING(b)->chars,
                    AS_STRING(b)->len, out);
    if (IS_STRING(a) && IS_CHAR(b)) {
      char c[4];
      int n = utf8_encode(b.as.i, c);
      return concat(vm, AS_STRING(a)->chars, AS_STRING(a)->len, c, (size_t)n, out);
    }
    if (IS_CHAR(a) && IS_STRING(b)) {
      char c[4];
      int n = utf8_encode(a.as.i, c);
      return concat(vm, c, (size_t)n, AS_STRING(b)->chars, AS_STRING(b)->len, out);
    }
    if (IS_LIST(a) && IS_LIST(b)) {
      ObjList *x = AS_LIST(a), *y = AS_LIST(b);
      ObjList *r = list_new(vm, x->len + y->len);
      for (uint32_t i = 0; i < x->len; i++) list_push(vm, r, x->items[i]);
      for (uint32_t i = 0; i < y->len; i++) list_push(vm, r, y->items[i]);
      *out = OBJ_VAL(r);
      return true;
    }
  }
  if (op == AOP_MUL) {
    if (IS_STRING(a) && IS_INT(b)) return string_repeat(vm, AS_STRING(a), b.as.i, out);
    if (IS_INT(a) && IS_STRING(b)) return string_repeat(vm, AS_STRING(b), a.as.i, out);
    if (IS_LIST(a) && IS_INT(b)) return list_repeat(vm, AS_LIST(a), b.as.i, out);
    if (IS_INT(a) && IS_LIST(b)) return list_repeat(vm, AS_LIST(b), a.as.i, out);
  }
  if ((op == AOP_MATMUL || op == AOP_OUTER || op == AOP_DOT) && IS_LIST(a) && IS_LIST(b))
    return vector_op(vm, op, a, b, out);
  return type_error2(vm, op, a, b);
}

/* ---- comparisons ---- */

static bool less(VM *vm, Value a, Value b, bool or_equal, bool *out, int depth);

/* Lexicographic: the first differing element decides, then the length. */
static bool less_seq(VM *vm, const Value *x, uint32_t nx, const Value *y, uint32_t ny,
                     bool or_equal, bool *out, int depth) {
  if (depth > NEST_LIMIT) {
    vm_error(vm, "cannot compare values nested more than %d deep", NEST_LIMIT);
    return false;
  }
  uint32_t n = nx < ny ? nx : ny;
  for (uint32_t i = 0; i < n; i++)
    if (!value_equal(x[i], y[i])) return less(vm, x[i], y[i], false, out, depth + 1);
  *out = or_equal ? nx <= ny : nx < ny;
  return true;
}

static bool less(VM *vm, Value a, Value b, bool or_equal, bool *out, int depth) {
  if (IS_INT(a) && IS_INT(b)) {
    *out = or_equal ? a.as.i <= b.as.i : a.as.i < b.as.i;
    return true;
  }
  if (IS_NUM(a) && IS_NUM(b)) {
    long double x = IS_INT(a) ? (long double)a.as.i : a.as.f;
    long double y = IS_INT(b) ? (long double)b.as.i : b.as.f;
    *out = num_less_exact(x, y, or_equal);
    return true;
  }
  if (a.type == b.type && (IS_CHAR(a) || IS_BOOL(a) || IS_UNIT(a))) {
    int64_t x = IS_BOOL(a) ? a.as.b : IS_CHAR(a) ? a.as.i : 0;
    int64_t y = IS_BOOL(b) ? b.as.b : IS_CHAR(b) ? b.as.i : 0;
    *out = or_equal ? x <= y : x < y;
    return true;
  }
  if (IS_STRING(a) && IS_STRING(b)) {
    ObjString *x = AS_STRING(a), *y = AS_STRING(b);
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->chars, y->chars, n);
    if (c == 0) c = (x->len > y->len) - (x->len < y->len);
    *out = or_equal ? c <= 0 : c < 0;
    return true;
  }
  if (IS_LIST(a) && IS_LIST(b))
    return less_seq(vm, AS_LIST(a)->items, AS_LIST(a)->len, AS_LIST(b)->items, AS_LIST(b)->len,
                    or_equal, out, depth);
  if (IS_TUPLE(a) && IS_TUPLE(b))
    return less_seq(vm, AS_TUPLE(a)->items, AS_TUPLE(a)->len, AS_TUPLE(b)->items,
                    AS_TUPLE(b)->len, or_equal, out, depth);
  if (IS_VARIANT(a) && IS_VARIANT(b) && AS_VARIANT(a)->cls == AS_VARIANT(b)->cls) {
    /* enums order by variant, then payload (as Rust's derived Ord) */
    ObjVariant *x = AS_VARIANT(a), *y = AS_VARIANT(b);
    if (x->tag != y->tag) {
      *out = x->tag < y->tag;
      return true;
    }
    return less_seq(vm, x->fields, x->nfields, y->fields, y->nfields, or_equal, out, depth);
  }
  return vm_error(vm, "cannot compare %s with %s", value_type_name(a), value_type_name(b));
}

bool arith_compare(VM *vm, ArithOp op, Value a, Value b, bool *out) {
  /* a comparison used as a condition; elsewhere tensors compare elementwise */
  if (IS_TENSOR(a) || IS_TENSOR(b)) return vm_error(vm, "condition must be bool, got Tensor");
  if (is_user(a) || is_user(b)) {
    bool found;
    Value r;
    if (!user_binary(vm, op, a, b, &r, &found)) return false;
    if (found) {
      *out = r.as.b;
      return true;
    }
  }
  if (IS_QUANTITY(a) || IS_QUANTITY(b)) return vm->lang.quantity_compare(vm, op, a, b, out);
  switch (op) {
  case AOP_LT: return less(vm, a, b, false, out, 0);
  case AOP_LE: return less(vm, a, b, true, out, 0);
  case AOP_GT: return less(vm, b, a, false, out, 0);
  case AOP_GE: return less(vm, b, a, true, out, 0);
  default: return vm_error(vm, "`%s` is not a comparison", arith_op_name(op));
  }
}

/* ---- unary operators ---- */

/* ∑ / ∏ over a range of ints without materializing it; the sum uses the
 * closed form in 128 bits. */
static bool range_reduce(VM *vm, ArithOp op, ObjRange *r, Value *out) {
  if (!(r->flags & RANGE_HAS_LO) || !(r->flags & RANGE_HAS_HI))
    return vm_error(vm, "`%s` of an unbounded range", arith_op_name(op));
  unsigned __int128 count = range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE);
  if (op == AOP_SUM) {
    /* n*lo + step*n(n-1)/2 with n <= 2^64: the terms fit 128 bits unless
     * the sum is far outside an int anyway */
    unsigned __int128 half = count == 0 ? 0 : count % 2 == 0 ? (count / 2) * (count - 1) : count * ((count - 1) / 2);
    __int128 n = (__int128)count, tri = (__int128)half, s; /* half < 2^127 */
    if (__builtin_mul_overflow(n, (__int128)r->lo, &s) || __builtin_mul_overflow(tri, (__int128)r->step, &tri) ||
        __builtin_add_overflow(s, tri, &s) || s > INT64_MAX || s < INT64_MIN)
      return overflow(vm, AOP_ADD);
    *out = INT_VAL((int64_t)s);
    return true;
  }
  int64_t p = 1;
  for (uint64_t i = 0; i < count && p != 0; i++)
    if (__builtin_mul_overflow(p, range_at(r, i), &p)) return overflow(vm, AOP_MUL);
  *out = INT_VAL(p);
  return true;
}

/* ∑/∏ over struct or enum values from element `from` on, through their
 * `add`/`mul`: each step runs NeuralScript, which may collect (the partial
 * result is kept as a root) or change the list (its length and items are
 * read again each step). */
static bool reduce_user(VM *vm, ArithOp bop, Value a, uint32_t from, Value acc, Value *out) {
  vm_push_root(vm, acc);
  bool ok = true;
  for (uint32_t i = from; ok; i++) {
    uint32_t n = IS_LIST(a) ? AS_LIST(a)->len : AS_TUPLE(a)->len;
    if (i >= n) break;
    Value x = IS_LIST(a) ? AS_LIST(a)->items[i] : AS_TUPLE(a)->items[i];
    ok = arith_binary(vm, bop, acc, x, &acc);
    vm_pop_root(vm, 1);
    vm_push_root(vm, acc);
  }
  vm_pop_root(vm, 1);
  if (ok) *out = acc;
  return ok;
}

static bool reduce(VM *vm, ArithOp op, Value a, Value *out) {
  if (IS_OBJ_TYPE(a, OBJ_RANGE)) return range_reduce(vm, op, AS_RANGE(a), out);
  const Value *xs;
  uint32_t n;
  if (IS_LIST(a)) {
    xs = AS_LIST(a)->items, n = AS_LIST(a)->len;
  } else if (IS_TUPLE(a)) {
    xs = AS_TUPLE(a)->items, n = AS_TUPLE(a)->len;
  } else {
    return vm_error(vm, "`%s` expects a list, tuple or range, got %s", arith_op_name(op),
                    value_type_name(a));
  }
  Value acc = INT_VAL(op == AOP_SUM ? 0 : 1);
  ArithOp bop = op == AOP_SUM ? AOP_ADD : AOP_MUL;
  uint32_t i = 0;
  /* quantities do not add to 0, nor values of types with an Add impl */
  if (n > 0 && (IS_QUANTITY(xs[0]) || is_user(xs[0]))) acc = xs[i++];
  if (is_user(acc)) return reduce_user(vm, bop, a, i, acc, out);
  for (; i < n; i++) {
    Value x = xs[i];
    if (IS_FLOAT(x) && IS_FLOAT(acc)) {
      acc.as.f = op == AOP_SUM ? acc.as.f + x.as.f : acc.as.f * x.as.f;
      continue;
    }
    if (!is_scalar(x) && !IS_QUANTITY(x))
      return vm_error(vm, "`%s` expects numbers, got %s", arith_op_name(op), value_type_name(x));
    if (!arith_binary(vm, bop, acc, x, &acc)) return false;
  }
  *out = acc;
  return true;
}

static bool magnitude(VM *vm, Value a, Value *out) {
  if (IS_INT(a)) {
    if (a.as.i == INT64_MIN) return overflow(vm, AOP_ABS);
    *out = INT_VAL(a.as.i < 0 ? -a.as.i : a.as.i);
    return true;
  }
  if (IS_FLOAT(a)) {
    *out = FLOAT_VAL(fabs(a.as.f));
    return true;
  }
  if (is_complex(a)) {
    *out = FLOAT_VAL(hypot(AS_COMPLEX(a)->re, AS_COMPLEX(a)->im));
    return true;
  }
  uint32_t rows, cols;
  if (shape_of(a, &rows, &cols) == 1) {
    /* Euclidean norm of a vector, scaled against overflow */
    ObjList *l = AS_LIST(a);
    double s = 0;
    for (uint32_t i = 0; i < l->len; i++) {
      Value x = l->items[i];
      double m = is_complex(x) ? hypot(AS_COMPLEX(x)->re, AS_COMPLEX(x)->im) : fabs(AS_NUM(x));
      s = hypot(s, m);
    }
    *out = FLOAT_VAL(s);
    return true;
  }
  return type_error1(vm, AOP_ABS, a);
}

bool arith_unary(VM *vm, ArithOp op, Value a, Value *out) {
  if (IS_TENSOR(a) || (op == AOP_GRAD && IS_TUPLE(a))) return vm->lang.tensor_unary(vm, op, a, out);
  if (IS_QUANTITY(a)) return vm->lang.quantity_unary(vm, op, a, out);
  Value f;
  const char *trait, *name = op_method(op, &trait);
  if (name && arith_user_method(vm, a, trait, name, &f)) return arith_call_user(vm, f, &a, 1, out);
  switch (op) {
  case AOP_NEG:
    if (IS_INT(a)) {
      if (a.as.i == INT64_MIN) return overflow(vm, op);
      *out = INT_VAL(-a.as.i);
      return true;
    }
    if (IS_FLOAT(a)) {
      *out = FLOAT_VAL(-a.as.f);
      return true;
    }
    if (is_complex(a)) {
      *out = OBJ_VAL(complex_new(vm, -AS_COMPLEX(a)->re, -AS_COMPLEX(a)->im));
      return true;
    }
    break;
  case AOP_NOT:
    if (IS_BOOL(a)) {
      *out = BOOL_VAL(!a.as.b);
      return true;
    }
    if (IS_INT(a)) {
      *out = INT_VAL(~a.as.i);
      return true;
    }
    break;
  case AOP_SQRT:
    if (IS_NUM(a)) {
      double x = AS_NUM(a);
      if (x < 0) return vm_error(vm, "√ of a negative number (use a complex number)");
      *out = FLOAT_VAL(sqrt(x));
      return true;
    }
    if (is_complex(a)) {
      *out = complex_val(vm, csqrt(to_complex(a)));
      return true;
    }
    break;
  case AOP_CBRT:
    if (IS_NUM(a)) {
      *out = FLOAT_VAL(num_cbrt(AS_NUM(a)));
      return true;
    }
    if (is_complex(a)) {
      /* principal root in polar form, so ∛(8+0i) is exactly 2+0i */
      double complex z = to_complex(a);
      double m = num_cbrt(cabs(z)), t = carg(z) / 3.0;
      *out = complex_val(vm, CMPLX(m * cos(t), m * sin(t)));
      return true;
    }
    break;
  case AOP_SUM:
  case AOP_PROD: return reduce(vm, op, a, out);
  case AOP_ABS: return magnitude(vm, a, out);
  case AOP_GRAD:
  case AOP_PARTIAL:
    return vm_error(vm, "`%s` applies to tensors, got %s", arith_op_name(op), value_type_name(a));
  default: break;
  }
  return type_error1(vm, op, a);
}

/* ---- casts: `x as T` ---- */

typedef struct {
  const char *name;
  int bits;     /* 0: the full i64 */
  bool is_signed;
} IntType;

static const IntType int_types[] = {
  {"i8", 8, true},   {"i16", 16, true}, {"i32", 32, true}, {"i64", 0, true},
  {"i128", 0, true}, {"isize", 0, true}, {"int", 0, true},  {"u8", 8, false},
  {"u16", 16, false}, {"u32", 32, false}, {"u64", 0, false}, {"u128", 0, false},
  {"usize", 0, false},
};

/* Wrap an int to the type's width, as Rust's `as` does between ints. */
static int64_t wrap_int(int64_t v, const IntType *t) {
  if (t->bits == 0) return v;
  uint64_t mask = (1ULL << t->bits) - 1, u = (uint64_t)v & mask;
  if (t->is_signed && (u >> (t->bits - 1))) return (int64_t)(u | ~mask);
  return (int64_t)u;
}

static bool cast_error(VM *vm, Value v, const char *type) {
  if (IS_QUANTITY(v)) {
    const char *u = AS_QUANTITY(v)->unit;
    return vm_error(vm, "cannot cast a quantity in %s to %s: divide by a unit first, as in `(q / 1_%s) as %s`", u,
                    type, u, type);
  }
  return vm_error(vm, "cannot cast %s to %s", value_type_name(v), type);
}

static bool cast_int(VM *vm, Value v, const IntType *t, Value *out) {
  int64_t i;
  switch (v.type) {
  case VAL_INT: i = v.as.i; break;
  case VAL_BOOL: i = v.as.b; break;
  case VAL_CHAR: i = v.as.i; break;
  case VAL_OBJ:
    /* a fieldless enum value casts to its discriminant: `Level::Mid as int` */
    if (IS_VARIANT(v) && AS_VARIANT(v)->nfields == 0) {
      i = AS_VARIANT(v)->cls->variants[AS_VARIANT(v)->tag].discriminant;
      break;
    }
    return cast_error(vm, v, t->name);
  case VAL_FLOAT: {
    double f = trunc(v.as.f);
    if (isnan(f)) return vm_error(vm, "cannot cast NaN to %s", t->name);
    double lo = t->bits ? (t->is_signed ? -ldexp(1, t->bits - 1) : 0) : -9223372036854775808.0;
    double hi = t->bits ? ldexp(1, t->is_signed ? t->bits - 1 : t->bits) : 9223372036854775808.0;
    if (!t->bits && !t->is_signed) lo = 0;
    if (f < lo || f >= hi) {
      char buf[40];
      vm->lang.format_float(buf, sizeof buf, v.as.f);
      return vm_error(vm, "%s is out of range for %s", buf, t->name);
    }
    *out = INT_VAL((int64_t)f);
    return true;
  }
  default: return cast_error(vm, v, t->name);
  }
  if (!t->bits && !t->is_signed && i < 0)
    return vm_error(vm, "%lld is out of range for %s", (long long)i, t->name);
  *out = INT_VAL(wrap_int(i, t));
  return true;
}

bool arith_cast(VM *vm, Value v, ObjString *type, Value *out) {
  const char *t = type->chars;
  for (size_t i = 0; i < sizeof int_types / sizeof int_types[0]; i++)
    if (strcmp(t, int_types[i].name) == 0) return cast_int(vm, v, &int_types[i], out);

  if (!strcmp(t, "f64") || !strcmp(t, "float") || !strcmp(t, "f32") || !strcmp(t, "f16")) {
    double f;
    if (IS_NUM(v)) f = AS_NUM(v);
    else if (IS_BOOL(v)) f = v.as.b;
    else return cast_error(vm, v, t);
    if (strcmp(t, "f32") == 0 || strcmp(t, "f16") == 0) f = (double)(float)f;
    *out = FLOAT_VAL(f);
    return true;
  }
  if (!strcmp(t, "bool")) {
    if (IS_BOOL(v)) *out = v;
    else if (IS_INT(v)) *out = BOOL_VAL(v.as.i != 0);
    else return cast_error(vm, v, t);
    return true;
  }
  if (!strcmp(t, "char")) {
    if (IS_CHAR(v)) {
      *out = v;
      return true;
    }
    if (!IS_INT(v)) return cast_error(vm, v, t);
    char b[4];
    if (utf8_encode(v.as.i, b) == 0)
      return vm_error(vm, "%lld is not a valid char code point", (long long)v.as.i);
    *out = CHAR_VAL(v.as.i);
    return true;
  }
  if (!strcmp(t, "str") || !strcmp(t, "String") || !strcmp(t, "string")) {
    ObjString *s = vm->lang.format_value(vm, v, false);
    if (!s) return false;
    *out = OBJ_VAL(s);
    return true;
  }
  if (!strcmp(t, "c64") || !strcmp(t, "c128") || !strcmp(t, "c32") || !strcmp(t, "complex") ||
      !strcmp(t, "Complex")) {
    if (is_complex(v)) *out = v;
    else if (IS_NUM(v)) *out = OBJ_VAL(complex_new(vm, AS_NUM(v), 0.0));
    else return cast_error(vm, v, t);
    return true;
  }
  /* a cast to the value's own type (a struct name, `list`) is the identity */
  if (!strcmp(t, value_type_name(v))) {
    *out = v;
    return true;
  }
  return cast_error(vm, v, t);
}
