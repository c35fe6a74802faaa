/* tensor_scalar.def read the way a code generator reads it: every row's
 * expression is expanded with the primitives defined as builder calls into
 * an expression tree, a small interpreter evaluates the trees per dtype
 * class (f32 in float arithmetic, f64 in double, i64 wrapping), and the
 * results must be the bits the C kernels (the same rows expanded as C)
 * produce, for every elementwise op and dtype, on edge inputs (NaN, ±inf,
 * -0.0, huge and tiny values, i64 overflow), through the contiguous,
 * broadcast-scalar and strided loops. Also: every elementwise op of
 * tensor_ops.def has a row, and an i64 power with a negative exponent is
 * still an error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "tensor_math.h"

#include "builtins.h"
#include "tensor_int.h"
#include "check.h"

static VM *vm;

/* ---- the expression trees: what a code generator would build ---- */

typedef enum {
  N_X, N_A, N_K, N_ADD, N_SUB, N_MUL, N_DIV, N_NEG, N_POW, N_MAX, N_MIN, N_ABS, N_EXP, N_LOG, N_SQRT,
  N_SIN, N_COS, N_TANH, N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_SELECT, N_CONVERT
} Kind;

typedef struct Node {
  Kind k;
  int idx;  /* N_X: operand, N_A: attribute */
  double c; /* N_K */
  const struct Node *a, *b, *s;
} Node;

static Node pool[4096];
static int npool;

static const Node *mk(Kind k, const Node *a, const Node *b, const Node *s) {
  if (npool == (int)(sizeof pool / sizeof pool[0])) {
    printf("expression pool exhausted\n");
    exit(1);
  }
  pool[npool] = (Node){.k = k, .a = a, .b = b, .s = s};
  return &pool[npool++];
}
static const Node *leaf(Kind k, int idx, double c) {
  Node *n = (Node *)mk(k, NULL, NULL, NULL);
  n->idx = idx;
  n->c = c;
  return n;
}

#define X0 leaf(N_X, 0, 0)
#define X1 leaf(N_X, 1, 0)
#define X2 leaf(N_X, 2, 0)
#define A0 leaf(N_A, 0, 0)
#define A1 leaf(N_A, 1, 0)
#define S_K(c) leaf(N_K, 0, c)
#define S_ADD(a, b) mk(N_ADD, a, b, NULL)
#define S_SUB(a, b) mk(N_SUB, a, b, NULL)
#define S_MUL(a, b) mk(N_MUL, a, b, NULL)
#define S_DIV(a, b) mk(N_DIV, a, b, NULL)
#define S_POW(a, b) mk(N_POW, a, b, NULL)
#define S_MAX(a, b) mk(N_MAX, a, b, NULL)
#define S_MIN(a, b) mk(N_MIN, a, b, NULL)
#define S_EQ(a, b) mk(N_EQ, a, b, NULL)
#define S_NE(a, b) mk(N_NE, a, b, NULL)
#define S_LT(a, b) mk(N_LT, a, b, NULL)
#define S_LE(a, b) mk(N_LE, a, b, NULL)
#define S_GT(a, b) mk(N_GT, a, b, NULL)
#define S_GE(a, b) mk(N_GE, a, b, NULL)
#define S_NEG(a) mk(N_NEG, a, NULL, NULL)
#define S_ABS(a) mk(N_ABS, a, NULL, NULL)
#define S_EXP(a) mk(N_EXP, a, NULL, NULL)
#define S_LOG(a) mk(N_LOG, a, NULL, NULL)
#define S_SQRT(a) mk(N_SQRT, a, NULL, NULL)
#define S_SIN(a) mk(N_SIN, a, NULL, NULL)
#define S_COS(a) mk(N_COS, a, NULL, NULL)
#define S_TANH(a) mk(N_TANH, a, NULL, NULL)
#define S_SELECT(c, a, b) mk(N_SELECT, a, b, c)
#define S_CONVERT(a) mk(N_CONVERT, a, NULL, NULL)

typedef struct {
  TensorOp op;
  const char *loop, *types, *result;
} Row;

static const Row rows[] = {
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) {TOP_##NAME, #LOOP, #TYPES, #RES},
#include "tensor_scalar.def"
#undef ELEM
};

