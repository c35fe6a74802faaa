/* The JIT module (libnsjit.so, opened with dlopen as the tensor engine
 * opens it) against the C kernels: every elementwise op of
 * tensor_scalar.def in f32 and f64 (comparisons giving bools, where,
 * cast) compiled from a KDesc and run on contiguous, broadcast (stride 0)
 * and strided operands, 1-D to 3-D, lengths around the vector width, in
 * lo/hi pieces, must give the bits tensor_apply gives, exp, log, tanh and
 * what uses them included (tensor_math.h is the same algorithms in C).
 * Also: the accuracy of exp/log/tanh/sigmoid (within 1e-6 relative for
 * f32, 1e-12 for f64) against libm over their ranges and at
 * special values, a fused Adam step against scalar C, an operand loaded
 * and stored in place, a kernel run on a sub-range only, bad descriptions
 * refused with a message, IR and assembly dumps. Prints compile times and
 * the bandwidth of a fused kernel (no assertions on times). */
#define _DEFAULT_SOURCE /* mkdtemp, clock_gettime */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builtins.h"
#include "jit_kernel.h"
#include "tensor_int.h"
#include "check.h"

static VM *vm;
static const NsJitApi *api;
static void *jit;

typedef struct {
  TensorOp op;
  const char *loop, *res;
} Row;

static const Row rows[] = {
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) {TOP_##NAME, #LOOP, #RES},
#include "tensor_scalar.def"
#undef ELEM
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static NsKernelFn compile_n(const KDesc *const *kds, int n, NsKernelFn *fns) {
  static int serial;
  char name[32], err[512];
  snprintf(name, sizeof name, "test%d", serial++);
  if (!api->compile(jit, name, kds, n, fns, err, sizeof err)) {
    CHECK(false, "compile failed: %s", err);
    return NULL;
  }
  return fns[0];
}

static NsKernelFn compile1(const KDesc *kd) {
  NsKernelFn fn = NULL;
  return compile_n(&kd, 1, &fn);
}

/* Inputs: special values among normally distributed ones of two scales. */
static const double specials[] = {0.0,   -0.0,  1.0,   -1.0,   0.5,   -2.5,  3.0,   NAN,  INFINITY, -INFINITY, 1e-40,
                                  -1e-310, 1e-30, 88.5, -88.5, 100.0, -120.0, 1e30, -1e30, 2.0,     1e-8,      7.25};
#define NSPECIALS (int64_t)(sizeof specials / sizeof specials[0])

static void fill(ObjTensor *t, bool cond) {
  for (int64_t i = 0; i < t->numel; i++) {
    double v = cond ? rng_uniform() < 0.5 : i % 3 == 0 ? specials[(i / 3) % NSPECIALS] : rng_normal() * (i % 5 == 1 ? 20 : 2);
    tensor_set(t, i, v);
  }
}

/* An input of `shape` laid out as: 0 contiguous, 1 broadcast along dim 0
 * (stored with size 1 there), 2 broadcast along the innermost dim, 3 a
 * strided view (inner stride 2, offset 1, into a larger tensor). */
static ObjTensor *make_input(DType dt, int nd, const int64_t *shape, int how, bool cond) {
  int64_t sh[NS_MAX_DIMS];
  memcpy(sh, shape, (size_t)nd * sizeof *sh);
  if (how == 1 && nd > 1) sh[0] = 1;
  if (how == 2 && nd > 1) sh[nd - 1] = 1;
  if (how != 3) {
    ObjTensor *t = tensor_new(vm->tc, dt, nd, sh);
    fill(t, cond);
    return t;
  }
  int64_t bs[NS_MAX_DIMS], st[NS_MAX_DIMS];
  memcpy(bs, sh, (size_t)nd * sizeof *bs);
  bs[nd - 1] = 2 * sh[nd - 1] + 1;
  ObjTensor *base = tensor_new(vm->tc, dt, nd, bs);
  memcpy(st, base->strides, sizeof st);
  st[nd - 1] = 2;
  ObjTensor *t = tensor_view(vm->tc, base, nd, sh, st, 1);
  fill(t, cond);
  return t;
}

/* got within the JIT's bound of want: 1e-6 (f32) or 1e-12 (f64)
 * relative, plus two of the smallest denormals (a result that underflows
 * has fewer bits). gelu computes 1 + tanh(u), which cancels where tanh is
 * near -1: there tanh's own rounding (an ulp of 1, times x / 2) bounds
 * the difference, whatever the relative error of the result. */
static bool close_enough(double got, double want, double x, DType dt, TensorOp op) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
  if (got == want) return true;
  if (isinf(want) || isinf(got)) return false;
  double eps = dt == DT_F32 ? 0x1p-23 : 0x1p-52;
  double slack = dt == DT_F32 ? 2 * 0x1p-149 : 2 * 0x1p-1074;
  if (op == TOP_GELU) slack += 4 * eps * fabs(x);
  return fabs(got - want) <= (dt == DT_F32 ? 1e-6 : 1e-12) * fabs(want) + slack;
}

static size_t dsize(DType dt) { return tensor_dtype_sizes[dt]; }

/* One op as a kernel: operand 0 the result, 1.. the inputs; loads, the
 * op, the store. Cases are queued and compiled as modules of many
 * kernels (fewer, larger modules: the tests run faster), then each is run
 * in pieces of dim 0 and compared with the C kernels' result. */
typedef struct {
  Row row;
  DType dt;
  ObjTensor *in[3], *ref, *out;
  int nin;
  KDesc *kd;
  char *ptrs[4];
  double args[2];
  const char *what;
} Case;

enum { MAX_PENDING = 32 };
static Case pending[MAX_PENDING];
static int npending;

