/* Reverse-mode automatic differentiation: the tape entries (GradNode),
 * loss.backward(), and the backward rule tb_<NAME> of every differentiable
 * row of tensor_ops.def.
 *
 * backward() collects the nodes reachable from the root's grad_fn through
 * the edges taken when each op was recorded (node->next) with an
 * iterative depth-first search (graphs of a long training loop are deep;
 * the C stack is not), then visits them in reverse topological order. The
 * gradient of each node's output is accumulated in a side table indexed by
 * the node's position in that order; a leaf (requires_grad, no grad_fn)
 * accumulates into leaf->grad across backward() calls, as in PyTorch.
 *
 * As in PyTorch, backward() frees the graph it went through unless asked
 * to keep it (retain_graph): each node drops its inputs and saved tensors,
 * so the activations of a training step are collectable as soon as its
 * gradients exist, and a second backward() through a freed node is an
 * error instead of a silent second accumulation. Every input whose values
 * a rule reads (the op's `reads` mask) has its storage version recorded;
 * an in-place write since then (x.zero_(), x[i] = v, an optimizer step)
 * makes backward() an error naming the op. Both checks run before any
 * gradient is accumulated.
 *
 * The rules are written with tensor_apply() in grad mode off, so they work
 * for every dtype, shape and broadcast the forward kernels accept. Rules
 * that need the op's output recompute it from the inputs (the node does
 * not hold its output: that would keep every activation alive twice).
 * Selection ops (slice, index_select, gather, cat, stack) find where each
 * output element came from by running the forward op on a tensor of
 * positions, then scatter-add the output gradient to those positions; this
 * follows the forward kernel's exact semantics (negative indices, steps,
 * repeated indices) without restating them.
 *
 * Ties: maximum/minimum split the gradient evenly between equal operands;
 * max/min reductions split it evenly between all positions that attain the
 * extreme (PyTorch's amax/amin convention); maxpool2d routes it to the
 * first maximum of each window (the position the forward kernel saved). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_int.h"

/* A heap object like any other; the collector marks inputs[], next[] and
 * saved[] through the hooks in tensor.c. tensor_apply() fills in the rest,
 * including seq. */
GradNode *gradnode_new(TCtx *tc, TensorOp op) {
  GradNode *n = (GradNode *)obj_alloc(tc->vm, sizeof(GradNode), OBJ_GRADNODE);
  memset((char *)n + sizeof(Obj), 0, sizeof *n - sizeof(Obj));
  n->op = op;
  return n;
}

void autograd_note_inputs(GradNode *node) {
  node->wants = 0;
  for (int i = 0; i < node->ninputs && i < GRAD_MAX_INPUTS; i++) {
    const ObjTensor *t = node->inputs[i];
    node->next[i] = t ? t->grad_fn : NULL;
    node->versions[i] = t ? t->storage->version : 0;
    if (t != NULL && (t->requires_grad || t->grad_fn != NULL)) node->wants |= (uint8_t)(1u << i);
  }
}

/* ---- building blocks: every helper returns NULL (vm_error set) on error
 * and passes a NULL input through, so a rule reads as one expression and
 * checks the final result only. ---- */

static bool same_shape(int na, const int64_t *a, int nb, const int64_t *b) {
  if (na != nb) return false;
  for (int i = 0; i < na; i++)
    if (a[i] != b[i]) return false;
  return true;
}

static bool wants(const GradNode *n, int i) { return (n->wants >> i) & 1; }

static ObjTensor *apply_n(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *at) {
  for (int i = 0; i < n; i++)
    if (in[i] == NULL) return NULL;
  TAttrs zero;
  if (at == NULL) {
    memset(&zero, 0, sizeof zero);
    at = &zero;
  }
  ObjTensor *out = NULL;
  if (!tensor_apply(tc, op, in, n, at, &out)) return NULL;
  return out;
}

static ObjTensor *ap1(TCtx *tc, TensorOp op, ObjTensor *a, const TAttrs *at) {
  return apply_n(tc, op, &a, 1, at);
}

static ObjTensor *ap2(TCtx *tc, TensorOp op, ObjTensor *a, ObjTensor *b) {
  ObjTensor *in[2] = {a, b};
  return apply_n(tc, op, in, 2, NULL);
}

static ObjTensor *where3(TCtx *tc, ObjTensor *c, ObjTensor *a, ObjTensor *b) {
  ObjTensor *in[3] = {c, a, b};
  return apply_n(tc, TOP_WHERE, in, 3, NULL);
}

#define ADD(a, b) ap2(tc, TOP_ADD, a, b)
#define SUB(a, b) ap2(tc, TOP_SUB, a, b)
#define MUL(a, b) ap2(tc, TOP_MUL, a, b)
#define DIV(a, b) ap2(tc, TOP_DIV, a, b)
#define NEG(a) ap1(tc, TOP_NEG, a, NULL)
#define UN(op, a) ap1(tc, TOP_##op, a, NULL)

/* A 0-dim constant in dtype dt (constants take the tensor's dtype so they
 * never promote a result). */
static ObjTensor *num(TCtx *tc, DType dt, double v) { return tensor_scalar(tc, dt, v); }

static ObjTensor *reduce(TCtx *tc, TensorOp op, ObjTensor *x, uint32_t axes, bool keepdim) {
  TAttrs a;
  memset(&a, 0, sizeof a);
  a.axes = axes;
  a.keepdim = keepdim;
  return ap1(tc, op, x, &a);
}

static ObjTensor *shape_op(TCtx *tc, TensorOp op, ObjTensor *x, int ndim, const int64_t *ints) {
  TAttrs a;
  memset(&a, 0, sizeof a);
  a.nints = ndim;
  memcpy(a.ints, ints, sizeof(int64_t) * (size_t)ndim);
  return ap1(tc, op, x, &a);
}

