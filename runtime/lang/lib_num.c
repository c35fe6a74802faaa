/* Methods of the scalar types: unit, bool, int, float, char and complex,
 * plus the methods every value has (to_string, clone). Ints also accept the
 * float methods (`2.sqrt()`), computing in floating point. */
#include <complex.h>
#include <math.h>

#include "builtins.h"

/* ---- methods of every value ---- */

static bool m_to_string(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  ObjString *s = format_value(vm, a[0], false);
  if (!s) return false;
  *out = OBJ_VAL(s);
  return true;
}

static bool m_clone(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = lib_clone(vm, a[0]);
  return true;
}

static bool m_type_of(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  *out = OBJ_VAL(str_cstr(vm, value_type_name(a[0])));
  return true;
}

void lib_add_common(VM *vm, ObjClass *cls) {
  lib_method(vm, cls, "to_string", m_to_string, 1, 1);
  lib_method(vm, cls, "clone", m_clone, 1, 1);
  lib_method(vm, cls, "type_of", m_type_of, 1, 1);
}

static void class_const(VM *vm, ObjClass *cls, const char *name, Value v) {
  table_set(vm, &cls->methods, str_cstr(vm, name), v);
}

/* ---- float methods (ints use them too) ---- */

#define FMETHOD(name, expr)                                           \
  static bool f_##name(VM *vm, Value *a, int n, Value *out) {         \
    (void)n;                                                          \
    double x;                                                         \
    if (!lib_num_arg(vm, a[0], #name, &x)) return false;              \
    *out = FLOAT_VAL(expr);                                           \
    return true;                                                      \
  }
#define FMETHOD2(name, expr)                                          \
  static bool f_##name(VM *vm, Value *a, int n, Value *out) {         \
    (void)n;                                                          \
    double x, y;                                                      \
    if (!lib_num_arg(vm, a[0], #name, &x) || !lib_num_arg(vm, a[1], #name, &y)) return false; \
    *out = FLOAT_VAL(expr);                                           \
    return true;                                                      \
  }
#define FPRED(name, expr)                                             \
  static bool f_##name(VM *vm, Value *a, int n, Value *out) {         \
    (void)n;                                                          \
    double x;                                                         \
    if (!lib_num_arg(vm, a[0], #name, &x)) return false;              \
    *out = BOOL_VAL(expr);                                            \
    return true;                                                      \
  }

FMETHOD(sqrt, sqrt(x))
FMETHOD(abs, fabs(x))
FMETHOD(exp, exp(x))
FMETHOD(exp2, exp2(x))
FMETHOD(exp_m1, expm1(x))
FMETHOD(ln, log(x))
FMETHOD(ln_1p, log1p(x))
FMETHOD(log10, log10(x))
FMETHOD(log2, log2(x))
FMETHOD(sin, sin(x))
FMETHOD(cos, cos(x))
FMETHOD(tan, tan(x))
FMETHOD(sinh, sinh(x))
FMETHOD(cosh, cosh(x))
FMETHOD(tanh, tanh(x))
FMETHOD(asin, asin(x))
FMETHOD(acos, acos(x))
FMETHOD(atan, atan(x))
FMETHOD(floor, floor(x))
FMETHOD(ceil, ceil(x))
FMETHOD(round, round(x))
FMETHOD(trunc, trunc(x))
FMETHOD(fract, x - trunc(x))
FMETHOD(recip, 1.0 / x)
FMETHOD(to_degrees, x * (180.0 / 3.14159265358979323846))
FMETHOD(to_radians, x * (3.14159265358979323846 / 180.0))
FMETHOD(to_float, x)
FMETHOD(signum, isnan(x) ? x : copysign(1.0, x))
FMETHOD2(log, log(x) / log(y))
FMETHOD2(powf, pow(x, y))
FMETHOD2(atan2, atan2(x, y))
FMETHOD2(hypot, hypot(x, y))
FMETHOD2(min, fmin(x, y))
FMETHOD2(max, fmax(x, y))
FMETHOD2(copysign, copysign(x, y))
FPRED(is_nan, isnan(x))
FPRED(is_finite, isfinite(x))
FPRED(is_infinite, isinf(x))
FPRED(is_sign_negative, signbit(x))
FPRED(is_sign_positive, !signbit(x))

static bool f_powi(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  double x;
  int64_t k;
  if (!lib_num_arg(vm, a[0], "powi", &x) || !lib_int_arg(vm, a[1], "powi", &k)) return false;
  *out = FLOAT_VAL(pow(x, (double)k));
  return true;
}

static bool f_cbrt(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (!IS_NUM(a[0])) return vm_error(vm, "cbrt expects a number, got %s", value_type_name(a[0]));
  return arith_unary(vm, AOP_CBRT, a[0], out);
}

static bool f_pow(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_POW, a[0], a[1], out);
}

static bool f_mul_add(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  double x, y, z;
  if (!lib_num_arg(vm, a[0], "mul_add", &x) || !lib_num_arg(vm, a[1], "mul_add", &y) ||
      !lib_num_arg(vm, a[2], "mul_add", &z))
    return false;
  *out = FLOAT_VAL(fma(x, y, z));
  return true;
}

static bool f_clamp(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  double x, lo, hi;
  if (!lib_num_arg(vm, a[0], "clamp", &x) || !lib_num_arg(vm, a[1], "clamp", &lo) ||
      !lib_num_arg(vm, a[2], "clamp", &hi))
    return false;
  if (lo > hi) return vm_error(vm, "clamp: the lower bound is above the upper bound");
  *out = FLOAT_VAL(x < lo ? lo : x > hi ? hi : x);
  return true;
}

static bool f_to_int(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_cast(vm, a[0], str_cstr(vm, "int"), out);
}

static void add_float_methods(VM *vm, ObjClass *c) {
  static const struct {
    const char *name;
    NativeFn fn;
    int min, max;
  } m[] = {
    {"sqrt", f_sqrt, 1, 1},       {"cbrt", f_cbrt, 1, 1},         {"abs", f_abs, 1, 1},
    {"exp", f_exp, 1, 1},         {"exp2", f_exp2, 1, 1},         {"exp_m1", f_exp_m1, 1, 1},
    {"ln", f_ln, 1, 1},           {"ln_1p", f_ln_1p, 1, 1},       {"log10", f_log10, 1, 1},
    {"log2", f_log2, 1, 1},       {"log", f_log, 2, 2},           {"sin", f_sin, 1, 1},
    {"cos", f_cos, 1, 1},         {"tan", f_tan, 1, 1},           {"sinh", f_sinh, 1, 1},
    {"cosh", f_cosh, 1, 1},       {"tanh", f_tanh, 1, 1},         {"asin", f_asin, 1, 1},
    {"acos", f_acos, 1, 1},       {"atan", f_atan, 1, 1},         {"atan2", f_atan2, 2, 2},
    {"floor", f_floor, 1, 1},     {"ceil", f_ceil, 1, 1},         {"round", f_round, 1, 1},
    {"trunc", f_trunc, 1, 1},     {"fract", f_fract, 1, 1},       {"recip", f_recip, 1, 1},
    {"to_degrees", f_to_degrees, 1, 1}, {"to_radians", f_to_radians, 1, 1},
    {"to_float", f_to_float, 1, 1}, {"to_int", f_to_int, 1, 1},   {"signum", f_signum, 1, 1},
    {"powf", f_powf, 2, 2},       {"powi", f_powi, 2, 2},         {"pow", f_pow, 2, 2},
    {"hypot", f_hypot, 2, 2},     {"min", f_min, 2, 2},           {"max", f_max, 2, 2},
    {"copysign", f_copysign, 2, 2}, {"mul_add", f_mul_add, 3, 3}, {"clamp", f_clamp, 3, 3},
    {"is_nan", f_is_nan, 1, 1},   {"is_finite", f_is_finite, 1, 1},
    {"is_infinite", f_is_infinite, 1, 1}, {"is_sign_negative", f_is_sign_negative, 1, 1},
    {"is_sign_positive", f_is_sign_positive, 1, 1},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) lib_method(vm, c, m[i].name, m[i].fn, m[i].min, m[i].max);
}

/* ---- int methods ---- */

static bool i_self(VM *vm, Value v, const char *who, int64_t *x) { return lib_int_arg(vm, v, who, x); }

static bool i_abs(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_unary(vm, AOP_ABS, a[0], out);
}

static bool i_pow(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_POW, a[0], a[1], out);
}

/* min/max of an int with another number keep whichever value wins. */
static bool i_extreme(VM *vm, Value *a, Value *out, int want, const char *who) {
  if (!IS_NUM(a[1])) return vm_error(vm, "%s expects a number, got %s", who, value_type_name(a[1]));
  int c;
  if (!lib_order(vm, a[1], a[0], &c)) return false;
  *out = c == want ? a[1] : a[0];
  return true;
}

static bool i_min(VM *vm, Value *a, int n, Value *out) { (void)n; return i_extreme(vm, a, out, -1, "min"); }
static bool i_max(VM *vm, Value *a, int n, Value *out) { (void)n; return i_extreme(vm, a, out, 1, "max"); }

static bool i_signum(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x;
  if (!i_self(vm, a[0], "signum", &x)) return false;
  *out = INT_VAL((x > 0) - (x < 0));
  return true;
}

static bool i_is_even(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x;
  if (!i_self(vm, a[0], "is_even", &x)) return false;
  *out = BOOL_VAL(x % 2 == 0);
  return true;
}

static bool i_is_odd(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x;
  if (!i_self(vm, a[0], "is_odd", &x)) return false;
  *out = BOOL_VAL(x % 2 != 0);
  return true;
}

static bool i_clamp(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x, lo, hi;
  if (!i_self(vm, a[0], "clamp", &x) || !lib_int_arg(vm, a[1], "clamp", &lo) ||
      !lib_int_arg(vm, a[2], "clamp", &hi))
    return false;
  if (lo > hi) return vm_error(vm, "clamp: the lower bound is above the upper bound");
  *out = INT_VAL(x < lo ? lo : x > hi ? hi : x);
  return true;
}

/* Euclidean division: the remainder is never negative. */
static bool i_euclid(VM *vm, Value *a, Value *out, bool rem) {
  int64_t x, y;
  const char *who = rem ? "rem_euclid" : "div_euclid";
  if (!i_self(vm, a[0], who, &x) || !lib_int_arg(vm, a[1], who, &y)) return false;
  if (y == 0) return vm_error(vm, "division by zero");
  if (x == INT64_MIN && y == -1) {
    if (rem) {
      *out = INT_VAL(0);
      return true;
    }
    return vm_error(vm, "integer overflow in `%s`", who);
  }
  int64_t q = x / y, r = x % y;
  if (r < 0) {
    if (y > 0) q -= 1, r += y;
    else q += 1, r -= y;
  }
  *out = INT_VAL(rem ? r : q);
  return true;
}

static bool i_rem_euclid(VM *vm, Value *a, int n, Value *out) { (void)n; return i_euclid(vm, a, out, true); }
static bool i_div_euclid(VM *vm, Value *a, int n, Value *out) { (void)n; return i_euclid(vm, a, out, false); }

static bool i_count_ones(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x;
  if (!i_self(vm, a[0], "count_ones", &x)) return false;
  *out = INT_VAL(__builtin_popcountll((unsigned long long)x));
  return true;
}

static bool i_to_int(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = a[0];
  return true;
}

static bool i_gcd(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  int64_t x, y;
  if (!i_self(vm, a[0], "gcd", &x) || !lib_int_arg(vm, a[1], "gcd", &y)) return false;
  uint64_t u = x < 0 ? -(uint64_t)x : (uint64_t)x, v = y < 0 ? -(uint64_t)y : (uint64_t)y;
  while (v) {
    uint64_t t = u % v;
    u = v;
    v = t;
  }
  if (u > INT64_MAX) return vm_error(vm, "integer overflow in `gcd`");
  *out = INT_VAL((int64_t)u);
  return true;
}

/* ---- chars ---- */

bool lib_char_is_space(int64_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool lib_char_is_alpha(int64_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) ||
         (c >= 0x370 && c <= 0x3FF && c != 0x375 && c != 0x37E && c != 0x384 && c != 0x385 &&
          c != 0x387) ||
         (c >= 0x400 && c <= 0x52F && !(c >= 0x482 && c <= 0x489)) || (c >= 0x531 && c <= 0x587) ||
         (c >= 0x5D0 && c <= 0x5EA) || (c >= 0x620 && c <= 0x64A) || (c >= 0x1E00 && c <= 0x1FFF) ||
         (c >= 0x3041 && c <= 0x30FF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7A3);
}

static bool is_numeric_char(int64_t c) {
  return (c >= '0' && c <= '9') || c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE) ||
         (c >= 0x660 && c <= 0x669) || c == 0x2070 || (c >= 0x2074 && c <= 0x2079) ||
         (c >= 0x2080 && c <= 0x2089) || (c >= 0x2150 && c <= 0x2189);
}

