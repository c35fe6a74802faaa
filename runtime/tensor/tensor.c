/* Tensor objects, views, conversions, the op table and tensor_apply().
 *
 * Shapes and strides are in elements; a tensor is contiguous when its
 * strides are the row-major ones of its shape (size-1 dims may have any
 * stride). Kernels walk operands with tloop_run(), which merges dims that
 * are contiguous across every operand, so a same-shape contiguous op is a
 * single call of its inner loop over numel elements. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_graph.h"
#include "tensor_int.h"
#include "threadpool.h"

const char *const tensor_dtype_names[DT__COUNT] = {"f32", "f64", "i64", "bool"};
const size_t tensor_dtype_sizes[DT__COUNT] = {4, 8, 8, 1};


/* ---- the collector's view of tensors and graph nodes ---- */
static void tensor_blacken(VM *vm, Obj *o, void *ud) {
  (void)ud;
  ObjTensor *t = (ObjTensor *)o;
  gc_mark_object(vm, (Obj *)t->grad);
  gc_mark_object(vm, (Obj *)t->grad_fn);
  if (t->frozen) tgraph_mark_frozen(vm, t->frozen);
}

/* Views share storage: only the last one returns it to the cache. */
static void tensor_free(VM *vm, Obj *o, void *tc) {
  ObjTensor *t = (ObjTensor *)o;
  if (t->frozen) tgraph_forget(tc, t);
  if (t->storage) tstorage_release(tc, t->storage);
  vm_realloc(vm, t, sizeof(ObjTensor), 0);
}

static void gradnode_blacken(VM *vm, Obj *o, void *ud) {
  (void)ud;
  GradNode *g = (GradNode *)o;
  for (int i = 0; i < g->ninputs; i++) gc_mark_object(vm, (Obj *)g->inputs[i]);
  for (int i = 0; i < g->ninputs; i++) gc_mark_object(vm, (Obj *)g->next[i]);
  gc_mark_object(vm, (Obj *)g->saved[0]);
  gc_mark_object(vm, (Obj *)g->saved[1]);
}

static void gradnode_free(VM *vm, Obj *o, void *ud) {
  (void)ud;
  vm_realloc(vm, o, sizeof(GradNode), 0);
}

static void mark_graph(VM *vm, void *tc) {
  (void)vm;
  tgraph_mark(tc);
}

static void after_collect(VM *vm, void *ud) {
  (void)vm, (void)ud;
  tensor_alloc_age();
}

/* ---- the context ---- */
TCtx *tensor_ctx_new(VM *vm, void (*account)(VM *vm, ptrdiff_t delta_bytes), int (*depth)(VM *vm)) {
  TCtx *tc = calloc(1, sizeof *tc);
  if (tc == NULL) return NULL;
  gc_register_type(vm, OBJ_TENSOR, &(GcTypeHooks){tensor_blacken, tensor_free, after_collect, tc, mark_graph});
  gc_register_type(vm, OBJ_GRADNODE, &(GcTypeHooks){gradnode_blacken, gradnode_free, NULL, tc, NULL});
  tc->vm = vm;
  tc->account = account;
  tc->depth = depth;
  tc->grad_enabled = 1;
  const char *jit = getenv("NS_JIT");
  tc->jit = !(jit && !strcmp(jit, "0"));
  const char *min = getenv("NS_JIT_MIN_ELEMENTS");
  char *end;
  long long m = min && *min ? strtoll(min, &end, 10) : -1;
  tc->jit_min = m >= 0 && !*end ? m : 1024;
  const char *wait = getenv("NS_JIT_WAIT");
  tc->jit_wait = wait && !strcmp(wait, "1");
  return tc;
}

void tensor_ctx_free(TCtx *tc) {
  tgraph_free(tc);
  free(tc);
}

bool tensor_error(TCtx *tc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  heap_verror(tc->vm, fmt, ap);
  va_end(ap);
  return false;
}

/* Names as shown in errors: the .def row names in lower case, filled in
 * once before main (a few hundred bytes). */
static char op_names[TOP__COUNT][24];

