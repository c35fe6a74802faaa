/* Gradient checks: every differentiable op of tensor_ops.def against
 * central finite differences in f64 (eps 1e-6) on small seeded random
 * inputs, including broadcasting for binary ops, axes/keepdim for
 * reductions and batched/broadcast/1-D/transposed matmul. Each check uses
 * loss = sum(out * R) for a fixed random R (R is passed to backward() as
 * the output gradient). Then: a 2-layer MLP loss, gradient accumulation
 * across two backward() calls (the first retaining the graph), the errors
 * for a second backward() through a freed graph and for an input changed in
 * place, a deep chain, and the error for backward() on a non-scalar. One
 * line per check; exit status 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "neuralscript.h"
#include "tensor_int.h"

static VM *vm;
static int failures, checks;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

/* f64 tensor with values uniform in [lo, hi), requiring grad. */
static ObjTensor *rnd(double lo, double hi, int ndim, const int64_t *shape) {
  ObjTensor *t = tensor_new(vm->tc, DT_F64, ndim, shape);
  double *d = tensor_data(t);
  for (int64_t i = 0; i < t->numel; i++) d[i] = lo + (hi - lo) * urand();
  t->requires_grad = true;
  return t;
}

/* Values in [lo, hi) at least `gap` away from each of the kinks. */
static ObjTensor *rnd_away(double lo, double hi, const double *kinks, int nk, int ndim, const int64_t *shape) {
  ObjTensor *t = rnd(lo, hi, ndim, shape);
  double *d = tensor_data(t);
  for (int64_t i = 0; i < t->numel; i++)
    for (int k = 0; k < nk; k++)
      if (fabs(d[i] - kinks[k]) < 0.05) d[i] = kinks[k] + (d[i] < kinks[k] ? -0.1 : 0.1);
  return t;
}

static ObjTensor *ints(const int64_t *vals, int ndim, const int64_t *shape) {
  ObjTensor *t = tensor_new(vm->tc, DT_I64, ndim, shape);
  memcpy(tensor_data(t), vals, sizeof(int64_t) * (size_t)t->numel);
  return t;
}

typedef ObjTensor *(*Forward)(ObjTensor **in, int n, const void *ctx);

typedef struct {
  TensorOp op;
  TAttrs attrs;
} OpCtx;

static ObjTensor *apply(TensorOp op, ObjTensor **in, int n, const TAttrs *a) {
  ObjTensor *out = NULL;
  TAttrs zero;
  memset(&zero, 0, sizeof zero);
  if (!tensor_apply(vm->tc, op, in, n, a ? a : &zero, &out)) return NULL;
  return out;
}

static ObjTensor *fwd_op(ObjTensor **in, int n, const void *ctx) {
  const OpCtx *c = ctx;
  return apply(c->op, in, n, &c->attrs);
}

static double weighted_sum(const ObjTensor *out, const ObjTensor *r) {
  double s = 0;
  for (int64_t i = 0; i < out->numel; i++) s += tensor_get(out, i) * tensor_get(r, i);
  return s;
}

/* Backward with gradient R, then every input that requires grad against
 * central differences of sum(f(in) * R). */