static void run_case(Case *c, NsKernelFn fn) {
  ObjTensor *ref = c->ref, *out = c->out;
  int64_t n0 = ref->ndim > 0 ? ref->shape[0] : 1;
  int64_t cuts[4] = {0, n0 > 0 ? 1 : 0, n0 / 2 > 1 ? n0 / 2 : (n0 > 0 ? 1 : 0), n0};
  for (int k = 0; k < 3; k++)
    if (cuts[k + 1] > cuts[k] || (k == 0 && n0 == 0)) fn(c->ptrs, c->args, cuts[k], cuts[k + 1]);
  size_t es = dsize(out->dtype);
  const char *got = tensor_data(out), *want = tensor_data(ref);
  for (int64_t i = 0; i < out->numel; i++) {
    /* every op, exp, log and tanh included: the C kernels use the same
     * algorithms (tensor_math.h) */
    bool ok = memcmp(got + i * (int64_t)es, want + i * (int64_t)es, es) == 0;
    if (!ok) {
      char sb[64];
      CHECK(false, "%s %s %s shape %s: element %lld = %.17g, C kernel %.17g (x0 = %.17g)", tensor_ops[c->row.op].name,
            tensor_dtype_names[c->dt], c->what, tensor_shape_str(ref, sb, sizeof sb), (long long)i, tensor_get(out, i),
            tensor_get(ref, i), c->nin > 0 ? tensor_get(c->in[0], i % c->in[0]->numel) : 0.0);
      return;
    }
  }
  checks++;
}

static void flush(void) {
  const KDesc *kds[MAX_PENDING];
  NsKernelFn fns[MAX_PENDING];
  for (int i = 0; i < npending; i++) kds[i] = pending[i].kd;
  if (npending > 0 && compile_n(kds, npending, fns))
    for (int i = 0; i < npending; i++) run_case(&pending[i], fns[i]);
  for (int i = 0; i < npending; i++) free(pending[i].kd);
  npending = 0;
}

static void check_op(const Row *row, DType dt, ObjTensor **in, int nin, const TAttrs *at, ObjTensor *ref, const char *what) {
  if (npending == MAX_PENDING) flush();
  Case *c = &pending[npending++];
  *c = (Case){.row = *row, .dt = dt, .ref = ref, .nin = nin, .what = what};
  KDesc *kd = c->kd = calloc(1, sizeof *kd);
  kd->ndim = ref->ndim > 0 ? ref->ndim : 1;
  for (int d = 0; d < kd->ndim; d++) kd->shape[d] = ref->ndim > 0 ? ref->shape[d] : 1;
  ObjTensor *out = c->out = tensor_new(vm->tc, ref->dtype, ref->ndim, ref->shape);
  memset(tensor_data(out), 0x5a, (size_t)out->numel * dsize(out->dtype));
  kd->noperands = nin + 1;
  kd->operand_dtype[0] = (uint8_t)out->dtype;
  tensor_broadcast_strides(out, kd->ndim, kd->shape, kd->strides[0]);
  c->ptrs[0] = tensor_data(out);
  for (int k = 0; k < nin; k++) {
    c->in[k] = in[k];
    kd->operand_dtype[k + 1] = (uint8_t)in[k]->dtype;
    tensor_broadcast_strides(in[k], kd->ndim, kd->shape, kd->strides[k + 1]);
    c->ptrs[k + 1] = tensor_data(in[k]);
    kd->instrs[k] = (KInstr){.kind = KI_LOAD, .dtype = (uint8_t)in[k]->dtype, .a = (int16_t)(k + 1)};
  }
  kd->instrs[nin] = (KInstr){.kind = KI_OP, .dtype = (uint8_t)out->dtype, .op = (uint16_t)row->op, .a = 0, .b = 1, .c = 2,
                             .arg = 0};
  kd->instrs[nin + 1] = (KInstr){.kind = KI_STORE, .a = 0, .b = (int16_t)nin};
  kd->ninstrs = nin + 2;
  kd->nargs = 2;
  c->args[0] = at ? at->scalar[0] : 0;
  c->args[1] = at ? at->scalar[1] : 0;
}

static const char *const layouts[] = {"contiguous", "broadcast dim 0", "broadcast inner dim", "strided"};

static void test_row(const Row *row, DType dt, int nd, const int64_t *shape, int how) {
  ObjTensor *in[3] = {NULL, NULL, NULL}, *ref = NULL;
  int nin = 0;
  TAttrs at = {.scalar = {0.01, 0.0}};
  if (row->op == TOP_CLAMP) at = (TAttrs){.scalar = {-1.5, 2.0}};
  if (!strcmp(row->loop, "BIN")) {
    in[0] = make_input(dt, nd, shape, how == 2 || how == 3 ? how : 0, false);
    in[1] = make_input(dt, nd, shape, how == 1 ? 1 : 0, false);
    nin = 2;
  } else if (!strcmp(row->loop, "UN")) {
    in[0] = make_input(dt, nd, shape, how == 3 ? 3 : 0, false);
    nin = 1;
  } else if (!strcmp(row->loop, "SEL")) {
    in[0] = make_input(DT_BOOL, nd, shape, how == 2 ? 2 : 0, true);
    in[1] = make_input(dt, nd, shape, how == 3 ? 3 : 0, false);
    in[2] = make_input(dt, nd, shape, how == 1 ? 1 : 0, false);
    nin = 3;
  } else {
    return; /* casts: test_casts */
  }
  if (!tensor_apply(vm->tc, row->op, in, nin, &at, &ref)) {
    CHECK(false, "%s: %s", tensor_ops[row->op].name, vm->error);
    vm_clear_error(vm);
    return;
  }
  check_op(row, dt, in, nin, &at, ref, layouts[how]);
}

