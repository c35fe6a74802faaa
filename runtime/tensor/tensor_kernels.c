/* Forward kernels: elementwise (broadcasting), reductions, matmul, and the
 * shape ops (views where possible). Each kernel is tk_<NAME> of a row of
 * tensor_ops.def; it allocates its result and reports shape and dtype
 * errors naming the op. The nn kernels (softmax, conv2d, ...) are in
 * tensor_nn.c.
 *
 * Elementwise ops run through tloop_run(): one inner loop per (op, dtype),
 * generated from the op's row of tensor_scalar.def, with a contiguous fast
 * path gcc vectorizes and a strided path for views and broadcasting. Mixed dtypes are first converted to the promoted one
 * (bool < i64 < f32 < f64). */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "tensor_math.h"

#include "tensor_int.h"
#include "blas.h"
#include "threadpool.h"

#define OPNAME(op) (tensor_ops[op].name)

static bool shape_error2(TCtx *tc, TensorOp op, const ObjTensor *a, const ObjTensor *b, const char *what) {
  char sa[128], sb[128];
  return tensor_error(tc, "%s: shapes %s and %s %s", OPNAME(op), tensor_shape_str(a, sa, sizeof sa),
                  tensor_shape_str(b, sb, sizeof sb), what);
}

static bool is_float(DType d) { return d == DT_F32 || d == DT_F64; }

/* ---- elementwise loops, from tensor_scalar.def ----
 *
 * Each row of tensor_scalar.def becomes one inner loop per dtype it
 * computes in (elem_<NAME>_<f32|f64|i64>, where_<bits>), with the row's
 * expression expanded as C below. The contiguous cases (and a broadcast
 * scalar operand) are separate loops gcc vectorizes; the strided case
 * serves views and broadcasting. */

/* x ** y for y >= 0 (binary() refuses negative exponents), wrapping. */
static inline int64_t ipow(int64_t x, int64_t y) {
  uint64_t r = 1, b = (uint64_t)x;
  while (y) {
    if (y & 1) r *= b;
    b *= b;
    y >>= 1;
  }
  return (int64_t)r;
}

/* An integral clamp bound as an i64, saturating (±inf and bounds past the
 * i64 range are no bound; converting them would be undefined). */
static inline int64_t int_bound(double v) {
  if (v >= 0x1p63) return INT64_MAX;
  if (v < -0x1p63) return INT64_MIN;
  return (int64_t)v;
}

/* NaN-propagating max/min (also the max/min reductions). */
#define FMAX(x, y) ((x) > (y) || (x) != (x) ? (x) : (y))
#define FMIN(x, y) ((x) < (y) || (x) != (x) ? (x) : (y))

/* The loops. The element type is S_T inside (a typedef, so that the
 * constants of an expansion, S_K, take it); operands are x0, x1, x2 and
 * the attrs `at` (unary loops). */
#define BIN(NAME, TAG, T, OT, EXPR)                                                                \
  NS_SIMD_CLONES                                                                                   \
  static void elem_##NAME##_##TAG(int64_t n, char **p, const int64_t *s, void *ctx) {             \
    (void)ctx;                                                                                     \
    typedef T S_T; /* the element type of S_K */                                                  \
    (void)(S_T)0;                                                                                  \
    OT *restrict o = (OT *)p[0];                                                                   \
    const T *restrict a = (const T *)p[1];                                                         \
    const T *restrict b = (const T *)p[2];                                                         \
    int64_t so = s[0], sa = s[1], sb = s[2];                                                       \
    if (so == 1 && sa == 1 && sb == 1) {                                                           \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        T x0 = a[i], x1 = b[i];                                                                    \
        o[i] = (OT)(EXPR);                                                                         \
      }                                                                                            \
    } else if (so == 1 && sa == 1 && sb == 0) {                                                    \
      T x1 = b[0];                                                                                 \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        T x0 = a[i];                                                                               \
        o[i] = (OT)(EXPR);                                                                         \
      }                                                                                            \
    } else if (so == 1 && sa == 0 && sb == 1) {                                                    \
      T x0 = a[0];                                                                                 \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        T x1 = b[i];                                                                               \
        o[i] = (OT)(EXPR);                                                                         \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) {                                                            \
        T x0 = a[i * sa], x1 = b[i * sb];                                                          \
        o[i * so] = (OT)(EXPR);                                                                    \
      }                                                                                            \
    }                                                                                              \
  }

#define UN(NAME, TAG, T, OT, EXPR)                                                                 \
  NS_SIMD_CLONES                                                                                   \
  static void elem_##NAME##_##TAG(int64_t n, char **p, const int64_t *s, void *ctx) {             \
    const TAttrs *at = ctx;                                                                        \
    (void)at;                                                                                      \
    typedef T S_T; /* the element type of S_K */                                                  \
    (void)(S_T)0;                                                                                  \
    OT *restrict o = (OT *)p[0];                                                                   \
    const T *restrict a = (const T *)p[1];                                                         \
    int64_t so = s[0], sa = s[1];                                                                  \
    if (so == 1 && sa == 1) {                                                                      \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        T x0 = a[i];                                                                               \
        o[i] = (OT)(EXPR);                                                                         \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) {                                                            \
        T x0 = a[i * sa];                                                                          \
        o[i * so] = (OT)(EXPR);                                                                    \
      }                                                                                            \
    }                                                                                              \
  }

/* where(cond, a, b) selects by element size, the values are not read as
 * numbers. The contiguous cases, with a or b possibly a broadcast scalar
 * (ReLU's backward is where(x > 0, g, 0)), are branch-free loops the
 * compiler vectorizes. */
#define SEL(T, EXPR)                                                                               \
  NS_SIMD_CLONES                                                                                   \
  static void where_##T(int64_t n, char **p, const int64_t *s, void *ctx) {                        \
    (void)ctx;                                                                                     \
    T *restrict o = (T *)p[0];                                                                     \
    const uint8_t *restrict c = (const uint8_t *)p[1];                                             \
    const T *restrict a = (const T *)p[2], *restrict b = (const T *)p[3];                          \
    if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                                        \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        uint8_t x0 = c[i];                                                                         \
        T x1 = a[i], x2 = b[i];                                                                    \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 0) {                                 \
      T x2 = b[0];                                                                                 \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        uint8_t x0 = c[i];                                                                         \
        T x1 = a[i];                                                                               \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    } else if (s[0] == 1 && s[1] == 1 && s[2] == 0 && s[3] == 1) {                                 \
      T x1 = a[0];                                                                                 \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        uint8_t x0 = c[i];                                                                         \
        T x2 = b[i];                                                                               \
        o[i] = (EXPR);                                                                             \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) {                                                            \
        uint8_t x0 = c[i * s[1]];                                                                  \
        T x1 = a[i * s[2]], x2 = b[i * s[3]];                                                      \
        o[i * s[0]] = (EXPR);                                                                      \
      }                                                                                            \
    }                                                                                              \
  }

/* The scalar primitives as C, shared by both classes... */
#define X0 x0
#define X1 x1
#define X2 x2
#define S_K(c) ((S_T)(c))
#define S_SELECT(c, a, b) ((c) ? (a) : (b))
#define S_EQ(a, b) ((a) == (b))
#define S_NE(a, b) ((a) != (b))
#define S_LT(a, b) ((a) < (b))
#define S_LE(a, b) ((a) <= (b))
#define S_GT(a, b) ((a) > (b))
#define S_GE(a, b) ((a) >= (b))
#define RES_SAME(T) T
#define RES_BOOL(T) uint8_t
/* ELEM(NAME, loop, dtypes, result, expression) -> GEN_<loop>_<dtypes> */
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) GEN_##LOOP##_##TYPES(NAME, RES_##RES, EXPR)
#define GEN_CVT_ANY(NAME, RES, EXPR) /* tensor.c's conversion loops */

