/* Forward kernels of the neural-network ops: softmax, log_softmax,
 * conv2d (im2col + GEMM), maxpool2d, dropout and cross_entropy. They work
 * on f32 and f64 (integer inputs compute in f32). What they save for their
 * backward rules is described in tensor_int.h. */
#include <math.h>
#include <string.h>

#include "tensor_int.h"
#include "blas.h"
#include "threadpool.h"

static DType float_type(DType d) { return d == DT_F64 ? DT_F64 : DT_F32; }

/* ---- softmax ---- */

/* x with `axis` moved last, contiguous, as rows of length R; the inverse
 * permutation restores the result. */
static bool axis_last(TCtx *tc, const char *op, ObjTensor *x, int axis_in, DType dt, ObjTensor **rows,
                      int *perm, int *axis_out) {
  int nd = x->ndim;
  int axis = axis_in < 0 ? axis_in + nd : axis_in;
  if (nd == 0) axis = 0;
  else if (axis < 0 || axis >= nd)
    return tensor_error(tc, "%s: axis %d out of range for a %d-d tensor", op, axis_in, nd);
  for (int i = 0, j = 0; i < nd; i++)
    if (i != axis) perm[j++] = i;
  if (nd) perm[nd - 1] = axis;
  *rows = tensor_to(tc, nd ? tensor_permuted(tc, x, perm) : x, dt);
  *axis_out = axis;
  return true;
}

static ObjTensor *undo_axis_last(TCtx *tc, ObjTensor *r, const int *perm) {
  int inv[NS_MAX_DIMS];
  for (int i = 0; i < r->ndim; i++) inv[perm[i]] = i;
  if (r->ndim == 0 || perm[r->ndim - 1] == r->ndim - 1) return r;
  return tensor_contiguous(tc, tensor_permuted(tc, r, inv));
}

#define SOFTMAX_ROWS(T)                                                                            \
  NS_SIMD_CLONES                                                                                   \
  static void softmax_rows_##T(const T *x, T *y, int64_t rows, int64_t R, bool log_) {            \
    for (int64_t i = 0; i < rows; i++) {                                                           \
      const T *a = x + i * R;                                                                      \
      T *o = y + i * R;                                                                            \
      T m = -INFINITY;                                                                             \
      for (int64_t j = 0; j < R; j++) m = a[j] > m ? a[j] : m;                                     \
      double s = 0;                                                                                \
      for (int64_t j = 0; j < R; j++) s += exp((double)(a[j] - m));                                \
      if (log_) {                                                                                  \
        T ls = (T)log(s);                                                                          \
        for (int64_t j = 0; j < R; j++) o[j] = a[j] - m - ls;                                      \
      } else {                                                                                     \
        double inv = 1.0 / s;                                                                      \
        for (int64_t j = 0; j < R; j++) o[j] = (T)(exp((double)(a[j] - m)) * inv);                 \
      }                                                                                            \
    }                                                                                              \
  }
SOFTMAX_ROWS(float)
SOFTMAX_ROWS(double)

typedef struct {
  const void *x;
  void *y;
  int64_t R;
  bool log_, f32;
} SoftmaxJob;

static void softmax_range(int64_t lo, int64_t hi, void *arg) {
  const SoftmaxJob *j = arg;
  if (j->f32)
    softmax_rows_float((const float *)j->x + lo * j->R, (float *)j->y + lo * j->R, hi - lo, j->R, j->log_);
  else
    softmax_rows_double((const double *)j->x + lo * j->R, (double *)j->y + lo * j->R, hi - lo, j->R, j->log_);
}

static bool softmax(TCtx *tc, TensorOp op, ObjTensor *x, const TAttrs *a, ObjTensor **out) {
  int perm[NS_MAX_DIMS], axis = 0;
  ObjTensor *rows = NULL;
  DType dt = float_type(x->dtype);
  if (!axis_last(tc, tensor_ops[op].name, x, a->axis, dt, &rows, perm, &axis)) return false;
  ObjTensor *r = tensor_new(tc, dt, rows->ndim, rows->shape);
  int64_t R = x->ndim ? x->shape[axis] : 1, nrows = R ? x->numel / R : 0;
  SoftmaxJob job = {tensor_data(rows), tensor_data(r), R, op == TOP_LOG_SOFTMAX, dt == DT_F32};
  int64_t grain = R > 0 ? POOL_GRAIN / R : POOL_GRAIN;
  pool_parallel_for(nrows, grain > 0 ? grain : 1, softmax_range, &job);
  *out = undo_axis_last(tc, r, perm);
  return true;
}

