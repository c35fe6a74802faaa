/* Display and Debug forms of values, format specs, and the byte buffer the
 * library builds strings in.
 *
 * Display (`{}`) prints strings and chars raw; Debug (`{:?}`) quotes them.
 * Inside a container an element is always shown quoted ("nested" form), so
 * `["a", 1]` prints as written. A struct or enum whose class has a
 * `fmt` (the Display trait) or `to_string` method displays through it,
 * except in Debug form, which always shows the fields. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtins.h"
#include "tensor.h"
#include "units.h"

/* ---- numbers ---- */

/* The shortest decimal that reads back as d (finite, any sign): its
 * significant digits into digits[] (1..17, no sign, no point) and the
 * decimal exponent of the first digit. For each length, printf's correctly
 * rounded digits are tried first, then the neighbour one unit above and
 * below in the last place: when d lies on a tie (2^-24 = 5.9604644775390625e-08
 * rounds to ...062 at 16 digits, which reads back as a smaller double) only
 * a neighbour (...063) is both short and exact. */
static int shortest_digits(double d, char digits[18], int *exp10) {
  char tmp[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, fabs(d));
    int e = atoi(strchr(tmp, 'e') + 1);
    uint64_t m = 0; /* the p digits as an integer */
    for (const char *c = tmp; *c != 'e'; c++)
      if (*c != '.') m = m * 10 + (uint64_t)(*c - '0');
    uint64_t cand[3] = {m, m + 1, m - 1};
    for (int k = 0; k < (p == 17 ? 1 : 3); k++) {
      char num[48];
      int n = snprintf(num, sizeof num, "%llu", (unsigned long long)cand[k]);
      if (n != p) continue; /* carried into a new digit or lost one: not p digits */
      char back[64];
      snprintf(back, sizeof back, "%se%d", num, e - (p - 1));
      if (strtod(back, NULL) == fabs(d)) {
        memcpy(digits, num, (size_t)p + 1);
        *exp10 = e;
        return p;
      }
    }
  }
  return 0; /* not reached: 17 digits always read back */
}