/* ... as floats (tgmath.h picks expf for float, exp for double; exp, log
 * and tanh are tensor_math.h's, the JIT's algorithms in C) ... */
#define S_ADD(a, b) ((a) + (b))
#define S_SUB(a, b) ((a) - (b))
#define S_MUL(a, b) ((a) * (b))
#define S_DIV(a, b) ((a) / (b))
#define S_NEG(a) (-(a))
#define S_POW(a, b) pow(a, b)
#define S_MAX(a, b) FMAX(a, b)
#define S_MIN(a, b) FMIN(a, b)
#define S_ABS(a) fabs(a)
#define S_EXP(a) ns_exp(a)
#define S_LOG(a) ns_log(a)
#define S_SQRT(a) sqrt(a)
#define S_SIN(a) sin(a)
#define S_COS(a) cos(a)
#define S_TANH(a) ns_tanh(a)
#define A0 ((S_T)at->scalar[0])
#define A1 ((S_T)at->scalar[1])
#define GEN_FLOAT(LOOP, NAME, RES, EXPR) LOOP(NAME, f32, float, RES(float), EXPR) LOOP(NAME, f64, double, RES(double), EXPR)
#define GEN_BIN_F(NAME, RES, EXPR) GEN_FLOAT(BIN, NAME, RES, EXPR)
#define GEN_BIN_FI(NAME, RES, EXPR) GEN_FLOAT(BIN, NAME, RES, EXPR)
#define GEN_UN_F(NAME, RES, EXPR) GEN_FLOAT(UN, NAME, RES, EXPR)
#define GEN_UN_FI(NAME, RES, EXPR) GEN_FLOAT(UN, NAME, RES, EXPR)
#define GEN_SEL_ANY(NAME, RES, EXPR) SEL(uint8_t, EXPR) SEL(uint32_t, EXPR) SEL(uint64_t, EXPR)
#include "tensor_scalar.def"
#undef S_ADD
#undef S_SUB
#undef S_MUL
#undef S_DIV
#undef S_NEG
#undef S_POW
#undef S_MAX
#undef S_MIN
#undef S_ABS
#undef A0
#undef A1
#undef GEN_BIN_F
#undef GEN_BIN_FI
#undef GEN_UN_F
#undef GEN_UN_FI
#undef GEN_SEL_ANY

/* ... and as i64: two's complement wrapping, computed in unsigned
 * arithmetic so that C has no signed overflow (scalar ints raise on
 * overflow instead). Rows computed only as floats expand to nothing. */
#define S_ADD(a, b) (int64_t)((uint64_t)(a) + (uint64_t)(b))
#define S_SUB(a, b) (int64_t)((uint64_t)(a) - (uint64_t)(b))
#define S_MUL(a, b) (int64_t)((uint64_t)(a) * (uint64_t)(b))
#define S_NEG(a) (int64_t)(0 - (uint64_t)(a))
#define S_POW(a, b) ipow(a, b)
#define S_MAX(a, b) ((a) > (b) ? (a) : (b))
#define S_MIN(a, b) ((a) < (b) ? (a) : (b))
#define S_ABS(a) ((a) < 0 ? S_NEG(a) : (a))
#define A0 int_bound(at->scalar[0])
#define A1 int_bound(at->scalar[1])
#define GEN_BIN_F(NAME, RES, EXPR)
#define GEN_BIN_FI(NAME, RES, EXPR) BIN(NAME, i64, int64_t, RES(int64_t), EXPR)
#define GEN_UN_F(NAME, RES, EXPR)
#define GEN_UN_FI(NAME, RES, EXPR) UN(NAME, i64, int64_t, RES(int64_t), EXPR)
#define GEN_SEL_ANY(NAME, RES, EXPR)
#include "tensor_scalar.def"
#undef GEN_BIN_F
#undef GEN_BIN_FI
#undef GEN_UN_F
#undef GEN_UN_FI
#undef GEN_SEL_ANY
#undef ELEM

/* Indexed by op and compute dtype (f32, f64, i64; bool computes as i64);
 * NULL for an op not computed in that dtype. */
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) ROW_##LOOP##_##TYPES(NAME)
#define ROW_BIN_F(NAME) [TOP_##NAME] = {elem_##NAME##_f32, elem_##NAME##_f64, NULL},
#define ROW_BIN_FI(NAME) [TOP_##NAME] = {elem_##NAME##_f32, elem_##NAME##_f64, elem_##NAME##_i64},
#define ROW_UN_F ROW_BIN_F
#define ROW_UN_FI ROW_BIN_FI
#define ROW_SEL_ANY(NAME)
#define ROW_CVT_ANY(NAME)
static const TInnerFn elem_fns[TOP__COUNT][3] = {
#include "tensor_scalar.def"
};
#undef ELEM
#undef X0
#undef X1
#undef X2
#undef S_K
#undef S_SELECT
#undef S_EQ
#undef S_NE
#undef S_LT
#undef S_LE
#undef S_GT
#undef S_GE
#undef RES_SAME
#undef RES_BOOL
#undef GEN_CVT_ANY
#undef GEN_FLOAT
#undef S_EXP
#undef S_LOG
#undef S_SQRT
#undef S_SIN
#undef S_COS
#undef S_TANH
#undef S_ADD
#undef S_SUB
#undef S_MUL
#undef S_NEG
#undef S_POW
#undef S_MAX
#undef S_MIN
#undef S_ABS
#undef A0
#undef A1
#undef ROW_BIN_F
#undef ROW_BIN_FI
#undef ROW_UN_F
#undef ROW_UN_FI
#undef ROW_SEL_ANY
#undef ROW_CVT_ANY

/* An integer power is an integer only for exponents >= 0 (PyTorch refuses
 * the others too; 2 ** -1 would truncate to 0). */
static bool nonnegative_exponents(TCtx *tc, ObjTensor *b) {
  ObjTensor *c = tensor_contiguous(tc, b);
  const int64_t *e = tensor_data(c);
  for (int64_t i = 0; i < c->numel; i++)
    if (e[i] < 0)
      return tensor_error(tc, "pow: integers to negative integer powers are not allowed (exponent %lld); "
                          "use a float tensor",
                      (long long)e[i]);
  return true;
}

static bool binary(TCtx *tc, TensorOp op, ObjTensor *a, ObjTensor *b, ObjTensor **out) {
  int nd;
  int64_t shape[NS_MAX_DIMS];
  if (!tensor_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &nd, shape))
    return shape_error2(tc, op, a, b, "cannot broadcast");
  bool cmp = op >= TOP_EQ && op <= TOP_GE;
  DType cd = tensor_promote(a->dtype, b->dtype);
  if (cd == DT_BOOL) cd = DT_I64;
  if (op == TOP_DIV && cd == DT_I64) cd = DT_F32; /* true division */
  if (a->dtype != cd) a = tensor_to(tc, a, cd);
  if (b->dtype != cd) b = tensor_to(tc, b, cd);
  if (op == TOP_POW && cd == DT_I64 && !nonnegative_exponents(tc, b)) return false;
  ObjTensor *r = tensor_new(tc, cmp ? DT_BOOL : cd, nd, shape);
  TLoop L = {.ndim = nd, .nops = 3};
  memcpy(L.shape, shape, sizeof L.shape);
  memcpy(L.strides[0], r->strides, sizeof L.strides[0]);
  tensor_broadcast_strides(a, nd, shape, L.strides[1]);
  tensor_broadcast_strides(b, nd, shape, L.strides[2]);
  char *base[3] = {tensor_data(r), tensor_data(a), tensor_data(b)};
  size_t es[3] = {tensor_dtype_sizes[r->dtype], tensor_dtype_sizes[cd], tensor_dtype_sizes[cd]};
  tloop_run(&L, base, es, elem_fns[op][cd == DT_F32 ? 0 : cd == DT_F64 ? 1 : 2], NULL);
  *out = r;
  return true;
}

