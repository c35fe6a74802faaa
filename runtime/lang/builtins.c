/* The prelude: global functions and constants every module sees, and the
 * shared pieces of the built-in library (builtins.h). */
#define _POSIX_C_SOURCE 200809L

#include <complex.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "builtins.h"
#include "lib_data.h"
#include "lib_units.h"
#include "cffi.h"
#include "lib_tensor.h"

/* ---- registration ---- */

ObjClass *lib_class(VM *vm, const char *name) {
  return class_new(vm, CLASS_BUILTIN, str_cstr(vm, name));
}

void lib_method(VM *vm, ObjClass *cls, const char *name, NativeFn fn, int min_args,
                int max_args) {
  ObjString *qualified = str_printf(vm, "%s::%s", cls->name->chars, name);
  ObjNative *n = native_new(vm, qualified->chars, fn, min_args, max_args);
  table_set(vm, &cls->methods, str_cstr(vm, name), OBJ_VAL(n));
}

void lib_global(VM *vm, const char *name, NativeFn fn, int min_args, int max_args) {
  module_define(vm, vm->prelude, name, OBJ_VAL(native_new(vm, name, fn, min_args, max_args)),
                GLOBAL_BUILTIN);
}

/* ---- Option and Result ---- */

static ObjClass *prelude_enum(VM *vm, ObjClass **slot, const char *name) {
  if (!*slot && vm->prelude) {
    int32_t i = module_find(vm->prelude, str_cstr(vm, name));
    if (i >= 0 && IS_CLASS(vm->prelude->values[i]) &&
        AS_CLASS(vm->prelude->values[i])->kind == CLASS_ENUM)
      *slot = AS_CLASS(vm->prelude->values[i]);
  }
  return *slot;
}

static bool make_variant(VM *vm, ObjClass **slot, const char *enum_name, const char *name,
                         const Value *payload, Value *out) {
  ObjClass *cls = prelude_enum(vm, slot, enum_name);
  if (!cls) return vm_error(vm, "`%s` is not defined (the prelude was not loaded)", enum_name);
  for (uint16_t tag = 0; tag < cls->nvariants; tag++) {
    VariantInfo *info = &cls->variants[tag];
    if (strcmp(info->name->chars, name) != 0) continue;
    if (!payload && !IS_UNDEF(info->unit_value)) {
      *out = info->unit_value;
      return true;
    }
    ObjVariant *v = variant_new(vm, cls, tag, payload ? 1 : 0);
    if (payload) v->fields[0] = *payload;
    *out = OBJ_VAL(v);
    return true;
  }
  return vm_error(vm, "`%s` has no variant `%s`", enum_name, name);
}

bool lib_some(VM *vm, Value v, Value *out) {
  return make_variant(vm, &vm->option_class, "Option", "Some", &v, out);
}
bool lib_none(VM *vm, Value *out) {
  return make_variant(vm, &vm->option_class, "Option", "None", NULL, out);
}
bool lib_ok(VM *vm, Value v, Value *out) {
  return make_variant(vm, &vm->result_class, "Result", "Ok", &v, out);
}
bool lib_err(VM *vm, Value v, Value *out) {
  return make_variant(vm, &vm->result_class, "Result", "Err", &v, out);
}

bool lib_err_msg(VM *vm, Value *out, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return lib_err(vm, OBJ_VAL(str_cstr(vm, buf)), out);
}

/* ---- arguments ---- */

bool lib_num_arg(VM *vm, Value v, const char *who, double *out) {
  if (!IS_NUM(v)) {
    vm_error(vm, "%s expects a number, got %s", who, value_type_name(v));
    return false;
  }
  *out = AS_NUM(v);
  return true;
}

bool lib_int_arg(VM *vm, Value v, const char *who, int64_t *out) {
  if (!IS_INT(v)) {
    vm_error(vm, "%s expects an int, got %s", who, value_type_name(v));
    return false;
  }
  *out = v.as.i;
  return true;
}

bool lib_str_arg(VM *vm, Value v, const char *who, ObjString **out) {
  if (!IS_STRING(v)) {
    vm_error(vm, "%s expects a string, got %s", who, value_type_name(v));
    return false;
  }
  *out = AS_STRING(v);
  return true;
}

bool lib_bool_result(VM *vm, Value v, const char *who, bool *out) {
  if (!IS_BOOL(v))
    return vm_error(vm, "the function given to %s must return a bool, got %s", who,
                    value_type_name(v));
  *out = v.as.b;
  return true;
}

bool lib_order(VM *vm, Value a, Value b, int *out) {
  bool lt, gt;
  if (!arith_compare(vm, AOP_LT, a, b, &lt)) return false;
  if (lt) {
    *out = -1;
    return true;
  }
  if (!arith_compare(vm, AOP_LT, b, a, &gt)) return false;
  *out = gt ? 1 : 0;
  return true;
}

/* ---- ranges and iterables ---- */