static ObjTensor *reshape(TCtx *tc, ObjTensor *x, int ndim, const int64_t *shape) {
  if (x == NULL) return NULL;
  if (same_shape(x->ndim, x->shape, ndim, shape)) return x;
  return shape_op(tc, TOP_RESHAPE, x, ndim, shape);
}

static ObjTensor *cast(TCtx *tc, ObjTensor *x, DType dt) {
  if (x == NULL || x->dtype == dt) return x;
  TAttrs a;
  memset(&a, 0, sizeof a);
  a.dtype = dt;
  return ap1(tc, TOP_CAST, x, &a);
}

/* Contiguous f64 copy (or x itself), for the rules written as loops. */
static ObjTensor *f64c(TCtx *tc, ObjTensor *x) { return x ? tensor_to(tc, x, DT_F64) : NULL; }

/* Swap the last two axes (a view). */
static ObjTensor *transpose_last(TCtx *tc, ObjTensor *x) {
  if (x == NULL) return NULL;
  int64_t perm[NS_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) perm[i] = i;
  perm[x->ndim - 2] = x->ndim - 1;
  perm[x->ndim - 1] = x->ndim - 2;
  return shape_op(tc, TOP_PERMUTE, x, x->ndim, perm);
}

static uint32_t all_axes(int ndim) { return ndim >= 32 ? 0xffffffffu : (1u << ndim) - 1; }

static int norm_axis(int axis, int ndim) { return axis < 0 ? axis + ndim : axis; }

/* Sum a gradient of the broadcast shape back to an input's shape: sum over
 * the leading axes the input lacks and over the axes where it has size 1.
 *   g [.., d0, .., dk]  ->  [shape] */
static ObjTensor *unbroadcast(TCtx *tc, ObjTensor *g, int ndim, const int64_t *shape) {
  if (g == NULL) return NULL;
  if (same_shape(g->ndim, g->shape, ndim, shape)) return g;
  int lead = g->ndim - ndim;
  if (lead < 0) {
    char b1[96], b2[96];
    tensor_error(tc, "backward: gradient of shape %s cannot reduce to shape %s",
             tensor_shape_str(g, b1, sizeof b1), tensor_dims_str(ndim, shape, b2, sizeof b2));
    return NULL;
  }
  uint32_t mask = 0;
  for (int i = 0; i < lead; i++) mask |= 1u << i;
  for (int i = 0; i < ndim; i++)
    if (shape[i] == 1 && g->shape[lead + i] != 1) mask |= 1u << (lead + i);
  ObjTensor *r = mask ? reduce(tc, TOP_SUM, g, mask, true) : g;
  return reshape(tc, r, ndim, shape);
}

static ObjTensor *unb(TCtx *tc, ObjTensor *g, const ObjTensor *like) {
  return unbroadcast(tc, g, like->ndim, like->shape);
}

/* The shape of x with the reduced axes kept as 1: where a reduction's
 * gradient lines up with x. */
static void kept_shape(const ObjTensor *x, uint32_t axes, int64_t *ks) {
  if (axes == 0) axes = all_axes(x->ndim);
  for (int i = 0; i < x->ndim; i++) ks[i] = (axes >> i) & 1 ? 1 : x->shape[i];
}

static int64_t reduced_count(const ObjTensor *x, uint32_t axes) {
  if (axes == 0) axes = all_axes(x->ndim);
  int64_t c = 1;
  for (int i = 0; i < x->ndim; i++)
    if ((axes >> i) & 1) c *= x->shape[i];
  return c;
}

/* True unless a wanted gradient is missing (an op failed: vm_error set). */
static bool done(const GradNode *n, ObjTensor **gin) {
  for (int i = 0; i < n->ninputs; i++)
    if (wants(n, i) && gin[i] == NULL) return false;
  return true;
}

#define X (node->inputs[0])
#define Y (node->inputs[1])

/* ---- elementwise, broadcasting ---- */

bool tb_ADD(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = unb(tc, g, X);
  if (wants(node, 1)) gin[1] = unb(tc, g, Y);
  return done(node, gin);
}

bool tb_SUB(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = unb(tc, g, X);
  if (wants(node, 1)) gin[1] = unb(tc, NEG(g), Y);
  return done(node, gin);
}

bool tb_MUL(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = unb(tc, MUL(g, Y), X);
  if (wants(node, 1)) gin[1] = unb(tc, MUL(g, X), Y);
  return done(node, gin);
}

/* d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 */
bool tb_DIV(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = unb(tc, DIV(g, Y), X);
  if (wants(node, 1)) gin[1] = unb(tc, NEG(DIV(MUL(g, X), MUL(Y, Y))), Y);
  return done(node, gin);
}

/* d(a**b)/da = b a**(b-1); d(a**b)/db = a**b log a, taken as 0 where a = 0
 * (the limit for b > 0, and PyTorch's choice). */
bool tb_POW(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *a = X, *b = Y;
  if (wants(node, 0)) {
    ObjTensor *bm1 = SUB(b, num(tc, b->dtype, 1));
    gin[0] = unb(tc, MUL(g, MUL(b, ap2(tc, TOP_POW, a, bm1))), a);
  }
  if (wants(node, 1)) {
    ObjTensor *d = MUL(ap2(tc, TOP_POW, a, b), UN(LOG, a));
    ObjTensor *zero = num(tc, g->dtype, 0);
    d = where3(tc, ap2(tc, TOP_EQ, a, num(tc, a->dtype, 0)), zero, d);
    gin[1] = unb(tc, MUL(g, d), b);
  }
  return done(node, gin);
}