bool tk_SOFTMAX(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  return softmax(tc, TOP_SOFTMAX, in[0], a, out);
}

bool tk_LOG_SOFTMAX(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  return softmax(tc, TOP_LOG_SOFTMAX, in[0], a, out);
}

/* ---- cross entropy ---- */

/* logits [N, C], labels i64 [N] -> 0-d mean of -log softmax(logits)[i,
 * labels[i]], computed as logsumexp - logit (stable). saved[0] = the
 * softmax probabilities [N, C]. */
bool tk_CROSS_ENTROPY(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  (void)a;
  ObjTensor *x = in[0], *y = in[1];
  char sa[128], sb[128];
  if (x->ndim != 2 || y->ndim != 1 || y->shape[0] != x->shape[0])
    return tensor_error(tc, "cross_entropy: logits %s and labels %s: expected [N, C] and [N]",
                    tensor_shape_str(x, sa, sizeof sa), tensor_shape_str(y, sb, sizeof sb));
  if (y->dtype != DT_I64) return tensor_error(tc, "cross_entropy: labels must be an i64 tensor, got %s",
                                          tensor_dtype_names[y->dtype]);
  DType dt = float_type(x->dtype);
  x = tensor_to(tc, x, dt);
  y = tensor_to(tc, y, DT_I64);
  int64_t N = x->shape[0], C = x->shape[1];
  const int64_t *lab = tensor_data(y);
  for (int64_t i = 0; i < N; i++)
    if (lab[i] < 0 || lab[i] >= C)
      return tensor_error(tc, "cross_entropy: label %lld out of range for %lld classes", (long long)lab[i],
                      (long long)C);
  ObjTensor *p = tensor_new(tc, dt, 2, x->shape);
  double loss = 0;
  for (int64_t i = 0; i < N; i++) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < C; j++) m = fmax(m, dt == DT_F32 ? ((float *)tensor_data(x))[i * C + j]
                                                            : ((double *)tensor_data(x))[i * C + j]);
    for (int64_t j = 0; j < C; j++) {
      double v = dt == DT_F32 ? ((float *)tensor_data(x))[i * C + j] : ((double *)tensor_data(x))[i * C + j];
      double e = exp(v - m);
      s += e;
      if (dt == DT_F32) ((float *)tensor_data(p))[i * C + j] = (float)e;
      else ((double *)tensor_data(p))[i * C + j] = e;
    }
    for (int64_t j = 0; j < C; j++) {
      if (dt == DT_F32) ((float *)tensor_data(p))[i * C + j] /= (float)s;
      else ((double *)tensor_data(p))[i * C + j] /= s;
    }
    double xl = dt == DT_F32 ? ((float *)tensor_data(x))[i * C + lab[i]] : ((double *)tensor_data(x))[i * C + lab[i]];
    loss += m + log(s) - xl;
  }
  *out = tensor_scalar(tc, dt, N ? loss / (double)N : NAN);
  tensor_save(tc, 0, p);
  return true;
}

/* ---- dropout ---- */

/* scalar[0] = p: each element is zeroed with probability p and the rest
 * scaled by 1/(1-p); p = 1 zeroes everything (as PyTorch; no 1/0).
 * saved[0] = the mask (0 or 1/(1-p)). */
bool tk_DROPOUT(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  double p = a->scalar[0];
  if (!(p >= 0 && p <= 1)) return tensor_error(tc, "dropout: p must be in [0, 1], got %g", p);
  ObjTensor *x = in[0];
  DType dt = float_type(x->dtype);
  ObjTensor *mask = tensor_new(tc, dt, x->ndim, x->shape);
  double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  for (int64_t i = 0; i < mask->numel; i++) {
    double m = rng_uniform() >= p ? scale : 0.0;
    if (dt == DT_F32) ((float *)tensor_data(mask))[i] = (float)m;
    else ((double *)tensor_data(mask))[i] = m;
  }
  ObjTensor *args[2] = {x, mask};
  if (!tk_MUL(tc, args, 2, a, out)) return false;
  tensor_save(tc, 0, mask);
  return true;
}

