/* exp, log and tanh as IR that vectorizes: branch-free (every lane takes
 * the same path, special values are selected at the end), built from
 * + - * / and integer operations on the float's bits. Each is an internal
 * function of the module, one per (function, dtype, lanes), e.g.
 * ns.exp.f32.16, built on first use; LLVM inlines them.
 *
 * Accuracy (tests/unit/test_jit_kernels.c measures it against libm):
 * within a few ulp, far inside the 1e-6 (f32) and 1e-12 (f64) relative
 * bounds of jit_kernel.h, with the special values of libm: exp(-inf) = 0,
 * exp(+inf) = inf, overflow to inf, gradual underflow through the
 * denormals; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, denormal
 * inputs; tanh(±0) = ±0, tanh(±inf) = ±1, relative accuracy down to the
 * denormals. NaN in, NaN out. */
#include <math.h>
#include <stdio.h>

#include "jit_int.h"

typedef struct {
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef ft, it; /* float/double (or vectors of them); the integer of the same width */
  bool f64;
} M;

static LLVMValueRef K(M *m, double c) { return jit_const_f(m->ft, c); }
static LLVMValueRef KI(M *m, long long c) { return jit_const_i(m->it, c); }
static LLVMValueRef add(M *m, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFAdd(m->b, x, y, ""); }
static LLVMValueRef sub(M *m, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFSub(m->b, x, y, ""); }
static LLVMValueRef mul(M *m, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildFMul(m->b, x, y, ""); }
static LLVMValueRef cmp(M *m, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildFCmp(m->b, p, x, y, "");
}
static LLVMValueRef sel(M *m, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) {
  return LLVMBuildSelect(m->b, c, x, y, "");
}

/* Mantissa bits and exponent bias of the float type. */
static int mbits(M *m) { return m->f64 ? 52 : 23; }
static int bias(M *m) { return m->f64 ? 1023 : 127; }

/* ln 2 = LN2_HI + LN2_LO, LN2_HI with enough trailing zero bits that
 * k * LN2_HI is exact for every exponent k the functions meet. */
static double ln2_hi(M *m) { return m->f64 ? 6.93147180369123816490e-01 : 0.693145751953125; }
static double ln2_lo(M *m) { return m->f64 ? 1.90821492927058770002e-10 : 1.4286068203094172e-06; }

/* 2^n for integers n in the normal exponent range, from the bits. */
static LLVMValueRef pow2(M *m, LLVMValueRef n) {
  LLVMValueRef bits = LLVMBuildShl(m->b, LLVMBuildAdd(m->b, n, KI(m, bias(m)), ""), KI(m, mbits(m)), "");
  return LLVMBuildBitCast(m->b, bits, m->ft, "");
}

/* x = k ln2 + r, |r| <= ln2 / 2 (Cody and Waite): k = x / ln2 rounded to
 * nearest by adding and subtracting 1.5 * 2^mbits, valid for |x / ln2| <
 * 2^22; x - k LN2_HI is exact. Returns r; *k the integer k. */
static LLVMValueRef reduce(M *m, LLVMValueRef x, LLVMValueRef *k) {
  LLVMValueRef shifter = K(m, m->f64 ? 0x1.8p52 : 0x1.8p23);
  LLVMValueRef kf = sub(m, add(m, mul(m, x, K(m, 1.4426950408889634)), shifter), shifter);
  *k = LLVMBuildFPToSI(m->b, kf, m->it, "");
  return sub(m, sub(m, x, mul(m, kf, K(m, ln2_hi(m)))), mul(m, kf, K(m, ln2_lo(m))));
}

/* e^r - 1 for |r| <= ln2 / 2: r + r^2 (1/2! + r/3! + ... + r^(N-2)/N!),
 * the Taylor series to r^7 (f32: next term 5e-9 relative) or r^13 (f64:
 * 2e-17); r leads, so small r keeps full relative accuracy. */