/* Weight of operand a in maximum(a, b) (cmp = GT) or minimum (cmp = LT):
 * 1 where it wins, 1/2 on a tie, 0 where it loses. */
static bool extreme2(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin, TensorOp cmp) {
  DType dt = g->dtype;
  ObjTensor *tie = where3(tc, ap2(tc, TOP_EQ, X, Y), num(tc, dt, 0.5), num(tc, dt, 0));
  ObjTensor *wa = where3(tc, ap2(tc, cmp, X, Y), num(tc, dt, 1), tie);
  if (wants(node, 0)) gin[0] = unb(tc, MUL(g, wa), X);
  if (wants(node, 1)) gin[1] = unb(tc, MUL(g, SUB(num(tc, dt, 1), wa)), Y);
  return done(node, gin);
}

bool tb_MAXIMUM(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return extreme2(tc, node, g, gin, TOP_GT);
}

bool tb_MINIMUM(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return extreme2(tc, node, g, gin, TOP_LT);
}

/* where(cond, a, b): the gradient flows to a where cond holds, to b
 * elsewhere; cond (bool) has none. */
bool tb_WHERE(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *cond = node->inputs[0], *zero = num(tc, g->dtype, 0);
  if (wants(node, 1)) gin[1] = unb(tc, where3(tc, cond, g, zero), node->inputs[1]);
  if (wants(node, 2)) gin[2] = unb(tc, where3(tc, cond, zero, g), node->inputs[2]);
  return done(node, gin);
}

/* ---- elementwise, unary: gin[0] = g * f'(x) ---- */

#define UNARY_RULE(NAME, EXPR)                                                                     \
  bool tb_##NAME(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {                         \
    ObjTensor *x = X;                                                                              \
    DType dt = x->dtype;                                                                           \
    (void)dt;                                                                                      \
    if (wants(node, 0)) gin[0] = (EXPR);                                                           \
    return done(node, gin);                                                                        \
  }

UNARY_RULE(NEG, NEG(g))
/* sign(x), 0 at 0 */
UNARY_RULE(ABS, MUL(g, where3(tc, ap2(tc, TOP_GT, x, num(tc, dt, 0)), num(tc, g->dtype, 1),
                              where3(tc, ap2(tc, TOP_LT, x, num(tc, dt, 0)),
                                     num(tc, g->dtype, -1), num(tc, g->dtype, 0)))))
UNARY_RULE(EXP, MUL(g, UN(EXP, x)))
UNARY_RULE(LOG, DIV(g, x))
/* 1 / (2 sqrt x) */
UNARY_RULE(SQRT, DIV(MUL(g, num(tc, g->dtype, 0.5)), UN(SQRT, x)))
UNARY_RULE(SIN, MUL(g, UN(COS, x)))
UNARY_RULE(COS, NEG(MUL(g, UN(SIN, x))))

/* 1 - tanh(x)^2 */
bool tb_TANH(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *t = UN(TANH, X);
  if (wants(node, 0)) gin[0] = MUL(g, SUB(num(tc, X->dtype, 1), MUL(t, t)));
  return done(node, gin);
}

/* s (1 - s) */
bool tb_SIGMOID(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *s = UN(SIGMOID, X);
  if (wants(node, 0)) gin[0] = MUL(g, MUL(s, SUB(num(tc, X->dtype, 1), s)));
  return done(node, gin);
}

/* 1 where x > 0 (0 at 0, as PyTorch) */
UNARY_RULE(RELU, where3(tc, ap2(tc, TOP_GT, x, num(tc, dt, 0)), g, num(tc, g->dtype, 0)))

/* gelu(x) = x/2 (1 + tanh u), u = c (x + k x^3), c = sqrt(2/pi), k = 0.044715:
 * gelu'(x) = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3k x^2), t = tanh u */
bool tb_GELU(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  const double c = 0.7978845608028654, k = 0.044715;
  ObjTensor *x = X;
  DType dt = x->dtype;
  ObjTensor *x2 = MUL(x, x);
  ObjTensor *u = MUL(num(tc, dt, c), ADD(x, MUL(num(tc, dt, k), MUL(x, x2))));
  ObjTensor *t = UN(TANH, u);
  ObjTensor *half = num(tc, dt, 0.5), *one = num(tc, dt, 1);
  ObjTensor *du = MUL(num(tc, dt, c), ADD(one, MUL(num(tc, dt, 3 * k), x2)));
  ObjTensor *d = ADD(MUL(half, ADD(one, t)), MUL(MUL(half, x), MUL(SUB(one, MUL(t, t)), du)));
  if (wants(node, 0)) gin[0] = MUL(g, d);
  return done(node, gin);
}

/* silu(x) = x s(x): s (1 + x (1 - s)) */
bool tb_SILU(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *x = X, *s = UN(SIGMOID, x), *one = num(tc, x->dtype, 1);
  if (wants(node, 0)) gin[0] = MUL(g, MUL(s, ADD(one, MUL(x, SUB(one, s)))));
  return done(node, gin);
}

/* 1 where x > 0, slope elsewhere */
UNARY_RULE(LEAKY_RELU, where3(tc, ap2(tc, TOP_GT, x, num(tc, dt, 0)), g,
                              MUL(g, num(tc, g->dtype, node->attrs.scalar[0]))))

/* 1 inside [lo, hi] (bounds included, as PyTorch), 0 outside; a NaN bound
 * is absent. */