static void test_casts(int nd, const int64_t *shape, int how) {
  static const DType dts[] = {DT_F32, DT_F64, DT_BOOL};
  for (int s = 0; s < 3; s++)
    for (int t = 0; t < 3; t++) {
      ObjTensor *x = make_input(dts[s], nd, shape, how == 3 ? 3 : 0, dts[s] == DT_BOOL), *ref = NULL;
      TAttrs at = {.dtype = dts[t]};
      if (!tensor_apply(vm->tc, TOP_CAST, &x, 1, &at, &ref)) {
        CHECK(false, "cast: %s", vm->error);
        vm_clear_error(vm);
        continue;
      }
      Row row = {TOP_CAST, "CVT", "TARGET"};
      check_op(&row, dts[s], &x, 1, &at, ref, layouts[how]);
    }
}

static void test_elementwise(void) {
  int nrows = (int)(sizeof rows / sizeof rows[0]);
  /* around both vector widths (8 and 16 lanes) */
  static const int64_t lengths[] = {0, 1, 7, 9, 16, 17, 100};
  for (int r = 0; r < nrows; r++) {
    for (int d = 0; d < 2; d++) {
      DType dt = d ? DT_F64 : DT_F32;
      for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) test_row(&rows[r], dt, 1, &lengths[l], l % 2 ? 3 : 0);
      for (int how = 0; how < 4; how++) {
        test_row(&rows[r], dt, 2, (int64_t[]){5, 37}, how);
        test_row(&rows[r], dt, 3, (int64_t[]){3, 4, 19}, how);
      }
      flush();
    }
  }
  for (int how = 0; how < 4; how += 3) {
    test_casts(1, (int64_t[]){37}, how);
    test_casts(3, (int64_t[]){3, 4, 19}, how);
  }
  flush();
}

/* Operands of different dtypes: the op computes in its dtype (a
 * comparison in the wider of its operands'), converting the others as
 * tensor_apply's promotion does. */
static void test_mixed_dtypes(void) {
  static const struct {
    TensorOp op;
    DType a, b;
  } cases[] = {{TOP_ADD, DT_F32, DT_F64}, {TOP_MUL, DT_F64, DT_F32}, {TOP_SUB, DT_F32, DT_BOOL},
               {TOP_LT, DT_F32, DT_F64},  {TOP_GE, DT_F64, DT_F32},  {TOP_EQ, DT_BOOL, DT_BOOL},
               {TOP_NE, DT_BOOL, DT_F32}, {TOP_MAXIMUM, DT_BOOL, DT_F64}};
  int64_t shape[2] = {3, 21};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ObjTensor *in[2] = {make_input(cases[c].a, 2, shape, 0, cases[c].a == DT_BOOL),
                        make_input(cases[c].b, 2, shape, 1, cases[c].b == DT_BOOL)},
              *ref = NULL;
    if (!tensor_apply(vm->tc, cases[c].op, in, 2, NULL, &ref)) {
      CHECK(false, "%s: %s", tensor_ops[cases[c].op].name, vm->error);
      vm_clear_error(vm);
      continue;
    }
    static char whats[8][64]; /* alive until the queued cases run */
    char *what = whats[c];
    snprintf(what, sizeof whats[c], "%s with %s", tensor_dtype_names[cases[c].a], tensor_dtype_names[cases[c].b]);
    Row row = {cases[c].op, "BIN", "SAME"};
    check_op(&row, ref->dtype, in, 2, NULL, ref, what);
  }
  flush();
}

/* ---- accuracy against libm ---- */

typedef enum { F_EXP, F_LOG, F_TANH, F_SIGMOID } Fn;
static const TensorOp fn_ops[] = {TOP_EXP, TOP_LOG, TOP_TANH, TOP_SIGMOID};
static const char *const fn_names[] = {"exp", "log", "tanh", "sigmoid"};

static double libm_f32(Fn f, float x) {
  switch (f) {
  case F_EXP: return expf(x);
  case F_LOG: return logf(x);
  case F_TANH: return tanhf(x);
  default: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
  }
}
static double libm_f64(Fn f, double x) {
  switch (f) {
  case F_EXP: return exp(x);
  case F_LOG: return log(x);
  case F_TANH: return tanh(x);
  default: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
  }
}

/* y[i] = f(x[i]) through a compiled one-op kernel. */
static bool run_unary(TensorOp op, DType dt, const double *x, double *y, int64_t n) {
  KDesc kd = {.ndim = 1, .shape = {n}, .noperands = 2, .operand_dtype = {(uint8_t)dt, (uint8_t)dt},
              .strides = {{1}, {1}}, .ninstrs = 3, .nargs = 0};
  kd.instrs[0] = (KInstr){.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 1};
  kd.instrs[1] = (KInstr){.kind = KI_OP, .dtype = (uint8_t)dt, .op = (uint16_t)op, .a = 0, .arg = -1};
  kd.instrs[2] = (KInstr){.kind = KI_STORE, .a = 0, .b = 1};
  NsKernelFn fn = compile1(&kd);
  if (!fn) return false;
  size_t es = dsize(dt);
  char *in = malloc((size_t)n * es), *out = malloc((size_t)n * es);
  for (int64_t i = 0; i < n; i++) {
    if (dt == DT_F32) ((float *)in)[i] = (float)x[i];
    else ((double *)in)[i] = x[i];
  }
  char *ptrs[2] = {out, in};
  fn(ptrs, NULL, 0, n);
  for (int64_t i = 0; i < n; i++) y[i] = dt == DT_F32 ? ((float *)out)[i] : ((double *)out)[i];
  free(in);
  free(out);
  return true;
}

