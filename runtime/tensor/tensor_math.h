/* exp, log and tanh of the tensor kernels: the algorithms the JIT emits as
 * vector IR (runtime/jit/jit_math.c), written here operation for operation
 * in C, so that an op gives the same bits whether it runs compiled, op by
 * op, or with the JIT off (a run does not depend on when a graph got
 * compiled, and a checkpoint resumes bit-exactly). tests/unit/
 * test_jit_kernels.c checks the two bit for bit, and both against libm:
 * within a few ulp (1.2e-7 relative for f32 exp, 2.2e-16 for f64), with
 * libm's special values (exp(-inf) = 0, overflow to inf, gradual
 * underflow; log(0) = -inf, log(x < 0) = NaN; tanh(±0) = ±0, tanh(±inf) =
 * ±1; NaN in, NaN out).
 *
 * Branch-free, like the IR: every lane takes the same path and special
 * values are selected at the end, so the kernels' loops vectorize. No
 * -ffast-math and no FMA contraction (the kernels are built without "fma"),
 * so + - * / round exactly as LLVM's fadd, fsub, fmul, fdiv do. The
 * constants are written as doubles and rounded to the element type, as
 * jit_const_f does. */
#ifndef NS_TENSOR_MATH_H
#define NS_TENSOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* One set of functions per element type: T the float type, I the signed
 * and U the unsigned integer of its width, MB mantissa bits, BIAS the
 * exponent bias. */
#define NS_MATH_FUNCS(T, I, U, MB, BIAS, SUF, SHIFTER, LN2HI, LN2LO, EXPN, LOGN, EXPHI, EXPLO, TINY, TANHT) \
  static inline T ns_bits_to_##SUF(U u) {                                                           \
    T f;                                                                                           \
    memcpy(&f, &u, sizeof f);                                                                      \
    return f;                                                                                      \
  }                                                                                                \
  static inline U ns_##SUF##_to_bits(T f) {                                                         \
    U u;                                                                                           \
    memcpy(&u, &f, sizeof u);                                                                      \
    return u;                                                                                      \
  }                                                                                                \
  /* 2^n for n in the normal exponent range */                                                    \
  static inline T ns_pow2_##SUF(I n) { return ns_bits_to_##SUF((U)(n + BIAS) << MB); }              \
  /* x = k ln2 + r (Cody and Waite); k by the round-to-nearest shifter */                         \
  static inline T ns_reduce_##SUF(T x, I *k) {                                                      \
    T kf = (x * (T)1.4426950408889634 + (T)(SHIFTER)) - (T)(SHIFTER);                              \
    *k = (I)kf;                                                                                    \
    return (x - kf * (T)(LN2HI)) - kf * (T)(LN2LO);                                                \
  }                                                                                                \
  /* e^r - 1: r + r^2 (1/2! + r/3! + ... + r^(N-2)/N!), N = EXPN */                                \
  static inline T ns_expm1_poly_##SUF(T r) {                                                        \
    double fact = 1;                                                                               \
    for (int i = 2; i <= EXPN; i++) fact *= i;                                                     \
    T h = (T)(1 / fact);                                                                           \
    for (int i = EXPN - 1; i >= 2; i--) {                                                          \
      fact /= i + 1;                                                                               \
      h = h * r + (T)(1 / fact);                                                                   \
    }                                                                                              \
    return r + (r * r) * h;                                                                        \
  }                                                                                                \
  static inline T ns_exp_##SUF(T x) {                                                               \
    int nan = x != x;                                                                              \
    T xc = x > (T)(EXPHI) ? (T)(EXPHI) : x;                                                        \
    xc = xc < (T)(EXPLO) ? (T)(EXPLO) : xc;                                                        \
    xc = nan ? (T)0 : xc;                                                                          \
    I k;                                                                                           \
    T r = ns_reduce_##SUF(xc, &k);                                                                  \
    T p = (T)1 + ns_expm1_poly_##SUF(r);                                                            \
    I k1 = k >> 1, k2 = k - k1;                                                                    \
    T res = (p * ns_pow2_##SUF(k1)) * ns_pow2_##SUF(k2);                                            \
    return nan ? x : res;                                                                          \
  }                                                                                                \
  static inline T ns_log_##SUF(T x) {                                                               \
    int tiny = x < (T)(TINY);                                                                      \
    T xs = tiny ? x * (T)ldexp(1, MB) : x;                                                          \
    U bits = ns_##SUF##_to_bits(xs);                                                                \
    I e = (I)(bits >> MB) - BIAS;                                                                  \
    e = e - (tiny ? MB : 0);                                                                       \
    T mm = ns_bits_to_##SUF((bits & (((U)1 << MB) - 1)) | ((U)(BIAS) << MB));                       \
    int big = mm > (T)1.4142135623730951;                                                          \
    mm = big ? mm * (T)0.5 : mm;                                                                   \
    e = e + big;                                                                                   \
    T f = mm - (T)1;                                                                               \
    T s = f / ((T)2 + f);                                                                          \
    T z = s * s;                                                                                   \
    T R = (T)(2.0 / (2 * LOGN + 1));                                                               \
    for (int i = LOGN - 1; i >= 1; i--) R = R * z + (T)(2.0 / (2 * i + 1));                        \
    R = R * z;                                                                                     \
    T l1 = f - s * (f - R);                                                                        \
    T ef = (T)e;                                                                                   \
    T res = ef * (T)(LN2HI) + (ef * (T)(LN2LO) + l1);                                              \
    res = x == (T)INFINITY ? x : res;                                                              \
    res = x == (T)0 ? (T)-INFINITY : res;                                                          \
    res = x < (T)0 ? (T)NAN : res;                                                                 \
    return x != x ? x : res;                                                                       \
  }                                                                                                \
  static inline T ns_tanh_##SUF(T x) {                                                              \
    T ax = fabs##SUF##_(x);                                                                        \
    int nan = x != x, big = ax > (T)(TANHT);                                                        \
    T y = (nan | big) ? (T)0 : ax + ax;                                                            \
    I k;                                                                                           \
    T r = ns_reduce_##SUF(y, &k);                                                                   \
    T s = ns_pow2_##SUF(k);                                                                         \
    T E = (s - (T)1) + s * ns_expm1_poly_##SUF(r);                                                  \
    T t = big ? (T)1 : E / (E + (T)2);                                                             \
    T res = copysign##SUF##_(t, x);                                                                \
    return nan ? x : res;                                                                          \
  }

#define fabsf32_(x) fabsf(x)
#define fabsf64_(x) fabs(x)
#define copysignf32_(x, y) copysignf(x, y)
#define copysignf64_(x, y) copysign(x, y)

NS_MATH_FUNCS(float, int32_t, uint32_t, 23, 127, f32, 0x1.8p23, 0.693145751953125, 1.4286068203094172e-06, 7, 4,
              89, -104, 0x1p-126, 9.5)
NS_MATH_FUNCS(double, int64_t, uint64_t, 52, 1023, f64, 0x1.8p52, 6.93147180369123816490e-01,
              1.90821492927058770002e-10, 13, 9, 710, -746, 0x1p-1022, 19.5)

#undef fabsf32_
#undef fabsf64_
#undef copysignf32_
#undef copysignf64_

/* For the kernels' S_EXP, S_LOG, S_TANH on either element type. */
#define ns_exp(x) _Generic((x), float: ns_exp_f32, default: ns_exp_f64)(x)
#define ns_log(x) _Generic((x), float: ns_log_f32, default: ns_log_f64)(x)
#define ns_tanh(x) _Generic((x), float: ns_tanh_f32, default: ns_tanh_f64)(x)

#endif