bool tb_CLAMP(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *x = X, *r = g, *zero = num(tc, g->dtype, 0);
  double lo = node->attrs.scalar[0], hi = node->attrs.scalar[1];
  if (!isnan(lo)) r = where3(tc, ap2(tc, TOP_LT, x, num(tc, x->dtype, lo)), zero, r);
  if (!isnan(hi)) r = where3(tc, ap2(tc, TOP_GT, x, num(tc, x->dtype, hi)), zero, r);
  if (wants(node, 0)) gin[0] = r;
  return done(node, gin);
}

UNARY_RULE(CAST, cast(tc, g, dt))

/* ---- reductions ---- */

/* g (reduced shape) broadcast back over x: [.., 1, ..] then expand. */
static ObjTensor *spread(TCtx *tc, ObjTensor *g, const ObjTensor *x, uint32_t axes) {
  int64_t ks[NS_MAX_DIMS];
  kept_shape(x, axes, ks);
  ObjTensor *k = reshape(tc, g, x->ndim, ks);
  if (k == NULL || same_shape(k->ndim, k->shape, x->ndim, x->shape)) return k;
  return shape_op(tc, TOP_EXPAND, k, x->ndim, x->shape);
}

bool tb_SUM(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = spread(tc, g, X, node->attrs.axes);
  return done(node, gin);
}

bool tb_MEAN(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  double inv = 1.0 / (double)reduced_count(X, node->attrs.axes);
  if (wants(node, 0)) gin[0] = spread(tc, MUL(g, num(tc, g->dtype, inv)), X, node->attrs.axes);
  return done(node, gin);
}

/* The gradient goes to the positions equal to the extreme, split evenly. */
static bool extreme_reduce(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *x = X;
  uint32_t axes = node->attrs.axes;
  ObjTensor *m = reduce(tc, node->op, x, axes, true);
  ObjTensor *mask = cast(tc, ap2(tc, TOP_EQ, x, m), g->dtype);
  ObjTensor *w = DIV(mask, reduce(tc, TOP_SUM, mask, axes ? axes : all_axes(x->ndim), true));
  int64_t ks[NS_MAX_DIMS];
  kept_shape(x, axes, ks);
  if (wants(node, 0)) gin[0] = MUL(reshape(tc, g, x->ndim, ks), w);
  return done(node, gin);
}

bool tb_MAX(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return extreme_reduce(tc, node, g, gin);
}

bool tb_MIN(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return extreme_reduce(tc, node, g, gin);
}

/* y = softmax(x): gx = y (g - sum(g y)) along the axis */
bool tb_SOFTMAX(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  uint32_t ax = 1u << norm_axis(node->attrs.axis, X->ndim);
  ObjTensor *y = ap1(tc, TOP_SOFTMAX, X, &node->attrs);
  ObjTensor *gy = MUL(g, y);
  if (wants(node, 0)) gin[0] = MUL(y, SUB(g, reduce(tc, TOP_SUM, gy, ax, true)));
  return done(node, gin);
}

/* y = log_softmax(x): gx = g - exp(y) sum(g) along the axis */
bool tb_LOG_SOFTMAX(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  uint32_t ax = 1u << norm_axis(node->attrs.axis, X->ndim);
  ObjTensor *p = UN(EXP, ap1(tc, TOP_LOG_SOFTMAX, X, &node->attrs));
  if (wants(node, 0)) gin[0] = SUB(g, MUL(p, reduce(tc, TOP_SUM, g, ax, true)));
  return done(node, gin);
}

/* ---- linear algebra ----
 * a [.., m, k] @ b [.., k, n] = c [.., m, n]:
 *   da = g @ b^T (summed over a's broadcast batch dims), db = a^T @ g.
 * A 1-D a is [1, k] and a 1-D b is [k, 1], with that axis dropped from c;
 * g gets it back before the products. */
bool tb_MATMUL(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *a = X, *b = Y;
  bool a1 = a->ndim == 1, b1 = b->ndim == 1;
  ObjTensor *a2 = a1 ? reshape(tc, a, 2, (int64_t[]){1, a->shape[0]}) : a;
  ObjTensor *b2 = b1 ? reshape(tc, b, 2, (int64_t[]){b->shape[0], 1}) : b;
  int64_t s[NS_MAX_DIMS];
  int gn = g->ndim;
  memcpy(s, g->shape, sizeof(int64_t) * (size_t)gn);
  if (a1 && b1) {
    s[0] = 1, s[1] = 1, gn = 2;
  } else if (a1) {
    s[gn - 1] = 1;
    s[gn++] = g->shape[g->ndim - 1];
  } else if (b1) {
    s[gn++] = 1;
  }
  ObjTensor *g2 = reshape(tc, g, gn, s);
  if (a2 == NULL || b2 == NULL || g2 == NULL) return false;
  if (wants(node, 0)) {
    ObjTensor *da = unb(tc, ap2(tc, TOP_MATMUL, g2, transpose_last(tc, b2)), a2);
    gin[0] = reshape(tc, da, a->ndim, a->shape);
  }
  if (wants(node, 1)) {
    ObjTensor *db;
    if (a2->ndim == 2 && b2->ndim == 2 && b2->shape[0] > 1 && b2->strides[0] == 1 &&
        b2->strides[1] == b2->shape[0]) {
      /* b is the transpose of a contiguous matrix (x ⊙ w.T in Linear):
       * compute (gᵀ·a)ᵀ, so that the gradient reaching w through the
       * transpose's rule is contiguous and needs no transposing copy. */
      db = transpose_last(tc, ap2(tc, TOP_MATMUL, transpose_last(tc, g2), a2));
    } else {
      db = unb(tc, ap2(tc, TOP_MATMUL, transpose_last(tc, a2), g2), b2);
    }
    gin[1] = reshape(tc, db, b->ndim, b->shape);
  }
  return done(node, gin);
}

/* ---- shape ---- */

