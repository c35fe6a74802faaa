/* Internals shared by the tensor runtime files (tensor.c, tensor_alloc.c,
 * tensor_kernels.c, tensor_nn.c, autograd.c, gc.c); not for natives.
 *
 * Saved tensors. A forward kernel cannot see the GradNode (it is created
 * after the kernel succeeds, and only when grad mode records), so a kernel
 * that produces something its backward rule needs (the dropout mask, the
 * softmax probabilities of cross_entropy, the argmax of maxpool2d) hands it
 * over with tensor_save(tc, slot, t). tensor_apply() clears both slots before
 * the forward call and afterwards moves them into node->saved[0..1] when it
 * records a node; otherwise they are dropped (they are GC objects and die
 * with the next collection). What each op saves:
 *   DROPOUT        saved[0] = mask, same dtype and shape as x, values 0 or 1/(1-p)
 *   CROSS_ENTROPY  saved[0] = softmax(logits), [N, C], dtype of the logits
 *   MAXPOOL2D      saved[0] = i64 [N, C, OH, OW]: flat index (h * W + w) of
 *                  each window's maximum within its input plane */
#ifndef NS_TENSOR_INT_H
#define NS_TENSOR_INT_H

#include "tensor.h"

/* NS_SIMD_CLONES on a hot leaf loop function: gcc/clang build an AVX2 copy
 * and a baseline (SSE2) copy and an ifunc resolver picks one at load time
 * from the CPU. Not "fma": without it both copies round identically (no
 * contraction of a*b+c), so results do not depend on the machine. Expands to
 * nothing off x86-64, without target_clones/ifunc support, and under
 * NS_NO_SIMD_CLONES. */
#if defined(__has_attribute)
#if __has_attribute(target_clones) && (defined(__x86_64__) || defined(__i386__)) &&              \
    defined(__ELF__) && !defined(NS_NO_SIMD_CLONES)
#define NS_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef NS_SIMD_CLONES
#define NS_SIMD_CLONES
#endif

/* Forward kernels (tensor_kernels.c, tensor_nn.c) and backward rules
 * (autograd.c). The backward rules are weak references so that an op
 * whose rule is missing shows up as "not differentiable", not as a link
 * error. */
#define TOP(name, arity, fclass, diff, reads)                                                      \
  bool tk_##name(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out);                \
  __attribute__((weak)) bool tb_##name(TCtx *tc, GradNode *node, ObjTensor *gout, ObjTensor **gin);
#include "tensor_ops.def"
#undef TOP

/* ---- saved tensors (tensor.c) ---- */
/* The slots live in the context (tc->saved). Not marked by the collector:
 * it runs only at interpreter safe points, and tensor_apply() empties them
 * before returning. */
static inline void tensor_save(TCtx *tc, int slot, ObjTensor *t) { tc->saved[slot] = t; }

/* ---- storage (tensor_alloc.c) ---- */
/* Refcount 1, capacity rounded up to a size class, 64-byte aligned data,
 * nbytes reported with tc->account. NULL when the system refuses the
 * memory (the caller reports it). */
TStorage *tstorage_new(TCtx *tc, size_t nbytes);
/* After vm_error(): unwind to the innermost tensor_protected(), or return
 * NULL when none is active or the interpreter was re-entered inside it. */
ObjTensor *tensor_raise(TCtx *tc);
/* refcount--; at 0 the block returns to its size class (-nbytes reported). */
void tstorage_release(TCtx *tc, TStorage *s);

/* ---- the loop driver (tensor.c) ---- */
/* Operand 0 is usually the output. tloop_run() drops size-1 dims, merges
 * dims contiguous across every operand, and calls fn once per run of the
 * innermost remaining dim with the operands' pointers and their inner
 * strides (in elements). */
#define TLOOP_MAX_OPS 4
typedef struct {
  int ndim, nops;
  int64_t shape[NS_MAX_DIMS];
  int64_t strides[TLOOP_MAX_OPS][NS_MAX_DIMS]; /* in elements */
} TLoop;
typedef void (*TInnerFn)(int64_t n, char **p, const int64_t *s, void *ctx);
void tloop_run(TLoop *L, char **base, const size_t *esize, TInnerFn fn, void *ctx);

/* ---- in-place writes (the door from outside is tensor_apply_into) ---- */
/* Copy src (any strides and dtype, broadcastable to dst's shape) into dst,
 * converting; the two must not overlap. (tensor.c) */
void tensor_copy_into(ObjTensor *dst, const ObjTensor *src);
/* dst = a OP b computed in place for OP + - * / on f32/f64, when a and b
 * have dst's dtype, broadcast to dst's shape and share its storage only as
 * dst itself. false (nothing written) when those do not hold.
 * (tensor_kernels.c) */
bool tensor_binary_into(TensorOp op, ObjTensor *dst, ObjTensor *a, ObjTensor *b);
/* dst.flat[pos[j]] = src[j] for every j (row-major positions into dst,
 * any strides), src broadcast to pos's shape and converted to dst's
 * dtype; later positions win over earlier equal ones. pos is an i64 tensor
 * of positions in [0, dst->numel). false after vm_error (a position out of
 * range, a value that does not broadcast); nothing is written then. Does
 * not record autograd and does not bump dst's version.
 * (tensor_kernels.c) */
bool tensor_index_put(TCtx *tc, ObjTensor *dst, ObjTensor *pos, ObjTensor *src);

/* ---- helpers (tensor.c) ---- */
int64_t tensor_shape_numel(int ndim, const int64_t *shape);
void tensor_contig_strides(int ndim, const int64_t *shape, int64_t *strides);
DType tensor_promote(DType a, DType b);
/* "[2, 3]" for a shape. */
const char *tensor_dims_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* Broadcast two shapes; false if they cannot. */
bool tensor_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);
/* Strides of t viewed with shape (ndim, shape) under broadcasting (0 on
 * broadcast dims); t's dims align with the last ones of shape. */
void tensor_broadcast_strides(const ObjTensor *t, int ndim, const int64_t *shape, int64_t *strides);
/* A contiguous copy of t converted to dtype dt (t itself when it already
 * is contiguous with that dtype). */
ObjTensor *tensor_to(TCtx *tc, ObjTensor *t, DType dt);
/* Element i (row-major logical index) set from a double. */
void tensor_set(ObjTensor *t, int64_t i, double v);
/* A view with axes permuted (perm[i] = source axis of new axis i). */
ObjTensor *tensor_permuted(TCtx *tc, ObjTensor *t, const int *perm);

/* im2col for conv2d: x one image [C, H, W] (contiguous) to col
 * [C*kh*kw, OH*OW]; col2im accumulates col back into dx [C, H, W]. */
void tensor_im2col_f32(const float *x, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW,
                       float *col);
void tensor_im2col_f64(const double *x, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW,
                       double *col);
void tensor_col2im_f32(const float *col, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW,
                       float *dx);
void tensor_col2im_f64(const double *col, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                       int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t OH, int64_t OW,
                       double *dx);
/* Conv2d parameters from attrs: ints = (stride, padding) or
 * (stride_h, stride_w, pad_h, pad_w). */
void tensor_conv_params(const TAttrs *a, int64_t *sh, int64_t *sw, int64_t *ph, int64_t *pw);

/* The OpenBLAS thread count is set on first use, not at start-up. */
void tensor_blas_init(void);

#endif