static LLVMValueRef expm1_poly(M *m, LLVMValueRef r) {
  int n = m->f64 ? 13 : 7;
  double fact = 1;
  for (int i = 2; i <= n; i++) fact *= i;
  LLVMValueRef h = K(m, 1 / fact);
  for (int i = n - 1; i >= 2; i--) {
    fact /= i + 1;
    h = add(m, mul(m, h, r), K(m, 1 / fact));
  }
  return add(m, r, mul(m, mul(m, r, r), h));
}

/* exp(x) = 2^k e^r. The scale 2^k is applied as two halves so that k
 * down to the denormal range and up to overflow is one rounding of the
 * product: exp(x) underflows gradually and overflows to inf like libm. */
static LLVMValueRef exp_body(M *m, LLVMValueRef x) {
  double hi = m->f64 ? 710 : 89, lo = m->f64 ? -746 : -104; /* past overflow and total underflow */
  LLVMValueRef nan = cmp(m, LLVMRealUNO, x, x);
  LLVMValueRef xc = sel(m, cmp(m, LLVMRealOGT, x, K(m, hi)), K(m, hi), x);
  xc = sel(m, cmp(m, LLVMRealOLT, xc, K(m, lo)), K(m, lo), xc);
  xc = sel(m, nan, K(m, 0), xc);
  LLVMValueRef k, r = reduce(m, xc, &k);
  LLVMValueRef p = add(m, K(m, 1), expm1_poly(m, r));
  LLVMValueRef k1 = LLVMBuildAShr(m->b, k, KI(m, 1), ""), k2 = LLVMBuildSub(m->b, k, k1, "");
  LLVMValueRef res = mul(m, mul(m, p, pow2(m, k1)), pow2(m, k2));
  return sel(m, nan, x, res);
}

/* log(x) = e ln2 + log(f + 1), x = 2^e (1 + f), 1 + f in [sqrt(1/2),
 * sqrt(2)]; log(1 + f) = 2 atanh(s), s = f / (2 + f), written as
 * f - s (f - R) with R = 2 (s^2/3 + s^4/5 + ...) so that f leads.
 * Denormal x is scaled by 2^mbits first. */
static LLVMValueRef log_body(M *m, LLVMValueRef x) {
  int mb = mbits(m);
  LLVMValueRef tiny = cmp(m, LLVMRealOLT, x, K(m, m->f64 ? 0x1p-1022 : 0x1p-126));
  LLVMValueRef xs = sel(m, tiny, mul(m, x, K(m, ldexp(1, mb))), x);
  LLVMValueRef bits = LLVMBuildBitCast(m->b, xs, m->it, "");
  LLVMValueRef e = LLVMBuildSub(m->b, LLVMBuildLShr(m->b, bits, KI(m, mb), ""), KI(m, bias(m)), "");
  e = LLVMBuildSub(m->b, e, sel(m, tiny, KI(m, mb), KI(m, 0)), "");
  long long mant = (1LL << mb) - 1, one = (long long)bias(m) << mb;
  LLVMValueRef mm = LLVMBuildBitCast(m->b, LLVMBuildOr(m->b, LLVMBuildAnd(m->b, bits, KI(m, mant), ""), KI(m, one), ""),
                                     m->ft, "");
  LLVMValueRef big = cmp(m, LLVMRealOGT, mm, K(m, 1.4142135623730951));
  mm = sel(m, big, mul(m, mm, K(m, 0.5)), mm);
  e = LLVMBuildAdd(m->b, e, LLVMBuildZExt(m->b, big, m->it, ""), "");
  LLVMValueRef f = sub(m, mm, K(m, 1));
  LLVMValueRef s = LLVMBuildFDiv(m->b, f, add(m, K(m, 2), f), "");
  LLVMValueRef z = mul(m, s, s);
  /* R = z (2/3 + z (2/5 + ...)): to z^4 (f32: next term 2e-9 relative),
   * z^9 (f64: 3e-17) */
  int n = m->f64 ? 9 : 4;
  LLVMValueRef R = K(m, 2.0 / (2 * n + 1));
  for (int i = n - 1; i >= 1; i--) R = add(m, mul(m, R, z), K(m, 2.0 / (2 * i + 1)));
  R = mul(m, R, z);
  LLVMValueRef l1 = sub(m, f, mul(m, s, sub(m, f, R)));
  LLVMValueRef ef = LLVMBuildSIToFP(m->b, e, m->ft, "");
  LLVMValueRef res = add(m, mul(m, ef, K(m, ln2_hi(m))), add(m, mul(m, ef, K(m, ln2_lo(m))), l1));
  res = sel(m, cmp(m, LLVMRealOEQ, x, K(m, INFINITY)), x, res);
  res = sel(m, cmp(m, LLVMRealOEQ, x, K(m, 0)), K(m, -INFINITY), res);
  res = sel(m, cmp(m, LLVMRealOLT, x, K(m, 0)), K(m, NAN), res);
  return sel(m, cmp(m, LLVMRealUNO, x, x), x, res);
}