bool tb_RESHAPE(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = reshape(tc, g, X->ndim, X->shape);
  return done(node, gin);
}

/* permute by the inverse permutation */
bool tb_PERMUTE(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  int64_t inv[NS_MAX_DIMS];
  int nd = X->ndim;
  for (int i = 0; i < nd; i++) inv[norm_axis((int)node->attrs.ints[i], nd)] = i;
  if (wants(node, 0)) gin[0] = shape_op(tc, TOP_PERMUTE, g, nd, inv);
  return done(node, gin);
}

bool tb_EXPAND(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (wants(node, 0)) gin[0] = unb(tc, g, X);
  return done(node, gin);
}

bool tb_CONTIGUOUS(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  (void)tc;
  if (wants(node, 0)) gin[0] = g;
  return done(node, gin);
}

/* Positions start, start+1, ... in the shape of `like` (f64: exact up to
 * 2^53 elements). */
static ObjTensor *positions(TCtx *tc, const ObjTensor *like, double start) {
  ObjTensor *t = tensor_new(tc, DT_F64, like->ndim, like->shape);
  if (t == NULL) return NULL;
  double *d = tensor_data(t);
  for (int64_t i = 0; i < t->numel; i++) d[i] = start + (double)i;
  return t;
}

/* out[pos[j]] += src[j] into a flat zero tensor of `total` elements:
 * the adjoint of a selection. pos and src have the same shape. */
static ObjTensor *scatter_add(TCtx *tc, ObjTensor *pos, ObjTensor *src, int64_t total) {
  ObjTensor *p = f64c(tc, pos), *s = f64c(tc, src);
  if (p == NULL || s == NULL) return NULL;
  ObjTensor *out = tensor_zeros(tc, DT_F64, 1, &total);
  if (out == NULL) return NULL;
  const double *pd = tensor_data(p), *sd = tensor_data(s);
  double *od = tensor_data(out);
  for (int64_t j = 0; j < p->numel; j++) {
    int64_t k = (int64_t)pd[j];
    if (k >= 0 && k < total) od[k] += sd[j];
  }
  return out;
}

/* Gradient of input 0 of a selection op whose other inputs are indices. */
static bool select_rule(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (!wants(node, 0)) return true;
  ObjTensor *in[GRAD_MAX_INPUTS];
  for (int i = 0; i < node->ninputs; i++) in[i] = node->inputs[i];
  in[0] = positions(tc, X, 0);
  ObjTensor *pos = apply_n(tc, node->op, in, node->ninputs, &node->attrs);
  ObjTensor *flat = scatter_add(tc, pos, g, X->numel);
  gin[0] = cast(tc, reshape(tc, flat, X->ndim, X->shape), X->dtype);
  return done(node, gin);
}

bool tb_SLICE(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return select_rule(tc, node, g, gin);
}

bool tb_INDEX_SELECT(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return select_rule(tc, node, g, gin);
}

bool tb_GATHER(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return select_rule(tc, node, g, gin);
}

/* out = x with out.flat[pos] = v: x's gradient is g with the overwritten
 * positions zeroed, v's is g at those positions (shaped like pos), summed
 * back to v's shape. pos (input 1) has none. */
bool tb_INDEX_PUT(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *x = X, *pos = Y, *v = node->inputs[2];
  if (wants(node, 0)) {
    ObjTensor *gx = tensor_new(tc, g->dtype, g->ndim, g->shape);
    if (gx == NULL) return false;
    tensor_copy_into(gx, g);
    if (!tensor_index_put(tc, gx, pos, num(tc, g->dtype, 0))) return false;
    gin[0] = cast(tc, gx, x->dtype);
  }
  if (wants(node, 2)) {
    TAttrs a;
    memset(&a, 0, sizeof a);
    int64_t all = -1;
    ObjTensor *in[2] = {reshape(tc, g, 1, &all), pos};
    ObjTensor *gv = apply_n(tc, TOP_INDEX_SELECT, in, 2, &a);
    gin[2] = cast(tc, unb(tc, gv, v), v->dtype);
  }
  return done(node, gin);
}

/* cat/stack: input i owns positions [off_i, off_i + numel_i) of one flat
 * buffer; each gradient is a view of its range. */
static bool join_rule(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *in[GRAD_MAX_INPUTS];
  int64_t off = 0;
  for (int i = 0; i < node->ninputs; i++) {
    in[i] = positions(tc, node->inputs[i], (double)off);
    off += node->inputs[i]->numel;
  }
  ObjTensor *flat = scatter_add(tc, apply_n(tc, node->op, in, node->ninputs, &node->attrs), g, off);
  if (flat == NULL) return false;
  off = 0;
  for (int i = 0; i < node->ninputs; i++) {
    ObjTensor *x = node->inputs[i];
    if (wants(node, i)) {
      int64_t st[NS_MAX_DIMS];
      tensor_contig_strides(x->ndim, x->shape, st);
      gin[i] = cast(tc, tensor_view(tc, flat, x->ndim, x->shape, st, off), x->dtype);
    }
    off += x->numel;
  }
  return done(node, gin);
}

bool tb_CAT(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return join_rule(tc, node, g, gin);
}

bool tb_STACK(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  return join_rule(tc, node, g, gin);
}

/* ---- nn ---- */

/* x [N, C, H, W], w [O, C, kh, kw], g [N, O, OH, OW]; per image, with
 * col = im2col(x) [C*kh*kw, OH*OW]:
 *   dw += g[n] [O, L] @ col^T,   dx[n] = col2im(w^T [K, O] @ g[n]).
 * Computed in f32 when everything is f32, else in f64, with the matmul op. */