#define TB_0(name) NULL
#define TB_1(name) tb_##name
#define TOP(name, arity, fclass, diff, reads) \
  [TOP_##name] = {op_names[TOP_##name], arity, fclass, tk_##name, TB_##diff(name), reads},
const TensorOpInfo tensor_ops[TOP__COUNT] = {
#include "tensor_ops.def"
};
#undef TOP

__attribute__((constructor)) static void init_op_names(void) {
  static const char *const upper[TOP__COUNT] = {
#define TOP(name, arity, fclass, diff, reads) #name,
#include "tensor_ops.def"
#undef TOP
  };
  for (int i = 0; i < TOP__COUNT; i++) {
    size_t j = 0;
    for (; upper[i][j] && j + 1 < sizeof op_names[i]; j++)
      op_names[i][j] = (char)tolower((unsigned char)upper[i][j]);
    op_names[i][j] = '\0';
  }
}

/* ---- shapes ---- */

/* Every shape passes here before a tensor or a view of it exists, so the
 * kernels may multiply any of its dims (numel, strides, outer * inner
 * products) without overflow: the product of the non-zero dims fits in
 * int64 (a [0, 2^63-1] tensor is fine; [0, 2^62, 4] is not, its strides
 * would not be representable), and numel * itemsize stays within
 * TENSOR_MAX_BYTES. */
bool tensor_shape_check(TCtx *tc, int ndim, const int64_t *shape, DType dt, int64_t *numel) {
  char b[256];
  if (ndim < 0 || ndim > NS_MAX_DIMS)
    return tensor_error(tc, "a tensor has at most %d dimensions, got %d", NS_MAX_DIMS, ndim);
  int64_t nonzero = 1, bytes;
  bool empty = false, overflow = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return tensor_error(tc, "shape %s has a negative dimension", tensor_dims_str(ndim, shape, b, sizeof b));
    if (shape[i] == 0)
      empty = true;
    else
      overflow = overflow || __builtin_mul_overflow(nonzero, shape[i], &nonzero);
  }
  int64_t n = empty ? 0 : nonzero;
  if (overflow) return tensor_error(tc, "shape %s has too many elements", tensor_dims_str(ndim, shape, b, sizeof b));
  if (__builtin_mul_overflow(n, (int64_t)tensor_dtype_sizes[dt], &bytes) || bytes > TENSOR_MAX_BYTES)
    return tensor_error(tc, "shape %s has too many elements (more than %lld TiB of %s)",
                    tensor_dims_str(ndim, shape, b, sizeof b), (long long)(TENSOR_MAX_BYTES >> 40),
                    tensor_dtype_names[dt]);
  if (numel) *numel = n;
  return true;
}

/* Shapes that passed tensor_shape_check() never overflow here; an unchecked
 * one saturates at INT64_MAX rather than wrapping. */
int64_t tensor_shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (__builtin_mul_overflow(n, shape[i], &n)) return INT64_MAX;
  return n;
}

void tensor_contig_strides(int ndim, const int64_t *shape, int64_t *strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
}

const char *tensor_dims_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t used = 0;
  used += (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (used < n) snprintf(buf + used, n - used, "]");
  return buf;
}

const char *tensor_shape_str(const ObjTensor *t, char *buf, size_t n) {
  return tensor_dims_str(t->ndim, t->shape, buf, n);
}

DType tensor_promote(DType a, DType b) {
  static const int rank[DT__COUNT] = {[DT_BOOL] = 0, [DT_I64] = 1, [DT_F32] = 2, [DT_F64] = 3};
  return rank[a] >= rank[b] ? a : b;
}

bool tensor_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                            int64_t *out) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int64_t da = i < n - na ? 1 : a[i - (n - na)];
    int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
    if (da != db && da != 1 && db != 1) return false;
    out[i] = da == 1 ? db : da;
  }
  *nout = n;
  return true;
}

void tensor_broadcast_strides(const ObjTensor *t, int ndim, const int64_t *shape, int64_t *strides) {
  int lead = ndim - t->ndim;
  for (int i = 0; i < ndim; i++) {
    if (i < lead || (t->shape[i - lead] == 1 && shape[i] != 1))
      strides[i] = 0;
    else
      strides[i] = t->strides[i - lead];
  }
}

/* ---- the loop driver ---- */

/* The merged loop nest, split across the pool: by runs of the innermost
 * dim, or within the one run when there is only one. */
typedef struct {
  int nd, nops;
  int64_t shape[NS_MAX_DIMS], st[TLOOP_MAX_OPS][NS_MAX_DIMS];
  char *base[TLOOP_MAX_OPS];
  const size_t *esize;
  TInnerFn fn;
  void *ctx;
} Merged;