/* Case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic. */
int64_t lib_char_upper(int64_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    bool odd_lower = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (odd_lower ? (c & 1) : !(c & 1) && c != 0x138 && c != 0x178) return c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 0x20;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 0x3F;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
}

int64_t lib_char_lower(int64_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    bool even_upper = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (even_upper ? !(c & 1) : (c & 1) && c != 0x149 && c != 0x17F) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 0x25;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 0x3F;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

static int64_t digit_value(int64_t c, int64_t radix) {
  int64_t d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  else if (c >= 'a' && c <= 'z') d = c - 'a' + 10;
  else if (c >= 'A' && c <= 'Z') d = c - 'A' + 10;
  return d >= 0 && d < radix ? d : -1;
}

static bool radix_arg(VM *vm, Value *a, int n, const char *who, int64_t *radix) {
  *radix = 10;
  if (n > 1 && !lib_int_arg(vm, a[1], who, radix)) return false;
  if (*radix < 2 || *radix > 36) {
    vm_error(vm, "%s: radix %lld is not in 2..=36", who, (long long)*radix);
    return false;
  }
  return true;
}

#define CPRED(name, expr)                                                        \
  static bool c_##name(VM *vm, Value *a, int n, Value *out) {                    \
    (void)n;                                                                     \
    if (!IS_CHAR(a[0])) return vm_error(vm, #name " expects a char, got %s", value_type_name(a[0])); \
    int64_t c = a[0].as.i;                                                       \
    *out = BOOL_VAL(expr);                                                       \
    return true;                                                                 \
  }

CPRED(is_alphabetic, lib_char_is_alpha(c))
CPRED(is_alphanumeric, lib_char_is_alpha(c) || is_numeric_char(c))
CPRED(is_numeric, is_numeric_char(c))
CPRED(is_whitespace, lib_char_is_space(c))
CPRED(is_uppercase, lib_char_lower(c) != c)
CPRED(is_lowercase, lib_char_upper(c) != c || c == 0xDF)
CPRED(is_ascii, c < 0x80)
CPRED(is_ascii_digit, c >= '0' && c <= '9')
CPRED(is_ascii_alphabetic, c < 0x80 && lib_char_is_alpha(c))
CPRED(is_ascii_alphanumeric, c < 0x80 && (lib_char_is_alpha(c) || (c >= '0' && c <= '9')))
CPRED(is_ascii_uppercase, c >= 'A' && c <= 'Z')
CPRED(is_ascii_lowercase, c >= 'a' && c <= 'z')
CPRED(is_ascii_punctuation, (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                                (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E))
CPRED(is_control, c < 0x20 || (c >= 0x7F && c < 0xA0))

static bool c_is_digit(VM *vm, Value *a, int n, Value *out) {
  int64_t radix;
  if (!radix_arg(vm, a, n, "is_digit", &radix)) return false;
  *out = BOOL_VAL(digit_value(a[0].as.i, radix) >= 0);
  return true;
}

static bool c_to_digit(VM *vm, Value *a, int n, Value *out) {
  int64_t radix;
  if (!radix_arg(vm, a, n, "to_digit", &radix)) return false;
  int64_t d = digit_value(a[0].as.i, radix);
  return d < 0 ? lib_none(vm, out) : lib_some(vm, INT_VAL(d), out);
}

static bool c_to_uppercase(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = CHAR_VAL(lib_char_upper(a[0].as.i));
  return true;
}

static bool c_to_lowercase(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = CHAR_VAL(lib_char_lower(a[0].as.i));
  return true;
}

static bool c_to_ascii_uppercase(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  int64_t c = a[0].as.i;
  *out = CHAR_VAL(c >= 'a' && c <= 'z' ? c - 32 : c);
  return true;
}

static bool c_to_ascii_lowercase(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  int64_t c = a[0].as.i;
  *out = CHAR_VAL(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return true;
}

static bool c_len_utf8(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  char b[4];
  *out = INT_VAL(utf8_encode(a[0].as.i, b));
  return true;
}

static bool c_to_int(VM *vm, Value *a, int n, Value *out) {
  (void)vm, (void)n;
  *out = INT_VAL(a[0].as.i);
  return true;
}

/* ---- bool ---- */

static bool b_then(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  if (!IS_BOOL(a[0])) return vm_error(vm, "then expects a bool, got %s", value_type_name(a[0]));
  if (!a[0].as.b) return lib_none(vm, out);
  Value v;
  if (!vm_call(vm, a[1], NULL, 0, &v)) return false;
  return lib_some(vm, v, out);
}

/* ---- complex ---- */

static bool cx_self(VM *vm, Value v, const char *who, double complex *z) {
  if (IS_OBJ_TYPE(v, OBJ_COMPLEX)) {
    *z = CMPLX(AS_COMPLEX(v)->re, AS_COMPLEX(v)->im);
    return true;
  }
  if (IS_NUM(v)) {
    *z = CMPLX(AS_NUM(v), 0.0);
    return true;
  }
  vm_error(vm, "%s expects a complex number, got %s", who, value_type_name(v));
  return false;
}

#define CXREAL(name, expr)                                              \
  static bool cx_##name(VM *vm, Value *a, int n, Value *out) {          \
    (void)n;                                                            \
    double complex z;                                                   \
    if (!cx_self(vm, a[0], #name, &z)) return false;                    \
    *out = FLOAT_VAL(expr);                                             \
    return true;                                                        \
  }
#define CXCPLX(name, expr)                                              \
  static bool cx_##name(VM *vm, Value *a, int n, Value *out) {          \
    (void)n;                                                            \
    double complex z;                                                   \
    if (!cx_self(vm, a[0], #name, &z)) return false;                    \
    double complex r = expr;                                            \
    *out = OBJ_VAL(complex_new(vm, creal(r), cimag(r)));                \
    return true;                                                        \
  }

CXREAL(re, creal(z))
CXREAL(im, cimag(z))
CXREAL(arg, carg(z))
CXREAL(abs, cabs(z))
CXREAL(norm_sqr, creal(z) * creal(z) + cimag(z) * cimag(z))
CXCPLX(conj, conj(z))
CXCPLX(sqrt, csqrt(z))
CXCPLX(exp, cexp(z))
CXCPLX(ln, clog(z))
CXCPLX(sin, csin(z))
CXCPLX(cos, ccos(z))
CXCPLX(tan, ctan(z))
CXCPLX(recip, 1.0 / z)

static bool cx_pow(VM *vm, Value *a, int n, Value *out) {
  (void)n;
  return arith_binary(vm, AOP_POW, a[0], a[1], out);
}

/* ---- registration ---- */

typedef struct {
  const char *name;
  NativeFn fn;
  int min, max;
} MethodDef;

static void add_methods(VM *vm, ObjClass *c, const MethodDef *m, size_t n) {
  for (size_t i = 0; i < n; i++) lib_method(vm, c, m[i].name, m[i].fn, m[i].min, m[i].max);
}

#define ADD_METHODS(vm, cls, table) add_methods(vm, cls, table, sizeof table / sizeof table[0])

void lib_num_init(VM *vm) {
  ObjClass *unit = lib_class(vm, "()");
  ObjClass *boolean = lib_class(vm, "bool");
  ObjClass *integer = lib_class(vm, "int");
  ObjClass *flt = lib_class(vm, "float");
  ObjClass *chr = lib_class(vm, "char");
  ObjClass *cplx = lib_class(vm, "complex");
  ObjClass *object = lib_class(vm, "object");
  vm->class_of_type[VAL_UNIT] = unit;
  vm->class_of_type[VAL_BOOL] = boolean;
  vm->class_of_type[VAL_INT] = integer;
  vm->class_of_type[VAL_FLOAT] = flt;
  vm->class_of_type[VAL_CHAR] = chr;
  vm->class_of_obj[OBJ_COMPLEX] = cplx;
  /* values whose own class (if any) lacks a method fall back here */
  static const ObjType generic[] = {OBJ_INSTANCE, OBJ_VARIANT, OBJ_CLOSURE, OBJ_NATIVE, OBJ_BOUND,
                                    OBJ_CTOR};
  for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
    vm->class_of_obj[generic[i]] = object;

  ObjClass *all[] = {unit, boolean, integer, flt, chr, cplx, object};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lib_add_common(vm, all[i]);

  add_float_methods(vm, flt);
  add_float_methods(vm, integer);
  static const MethodDef int_methods[] = {
    {"abs", i_abs, 1, 1},           {"pow", i_pow, 2, 2},
    {"min", i_min, 2, 2},           {"max", i_max, 2, 2},
    {"signum", i_signum, 1, 1},     {"is_even", i_is_even, 1, 1},
    {"is_odd", i_is_odd, 1, 1},     {"clamp", i_clamp, 3, 3},
    {"rem_euclid", i_rem_euclid, 2, 2}, {"div_euclid", i_div_euclid, 2, 2},
    {"count_ones", i_count_ones, 1, 1}, {"to_int", i_to_int, 1, 1},
    {"gcd", i_gcd, 2, 2},
  };
  ADD_METHODS(vm, integer, int_methods);
  class_const(vm, integer, "MAX", INT_VAL(INT64_MAX));
  class_const(vm, integer, "MIN", INT_VAL(INT64_MIN));
  class_const(vm, flt, "MAX", FLOAT_VAL(1.7976931348623157e308));
  class_const(vm, flt, "MIN", FLOAT_VAL(-1.7976931348623157e308));
  class_const(vm, flt, "MIN_POSITIVE", FLOAT_VAL(2.2250738585072014e-308));
  class_const(vm, flt, "EPSILON", FLOAT_VAL(2.220446049250313e-16));
  class_const(vm, flt, "INFINITY", FLOAT_VAL(INFINITY));
  class_const(vm, flt, "NEG_INFINITY", FLOAT_VAL(-INFINITY));
  class_const(vm, flt, "NAN", FLOAT_VAL(NAN));

  /* Rust's associated constants: i64::MAX, f64::EPSILON, u8::MAX, ... The
   * 64-bit names are the int and float classes; the narrower ones are
   * classes holding only their constants (u64/usize share i64's range). */
  module_define(vm, vm->prelude, "i64", OBJ_VAL(integer), GLOBAL_BUILTIN);
  module_define(vm, vm->prelude, "f64", OBJ_VAL(flt), GLOBAL_BUILTIN);
  static const struct {
    const char *name;
    int64_t min, max;
  } ints[] = {
    {"i8", INT8_MIN, INT8_MAX},    {"i16", INT16_MIN, INT16_MAX}, {"i32", INT32_MIN, INT32_MAX},
    {"isize", INT64_MIN, INT64_MAX}, {"u8", 0, UINT8_MAX},       {"u16", 0, UINT16_MAX},
    {"u32", 0, UINT32_MAX},        {"u64", 0, INT64_MAX},         {"usize", 0, INT64_MAX},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    ObjClass *c = lib_class(vm, ints[i].name);
    class_const(vm, c, "MIN", INT_VAL(ints[i].min));
    class_const(vm, c, "MAX", INT_VAL(ints[i].max));
    module_define(vm, vm->prelude, ints[i].name, OBJ_VAL(c), GLOBAL_BUILTIN);
  }
  ObjClass *f32 = lib_class(vm, "f32");
  add_float_methods(vm, f32);
  class_const(vm, f32, "MAX", FLOAT_VAL(3.4028234663852886e38));
  class_const(vm, f32, "MIN", FLOAT_VAL(-3.4028234663852886e38));
  class_const(vm, f32, "MIN_POSITIVE", FLOAT_VAL(1.1754943508222875e-38));
  class_const(vm, f32, "EPSILON", FLOAT_VAL(1.1920928955078125e-07));
  class_const(vm, f32, "INFINITY", FLOAT_VAL(INFINITY));
  class_const(vm, f32, "NEG_INFINITY", FLOAT_VAL(-INFINITY));
  class_const(vm, f32, "NAN", FLOAT_VAL(NAN));
  module_define(vm, vm->prelude, "f32", OBJ_VAL(f32), GLOBAL_BUILTIN);

  static const MethodDef char_methods[] = {
    {"is_alphabetic", c_is_alphabetic, 1, 1},
    {"is_alphanumeric", c_is_alphanumeric, 1, 1},
    {"is_numeric", c_is_numeric, 1, 1},
    {"is_whitespace", c_is_whitespace, 1, 1},
    {"is_uppercase", c_is_uppercase, 1, 1},
    {"is_lowercase", c_is_lowercase, 1, 1},
    {"is_ascii", c_is_ascii, 1, 1},
    {"is_ascii_digit", c_is_ascii_digit, 1, 1},
    {"is_ascii_alphabetic", c_is_ascii_alphabetic, 1, 1},
    {"is_ascii_alphanumeric", c_is_ascii_alphanumeric, 1, 1},
    {"is_ascii_uppercase", c_is_ascii_uppercase, 1, 1},
    {"is_ascii_lowercase", c_is_ascii_lowercase, 1, 1},
    {"is_ascii_punctuation", c_is_ascii_punctuation, 1, 1},
    {"is_control", c_is_control, 1, 1},
    {"is_digit", c_is_digit, 1, 2},
    {"to_digit", c_to_digit, 1, 2},
    {"to_uppercase", c_to_uppercase, 1, 1},
    {"to_lowercase", c_to_lowercase, 1, 1},
    {"to_ascii_uppercase", c_to_ascii_uppercase, 1, 1},
    {"to_ascii_lowercase", c_to_ascii_lowercase, 1, 1},
    {"len_utf8", c_len_utf8, 1, 1},
    {"to_int", c_to_int, 1, 1},
  };
  ADD_METHODS(vm, chr, char_methods);

  static const MethodDef bool_methods[] = {{"then", b_then, 2, 2}};
  ADD_METHODS(vm, boolean, bool_methods);

  static const MethodDef complex_methods[] = {
    {"re", cx_re, 1, 1},     {"im", cx_im, 1, 1},         {"arg", cx_arg, 1, 1},
    {"abs", cx_abs, 1, 1},   {"norm", cx_abs, 1, 1},      {"norm_sqr", cx_norm_sqr, 1, 1},
    {"conj", cx_conj, 1, 1}, {"sqrt", cx_sqrt, 1, 1},     {"exp", cx_exp, 1, 1},
    {"ln", cx_ln, 1, 1},     {"sin", cx_sin, 1, 1},       {"cos", cx_cos, 1, 1},
    {"tan", cx_tan, 1, 1},   {"recip", cx_recip, 1, 1},   {"pow", cx_pow, 2, 2},
    {"powf", cx_pow, 2, 2},  {"powi", cx_pow, 2, 2},
  };
  ADD_METHODS(vm, cplx, complex_methods);
}