/* An input may share dst's storage only as the very same view: then each
 * element is read before it is written, at the same place. dst itself must
 * not overlap (an expanded view, stride 0, would update an element once per
 * copy). */
static bool safe_in_place(const ObjTensor *dst, const ObjTensor *t, const int64_t *strides) {
  if (t->storage != dst->storage) return true;
  if (t->offset != dst->offset) return false;
  for (int d = 0; d < dst->ndim; d++)
    if (dst->shape[d] > 1 && strides[d] != dst->strides[d]) return false;
  return true;
}

bool tensor_binary_into(TensorOp op, ObjTensor *dst, ObjTensor *a, ObjTensor *b) {
  if (op != TOP_ADD && op != TOP_SUB && op != TOP_MUL && op != TOP_DIV) return false;
  int nd;
  int64_t shape[NS_MAX_DIMS];
  if (!tensor_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) return false;
  if (nd != dst->ndim || memcmp(shape, dst->shape, sizeof(int64_t) * nd)) return false;
  for (int d = 0; d < nd; d++)
    if (dst->shape[d] > 1 && dst->strides[d] == 0) return false;
  DType cd = dst->dtype;
  if (!is_float(cd) || a->dtype != cd || b->dtype != cd) return false;
  TLoop L = {.ndim = nd, .nops = 3};
  memcpy(L.shape, shape, sizeof L.shape);
  memcpy(L.strides[0], dst->strides, sizeof L.strides[0]);
  tensor_broadcast_strides(a, nd, shape, L.strides[1]);
  tensor_broadcast_strides(b, nd, shape, L.strides[2]);
  if (!safe_in_place(dst, a, L.strides[1]) || !safe_in_place(dst, b, L.strides[2])) return false;
  char *base[3] = {tensor_data(dst), tensor_data(a), tensor_data(b)};
  size_t es[3] = {tensor_dtype_sizes[cd], tensor_dtype_sizes[cd], tensor_dtype_sizes[cd]};
  tloop_run(&L, base, es, elem_fns[op][cd == DT_F32 ? 0 : 1], NULL);
  return true;
}

#define TK_BINARY(NAME)                                                                            \
  bool tk_##NAME(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {                \
    (void)n;                                                                                       \
    (void)a;                                                                                       \
    return binary(tc, TOP_##NAME, in[0], in[1], out);                                              \
  }
TK_BINARY(ADD)
TK_BINARY(SUB)
TK_BINARY(MUL)
TK_BINARY(DIV)
TK_BINARY(POW)
TK_BINARY(MAXIMUM)
TK_BINARY(MINIMUM)
TK_BINARY(EQ)
TK_BINARY(NE)
TK_BINARY(LT)
TK_BINARY(LE)
TK_BINARY(GT)
TK_BINARY(GE)


bool tk_WHERE(TCtx *tc, ObjTensor **in, int n, const TAttrs *at, ObjTensor **out) {
  (void)n;
  (void)at;
  ObjTensor *c = in[0], *a = in[1], *b = in[2];
  int nd, nd2;
  int64_t s1[NS_MAX_DIMS], shape[NS_MAX_DIMS];
  if (!tensor_broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &nd, s1))
    return shape_error2(tc, TOP_WHERE, a, b, "cannot broadcast");
  if (!tensor_broadcast_shape(c->ndim, c->shape, nd, s1, &nd2, shape)) {
    char sc[128], sx[128];
    return tensor_error(tc, "where: condition shape %s and value shape %s cannot broadcast",
                    tensor_shape_str(c, sc, sizeof sc), tensor_dims_str(nd, s1, sx, sizeof sx));
  }
  DType cd = tensor_promote(a->dtype, b->dtype);
  if (c->dtype != DT_BOOL) c = tensor_to(tc, c, DT_BOOL);
  if (a->dtype != cd) a = tensor_to(tc, a, cd);
  if (b->dtype != cd) b = tensor_to(tc, b, cd);
  ObjTensor *r = tensor_new(tc, cd, nd2, shape);
  TLoop L = {.ndim = nd2, .nops = 4};
  memcpy(L.shape, shape, sizeof L.shape);
  memcpy(L.strides[0], r->strides, sizeof L.strides[0]);
  tensor_broadcast_strides(c, nd2, shape, L.strides[1]);
  tensor_broadcast_strides(a, nd2, shape, L.strides[2]);
  tensor_broadcast_strides(b, nd2, shape, L.strides[3]);
  char *base[4] = {tensor_data(r), tensor_data(c), tensor_data(a), tensor_data(b)};
  size_t es = tensor_dtype_sizes[cd];
  size_t ess[4] = {es, 1, es, es};
  tloop_run(&L, base, ess, es == 1 ? where_uint8_t : es == 4 ? where_uint32_t : where_uint64_t, NULL);
  *out = r;
  return true;
}

/* ---- unary elementwise ---- */

static bool unary(TCtx *tc, TensorOp op, ObjTensor *x, const TAttrs *a, ObjTensor **out) {
  DType cd = x->dtype == DT_BOOL ? DT_I64 : x->dtype;
  if (cd == DT_I64 && !elem_fns[op][2]) cd = DT_F32;
  if (x->dtype != cd) x = tensor_to(tc, x, cd);
  ObjTensor *r = tensor_new(tc, cd, x->ndim, x->shape);
  TLoop L = {.ndim = x->ndim, .nops = 2};
  memcpy(L.shape, x->shape, sizeof L.shape);
  memcpy(L.strides[0], r->strides, sizeof L.strides[0]);
  memcpy(L.strides[1], x->strides, sizeof L.strides[1]);
  char *base[2] = {tensor_data(r), tensor_data(x)};
  size_t es[2] = {tensor_dtype_sizes[cd], tensor_dtype_sizes[cd]};
  tloop_run(&L, base, es, elem_fns[op][cd == DT_F32 ? 0 : cd == DT_F64 ? 1 : 2], (void *)a);
  *out = r;
  return true;
}

#define TK_UNARY(NAME)                                                                             \
  bool tk_##NAME(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {                \
    (void)n;                                                                                       \
    return unary(tc, TOP_##NAME, in[0], a, out);                                                   \
  }
TK_UNARY(NEG)
TK_UNARY(ABS)
TK_UNARY(EXP)
TK_UNARY(LOG)
TK_UNARY(SQRT)
TK_UNARY(SIN)
TK_UNARY(COS)
TK_UNARY(TANH)
TK_UNARY(SIGMOID)
TK_UNARY(RELU)
TK_UNARY(GELU)
TK_UNARY(SILU)
TK_UNARY(LEAKY_RELU)

/* clamp(x, lo, hi): a NaN bound is no bound; an integer tensor with a
 * fractional bound is clamped as f32. */
bool tk_CLAMP(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  TAttrs b = *a;
  if (b.scalar[0] != b.scalar[0]) b.scalar[0] = -INFINITY;
  if (b.scalar[1] != b.scalar[1]) b.scalar[1] = INFINITY;
  ObjTensor *x = in[0];
  if (!is_float(x->dtype)) {
    bool integral = (isinf(b.scalar[0]) || b.scalar[0] == floor(b.scalar[0])) &&
                    (isinf(b.scalar[1]) || b.scalar[1] == floor(b.scalar[1]));
    if (!integral) return unary(tc, TOP_CLAMP, tensor_to(tc, x, DT_F32), &b, out);
  }
  return unary(tc, TOP_CLAMP, x, &b, out);
}