static void inner_range(int64_t lo, int64_t hi, void *arg) {
  const Merged *m = arg;
  char *p[TLOOP_MAX_OPS];
  int64_t inner[TLOOP_MAX_OPS];
  for (int k = 0; k < m->nops; k++) {
    inner[k] = m->st[k][m->nd - 1];
    p[k] = m->base[k] + lo * inner[k] * (int64_t)m->esize[k];
  }
  m->fn(hi - lo, p, inner, m->ctx);
}

/* Runs lo..hi of the outer dims (row-major order of dims 0..nd-2). */
static void outer_range(int64_t lo, int64_t hi, void *arg) {
  const Merged *m = arg;
  int nd = m->nd;
  int64_t idx[NS_MAX_DIMS] = {0}, inner[TLOOP_MAX_OPS], rest = lo;
  char *p[TLOOP_MAX_OPS];
  for (int d = nd - 2; d >= 0; d--) {
    idx[d] = rest % m->shape[d];
    rest /= m->shape[d];
  }
  for (int k = 0; k < m->nops; k++) {
    inner[k] = m->st[k][nd - 1];
    p[k] = m->base[k];
    for (int d = 0; d < nd - 1; d++) p[k] += idx[d] * m->st[k][d] * (int64_t)m->esize[k];
  }
  for (int64_t r = lo; r < hi; r++) {
    m->fn(m->shape[nd - 1], p, inner, m->ctx);
    for (int d = nd - 2; d >= 0; d--) {
      for (int k = 0; k < m->nops; k++) p[k] += m->st[k][d] * (int64_t)m->esize[k];
      if (++idx[d] < m->shape[d]) break;
      for (int k = 0; k < m->nops; k++) p[k] -= m->st[k][d] * m->shape[d] * (int64_t)m->esize[k];
      idx[d] = 0;
    }
  }
}

void tloop_run(TLoop *L, char **base, const size_t *esize, TInnerFn fn, void *ctx) {
  int nd = 0, nops = L->nops;
  int64_t shape[NS_MAX_DIMS] = {0}, st[TLOOP_MAX_OPS][NS_MAX_DIMS] = {{0}};
  for (int i = 0; i < L->ndim; i++) {
    if (L->shape[i] == 0) return;
    if (L->shape[i] == 1) continue;
    /* merge into the previous dim when every operand is contiguous across both */
    bool merge = nd > 0;
    for (int k = 0; k < nops && merge; k++) merge = st[k][nd - 1] == L->strides[k][i] * L->shape[i];
    if (merge) {
      shape[nd - 1] *= L->shape[i];
      for (int k = 0; k < nops; k++) st[k][nd - 1] = L->strides[k][i];
    } else {
      shape[nd] = L->shape[i];
      for (int k = 0; k < nops; k++) st[k][nd] = L->strides[k][i];
      nd++;
    }
  }
  if (nd == 0) {
    shape[0] = 1;
    for (int k = 0; k < nops; k++) st[k][0] = 0;
    nd = 1;
  }
  Merged m = {.nd = nd, .nops = nops, .esize = esize, .fn = fn, .ctx = ctx};
  memcpy(m.shape, shape, sizeof shape);
  memcpy(m.st, st, sizeof st);
  for (int k = 0; k < nops; k++) m.base[k] = base[k];
  int64_t outer = tensor_shape_numel(nd - 1, shape), n = shape[nd - 1];
  if (outer == 1) {
    /* one run: split it */
    pool_parallel_for(n, POOL_GRAIN, inner_range, &m);
  } else {
    int64_t grain = POOL_GRAIN / n;
    pool_parallel_for(outer, grain > 0 ? grain : 1, outer_range, &m);
  }
}

/* ---- objects ---- */

/* The header of a tensor of a checked shape (numel from the check). */
static ObjTensor *alloc_header(TCtx *tc, DType dt, int ndim, const int64_t *shape, int64_t numel) {
  ObjTensor *t = (ObjTensor *)obj_alloc(tc->vm, sizeof(ObjTensor), OBJ_TENSOR);
  t->dtype = dt;
  t->ndim = (uint8_t)ndim;
  t->requires_grad = false;
  memset(t->shape, 0, sizeof t->shape);
  memset(t->strides, 0, sizeof t->strides);
  if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
  t->numel = numel;
  t->offset = 0;
  t->storage = NULL;
  t->grad = NULL;
  t->grad_fn = NULL;
  t->graph_slot = -1;
  t->frozen = NULL;
  t->frozen_slot = -1;
  return t;
}