/* d's digits in C's exponent form: "5.960464477539063e-08", "1e+20". */
static int exponent_form(char *buf, size_t size, bool neg, const char *digits, int exp) {
  return snprintf(buf, size, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0], digits[1] ? "." : "",
                  digits + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/* The shortest round-trip form: fixed notation for decimal exponents in
 * [-4, 15] (as Python's repr), else C's exponent form "1e+20", "1.5e-07".
 * With `point`, a fixed-notation integer gets ".0" so it reads as a float. */
static void float_repr(char *buf, size_t size, double d, bool point) {
  if (isnan(d)) {
    snprintf(buf, size, "NaN");
    return;
  }
  if (isinf(d)) {
    snprintf(buf, size, d < 0 ? "-inf" : "inf");
    return;
  }
  char digits[18];
  int exp;
  int p = shortest_digits(d, digits, &exp);
  if (exp < -4 || exp >= 16) {
    exponent_form(buf, size, signbit(d), digits, exp);
    return;
  }
  /* at most 1 + 4 zeros + 17 digits + point + ".0" + sign: fits in 32 */
  char out[32];
  size_t n = 0;
  if (signbit(d)) out[n++] = '-';
  if (exp < 0) {
    out[n++] = '0';
    out[n++] = '.';
    for (int i = -1; i > exp; i--) out[n++] = '0';
    for (int i = 0; i < p; i++) out[n++] = digits[i];
  } else {
    for (int i = 0; i <= exp; i++) out[n++] = i < p ? digits[i] : '0';
    if (p > exp + 1) {
      out[n++] = '.';
      for (int i = exp + 1; i < p; i++) out[n++] = digits[i];
    } else if (point) {
      out[n++] = '.';
      out[n++] = '0';
    }
  }
  out[n] = '\0';
  snprintf(buf, size, "%s", out);
}

void format_float(char *buf, size_t size, double d) { float_repr(buf, size, d, true); }

/* A float in a spec's style: type 'f' (fixed), 'e', 'g' or '%' with
 * precision prec (-1: the type's default). NaN and infinities keep their
 * Display spelling. */
static void float_styled(StrBuf *sb, double d, char type, int prec) {
  if (isnan(d) || isinf(d)) {
    char buf[8];
    float_repr(buf, sizeof buf, d, false);
    strbuf_adds(sb, buf);
    if (type == '%') strbuf_addc(sb, '%');
    return;
  }
  switch (type) {
  case 'e':
    if (prec < 0) {
      char digits[18], buf[40];
      int exp;
      shortest_digits(d, digits, &exp);
      exponent_form(buf, sizeof buf, signbit(d), digits, exp);
      strbuf_adds(sb, buf);
    } else {
      strbuf_printf(sb, "%.*e", prec, d);
    }
    break;
  case 'g': strbuf_printf(sb, "%.*g", prec < 0 ? 6 : (prec == 0 ? 1 : prec), d); break;
  case '%': strbuf_printf(sb, "%.*f%%", prec < 0 ? 6 : prec, d * 100.0); break;
  default: strbuf_printf(sb, "%.*f", prec < 0 ? 6 : prec, d); break;
  }
}

/* ---- values ---- */

enum { FM_DISPLAY, FM_NESTED, FM_DEBUG };
#define FMT_MAX_DEPTH 48

typedef struct {
  VM *vm;
  char ftype; /* floats: 0 shortest, or a spec type 'f' 'e' 'g' '%' */
  int prec;   /* floats: precision, -1 none */
  int depth;
  Obj *open[FMT_MAX_DEPTH]; /* containers being printed, for cycles */
} Fmt;

static bool fmt_value(Fmt *f, StrBuf *sb, Value v, int mode);

static void fmt_float(Fmt *f, StrBuf *sb, double d) {
  if (f->ftype == 0 && f->prec < 0) {
    char buf[40];
    format_float(buf, sizeof buf, d);
    strbuf_adds(sb, buf);
  } else {
    float_styled(sb, d, f->ftype ? f->ftype : 'f', f->prec);
  }
}

static void fmt_complex(Fmt *f, StrBuf *sb, double re, double im) {
  char buf[40];
  if (f->ftype == 0 && f->prec < 0) {
    float_repr(buf, sizeof buf, re, false);
    strbuf_adds(sb, buf);
    strbuf_addc(sb, signbit(im) && !isnan(im) ? '-' : '+');
    float_repr(buf, sizeof buf, fabs(im), false);
    strbuf_adds(sb, buf);
  } else {
    char type = f->ftype ? f->ftype : 'f';
    float_styled(sb, re, type, f->prec);
    strbuf_addc(sb, signbit(im) && !isnan(im) ? '-' : '+');
    float_styled(sb, fabs(im), type, f->prec);
  }
  strbuf_addc(sb, 'i');
}

/* 9.8 m/s²: the number in the display unit, styled like a float; a
 * complex one in parentheses: (0-6.626e-34i) J⋅s. */
static void fmt_quantity(Fmt *f, StrBuf *sb, const ObjQuantity *q) {
  if (q->cplx) {
    strbuf_addc(sb, '(');
    fmt_complex(f, sb, q->value / q->scale, q->im / q->scale);
    strbuf_addc(sb, ')');
  } else {
    fmt_float(f, sb, q->value / q->scale);
  }
  strbuf_addc(sb, ' ');
  strbuf_adds(sb, q->unit);
}

/* Escape one code point for a quoted string (quote = '"') or char ('\''). */
static void add_escaped(StrBuf *sb, int64_t c, char quote) {
  switch (c) {
  case '\n': strbuf_adds(sb, "\\n"); return;
  case '\t': strbuf_adds(sb, "\\t"); return;
  case '\r': strbuf_adds(sb, "\\r"); return;
  case '\0': strbuf_adds(sb, "\\0"); return;
  case '\\': strbuf_adds(sb, "\\\\"); return;
  default: break;
  }
  if (c == quote) {
    strbuf_addc(sb, '\\');
    strbuf_addc(sb, quote);
  } else if (c < 0x20 || c == 0x7F) {
    strbuf_printf(sb, "\\u{%x}", (unsigned)c);
  } else {
    strbuf_add_utf8(sb, c);
  }
}

static void add_quoted(StrBuf *sb, const char *s, size_t len) {
  strbuf_addc(sb, '"');
  size_t start = 0, i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F) {
      i++;
      continue;
    }
    strbuf_add(sb, s + start, i - start);
    add_escaped(sb, c, '"');
    start = ++i;
  }
  strbuf_add(sb, s + start, len - start);
  strbuf_addc(sb, '"');
}