bool lib_to_list(VM *vm, Value v, const char *who, ObjList **out) {
  if (IS_LIST(v)) {
    *out = AS_LIST(v);
    return true;
  }
  if (IS_TUPLE(v)) {
    ObjTuple *t = AS_TUPLE(v);
    ObjList *l = list_new(vm, t->len);
    for (uint32_t i = 0; i < t->len; i++) list_push(vm, l, t->items[i]);
    *out = l;
    return true;
  }
  if (IS_OBJ_TYPE(v, OBJ_RANGE)) {
    ObjRange *r = AS_RANGE(v);
    if (!(r->flags & RANGE_HAS_LO) || !(r->flags & RANGE_HAS_HI)) {
      vm_error(vm, "%s: the range has no end", who);
      return false;
    }
    unsigned __int128 n = range_count(r->lo, r->hi, r->step, r->flags & RANGE_INCLUSIVE);
    if (n > UINT32_MAX / 2) {
      char count[48];
      u128_text(n, count);
      vm_error(vm, "%s: the range has too many elements (%s)", who, count);
      return false;
    }
    ObjList *l = list_new(vm, (uint32_t)n);
    for (uint64_t i = 0; i < (uint64_t)n; i++) list_push(vm, l, INT_VAL(range_at(r, i)));
    *out = l;
    return true;
  }
  if (IS_STRING(v)) {
    ObjString *s = AS_STRING(v);
    ObjList *l = list_new(vm, s->len);
    for (uint32_t i = 0; i < s->len;) {
      int64_t cp;
      i += (uint32_t)utf8_decode(s->chars + i, s->len - i, &cp);
      list_push(vm, l, CHAR_VAL(cp));
    }
    *out = l;
    return true;
  }
  if (IS_OBJ_TYPE(v, OBJ_MAP)) {
    ObjMap *m = AS_MAP(v);
    ObjList *l = list_new(vm, m->count);
    for (uint32_t i = 0; i < m->nentries; i++) {
      if (IS_UNDEF(m->keys[i])) continue;
      ObjTuple *t = tuple_new(vm, 2);
      t->items[0] = m->keys[i];
      t->items[1] = m->values[i];
      list_push(vm, l, OBJ_VAL(t));
    }
    *out = l;
    return true;
  }
  vm_error(vm, "%s expects an iterable (list, tuple, range, string or map), got %s", who,
           value_type_name(v));
  return false;
}

/* ---- clone: a deep copy that keeps sharing and cycles ---- */

typedef struct {
  Obj **from, **to; /* open addressing on `from` */
  size_t cap, count;
} CloneMemo;

static size_t ptr_slot(const void *p, size_t cap) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