bool tk_CAST(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  if (a->dtype >= DT__COUNT) return tensor_error(tc, "cast: unknown dtype");
  ObjTensor *r = tensor_new(tc, a->dtype, in[0]->ndim, in[0]->shape);
  tensor_copy_into(r, in[0]);
  *out = r;
  return true;
}

/* ---- reductions ---- */

/* Move the reduced axes last and make the result contiguous, so that the
 * reduction is over rows of R contiguous elements; the kept axes keep
 * their order, so the rows come out in the result's row-major order. */
typedef struct {
  ObjTensor *x;    /* contiguous, reduced axes last */
  int64_t rows, R; /* rows = numel of the result */
  int nd;
  int64_t shape[NS_MAX_DIMS]; /* result shape */
} Rows;

static bool reduce_rows(TCtx *tc, TensorOp op, ObjTensor *x, uint32_t axes, bool keepdim, DType cd, Rows *r) {
  if (x->ndim < 32 && (axes >> x->ndim) != 0) {
    int bad = 0;
    while (!((axes >> bad) & 1) || bad < x->ndim) bad++;
    return tensor_error(tc, "%s: axis %d out of range for a %d-d tensor", OPNAME(op), bad, x->ndim);
  }
  if (axes == 0) axes = x->ndim ? (uint32_t)((1ull << x->ndim) - 1) : 0;
  int perm[NS_MAX_DIMS], np = 0;
  r->nd = 0;
  r->R = 1;
  for (int i = 0; i < x->ndim; i++) {
    if ((axes >> i) & 1) {
      if (keepdim) r->shape[r->nd++] = 1;
      r->R *= x->shape[i];
    } else {
      perm[np++] = i;
      r->shape[r->nd++] = x->shape[i];
    }
  }
  for (int i = 0; i < x->ndim; i++)
    if ((axes >> i) & 1) perm[np++] = i;
  ObjTensor *p = tensor_permuted(tc, x, perm);
  r->x = tensor_to(tc, p, cd);
  r->rows = r->R ? x->numel / r->R : tensor_shape_numel(r->nd, r->shape);
  return true;
}

/* Sums are taken in blocks of RED_BLOCK elements added in order, so a long
 * row can be split across threads and still give the same bits as on one
 * thread. */
#define RED_BLOCK 32768

typedef struct {
  TensorOp op;
  DType cd;
  const void *src;
  void *dst;
  int64_t rows, R, nblocks;
  double *partial; /* [rows * nblocks] for split rows */
} RedJob;

/* Eight running totals in fixed lanes (element j goes to lane j % 8 of
 * its span), combined pairwise: the loop vectorizes, and the result
 * depends only on the data and the span boundaries, never on the thread
 * count or the CPU's vector width. */