/* The mode of a container's elements: Debug stays Debug, Display quotes. */
static int inner_mode(int mode) { return mode == FM_DEBUG ? FM_DEBUG : FM_NESTED; }

static bool fmt_seq(Fmt *f, StrBuf *sb, const Value *items, uint32_t n, int mode) {
  for (uint32_t i = 0; i < n; i++) {
    if (i) strbuf_adds(sb, ", ");
    if (!fmt_value(f, sb, items[i], inner_mode(mode))) return false;
  }
  return true;
}

/* A list's length and items are read again after each element: an
 * element's to_string may change the list. */
static bool fmt_list(Fmt *f, StrBuf *sb, ObjList *l, int mode) {
  for (uint32_t i = 0; i < l->len; i++) {
    if (i) strbuf_adds(sb, ", ");
    if (!fmt_value(f, sb, l->items[i], inner_mode(mode))) return false;
  }
  return true;
}

/* Fields of a struct or struct variant: ` { x: 1, y: 2 }`, or `(1, 2)` for
 * tuple shapes (names NULL). */
static bool fmt_fields(Fmt *f, StrBuf *sb, ObjString **names, const Value *fields, uint32_t n,
                       int mode) {
  if (n == 0) return true;
  if (!names) {
    strbuf_addc(sb, '(');
    if (!fmt_seq(f, sb, fields, n, mode)) return false;
    strbuf_addc(sb, ')');
    return true;
  }
  strbuf_adds(sb, " { ");
  for (uint32_t i = 0; i < n; i++) {
    if (i) strbuf_adds(sb, ", ");
    strbuf_add(sb, names[i]->chars, names[i]->len);
    strbuf_adds(sb, ": ");
    if (!fmt_value(f, sb, fields[i], inner_mode(mode))) return false;
  }
  strbuf_adds(sb, " }");
  return true;
}

/* A struct or enum value through its class's to_string method, if any;
 * *done tells whether there was one. */
static bool fmt_user(Fmt *f, StrBuf *sb, Value v, ObjClass *cls, bool *done) {
  *done = false;
  Value method;
  const char *name = "fmt"; /* the prelude's Display trait */
  if (!table_get(&cls->methods, str_cstr(f->vm, name), &method) || !value_is_callable(method)) {
    name = "to_string";
    if (!table_get(&cls->methods, str_cstr(f->vm, name), &method) || !value_is_callable(method))
      return true;
  }
  *done = true;
  Value res;
  if (!vm_call(f->vm, method, &v, 1, &res)) return false;
  if (!IS_STRING(res))
    return vm_error(f->vm, "`%s::%s` returned %s, expected a string", cls->name->chars, name,
                    value_type_name(res));
  strbuf_add(sb, AS_STRING(res)->chars, AS_STRING(res)->len);
  return true;
}

static void fmt_range(StrBuf *sb, ObjRange *r) {
  bool stepped = (r->flags & RANGE_HAS_STEP) && r->step != 1;
  if (stepped) strbuf_addc(sb, '(');
  if (r->flags & RANGE_HAS_LO) strbuf_printf(sb, "%lld", (long long)r->lo);
  strbuf_adds(sb, (r->flags & RANGE_INCLUSIVE) ? "..=" : "..");
  if (r->flags & RANGE_HAS_HI) strbuf_printf(sb, "%lld", (long long)r->hi);
  if (stepped) strbuf_printf(sb, ").step_by(%lld)", (long long)r->step);
}

static const char *class_kind_name(ClassKind k) {
  switch (k) {
  case CLASS_STRUCT: return "struct";
  case CLASS_ENUM: return "enum";
  case CLASS_TRAIT: return "trait";
  default: return "type";
  }
}

