/* The scalar rules of the language's operators (docs/LANGUAGE.md,
 * "Arithmetic" and "Comparison"), written once for every tier that runs
 * them: the interpreter's inline fast paths (vm.c), the slow path
 * (arith.c), the quantity rules (units.c) and any later compiled tier.
 *
 * Plain C numbers in, plain C numbers and a NumStatus out: callers turn
 * a status into their own error, with the messages noted on NumStatus.
 * Everything is static inline: the fast paths call these on every
 * instruction. */
#ifndef NS_NUMERIC_H
#define NS_NUMERIC_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
  NUM_OK,
  NUM_OVERFLOW,  /* "integer overflow in `OP`" */
  NUM_DIV_ZERO,  /* "division by zero" */
  NUM_BAD_SHIFT, /* "shift by N is out of range 0..64" */
} NumStatus;

/* ---- ints: 64-bit, overflow is an error, never a wrap ---- */

/* base ** exp for exp >= 0 by squaring; base is squared only while more
 * bits remain, so the squaring overflows only when the result would.
 * 0 ** 0 is 1. (A negative exponent gives a float: num_int_pow_neg.) */
static inline NumStatus num_int_pow(int64_t base, int64_t exp, int64_t *out) {
  int64_t r = 1;
  while (exp > 0) {
    if ((exp & 1) && __builtin_mul_overflow(r, base, &r)) return NUM_OVERFLOW;
    exp >>= 1;
    if (exp && __builtin_mul_overflow(base, base, &base)) return NUM_OVERFLOW;
  }
  *out = r;
  return NUM_OK;
}

/* int ** negative int is a float: 2 ** -1 is 0.5, 0 ** -1 is inf. */
static inline double num_int_pow_neg(int64_t base, int64_t exp) {
  return pow((double)base, (double)exp);
}

/* x / y truncated toward zero; INT64_MIN / -1 overflows. */
static inline NumStatus num_int_div(int64_t x, int64_t y, int64_t *out) {
  if (y == 0) return NUM_DIV_ZERO;
  if (y == -1 && x == INT64_MIN) return NUM_OVERFLOW;
  *out = x / y;
  return NUM_OK;
}

/* x % y with the sign of the dividend; x % -1 is 0 (C's INT64_MIN % -1
 * traps). */
static inline NumStatus num_int_mod(int64_t x, int64_t y, int64_t *out) {
  if (y == 0) return NUM_DIV_ZERO;
  *out = y == -1 ? 0 : x % y;
  return NUM_OK;
}

/* Shift counts 0..63 are defined; << drops the bits shifted out (it is a
 * bit operation, not a multiplication), >> is arithmetic. */
static inline bool num_shift_ok(int64_t count) { return (uint64_t)count < 64; }

static inline NumStatus num_int_shl(int64_t x, int64_t count, int64_t *out) {
  if (!num_shift_ok(count)) return NUM_BAD_SHIFT;
  *out = (int64_t)((uint64_t)x << count);
  return NUM_OK;
}

static inline NumStatus num_int_shr(int64_t x, int64_t count, int64_t *out) {
  if (!num_shift_ok(count)) return NUM_BAD_SHIFT;
  *out = x >> count;
  return NUM_OK;
}

/* ---- floats ---- */

/* x % y with the sign of the dividend (C's fmod). */
static inline double num_float_mod(double x, double y) { return fmod(x, y); }

/* ∛x, exact on perfect cubes: glibc's cbrt is an ulp off there
 * (cbrt(27) is 3.0000000000000004). */
static inline double num_cbrt(double x) {
  double y = cbrt(x), r = round(y);
  return r * r * r == x ? r : y;
}

/* x < y (or x <= y) for numbers that may be an int and a float, exactly:
 * long double holds every int64, so 2**53 + 1 > 2.0**53 is true. */
static inline bool num_less_exact(long double x, long double y, bool or_equal) {
  return or_equal ? x <= y : x < y;
}

/* ---- ≈ ---- */

/* The tolerance of ≈ given the distance d between two numbers and the
 * larger magnitude m: relative 1e-9 or absolute 1e-12. An infinite or
 * NaN distance is never near (∞ is near only itself, through ==). */
static inline bool num_near(double d, double m) {
  return isfinite(d) && (d <= 1e-9 * m || d <= 1e-12);
}

/* a ≈ b on real numbers; NaN is near nothing. Complex numbers use
 * num_near with moduli. */
static inline bool num_approx(double a, double b) {
  return a == b || num_near(fabs(a - b), fmax(fabs(a), fabs(b)));
}

#endif