static void sweep(Fn f, DType dt, const double *x, int64_t n, const char *range) {
  double *y = malloc((size_t)n * sizeof *y), worst = 0, worst_x = 0;
  int bad = 0;
  if (!run_unary(fn_ops[f], dt, x, y, n)) {
    free(y);
    return;
  }
  double bound = dt == DT_F32 ? 1e-6 : 1e-12;
  for (int64_t i = 0; i < n; i++) {
    double xi = dt == DT_F32 ? (double)(float)x[i] : x[i];
    double want = dt == DT_F32 ? libm_f32(f, (float)xi) : libm_f64(f, xi);
    if (!close_enough(y[i], want, xi, dt, fn_ops[f])) {
      if (bad++ < 3) CHECK(false, "%s %s(%.17g) = %.17g, libm %.17g", tensor_dtype_names[dt], fn_names[f], xi, y[i], want);
    }
    /* relative error where libm's result is a normal number */
    double tiny = dt == DT_F32 ? 0x1p-126 : 0x1p-1022;
    if (isfinite(want) && fabs(want) >= tiny) {
      double rel = fabs(y[i] - want) / fabs(want);
      if (rel > worst) worst = rel, worst_x = xi;
    }
  }
  CHECK(bad == 0, "%s %s: %d of %lld points off", tensor_dtype_names[dt], fn_names[f], bad, (long long)n);
  CHECK(worst <= bound, "%s %s: max relative error %.3g", tensor_dtype_names[dt], fn_names[f], worst);
  printf("  %-4s %-8s over %-22s max rel error %.3g (%.2f eps) at %.9g\n", tensor_dtype_names[dt], fn_names[f], range,
         worst, worst / (dt == DT_F32 ? 0x1p-23 : 0x1p-52), worst_x);
  free(y);
}

static void test_accuracy(void) {
  enum { N = 400000 };
  double *x = malloc(N * sizeof *x);
  printf("accuracy against libm:\n");
  for (int d = 0; d < 2; d++) {
    DType dt = d ? DT_F64 : DT_F32;
    for (int i = 0; i < N; i++) x[i] = -87 + 175.0 * i / (N - 1);
    sweep(F_EXP, dt, x, N, "[-87, 88]");
    for (int i = 0; i < N; i++) x[i] = pow(10, -45 + 75.0 * i / (N - 1));
    if (dt == DT_F64)
      for (int i = 0; i < N; i++) x[i] = pow(10, -320 + 350.0 * i / (N - 1));
    sweep(F_LOG, dt, x, N, dt == DT_F64 ? "[1e-320, 1e30]" : "[1e-45, 1e30]");
    for (int i = 0; i < N; i++) x[i] = 1 + (i - N / 2) * (dt == DT_F32 ? 0x1p-23 : 0x1p-40);
    sweep(F_LOG, dt, x, N, "around 1");
    for (int i = 0; i < N; i++) x[i] = -20 + 40.0 * i / (N - 1);
    sweep(F_TANH, dt, x, N, "[-20, 20]");
    for (int i = 0; i < N; i++) x[i] = (i % 2 ? -1 : 1) * pow(10, -40 + 40.0 * i / (N - 1));
    sweep(F_TANH, dt, x, N, "±[1e-40, 1]");
    for (int i = 0; i < N; i++) x[i] = -80 + 160.0 * i / (N - 1);
    sweep(F_SIGMOID, dt, x, N, "[-80, 80]");
  }
  free(x);

  /* special values, exactly */
  static const double sx[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0, 1e-40, 1e-310, 89.0, -104.0, 710.0, -746.0};
  int ns = (int)(sizeof sx / sizeof sx[0]);
  double y[4][2][16];
  for (int f = 0; f < 4; f++)
    for (int d = 0; d < 2; d++) run_unary(fn_ops[f], d ? DT_F64 : DT_F32, sx, y[f][d], ns);
  for (int d = 0; d < 2; d++) {
    const char *t = d ? "f64" : "f32";
    CHECK(y[F_EXP][d][0] == 1 && y[F_EXP][d][1] == 1, "%s exp(±0)", t);
    CHECK(y[F_EXP][d][2] == INFINITY && y[F_EXP][d][3] == 0 && !signbit(y[F_EXP][d][3]), "%s exp(±inf) = %g, %g", t,
          y[F_EXP][d][2], y[F_EXP][d][3]);
    CHECK(isnan(y[F_EXP][d][4]), "%s exp(nan)", t);
    CHECK(y[F_EXP][d][d ? 11 : 9] == INFINITY && y[F_EXP][d][d ? 12 : 10] == 0, "%s exp overflows to inf, underflows to 0", t);
    CHECK(y[F_LOG][d][0] == -INFINITY && y[F_LOG][d][1] == -INFINITY, "%s log(±0) = %g, %g", t, y[F_LOG][d][0], y[F_LOG][d][1]);
    CHECK(y[F_LOG][d][2] == INFINITY && isnan(y[F_LOG][d][3]) && isnan(y[F_LOG][d][4]) && isnan(y[F_LOG][d][6]),
          "%s log(inf), log(-inf), log(nan), log(-1)", t);
    CHECK(y[F_LOG][d][5] == 0 && !signbit(y[F_LOG][d][5]), "%s log(1) = %g", t, y[F_LOG][d][5]);
    CHECK(y[F_TANH][d][0] == 0 && !signbit(y[F_TANH][d][0]) && y[F_TANH][d][1] == 0 && signbit(y[F_TANH][d][1]),
          "%s tanh(±0) keeps the sign", t);
    CHECK(y[F_TANH][d][2] == 1 && y[F_TANH][d][3] == -1 && isnan(y[F_TANH][d][4]), "%s tanh(±inf), tanh(nan)", t);
    double den = d ? 1e-310 : (double)1e-40f;
    CHECK(y[F_TANH][d][d ? 8 : 7] == den, "%s tanh(denormal) = %g, want %g", t, y[F_TANH][d][d ? 8 : 7], den);
    CHECK(y[F_SIGMOID][d][0] == 0.5 && y[F_SIGMOID][d][2] == 1 && y[F_SIGMOID][d][3] == 0 && isnan(y[F_SIGMOID][d][4]),
          "%s sigmoid(0), sigmoid(±inf), sigmoid(nan)", t);
    /* denormal arguments and results against libm */
    double lden = d ? log(1e-310) : (double)logf(1e-40f);
    CHECK(fabs(y[F_LOG][d][d ? 8 : 7] - lden) <= 1e-6 * fabs(lden), "%s log(denormal) = %.9g, libm %.9g", t,
          y[F_LOG][d][d ? 8 : 7], lden);
  }
  double e100[1], x100 = -100;
  if (run_unary(TOP_EXP, DT_F32, &x100, e100, 1))
    CHECK(fabs(e100[0] - expf(-100.0f)) <= 0x1p-149, "f32 exp(-100) = %g (denormal), libm %g", e100[0], (double)expf(-100.0f));
  double x740 = -740;
  if (run_unary(TOP_EXP, DT_F64, &x740, e100, 1))
    CHECK(fabs(e100[0] - exp(-740.0)) <= 0x1p-1074, "f64 exp(-740) = %g (denormal), libm %g", e100[0], exp(-740.0));
}