static Obj *memo_get(CloneMemo *m, Obj *o) {
  if (!m->cap) return NULL;
  for (size_t i = ptr_slot(o, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (!m->from[i]) return NULL;
    if (m->from[i] == o) return m->to[i];
  }
}

static void memo_put(CloneMemo *m, Obj *o, Obj *copy) {
  if ((m->count + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    Obj **from = calloc(cap, sizeof *from), **to = calloc(cap, sizeof *to);
    if (!from || !to) {
      free(from);
      free(to);
      return; /* without the memo, sharing is lost but the copy is still right */
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->from[i]) continue;
      size_t j = ptr_slot(m->from[i], cap);
      while (from[j]) j = (j + 1) & (cap - 1);
      from[j] = m->from[i];
      to[j] = m->to[i];
    }
    free(m->from);
    free(m->to);
    m->from = from;
    m->to = to;
    m->cap = cap;
  }
  size_t i = ptr_slot(o, m->cap);
  while (m->from[i]) i = (i + 1) & (m->cap - 1);
  m->from[i] = o;
  m->to[i] = copy;
  m->count++;
}

static Value clone_value(VM *vm, CloneMemo *memo, Value v, int depth) {
  if (!IS_OBJ(v) || depth > 10000) return v;
  Obj *o = v.as.o;
  switch (o->type) {
  case OBJ_LIST:
  case OBJ_TUPLE:
  case OBJ_MAP:
  case OBJ_INSTANCE:
  case OBJ_VARIANT: break;
  default: return v; /* immutable or shared by nature: strings, functions, classes */
  }
  Obj *seen = memo_get(memo, o);
  if (seen) return OBJ_VAL(seen);
  switch (o->type) {
  case OBJ_LIST: {
    ObjList *l = (ObjList *)o, *c = list_new(vm, l->len);
    memo_put(memo, o, (Obj *)c);
    for (uint32_t i = 0; i < l->len; i++) list_push(vm, c, clone_value(vm, memo, l->items[i], depth + 1));
    return OBJ_VAL(c);
  }
  case OBJ_TUPLE: {
    ObjTuple *t = (ObjTuple *)o, *c = tuple_new(vm, t->len);
    memo_put(memo, o, (Obj *)c);
    for (uint32_t i = 0; i < t->len; i++) c->items[i] = clone_value(vm, memo, t->items[i], depth + 1);
    return OBJ_VAL(c);
  }
  case OBJ_MAP: {
    ObjMap *m = (ObjMap *)o, *c = map_new(vm);
    memo_put(memo, o, (Obj *)c);
    for (uint32_t i = 0; i < m->nentries; i++)
      if (!IS_UNDEF(m->keys[i]))
        map_set(vm, c, m->keys[i], clone_value(vm, memo, m->values[i], depth + 1));
    return OBJ_VAL(c);
  }
  case OBJ_INSTANCE: {
    ObjInstance *in = (ObjInstance *)o, *c = instance_new(vm, in->cls);
    memo_put(memo, o, (Obj *)c);
    for (uint32_t i = 0; i < in->cls->nfields; i++)
      c->fields[i] = clone_value(vm, memo, in->fields[i], depth + 1);
    return OBJ_VAL(c);
  }
  default: {
    ObjVariant *e = (ObjVariant *)o;
    if (e->nfields == 0) return v; /* unit variants are shared values */
    ObjVariant *c = variant_new(vm, e->cls, e->tag, e->nfields);
    memo_put(memo, o, (Obj *)c);
    for (uint32_t i = 0; i < e->nfields; i++)
      c->fields[i] = clone_value(vm, memo, e->fields[i], depth + 1);
    return OBJ_VAL(c);
  }
  }
}

Value lib_clone(VM *vm, Value v) {
  CloneMemo memo = {0};
  Value c = clone_value(vm, &memo, v, 0);
  free(memo.from);
  free(memo.to);
  return c;
}

/* ---- output and assertions ---- */

static bool write_values(VM *vm, FILE *f, Value *args, int argc, bool newline) {
  if (argc == 1 && IS_STRING(args[0])) { /* println!'s usual call: one formatted string */
    const ObjString *s = AS_STRING(args[0]);
    fwrite(s->chars, 1, s->len, f);
    if (newline) fputc('\n', f);
    if (f == vm->out && (newline || s->len)) vm->out_midline = !newline && s->chars[s->len - 1] != '\n';
    return true;
  }
  StrBuf sb = {0};
  for (int i = 0; i < argc; i++) {
    if (i) strbuf_addc(&sb, ' ');
    if (!format_append(vm, &sb, args[i], false)) {
      strbuf_free(&sb);
      return false;
    }
  }
  if (newline) strbuf_addc(&sb, '\n');
  if (sb.oom) {
    strbuf_free(&sb);
    return vm_error(vm, "out of memory");
  }
  if (sb.len) fwrite(sb.data, 1, sb.len, f);
  if (f == vm->out && sb.len) vm->out_midline = sb.data[sb.len - 1] != '\n';
  strbuf_free(&sb);
  return true;
}

/* print(a, b) writes a line, as in Python; the print! macro calls the
 * global `print!` (a name no program can spell), which does not end the
 * line, as in Rust. */
static bool nat_print(VM *vm, Value *args, int argc, Value *out) {
  *out = UNIT_VAL;
  return write_values(vm, vm->out, args, argc, true);
}

static bool nat_print_inline(VM *vm, Value *args, int argc, Value *out) {
  *out = UNIT_VAL;
  return write_values(vm, vm->out, args, argc, false);
}

static bool nat_println(VM *vm, Value *args, int argc, Value *out) {
  *out = UNIT_VAL;
  return write_values(vm, vm->out, args, argc, true);
}

static bool nat_eprint(VM *vm, Value *args, int argc, Value *out) {
  *out = UNIT_VAL;
  fflush(vm->out); /* keep the two streams in order on a terminal */
  return write_values(vm, vm->err, args, argc, false);
}

static bool nat_eprintln(VM *vm, Value *args, int argc, Value *out) {
  *out = UNIT_VAL;
  fflush(vm->out);
  return write_values(vm, vm->err, args, argc, true);
}

/* dbg!(x): the Debug form of x on stderr; returns x. */
static bool nat_dbg(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  StrBuf sb = {0};
  strbuf_adds(&sb, "[dbg] ");
  if (!format_append(vm, &sb, args[0], true)) {
    strbuf_free(&sb);
    return false;
  }
  strbuf_addc(&sb, '\n');
  fflush(vm->out);
  if (sb.data) fwrite(sb.data, 1, sb.len, vm->err);
  strbuf_free(&sb);
  *out = args[0];
  return true;
}

/* The display text of args[i] if present, for messages; NULL if a
 * to_string method failed. */
static ObjString *message_arg(VM *vm, Value *args, int argc, int i) {
  if (i >= argc || IS_UNDEF(args[i])) return str_cstr(vm, "");
  return format_value(vm, args[i], false);
}

static bool nat_panic(VM *vm, Value *args, int argc, Value *out) {
  (void)out;
  ObjString *msg = message_arg(vm, args, argc, 0);
  if (!msg) return false;
  if (msg->len == 0) return vm_error(vm, "panicked");
  return vm_error(vm, "panicked: %s", msg->chars);
}

static bool nat_unreachable(VM *vm, Value *args, int argc, Value *out) {
  (void)out;
  ObjString *msg = message_arg(vm, args, argc, 0);
  if (!msg) return false;
  if (msg->len == 0) return vm_error(vm, "entered unreachable code");
  return vm_error(vm, "entered unreachable code: %s", msg->chars);
}

static bool nat_assert(VM *vm, Value *args, int argc, Value *out) {
  if (!IS_BOOL(args[0]))
    return vm_error(vm, "assert expects a bool, got %s", value_type_name(args[0]));
  *out = UNIT_VAL;
  if (args[0].as.b) return true;
  ObjString *msg = message_arg(vm, args, argc, 1);
  if (!msg) return false;
  if (msg->len == 0) return vm_error(vm, "assertion failed");
  return vm_error(vm, "assertion failed: %s", msg->chars);
}

static bool assert_cmp(VM *vm, Value *args, int argc, Value *out, bool want_equal) {
  *out = UNIT_VAL;
  bool eq; /* through a PartialEq impl's eq, as `==` */
  if (!arith_user_equal(vm, args[0], args[1], &eq)) return false;
  if (eq == want_equal) return true;
  ObjString *msg = message_arg(vm, args, argc, 2);
  ObjString *l = format_value(vm, args[0], true);
  ObjString *r = format_value(vm, args[1], true);
  if (!msg || !l || !r) return false;
  return vm_error(vm, "assertion failed: %s\n  left: %s\n right: %s",
                  msg->len ? msg->chars : want_equal ? "left == right" : "left != right",
                  l->chars, r->chars);
}

static bool nat_assert_eq(VM *vm, Value *args, int argc, Value *out) {
  return assert_cmp(vm, args, argc, out, true);
}

static bool nat_assert_ne(VM *vm, Value *args, int argc, Value *out) {
  return assert_cmp(vm, args, argc, out, false);
}

/* ---- conversions and inspection ---- */

/* The method `name` of a tensor first argument, for the prelude functions
 * that also take tensors (sum, min, max, clamp, len). */
static bool tensor_method(VM *vm, const char *name, Value *args, int argc, Value *out) {
  Value m;
  if (!vm_find_method(vm, args[0], str_cstr(vm, name), &m))
    return vm_error(vm, "%s does not apply to tensors", name);
  return vm_call(vm, m, args, argc, out);
}


static bool nat_len(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Value v = args[0];
  if (IS_OBJ(v)) {
    switch (OBJ_TYPE(v)) {
    case OBJ_STRING: *out = INT_VAL(AS_STRING(v)->len); return true;
    case OBJ_LIST: *out = INT_VAL(AS_LIST(v)->len); return true;
    case OBJ_TUPLE: *out = INT_VAL(AS_TUPLE(v)->len); return true;
    case OBJ_MAP: *out = INT_VAL(AS_MAP(v)->count); return true;
    case OBJ_RANGE:
    {
      int64_t n;
      if (!range_len(vm, AS_RANGE(v), "len", &n)) return false;
      *out = INT_VAL(n);
      return true;
    }
    case OBJ_TENSOR: return tensor_method(vm, "len", args, 1, out);
    default: break;
    }
  }
  return vm_error(vm, "len expects a string or a collection, got %s", value_type_name(v));
}

static bool nat_type_of(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  *out = OBJ_VAL(str_cstr(vm, value_type_name(args[0])));
  return true;
}

static bool nat_str(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *s = format_value(vm, args[0], false);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

/* Parse decimal text (surrounding whitespace allowed) as an int, or as a
 * float when as_float (also "inf", "-inf", "NaN"). */
bool lib_parse_number(const char *s, size_t len, bool as_float, Value *out) {
  while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, len--;
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  if (len == 0 || len > 400) return false;
  char buf[401];
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (!as_float) {
    size_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
    if (i == len) return false;
    for (size_t j = i; j < len; j++)
      if (buf[j] < '0' || buf[j] > '9') return false;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE) return false;
    *out = INT_VAL(v);
    return true;
  }
  const char *p = buf + ((buf[0] == '-' || buf[0] == '+') ? 1 : 0);
  if (!strcmp(p, "inf") || !strcmp(p, "infinity") || !strcmp(p, "NaN") || !strcmp(p, "nan")) {
    double v = p[0] == 'i' ? INFINITY : NAN;
    *out = FLOAT_VAL(buf[0] == '-' ? -v : v);
    return true;
  }
  for (const char *q = p; *q; q++)
    if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '-' || *q == '+'))
      return false;
  char *end;
  double v = strtod(buf, &end);
  if (*end != '\0' || end == buf) return false;
  *out = FLOAT_VAL(v);
  return true;
}