static const Node *build(TensorOp op) {
  npool = 0;
  switch (op) {
#define ELEM(NAME, LOOP, TYPES, RES, EXPR)                                                         \
  case TOP_##NAME: return EXPR;
#include "tensor_scalar.def"
#undef ELEM
  default: return NULL;
  }
}

/* ---- the interpreter ---- */

/* Floats: T is float or double; tgmath.h picks the function of that type
 * (exp, log and tanh: tensor_math.h's, as the kernels). */
#define EVAL_FLOAT(NAME, T)                                                                        \
  static T NAME(const Node *n, const T *x, const TAttrs *at) {                                     \
    switch (n->k) {                                                                                \
    case N_X: return x[n->idx];                                                                    \
    case N_A: return (T)at->scalar[n->idx];                                                        \
    case N_K: return (T)n->c;                                                                      \
    case N_CONVERT: return NAME(n->a, x, at);                                                      \
    case N_SELECT: return NAME(n->s, x, at) != 0 ? NAME(n->a, x, at) : NAME(n->b, x, at);          \
    default: break;                                                                                \
    }                                                                                              \
    T a = NAME(n->a, x, at);                                                                       \
    switch (n->k) {                                                                                \
    case N_NEG: return -a;                                                                         \
    case N_ABS: return fabs(a);                                                                    \
    case N_EXP: return ns_exp(a);                                                                  \
    case N_LOG: return ns_log(a);                                                                  \
    case N_SQRT: return sqrt(a);                                                                   \
    case N_SIN: return sin(a);                                                                     \
    case N_COS: return cos(a);                                                                     \
    case N_TANH: return ns_tanh(a);                                                                \
    default: break;                                                                                \
    }                                                                                              \
    T b = NAME(n->b, x, at);                                                                       \
    switch (n->k) {                                                                                \
    case N_ADD: return a + b;                                                                      \
    case N_SUB: return a - b;                                                                      \
    case N_MUL: return a * b;                                                                      \
    case N_DIV: return a / b;                                                                      \
    case N_POW: return pow(a, b);                                                                  \
    case N_MAX: return isnan(a) ? a : isnan(b) ? b : a > b ? a : b;                                \
    case N_MIN: return isnan(a) ? a : isnan(b) ? b : a < b ? a : b;                                \
    case N_EQ: return a == b;                                                                      \
    case N_NE: return a != b;                                                                      \
    case N_LT: return a < b;                                                                       \
    case N_LE: return a <= b;                                                                      \
    case N_GT: return a > b;                                                                       \
    case N_GE: return a >= b;                                                                      \
    default: break;                                                                                \
    }                                                                                              \
    printf("node %d has no " #T " meaning\n", (int)n->k);                                          \
    exit(1);                                                                                       \
  }
EVAL_FLOAT(eval_f32, float)
EVAL_FLOAT(eval_f64, double)

static int64_t wrap(uint64_t v) { return (int64_t)v; }

static int64_t eval_i64(const Node *n, const int64_t *x, const TAttrs *at) {
  switch (n->k) {
  case N_X: return x[n->idx];
  case N_A: {
    double v = at->scalar[n->idx];
    return v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN : (int64_t)v;
  }
  case N_K: return (int64_t)n->c;
  case N_CONVERT: return eval_i64(n->a, x, at);
  case N_SELECT: return eval_i64(n->s, x, at) != 0 ? eval_i64(n->a, x, at) : eval_i64(n->b, x, at);
  default: break;
  }
  int64_t a = eval_i64(n->a, x, at);
  switch (n->k) {
  case N_NEG: return wrap(0 - (uint64_t)a);
  case N_ABS: return a < 0 ? wrap(0 - (uint64_t)a) : a;
  default: break;
  }
  int64_t b = eval_i64(n->b, x, at);
  switch (n->k) {
  case N_ADD: return wrap((uint64_t)a + (uint64_t)b);
  case N_SUB: return wrap((uint64_t)a - (uint64_t)b);
  case N_MUL: return wrap((uint64_t)a * (uint64_t)b);
  case N_POW: {
    uint64_t r = 1;
    for (int64_t i = 0; i < b; i++) r *= (uint64_t)a; /* the definition, not the fast way */
    return wrap(r);
  }
  case N_MAX: return a > b ? a : b;
  case N_MIN: return a < b ? a : b;
  case N_EQ: return a == b;
  case N_NE: return a != b;
  case N_LT: return a < b;
  case N_LE: return a <= b;
  case N_GT: return a > b;
  case N_GE: return a >= b;
  default: break;
  }
  printf("node %d has no i64 meaning\n", (int)n->k);
  exit(1);
}

/* ---- inputs and comparison ---- */

static const double fvals[] = {0.0,  -0.0,  1.0,   -1.0,    0.5,   -2.5,  3.0,    2.0,   NAN,   -NAN,
                               INFINITY, -INFINITY, 1e30, -1e30, 1e-30, -1e-30, 1e-45, 88.5,  -88.5, 1e300,
                               -710.0, 0.044715, 100.0, -0.75};
#define NF (int)(sizeof fvals / sizeof fvals[0])
static const int64_t ivals[] = {0, 1, -1, 2, 3, -7, 1000003, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                                (int64_t)1 << 32, -((int64_t)1 << 40), 62, 63, 64};
#define NI (int)(sizeof ivals / sizeof ivals[0])
static const int64_t iexps[] = {0, 1, 2, 3, 5, 62, 63, 64, 65};
#define NE (int)(sizeof iexps / sizeof iexps[0])

/* A 1-d tensor of dtype dt holding vals (doubles or i64s) at stride
 * `stride` (a view of a longer buffer when stride > 1). */
static ObjTensor *vec(DType dt, int n, const double *fv, const int64_t *iv, int64_t stride) {
  int64_t len = n * stride;
  ObjTensor *buf = tensor_zeros(vm->tc, dt, 1, &len);
  for (int i = 0; i < n; i++) {
    char *p = (char *)tensor_data(buf) + (size_t)(i * stride) * tensor_dtype_sizes[dt];
    switch (dt) {
    case DT_F32: *(float *)p = (float)fv[i]; break;
    case DT_F64: *(double *)p = fv[i]; break;
    case DT_I64: *(int64_t *)p = iv[i]; break;
    default: *(uint8_t *)p = iv ? iv[i] != 0 : fv[i] != 0; break;
    }
  }
  int64_t shape = n, st = stride;
  return tensor_view(vm->tc, buf, 1, &shape, &st, 0);
}

/* Two views of v as an [n, m] grid: rows[i][j] = v[i], cols[i][j] = w[j]. */
static ObjTensor *grid(ObjTensor *v, int64_t n, int64_t m, bool by_row) {
  int64_t shape[2] = {n, m}, st[2] = {by_row ? v->strides[0] : 0, by_row ? 0 : v->strides[0]};
  return tensor_view(vm->tc, v, 2, shape, st, v->offset);
}

/* Same bits, or both NaN (a NaN's sign and payload are not part of the
 * meaning). */
static bool same_f64(double a, double b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }
static bool same_f32(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

/* The interpreter's value of tree t on operands (a, b, c) in class dt,
 * stored as a result of dtype rt, into *out (8 bytes). */
static void interpret(const Node *t, DType dt, DType rt, const double *fx, const int64_t *ix, const TAttrs *at,
                      void *out) {
  double v;
  int64_t iv = 0;
  bool is_int = dt == DT_I64 || dt == DT_BOOL;
  if (dt == DT_F32) {
    float x[3] = {(float)fx[0], (float)fx[1], (float)fx[2]};
    v = eval_f32(t, x, at);
  } else if (dt == DT_F64) {
    v = eval_f64(t, fx, at);
  } else {
    iv = eval_i64(t, ix, at);
    v = (double)iv;
  }
  switch (rt) {
  case DT_F32: *(float *)out = dt == DT_F32 ? (float)v : is_int ? (float)iv : (float)v; break;
  case DT_F64: *(double *)out = is_int ? (double)iv : v; break;
  case DT_I64: *(int64_t *)out = is_int ? iv : (int64_t)v; break;
  default: *(uint8_t *)out = is_int ? iv != 0 : v != 0; break;
  }
}

static bool same(DType rt, const void *a, const void *b) {
  switch (rt) {
  case DT_F32: return same_f32(*(const float *)a, *(const float *)b);
  case DT_F64: return same_f64(*(const double *)a, *(const double *)b);
  case DT_I64: return *(const int64_t *)a == *(const int64_t *)b;
  default: return *(const uint8_t *)a == *(const uint8_t *)b;
  }
}

static const char *shown(DType rt, const void *p, char *buf) {
  switch (rt) {
  case DT_F32: snprintf(buf, 64, "%a", (double)*(const float *)p); break;
  case DT_F64: snprintf(buf, 64, "%a", *(const double *)p); break;
  case DT_I64: snprintf(buf, 64, "%lld", (long long)*(const int64_t *)p); break;
  default: snprintf(buf, 64, "%d", *(const uint8_t *)p); break;
  }
  return buf;
}

static int mismatches;

/* Compare element k of r (contiguous) with the interpreter on operands. */
static void compare(const char *what, TensorOp op, const Node *t, DType dt, ObjTensor *r, int64_t k, const double *fx,
                    const int64_t *ix, const TAttrs *at) {
  char want[8], b1[64], b2[64];
  interpret(t, dt, r->dtype, fx, ix, at, want);
  const char *got = (const char *)tensor_data(r) + (size_t)k * tensor_dtype_sizes[r->dtype];
  checks++;
  if (!same(r->dtype, got, want) && mismatches++ < 20) {
    failures++;
    printf("FAIL %s %s %s element %lld (x = %a, %a / %lld, %lld): kernel %s, table %s\n", tensor_ops[op].name,
           tensor_dtype_names[dt], what, (long long)k, fx[0], fx[1], (long long)ix[0], (long long)ix[1],
           shown(r->dtype, got, b1), shown(r->dtype, want, b2));
  }
}

static ObjTensor *apply(TensorOp op, ObjTensor **in, int n, const TAttrs *at) {
  ObjTensor *r = NULL;
  if (!tensor_apply(vm->tc, op, in, n, at, &r)) {
    printf("FAIL %s: unexpected error %s\n", tensor_ops[op].name, vm->error);
    failures++;
    vm_clear_error(vm);
    return NULL;
  }
  return tensor_contiguous(vm->tc, r);
}

/* ---- the ops ---- */

static bool computes_in(const Row *row, DType dt) {
  if (!strcmp(row->types, "ANY")) return true;
  if (dt == DT_F32 || dt == DT_F64) return true;
  return dt == DT_I64 && !strcmp(row->types, "FI");
}

/* a OP b on every pair of values, through the four loops: both
 * contiguous, b a broadcast scalar run, a a broadcast scalar run, strided. */
static void test_binary(const Row *row, DType dt) {
  const Node *t = build(row->op);
  bool f = dt != DT_I64;
  int na = f ? NF : NI, nb = f ? NF : row->op == TOP_POW ? NE : NI;
  const int64_t *ib = row->op == TOP_POW ? iexps : ivals;
  static const char *const forms[] = {"contiguous", "b broadcast", "a broadcast", "strided"};
  for (int form = 0; form < 4; form++) {
    ObjTensor *va = vec(dt, na, fvals, ivals, form == 3 ? 3 : 1), *vb = vec(dt, nb, fvals, ib, form == 3 ? 2 : 1);
    ObjTensor *a, *b;
    int rows_n = form == 1 ? nb : na, cols_n = form == 1 ? na : nb;
    if (form == 1) { /* a[i][j] = va[j] contiguous, b[i][j] = vb[i] (inner stride 0) */
      a = tensor_contiguous(vm->tc, grid(va, nb, na, false));
      b = grid(vb, nb, na, true);
    } else { /* a[i][j] = va[i], b[i][j] = vb[j] */
      a = grid(va, na, nb, true);
      b = grid(vb, na, nb, false);
      if (form == 0) a = tensor_contiguous(vm->tc, a);
      if (form != 3) b = tensor_contiguous(vm->tc, b);
    }
    ObjTensor *r = apply(row->op, (ObjTensor *[]){a, b}, 2, NULL);
    if (!r) return;
    for (int i = 0; i < rows_n; i++)
      for (int j = 0; j < cols_n; j++) {
        int ia = form == 1 ? j : i, jb = form == 1 ? i : j;
        double fx[3] = {f ? fvals[ia] : 0, f ? fvals[jb] : 0, 0};
        int64_t ix[3] = {f ? 0 : ivals[ia], f ? 0 : ib[jb], 0};
        compare(forms[form], row->op, t, dt, r, (int64_t)i * cols_n + j, fx, ix, NULL);
      }
  }
  /* a broadcast scalar on either side (the loops with one stride 0) */
  for (int side = 0; side < 2; side++) {
    int n = f ? NF : NI, k = 3;
    ObjTensor *v = vec(dt, n, fvals, ivals, 1);
    ObjTensor *s = dt == DT_I64 ? vec(dt, 1, NULL, &(row->op == TOP_POW ? iexps : ivals)[k], 1)
                                : vec(dt, 1, &fvals[k], NULL, 1);
    int64_t one = 1;
    s = tensor_view(vm->tc, s, 0, &one, &one, 0);
    if (side == 0 && row->op == TOP_POW && dt == DT_I64) continue; /* negative exponents */
    ObjTensor *r = apply(row->op, side ? (ObjTensor *[]){v, s} : (ObjTensor *[]){s, v}, 2, NULL);
    if (!r) return;
    for (int i = 0; i < n; i++) {
      double sv = f ? fvals[k] : 0, xv = f ? fvals[i] : 0;
      int64_t si = f ? 0 : (row->op == TOP_POW ? iexps : ivals)[k], xi = f ? 0 : ivals[i];
      double fx[3] = {side ? xv : sv, side ? sv : xv, 0};
      int64_t ix[3] = {side ? xi : si, side ? si : xi, 0};
      compare(side ? "scalar b" : "scalar a", row->op, t, dt, r, i, fx, ix, NULL);
    }
  }
}

static void test_unary(const Row *row, DType dt, const TAttrs *at) {
  const Node *t = build(row->op);
  bool f = dt != DT_I64;
  int n = f ? NF : NI;
  for (int stride = 1; stride <= 2; stride++) {
    ObjTensor *x = vec(dt, n, fvals, ivals, stride);
    ObjTensor *r = apply(row->op, &x, 1, at);
    if (!r) return;
    for (int i = 0; i < n; i++) {
      double fx[3] = {f ? fvals[i] : 0, 0, 0};
      int64_t ix[3] = {f ? 0 : ivals[i], 0, 0};
      compare(stride == 1 ? "contiguous" : "strided", row->op, t, dt, r, i, fx, ix, at);
    }
  }
}

/* where(cond, a, b) for every dtype: the condition alternates. */
static void test_where(const Row *row, DType dt) {
  const Node *t = build(row->op);
  bool f = dt == DT_F32 || dt == DT_F64;
  int n = f ? NF : NI;
  int64_t cv[NF > NI ? NF : NI];
  for (int i = 0; i < n; i++) cv[i] = (i % 3) == 1;
  double rev[NF];
  int64_t irev[NI];
  for (int i = 0; i < NF; i++) rev[i] = fvals[NF - 1 - i];
  for (int i = 0; i < NI; i++) irev[i] = ivals[NI - 1 - i];
  for (int stride = 1; stride <= 2; stride++) {
    ObjTensor *c = vec(DT_BOOL, n, NULL, cv, stride), *a = vec(dt, n, fvals, ivals, stride),
              *b = vec(dt, n, rev, irev, 1);
    ObjTensor *r = apply(TOP_WHERE, (ObjTensor *[]){c, a, b}, 3, NULL);
    if (!r) return;
    for (int i = 0; i < n; i++) {
      double fx[3] = {(double)cv[i], f ? fvals[i] : 0, f ? rev[i] : 0};
      int64_t ix[3] = {cv[i], f ? 0 : dt == DT_BOOL ? ivals[i] != 0 : ivals[i],
                       f ? 0 : dt == DT_BOOL ? irev[i] != 0 : irev[i]};
      compare(stride == 1 ? "contiguous" : "strided", row->op, t, dt, r, i, fx, ix, NULL);
    }
  }
}

/* cast between every pair of dtypes. A float outside the i64 range (NaN,
 * ±inf, 1e30) has no i64 value in C: those inputs are left out there. */
static void test_cast(const Row *row, DType from) {
  const Node *t = build(row->op);
  bool f = from == DT_F32 || from == DT_F64;
  for (int to = 0; to < DT__COUNT; to++) {
    double fv[NF];
    int64_t iv[NI];
    int n = 0;
    if (f) {
      for (int i = 0; i < NF; i++) {
        double v = from == DT_F32 ? (double)(float)fvals[i] : fvals[i];
        if (to == DT_I64 && !(v > -0x1p63 && v < 0x1p63)) continue;
        fv[n++] = fvals[i];
      }
    } else {
      for (int i = 0; i < NI; i++) iv[n++] = from == DT_BOOL ? ivals[i] != 0 : ivals[i];
    }
    ObjTensor *x = vec(from, n, fv, iv, 2);
    ObjTensor *r = apply(TOP_CAST, &x, 1, &(TAttrs){.dtype = (DType)to});
    if (!r) return;
    for (int i = 0; i < n; i++) {
      double fx[3] = {f ? fv[i] : 0, 0, 0};
      int64_t ix[3] = {f ? 0 : iv[i], 0, 0};
      compare(tensor_dtype_names[to], row->op, t, from, r, i, fx, ix, NULL);
    }
  }
}

int main(void) {
  vm = lang_vm_new();
  vm->heap.gc_pause++;
  int nrows = (int)(sizeof rows / sizeof rows[0]);
  /* every elementwise op has its scalar meaning in the table, except the
   * ones that are not a function of their inputs' elements */
  for (int op = 0; op < TOP__COUNT; op++) {
    FusionClass fc = tensor_ops[op].fclass;
    if ((fc != FUSE_ELEMWISE && fc != FUSE_BROADCAST) || op == TOP_DROPOUT || op == TOP_CONTIGUOUS) continue;
    bool found = false;
    for (int i = 0; i < nrows; i++) found = found || rows[i].op == (TensorOp)op;
    CHECK(found, "%s has no row in tensor_scalar.def", tensor_ops[op].name);
  }
  for (int i = 0; i < nrows; i++) {
    const Row *row = &rows[i];
    CHECK(build(row->op) != NULL, "%s builds", tensor_ops[row->op].name);
    for (int d = 0; d < DT__COUNT; d++) {
      DType dt = (DType)d;
      if (!computes_in(row, dt)) continue;
      if (!strcmp(row->loop, "BIN") && dt != DT_BOOL) test_binary(row, dt);
      if (!strcmp(row->loop, "SEL")) test_where(row, dt);
      if (!strcmp(row->loop, "CVT")) test_cast(row, dt);
      if (!strcmp(row->loop, "UN") && dt != DT_BOOL) {
        static const TAttrs attrs[] = {{.scalar = {-1.5, 2.0}}, {.scalar = {0.01, 0.0}},
                                       {.scalar = {-INFINITY, 7.0}}, {.scalar = {-3.0, INFINITY}},
                                       {.scalar = {-1e300, 1e300}}, {.scalar = {5.0, -5.0}}};
        bool uses = row->op == TOP_CLAMP || row->op == TOP_LEAKY_RELU;
        for (int k = 0; k < (uses ? 6 : 1); k++) {
          /* an i64 tensor with a fractional clamp bound is clamped as f32 */
          bool fractional = attrs[k].scalar[0] != floor(attrs[k].scalar[0]) ||
                            attrs[k].scalar[1] != floor(attrs[k].scalar[1]);
          if (dt == DT_I64 && fractional) continue;
          test_unary(row, dt, &attrs[k]);
        }
      }
    }
  }
  /* an integer to a negative power stays an error */
  ObjTensor *base = vec(DT_I64, 2, NULL, (int64_t[]){3, 4}, 1), *e = vec(DT_I64, 2, NULL, (int64_t[]){1, -1}, 1), *r;
  CHECK(!tensor_apply(vm->tc, TOP_POW, (ObjTensor *[]){base, e}, 2, NULL, &r) &&
            strstr(vm->error, "pow: integers to negative integer powers are not allowed (exponent -1)"),
        "i64 ** -1: %s", vm->error);
  vm_clear_error(vm);
  vm->heap.gc_pause--;
  vm_free(vm);
  tensor_alloc_trim();
  return check_report();
}