static void check_fd(const char *name, Forward f, const void *ctx, ObjTensor **in, int n, double eps,
                     double rtol, double atol) {
  checks++;
  char why[1200] = "";
  for (int k = 0; k < n; k++) in[k]->grad = NULL;
  vm->tc->grad_enabled = 1;
  ObjTensor *out = f(in, n, ctx);
  if (out == NULL) {
    snprintf(why, sizeof why, "forward: %s", vm->error);
    goto fail;
  }
  ObjTensor *r = tensor_new(vm->tc, DT_F64, out->ndim, out->shape);
  for (int64_t i = 0; i < r->numel; i++) ((double *)tensor_data(r))[i] = urand() * 2 - 1;
  if (!autograd_backward(vm->tc, out, r, false)) {
    snprintf(why, sizeof why, "backward: %s", vm->error);
    goto fail;
  }
  if (vm->tc->grad_enabled != 1) {
    snprintf(why, sizeof why, "grad mode not restored after backward");
    goto fail;
  }
  vm->tc->grad_enabled = 0;
  double worst = 0;
  for (int k = 0; k < n; k++) {
    ObjTensor *x = in[k];
    if (!x->requires_grad) continue;
    ObjTensor *gx = x->grad;
    char b1[64], b2[64];
    if (gx == NULL || gx->numel != x->numel || gx->ndim != x->ndim) {
      snprintf(why, sizeof why, "input %d: grad %s for shape %s", k, gx ? tensor_shape_str(gx, b1, sizeof b1) : "missing",
               tensor_shape_str(x, b2, sizeof b2));
      goto fail;
    }
    double *d = tensor_data(x);
    for (int64_t i = 0; i < x->numel; i++) {
      /* Views share the input's storage: read each result before the
       * next perturbation. */
      double keep = d[i], lp = 0, lm = 0;
      d[i] = keep + eps;
      ObjTensor *op = f(in, n, ctx);
      if (op) lp = weighted_sum(op, r);
      d[i] = keep - eps;
      ObjTensor *om = f(in, n, ctx);
      if (om) lm = weighted_sum(om, r);
      d[i] = keep;
      if (op == NULL || om == NULL) {
        snprintf(why, sizeof why, "forward: %s", vm->error);
        goto fail;
      }
      double num = (lp - lm) / (2 * eps);
      double ana = tensor_get(gx, i);
      double err = fabs(num - ana), lim = rtol * fmax(fabs(num), fabs(ana)) + atol;
      if (!(err <= lim)) {
        snprintf(why, sizeof why, "input %d element %lld: analytic %.10g, numeric %.10g", k, (long long)i, ana,
                 num);
        goto fail;
      }
      if (err > worst) worst = err;
    }
  }
  vm->tc->grad_enabled = 1;
  printf("ok   %-40s max abs err %.2e\n", name, worst);
  return;
fail:
  vm->tc->grad_enabled = 1;
  vm_clear_error(vm);
  printf("FAIL %-40s %s\n", name, why);
  failures++;
}

static void check_op(const char *name, TensorOp op, const TAttrs *a, ObjTensor **in, int n) {
  OpCtx c;
  memset(&c, 0, sizeof c);
  c.op = op;
  if (a) c.attrs = *a;
  check_fd(name, fwd_op, &c, in, n, 1e-6, 1e-5, 1e-6);
}

static TAttrs attrs0(void) {
  TAttrs a;
  memset(&a, 0, sizeof a);
  return a;
}

static void check_binary(void) {
  static const struct {
    const char *name;
    TensorOp op;
    double lo0, hi0, lo1, hi1;
  } ops[] = {
      {"add", TOP_ADD, -1, 1, -1, 1},         {"sub", TOP_SUB, -1, 1, -1, 1},
      {"mul", TOP_MUL, -1, 1, -1, 1},         {"div", TOP_DIV, -1, 1, 0.5, 2},
      {"pow", TOP_POW, 0.5, 2, -1.5, 2},      {"maximum", TOP_MAXIMUM, -1, 1, -1, 1},
      {"minimum", TOP_MINIMUM, -1, 1, -1, 1},
  };
  static const struct {
    const char *desc;
    int na, nb;
    int64_t a[4], b[4];
  } shapes[] = {
      {"[2, 3] [2, 3]", 2, 2, {2, 3}, {2, 3}},
      {"[2, 3] [3]", 2, 1, {2, 3}, {3}},
      {"[2, 1, 3] [4, 1]", 3, 2, {2, 1, 3}, {4, 1}},
      {"[1, 3] [2, 1]", 2, 2, {1, 3}, {2, 1}},
      {"[3] []", 1, 0, {3}, {0}},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      ObjTensor *in[2] = {rnd(ops[i].lo0, ops[i].hi0, shapes[s].na, shapes[s].a),
                          rnd(ops[i].lo1, ops[i].hi1, shapes[s].nb, shapes[s].b)};
      char name[96];
      snprintf(name, sizeof name, "%s %s", ops[i].name, shapes[s].desc);
      check_op(name, ops[i].op, NULL, in, 2);
    }
  /* a ** b with a constant exponent: only a gets a gradient (and a < 0 is fine). */
  ObjTensor *in[2] = {rnd(-2, 2, SHAPE(2, 3)), rnd(2, 2, SHAPE(1))};
  in[1]->requires_grad = false;
  check_op("pow [2, 3] ** 2 (constant)", TOP_POW, NULL, in, 2);

  /* where(cond, a, b) with broadcasting */
  ObjTensor *cond = tensor_new(vm->tc, DT_BOOL, SHAPE(2, 3));
  for (int64_t i = 0; i < 6; i++) tensor_set(cond, i, urand() < 0.5);
  ObjTensor *w[3] = {cond, rnd(-1, 1, SHAPE(2, 3)), rnd(-1, 1, SHAPE(3))};
  check_op("where [2, 3] [2, 3] [3]", TOP_WHERE, NULL, w, 3);
  ObjTensor *w2[3] = {cond, rnd(-1, 1, SHAPE(1, 3)), rnd(-1, 1, SHAPE(2, 1))};
  check_op("where [2, 3] [1, 3] [2, 1]", TOP_WHERE, NULL, w2, 3);
}