static const char *fn_name(Value fn) {
  if (IS_OBJ_TYPE(fn, OBJ_CLOSURE)) return AS_CLOSURE(fn)->proto->name->chars;
  if (IS_OBJ_TYPE(fn, OBJ_NATIVE)) return AS_NATIVE(fn)->name->chars;
  if (IS_OBJ_TYPE(fn, OBJ_PROTO)) return AS_PROTO(fn)->name->chars;
  return "?";
}

/* ---- tensors ---- */

/* PyTorch's layout: `tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])`,
 * floats with 4 decimals (scientific when the magnitudes call for it),
 * columns right-aligned to the widest element, one row per line and a
 * blank line between blocks of 3-d and up. Above TENSOR_ELIDE elements
 * only the first and last TENSOR_EDGE entries of each dim are shown. */
#define TENSOR_ELIDE 1000
#define TENSOR_EDGE 3

typedef struct {
  const ObjTensor *t;
  bool elide, sci;
  int width;
  int64_t idx[NS_MAX_DIMS];
} TFmt;

static void tensor_elem_str(const TFmt *f, char *buf, size_t n) {
  const ObjTensor *t = f->t;
  int64_t off = 0;
  for (int d = 0; d < t->ndim; d++) off += f->idx[d] * t->strides[d];
  const void *p = tensor_data(t);
  double v;
  switch (t->dtype) {
  case DT_I64: snprintf(buf, n, "%lld", (long long)((const int64_t *)p)[off]); return;
  case DT_BOOL: snprintf(buf, n, "%s", ((const uint8_t *)p)[off] ? "true" : "false"); return;
  case DT_F32: v = ((const float *)p)[off]; break;
  default: v = ((const double *)p)[off]; break;
  }
  if (isnan(v)) snprintf(buf, n, "nan");
  else if (isinf(v)) snprintf(buf, n, v < 0 ? "-inf" : "inf");
  else snprintf(buf, n, f->sci ? "%.4e" : "%.4f", v);
}

static bool tensor_skip(const TFmt *f, int d, int64_t *i) {
  int64_t n = f->t->shape[d];
  if (f->elide && n > 2 * TENSOR_EDGE && *i == TENSOR_EDGE) {
    *i = n - TENSOR_EDGE;
    return true;
  }
  return false;
}

/* Visit the shown elements: measure (sb NULL: widest element, magnitude
 * range) or print. */
static void tensor_walk(TFmt *f, StrBuf *sb, int d, double *lo, double *hi) {
  const ObjTensor *t = f->t;
  char buf[64];
  if (d == t->ndim) {
    if (!sb) {
      tensor_elem_str(f, buf, sizeof buf);
      int w = (int)strlen(buf);
      if (w > f->width) f->width = w;
      if (lo) {
        int64_t flat = 0;
        for (int k = 0; k < t->ndim; k++) flat = flat * t->shape[k] + f->idx[k];
        double a = fabs(tensor_get(t, flat));
        if (isfinite(a) && a > 0) {
          if (a < *lo) *lo = a;
          if (a > *hi) *hi = a;
        }
      }
      return;
    }
    tensor_elem_str(f, buf, sizeof buf);
    for (int k = (int)strlen(buf); k < f->width; k++) strbuf_addc(sb, ' ');
    strbuf_adds(sb, buf);
    return;
  }
  if (sb) strbuf_addc(sb, '[');
  for (int64_t i = 0; i < t->shape[d]; i++) {
    if (sb && i > 0) {
      strbuf_addc(sb, ',');
      if (d == t->ndim - 1) {
        strbuf_addc(sb, ' ');
      } else {
        for (int k = d; k < t->ndim - 1; k++) strbuf_addc(sb, '\n');
        for (int k = 0; k < 8 + d; k++) strbuf_addc(sb, ' ');
      }
    }
    if (tensor_skip(f, d, &i) && sb) {
      strbuf_adds(sb, "...,");
      if (d == t->ndim - 1) {
        strbuf_addc(sb, ' ');
      } else {
        for (int k = d; k < t->ndim - 1; k++) strbuf_addc(sb, '\n');
        for (int k = 0; k < 8 + d; k++) strbuf_addc(sb, ' ');
      }
    }
    f->idx[d] = i;
    tensor_walk(f, sb, d + 1, lo, hi);
  }
  if (sb) strbuf_addc(sb, ']');
}

