/* Tensors: strided views over refcounted, 64-byte-aligned storage, the op
 * table that drives forward kernels and backward rules, and autograd.
 *
 * A tensor is a GC object (OBJ_TENSOR) holding a view (shape, strides in
 * elements, offset) of a TStorage. Storage is reference counted by the
 * views that share it (reshape of a contiguous tensor, transpose, slice,
 * expand make views without copying) and returned to the size-class cache
 * (tensor_alloc.c) when the last view is collected, so a steady-state
 * training step does not call malloc per op. Storage bytes are reported to
 * the owner (tc->account: the collector counts them).
 *
 * Every op is one row of tensor_ops.def: name, arity, fusion class, the
 * forward kernel tk_<NAME> (tensor_kernels.c) and the backward rule
 * tb_<NAME> (autograd.c); an elementwise op's scalar meaning is its row of
 * tensor_scalar.def, from which the kernels' loops are generated. tensor_apply() runs an op: it checks dtypes and
 * shapes, computes the result, and, when grad mode is on and an input
 * requires grad, records a GradNode holding the inputs, the attributes and
 * what the backward rule saved. tensor_apply_into() is its in-place form,
 * the one way to write into an existing tensor from outside the engine.
 * loss.backward() walks the nodes reachable from loss in reverse
 * topological order. */
#ifndef NS_TENSOR_H
#define NS_TENSOR_H

#include <stdint.h>
#include <stdio.h>

#include "gc.h" /* core: objects, obj_alloc, GC hooks and temp roots */

#define NS_MAX_DIMS 8

struct ObjTensor;
struct TGuard;

/* Everything the tensor engine keeps per interpreter, and what it needs
 * from the program that runs it. One per VM (vm->tc); every kernel,
 * backward rule and creation function takes it, so two interpreters in one
 * process have their own grad mode, anomaly flag, tape and limits.
 *
 * The engine reaches its owner only through `vm` (opaque here: the GC heap
 * its objects live in, passed to core's obj_alloc/vm_realloc/vm_push_root,
 * and whose report function records errors: heap_error) and the two
 * callbacks. Process-wide on purpose: the storage cache
 * (tensor_alloc.c, shared so blocks freed by one interpreter serve the
 * next), the thread pool and the RNG (tensor_rng.c). */
typedef struct TCtx {
  VM *vm;
  /* Tensor storage alive changed by delta bytes (the collector counts
   * them toward its next cycle: vm_gc_external). */
  void (*account)(VM *vm, ptrdiff_t delta_bytes);
  /* How deep the owner's interpreter is nested (its frame count): an
   * allocation failure unwinds to a tensor_protected() call only from the
   * depth that call was made at, never across a re-entry. */
  int (*depth)(VM *vm);

  int grad_enabled;   /* > 0: tensor_apply records autograd (no_grad decrements); 1 at start */
  bool detect_anomaly; /* see tensor_has_nonfinite */
  size_t max_bytes;   /* a tensor needing more storage is refused up front; 0 = no limit */

  /* engine state (tensor_int.h, tensor_alloc.c) */
  struct ObjTensor *saved[2]; /* tensor_save() slots of the running forward kernel */
  uint64_t seq;               /* tape position of the last recorded GradNode */
  struct TGuard *guard;       /* the innermost tensor_protected() */

  /* The JIT (tensor_graph.c). jit on: tensor_apply() and
   * tensor_apply_into() record elementwise ops into a pending graph
   * instead of running them; the graph runs, fused and (once seen again)
   * compiled, at the next sync point. 1 at start unless NS_JIT=0. */
  bool jit;
  /* ops on fewer elements run at once; results of fewer than 4x are
   * always stored (NS_JIT_MIN_ELEMENTS, default 1024) */
  int64_t jit_min;
  /* a graph seen again waits for LLVM to load instead of running op by op
   * meanwhile (nsc bench; NS_JIT_WAIT=1, which the tests set so that short
   * programs run compiled code too) */
  bool jit_wait;
  struct TGraph *graph;       /* the pending graph, the compiled-graph cache and statistics; NULL until used */
} TCtx;

/* Format an error, record it as the owner's runtime error (the heap's
 * report, heap_error) and return false, so a kernel can
 * `return tensor_error(tc, ...)`. */