/* Ties of maximum/minimum split the gradient evenly. */
static void check_ties(void) {
  checks++;
  ObjTensor *a = rnd(1, 1, SHAPE(3)), *b = rnd(1, 1, SHAPE(3));
  ObjTensor *in[2] = {a, b};
  ObjTensor *m = apply(TOP_MAXIMUM, in, 2, NULL);
  ObjTensor *s = m ? apply(TOP_SUM, &m, 1, NULL) : NULL;
  bool ok = s && autograd_backward(vm->tc, s, NULL, false) && a->grad && b->grad;
  for (int i = 0; ok && i < 3; i++) ok = tensor_get(a->grad, i) == 0.5 && tensor_get(b->grad, i) == 0.5;
  printf("%s maximum ties split evenly\n", ok ? "ok  " : "FAIL");
  if (!ok) failures++, vm_clear_error(vm);
}

static void check_unary(void) {
  static const double zero[] = {0}, clampk[] = {-0.5, 0.5}, clampk2[] = {0.3};
  static const struct {
    const char *name;
    TensorOp op;
    double lo, hi;
    const double *kinks;
    int nk;
  } ops[] = {
      {"neg", TOP_NEG, -2, 2, NULL, 0},         {"abs", TOP_ABS, -2, 2, zero, 1},
      {"exp", TOP_EXP, -2, 2, NULL, 0},         {"log", TOP_LOG, 0.2, 3, NULL, 0},
      {"sqrt", TOP_SQRT, 0.2, 3, NULL, 0},      {"sin", TOP_SIN, -3, 3, NULL, 0},
      {"cos", TOP_COS, -3, 3, NULL, 0},         {"tanh", TOP_TANH, -2, 2, NULL, 0},
      {"sigmoid", TOP_SIGMOID, -4, 4, NULL, 0}, {"relu", TOP_RELU, -2, 2, zero, 1},
      {"gelu", TOP_GELU, -3, 3, NULL, 0},       {"silu", TOP_SILU, -4, 4, NULL, 0},
      {"leaky_relu", TOP_LEAKY_RELU, -2, 2, zero, 1},
      {"clamp [-0.5, 0.5]", TOP_CLAMP, -1, 1, clampk, 2},
      {"clamp [NaN, 0.3]", TOP_CLAMP, -1, 1, clampk2, 1},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    TAttrs a = attrs0();
    if (ops[i].op == TOP_LEAKY_RELU) a.scalar[0] = 0.1;
    if (ops[i].op == TOP_CLAMP) {
      a.scalar[0] = ops[i].nk == 2 ? -0.5 : NAN;
      a.scalar[1] = ops[i].nk == 2 ? 0.5 : 0.3;
    }
    ObjTensor *x = rnd_away(ops[i].lo, ops[i].hi, ops[i].kinks, ops[i].nk, SHAPE(3, 4));
    check_op(ops[i].name, ops[i].op, &a, &x, 1);
  }
  /* cast to f32 and back: the gradient is the output gradient, up to f32
   * rounding (so a coarser step). */
  TAttrs a = attrs0();
  a.dtype = DT_F32;
  OpCtx c = {TOP_CAST, a};
  ObjTensor *x = rnd(-1, 1, SHAPE(2, 3));
  check_fd("cast f64 -> f32", fwd_op, &c, &x, 1, 1e-2, 1e-3, 1e-4);
}