static void fmt_tensor(StrBuf *sb, const ObjTensor *t) {
  TFmt f = {.t = t, .elide = t->numel > TENSOR_ELIDE};
  strbuf_adds(sb, "tensor(");
  if (t->numel == 0) {
    strbuf_adds(sb, "[]");
    if (t->ndim > 1) {
      char buf[160];
      strbuf_printf(sb, ", shape=%s", tensor_shape_str(t, buf, sizeof buf));
    }
  } else {
    if (t->dtype == DT_F32 || t->dtype == DT_F64) {
      double lo = INFINITY, hi = 0;
      tensor_walk(&f, NULL, 0, &lo, &hi);
      f.sci = hi >= 1e8 || (hi > 0 && lo < 1e-4);
      f.width = 0;
    }
    tensor_walk(&f, NULL, 0, NULL, NULL);
    tensor_walk(&f, sb, 0, NULL, NULL);
  }
  if (t->dtype != DT_F32) strbuf_printf(sb, ", dtype=%s", tensor_dtype_names[t->dtype]);
  if (t->requires_grad) strbuf_adds(sb, ", requires_grad=true");
  strbuf_addc(sb, ')');
}

static bool fmt_obj(Fmt *f, StrBuf *sb, Value v, int mode) {
  Obj *o = v.as.o;
  switch (o->type) {
  case OBJ_STRING:
    if (mode == FM_DISPLAY)
      strbuf_add(sb, AS_STRING(v)->chars, AS_STRING(v)->len);
    else
      add_quoted(sb, AS_STRING(v)->chars, AS_STRING(v)->len);
    return true;
  case OBJ_RANGE: fmt_range(sb, AS_RANGE(v)); return true;
  case OBJ_COMPLEX: fmt_complex(f, sb, AS_COMPLEX(v)->re, AS_COMPLEX(v)->im); return true;
  case OBJ_QUANTITY: fmt_quantity(f, sb, AS_QUANTITY(v)); return true;
  case OBJ_CLASS:
    strbuf_printf(sb, "<%s %s>", class_kind_name(AS_CLASS(v)->kind), AS_CLASS(v)->name->chars);
    return true;
  case OBJ_PROTO:
  case OBJ_CLOSURE:
  case OBJ_NATIVE: strbuf_printf(sb, "<fn %s>", fn_name(v)); return true;
  case OBJ_BOUND: strbuf_printf(sb, "<fn %s>", fn_name(AS_BOUND(v)->method)); return true;
  case OBJ_CTOR: {
    ObjCtor *c = AS_CTOR(v);
    strbuf_printf(sb, "<fn %s::%s>", c->cls->name->chars, c->cls->variants[c->tag].name->chars);
    return true;
  }
  case OBJ_MODULE: strbuf_printf(sb, "<module %s>", AS_MODULE(v)->name->chars); return true;
  case OBJ_TYPESPEC: strbuf_printf(sb, "<type %s>", AS_TYPESPEC(v)->text->chars); return true;
  case OBJ_UPVALUE: strbuf_adds(sb, "<upvalue>"); return true;
  case OBJ_TENSOR: fmt_tensor(sb, AS_TENSOR(v)); return true;
  case OBJ_GRADNODE: strbuf_printf(sb, "<grad_fn %s>", tensor_ops[((GradNode *)o)->op].name); return true;
  default: break;
  }

  /* containers: guard against cycles and runaway depth */
  for (int i = 0; i < f->depth; i++) {
    if (f->open[i] == o) {
      strbuf_adds(sb, o->type == OBJ_LIST ? "[...]" : o->type == OBJ_MAP ? "{...}" : "...");
      return true;
    }
  }
  if (f->depth >= FMT_MAX_DEPTH) {
    strbuf_adds(sb, "...");
    return true;
  }
  f->open[f->depth++] = o;
  bool ok = true;
  switch (o->type) {
  case OBJ_LIST:
    strbuf_addc(sb, '[');
    ok = fmt_list(f, sb, AS_LIST(v), mode);
    strbuf_addc(sb, ']');
    break;
  case OBJ_TUPLE:
    strbuf_addc(sb, '(');
    ok = fmt_seq(f, sb, AS_TUPLE(v)->items, AS_TUPLE(v)->len, mode);
    if (AS_TUPLE(v)->len == 1) strbuf_addc(sb, ',');
    strbuf_addc(sb, ')');
    break;
  case OBJ_MAP: {
    ObjMap *m = AS_MAP(v);
    strbuf_addc(sb, '{');
    bool first = true;
    for (uint32_t i = 0; i < m->nentries && ok; i++) {
      if (IS_UNDEF(m->keys[i])) continue;
      if (!first) strbuf_adds(sb, ", ");
      first = false;
      ok = fmt_value(f, sb, m->keys[i], inner_mode(mode));
      strbuf_adds(sb, ": ");
      ok = ok && fmt_value(f, sb, m->values[i], inner_mode(mode));
    }
    strbuf_addc(sb, '}');
    break;
  }
  case OBJ_INSTANCE: {
    ObjInstance *in = AS_INSTANCE(v);
    bool done = false;
    if (mode != FM_DEBUG) ok = fmt_user(f, sb, v, in->cls, &done);
    if (ok && !done) {
      strbuf_add(sb, in->cls->name->chars, in->cls->name->len);
      ok = fmt_fields(f, sb, in->cls->is_tuple_struct ? NULL : in->cls->field_names, in->fields,
                      in->cls->nfields, mode);
    }
    break;
  }
  case OBJ_VARIANT: {
    ObjVariant *e = AS_VARIANT(v);
    bool done = false;
    if (mode != FM_DEBUG) ok = fmt_user(f, sb, v, e->cls, &done);
    if (ok && !done) {
      VariantInfo *info = &e->cls->variants[e->tag];
      strbuf_add(sb, info->name->chars, info->name->len);
      ok = fmt_fields(f, sb, info->field_names, e->fields, e->nfields, mode);
    }
    break;
  }
  default: strbuf_printf(sb, "<%s>", value_type_name(v)); break;
  }
  f->depth--;
  return ok;
}