static bool nat_int(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Value v = args[0];
  if (IS_STRING(v)) {
    if (lib_parse_number(AS_STRING(v)->chars, AS_STRING(v)->len, false, out)) return true;
    ObjString *q = format_value(vm, v, true);
    return vm_error(vm, "int: cannot parse %s as an int", q ? q->chars : "");
  }
  return arith_cast(vm, v, str_cstr(vm, "int"), out);
}

static bool nat_float(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Value v = args[0];
  if (IS_STRING(v)) {
    if (lib_parse_number(AS_STRING(v)->chars, AS_STRING(v)->len, true, out)) return true;
    ObjString *q = format_value(vm, v, true);
    return vm_error(vm, "float: cannot parse %s as a float", q ? q->chars : "");
  }
  return arith_cast(vm, v, str_cstr(vm, "float"), out);
}

/* ---- math ---- */

static bool is_cplx(Value v) { return IS_OBJ_TYPE(v, OBJ_COMPLEX); }

static double complex cplx(Value v) {
  return is_cplx(v) ? CMPLX(AS_COMPLEX(v)->re, AS_COMPLEX(v)->im) : CMPLX(AS_NUM(v), 0.0);
}

static Value cplx_val(VM *vm, double complex z) {
  return OBJ_VAL(complex_new(vm, creal(z), cimag(z)));
}