/* ---- conv2d ---- */

void tensor_conv_params(const TAttrs *a, int64_t *sh, int64_t *sw, int64_t *ph, int64_t *pw) {
  if (a->nints >= 4) {
    *sh = a->ints[0], *sw = a->ints[1], *ph = a->ints[2], *pw = a->ints[3];
  } else {
    *sh = *sw = a->nints >= 1 ? a->ints[0] : 1;
    *ph = *pw = a->nints >= 2 ? a->ints[1] : 0;
  }
}

/* The sliding-window parameters of conv2d and maxpool2d, checked in one
 * place: for each spatial dim d (0 = height, 1 = width), kernel k >= 1,
 * stride s >= 1, padding p >= 0, and the kernel within the padded input;
 * then out[d] = (in[d] + 2 p[d] - k[d]) / s[d] + 1. */
#define WINDOW_MAX ((int64_t)1 << 40) /* keeps in + 2p - k far from overflow */
static bool window_dims(TCtx *tc, const char *op, const int64_t *in, const int64_t *k, const int64_t *s,
                        const int64_t *p, int64_t *out) {
  for (int d = 0; d < 2; d++) {
    if (k[d] < 1) return tensor_error(tc, "%s: kernel size must be at least 1, got %lld", op, (long long)k[d]);
    if (s[d] < 1) return tensor_error(tc, "%s: stride must be at least 1, got %lld", op, (long long)s[d]);
    if (p[d] < 0) return tensor_error(tc, "%s: padding must not be negative, got %lld", op, (long long)p[d]);
    if (p[d] > WINDOW_MAX || k[d] > WINDOW_MAX)
      return tensor_error(tc, "%s: %s %lld is too large", op, p[d] > WINDOW_MAX ? "padding" : "kernel size",
                      (long long)(p[d] > WINDOW_MAX ? p[d] : k[d]));
  }
  if (in[0] + 2 * p[0] < k[0] || in[1] + 2 * p[1] < k[1])
    return tensor_error(tc, "%s: kernel %lldx%lld larger than the padded input %lldx%lld", op, (long long)k[0],
                    (long long)k[1], (long long)(in[0] + 2 * p[0]), (long long)(in[1] + 2 * p[1]));
  for (int d = 0; d < 2; d++) out[d] = (in[d] + 2 * p[d] - k[d]) / s[d] + 1;
  return true;
}

#define IM2COL(TAG, T)                                                                             \
  void tensor_im2col_##TAG(const T *x, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,   \
                           int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW, \
                           T *col) {                                                               \
    for (int64_t c = 0; c < C; c++)                                                                \
      for (int64_t i = 0; i < kh; i++)                                                             \
        for (int64_t j = 0; j < kw; j++) {                                                         \
          T *row = col + ((c * kh + i) * kw + j) * OH * OW;                                        \
          for (int64_t oh = 0; oh < OH; oh++) {                                                    \
            int64_t h = oh * sh - ph + i;                                                          \
            for (int64_t ow = 0; ow < OW; ow++) {                                                  \
              int64_t w = ow * sw - pw + j;                                                        \
              row[oh * OW + ow] = h >= 0 && h < H && w >= 0 && w < W ? x[(c * H + h) * W + w] : 0; \
            }                                                                                      \
          }                                                                                        \
        }                                                                                          \
  }                                                                                                \
  void tensor_col2im_##TAG(const T *col, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, \
                           int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW, \
                           T *dx) {                                                                \
    for (int64_t c = 0; c < C; c++)                                                                \
      for (int64_t i = 0; i < kh; i++)                                                             \
        for (int64_t j = 0; j < kw; j++) {                                                         \
          const T *row = col + ((c * kh + i) * kw + j) * OH * OW;                                  \
          for (int64_t oh = 0; oh < OH; oh++) {                                                    \
            int64_t h = oh * sh - ph + i;                                                          \
            if (h < 0 || h >= H) continue;                                                         \
            for (int64_t ow = 0; ow < OW; ow++) {                                                  \
              int64_t w = ow * sw - pw + j;                                                        \
              if (w >= 0 && w < W) dx[(c * H + h) * W + w] += row[oh * OW + ow];                   \
            }                                                                                      \
          }                                                                                        \
        }                                                                                          \
  }