static bool fmt_value(Fmt *f, StrBuf *sb, Value v, int mode) {
  switch (v.type) {
  case VAL_UNDEF: strbuf_adds(sb, "<undefined>"); return true;
  case VAL_UNIT: strbuf_adds(sb, "()"); return true;
  case VAL_BOOL: strbuf_adds(sb, v.as.b ? "true" : "false"); return true;
  case VAL_INT: strbuf_printf(sb, "%lld", (long long)v.as.i); return true;
  case VAL_FLOAT: fmt_float(f, sb, v.as.f); return true;
  case VAL_CHAR:
    if (mode == FM_DISPLAY) {
      strbuf_add_utf8(sb, v.as.i);
    } else {
      strbuf_addc(sb, '\'');
      add_escaped(sb, v.as.i, '\'');
      strbuf_addc(sb, '\'');
    }
    return true;
  case VAL_OBJ: return fmt_obj(f, sb, v, mode);
  }
  return true;
}

static void fmt_init(Fmt *f, VM *vm) {
  f->vm = vm;
  f->ftype = 0;
  f->prec = -1;
  f->depth = 0;
}

/* The entry points keep v rooted: a to_string method runs interpreted code,
 * which may collect garbage, and the caller's copy of v may be its only
 * reference. */
bool format_append(VM *vm, StrBuf *sb, Value v, bool debug) {
  Fmt f;
  fmt_init(&f, vm);
  vm_push_root(vm, v);
  bool ok = fmt_value(&f, sb, v, debug ? FM_DEBUG : FM_DISPLAY);
  vm_pop_root(vm, 1);
  return ok;
}