static void check_reductions(void) {
  static const struct {
    const char *name;
    TensorOp op;
  } ops[] = {{"sum", TOP_SUM}, {"mean", TOP_MEAN}, {"max", TOP_MAX}, {"min", TOP_MIN}};
  static const struct {
    const char *desc;
    uint32_t axes;
    bool keepdim;
  } modes[] = {
      {"all", 0, false}, {"axis 1", 2, false}, {"axes 0,2 keepdim", 5, true}, {"axis 2 keepdim", 4, true},
      {"axes 0,1", 3, false},
  };
  for (size_t i = 0; i < 4; i++)
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
      TAttrs a = attrs0();
      a.axes = modes[m].axes;
      a.keepdim = modes[m].keepdim;
      ObjTensor *x = rnd(-1, 1, SHAPE(2, 3, 4));
      char name[96];
      snprintf(name, sizeof name, "%s %s", ops[i].name, modes[m].desc);
      check_op(name, ops[i].op, &a, &x, 1);
    }
  static const int axes[] = {1, -1, 0};
  for (int sm = 0; sm < 2; sm++)
    for (size_t k = 0; k < 3; k++) {
      TAttrs a = attrs0();
      a.axis = axes[k];
      ObjTensor *x = rnd(-2, 2, SHAPE(2, 3, 4));
      char name[96];
      snprintf(name, sizeof name, "%s axis %d", sm ? "log_softmax" : "softmax", axes[k]);
      check_op(name, sm ? TOP_LOG_SOFTMAX : TOP_SOFTMAX, &a, &x, 1);
    }
}

/* matmul with one operand seen through a transpose (a strided view). */
static ObjTensor *fwd_matmul_t(ObjTensor **in, int n, const void *ctx) {
  (void)n;
  int which = *(const int *)ctx;
  TAttrs p = attrs0();
  p.nints = 2;
  p.ints[0] = 1, p.ints[1] = 0;
  ObjTensor *ab[2] = {in[0], in[1]};
  ab[which] = apply(TOP_PERMUTE, &in[which], 1, &p);
  return ab[which] ? apply(TOP_MATMUL, ab, 2, NULL) : NULL;
}