/* Append an instruction, return its value number (a function, so that
 * nested uses are sequenced). */
static int put(KDesc *kd, KInstr in) {
  kd->instrs[kd->ninstrs] = in;
  return kd->ninstrs++;
}

/* ---- a fused kernel: one Adam step ---- */

enum { A_B1, A_OMB1, A_B2, A_OMB2, A_LR, A_C2, A_EPS };

static KDesc *adam_kernel(int64_t n, DType dt) {
  KDesc *kd = calloc(1, sizeof *kd);
  kd->ndim = 1;
  kd->shape[0] = n;
  kd->noperands = 4; /* p, m, v, g */
  for (int k = 0; k < 4; k++) {
    kd->operand_dtype[k] = (uint8_t)dt;
    kd->strides[k][0] = 1;
  }
  kd->nargs = 7;
#define V(...) put(kd, (KInstr){__VA_ARGS__})
#define OP(o, x, y) V(.kind = KI_OP, .dtype = (uint8_t)dt, .op = TOP_##o, .a = (int16_t)(x), .b = (int16_t)(y), .arg = -1)
  int p = V(.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 0), m = V(.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 1);
  int v = V(.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 2), g = V(.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 3);
  int a[7];
  for (int k = 0; k < 7; k++) a[k] = V(.kind = KI_ARG, .dtype = (uint8_t)dt, .a = (int16_t)k);
  int m1 = OP(ADD, OP(MUL, a[A_B1], m), OP(MUL, a[A_OMB1], g));
  int v1 = OP(ADD, OP(MUL, a[A_B2], v), OP(MUL, OP(MUL, a[A_OMB2], g), g));
  int den = OP(ADD, OP(DIV, OP(SQRT, v1, 0), a[A_C2]), a[A_EPS]);
  int p1 = OP(SUB, p, OP(DIV, OP(MUL, a[A_LR], m1), den));
  V(.kind = KI_STORE, .a = 1, .b = (int16_t)m1);
  V(.kind = KI_STORE, .a = 2, .b = (int16_t)v1);
  V(.kind = KI_STORE, .a = 0, .b = (int16_t)p1);
#undef OP
#undef V
  return kd;
}

/* The same step as scalar C, operation for operation. */
#define ADAM_REF(T, SQRT)                                                                          \
  static void adam_ref_##T(T *p, T *m, T *v, const T *g, const double *a, int64_t n) {            \
    T b1 = (T)a[A_B1], omb1 = (T)a[A_OMB1], b2 = (T)a[A_B2], omb2 = (T)a[A_OMB2];                 \
    T lr = (T)a[A_LR], c2 = (T)a[A_C2], eps = (T)a[A_EPS];                                        \
    for (int64_t i = 0; i < n; i++) {                                                              \
      T t1 = b1 * m[i];                                                                            \
      T t2 = omb1 * g[i];                                                                          \
      m[i] = t1 + t2;                                                                              \
      T t3 = b2 * v[i];                                                                            \
      T t4 = omb2 * g[i];                                                                          \
      T t5 = t4 * g[i];                                                                            \
      v[i] = t3 + t5;                                                                              \
      T s = SQRT(v[i]);                                                                            \
      T d = s / c2;                                                                                \
      T den = d + eps;                                                                             \
      T num = lr * m[i];                                                                           \
      T q = num / den;                                                                             \
      p[i] = p[i] - q;                                                                             \
    }                                                                                              \
  }
ADAM_REF(float, sqrtf)
ADAM_REF(double, sqrt)

static void test_adam(void) {
  enum { N = 1003 };
  double args[7] = {0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-3, sqrt(1 - pow(0.999, 3)), 1e-8};
  for (int d = 0; d < 2; d++) {
    DType dt = d ? DT_F64 : DT_F32;
    KDesc *kd = adam_kernel(N, dt);
    NsKernelFn fn = compile1(kd);
    free(kd);
    if (!fn) continue;
    size_t es = dsize(dt);
    char *buf[2][4];
    for (int c = 0; c < 2; c++)
      for (int k = 0; k < 4; k++) buf[c][k] = malloc(N * es);
    for (int64_t i = 0; i < N; i++) {
      double vals[4] = {rng_normal(), rng_normal() * 0.1, fabs(rng_normal()) * 0.01, rng_normal()};
      for (int k = 0; k < 4; k++) {
        if (dt == DT_F32) ((float *)buf[0][k])[i] = ((float *)buf[1][k])[i] = (float)vals[k];
        else ((double *)buf[0][k])[i] = ((double *)buf[1][k])[i] = vals[k];
      }
    }
    for (int step = 0; step < 3; step++) {
      fn(buf[0], args, 0, 500);
      fn(buf[0], args, 500, N);
      if (dt == DT_F32)
        adam_ref_float((float *)buf[1][0], (float *)buf[1][1], (float *)buf[1][2], (float *)buf[1][3], args, N);
      else
        adam_ref_double((double *)buf[1][0], (double *)buf[1][1], (double *)buf[1][2], (double *)buf[1][3], args, N);
    }
    for (int k = 0; k < 3; k++)
      CHECK(memcmp(buf[0][k], buf[1][k], N * es) == 0, "%s adam: operand %d differs from scalar C", tensor_dtype_names[dt], k);
    for (int c = 0; c < 2; c++)
      for (int k = 0; k < 4; k++) free(buf[c][k]);
  }
}

