/* The pending graph and the JIT's side of the tensor engine (tensor_graph.c);
 * internal to runtime/tensor.
 *
 * tensor_apply() and tensor_apply_into() ask tgraph_accepts() whether an
 * op can wait: an elementwise op of tensor_scalar.def on f32/f64 tensors
 * (bool for where's condition and casts) whose shapes broadcast. If so,
 * tgraph_record() allocates the result and appends the op to tc's pending
 * graph instead of running it; the result's storage (and every storage the
 * graph reads or writes) is marked lazy, so whoever reads its data first
 * runs the graph (tensor_data -> tensor_sync). A sync runs the graph's ops
 * in order: compiled, fused into kernels by the JIT module when the same
 * graph structure was seen before, one by one through the C kernels
 * otherwise. */
#ifndef NS_TENSOR_GRAPH_H
#define NS_TENSOR_GRAPH_H

#include <stdio.h>

#include "tensor.h"

/* Why an op ran at once instead of being recorded (--jit-stats). */
typedef enum {
  TG_NOT_ELEMENTWISE, /* matmul, reductions, views, nn ops: a sync when an input is pending */
  TG_DTYPE,           /* i64 operands, or operands of different dtypes */
  TG_SHAPES,          /* shapes that do not broadcast: run at once so the error is today's */
  TG_OVERLAP,         /* an in-place write whose source overlaps the target differently */
  TG_ANOMALY,         /* --detect-anomaly checks every op's result as it is computed */
  TG_SMALL,           /* a result of few elements: running it costs less than recording it */
  TG__REASONS
} TgReason;

/* Can op(in) -> (dst, or a new tensor when dst is NULL) be recorded? When
 * not, *why says why (counted in the statistics by the caller). */
bool tgraph_accepts(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *a, ObjTensor *dst,
                    TgReason *why);
/* Record it: *out = the new result (uninitialised until the graph runs),
 * or, with dst, a write into dst. Allocation failure unwinds like a
 * kernel's (call inside tensor_protected). */
bool tgraph_record(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *a, ObjTensor *dst,
                   ObjTensor **out);
/* Before an op that is not recorded reads in[] or writes dst: run the
 * pending graph if it touches them (storing them) and compute whatever
 * they are or feed that is not stored yet. false after vm_error. */
bool tgraph_sync_for(TCtx *tc, ObjTensor **in, int n, ObjTensor *dst);
/* An op that ran at once: counted with its reason. */
void tgraph_note_eager(TCtx *tc, TensorOp op, TgReason why);
/* true when t's storage is read or written by the pending graph. */
static inline bool tgraph_lazy(const ObjTensor *t) { return t->storage->lazy != NULL; }

/* The collector's roots: every tensor the pending graph holds. */
void tgraph_mark(TCtx *tc);
/* A result that was not stored keeps the graph that computes it alive:
 * every tensor of that graph (blacken of the result). */
struct Frozen;
void tgraph_mark_frozen(VM *vm, struct Frozen *f);
/* t, a result not stored, is collected. */
void tgraph_forget(TCtx *tc, ObjTensor *t);
/* Free the graph, the cache and the compiled code (the heap may be gone:
 * pending tensors are not touched). */
void tgraph_free(TCtx *tc);

#endif