ObjString *format_value(VM *vm, Value v, bool debug) {
  if (IS_STRING(v) && !debug) return AS_STRING(v);
  char buf[40];
  if (IS_INT(v)) {
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v.as.i);
    return str_copy(vm, buf, (size_t)n);
  }
  if (IS_FLOAT(v)) {
    format_float(buf, sizeof buf, v.as.f);
    return str_cstr(vm, buf);
  }
  StrBuf sb = {0};
  if (!format_append(vm, &sb, v, debug)) {
    strbuf_free(&sb);
    return NULL;
  }
  return strbuf_finish(vm, &sb);
}

void format_print(VM *vm, FILE *out, Value v) {
  Fmt f;
  fmt_init(&f, vm);
  StrBuf sb = {0};
  vm_push_root(vm, v);
  fmt_value(&f, &sb, v, FM_NESTED);
  vm_pop_root(vm, 1);
  if (sb.data) fwrite(sb.data, 1, sb.len, out);
  fputc('\n', out);
  if (out == vm->out) vm->out_midline = false;
  strbuf_free(&sb);
}

/* ---- format specs: [[fill]align][sign][#][0][width][.precision][type] ---- */

typedef struct {
  int64_t fill;
  char align; /* 0 (default), '<', '>', '^' */
  char sign;  /* 0, '+', '-', ' ' */
  bool alt, zero;
  int width, prec; /* -1: absent */
  char type;       /* 0 or one of "feg%xXbo?ds" */
} Spec;

#define SPEC_MAX_WIDTH 100000

static bool parse_spec(const char *s, size_t len, Spec *sp) {
  *sp = (Spec){' ', 0, 0, false, false, -1, -1, 0};
  size_t i = 0;
  if (len > 0) {
    int64_t cp;
    int n = utf8_decode(s, len, &cp);
    if ((size_t)n < len && strchr("<>^", s[n])) {
      sp->fill = cp;
      sp->align = s[n];
      i = (size_t)n + 1;
    } else if (strchr("<>^", s[0])) {
      sp->align = s[0];
      i = 1;
    }
  }
  if (i < len && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp->sign = s[i++];
  if (i < len && s[i] == '#') sp->alt = true, i++;
  if (i < len && s[i] == '0') sp->zero = true, i++;
  if (i < len && s[i] >= '0' && s[i] <= '9') {
    sp->width = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      sp->width = sp->width * 10 + (s[i++] - '0');
      if (sp->width > SPEC_MAX_WIDTH) return false;
    }
  }
  if (i < len && s[i] == '.') {
    i++;
    if (i >= len || s[i] < '0' || s[i] > '9') return false;
    sp->prec = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      sp->prec = sp->prec * 10 + (s[i++] - '0');
      if (sp->prec > 1000) return false;
    }
  }
  if (i < len && s[i] != '\0' && strchr("feg%xXbo?ds", s[i])) sp->type = s[i++];
  return i == len;
}

/* An integer in base 16, 8 or 2 as sign and magnitude ("-ff"). */
static void int_radix(StrBuf *sb, int64_t v, char type, bool alt) {
  uint64_t m = v < 0 ? -(uint64_t)v : (uint64_t)v;
  if (v < 0) strbuf_addc(sb, '-');
  if (alt) strbuf_adds(sb, type == 'b' ? "0b" : type == 'o' ? "0o" : "0x");
  if (type == 'b') {
    char buf[65];
    int n = 0;
    do buf[n++] = (char)('0' + (m & 1)); while (m >>= 1);
    while (n) strbuf_addc(sb, buf[--n]);
  } else {
    strbuf_printf(sb, type == 'o' ? "%llo" : type == 'x' ? "%llx" : "%llX", (unsigned long long)m);
  }
}

/* Keep the first n code points of sb. */
static void truncate_chars(StrBuf *sb, int n) {
  size_t i = 0;
  for (int k = 0; k < n && i < sb->len; k++) {
    i++;
    while (i < sb->len && ((unsigned char)sb->data[i] & 0xC0) == 0x80) i++;
  }
  if (i < sb->len) {
    sb->len = i;
    sb->data[i] = '\0';
  }
}

static bool spec_invalid(VM *vm, Value v, const char *spec, size_t len) {
  return vm_error(vm, "format spec `%.*s` is not valid for %s", (int)len, spec,
                  value_type_name(v));
}