IM2COL(f32, float)
IM2COL(f64, double)

typedef struct {
  const void *x;
  void *col;
  bool f32;
  int64_t first, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW;
} Im2colJob;

/* Images first + lo .. first + hi into slots lo .. hi of the group buffer. */
static void im2col_range(int64_t lo, int64_t hi, void *arg) {
  const Im2colJob *j = arg;
  int64_t in = j->C * j->H * j->W, cn = j->C * j->kh * j->kw * j->OH * j->OW;
  for (int64_t i = lo; i < hi; i++) {
    if (j->f32)
      tensor_im2col_f32((const float *)j->x + (j->first + i) * in, j->C, j->H, j->W, j->kh, j->kw, j->sh, j->sw,
                        j->ph, j->pw, j->OH, j->OW, (float *)j->col + i * cn);
    else
      tensor_im2col_f64((const double *)j->x + (j->first + i) * in, j->C, j->H, j->W, j->kh, j->kw, j->sh, j->sw,
                        j->ph, j->pw, j->OH, j->OW, (double *)j->col + i * cn);
  }
}

/* x [N, C, H, W], w [O, C, kh, kw] -> [N, O, OH, OW], no bias. For each
 * image: col = im2col(x[n]) [C*kh*kw, OH*OW]; y[n] = w [O, C*kh*kw] @ col. */
bool tk_CONV2D(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0], *w = in[1];
  char sa[128], sb[128];
  if (x->ndim != 4 || w->ndim != 4 || x->shape[1] != w->shape[1])
    return tensor_error(tc, "conv2d: input %s and weight %s: expected [N, C, H, W] and [O, C, kh, kw]",
                    tensor_shape_str(x, sa, sizeof sa), tensor_shape_str(w, sb, sizeof sb));
  int64_t sh, sw, ph, pw, o[2];
  tensor_conv_params(a, &sh, &sw, &ph, &pw);
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  int64_t O = w->shape[0], kh = w->shape[2], kw = w->shape[3];
  if (!window_dims(tc, "conv2d", (int64_t[]){H, W}, (int64_t[]){kh, kw}, (int64_t[]){sh, sw}, (int64_t[]){ph, pw},
                   o))
    return false;
  int64_t OH = o[0], OW = o[1];
  DType dt = float_type(tensor_promote(x->dtype, w->dtype));
  x = tensor_to(tc, x, dt);
  w = tensor_to(tc, w, dt);
  int64_t shape[4] = {N, O, OH, OW}, K = C * kh * kw, P = OH * OW;
  ObjTensor *r = tensor_new(tc, dt, 4, shape);
  /* im2col of up to G images at a time (in parallel, one image per task),
   * then one GEMM per image (OpenBLAS threads); the two never overlap. */
  size_t es = tensor_dtype_sizes[dt];
  int64_t per = K * P * (int64_t)es, G = per > 0 ? ((int64_t)16 << 20) / per : N;
  if (G < 1) G = 1;
  if (G > N) G = N;
  int64_t cshape[3] = {G, K, P};
  ObjTensor *col = tensor_new(tc, dt, 3, cshape);
  Im2colJob job = {.x = tensor_data(x), .col = tensor_data(col), .f32 = dt == DT_F32, .C = C, .H = H, .W = W,
                   .kh = kh, .kw = kw, .sh = sh, .sw = sw, .ph = ph, .pw = pw, .OH = OH, .OW = OW};
  tensor_blas_init();
  for (int64_t g0 = 0; g0 < N; g0 += G) {
    int64_t g1 = g0 + G < N ? g0 + G : N;
    job.first = g0;
    int64_t grain = K * P > 0 ? POOL_GRAIN / (K * P) : 1;
    pool_parallel_for(g1 - g0, grain > 0 ? grain : 1, im2col_range, &job);
    for (int64_t i = g0; i < g1; i++) {
      const char *ci = (const char *)tensor_data(col) + (i - g0) * per;
      bool ok = dt == DT_F32 ? blas_sgemm(CblasNoTrans, CblasNoTrans, (int)O, (int)P, (int)K, 1.0f, tensor_data(w),
                                          (int)K, (const float *)ci, (int)P, 0.0f,
                                          (float *)tensor_data(r) + i * O * P, (int)P)
                             : blas_dgemm(CblasNoTrans, CblasNoTrans, (int)O, (int)P, (int)K, 1.0, tensor_data(w),
                                          (int)K, (const double *)ci, (int)P, 0.0,
                                          (double *)tensor_data(r) + i * O * P, (int)P);
      if (!ok) return tensor_error(tc, "conv2d: %s", blas_error());
    }
  }
  *out = r;
  return true;
}