ObjTensor *tensor_new(TCtx *tc, DType dt, int ndim, const int64_t *shape) {
  int64_t numel;
  if (!tensor_shape_check(tc, ndim, shape, dt, &numel)) return tensor_raise(tc);
  size_t nbytes = (size_t)numel * tensor_dtype_sizes[dt];
  if (tc->max_bytes && nbytes > tc->max_bytes) {
    char b[256];
    tensor_error(tc, "shape %s needs %zu bytes, more than the tensor memory limit of %zu bytes",
             tensor_dims_str(ndim, shape, b, sizeof b), nbytes, tc->max_bytes);
    return tensor_raise(tc);
  }
  TStorage *s = tstorage_new(tc, nbytes ? nbytes : 1);
  if (!s) {
    char b[256];
    tensor_error(tc, "out of memory: cannot allocate %zu bytes for a tensor of shape %s", nbytes,
             tensor_dims_str(ndim, shape, b, sizeof b));
    return tensor_raise(tc);
  }
  ObjTensor *t = alloc_header(tc, dt, ndim, shape, numel);
  tensor_contig_strides(ndim, shape, t->strides);
  t->storage = s;
  return t;
}

ObjTensor *tensor_zeros(TCtx *tc, DType dt, int ndim, const int64_t *shape) {
  ObjTensor *t = tensor_new(tc, dt, ndim, shape);
  if (t) memset(t->storage->data, 0, (size_t)t->numel * tensor_dtype_sizes[dt]);
  return t;
}

ObjTensor *tensor_scalar(TCtx *tc, DType dt, double v) {
  ObjTensor *t = tensor_new(tc, dt, 0, NULL);
  if (t) tensor_set(t, 0, v);
  return t;
}

ObjTensor *tensor_view(TCtx *tc, ObjTensor *base, int ndim, const int64_t *shape, const int64_t *strides,
                       int64_t offset) {
  int64_t numel;
  if (!tensor_shape_check(tc, ndim, shape, base->dtype, &numel)) return tensor_raise(tc);
  ObjTensor *t = alloc_header(tc, base->dtype, ndim, shape, numel);
  if (ndim) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
  t->offset = offset;
  t->storage = base->storage;
  t->storage->refcount++;
  return t;
}

bool tensor_is_contiguous(const ObjTensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 0) return true;
    if (t->shape[i] != 1 && t->strides[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

ObjTensor *tensor_permuted(TCtx *tc, ObjTensor *t, const int *perm) {
  int64_t shape[NS_MAX_DIMS] = {0}, strides[NS_MAX_DIMS] = {0};
  for (int i = 0; i < t->ndim; i++) {
    shape[i] = t->shape[perm[i]];
    strides[i] = t->strides[perm[i]];
  }
  return tensor_view(tc, t, t->ndim, shape, strides, t->offset);
}

/* ---- element access and conversion ---- */

static int64_t elem_offset(const ObjTensor *t, int64_t i) {
  int64_t off = 0;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (i % n) * t->strides[d];
    i /= n;
  }
  return off;
}

double tensor_get(const ObjTensor *t, int64_t i) {
  int64_t off = elem_offset(t, i);
  const void *p = tensor_data(t);
  switch (t->dtype) {
  case DT_F32: return ((const float *)p)[off];
  case DT_F64: return ((const double *)p)[off];
  case DT_I64: return (double)((const int64_t *)p)[off];
  case DT_BOOL: return ((const uint8_t *)p)[off];
  default: return 0;
  }
}

void tensor_set(ObjTensor *t, int64_t i, double v) {
  int64_t off = elem_offset(t, i);
  void *p = tensor_data(t);
  switch (t->dtype) {
  case DT_F32: ((float *)p)[off] = (float)v; break;
  case DT_F64: ((double *)p)[off] = v; break;
  case DT_I64: ((int64_t *)p)[off] = (int64_t)v; break;
  case DT_BOOL: ((uint8_t *)p)[off] = v != 0; break;
  default: break;
  }
}

/* Strided conversion loops, one per (source, destination) dtype pair:
 * tensor_scalar.def's CAST row, S_CONVERT(X0), with S_CONVERT as C's
 * conversion on the store and != 0 for a bool destination (to_bool is a
 * constant in each loop). */
#define CONV(S, ST, D, DTY, EXPR)                                                                  \
  NS_SIMD_CLONES                                                                                   \
  static void conv_##S##_##D(int64_t n, char **p, const int64_t *s, void *ctx) {                  \
    (void)ctx;                                                                                     \
    enum { to_bool = sizeof(DTY) == 1 };                                                           \
    DTY *restrict o = (DTY *)p[0];                                                                 \
    const ST *restrict a = (const ST *)p[1];                                                       \
    int64_t so = s[0], sa = s[1];                                                                  \
    if (so == 1 && sa == 1) {                                                                      \
      _Pragma("GCC ivdep") for (int64_t i = 0; i < n; i++) {                                       \
        ST x0 = a[i];                                                                              \
        o[i] = (DTY)(EXPR);                                                                        \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) {                                                            \
        ST x0 = a[i * sa];                                                                         \
        o[i * so] = (DTY)(EXPR);                                                                   \
      }                                                                                            \
    }                                                                                              \
  }