static void check_matmul(void) {
  static const struct {
    const char *desc;
    int na, nb;
    int64_t a[4], b[4];
  } cases[] = {
      {"[3, 4] @ [4, 5]", 2, 2, {3, 4}, {4, 5}},
      {"[2, 3, 4] @ [2, 4, 5]", 3, 3, {2, 3, 4}, {2, 4, 5}},
      {"[2, 3, 4] @ [4, 5]", 3, 2, {2, 3, 4}, {4, 5}},
      {"[3, 4] @ [2, 4, 5]", 2, 3, {3, 4}, {2, 4, 5}},
      {"[2, 1, 3, 4] @ [3, 4, 2]", 4, 3, {2, 1, 3, 4}, {3, 4, 2}},
      {"[4] @ [4, 5]", 1, 2, {4}, {4, 5}},
      {"[3, 4] @ [4]", 2, 1, {3, 4}, {4}},
      {"[4] @ [4]", 1, 1, {4}, {4}},
      {"[2, 3, 4] @ [4]", 3, 1, {2, 3, 4}, {4}},
      {"[4] @ [2, 4, 5]", 1, 3, {4}, {2, 4, 5}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ObjTensor *in[2] = {rnd(-1, 1, cases[i].na, cases[i].a), rnd(-1, 1, cases[i].nb, cases[i].b)};
    char name[96];
    snprintf(name, sizeof name, "matmul %s", cases[i].desc);
    check_op(name, TOP_MATMUL, NULL, in, 2);
  }
  static const int which[2] = {0, 1};
  ObjTensor *in[2] = {rnd(-1, 1, SHAPE(4, 3)), rnd(-1, 1, SHAPE(4, 5))};
  check_fd("matmul [4, 3]^T @ [4, 5]", fwd_matmul_t, &which[0], in, 2, 1e-6, 1e-5, 1e-6);
  ObjTensor *in2[2] = {rnd(-1, 1, SHAPE(3, 4)), rnd(-1, 1, SHAPE(5, 4))};
  check_fd("matmul [3, 4] @ [5, 4]^T", fwd_matmul_t, &which[1], in2, 2, 1e-6, 1e-5, 1e-6);
}

static ObjTensor *fwd_contiguous(ObjTensor **in, int n, const void *ctx) {
  (void)n, (void)ctx;
  TAttrs p = attrs0();
  p.nints = 3;
  p.ints[0] = 2, p.ints[1] = 0, p.ints[2] = 1;
  ObjTensor *v = apply(TOP_PERMUTE, in, 1, &p);
  return v ? apply(TOP_CONTIGUOUS, &v, 1, NULL) : NULL;
}

static void check_shape_ops(void) {
  TAttrs a = attrs0();
  a.nints = 2, a.ints[0] = 6, a.ints[1] = 4;
  ObjTensor *x = rnd(-1, 1, SHAPE(2, 3, 4));
  check_op("reshape [2, 3, 4] -> [6, 4]", TOP_RESHAPE, &a, &x, 1);
  a.ints[0] = 4, a.ints[1] = -1;
  check_op("reshape [2, 3, 4] -> [4, -1]", TOP_RESHAPE, &a, &x, 1);

  a = attrs0();
  a.nints = 3, a.ints[0] = 2, a.ints[1] = 0, a.ints[2] = 1;
  check_op("permute (2, 0, 1)", TOP_PERMUTE, &a, &x, 1);

  a = attrs0();
  a.nints = 3, a.ints[0] = 2, a.ints[1] = 3, a.ints[2] = 4;
  ObjTensor *e = rnd(-1, 1, SHAPE(3, 1));
  check_op("expand [3, 1] -> [2, 3, 4]", TOP_EXPAND, &a, &e, 1);

  check_fd("contiguous (of a permuted view)", fwd_contiguous, NULL, &x, 1, 1e-6, 1e-5, 1e-6);

  a = attrs0();
  a.axis = 2;
  a.nints = 6;
  int64_t sl[6] = {1, 4, 1, 0, 5, 2};
  memcpy(a.ints, sl, sizeof sl);
  ObjTensor *s = rnd(-1, 1, SHAPE(4, 5));
  check_op("slice [1:4, 0:5:2]", TOP_SLICE, &a, &s, 1);

  a = attrs0();
  a.axis = 1;
  ObjTensor *c3[3] = {rnd(-1, 1, SHAPE(2, 3)), rnd(-1, 1, SHAPE(2, 1)), rnd(-1, 1, SHAPE(2, 2))};
  check_op("cat axis 1 ([2, 3] [2, 1] [2, 2])", TOP_CAT, &a, c3, 3);
  a.axis = 0;
  ObjTensor *c5[5];
  for (int i = 0; i < 5; i++) c5[i] = rnd(-1, 1, SHAPE(1 + i % 2, 3));
  check_op("cat axis 0 (5 inputs)", TOP_CAT, &a, c5, 5);
  ObjTensor *s3[3] = {rnd(-1, 1, SHAPE(2, 3)), rnd(-1, 1, SHAPE(2, 3)), rnd(-1, 1, SHAPE(2, 3))};
  check_op("stack axis 0", TOP_STACK, &a, s3, 3);
  a.axis = 2;
  check_op("stack axis 2", TOP_STACK, &a, s3, 3);

  a = attrs0();
  a.axis = 0;
  ObjTensor *is[2] = {rnd(-1, 1, SHAPE(5, 3)), ints((int64_t[]){0, 2, 2, 4}, SHAPE(4))};
  check_op("index_select axis 0 (repeated)", TOP_INDEX_SELECT, &a, is, 2);
  a.axis = 1;
  ObjTensor *is1[2] = {is[0], ints((int64_t[]){2, 0}, SHAPE(2))};
  check_op("index_select axis 1", TOP_INDEX_SELECT, &a, is1, 2);

  a = attrs0();
  a.axis = 1;
  ObjTensor *ga[2] = {rnd(-1, 1, SHAPE(3, 4)), ints((int64_t[]){0, 3, 1, 1, 2, 0}, SHAPE(3, 2))};
  check_op("gather axis 1", TOP_GATHER, &a, ga, 2);
  a.axis = 0;
  ObjTensor *ga0[2] = {ga[0], ints((int64_t[]){2, 0, 1, 2}, SHAPE(1, 4))};
  check_op("gather axis 0", TOP_GATHER, &a, ga0, 2);

  /* x [3, 4] with x.flat[pos] = v: v broadcast along pos's last axis, and
   * a pos whose values are not in order */
  a = attrs0();
  ObjTensor *ip[3] = {rnd(-1, 1, SHAPE(3, 4)), ints((int64_t[]){9, 1, 6, 4, 11, 0}, SHAPE(2, 3)),
                      rnd(-1, 1, SHAPE(3))};
  check_op("index_put (value broadcast)", TOP_INDEX_PUT, &a, ip, 3);
  ObjTensor *ip2[3] = {ip[0], ints((int64_t[]){7, 2}, SHAPE(2)), rnd(-1, 1, SHAPE(2))};
  check_op("index_put", TOP_INDEX_PUT, &a, ip2, 3);
}

static void check_nn(void) {
  TAttrs a = attrs0();
  a.nints = 2, a.ints[0] = 1, a.ints[1] = 1;
  ObjTensor *cv[2] = {rnd(-1, 1, SHAPE(2, 2, 5, 5)), rnd(-1, 1, SHAPE(3, 2, 3, 3))};
  check_op("conv2d stride 1 padding 1", TOP_CONV2D, &a, cv, 2);
  a.ints[0] = 2, a.ints[1] = 0;
  check_op("conv2d stride 2 padding 0", TOP_CONV2D, &a, cv, 2);
  a.nints = 4, a.ints[0] = 1, a.ints[1] = 2, a.ints[2] = 0, a.ints[3] = 1;
  ObjTensor *cv2[2] = {rnd(-1, 1, SHAPE(1, 1, 4, 6)), rnd(-1, 1, SHAPE(2, 1, 2, 3))};
  check_op("conv2d stride (1, 2) padding (0, 1)", TOP_CONV2D, &a, cv2, 2);

  a = attrs0();
  a.nints = 2, a.ints[0] = 2, a.ints[1] = 2;
  ObjTensor *mp = rnd(-1, 1, SHAPE(2, 2, 4, 4));
  check_op("maxpool2d kernel 2 stride 2", TOP_MAXPOOL2D, &a, &mp, 1);

  a = attrs0();
  ObjTensor *ce[2] = {rnd(-2, 2, SHAPE(4, 5)), ints((int64_t[]){1, 0, 4, 2}, SHAPE(4))};
  check_op("cross_entropy", TOP_CROSS_ENTROPY, &a, ce, 2);

  /* dropout: the mask is random per call, so compare with the mask the
   * forward used: d out / d x = out / x elementwise. */
  checks++;
  a = attrs0();
  a.scalar[0] = 0.5;
  ObjTensor *x = rnd(0.5, 1.5, SHAPE(4, 5));
  x->grad = NULL;
  ObjTensor *out = apply(TOP_DROPOUT, &x, 1, &a);
  ObjTensor *r = rnd(-1, 1, SHAPE(4, 5));
  bool ok = out && autograd_backward(vm->tc, out, r, false) && x->grad;
  for (int64_t i = 0; ok && i < 20; i++) {
    double want = tensor_get(r, i) * tensor_get(out, i) / tensor_get(x, i);
    ok = fabs(tensor_get(x->grad, i) - want) <= 1e-12 * fabs(want) + 1e-12;
  }
  printf("%s dropout p=0.5 (gradient = R * mask / (1 - p))\n", ok ? "ok  " : "FAIL");
  if (!ok) failures++, printf("     %s\n", vm->error), vm_clear_error(vm);
}

/* loss = cross_entropy(relu(x @ w1 + b1) @ w2 + b2, labels); in[0..3] are
 * the parameters, in[4] x, in[5] labels. */
static ObjTensor *fwd_mlp(ObjTensor **in, int n, const void *ctx) {
  (void)n, (void)ctx;
  ObjTensor *t[2] = {in[4], in[0]};
  ObjTensor *h = apply(TOP_MATMUL, t, 2, NULL);
  if (!h) return NULL;
  t[0] = h, t[1] = in[1];
  if (!(h = apply(TOP_ADD, t, 2, NULL)) || !(h = apply(TOP_RELU, &h, 1, NULL))) return NULL;
  t[0] = h, t[1] = in[2];
  if (!(h = apply(TOP_MATMUL, t, 2, NULL))) return NULL;
  t[0] = h, t[1] = in[3];
  if (!(h = apply(TOP_ADD, t, 2, NULL))) return NULL;
  t[0] = h, t[1] = in[5];
  return apply(TOP_CROSS_ENTROPY, t, 2, NULL);
}

static void check_mlp(void) {
  ObjTensor *in[6] = {rnd(-1, 1, SHAPE(4, 6)), rnd(-0.5, 0.5, SHAPE(6)), rnd(-1, 1, SHAPE(6, 3)),
                      rnd(-0.5, 0.5, SHAPE(3)), rnd(-1, 1, SHAPE(8, 4)),
                      ints((int64_t[]){0, 1, 2, 1, 0, 2, 2, 1}, SHAPE(8))};
  in[4]->requires_grad = false;
  check_fd("2-layer MLP cross_entropy loss", fwd_mlp, NULL, in, 6, 1e-6, 1e-5, 1e-6);

  /* the same loss through backward() with no gradient argument */
  checks++;
  for (int i = 0; i < 4; i++) in[i]->grad = NULL;
  ObjTensor *loss = fwd_mlp(in, 6, NULL);
  bool ok = loss && loss->numel == 1 && autograd_backward(vm->tc, loss, NULL, false);
  for (int i = 0; ok && i < 4; i++) ok = in[i]->grad != NULL && in[i]->grad->numel == in[i]->numel;
  printf("%s MLP loss.backward() fills every parameter's grad\n", ok ? "ok  " : "FAIL");
  if (!ok) failures++, vm_clear_error(vm);
}

static void check_accumulation(void) {
  checks++;
  ObjTensor *x = rnd(-1, 1, SHAPE(2, 3));
  ObjTensor *in[2] = {x, x};
  ObjTensor *sq = apply(TOP_MUL, in, 2, NULL);
  ObjTensor *s = sq ? apply(TOP_SUM, &sq, 1, NULL) : NULL;
  bool ok = s && autograd_backward(vm->tc, s, NULL, true) && autograd_backward(vm->tc, s, NULL, false) && x->grad;
  for (int64_t i = 0; ok && i < 6; i++) ok = fabs(tensor_get(x->grad, i) - 4 * tensor_get(x, i)) < 1e-12;
  printf("%s gradient accumulates across two backward() calls\n", ok ? "ok  " : "FAIL");
  if (!ok) failures++, vm_clear_error(vm);
}

/* backward() without retain_graph frees what the nodes hold; a second one
 * through them fails before touching .grad. */
static void check_release(void) {
  checks++;
  ObjTensor *x = rnd(-1, 1, SHAPE(3));
  ObjTensor *in[2] = {x, x};
  ObjTensor *sq = apply(TOP_MUL, in, 2, NULL);
  ObjTensor *s = sq ? apply(TOP_SUM, &sq, 1, NULL) : NULL;
  bool ok = s && autograd_backward(vm->tc, s, NULL, false) && x->grad;
  double g0 = ok ? tensor_get(x->grad, 0) : 0;
  ok = ok && sq->grad_fn->released && sq->grad_fn->ninputs == 0 && sq->grad_fn->inputs[0] == NULL;
  ok = ok && !autograd_backward(vm->tc, s, NULL, false) && strstr(vm->error, "a second time") != NULL &&
       tensor_get(x->grad, 0) == g0 && vm->tc->grad_enabled == 1;
  printf("%s a second backward() through a freed graph fails: %s\n", ok ? "ok  " : "FAIL", vm->error);
  if (!ok) failures++;
  vm_clear_error(vm);
}

/* An input a rule reads, written in place after the op was recorded. */
static void check_version(void) {
  checks++;
  ObjTensor *x = rnd(-1, 1, SHAPE(3)), *c = rnd(1, 2, SHAPE(3));
  c->requires_grad = false;
  ObjTensor *in[2] = {x, c};
  ObjTensor *p = apply(TOP_MUL, in, 2, NULL);
  ObjTensor *s = p ? apply(TOP_SUM, &p, 1, NULL) : NULL;
  if (c) tensor_bump_version(c);
  const char *want = "a tensor needed by the backward of `mul` was modified in place (version 1, saved at version 0)";
  bool ok = s && !autograd_backward(vm->tc, s, NULL, false) && strcmp(vm->error, want) == 0 && x->grad == NULL &&
            !p->grad_fn->released;
  printf("%s an input changed in place before backward(): %s\n", ok ? "ok  " : "FAIL", vm->error);
  if (!ok) failures++;
  vm_clear_error(vm);
}

/* 20000 ops in a chain: no recursion in backward(). */
static void check_deep(void) {
  checks++;
  ObjTensor *x = rnd(1, 1, SHAPE(1));
  ObjTensor *c = tensor_scalar(vm->tc, DT_F64, 1.0001);
  ObjTensor *y = x;
  for (int i = 0; i < 20000 && y; i++) {
    ObjTensor *in[2] = {y, c};
    y = apply(TOP_MUL, in, 2, NULL);
  }
  bool ok = y && autograd_backward(vm->tc, y, NULL, false) && x->grad &&
            fabs(tensor_get(x->grad, 0) - pow(1.0001, 20000)) < 1e-9 * pow(1.0001, 20000);
  printf("%s deep chain of 20000 ops\n", ok ? "ok  " : "FAIL");
  if (!ok) failures++, vm_clear_error(vm);
}

static void check_errors(void) {
  checks++;
  ObjTensor *in[2] = {rnd(-1, 1, SHAPE(32, 10)), rnd(-1, 1, SHAPE(10))};
  ObjTensor *y = apply(TOP_ADD, in, 2, NULL);
  const char *want = "backward: grad can be implicitly created only for scalar outputs (loss has shape [32, 10])";
  bool ok = y && !autograd_backward(vm->tc, y, NULL, false) && strcmp(vm->error, want) == 0 && vm->tc->grad_enabled == 1;
  printf("%s backward on a non-scalar: %s\n", ok ? "ok  " : "FAIL", vm->error);
  if (!ok) failures++;
  vm_clear_error(vm);

  checks++;
  ObjTensor *c = tensor_new(vm->tc, DT_F64, SHAPE(2));
  ok = !autograd_backward(vm->tc, c, NULL, false) && vm->error[0] != '\0';
  printf("%s backward on a tensor without grad: %s\n", ok ? "ok  " : "FAIL", vm->error);
  if (!ok) failures++;
  vm_clear_error(vm);
}

/* Grad mode and anomaly detection belong to one interpreter: with a second
 * VM in the process turned to no_grad and to --detect-anomaly (through the
 * embedding API), this one still records and lets a NaN through. */
static void check_two_vms(void) {
  checks++;
  VM *other = lang_vm_new();
  ns_set_detect_anomaly(other, true);
  other->tc->grad_enabled = 0;
  vm->tc->grad_enabled = 1;
  ObjTensor *x = tensor_new(vm->tc, DT_F64, SHAPE(2));
  ((double *)tensor_data(x))[0] = 1.0;
  ((double *)tensor_data(x))[1] = -1.0;
  x->requires_grad = true;
  ObjTensor *ox = tensor_new(other->tc, DT_F64, SHAPE(2));
  memcpy(tensor_data(ox), tensor_data(x), 2 * sizeof(double));
  ox->requires_grad = true;

  ObjTensor *y = apply(TOP_LOG, &x, 1, NULL);
  bool here = y != NULL && y->grad_fn != NULL && !vm->has_error;
  ObjTensor *oy = NULL;
  bool there = !tensor_apply(other->tc, TOP_LOG, &ox, 1, NULL, &oy) && strstr(other->error, "anomaly: `log` produced NaN");
  vm_clear_error(other);
  ObjTensor *ozz = NULL;
  ns_set_detect_anomaly(other, false);
  bool nograd = tensor_apply(other->tc, TOP_EXP, &ox, 1, NULL, &ozz) && ozz->grad_fn == NULL;
  bool ok = here && there && nograd && vm->tc->grad_enabled == 1 && !vm->tc->detect_anomaly;
  printf("%s two VMs keep their own grad mode and anomaly flag (here %d, there %d, no_grad %d)\n",
         ok ? "ok  " : "FAIL", here, there, nograd);
  if (!ok) failures++;
  vm_clear_error(vm);
  vm_free(other);
}

int main(void) {
  vm = lang_vm_new();
  /* Nothing here reaches an interpreter safe point, so nothing is
   * collected while the checks hold raw tensor pointers. */
  check_binary();
  check_ties();
  check_unary();
  check_reductions();
  check_matmul();
  check_shape_ops();
  check_nn();
  check_mlp();
  check_accumulation();
  check_release();
  check_version();
  check_deep();
  check_errors();
  check_two_vms();
  printf("%d/%d gradient checks passed\n", checks - failures, checks);
  vm_free(vm);
  return failures ? 1 : 0;
}