/* x = x + x * y with x loaded and stored in place, on a 2-D strided view;
 * and a run over rows [1, 3) only, leaving the other rows alone. */
static void test_in_place_and_ranges(void) {
  int64_t shape[2] = {5, 37};
  for (int d = 0; d < 2; d++) {
    DType dt = d ? DT_F64 : DT_F32;
    ObjTensor *x = make_input(dt, 2, shape, 3, false), *y = make_input(dt, 2, shape, 0, false), *xy = NULL, *want = NULL;
    CHECK(tensor_apply(vm->tc, TOP_MUL, (ObjTensor *[]){x, y}, 2, NULL, &xy) &&
              tensor_apply(vm->tc, TOP_ADD, (ObjTensor *[]){x, xy}, 2, NULL, &want),
          "reference");
    KDesc kd = {.ndim = 2, .shape = {5, 37}, .noperands = 2, .operand_dtype = {(uint8_t)dt, (uint8_t)dt}, .nargs = 0};
    memcpy(kd.strides[0], x->strides, sizeof kd.strides[0]);
    memcpy(kd.strides[1], y->strides, sizeof kd.strides[1]);
    kd.instrs[0] = (KInstr){.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 0};
    kd.instrs[1] = (KInstr){.kind = KI_LOAD, .dtype = (uint8_t)dt, .a = 1};
    kd.instrs[2] = (KInstr){.kind = KI_OP, .dtype = (uint8_t)dt, .op = TOP_MUL, .a = 0, .b = 1, .arg = -1};
    kd.instrs[3] = (KInstr){.kind = KI_OP, .dtype = (uint8_t)dt, .op = TOP_ADD, .a = 0, .b = 2, .arg = -1};
    kd.instrs[4] = (KInstr){.kind = KI_STORE, .a = 0, .b = 3};
    kd.ninstrs = 5;
    NsKernelFn fn = compile1(&kd);
    if (!fn || !want) continue;
    ObjTensor *before = tensor_contiguous(vm->tc, x); /* a copy: x is a strided view */
    char *ptrs[2] = {tensor_data(x), tensor_data(y)};
    fn(ptrs, NULL, 1, 3);
    bool ok = true;
    for (int64_t i = 0; i < x->numel && ok; i++) {
      int64_t row = i / 37;
      double g = tensor_get(x, i), w = row >= 1 && row < 3 ? tensor_get(want, i) : tensor_get(before, i);
      ok = (isnan(g) && isnan(w)) || memcmp(&g, &w, sizeof g) == 0;
      CHECK(ok, "%s in place, rows [1, 3): element %lld = %.17g, want %.17g", tensor_dtype_names[dt], (long long)i, g, w);
    }
    fn(ptrs, NULL, 0, 1);
    fn(ptrs, NULL, 3, 5);
    for (int64_t i = 0; i < x->numel && ok; i++) {
      double g = tensor_get(x, i), w = tensor_get(want, i);
      ok = (isnan(g) && isnan(w)) || memcmp(&g, &w, sizeof g) == 0;
      CHECK(ok, "%s in place: element %lld = %.17g, want %.17g", tensor_dtype_names[dt], (long long)i, g, w);
    }
  }
}

/* ---- descriptions the module refuses ---- */