#define CONV_FROM(S, ST, EXPR)                                                                     \
  CONV(S, ST, f32, float, EXPR)                                                                    \
  CONV(S, ST, f64, double, EXPR)                                                                   \
  CONV(S, ST, i64, int64_t, EXPR)                                                                  \
  CONV(S, ST, b8, uint8_t, EXPR)
#define X0 x0
#define S_CONVERT(a) (to_bool ? (a) != 0 : (a))
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) ELEM_##LOOP(EXPR)
#define ELEM_BIN(EXPR)
#define ELEM_UN(EXPR)
#define ELEM_SEL(EXPR)
#define ELEM_CVT(EXPR)                                                                             \
  CONV_FROM(f32, float, EXPR)                                                                      \
  CONV_FROM(f64, double, EXPR)                                                                     \
  CONV_FROM(i64, int64_t, EXPR)                                                                    \
  CONV_FROM(b8, uint8_t, EXPR)
#include "tensor_scalar.def"
#undef ELEM
#undef ELEM_BIN
#undef ELEM_UN
#undef ELEM_SEL
#undef ELEM_CVT
#undef X0
#undef S_CONVERT

static const TInnerFn conv_fns[DT__COUNT][DT__COUNT] = {
    [DT_F32] = {conv_f32_f32, conv_f32_f64, conv_f32_i64, conv_f32_b8},
    [DT_F64] = {conv_f64_f32, conv_f64_f64, conv_f64_i64, conv_f64_b8},
    [DT_I64] = {conv_i64_f32, conv_i64_f64, conv_i64_i64, conv_i64_b8},
    [DT_BOOL] = {conv_b8_f32, conv_b8_f64, conv_b8_i64, conv_b8_b8},
};

void tensor_copy_into(ObjTensor *dst, const ObjTensor *src) {
  TLoop L = {.ndim = dst->ndim, .nops = 2};
  memcpy(L.shape, dst->shape, sizeof L.shape);
  memcpy(L.strides[0], dst->strides, sizeof L.strides[0]);
  tensor_broadcast_strides(src, dst->ndim, dst->shape, L.strides[1]);
  char *base[2] = {tensor_data(dst), tensor_data(src)};
  size_t es[2] = {tensor_dtype_sizes[dst->dtype], tensor_dtype_sizes[src->dtype]};
  tloop_run(&L, base, es, conv_fns[src->dtype][dst->dtype], NULL);
}

ObjTensor *tensor_to(TCtx *tc, ObjTensor *t, DType dt) {
  if (t->dtype == dt && tensor_is_contiguous(t)) return t;
  ObjTensor *r = tensor_new(tc, dt, t->ndim, t->shape);
  if (r) tensor_copy_into(r, t);
  return r;
}

ObjTensor *tensor_contiguous(TCtx *tc, ObjTensor *t) { return tensor_to(tc, t, t->dtype); }

/* ---- tensor_apply ---- */

bool tensor_has_nonfinite(const ObjTensor *t, const char **what) {
  if (t->dtype != DT_F32 && t->dtype != DT_F64) return false;
  bool inf = false, contig = tensor_is_contiguous(t);
  for (int64_t i = 0; i < t->numel; i++) {
    double v;
    if (contig)
      v = t->dtype == DT_F32 ? ((const float *)tensor_data(t))[i] : ((const double *)tensor_data(t))[i];
    else
      v = tensor_get(t, i);
    if (v != v) {
      *what = "NaN";
      return true;
    }
    inf = inf || isinf(v);
  }
  if (inf) *what = "Inf";
  return inf;
}