bool tb_CONV2D(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  ObjTensor *x = X, *w = Y;
  int64_t sh, sw, ph, pw;
  tensor_conv_params(&node->attrs, &sh, &sw, &ph, &pw);
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t O = w->shape[0], kh = w->shape[2], kw = w->shape[3];
  int64_t OH = g->shape[2], OW = g->shape[3], K = C * kh * kw, L = OH * OW;
  bool f32 = x->dtype == DT_F32 && w->dtype == DT_F32 && g->dtype == DT_F32;
  DType dt = f32 ? DT_F32 : DT_F64;
  size_t es = tensor_dtype_sizes[dt];
  ObjTensor *xc = tensor_to(tc, x, dt), *wc = tensor_to(tc, w, dt), *gc = tensor_to(tc, g, dt);
  if (xc == NULL || wc == NULL || gc == NULL) return false;
  ObjTensor *g3 = reshape(tc, gc, 3, (int64_t[]){N, O, L});
  if (wants(node, 1)) {
    ObjTensor *cols = tensor_new(tc, dt, 3, (int64_t[]){N, K, L});
    if (cols == NULL) return false;
    for (int64_t n = 0; n < N; n++) {
      const char *xs = (const char *)tensor_data(xc) + (size_t)(n * C * H * W) * es;
      char *cs = (char *)tensor_data(cols) + (size_t)(n * K * L) * es;
      if (f32)
        tensor_im2col_f32((const float *)xs, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, (float *)cs);
      else
        tensor_im2col_f64((const double *)xs, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, (double *)cs);
    }
    ObjTensor *dw = reduce(tc, TOP_SUM, ap2(tc, TOP_MATMUL, g3, transpose_last(tc, cols)), 1u, false);
    gin[1] = cast(tc, reshape(tc, dw, 4, w->shape), w->dtype);
  }
  if (wants(node, 0)) {
    ObjTensor *wt = transpose_last(tc, reshape(tc, wc, 2, (int64_t[]){O, K}));
    ObjTensor *prod = ap2(tc, TOP_MATMUL, wt, g3);
    ObjTensor *dcols = prod ? tensor_to(tc, prod, dt) : NULL;
    ObjTensor *dx = dcols ? tensor_zeros(tc, dt, 4, x->shape) : NULL;
    if (dx == NULL) return false;
    for (int64_t n = 0; n < N; n++) {
      const char *cs = (const char *)tensor_data(dcols) + (size_t)(n * K * L) * es;
      char *xs = (char *)tensor_data(dx) + (size_t)(n * C * H * W) * es;
      if (f32)
        tensor_col2im_f32((const float *)cs, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, (float *)xs);
      else
        tensor_col2im_f64((const double *)cs, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, (double *)xs);
    }
    gin[0] = cast(tc, dx, x->dtype);
  }
  return done(node, gin);
}

/* x [N, C, H, W], g [N, C, OH, OW], saved[0] = i64 [N, C, OH, OW] flat
 * index (h * W + w) of each window's maximum within its plane. */
bool tb_MAXPOOL2D(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (!wants(node, 0)) return true;
  ObjTensor *x = X, *arg = node->saved[0];
  if (arg == NULL) return tensor_error(tc, "backward: maxpool2d has no saved argmax");
  ObjTensor *ac = tensor_to(tc, arg, DT_I64), *gc = f64c(tc, g);
  if (ac == NULL || gc == NULL) return false;
  int64_t planes = x->shape[0] * x->shape[1], HW = x->shape[2] * x->shape[3];
  int64_t L = g->shape[2] * g->shape[3];
  ObjTensor *dx = tensor_zeros(tc, DT_F64, x->ndim, x->shape);
  if (dx == NULL) return false;
  const int64_t *ad = tensor_data(ac);
  const double *gd = tensor_data(gc);
  double *dd = tensor_data(dx);
  for (int64_t p = 0; p < planes; p++)
    for (int64_t j = 0; j < L; j++) {
      int64_t k = ad[p * L + j];
      if (k >= 0 && k < HW) dd[p * HW + k] += gd[p * L + j];
    }
  gin[0] = cast(tc, dx, x->dtype);
  return done(node, gin);
}

/* saved[0] = mask with values 0 or 1/(1-p): gx = g * mask */
bool tb_DROPOUT(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (!wants(node, 0)) return true;
  if (node->saved[0] == NULL) {
    if (node->attrs.scalar[0] == 0) {
      gin[0] = g;
      return true;
    }
    return tensor_error(tc, "backward: dropout has no saved mask");
  }
  gin[0] = MUL(g, node->saved[0]);
  return done(node, gin);
}

/* logits [N, C], labels [N] -> mean loss: d/dlogits = g (p - onehot) / N,
 * p = softmax(logits) (saved by the forward kernel, else recomputed). */
bool tb_CROSS_ENTROPY(TCtx *tc, GradNode *node, ObjTensor *g, ObjTensor **gin) {
  if (!wants(node, 0)) return true;
  ObjTensor *x = X, *labels = Y, *p = node->saved[0];
  if (p == NULL) {
    TAttrs a;
    memset(&a, 0, sizeof a);
    a.axis = 1;
    p = ap1(tc, TOP_SOFTMAX, x, &a);
  }
  ObjTensor *d = p ? tensor_new(tc, DT_F64, 2, x->shape) : NULL;
  ObjTensor *lc = tensor_to(tc, labels, DT_I64);
  if (d == NULL || lc == NULL) return false;
  tensor_copy_into(d, p);
  int64_t N = x->shape[0], C = x->shape[1];
  const int64_t *ld = tensor_data(lc);
  double *dd = tensor_data(d);
  for (int64_t i = 0; i < N; i++)
    if (ld[i] >= 0 && ld[i] < C) dd[i * C + ld[i]] -= 1.0;
  ObjTensor *scale = MUL(cast(tc, g, DT_F64), num(tc, DT_F64, N > 0 ? 1.0 / (double)N : 0));
  gin[0] = cast(tc, MUL(d, scale), x->dtype);
  return done(node, gin);
}