/* ---- maxpool2d ---- */

typedef struct {
  const void *x;
  void *y;
  int64_t *ix;
  bool f32;
  int64_t k, s, H, W, OH, OW;
} MaxpoolJob;

/* The first maximum of each window wins; a NaN is the maximum. */
#define MAXPOOL_PLANES(T)                                                                          \
  static void maxpool_##T(const MaxpoolJob *j, int64_t lo, int64_t hi) {                          \
    int64_t k = j->k, s = j->s, H = j->H, W = j->W, OH = j->OH, OW = j->OW;                        \
    for (int64_t p = lo; p < hi; p++) {                                                            \
      const T *xp = (const T *)j->x + p * H * W;                                                   \
      for (int64_t oh = 0; oh < OH; oh++)                                                          \
        for (int64_t ow = 0; ow < OW; ow++) {                                                      \
          int64_t best = (oh * s) * W + ow * s;                                                    \
          T bv = xp[best];                                                                         \
          for (int64_t i = 0; i < k && bv == bv; i++)                                              \
            for (int64_t jj = 0; jj < k; jj++) {                                                   \
              int64_t at = (oh * s + i) * W + ow * s + jj;                                         \
              T v = xp[at];                                                                        \
              if (v > bv || v != v) {                                                              \
                bv = v, best = at;                                                                 \
                if (v != v) break;                                                                 \
              }                                                                                    \
            }                                                                                      \
          int64_t o = (p * OH + oh) * OW + ow;                                                     \
          j->ix[o] = best;                                                                         \
          ((T *)j->y)[o] = bv;                                                                     \
        }                                                                                          \
    }                                                                                              \
  }
MAXPOOL_PLANES(float)
MAXPOOL_PLANES(double)

static void maxpool_range(int64_t lo, int64_t hi, void *arg) {
  const MaxpoolJob *j = arg;
  if (j->f32) maxpool_float(j, lo, hi);
  else maxpool_double(j, lo, hi);
}

/* x [N, C, H, W]; ints = (kernel, stride) (stride defaults to kernel) ->
 * [N, C, OH, OW] with OH = (H - k) / s + 1. saved[0] = i64 argmax within
 * each input plane (h * W + w). */
bool tk_MAXPOOL2D(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out) {
  (void)n;
  ObjTensor *x = in[0];
  char sa[128];
  if (x->ndim != 4) return tensor_error(tc, "maxpool2d: input %s: expected [N, C, H, W]", tensor_shape_str(x, sa, sizeof sa));
  int64_t k = a->nints >= 1 ? a->ints[0] : 2, s = a->nints >= 2 ? a->ints[1] : k, o[2];
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
  if (!window_dims(tc, "maxpool2d", (int64_t[]){H, W}, (int64_t[]){k, k}, (int64_t[]){s, s}, (int64_t[]){0, 0}, o))
    return false;
  int64_t OH = o[0], OW = o[1];
  DType dt = float_type(x->dtype);
  x = tensor_to(tc, x, dt);
  int64_t shape[4] = {N, C, OH, OW};
  ObjTensor *r = tensor_new(tc, dt, 4, shape), *idx = tensor_new(tc, DT_I64, 4, shape);
  MaxpoolJob job = {tensor_data(x), tensor_data(r), tensor_data(idx), dt == DT_F32, k, s, H, W, OH, OW};
  int64_t grain = POOL_GRAIN / (H * W);
  pool_parallel_for(N * C, grain > 0 ? grain : 1, maxpool_range, &job);
  *out = r;
  tensor_save(tc, 0, idx);
  return true;
}