/* tanh(x) = sign(x) t, t = E / (E + 2), E = expm1(2|x|) = (2^k - 1) +
 * 2^k (e^r - 1), accurate relative to E for small |x| too (k = 0: E is the
 * polynomial itself). |x| > T rounds to 1 (1 - tanh(T) < half an ulp). */
static LLVMValueRef tanh_body(M *m, LLVMValueRef x) {
  double T = m->f64 ? 19.5 : 9.5;
  LLVMValueRef ax = jit_intrinsic(m->mod, m->b, "llvm.fabs", &x, 1);
  LLVMValueRef nan = cmp(m, LLVMRealUNO, x, x), big = cmp(m, LLVMRealOGT, ax, K(m, T));
  LLVMValueRef y = sel(m, LLVMBuildOr(m->b, nan, big, ""), K(m, 0), add(m, ax, ax));
  LLVMValueRef k, r = reduce(m, y, &k);
  LLVMValueRef s = pow2(m, k);
  LLVMValueRef E = add(m, sub(m, s, K(m, 1)), mul(m, s, expm1_poly(m, r)));
  LLVMValueRef t = sel(m, big, K(m, 1), LLVMBuildFDiv(m->b, E, add(m, E, K(m, 2)), ""));
  LLVMValueRef args[2] = {t, x};
  LLVMValueRef res = jit_intrinsic(m->mod, m->b, "llvm.copysign", args, 2);
  return sel(m, nan, x, res);
}

/* A call of ns.<what>.<f32|f64>.<lanes>(x), defining it on first use. */
static LLVMValueRef math_call(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, const char *what,
                              LLVMValueRef (*body)(M *, LLVMValueRef)) {
  LLVMTypeRef ty = LLVMTypeOf(x), st = ty;
  unsigned lanes = 1;
  if (LLVMGetTypeKind(ty) == LLVMVectorTypeKind) {
    lanes = LLVMGetVectorSize(ty);
    st = LLVMGetElementType(ty);
  }
  bool f64 = LLVMGetTypeKind(st) == LLVMDoubleTypeKind;
  char name[64];
  snprintf(name, sizeof name, "ns.%s.%s.%u", what, f64 ? "f64" : "f32", lanes);
  LLVMTypeRef fty = LLVMFunctionType(ty, &ty, 1, 0);
  LLVMValueRef fn = LLVMGetNamedFunction(mod, name);
  if (!fn) {
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    fn = LLVMAddFunction(mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    LLVMTypeRef it = f64 ? LLVMInt64TypeInContext(ctx) : LLVMInt32TypeInContext(ctx);
    M m = {mod, LLVMCreateBuilderInContext(ctx), ty, lanes > 1 ? LLVMVectorType(it, lanes) : it, f64};
    LLVMPositionBuilderAtEnd(m.b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMBuildRet(m.b, body(&m, LLVMGetParam(fn, 0)));
    LLVMDisposeBuilder(m.b);
  }
  return LLVMBuildCall2(b, fty, fn, &x, 1, "");
}

LLVMValueRef jit_math_exp(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x) { return math_call(mod, b, x, "exp", exp_body); }
LLVMValueRef jit_math_log(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x) { return math_call(mod, b, x, "log", log_body); }
LLVMValueRef jit_math_tanh(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x) { return math_call(mod, b, x, "tanh", tanh_body); }