/* ---- backward() ---- */

/* Node -> position in the topological order (-1 while being visited);
 * open addressing over pointers. */
typedef struct {
  GradNode **keys;
  int32_t *vals;
  size_t cap;
} NodeMap;

static size_t ptr_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

static int32_t *map_slot(NodeMap *m, GradNode *n, bool insert) {
  size_t i = ptr_hash(n) & (m->cap - 1);
  while (m->keys[i] != NULL) {
    if (m->keys[i] == n) return &m->vals[i];
    i = (i + 1) & (m->cap - 1);
  }
  if (!insert) return NULL;
  m->keys[i] = n;
  return &m->vals[i];
}

static void map_grow(TCtx *tc, NodeMap *m) {
  NodeMap old = *m;
  m->cap = old.cap ? old.cap * 2 : 64;
  m->keys = ALLOCATE(tc->vm, GradNode *, m->cap);
  m->vals = ALLOCATE(tc->vm, int32_t, m->cap);
  memset(m->keys, 0, sizeof(GradNode *) * m->cap);
  for (size_t i = 0; i < old.cap; i++)
    if (old.keys[i] != NULL) *map_slot(m, old.keys[i], true) = old.vals[i];
  if (old.cap) {
    FREE_ARRAY(tc->vm, GradNode *, old.keys, old.cap);
    FREE_ARRAY(tc->vm, int32_t, old.vals, old.cap);
  }
}

typedef struct {
  GradNode *node;
  int next; /* next input to visit */
} DfsFrame;

static bool freed_error(TCtx *tc, const GradNode *n) {
  return tensor_error(tc,
                  "backward through the graph a second time: `%s` was freed by an earlier backward() "
                  "(pass retain_graph: true to that call to keep the graph)",
                  tensor_ops[n->op].name);
}

/* Post-order of the graph below root (inputs before the ops that use them),
 * without recursion. Returns the node count (*order is allocated), or -1
 * after vm_error when the walk reaches a node an earlier backward() freed. */
static int32_t topo_order(TCtx *tc, GradNode *root, NodeMap *m, GradNode ***order, size_t *ordercap) {
  size_t cap = 64, capstack = 64, sp = 0, nvisited = 1;
  int32_t count = 0;
  GradNode **out = ALLOCATE(tc->vm, GradNode *, cap);
  DfsFrame *stack = ALLOCATE(tc->vm, DfsFrame, capstack);
  map_grow(tc, m);
  *map_slot(m, root, true) = -1;
  stack[sp++] = (DfsFrame){root, 0};
  if (root->released) {
    freed_error(tc, root);
    count = -1;
    sp = 0;
  }
  while (sp > 0) {
    DfsFrame *f = &stack[sp - 1];
    if (f->next < f->node->ninputs) {
      GradNode *in = f->node->next[f->next++];
      if (in == NULL || map_slot(m, in, false) != NULL) continue;
      if (in->released) {
        freed_error(tc, in);
        count = -1;
        break;
      }
      if ((nvisited + 1) * 2 > m->cap) map_grow(tc, m);
      *map_slot(m, in, true) = -1;
      nvisited++;
      if (sp == capstack) {
        stack = vm_realloc(tc->vm, stack, sizeof(DfsFrame) * capstack, sizeof(DfsFrame) * capstack * 2);
        capstack *= 2;
      }
      stack[sp++] = (DfsFrame){in, 0};
    } else {
      GradNode *n = f->node;
      sp--;
      if ((size_t)count == cap) {
        out = vm_realloc(tc->vm, out, sizeof(GradNode *) * cap, sizeof(GradNode *) * cap * 2);
        cap *= 2;
      }
      *map_slot(m, n, false) = count;
      out[count++] = n;
    }
  }
  FREE_ARRAY(tc->vm, DfsFrame, stack, capstack);
  *order = out;
  *ordercap = cap;
  return count;
}

/* Every input a node's rule reads must still hold the values it had when
 * the op ran. */
static bool check_versions(TCtx *tc, GradNode **order, int32_t count) {
  for (int32_t i = 0; i < count; i++) {
    const GradNode *n = order[i];
    uint8_t reads = tensor_ops[n->op].reads;
    for (int j = 0; j < n->ninputs; j++) {
      const ObjTensor *in = n->inputs[j];
      if (in == NULL || !((reads >> j) & 1) || in->storage->version == n->versions[j]) continue;
      return tensor_error(tc,
                      "a tensor needed by the backward of `%s` was modified in place (version %llu, saved at "
                      "version %llu)",
                      tensor_ops[n->op].name, (unsigned long long)in->storage->version,
                      (unsigned long long)n->versions[j]);
    }
  }
  return true;
}

/* Drop what the nodes hold (see GradNode): their memory goes with the next
 * collection, and a later backward() through them is an error. */
static void release_graph(GradNode **order, int32_t count) {
  for (int32_t i = 0; i < count; i++) {
    GradNode *n = order[i];
    n->released = true;
    n->ninputs = 0;
    n->wants = 0;
    memset(n->inputs, 0, sizeof n->inputs);
    memset(n->next, 0, sizeof n->next);
    n->saved[0] = n->saved[1] = NULL;
  }
}

/* A contiguous tensor with storage of its own: what a leaf's .grad holds,
 * so that in-place updates of .grad never write into another tensor. */