#define SUM_LANES 8
NS_SIMD_CLONES static double sum_span(DType cd, const void *row, int64_t lo, int64_t hi) {
  double acc[SUM_LANES] = {0};
  int64_t j = lo;
  if (cd == DT_F32) {
    const float *x = row;
    for (; j + SUM_LANES <= hi; j += SUM_LANES)
      for (int l = 0; l < SUM_LANES; l++) acc[l] += x[j + l];
    for (int l = 0; j < hi; j++, l++) acc[l] += x[j];
  } else {
    const double *x = row;
    for (; j + SUM_LANES <= hi; j += SUM_LANES)
      for (int l = 0; l < SUM_LANES; l++) acc[l] += x[j + l];
    for (int l = 0; j < hi; j++, l++) acc[l] += x[j];
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static double sum_row(DType cd, const void *row, int64_t R) {
  if (R <= RED_BLOCK) return sum_span(cd, row, 0, R);
  double acc = 0;
  for (int64_t lo = 0; lo < R; lo += RED_BLOCK) acc += sum_span(cd, row, lo, lo + RED_BLOCK < R ? lo + RED_BLOCK : R);
  return acc;
}

static void store_row(const RedJob *j, int64_t i, double acc) {
  if (j->op == TOP_MEAN) acc = j->R ? acc / (double)j->R : NAN;
  if (j->cd == DT_F32)
    ((float *)j->dst)[i] = (float)acc;
  else
    ((double *)j->dst)[i] = acc;
}

static void reduce_rows_range(int64_t lo, int64_t hi, void *arg) {
  const RedJob *jb = arg;
  TensorOp op = jb->op;
  int64_t R = jb->R;
  for (int64_t i = lo; i < hi; i++) {
    if (jb->cd == DT_I64) {
      const int64_t *row = (const int64_t *)jb->src + i * R;
      int64_t acc = op == TOP_SUM ? 0 : row[0];
      for (int64_t j = 0; j < R; j++) {
        int64_t v = row[j];
        if (op == TOP_SUM) acc = (int64_t)((uint64_t)acc + (uint64_t)v);
        else if (op == TOP_MAX) acc = v > acc ? v : acc;
        else acc = v < acc ? v : acc;
      }
      ((int64_t *)jb->dst)[i] = acc;
      continue;
    }
    double acc;
    if (op == TOP_SUM || op == TOP_MEAN) {
      acc = sum_row(jb->cd, (const char *)jb->src + i * R * (int64_t)tensor_dtype_sizes[jb->cd], R);
    } else if (jb->cd == DT_F32) {
      const float *row = (const float *)jb->src + i * R;
      float m = row[0];
      if (op == TOP_MAX)
        for (int64_t j = 1; j < R; j++) m = FMAX(m, row[j]);
      else
        for (int64_t j = 1; j < R; j++) m = FMIN(m, row[j]);
      acc = m;
    } else {
      const double *row = (const double *)jb->src + i * R;
      double m = row[0];
      if (op == TOP_MAX)
        for (int64_t j = 1; j < R; j++) m = FMAX(m, row[j]);
      else
        for (int64_t j = 1; j < R; j++) m = FMIN(m, row[j]);
      acc = m;
    }
    store_row(jb, i, acc);
  }
}

/* Blocks lo..hi of all rows (block b of row i is index i * nblocks + b). */
static void reduce_blocks_range(int64_t lo, int64_t hi, void *arg) {
  const RedJob *jb = arg;
  size_t es = tensor_dtype_sizes[jb->cd];
  for (int64_t k = lo; k < hi; k++) {
    int64_t i = k / jb->nblocks, b = k % jb->nblocks, a = b * RED_BLOCK;
    const char *row = (const char *)jb->src + i * jb->R * (int64_t)es;
    jb->partial[k] = sum_span(jb->cd, row, a, a + RED_BLOCK < jb->R ? a + RED_BLOCK : jb->R);
  }
}

static bool reduce(TCtx *tc, TensorOp op, ObjTensor *x, const TAttrs *a, ObjTensor **out) {
  DType cd = x->dtype;
  if (cd == DT_BOOL) cd = DT_I64;
  if (op == TOP_MEAN && cd == DT_I64) cd = DT_F32;
  Rows r;
  if (!reduce_rows(tc, op, x, a->axes, a->keepdim, cd, &r)) return false;
  if ((op == TOP_MAX || op == TOP_MIN) && r.R == 0 && r.rows > 0)
    return tensor_error(tc, "%s: reduction over an empty dimension", OPNAME(op));
  ObjTensor *o = tensor_new(tc, cd, r.nd, r.shape);
  RedJob jb = {.op = op, .cd = cd, .src = tensor_data(r.x), .dst = tensor_data(o), .rows = r.rows, .R = r.R};
  bool float_sum = cd != DT_I64 && (op == TOP_SUM || op == TOP_MEAN);
  if (float_sum && r.R > 2 * RED_BLOCK && r.rows > 0 && r.rows < 8) {
    /* few long rows: split each into its blocks */
    jb.nblocks = (r.R + RED_BLOCK - 1) / RED_BLOCK;
    jb.partial = malloc(sizeof(double) * (size_t)(r.rows * jb.nblocks));
    if (!jb.partial) return tensor_error(tc, "%s: out of memory", OPNAME(op));
    pool_parallel_for(r.rows * jb.nblocks, 1, reduce_blocks_range, &jb);
    for (int64_t i = 0; i < r.rows; i++) {
      double acc = 0;
      for (int64_t b = 0; b < jb.nblocks; b++) acc += jb.partial[i * jb.nblocks + b];
      store_row(&jb, i, acc);
    }
    free(jb.partial);
  } else {
    int64_t grain = r.R > 0 ? POOL_GRAIN / r.R : POOL_GRAIN;
    pool_parallel_for(r.rows, grain > 0 ? grain : 1, reduce_rows_range, &jb);
  }
  *out = o;
  return true;
}

#define TK_REDUCE(NAME)                                                                            \
  bool tk_##NAME(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {                \
    (void)n;                                                                                       \
    return reduce(tc, TOP_##NAME, in[0], a, out);                                                  \
  }
TK_REDUCE(SUM)
TK_REDUCE(MEAN)
TK_REDUCE(MAX)
TK_REDUCE(MIN)

/* argmax/argmin along `axis` (negative counts from the end); i64 result,
 * keepdim honoured. The first extreme wins; NaN counts as the maximum. To
 * search the whole tensor, reshape it to 1-D first. */
static bool arg_reduce(TCtx *tc, TensorOp op, ObjTensor *x, const TAttrs *a, ObjTensor **out) {
  if (x->ndim == 0) {
    *out = tensor_scalar(tc, DT_I64, 0);
    return true;
  }
  int axis = a->axis < 0 ? a->axis + x->ndim : a->axis;
  if (axis < 0 || axis >= x->ndim)
    return tensor_error(tc, "%s: axis %d out of range for a %d-d tensor", OPNAME(op), a->axis, x->ndim);
  DType cd = x->dtype == DT_F32 ? DT_F32 : DT_F64;
  Rows r;
  if (!reduce_rows(tc, op, x, 1u << axis, a->keepdim, cd, &r)) return false;
  if (r.R == 0 && r.rows > 0) return tensor_error(tc, "%s: reduction over an empty dimension", OPNAME(op));
  ObjTensor *o = tensor_new(tc, DT_I64, r.nd, r.shape);
  int64_t *dst = tensor_data(o);
  bool mx = op == TOP_ARGMAX;
  for (int64_t i = 0; i < r.rows; i++) {
    int64_t best = 0;
    if (cd == DT_F32) {
      const float *row = (const float *)tensor_data(r.x) + i * r.R;
      for (int64_t j = 1; j < r.R && row[best] == row[best]; j++)
        if (row[j] != row[j] || (mx ? row[j] > row[best] : row[j] < row[best])) best = j;
    } else {
      const double *row = (const double *)tensor_data(r.x) + i * r.R;
      for (int64_t j = 1; j < r.R && row[best] == row[best]; j++)
        if (row[j] != row[j] || (mx ? row[j] > row[best] : row[j] < row[best])) best = j;
    }
    dst[i] = best;
  }
  *out = o;
  return true;
}

bool tk_ARGMAX(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  return arg_reduce(tc, TOP_ARGMAX, in[0], a, out);
}

bool tk_ARGMIN(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  return arg_reduce(tc, TOP_ARGMIN, in[0], a, out);
}

/* ---- matmul ---- */

/* Decides the thread count (the pool's and OpenBLAS's) if nothing has yet. */
void tensor_blas_init(void) { (void)pool_threads(); }

/* How BLAS can read a rows x cols matrix with strides (rs, cs): as is
 * (ld = rs) or transposed (ld = cs); false if neither (copy it first). */
static bool gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, bool *trans, int64_t *ld) {
  if (cols == 1) cs = 1;
  if (rows == 1) rs = cols;
  if (cs == 1 && rs >= (cols > 1 ? cols : 1)) {
    *trans = false;
    *ld = rs;
    return true;
  }
  if (rs == 1 && cs >= (rows > 1 ? rows : 1)) {
    *trans = true;
    *ld = cs;
    return true;
  }
  return false;
}

/* One matmul's operands for matmul_batches: batch strides (0 where
 * broadcast) and the GEMM layout found by gemm_layout. */
typedef struct {
  DType dt;
  int nb;
  bool ta, tb;
  int64_t m, n, k, lda, ldb;
  int64_t abs_[NS_MAX_DIMS], bbs[NS_MAX_DIMS], bshape[NS_MAX_DIMS];
  int64_t ars, acs, brs, bcs; /* i64: element strides of a's and b's matrices */
  const char *a, *b;
  char *c;
} MatmulJob;

/* Batches [lo, hi): c[bi] (m x n, contiguous) = a[bi] @ b[bi]. OpenBLAS is
 * loaded (blas_load) before this runs for f32/f64. */
static void matmul_batches(int64_t lo, int64_t hi, void *arg) {
  const MatmulJob *j = arg;
  size_t es = tensor_dtype_sizes[j->dt];
  int64_t m = j->m, n = j->n, k = j->k, idx[NS_MAX_DIMS];
  /* the batch index of lo */
  int64_t q = lo;
  for (int d = j->nb - 1; d >= 0; d--) idx[d] = q % j->bshape[d], q /= j->bshape[d];
  for (int64_t bi = lo; bi < hi; bi++) {
    int64_t ao = 0, bo = 0;
    for (int i = 0; i < j->nb; i++) ao += idx[i] * j->abs_[i], bo += idx[i] * j->bbs[i];
    const char *pa = j->a + ao * (int64_t)es, *pb = j->b + bo * (int64_t)es;
    char *pc = j->c + bi * m * n * (int64_t)es;
    enum CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->dt == DT_F32) {
      blas_sgemm(ta, tb, (int)m, (int)n, (int)k, 1.0f, (const float *)pa, (int)j->lda, (const float *)pb, (int)j->ldb,
                 0.0f, (float *)pc, (int)n);
    } else if (j->dt == DT_F64) {
      blas_dgemm(ta, tb, (int)m, (int)n, (int)k, 1.0, (const double *)pa, (int)j->lda, (const double *)pb, (int)j->ldb,
                 0.0, (double *)pc, (int)n);
    } else {
      const int64_t *A = (const int64_t *)pa, *B = (const int64_t *)pb;
      int64_t *C = (int64_t *)pc;
      for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++) {
          uint64_t x = (uint64_t)A[i * j->ars + p * j->acs];
          for (int64_t c = 0; c < n; c++)
            C[i * n + c] = (int64_t)((uint64_t)C[i * n + c] + x * (uint64_t)B[p * j->brs + c * j->bcs]);
        }
    }
    for (int d = j->nb - 1; d >= 0; d--) {
      if (++idx[d] < j->bshape[d]) break;
      idx[d] = 0;
    }
  }
}

/* a [.., m, k] @ b [.., k, n] -> [.., m, n]; batch dims broadcast; a 1-D
 * a is [1, k] and a 1-D b is [k, 1], their unit dim dropped from the
 * result (NumPy). f32/f64 through cblas_?gemm without copying transposed
 * views; integers by a plain loop. */