/* --detect-anomaly: "anomaly: `log` produced NaN (input shapes [3])". */
static bool anomaly_error(TCtx *tc, const TensorOpInfo *info, ObjTensor **in, int n, const char *what) {
  char shapes[512] = "", b[128];
  size_t len = 0;
  for (int i = 0; i < n && len < sizeof shapes - 1; i++)
    len += (size_t)snprintf(shapes + len, sizeof shapes - len, "%s%s", i ? ", " : "",
                            tensor_shape_str(in[i], b, sizeof b));
  return tensor_error(tc, "anomaly: `%s` produced %s (input shapes %s)", info->name, what, shapes);
}

/* cat/stack of more tensors than a GradNode holds: cat is associative
 * along its axis, so record a tree of cats of at most GRAD_MAX_INPUTS. */
static bool apply_cat_tree(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  if (n <= GRAD_MAX_INPUTS) return tensor_apply(tc, TOP_CAT, in, n, a, out);
  ObjTensor *parts[GRAD_MAX_INPUTS];
  int chunk = (n + GRAD_MAX_INPUTS - 1) / GRAD_MAX_INPUTS, np = 0;
  for (int i = 0; i < n; i += chunk) {
    int m = n - i < chunk ? n - i : chunk;
    if (!apply_cat_tree(tc, in + i, m, a, &parts[np])) return false;
    vm_push_root(tc->vm, OBJ_VAL(parts[np]));
    np++;
  }
  bool ok = tensor_apply(tc, TOP_CAT, parts, np, a, out);
  vm_pop_root(tc->vm, np);
  return ok;
}

static bool apply_stack_tree(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  int nd = in[0]->ndim, axis = a->axis < 0 ? a->axis + nd + 1 : a->axis;
  if (axis < 0 || axis > nd)
    return tensor_error(tc, "stack: axis %d out of range for %d-d tensors", a->axis, nd);
  ObjTensor **u = malloc(sizeof(ObjTensor *) * (size_t)n);
  if (!u) return tensor_error(tc, "stack: out of memory");
  bool ok = true;
  int pushed = 0;
  for (int i = 0; i < n && ok; i++) {
    TAttrs r = {.nints = nd + 1};
    for (int d = 0, j = 0; d <= nd; d++) r.ints[d] = d == axis ? 1 : in[i]->shape[j++];
    ok = tensor_apply(tc, TOP_RESHAPE, &in[i], 1, &r, &u[i]);
    if (ok) {
      vm_push_root(tc->vm, OBJ_VAL(u[i]));
      pushed++;
    }
  }
  if (ok) {
    TAttrs c = *a;
    c.axis = axis;
    ok = apply_cat_tree(tc, u, n, &c, out);
  }
  vm_pop_root(tc->vm, pushed);
  free(u);
  return ok;
}

/* The forward kernel runs protected: kernels allocate with tensor_new()
 * without checking, and a shape too large or a failed allocation inside
 * one unwinds to here as the op's error. */
typedef struct {
  const TensorOpInfo *info;
  ObjTensor **in;
  int n;
  const TAttrs *attrs;
  ObjTensor *r;
  bool record; /* into the pending graph instead (tensor_graph.c) */
} Forward;

static bool run_forward(TCtx *tc, void *ctx) {
  Forward *f = ctx;
  if (f->record) return tgraph_record(tc, (TensorOp)(f->info - tensor_ops), f->in, f->n, f->attrs, NULL, &f->r);
  return f->info->forward(tc, f->in, f->n, f->attrs, &f->r);
}

/* With the JIT on: may the op wait in the pending graph (*record)? If not
 * it runs now, after the graph when it touches anything the graph writes
 * or reads. false when that sync fails. */
static bool jit_decide(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *attrs, ObjTensor *dst,
                       bool *record) {
  *record = false;
  if (!tc->jit) return true;
  TgReason why = TG__REASONS;
  if (tgraph_accepts(tc, op, in, n, attrs, dst, &why)) return *record = true;
  if (why == TG__REASONS) return true; /* the graph itself is running */
  tgraph_note_eager(tc, op, why);
  return tgraph_sync_for(tc, in, n, dst);
}