static void expect_refused(const KDesc *kd, const char *what, const char *needle) {
  char err[512] = "";
  NsKernelFn fn = NULL;
  bool ok = api->compile(jit, "refused", &kd, 1, &fn, err, sizeof err);
  CHECK(!ok && fn == NULL, "%s: compiled", what);
  CHECK(strstr(err, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err, needle);
}

static void test_refused(void) {
  KDesc good = {.ndim = 1, .shape = {10}, .noperands = 2, .operand_dtype = {DT_F32, DT_F32}, .strides = {{1}, {1}},
                .ninstrs = 3, .nargs = 2};
  good.instrs[0] = (KInstr){.kind = KI_LOAD, .dtype = DT_F32, .a = 1};
  good.instrs[1] = (KInstr){.kind = KI_OP, .dtype = DT_F32, .op = TOP_NEG, .a = 0, .arg = -1};
  good.instrs[2] = (KInstr){.kind = KI_STORE, .a = 0, .b = 1};
  KDesc kd = good;
  kd.instrs[1].a = 99;
  expect_refused(&kd, "value out of range", "value 99");
  kd = good;
  kd.instrs[1].a = 1;
  expect_refused(&kd, "value used before it exists", "not an earlier value");
  kd = good;
  kd.instrs[2].b = 2;
  expect_refused(&kd, "store of a store", "not an earlier value");
  kd = good;
  kd.instrs[0].a = 7;
  expect_refused(&kd, "operand out of range", "operand 7");
  kd = good;
  kd.instrs[1].op = TOP_SUM;
  expect_refused(&kd, "op without a row", "no row");
  kd = good;
  kd.instrs[1].op = 60000;
  expect_refused(&kd, "op out of range", "no row");
  kd = good;
  kd.operand_dtype[1] = DT_I64;
  kd.instrs[0].dtype = DT_I64;
  expect_refused(&kd, "i64 operand", "i64");
  kd = good;
  kd.instrs[0].dtype = DT_F64;
  expect_refused(&kd, "load as the wrong dtype", "load as f64");
  kd = good;
  kd.ndim = 0;
  expect_refused(&kd, "no dims", "dims");
  kd = good;
  kd.shape[0] = -1;
  expect_refused(&kd, "negative dim", "negative");
  kd = good;
  kd.instrs[1].op = TOP_CLAMP;
  kd.instrs[1].arg = 1;
  expect_refused(&kd, "attrs past the args", "attrs at arg 1");
  kd = good;
  kd.instrs[1].kind = 9;
  expect_refused(&kd, "unknown kind", "unknown kind");
  kd = good;
  kd.instrs[1].op = TOP_LT;
  expect_refused(&kd, "comparison not giving bool", "gives bool");
  kd = good;
  kd.ninstrs = 1000;
  expect_refused(&kd, "too many instructions", "instructions");
  char err[256] = "";
  NsKernelFn fn;
  CHECK(!api->compile(jit, "none", NULL, 0, &fn, err, sizeof err) && err[0], "no kernels");
  /* and the JIT still works */
  NsKernelFn neg = compile1(&good);
  float in[10], out[10];
  for (int i = 0; i < 10; i++) in[i] = (float)i;
  if (neg) {
    neg((char *[]){(char *)out, (char *)in}, NULL, 0, 10);
    CHECK(out[9] == -9.0f && signbit(out[0]), "neg after refusals: %g %g", out[9], out[0]);
  }
}

/* ---- dumps, and a module of several kernels ---- */

/* kernel k of a ~10-op module: 3 inputs, 1 output */
static KDesc *mixed_kernel(int k, int64_t n) {
  KDesc *kd = calloc(1, sizeof *kd);
  kd->ndim = 2;
  kd->shape[0] = n / 64;
  kd->shape[1] = 64;
  kd->noperands = 4;
  for (int o = 0; o < 4; o++) {
    kd->operand_dtype[o] = DT_F32;
    kd->strides[o][0] = o == 3 ? 0 : 64; /* operand 3 a row vector, broadcast down dim 0 */
    kd->strides[o][1] = 1;
  }
  kd->nargs = 2;
#define V(...) put(kd, (KInstr){__VA_ARGS__})
#define OP(o, x, y) V(.kind = KI_OP, .dtype = DT_F32, .op = TOP_##o, .a = (int16_t)(x), .b = (int16_t)(y), .arg = 0)
  int a = V(.kind = KI_LOAD, .dtype = DT_F32, .a = 1), b = V(.kind = KI_LOAD, .dtype = DT_F32, .a = 2);
  int c = V(.kind = KI_LOAD, .dtype = DT_F32, .a = 3), s = V(.kind = KI_ARG, .dtype = DT_F32, .a = 0);
  int t = OP(ADD, OP(MUL, a, b), c);
  t = OP(MUL, t, s);
  t = k % 3 == 0 ? OP(TANH, t, 0) : k % 3 == 1 ? OP(EXP, OP(NEG, t, 0), 0) : OP(RELU, t, 0);
  t = OP(SUB, t, OP(DIV, a, OP(ADD, OP(ABS, b, 0), s)));
  t = OP(MAXIMUM, t, OP(MINIMUM, c, a));
  int cond = V(.kind = KI_OP, .dtype = DT_BOOL, .op = TOP_GT, .a = (int16_t)t, .b = (int16_t)b, .arg = -1);
  t = V(.kind = KI_OP, .dtype = DT_F32, .op = TOP_WHERE, .a = (int16_t)cond, .b = (int16_t)t, .c = (int16_t)a, .arg = -1);
  V(.kind = KI_STORE, .a = 0, .b = (int16_t)t);
#undef OP
#undef V
  return kd;
}

static void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static long file_size(const char *dir, const char *name) {
  char path[512];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_dump_and_modules(void) {
  char dir[] = "/tmp/ns_jit_dumpXXXXXX", err[512];
  if (!mkdtemp(dir)) {
    CHECK(false, "mkdtemp");
    return;
  }
  void *dj = api->create(dir, err, sizeof err);
  CHECK(dj != NULL, "create with a dump dir: %s", err);
  if (dj) {
    KDesc *kd[6];
    NsKernelFn fns[6];
    for (int k = 0; k < 6; k++) kd[k] = mixed_kernel(k, 1 << 12);
    CHECK(api->compile(dj, "dumped", (const KDesc *const *)kd, 6, fns, err, sizeof err), "compile with dumps: %s", err);
    CHECK(file_size(dir, "dumped.ll") > 0 && file_size(dir, "dumped.s") > 0, "dumped.ll and dumped.s written");
    for (int k = 0; k < 6; k++) free(kd[k]);
    api->destroy(dj);
  }
  rm_dir(dir);
  void *bad = api->create("/nonexistent/dir", err, sizeof err);
  if (bad) {
    KDesc *k0 = mixed_kernel(0, 64);
    NsKernelFn fn;
    CHECK(!api->compile(bad, "nodir", (const KDesc *const *)&k0, 1, &fn, err, sizeof err) && strstr(err, "cannot write"),
          "an unwritable dump dir fails the compile: %s", err);
    free(k0);
    api->destroy(bad);
  }
}

/* ---- timings (printed, not checked) ---- */

static void fma3_c(float *o, const float *a, const float *b, const float *c, int64_t n) {
  for (int64_t i = 0; i < n; i++) o[i] = a[i] * b[i] + c[i];
}

static void timings(void) {
  /* a module of 6 kernels of about 10 ops */
  KDesc *kd[6];
  NsKernelFn fns[6];
  for (int k = 0; k < 6; k++) kd[k] = mixed_kernel(k, 1 << 12);
  double best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    compile_n((const KDesc *const *)kd, 6, fns);
    best = fmin(best, now() - t0);
  }
  for (int k = 0; k < 6; k++) free(kd[k]);
  printf("compile: 6 kernels of ~12 ops in %.1f ms (%.2f ms per kernel)\n", best * 1e3, best * 1e3 / 6);

  /* out = a * b + c over 1M f32 */
  enum { N = 1 << 20 };
  int64_t shape[1] = {N};
  ObjTensor *t[4];
  for (int k = 0; k < 4; k++) {
    t[k] = tensor_new(vm->tc, DT_F32, 1, shape);
    for (int64_t i = 0; i < N; i++) ((float *)tensor_data(t[k]))[i] = (float)rng_normal();
  }
  KDesc fk = {.ndim = 1, .shape = {N}, .noperands = 4, .operand_dtype = {DT_F32, DT_F32, DT_F32, DT_F32},
              .strides = {{1}, {1}, {1}, {1}}, .ninstrs = 6};
  for (int k = 0; k < 3; k++) fk.instrs[k] = (KInstr){.kind = KI_LOAD, .dtype = DT_F32, .a = (int16_t)(k + 1)};
  fk.instrs[3] = (KInstr){.kind = KI_OP, .dtype = DT_F32, .op = TOP_MUL, .a = 0, .b = 1, .arg = -1};
  fk.instrs[4] = (KInstr){.kind = KI_OP, .dtype = DT_F32, .op = TOP_ADD, .a = 3, .b = 2, .arg = -1};
  fk.instrs[5] = (KInstr){.kind = KI_STORE, .a = 0, .b = 4};
  NsKernelFn fn = NULL;
  best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    fn = compile1(&fk);
    best = fmin(best, now() - t0);
  }
  printf("compile: a module of one 2-op kernel in %.1f ms\n", best * 1e3);
  if (!fn) return;
  char *ptrs[4];
  for (int k = 0; k < 4; k++) ptrs[k] = tensor_data(t[k]);
  double bytes = 4.0 * 4 * N, tj = 1e9, tc = 1e9, ti = 1e9, tl = 1e9;
  for (int rep = 0; rep < 20; rep++) {
    double t0 = now();
    fn(ptrs, NULL, 0, N);
    tj = fmin(tj, now() - t0);
    t0 = now();
    ObjTensor *ab = NULL, *r = NULL;
    tensor_apply(vm->tc, TOP_MUL, (ObjTensor *[]){t[1], t[2]}, 2, NULL, &ab);
    tensor_apply(vm->tc, TOP_ADD, (ObjTensor *[]){ab, t[3]}, 2, NULL, &r);
    tc = fmin(tc, now() - t0);
    t0 = now();
    tensor_apply_into(vm->tc, TOP_MUL, (ObjTensor *[]){t[1], t[2]}, 2, NULL, t[0]);
    tensor_apply_into(vm->tc, TOP_ADD, (ObjTensor *[]){t[0], t[3]}, 2, NULL, t[0]);
    ti = fmin(ti, now() - t0);
    t0 = now();
    fma3_c((float *)ptrs[0], (float *)ptrs[1], (float *)ptrs[2], (float *)ptrs[3], N);
    tl = fmin(tl, now() - t0);
  }
  printf("a * b + c over 1M f32 (16 MB moved), best of 20:\n  JIT kernel %.3f ms = %.1f GB/s\n"
         "  C kernels through tensor_apply (mul, add; allocating) %.3f ms = %.1f GB/s\n"
         "  C kernels through tensor_apply_into (mul, add into the output) %.3f ms = %.1f GB/s\n"
         "  one plain C loop %.3f ms = %.1f GB/s\n",
         tj * 1e3, bytes / tj * 1e-9, tc * 1e3, bytes / tc * 1e-9, ti * 1e3, bytes / ti * 1e-9, tl * 1e3,
         bytes / tl * 1e-9);
}