bool tk_MATMUL(TCtx *tc, ObjTensor **in, int nin, const TAttrs *at, ObjTensor **out) {
  (void)nin;
  (void)at;
  ObjTensor *a = in[0], *b = in[1];
  if (a->ndim == 0 || b->ndim == 0) return shape_error2(tc, TOP_MATMUL, a, b, "are not aligned (0-d operand)");
  DType cd = tensor_promote(a->dtype, b->dtype);
  if (cd == DT_BOOL) cd = DT_I64;
  /* 2-D-or-more views of both */
  int64_t ash[NS_MAX_DIMS + 1], ast[NS_MAX_DIMS + 1], bsh[NS_MAX_DIMS + 1], bst[NS_MAX_DIMS + 1];
  int na = a->ndim, bnd = b->ndim;
  if (na == 1) {
    ash[0] = 1, ast[0] = a->shape[0] * a->strides[0], ash[1] = a->shape[0], ast[1] = a->strides[0];
    na = 2;
  } else {
    memcpy(ash, a->shape, sizeof(int64_t) * na);
    memcpy(ast, a->strides, sizeof(int64_t) * na);
  }
  if (bnd == 1) {
    bsh[0] = b->shape[0], bst[0] = b->strides[0], bsh[1] = 1, bst[1] = 1;
    bnd = 2;
  } else {
    memcpy(bsh, b->shape, sizeof(int64_t) * bnd);
    memcpy(bst, b->strides, sizeof(int64_t) * bnd);
  }
  int64_t m = ash[na - 2], k = ash[na - 1], n = bsh[bnd - 1];
  if (bsh[bnd - 2] != k) return shape_error2(tc, TOP_MATMUL, a, b, "are not aligned");
  int nb;
  int64_t bshape[NS_MAX_DIMS];
  if (!tensor_broadcast_shape(na - 2, ash, bnd - 2, bsh, &nb, bshape))
    return shape_error2(tc, TOP_MATMUL, a, b, "cannot broadcast");
  if (nb + 2 > NS_MAX_DIMS) return tensor_error(tc, "matmul: more than %d dimensions", NS_MAX_DIMS);
  if (a->dtype != cd) a = tensor_to(tc, a, cd), memcpy(ast, a->strides, sizeof(int64_t) * a->ndim);
  if (b->dtype != cd) b = tensor_to(tc, b, cd), memcpy(bst, b->strides, sizeof(int64_t) * b->ndim);
  if (in[0]->ndim == 1) ast[0] = k, ast[1] = a->strides[0];
  if (in[1]->ndim == 1) bst[0] = b->strides[0], bst[1] = 1;
  bool ta = false, tb = false;
  int64_t lda = 0, ldb = 0;
  if (cd != DT_I64 && !gemm_layout(m, k, ast[na - 2], ast[na - 1], &ta, &lda)) {
    a = tensor_contiguous(tc, a);
    if (in[0]->ndim == 1) ast[0] = k, ast[1] = 1;
    else memcpy(ast, a->strides, sizeof(int64_t) * na);
    gemm_layout(m, k, ast[na - 2], ast[na - 1], &ta, &lda);
  }
  if (cd != DT_I64 && !gemm_layout(k, n, bst[bnd - 2], bst[bnd - 1], &tb, &ldb)) {
    b = tensor_contiguous(tc, b);
    if (in[1]->ndim == 1) bst[0] = 1, bst[1] = 1;
    else memcpy(bst, b->strides, sizeof(int64_t) * bnd);
    gemm_layout(k, n, bst[bnd - 2], bst[bnd - 1], &tb, &ldb);
  }
  /* result */
  int64_t oshape[NS_MAX_DIMS];
  int ond = 0;
  for (int i = 0; i < nb; i++) oshape[ond++] = bshape[i];
  if (in[0]->ndim > 1) oshape[ond++] = m;
  if (in[1]->ndim > 1) oshape[ond++] = n;
  ObjTensor *r = cd == DT_I64 || k == 0 ? tensor_zeros(tc, cd, ond, oshape) : tensor_new(tc, cd, ond, oshape);
  if (m == 0 || n == 0 || k == 0) {
    *out = r;
    return true;
  }
  /* broadcast batch strides */
  MatmulJob j = {.dt = cd, .nb = nb, .m = m, .n = n, .k = k, .ta = ta, .tb = tb, .lda = lda, .ldb = ldb};
  for (int i = 0; i < nb; i++) {
    int ia = i - (nb - (na - 2)), ib = i - (nb - (bnd - 2));
    j.abs_[i] = ia >= 0 && ash[ia] != 1 ? ast[ia] : 0;
    j.bbs[i] = ib >= 0 && bsh[ib] != 1 ? bst[ib] : 0;
    j.bshape[i] = bshape[i];
  }
  j.a = tensor_data(a), j.b = tensor_data(b), j.c = tensor_data(r);
  j.ars = ast[na - 2], j.acs = ast[na - 1], j.brs = bst[bnd - 2], j.bcs = bst[bnd - 1];
  int64_t nbatch = tensor_shape_numel(nb, bshape);
  if (cd == DT_I64) {
    matmul_batches(0, nbatch, &j);
  } else {
    tensor_blas_init();
    if (!blas_load()) return tensor_error(tc, "matmul: %s", blas_error());
    /* Products too small to be split themselves (blas.h) go to the pool
     * in runs of batches of about a block's work; the larger ones run in
     * turn, each split. Either way every product is computed as on one
     * thread. */
    double macs = (double)m * n * k;
    int64_t grain = macs >= 2.0 * BLAS_BLOCK_MACS ? nbatch : (int64_t)(BLAS_BLOCK_MACS / macs) + 1;
    pool_parallel_for(nbatch, grain, matmul_batches, &j);
  }
  *out = r;
  return true;
}

/* ---- shape ops ---- */

/* ints[0..nints) = new shape, one -1 inferred. A view of a contiguous
 * tensor; other tensors are copied first. */
bool tk_RESHAPE(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0];
  if (a->nints > NS_MAX_DIMS) return tensor_error(tc, "reshape: more than %d dimensions", NS_MAX_DIMS);
  int64_t shape[NS_MAX_DIMS], known = 1;
  int infer = -1;
  for (int i = 0; i < a->nints; i++) {
    shape[i] = a->ints[i];
    if (shape[i] == -1) {
      if (infer >= 0) return tensor_error(tc, "reshape: only one dimension can be -1");
      infer = i;
    } else if (shape[i] < 0) {
      return tensor_error(tc, "reshape: invalid dimension %lld", (long long)shape[i]);
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      char sb[128];
      return tensor_error(tc, "shape %s has too many elements", tensor_dims_str(a->nints, a->ints, sb, sizeof sb));
    }
  }
  if (infer >= 0 && known != 0 && x->numel % known == 0) shape[infer] = x->numel / known;
  if ((infer >= 0 && (known == 0 || x->numel % known != 0)) ||
      (infer < 0 && known != x->numel)) {
    char sa[128], sb[128];
    return tensor_error(tc, "reshape: cannot reshape %s into %s", tensor_shape_str(x, sa, sizeof sa),
                    tensor_dims_str(a->nints, a->ints, sb, sizeof sb));
  }
  ObjTensor *c = tensor_contiguous(tc, x);
  int64_t st[NS_MAX_DIMS];
  tensor_contig_strides(a->nints, shape, st);
  *out = tensor_view(tc, c, a->nints, shape, st, c->offset);
  return true;
}