bool tensor_apply(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *attrs, ObjTensor **out) {
  static const TAttrs none;
  const TensorOpInfo *info = &tensor_ops[op];
  if (!attrs) attrs = &none;
  if (info->arity >= 0 ? n != info->arity : n < 1)
    return tensor_error(tc, "%s: expected %d tensor%s, got %d", info->name, info->arity < 0 ? 1 : info->arity,
                    info->arity == 1 ? "" : "s", n);
  bool record = false;
  if (tc->grad_enabled > 0 && info->backward)
    for (int i = 0; i < n; i++) record = record || in[i]->requires_grad;
  if (record && n > GRAD_MAX_INPUTS) {
    if (op == TOP_CAT) return apply_cat_tree(tc, in, n, attrs, out);
    if (op == TOP_STACK) return apply_stack_tree(tc, in, n, attrs, out);
  }
  bool rec;
  if (!jit_decide(tc, op, in, n, attrs, NULL, &rec)) return false;
  tc->saved[0] = tc->saved[1] = NULL;
  Forward call = {info, in, n, attrs, NULL, rec};
  if (!tensor_protected(tc, run_forward, &call)) {
    tc->saved[0] = tc->saved[1] = NULL;
    return false;
  }
  ObjTensor *r = call.r;
  /* A result is always a fresh object, never an input: recording sets its
   * grad_fn. */
  for (int i = 0; i < n; i++)
    if (r == in[i]) r = tensor_view(tc, r, r->ndim, r->shape, r->strides, r->offset);
  const char *what;
  if (tc->detect_anomaly && tensor_has_nonfinite(r, &what)) {
    tc->saved[0] = tc->saved[1] = NULL;
    return anomaly_error(tc, info, in, n, what);
  }
  if (record) {
    GradNode *g = gradnode_new(tc, op);
    g->op = op;
    g->ninputs = n;
    for (int i = 0; i < GRAD_MAX_INPUTS; i++) g->inputs[i] = i < n ? in[i] : NULL;
    g->saved[0] = tc->saved[0];
    g->saved[1] = tc->saved[1];
    autograd_note_inputs(g);
    g->attrs = *attrs;
    memcpy(g->out_shape, r->shape, sizeof g->out_shape);
    g->out_ndim = r->ndim;
    g->out_dtype = r->dtype;
    g->seq = ++tc->seq;
    r->grad_fn = g;
    r->requires_grad = true;
  }
  tc->saved[0] = tc->saved[1] = NULL;
  *out = r;
  return true;
}

/* "expand: cannot expand [2, 3] to [3]" unless r broadcasts to dst's
 * shape (the error an explicit expand gives). */
static bool broadcasts_to(TCtx *tc, const ObjTensor *r, const ObjTensor *dst) {
  bool ok = r->ndim <= dst->ndim;
  for (int i = 0; i < r->ndim && ok; i++) {
    int64_t d = r->shape[i], want = dst->shape[i + dst->ndim - r->ndim];
    ok = d == want || d == 1;
  }
  if (ok) return true;
  char sa[128], sb[128];
  return tensor_error(tc, "expand: cannot expand %s to %s", tensor_shape_str(r, sa, sizeof sa),
                      tensor_shape_str(dst, sb, sizeof sb));
}

bool tensor_apply_into(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *attrs, ObjTensor *dst) {
  static const TAttrs none;
  const TensorOpInfo *info = &tensor_ops[op];
  if (!attrs) attrs = &none;
  if (info->arity >= 0 ? n != info->arity : n < 1)
    return tensor_error(tc, "%s: expected %d tensor%s, got %d", info->name, info->arity < 0 ? 1 : info->arity,
                        info->arity == 1 ? "" : "s", n);
  bool rec;
  if (!jit_decide(tc, op, in, n, attrs, dst, &rec)) return false;
  if (rec) {
    ObjTensor *r;
    if (!tgraph_record(tc, op, in, n, attrs, dst, &r)) return false;
    tensor_bump_version(dst);
    return true;
  }
  if (op == TOP_INDEX_PUT && in[0] == dst) {
    if (!tensor_index_put(tc, dst, in[1], in[2])) return false;
    tensor_bump_version(dst);
    return true;
  }
  ObjTensor *r;
  if (op == TOP_CAST && attrs->dtype == dst->dtype) {
    r = in[0];
  } else {
    if (!tc->detect_anomaly && n == 2 && tensor_binary_into(op, dst, in[0], in[1])) {
      tensor_bump_version(dst);
      return true;
    }
    tc->saved[0] = tc->saved[1] = NULL;
    Forward call = {info, in, n, attrs, NULL, false};
    bool ok = tensor_protected(tc, run_forward, &call);
    tc->saved[0] = tc->saved[1] = NULL;
    if (!ok) return false;
    r = call.r;
    const char *what;
    if (tc->detect_anomaly && tensor_has_nonfinite(r, &what)) return anomaly_error(tc, info, in, n, what);
  }
  if (!broadcasts_to(tc, r, dst)) return false;
  /* a source sharing dst's storage is read out first (x[1:] = x[:-1]) */
  if (r->storage == dst->storage) {
    ObjTensor *c = tensor_new(tc, r->dtype, r->ndim, r->shape);
    if (!c) return false;
    tensor_copy_into(c, r);
    r = c;
  }
  tensor_copy_into(dst, r);
  tensor_bump_version(dst);
  return true;
}