ObjString *format_spec(VM *vm, Value v, const char *spec, size_t speclen) {
  Spec sp;
  if (!parse_spec(spec, speclen, &sp)) {
    vm_error(vm, "invalid format spec `%.*s`", (int)speclen, spec);
    return NULL;
  }
  Fmt f;
  fmt_init(&f, vm);
  f.prec = sp.prec;
  StrBuf body = {0};
  vm_push_root(vm, v);
  bool numeric = IS_NUM(v) || IS_OBJ_TYPE(v, OBJ_COMPLEX) || IS_QUANTITY(v);
  bool ok = true;
  switch (sp.type) {
  case '?': ok = fmt_value(&f, &body, v, FM_DEBUG); break;
  case 's':
    ok = fmt_value(&f, &body, v, FM_DISPLAY);
    if (sp.prec >= 0) truncate_chars(&body, sp.prec);
    break;
  case 0:
    if (IS_INT(v) && sp.prec >= 0) {
      float_styled(&body, (double)v.as.i, 'f', sp.prec);
    } else {
      ok = fmt_value(&f, &body, v, FM_DISPLAY);
      if (IS_STRING(v) && sp.prec >= 0) truncate_chars(&body, sp.prec);
    }
    break;
  case 'f':
  case 'e':
  case 'g':
  case '%':
    f.ftype = sp.type;
    if (IS_NUM(v)) {
      float_styled(&body, AS_NUM(v), sp.type, sp.prec);
    } else if (IS_OBJ_TYPE(v, OBJ_COMPLEX) || IS_QUANTITY(v) || IS_LIST(v) || IS_TUPLE(v)) {
      ok = fmt_value(&f, &body, v, FM_DISPLAY);
    } else {
      spec_invalid(vm, v, spec, speclen);
      ok = false;
    }
    break;
  default: /* d x X b o */
    if (!IS_INT(v)) {
      spec_invalid(vm, v, spec, speclen);
      ok = false;
    } else if (sp.type == 'd') {
      strbuf_printf(&body, "%lld", (long long)v.as.i);
    } else {
      int_radix(&body, v.as.i, sp.type, sp.alt);
    }
    break;
  }
  vm_pop_root(vm, 1);
  if (!ok) {
    strbuf_free(&body);
    return NULL;
  }
  if (sp.width < 0 && sp.sign == 0) return strbuf_finish(vm, &body);

  /* split a number into sign, radix prefix and digits for sign and zero padding */
  StrBuf out = {0};
  const char *digits = body.data ? body.data : "";
  size_t ndigits = body.len;
  char signch = 0;
  if (numeric && ndigits > 0 && digits[0] == '-') {
    signch = '-';
    digits++;
    ndigits--;
  } else if (numeric && (sp.sign == '+' || sp.sign == ' ')) {
    signch = sp.sign;
  }
  size_t nprefix = 0;
  if (sp.alt && ndigits >= 2 && digits[0] == '0' && strchr("xbo", digits[1])) nprefix = 2;
  size_t count = (signch ? 1 : 0) + utf8_count(digits, ndigits);
  size_t width = sp.width > 0 ? (size_t)sp.width : 0;
  if (numeric && sp.zero && sp.align == 0 && count < width) {
    if (signch) strbuf_addc(&out, signch);
    strbuf_add(&out, digits, nprefix);
    for (size_t i = count; i < width; i++) strbuf_addc(&out, '0');
    strbuf_add(&out, digits + nprefix, ndigits - nprefix);
  } else {
    size_t pad = count < width ? width - count : 0;
    char align = sp.align ? sp.align : numeric ? '>' : '<';
    size_t left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
    for (size_t i = 0; i < left; i++) strbuf_add_utf8(&out, sp.fill);
    if (signch) strbuf_addc(&out, signch);
    strbuf_add(&out, digits, ndigits);
    for (size_t i = left; i < pad; i++) strbuf_add_utf8(&out, sp.fill);
  }
  strbuf_free(&body);
  return strbuf_finish(vm, &out);
}