bool tensor_error(TCtx *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A context for vm's heap with grad mode on, no anomaly detection and no
 * memory limit; NULL when out of memory. tensor_ctx_free releases it (the
 * tensors live on in the heap). */
TCtx *tensor_ctx_new(VM *vm, void (*account)(VM *vm, ptrdiff_t delta_bytes), int (*depth)(VM *vm));
void tensor_ctx_free(TCtx *tc);

typedef enum { DT_F32, DT_F64, DT_I64, DT_BOOL, DT__COUNT } DType;

extern const char *const tensor_dtype_names[DT__COUNT]; /* "f32", ... */
extern const size_t tensor_dtype_sizes[DT__COUNT];

/* Fusion classes, for the trace JIT. */
typedef enum { FUSE_ELEMWISE, FUSE_BROADCAST, FUSE_REDUCE, FUSE_MATMUL, FUSE_VIEW, FUSE_OPAQUE } FusionClass;

typedef struct TStorage {
  int64_t refcount;
  /* The context whose pending graph reads or writes this storage (NULL:
   * none): reading its data first runs that graph (tensor_data). */
  struct TCtx *lazy;
  int32_t lazy_class;  /* while in the pending graph: the graph's index for this storage */
  uint32_t epoch;      /* the pending graph's epoch when last added to it */
  int32_t vreaders;    /* frozen graphs that may recompute from this storage (tensor_graph.c) */
  struct ObjTensor *virt; /* the result whose values are not computed yet (not stored), or NULL */
  void *watch;         /* the graph that computed it, which would like to know if it is read again */
  int32_t watch_slot;
  size_t nbytes;    /* capacity in bytes (a size class) */
  void *data;       /* 64-byte aligned */
  uint64_t version; /* bumped by every in-place write; 0 when allocated */
  /* while cached (tensor_alloc.c): the free-list link and, for a large
   * block, when it was released */
  struct TStorage *next_free;
  uint64_t released_ns;
} TStorage;

typedef struct GradNode GradNode;

typedef struct ObjTensor {
  Obj obj;
  DType dtype;
  uint8_t ndim;
  bool requires_grad;
  int64_t numel;
  int64_t shape[NS_MAX_DIMS];
  int64_t strides[NS_MAX_DIMS]; /* in elements */
  int64_t offset;               /* in elements */
  TStorage *storage;
  struct ObjTensor *grad;       /* accumulated gradient of a leaf, or NULL */
  GradNode *grad_fn;            /* the op that produced it (non-leaf), or NULL */
  int32_t graph_slot;           /* its index in the pending graph, or -1 (tensor_graph.c) */
  int32_t frozen_slot;          /* with frozen: its slot there */
  struct Frozen *frozen;        /* a result not stored: the graph that can compute it, or NULL */
} ObjTensor;

#define IS_TENSOR(v) IS_OBJ_TYPE(v, OBJ_TENSOR)
#define AS_TENSOR(v) ((ObjTensor *)(v).as.o)

/* Attributes of an op call (axes, scalars, dtypes, shapes). */
typedef struct {
  uint32_t axes;       /* bit i: reduce/softmax over axis i */
  bool keepdim;
  int axis;            /* softmax, cat, stack, gather, index_select, one_hot... */
  double scalar[4];    /* leaky_relu slope, clamp bounds, dropout p, ... */
  int64_t ints[NS_MAX_DIMS * 2]; /* shapes, permutations, slice bounds, conv params */
  int nints;
  DType dtype;         /* cast target */
} TAttrs;

/* TOP(NAME, arity, fusion class, differentiable, reads)
 * arity -1: variadic (cat, stack); reads: bit i set when the backward rule
 * reads the values of input i (so changing it in place before backward()
 * is an error). */
typedef enum {
#define TOP(name, arity, fclass, diff, reads) TOP_##name,
#include "tensor_ops.def"
#undef TOP
  TOP__COUNT
} TensorOp;

/* Forward: compute *out from in[0..n) (allocate it with tensor_new...).
 * Backward: given the node and the gradient of its output, store the
 * gradient of each input that requires grad in gin[i] (NULL otherwise).
 * Both return false after vm_error(). */
typedef bool (*TForwardFn)(TCtx *tc, ObjTensor **in, int n, const TAttrs *a, ObjTensor **out);
typedef bool (*TBackwardFn)(TCtx *tc, GradNode *node, ObjTensor *gout, ObjTensor **gin);

typedef struct {
  const char *name; /* "add", "matmul", ... as shown in errors */
  int arity;
  FusionClass fclass;
  TForwardFn forward;
  TBackwardFn backward; /* NULL: not differentiable (comparisons, argmax) */
  uint8_t reads;        /* bit i: the backward rule reads input i's values */
} TensorOpInfo;

extern const TensorOpInfo tensor_ops[TOP__COUNT];

/* A recorded op (the autograd tape). A GC object so that the inputs and
 * saved tensors it references stay alive exactly as long as the graph.
 * The edges of the graph are taken when the op is recorded, as in PyTorch:
 * next[i] is input i's grad_fn at that time and bit i of `wants` says
 * whether input i needed a gradient then; so an in-place index assignment
 * that gives a tensor a new grad_fn does not rewire the ops that used it
 * before. backward() without retain_graph releases the nodes it went
 * through: inputs, edges and saved tensors are dropped (ninputs = 0) and
 * `released` set, so their memory goes with the next collection and a
 * second backward() through them is an error. */
#define GRAD_MAX_INPUTS 4
struct GradNode {
  Obj obj;
  TensorOp op;
  int ninputs;
  bool released;
  uint8_t wants; /* bit i: input i required grad or had a grad_fn when recorded */
  ObjTensor *inputs[GRAD_MAX_INPUTS];
  GradNode *next[GRAD_MAX_INPUTS];    /* input i's grad_fn when recorded (NULL: a leaf or a constant) */
  uint64_t versions[GRAD_MAX_INPUTS]; /* each input's storage version when recorded */
  ObjTensor *saved[2]; /* extra tensors the backward rule needs (masks...) */
  TAttrs attrs;
  int64_t out_shape[NS_MAX_DIMS];
  uint8_t out_ndim;
  DType out_dtype;
  uint64_t seq; /* execution order (tape position) */
};

/* ---- shapes (tensor.c) ---- */
/* The most bytes a tensor (or a view's extent, numel * itemsize) may
 * span: 256 TiB, above the 128 TiB of user address space of 4-level-paging
 * x86-64 and arm64, far below where int64 element offsets overflow. */
#define TENSOR_MAX_BYTES ((int64_t)1 << 48)
/* The one check every shape passes (tensor_new and tensor_view call it;
 * loaders call it before reading a payload): ndim <= NS_MAX_DIMS, no
 * negative dim, the product of the non-zero dims fits in int64 and
 * numel * itemsize <= TENSOR_MAX_BYTES. Sets *numel (may be NULL). On
 * failure vm_error() ("shape [4294967296, 4294967296] has too many
 * elements", "shape [2, -1] has a negative dimension") and false. */
bool tensor_shape_check(TCtx *tc, int ndim, const int64_t *shape, DType dt, int64_t *numel);

/* ---- creation and views (tensor.c) ----
 * A shape that fails tensor_shape_check() or storage that cannot be
 * allocated ("out of memory: cannot allocate N bytes for a tensor of shape
 * [...]") is a runtime error: inside tensor_protected() (every forward
 * kernel and backward pass runs in one) the call unwinds to it; elsewhere
 * these return NULL after vm_error(), and the caller returns false. */
ObjTensor *tensor_new(TCtx *tc, DType dt, int ndim, const int64_t *shape); /* contiguous, uninitialised */
ObjTensor *tensor_zeros(TCtx *tc, DType dt, int ndim, const int64_t *shape);
ObjTensor *tensor_scalar(TCtx *tc, DType dt, double v);                   /* 0-dim */
ObjTensor *tensor_view(TCtx *tc, ObjTensor *base, int ndim, const int64_t *shape, const int64_t *strides,
                       int64_t offset);                                  /* shares storage */
ObjTensor *tensor_contiguous(TCtx *tc, ObjTensor *t);                      /* t itself if already */
/* Run fn(tc, ctx) so that a tensor allocation failing anywhere inside it
 * (see above) makes it return false with the error set, like Lua's
 * protected calls: kernels allocate without checking, and the failure
 * unwinds (longjmp) to the innermost protected call. Temp roots pushed
 * inside are dropped; memory a caller malloc'd inside is not freed, so
 * code that holds its own buffers checks shapes first. Nests. */
bool tensor_protected(TCtx *tc, bool (*fn)(TCtx *tc, void *ctx), void *ctx);
bool tensor_is_contiguous(const ObjTensor *t);
/* Run tc's pending graph now (a sync point). false after vm_error (only
 * when an allocation fails while it runs). */
bool tensor_sync(TCtx *tc);
/* s is lazy: run the pending graph if it touches s, compute the result s
 * holds if it was not stored, and recompute what could need s's present
 * values before they change. */
bool tensor_touch(TStorage *s);
/* The address of element 0. A storage that a pending graph reads or
 * writes is synced first: every read of tensor data on the host goes
 * through here, so no caller sees a value before it is computed. */
static inline void *tensor_data(const ObjTensor *t) {
  if (__builtin_expect(t->storage->lazy != NULL, 0)) tensor_touch(t->storage);
  return (char *)t->storage->data + t->offset * (int64_t)tensor_dtype_sizes[t->dtype];
}
/* Element i (row-major logical index) as double, for printing and tests. */
double tensor_get(const ObjTensor *t, int64_t i);
/* "[32, 784]" into buf. */
const char *tensor_shape_str(const ObjTensor *t, char *buf, size_t n);

/* ---- ops (tensor.c) ---- */
/* Run op on inputs, recording autograd when enabled. false on error (a
 * shape error names the op and both shapes). */
bool tensor_apply(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *attrs, ObjTensor **out);
/* The in-place form: run op on inputs and write its result into dst, the
 * one door for every in-place update (optimizer steps, copy_, fill_,
 * `x -= y` on a leaf, index assignment). The result is broadcast to dst's
 * shape ("expand: cannot expand [2, 3] to [3]" when it does not) and
 * converted to dst's dtype; inputs may share dst's storage in any way
 * (they are read before dst is written, so x[1:] = x[:-1] and x -= x see
 * the old values), and a dst that overlaps itself (an expanded view) gets
 * each of its elements written once per view element, with the same value.
 * dst's storage version is bumped. Nothing is recorded for autograd: the
 * caller decides what an in-place write means for the graph (lib_tensor.c
 * records an index assignment into a tensor with history as an index_put
 * and then writes its result here). Two forms skip the general path:
 *   CAST to dst's dtype, one input     a copy (not checked by
 *                                      --detect-anomaly: it makes no value)
 *   INDEX_PUT with in[0] == dst        dst.flat[pos[j]] = values[j] only
 * and + - * / on f32/f64 run the kernel straight into dst when the inputs
 * have dst's dtype, broadcast to its shape and share its storage only as
 * dst itself. --detect-anomaly checks the op's result before the write. */
bool tensor_apply_into(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *attrs, ObjTensor *dst);
/* Convert a number, list (nested) or tensor Value to a tensor of dtype dt
 * (dt = DT__COUNT: infer f32 for floats, i64 for ints, bool for bools). */
bool tensor_from_value(TCtx *tc, Value v, DType dt, ObjTensor **out);

/* With tc->detect_anomaly (--detect-anomaly), tensor_apply() and the
 * backward pass check every floating-point result for NaN/Inf and raise a
 * runtime error naming the op ("anomaly: `log` produced NaN (input shapes
 * [3])"). */
/* true when t (f32/f64) holds a NaN (*what = "NaN") or an Inf ("Inf"). */
bool tensor_has_nonfinite(const ObjTensor *t, const char **what);

/* ---- autograd (autograd.c) ---- */
/* gradient NULL: ones for a single-element root. Without retain_graph the
 * nodes walked are released (see GradNode). Errors before any gradient is
 * accumulated when the graph was already released or a tensor a rule reads
 * changed in place since it was recorded. */
bool autograd_backward(TCtx *tc, ObjTensor *root, ObjTensor *gradient, bool retain_graph);
GradNode *gradnode_new(TCtx *tc, TensorOp op);
/* Called by tensor_apply() once the node's inputs are set: takes the
 * edges (next, wants) and the storage version of each input. */
void autograd_note_inputs(GradNode *node);
/* An in-place write to t's storage (every view of it sees the change). */
static inline void tensor_bump_version(ObjTensor *t) { t->storage->version++; }

/* ---- the JIT (tensor_graph.c) ---- */
/* Turn recording on or off (off syncs first). */
void tensor_jit_set(TCtx *tc, bool on);
/* --jit-stats: graphs run, compiled and reused, kernels and ops per
 * kernel, compile and kernel time, and the ops that ran at once, why. */
void tensor_jit_stats(TCtx *tc, FILE *f);

/* ---- storage cache (tensor_alloc.c) ---- */
typedef struct {
  uint64_t hits;        /* storage served from the cache */
  uint64_t misses;      /* storage that needed fresh memory from the system */
  uint64_t failures;    /* requests the system refused (out of memory errors) */
  size_t current_bytes; /* capacity of the storage alive now */
  size_t peak_bytes;
  size_t cached_bytes;  /* capacity waiting in the cache (small and large) */
  size_t large_cached_bytes; /* of which large blocks (mmap'd, > 64 MiB) */
  uint64_t large_released;   /* large blocks returned to the system by age or cap */
} TensorAllocStats;
void tensor_alloc_stats(TensorAllocStats *out);
/* Return every cached block to the system (the live ones are untouched). */
void tensor_alloc_trim(void);
/* Called after each collection: large blocks unused for
 * TENSOR_LARGE_IDLE_NS go back to the system. */
void tensor_alloc_age(void);

/* ---- RNG (tensor_rng.c): seeded, documented, reproducible ---- */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);
double rng_uniform(void); /* [0, 1) */
double rng_normal(void);
/* The whole state, for checkpoints: the four xoshiro256** words and the
 * pending Box-Muller normal, if any. */
typedef struct {
  uint64_t words[4];
  bool have_spare;
  double spare;
} RngState;
void rng_get_state(RngState *out);
void rng_set_state(const RngState *in);

#endif