static ObjTensor *fresh(TCtx *tc, ObjTensor *g) {
  if (!tensor_is_contiguous(g)) return tensor_contiguous(tc, g);
  ObjTensor *t = tensor_new(tc, g->dtype, g->ndim, g->shape);
  if (t != NULL) memcpy(tensor_data(t), tensor_data(g), (size_t)g->numel * tensor_dtype_sizes[g->dtype]);
  return t;
}

static bool accumulate_leaf(TCtx *tc, ObjTensor *leaf, ObjTensor *g) {
  ObjTensor *sum = leaf->grad ? ADD(leaf->grad, g) : fresh(tc, g);
  if (sum == NULL) return false;
  leaf->grad = sum;
  return true;
}

bool autograd_backward(TCtx *tc, ObjTensor *root, ObjTensor *gradient, bool retain_graph) {
  char b1[96], b2[96];
  if (!root->requires_grad && root->grad_fn == NULL)
    return tensor_error(tc, "backward: the tensor does not require grad and has no grad_fn");
  if (gradient == NULL && root->numel != 1)
    return tensor_error(tc,
                    "backward: grad can be implicitly created only for scalar outputs (loss has shape %s)",
                    tensor_shape_str(root, b1, sizeof b1));
  if (gradient != NULL && !same_shape(gradient->ndim, gradient->shape, root->ndim, root->shape))
    return tensor_error(tc, "backward: gradient has shape %s but the tensor has shape %s",
                    tensor_shape_str(gradient, b1, sizeof b1), tensor_shape_str(root, b2, sizeof b2));

  /* The collector runs only at interpreter safe points, never while this
   * (called from a native or from C) is on the stack, so the raw pointers
   * of the side tables stay valid; nothing here calls back into the VM. */
  int saved_mode = tc->grad_enabled;
  tc->grad_enabled = 0;
  bool ok = false;
  NodeMap m = {0};
  GradNode **order = NULL;
  size_t ordercap = 0;
  ObjTensor **grads = NULL;
  int32_t count = 0;

  ObjTensor *g0 = gradient ? cast(tc, gradient, root->dtype)
                           : reshape(tc, num(tc, root->dtype, 1), root->ndim, root->shape);
  if (g0 == NULL) goto out;
  if (root->grad_fn == NULL) {
    ok = accumulate_leaf(tc, root, g0);
    goto out;
  }
  count = topo_order(tc, root->grad_fn, &m, &order, &ordercap);
  if (count < 0 || !check_versions(tc, order, count)) {
    count = 0;
    goto out;
  }
  grads = ALLOCATE(tc->vm, ObjTensor *, (size_t)count);
  memset(grads, 0, sizeof(ObjTensor *) * (size_t)count);
  grads[count - 1] = g0;
  for (int32_t i = count - 1; i >= 0; i--) {
    GradNode *node = order[i];
    ObjTensor *g = grads[i];
    if (g == NULL) continue;
    grads[i] = NULL;
    const TensorOpInfo *info = &tensor_ops[node->op];
    if (info->backward == NULL) {
      tensor_error(tc, "backward: %s is not differentiable", info->name);
      goto out;
    }
    if (!same_shape(g->ndim, g->shape, node->out_ndim, node->out_shape)) {
      tensor_error(tc, "backward of %s: gradient has shape %s, the output has shape %s", info->name,
               tensor_shape_str(g, b1, sizeof b1), tensor_dims_str(node->out_ndim, node->out_shape, b2, sizeof b2));
      goto out;
    }
    ObjTensor *gin[GRAD_MAX_INPUTS] = {0};
    /* The ops a rule runs are not checked one by one: an anomaly is
     * reported against the rule (its op's name) below. */
    bool anomaly = tc->detect_anomaly;
    tc->detect_anomaly = false;
    bool done_ok = info->backward(tc, node, g, gin);
    tc->detect_anomaly = anomaly;
    if (!done_ok) goto out;
    for (int j = 0; j < node->ninputs; j++) {
      ObjTensor *in = node->inputs[j], *gj = gin[j];
      if (gj == NULL || in == NULL) continue;
      const char *what;
      if (anomaly && tensor_has_nonfinite(gj, &what)) {
        tensor_error(tc, "anomaly: backward of `%s` produced %s in the gradient of input %d (shape %s)", info->name,
                 what, j + 1, tensor_shape_str(in, b1, sizeof b1));
        goto out;
      }
      if (!same_shape(gj->ndim, gj->shape, in->ndim, in->shape)) {
        tensor_error(tc, "backward of %s: gradient of input %d has shape %s, the input has shape %s", info->name,
                 j + 1, tensor_shape_str(gj, b1, sizeof b1), tensor_shape_str(in, b2, sizeof b2));
        goto out;
      }
      if ((gj = cast(tc, gj, in->dtype)) == NULL) goto out;
      if (node->next[j] != NULL) {
        int32_t k = *map_slot(&m, node->next[j], false);
        grads[k] = grads[k] ? ADD(grads[k], gj) : gj;
        if (grads[k] == NULL) goto out;
      } else if (wants(node, j)) {
        if (!accumulate_leaf(tc, in, gj)) goto out;
      }
    }
  }
  if (!retain_graph) release_graph(order, count);
  ok = true;
out:
  tc->grad_enabled = saved_mode;
  if (grads) FREE_ARRAY(tc->vm, ObjTensor *, grads, (size_t)count);
  if (order) FREE_ARRAY(tc->vm, GradNode *, order, ordercap);
  if (m.cap) {
    FREE_ARRAY(tc->vm, GradNode *, m.keys, m.cap);
    FREE_ARRAY(tc->vm, int32_t, m.vals, m.cap);
  }
  return ok;
}