int main(void) {
  vm = lang_vm_new();
  /* references come from the C kernels, one op at a time (the engine's own
   * JIT would otherwise record and compile them) */
  if (vm) tensor_jit_set(vm->tc, false);
  vm->heap.gc_pause++;
  rng_seed(12345);
  void *lib = dlopen(NS_JIT_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    printf("FAIL cannot open %s: %s\n", NS_JIT_MODULE_PATH, dlerror());
    return 1;
  }
  const NsJitApi *(*entry)(void) = (const NsJitApi *(*)(void))dlsym(lib, "ns_jit_api");
  api = entry ? entry() : NULL;
  if (!api || api->abi != NS_JIT_ABI) {
    printf("FAIL %s: no ns_jit_api of ABI %d\n", NS_JIT_MODULE_PATH, NS_JIT_ABI);
    return 1;
  }
  char err[512];
  jit = api->create(NULL, err, sizeof err);
  if (!jit) {
    printf("FAIL create: %s\n", err);
    return 1;
  }
  printf("host: %.60s...\n", api->host(jit));
  double t0 = now();
  test_elementwise();
  printf("elementwise ops: %.1f s\n", now() - t0);
  test_mixed_dtypes();
  test_accuracy();
  test_adam();
  test_in_place_and_ranges();
  test_refused();
  test_dump_and_modules();
  timings();
  api->destroy(jit);
  /* the module stays loaded, as in the tensor engine (LLVM is not made
   * to be unloaded) */
  vm->heap.gc_pause--;
  vm_free(vm);
  return check_report();
}