/* ints = permutation: axis i of the result is axis ints[i] of x. */
bool tk_PERMUTE(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0];
  int perm[NS_MAX_DIMS];
  bool seen[NS_MAX_DIMS] = {false};
  if (a->nints != x->ndim)
    return tensor_error(tc, "permute: %d axes given for a %d-d tensor", a->nints, x->ndim);
  for (int i = 0; i < x->ndim; i++) {
    int64_t p = a->ints[i] < 0 ? a->ints[i] + x->ndim : a->ints[i];
    if (p < 0 || p >= x->ndim || seen[p])
      return tensor_error(tc, "permute: invalid permutation for a %d-d tensor", x->ndim);
    seen[p] = true;
    perm[i] = (int)p;
  }
  *out = tensor_permuted(tc, x, perm);
  return true;
}

/* ints = target shape (as many dims as x or more; -1 keeps a dim). */
bool tk_EXPAND(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0];
  int nd = a->nints;
  int64_t shape[NS_MAX_DIMS], st[NS_MAX_DIMS];
  if (nd < x->ndim || nd > NS_MAX_DIMS) goto bad;
  for (int i = 0; i < nd; i++) {
    int j = i - (nd - x->ndim);
    int64_t want = a->ints[i];
    if (j < 0) {
      if (want < 0) goto bad;
      shape[i] = want;
      st[i] = 0;
    } else if (want == -1 || want == x->shape[j]) {
      shape[i] = x->shape[j];
      st[i] = x->strides[j];
    } else if (x->shape[j] == 1 && want >= 0) {
      shape[i] = want;
      st[i] = 0;
    } else {
      goto bad;
    }
  }
  *out = tensor_view(tc, x, nd, shape, st, x->offset);
  return true;
bad : {
  char sa[128], sb[128];
  return tensor_error(tc, "expand: cannot expand %s to %s", tensor_shape_str(x, sa, sizeof sa),
                  tensor_dims_str(nd < NS_MAX_DIMS ? nd : NS_MAX_DIMS, a->ints, sb, sizeof sb));
}
}

/* ints = (start, stop, step) for each of the first nints / 3 dims (the
 * rest are taken whole). Negative start/stop count from the end, both are
 * clamped to the dim (so INT64_MAX means "to the end"); step >= 1. */
bool tk_SLICE(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0];
  int nsl = a->nints / 3;
  if (nsl > x->ndim) return tensor_error(tc, "slice: %d dimensions sliced on a %d-d tensor", nsl, x->ndim);
  int64_t shape[NS_MAX_DIMS], st[NS_MAX_DIMS], off = x->offset;
  for (int i = 0; i < x->ndim; i++) {
    shape[i] = x->shape[i];
    st[i] = x->strides[i];
    if (i >= nsl) continue;
    int64_t d = x->shape[i], lo = a->ints[3 * i], hi = a->ints[3 * i + 1], step = a->ints[3 * i + 2];
    if (step < 1) return tensor_error(tc, "slice: step must be positive, got %lld", (long long)step);
    if (lo < 0) lo += d;
    if (hi < 0) hi += d;
    lo = lo < 0 ? 0 : lo > d ? d : lo;
    hi = hi < lo ? lo : hi > d ? d : hi;
    shape[i] = (hi - lo + step - 1) / step;
    st[i] = x->strides[i] * step;
    if (shape[i] > 0) off += lo * x->strides[i];
  }
  *out = tensor_view(tc, x, x->ndim, shape, st, off);
  return true;
}

/* Always a new object (a view sharing storage when x is contiguous). */
bool tk_CONTIGUOUS(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  (void)a;
  ObjTensor *x = in[0];
  if (tensor_is_contiguous(x)) {
    int64_t st[NS_MAX_DIMS];
    tensor_contig_strides(x->ndim, x->shape, st);
    *out = tensor_view(tc, x, x->ndim, x->shape, st, x->offset);
  } else {
    *out = tensor_contiguous(tc, x);
  }
  return true;
}

/* The part of r from `start` along `axis` with x's extent, as a header on
 * the stack (no GC object): for copying pieces into place. */
static ObjTensor sub_view(const ObjTensor *r, int axis, int64_t start, int64_t len) {
  ObjTensor v = *r;
  v.offset = r->offset + start * r->strides[axis];
  v.shape[axis] = len;
  v.numel = tensor_shape_numel(v.ndim, v.shape);
  return v;
}

/* cat along axis: same ndim, equal dims except axis; promoted dtype. */
bool tk_CAT(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  ObjTensor *x0 = in[0];
  int nd = x0->ndim, axis = a->axis < 0 ? a->axis + nd : a->axis;
  if (nd == 0) return tensor_error(tc, "cat: cannot concatenate 0-d tensors");
  if (axis < 0 || axis >= nd) return tensor_error(tc, "cat: axis %d out of range for a %d-d tensor", a->axis, nd);
  int64_t shape[NS_MAX_DIMS];
  memcpy(shape, x0->shape, sizeof shape);
  shape[axis] = 0;
  DType dt = x0->dtype;
  for (int i = 0; i < n; i++) {
    bool ok = in[i]->ndim == nd;
    for (int d = 0; d < nd && ok; d++) ok = d == axis || in[i]->shape[d] == x0->shape[d];
    if (!ok) return shape_error2(tc, TOP_CAT, x0, in[i], "cannot be concatenated");
    shape[axis] += in[i]->shape[axis];
    dt = tensor_promote(dt, in[i]->dtype);
  }
  ObjTensor *r = tensor_new(tc, dt, nd, shape);
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    ObjTensor v = sub_view(r, axis, at, in[i]->shape[axis]);
    tensor_copy_into(&v, in[i]);
    at += in[i]->shape[axis];
  }
  *out = r;
  return true;
}

/* stack along a new axis (0..ndim): all shapes equal. */
bool tk_STACK(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  ObjTensor *x0 = in[0];
  int nd = x0->ndim, axis = a->axis < 0 ? a->axis + nd + 1 : a->axis;
  if (nd + 1 > NS_MAX_DIMS) return tensor_error(tc, "stack: more than %d dimensions", NS_MAX_DIMS);
  if (axis < 0 || axis > nd) return tensor_error(tc, "stack: axis %d out of range for %d-d tensors", a->axis, nd);
  DType dt = x0->dtype;
  for (int i = 0; i < n; i++) {
    bool ok = in[i]->ndim == nd;
    for (int d = 0; d < nd && ok; d++) ok = in[i]->shape[d] == x0->shape[d];
    if (!ok) return shape_error2(tc, TOP_STACK, x0, in[i], "differ");
    dt = tensor_promote(dt, in[i]->dtype);
  }
  int64_t shape[NS_MAX_DIMS];
  for (int d = 0, j = 0; d <= nd; d++) shape[d] = d == axis ? n : x0->shape[j++];
  ObjTensor *r = tensor_new(tc, dt, nd + 1, shape);
  for (int i = 0; i < n; i++) {
    ObjTensor v = sub_view(r, axis, i, 1);
    /* drop the new unit axis so the view has x's shape */
    for (int d = axis; d < nd; d++) v.shape[d] = v.shape[d + 1], v.strides[d] = v.strides[d + 1];
    v.ndim = (uint8_t)nd;
    tensor_copy_into(&v, in[i]);
  }
  *out = r;
  return true;
}

/* Indices are i64 tensors: a float index is not rounded, a bool one is not
 * taken for 0/1 (the error names the dtype). *idx becomes contiguous. */
static bool index_tensor(TCtx *tc, TensorOp op, ObjTensor **idx) {
  ObjTensor *t = *idx;
  if (t->dtype != DT_I64)
    return tensor_error(tc, "%s: indices must be an i64 tensor, got %s", OPNAME(op), tensor_dtype_names[t->dtype]);
  *idx = tensor_to(tc, t, DT_I64);
  return true;
}

/* x [..., D, ...] (D at axis), idx any shape of i64 -> x.shape[:axis] +
 * idx.shape + x.shape[axis+1:] (an embedding lookup for axis 0). */