/* One-argument functions of a real number; MATH1C also takes a complex. */
#define MATH1(name, real_expr)                                             \
  static bool nat_##name(VM *vm, Value *args, int argc, Value *out) {       \
    (void)argc;                                                             \
    double x;                                                               \
    if (!lib_num_arg(vm, args[0], #name, &x)) return false;                 \
    *out = FLOAT_VAL(real_expr);                                            \
    return true;                                                            \
  }
#define MATH1C(name, real_expr, complex_fn)                                \
  static bool nat_##name(VM *vm, Value *args, int argc, Value *out) {       \
    (void)argc;                                                             \
    if (IS_TENSOR(args[0])) return lib_tensor_math1(vm, #name, args[0], out); \
    if (is_cplx(args[0])) {                                                 \
      *out = cplx_val(vm, complex_fn(cplx(args[0])));                       \
      return true;                                                          \
    }                                                                       \
    double x;                                                               \
    if (!lib_num_arg(vm, args[0], #name, &x)) return false;                 \
    *out = FLOAT_VAL(real_expr);                                            \
    return true;                                                            \
  }

MATH1C(exp, exp(x), cexp)
MATH1C(ln, log(x), clog)
MATH1(log2, log2(x))
MATH1(log10, log10(x))
MATH1C(sin, sin(x), csin)
MATH1C(cos, cos(x), ccos)
MATH1C(tan, tan(x), ctan)
MATH1(asin, asin(x))
MATH1(acos, acos(x))
MATH1(atan, atan(x))
MATH1C(sinh, sinh(x), csinh)
MATH1C(cosh, cosh(x), ccosh)
MATH1C(tanh, tanh(x), ctanh)

static bool nat_sqrt(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  if (IS_TENSOR(args[0])) return lib_tensor_math1(vm, "sqrt", args[0], out);
  if (!IS_NUM(args[0]) && !is_cplx(args[0]))
    return vm_error(vm, "sqrt expects a number, got %s", value_type_name(args[0]));
  return arith_unary(vm, AOP_SQRT, args[0], out);
}

static bool nat_cbrt(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  if (!IS_NUM(args[0]) && !is_cplx(args[0]))
    return vm_error(vm, "cbrt expects a number, got %s", value_type_name(args[0]));
  return arith_unary(vm, AOP_CBRT, args[0], out);
}

static bool nat_log(VM *vm, Value *args, int argc, Value *out) {
  if (argc < 2 || IS_TENSOR(args[0])) return nat_ln(vm, args, 1, out);
  if ((is_cplx(args[0]) || is_cplx(args[1])) && (IS_NUM(args[0]) || is_cplx(args[0])) &&
      (IS_NUM(args[1]) || is_cplx(args[1]))) {
    *out = cplx_val(vm, clog(cplx(args[0])) / clog(cplx(args[1])));
    return true;
  }
  double x, b;
  if (!lib_num_arg(vm, args[0], "log", &x) || !lib_num_arg(vm, args[1], "log", &b)) return false;
  *out = FLOAT_VAL(log(x) / log(b));
  return true;
}

static bool nat_abs(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return arith_unary(vm, AOP_ABS, args[0], out);
}

/* floor, ceil, round, trunc: ints pass through; round takes optional digits. */
static bool rounding(VM *vm, Value *args, int argc, Value *out, const char *who,
                     double (*fn)(double)) {
  if (IS_INT(args[0]) && argc < 2) {
    *out = args[0];
    return true;
  }
  double x;
  if (!lib_num_arg(vm, args[0], who, &x)) return false;
  if (argc >= 2) {
    int64_t digits;
    if (!lib_int_arg(vm, args[1], who, &digits)) return false;
    if (digits < -308 || digits > 308) return vm_error(vm, "%s: %lld digits is out of range", who, (long long)digits);
    double scale = pow(10.0, (double)digits);
    double r = fn(x * scale) / scale;
    *out = FLOAT_VAL(isfinite(r) ? r : x);
    return true;
  }
  *out = FLOAT_VAL(fn(x));
  return true;
}

static bool nat_floor(VM *vm, Value *a, int n, Value *o) { return rounding(vm, a, n, o, "floor", floor); }
static bool nat_ceil(VM *vm, Value *a, int n, Value *o) { return rounding(vm, a, n, o, "ceil", ceil); }
static bool nat_round(VM *vm, Value *a, int n, Value *o) { return rounding(vm, a, n, o, "round", round); }
static bool nat_trunc(VM *vm, Value *a, int n, Value *o) { return rounding(vm, a, n, o, "trunc", trunc); }

static bool nat_pow(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return arith_binary(vm, AOP_POW, args[0], args[1], out);
}

static bool nat_atan2(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double y, x;
  if (!lib_num_arg(vm, args[0], "atan2", &y) || !lib_num_arg(vm, args[1], "atan2", &x)) return false;
  *out = FLOAT_VAL(atan2(y, x));
  return true;
}

static bool nat_hypot(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double x, y;
  if (!lib_num_arg(vm, args[0], "hypot", &x) || !lib_num_arg(vm, args[1], "hypot", &y)) return false;
  *out = FLOAT_VAL(hypot(x, y));
  return true;
}

static bool nat_sign(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  Value v = args[0];
  if (IS_INT(v)) {
    *out = INT_VAL((v.as.i > 0) - (v.as.i < 0));
    return true;
  }
  double x;
  if (!lib_num_arg(vm, v, "sign", &x)) return false;
  *out = FLOAT_VAL(isnan(x) ? x : (double)((x > 0) - (x < 0)));
  return true;
}

static bool nat_clamp(VM *vm, Value *args, int argc, Value *out) {
  if (IS_TENSOR(args[0])) return tensor_method(vm, "clamp", args, argc, out);
  for (int i = 0; i < 3; i++)
    if (!IS_NUM(args[i])) return vm_error(vm, "clamp expects numbers, got %s", value_type_name(args[i]));
  int c;
  if (!lib_order(vm, args[1], args[2], &c)) return false;
  if (c > 0) return vm_error(vm, "clamp: the lower bound is above the upper bound");
  if (!lib_order(vm, args[0], args[1], &c)) return false;
  if (c < 0) {
    *out = args[1];
    return true;
  }
  if (!lib_order(vm, args[0], args[2], &c)) return false;
  *out = c > 0 ? args[2] : args[0];
  return true;
}

/* min / max of two or more arguments, or of the elements of one iterable. */
static bool extreme(VM *vm, Value *args, int argc, Value *out, const char *who, int want) {
  const Value *xs = args;
  uint32_t n = (uint32_t)argc;
  if (argc == 1) {
    ObjList *l;
    if (!lib_to_list(vm, args[0], who, &l)) return false;
    xs = l->items;
    n = l->len;
    if (n == 0) return vm_error(vm, "%s of an empty %s", who, value_type_name(args[0]));
  }
  Value best = xs[0];
  for (uint32_t i = 1; i < n; i++) {
    int c;
    if (!lib_order(vm, xs[i], best, &c)) return false;
    if (c == want) best = xs[i];
  }
  *out = best;
  return true;
}

static bool nat_min(VM *vm, Value *args, int argc, Value *out) {
  if (argc == 1 && IS_TENSOR(args[0])) return tensor_method(vm, "min", args, 1, out);
  if (argc == 2 && (IS_TENSOR(args[0]) || IS_TENSOR(args[1]))) {
    Value xy[2] = {IS_TENSOR(args[0]) ? args[0] : args[1], IS_TENSOR(args[0]) ? args[1] : args[0]};
    return tensor_method(vm, "minimum", xy, 2, out);
  }
  return extreme(vm, args, argc, out, "min", -1);
}
static bool nat_max(VM *vm, Value *args, int argc, Value *out) {
  if (argc == 1 && IS_TENSOR(args[0])) return tensor_method(vm, "max", args, 1, out);
  if (argc == 2 && (IS_TENSOR(args[0]) || IS_TENSOR(args[1]))) {
    Value xy[2] = {IS_TENSOR(args[0]) ? args[0] : args[1], IS_TENSOR(args[0]) ? args[1] : args[0]};
    return tensor_method(vm, "maximum", xy, 2, out);
  }
  return extreme(vm, args, argc, out, "max", 1);
}

static bool reduce_iterable(VM *vm, ArithOp op, Value v, const char *who, Value *out) {
  if (IS_LIST(v) || IS_TUPLE(v) || IS_OBJ_TYPE(v, OBJ_RANGE)) return arith_unary(vm, op, v, out);
  ObjList *l;
  if (!lib_to_list(vm, v, who, &l)) return false;
  return arith_unary(vm, op, OBJ_VAL(l), out);
}

static bool nat_sum(VM *vm, Value *args, int argc, Value *out) {
  if (IS_TENSOR(args[0])) return tensor_method(vm, "sum", args, argc, out);
  return reduce_iterable(vm, AOP_SUM, args[0], "sum", out);
}

static bool nat_prod(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  return reduce_iterable(vm, AOP_PROD, args[0], "prod", out);
}

/* ---- complex numbers ---- */

static bool complex_arg(VM *vm, Value v, const char *who, double complex *out) {
  if (!IS_NUM(v) && !is_cplx(v)) {
    vm_error(vm, "%s expects a number, got %s", who, value_type_name(v));
    return false;
  }
  *out = cplx(v);
  return true;
}

static bool nat_complex(VM *vm, Value *args, int argc, Value *out) {
  double re, im = 0;
  if (!lib_num_arg(vm, args[0], "complex", &re)) return false;
  if (argc > 1 && !lib_num_arg(vm, args[1], "complex", &im)) return false;
  *out = OBJ_VAL(complex_new(vm, re, im));
  return true;
}

static bool nat_conj(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double complex z;
  if (!complex_arg(vm, args[0], "conj", &z)) return false;
  *out = is_cplx(args[0]) ? cplx_val(vm, conj(z)) : args[0];
  return true;
}

static bool nat_arg(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double complex z;
  if (!complex_arg(vm, args[0], "arg", &z)) return false;
  *out = FLOAT_VAL(carg(z));
  return true;
}

static bool nat_re(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double complex z;
  if (!complex_arg(vm, args[0], "re", &z)) return false;
  *out = FLOAT_VAL(creal(z));
  return true;
}

static bool nat_im(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  double complex z;
  if (!complex_arg(vm, args[0], "im", &z)) return false;
  *out = FLOAT_VAL(cimag(z));
  return true;
}

/* ---- collections ---- */

static bool nat_range(VM *vm, Value *args, int argc, Value *out) {
  int64_t lo = 0, hi, step = 1;
  int flags = RANGE_HAS_LO | RANGE_HAS_HI;
  if (argc == 1) {
    if (!lib_int_arg(vm, args[0], "range", &hi)) return false;
  } else {
    if (!lib_int_arg(vm, args[0], "range", &lo) || !lib_int_arg(vm, args[1], "range", &hi))
      return false;
  }
  if (argc == 3) {
    if (!lib_int_arg(vm, args[2], "range", &step)) return false;
    if (step == 0) return vm_error(vm, "range: the step cannot be zero");
    flags |= RANGE_HAS_STEP;
  }
  *out = OBJ_VAL(range_new(vm, lo, hi, step, flags));
  return true;
}

static bool nat_sorted(VM *vm, Value *args, int argc, Value *out) {
  ObjList *src;
  if (!lib_to_list(vm, args[0], "sorted", &src)) return false;
  ObjList *l = list_new(vm, src->len);
  for (uint32_t i = 0; i < src->len; i++) list_push(vm, l, src->items[i]);
  *out = OBJ_VAL(l);
  vm_push_root(vm, *out);
  bool ok = lib_sort(vm, l, argc > 1 ? args[1] : UNDEF_VAL, false);
  vm_pop_root(vm, 1);
  return ok;
}

static bool nat_enumerate(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjList *src;
  if (!lib_to_list(vm, args[0], "enumerate", &src)) return false;
  ObjList *l = list_new(vm, src->len);
  for (uint32_t i = 0; i < src->len; i++) {
    ObjTuple *t = tuple_new(vm, 2);
    t->items[0] = INT_VAL(i);
    t->items[1] = src->items[i];
    list_push(vm, l, OBJ_VAL(t));
  }
  *out = OBJ_VAL(l);
  return true;
}

static bool nat_zip(VM *vm, Value *args, int argc, Value *out) {
  ObjList *srcs[8];
  if (argc > 8) return vm_error(vm, "zip takes at most 8 iterables");
  uint32_t n = UINT32_MAX;
  for (int i = 0; i < argc; i++) {
    if (!lib_to_list(vm, args[i], "zip", &srcs[i])) return false;
    if (srcs[i]->len < n) n = srcs[i]->len;
  }
  ObjList *l = list_new(vm, n);
  for (uint32_t j = 0; j < n; j++) {
    ObjTuple *t = tuple_new(vm, (uint32_t)argc);
    for (int i = 0; i < argc; i++) t->items[i] = srcs[i]->items[j];
    list_push(vm, l, OBJ_VAL(t));
  }
  *out = OBJ_VAL(l);
  return true;
}

/* ---- the process ---- */

static bool nat_args(VM *vm, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  if (!vm->args) vm->args = list_new(vm, 0);
  *out = OBJ_VAL(vm->args);
  return true;
}

static bool nat_input(VM *vm, Value *args, int argc, Value *out) {
  if (argc > 0 && !write_values(vm, vm->out, args, 1, false)) return false;
  fflush(vm->out);
  StrBuf sb = {0};
  int c;
  while ((c = getchar()) != EOF && c != '\n') strbuf_addc(&sb, (char)c);
  if (sb.len && sb.data[sb.len - 1] == '\r') sb.data[--sb.len] = '\0';
  ObjString *s = strbuf_finish(vm, &sb);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

static bool nat_clock(VM *vm, Value *args, int argc, Value *out) {
  (void)vm, (void)args, (void)argc;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  *out = FLOAT_VAL((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
  return true;
}

static bool nat_time_ns(VM *vm, Value *args, int argc, Value *out) {
  (void)vm, (void)args, (void)argc;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  *out = INT_VAL((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
  return true;
}

static bool nat_exit(VM *vm, Value *args, int argc, Value *out) {
  (void)out;
  int64_t code = 0;
  if (argc > 0 && !lib_int_arg(vm, args[0], "exit", &code)) return false;
  fflush(vm->out);
  fflush(vm->err);
  exit((int)code);
}

/* read_file(path) -> Result<String>: the whole file; pipes and devices
 * are read up to 256 MiB (lib_read_input). */
static bool nat_read_file(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *path;
  if (!lib_str_arg(vm, args[0], "read_file", &path)) return false;
  LibBytes b;
  char err[PATH_MAX + 128];
  if (!lib_read_input(path->chars, &b, err, sizeof err)) return lib_err_msg(vm, out, "%s", err);
  ObjString *s = str_copy(vm, (const char *)b.data, b.len);
  free(b.data);
  return lib_ok(vm, OBJ_VAL(s), out);
}

static bool nat_write_file(VM *vm, Value *args, int argc, Value *out) {
  (void)argc;
  ObjString *path;
  if (!lib_str_arg(vm, args[0], "write_file", &path)) return false;
  ObjString *text = format_value(vm, args[1], false);
  if (!text) return false;
  FILE *f = fopen(path->chars, "wb");
  if (!f) return lib_err_msg(vm, out, "cannot open %s: %s", path->chars, strerror(errno));
  size_t n = fwrite(text->chars, 1, text->len, f);
  int err = errno;
  if (fclose(f) != 0 || n != text->len)
    return lib_err_msg(vm, out, "cannot write %s: %s", path->chars, strerror(err ? err : errno));
  return lib_ok(vm, UNIT_VAL, out);
}

/* ---- setup ---- */

static void constant(VM *vm, const char *name, Value v) {
  module_define(vm, vm->prelude, name, v, GLOBAL_BUILTIN);
}

static void class_global(VM *vm, const char *name, ObjClass *cls) {
  if (cls) constant(vm, name, OBJ_VAL(cls));
}

static void free_lang(VM *vm) {
  if (vm->tc) tensor_ctx_free(vm->tc);
}

static void error_unwind(VM *vm) {
  if (vm->tc) vm->tc->grad_enabled = 1;
}

void vm_set_limits(VM *vm, uint64_t budget, size_t max_tensor_bytes) {
  vm->budget = budget;
  vm->steps = 0;
  vm->max_tensor_bytes = max_tensor_bytes;
  vm->limited = budget != 0 || max_tensor_bytes != 0;
  if (vm->tc) vm->tc->max_bytes = max_tensor_bytes;
}

VM *lang_vm_new(void) {
  VM *vm = vm_new();
  if (!vm) return NULL;
  HEAP(vm)->gc_pause++;
  builtins_init(vm);
  HEAP(vm)->gc_pause--;
  return vm;
}

void builtins_init(VM *vm) {
  vm->lang = (LangHooks){
      .format_value = format_value,
      .format_spec = format_spec,
      .clone = lib_clone,
      .tensor_binary = lib_tensor_binary,
      .tensor_inplace = lib_tensor_inplace,
      .tensor_unary = lib_tensor_unary,
      .tensor_get_field = lib_tensor_get_field,
      .tensor_set_field = lib_tensor_set_field,
      .tensor_get_index = lib_tensor_get_index,
      .tensor_set_index = lib_tensor_set_index,
      .quantity_binary = lib_units_binary,
      .quantity_unary = lib_units_unary,
      .quantity_compare = lib_units_compare,
      .quantity_get_field = lib_units_get_field,
      .format_float = format_float,
      .error_unwind = error_unwind,
      .free = free_lang,
  };
  vm->prelude = module_new(vm, str_cstr(vm, "prelude"), str_cstr(vm, "<stdlib>/prelude"));

  static const struct {
    const char *name;
    NativeFn fn;
    int min, max;
  } globals[] = {
    {"print", nat_print, 0, -1},       {"println", nat_println, 0, -1},
    {"print!", nat_print_inline, 0, -1},
    {"eprint", nat_eprint, 0, -1},     {"eprintln", nat_eprintln, 0, -1},
    {"panic", nat_panic, 0, 1},        {"unreachable", nat_unreachable, 0, 1},
    {"assert", nat_assert, 1, 2},      {"assert_eq", nat_assert_eq, 2, 3},
    {"assert_ne", nat_assert_ne, 2, 3}, {"dbg", nat_dbg, 1, 1},
    {"len", nat_len, 1, 1},            {"type_of", nat_type_of, 1, 1},
    {"str", nat_str, 1, 1},            {"to_string", nat_str, 1, 1},
    {"int", nat_int, 1, 1},            {"float", nat_float, 1, 1},
    {"abs", nat_abs, 1, 1},            {"min", nat_min, 1, -1},
    {"max", nat_max, 1, -1},           {"sqrt", nat_sqrt, 1, 1},
    {"cbrt", nat_cbrt, 1, 1},          {"exp", nat_exp, 1, 1},
    {"ln", nat_ln, 1, 1},              {"log", nat_log, 1, 2},
    {"log2", nat_log2, 1, 1},          {"log10", nat_log10, 1, 1},
    {"sin", nat_sin, 1, 1},            {"cos", nat_cos, 1, 1},
    {"tan", nat_tan, 1, 1},            {"asin", nat_asin, 1, 1},
    {"acos", nat_acos, 1, 1},          {"atan", nat_atan, 1, 1},
    {"atan2", nat_atan2, 2, 2},        {"sinh", nat_sinh, 1, 1},
    {"cosh", nat_cosh, 1, 1},          {"tanh", nat_tanh, 1, 1},
    {"floor", nat_floor, 1, 1},        {"ceil", nat_ceil, 1, 1},
    {"round", nat_round, 1, 2},        {"trunc", nat_trunc, 1, 1},
    {"pow", nat_pow, 2, 2},            {"hypot", nat_hypot, 2, 2},
    {"clamp", nat_clamp, 3, 3},        {"sign", nat_sign, 1, 1},
    {"sum", nat_sum, 1, 1},            {"prod", nat_prod, 1, 1},
    {"range", nat_range, 1, 3},        {"sorted", nat_sorted, 1, 2},
    {"enumerate", nat_enumerate, 1, 1}, {"zip", nat_zip, 2, -1},
    {"complex", nat_complex, 1, 2},    {"conj", nat_conj, 1, 1},
    {"arg", nat_arg, 1, 1},            {"re", nat_re, 1, 1},
    {"im", nat_im, 1, 1},              {"args", nat_args, 0, 0},
    {"input", nat_input, 0, 1},        {"clock", nat_clock, 0, 0},
    {"time_ns", nat_time_ns, 0, 0},    {"exit", nat_exit, 0, 1},
    {"read_file", nat_read_file, 1, 1}, {"write_file", nat_write_file, 2, 2},
  };
  for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++)
    lib_global(vm, globals[i].name, globals[i].fn, globals[i].min, globals[i].max);

  const double pi = 3.14159265358979323846, e = 2.71828182845904523536;
  constant(vm, "π", FLOAT_VAL(pi));
  constant(vm, "pi", FLOAT_VAL(pi));
  constant(vm, "PI", FLOAT_VAL(pi));
  constant(vm, "τ", FLOAT_VAL(2 * pi));
  constant(vm, "TAU", FLOAT_VAL(2 * pi));
  constant(vm, "ℯ", FLOAT_VAL(e));
  constant(vm, "E", FLOAT_VAL(e));
  constant(vm, "INF", FLOAT_VAL(INFINITY));
  constant(vm, "NAN", FLOAT_VAL(NAN));

  lib_num_init(vm);
  lib_string_init(vm);
  lib_list_init(vm);
  lib_map_init(vm);
  lib_tensor_init(vm);
  lib_data_init(vm);
  lib_checkpoint_init(vm);
  lib_units_init(vm);
  lib_ffi_init(vm);
  class_global(vm, "Vec", vm->class_of_obj[OBJ_LIST]);
  class_global(vm, "String", vm->class_of_obj[OBJ_STRING]);
  class_global(vm, "HashMap", vm->class_of_obj[OBJ_MAP]);
}