/* ---- tensor_from_value ---- */

typedef struct {
  TCtx *tc;
  int ndim;
  int64_t shape[NS_MAX_DIMS];
  bool any_float, any_int;
} Scan;

static bool is_scalar_value(Value v) { return IS_NUM(v) || IS_BOOL(v); }

/* The error for an element that is neither a number nor a bool. */
static bool not_element(Scan *s, Value v) {
  if (IS_OBJ_TYPE(v, OBJ_COMPLEX))
    return tensor_error(s->tc, "tensor: complex numbers cannot be tensor elements (tensors hold f32, f64, i64 "
                               "or bool)");
  return tensor_error(s->tc, "tensor: expected numbers or bools, got %s", value_type_name(v));
}

/* Walk the nested lists: the shape comes from the first element at each
 * depth, and every other list must agree with it. */
static bool scan(Scan *s, Value v, int depth) {
  if (depth == s->ndim) {
    if (is_scalar_value(v)) {
      s->any_float |= IS_FLOAT(v);
      s->any_int |= IS_INT(v);
      return true;
    }
    if (IS_LIST(v))
      return tensor_error(s->tc, "tensor: ragged nested list at depth %d: expected a number, got list", depth);
    return not_element(s, v);
  }
  if (!IS_LIST(v)) {
    if (is_scalar_value(v))
      return tensor_error(s->tc, "tensor: ragged nested list at depth %d: expected a list, got %s", depth,
                      value_type_name(v));
    return not_element(s, v);
  }
  ObjList *l = AS_LIST(v);
  if (l->len != s->shape[depth])
    return tensor_error(s->tc, "tensor: ragged nested list at depth %d: expected %lld elements, got %u", depth,
                    (long long)s->shape[depth], l->len);
  for (uint32_t i = 0; i < l->len; i++)
    if (!scan(s, l->items[i], depth + 1)) return false;
  return true;
}

static void fill(ObjTensor *t, Value v, int depth, int64_t *pos) {
  if (depth == t->ndim) {
    void *p = t->storage->data;
    int64_t i = (*pos)++;
    if (t->dtype == DT_I64 && IS_INT(v))
      ((int64_t *)p)[i] = v.as.i;
    else if (IS_BOOL(v))
      tensor_set(t, i, v.as.b ? 1.0 : 0.0);
    else
      tensor_set(t, i, AS_NUM(v));
    return;
  }
  ObjList *l = AS_LIST(v);
  for (uint32_t i = 0; i < l->len; i++) fill(t, l->items[i], depth + 1, pos);
}

bool tensor_from_value(TCtx *tc, Value v, DType dt, ObjTensor **out) {
  if (IS_TENSOR(v)) {
    ObjTensor *t = AS_TENSOR(v);
    *out = dt == DT__COUNT || dt == t->dtype ? t : tensor_to(tc, t, dt);
    return *out != NULL;
  }
  Scan s = {.tc = tc};
  for (Value x = v; IS_LIST(x); x = AS_LIST(x)->len ? AS_LIST(x)->items[0] : UNIT_VAL) {
    if (s.ndim == NS_MAX_DIMS) return tensor_error(tc, "tensor: more than %d dimensions", NS_MAX_DIMS);
    s.shape[s.ndim++] = AS_LIST(x)->len;
    if (AS_LIST(x)->len == 0) break;
  }
  if (!scan(&s, v, 0)) return false;
  if (dt == DT__COUNT) {
    bool empty = tensor_shape_numel(s.ndim, s.shape) == 0;
    dt = s.any_float || empty ? DT_F32 : s.any_int ? DT_I64 : DT_BOOL;
  }
  ObjTensor *t = tensor_new(tc, dt, s.ndim, s.shape);
  if (!t) return false;
  int64_t pos = 0;
  if (t->numel) fill(t, v, 0, &pos);
  *out = t;
  return true;
}