bool tk_INDEX_SELECT(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0], *idx = in[1];
  int axis = a->axis < 0 ? a->axis + x->ndim : a->axis;
  if (axis < 0 || axis >= x->ndim)
    return tensor_error(tc, "index_select: axis %d out of range for a %d-d tensor", a->axis, x->ndim);
  if (!index_tensor(tc, TOP_INDEX_SELECT, &idx)) return false;
  if (x->ndim - 1 + idx->ndim > NS_MAX_DIMS) return tensor_error(tc, "index_select: more than %d dimensions", NS_MAX_DIMS);
  int64_t shape[NS_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < axis; d++) shape[nd++] = x->shape[d];
  for (int d = 0; d < idx->ndim; d++) shape[nd++] = idx->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) shape[nd++] = x->shape[d];
  x = tensor_contiguous(tc, x);
  int64_t outer = tensor_shape_numel(axis, x->shape), D = x->shape[axis];
  int64_t inner = tensor_shape_numel(x->ndim - axis - 1, x->shape + axis + 1), ni = idx->numel;
  const int64_t *ix = tensor_data(idx);
  for (int64_t j = 0; j < ni; j++)
    if (ix[j] < -D || ix[j] >= D)
      return tensor_error(tc, "index_select: index %lld out of range for axis %d of size %lld", (long long)ix[j],
                      axis, (long long)D);
  ObjTensor *r = tensor_new(tc, x->dtype, nd, shape);
  size_t es = tensor_dtype_sizes[x->dtype], row = (size_t)inner * es;
  const char *src = tensor_data(x);
  char *dst = tensor_data(r);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t k = ix[j] < 0 ? ix[j] + D : ix[j];
      memcpy(dst + (size_t)(o * ni + j) * row, src + (size_t)(o * D + k) * row, row);
    }
  *out = r;
  return true;
}

/* out[i][j] = x[i][idx[i][j]] along axis (torch.gather): idx has x's
 * ndim and no larger dims off the axis; the result has idx's shape. */
bool tk_GATHER(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0], *idx = in[1];
  int axis = a->axis < 0 ? a->axis + x->ndim : a->axis;
  if (axis < 0 || axis >= x->ndim)
    return tensor_error(tc, "gather: axis %d out of range for a %d-d tensor", a->axis, x->ndim);
  if (!index_tensor(tc, TOP_GATHER, &idx)) return false;
  bool ok = idx->ndim == x->ndim;
  for (int d = 0; d < x->ndim && ok; d++) ok = d == axis || idx->shape[d] <= x->shape[d];
  if (!ok) return shape_error2(tc, TOP_GATHER, x, in[1], "do not match (index larger than input)");
  ObjTensor *r = tensor_new(tc, x->dtype, idx->ndim, idx->shape);
  size_t es = tensor_dtype_sizes[x->dtype];
  const int64_t *ix = tensor_data(idx);
  const char *src = tensor_data(x);
  char *dst = tensor_data(r);
  int64_t pos[NS_MAX_DIMS] = {0}, D = x->shape[axis];
  for (int64_t e = 0; e < idx->numel; e++) {
    int64_t k = ix[e] < 0 ? ix[e] + D : ix[e];
    if (k < 0 || k >= D)
      return tensor_error(tc, "gather: index %lld out of range for axis %d of size %lld", (long long)ix[e], axis,
                      (long long)D);
    int64_t off = 0;
    for (int d = 0; d < x->ndim; d++) off += (d == axis ? k : pos[d]) * x->strides[d];
    memcpy(dst + (size_t)e * es, src + off * (int64_t)es, es);
    for (int d = idx->ndim - 1; d >= 0; d--) {
      if (++pos[d] < idx->shape[d]) break;
      pos[d] = 0;
    }
  }
  *out = r;
  return true;
}

bool tensor_index_put(TCtx *tc, ObjTensor *dst, ObjTensor *pos, ObjTensor *src) {
  char sa[128], sb[128];
  int nd;
  int64_t shape[NS_MAX_DIMS];
  if (pos->dtype != DT_I64)
    return tensor_error(tc, "index_put: positions must be i64, got %s", tensor_dtype_names[pos->dtype]);
  if (!tensor_broadcast_shape(src->ndim, src->shape, pos->ndim, pos->shape, &nd, shape) || nd != pos->ndim ||
      memcmp(shape, pos->shape, sizeof(int64_t) * (size_t)nd) != 0)
    return tensor_error(tc, "index assignment: a value of shape %s does not broadcast to the selection's shape %s",
                    tensor_shape_str(src, sa, sizeof sa), tensor_shape_str(pos, sb, sizeof sb));
  ObjTensor *p = tensor_to(tc, pos, DT_I64);
  const int64_t *pd = tensor_data(p);
  for (int64_t j = 0; j < p->numel; j++)
    if (pd[j] < 0 || pd[j] >= dst->numel)
      return tensor_error(tc, "index_put: position %lld out of range for %lld elements", (long long)pd[j],
                      (long long)dst->numel);
  /* the values, broadcast and converted, in a buffer of their own (src may
   * share dst's storage) */
  ObjTensor *v = tensor_new(tc, dst->dtype, pos->ndim, pos->shape);
  tensor_copy_into(v, src);
  size_t es = tensor_dtype_sizes[dst->dtype];
  const char *vd = tensor_data(v);
  char *base = tensor_data(dst);
  for (int64_t j = 0; j < p->numel; j++) {
    int64_t i = pd[j], off = 0;
    for (int d = dst->ndim - 1; d >= 0; d--) {
      off += (i % dst->shape[d]) * dst->strides[d];
      i /= dst->shape[d];
    }
    memcpy(base + off * (int64_t)es, vd + (size_t)j * es, es);
  }
  return true;
}

/* x any shape, pos i64 flat positions into x (any shape), values
 * broadcastable to pos's shape -> a contiguous copy of x with
 * out.flat[pos[j]] = values[j] (index assignment, out of place). */
bool tk_INDEX_PUT(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  (void)a;
  ObjTensor *r = tensor_new(tc, in[0]->dtype, in[0]->ndim, in[0]->shape);
  tensor_copy_into(r, in[0]);
  if (!tensor_index_put(tc, r, in[1], in[2])) return false;
  *out = r;
  return true;
}

/* i64 labels (any shape) -> f32 labels.shape + [classes]; ints[0] =
 * classes (<= 0: max label + 1). */
bool tk_ONE_HOT(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *idx = in[0];
  if (!index_tensor(tc, TOP_ONE_HOT, &idx)) return false;
  if (idx->ndim + 1 > NS_MAX_DIMS) return tensor_error(tc, "one_hot: more than %d dimensions", NS_MAX_DIMS);
  const int64_t *ix = tensor_data(idx);
  int64_t C = a->nints > 0 ? a->ints[0] : 0;
  if (C <= 0)
    for (int64_t i = 0; i < idx->numel; i++) C = ix[i] + 1 > C ? ix[i] + 1 : C;
  int64_t shape[NS_MAX_DIMS];
  memcpy(shape, idx->shape, sizeof(int64_t) * idx->ndim);
  shape[idx->ndim] = C;
  ObjTensor *r = tensor_zeros(tc, DT_F32, idx->ndim + 1, shape);
  float *d = tensor_data(r);
  for (int64_t i = 0; i < idx->numel; i++) {
    if (ix[i] < 0 || ix[i] >= C)
      return tensor_error(tc, "one_hot: label %lld out of range for %lld classes", (long long)ix[i], (long long)C);
    d[i * C + ix[i]] = 1.0f;
  }
  *out = r;
  return true;
}
