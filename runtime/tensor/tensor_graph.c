/* The pending graph: recording elementwise ops, running them at a sync
 * point, fusing and compiling graphs that repeat (see tensor_graph.h).
 *
 * A graph is a list of nodes over slots. A slot is one tensor object the
 * graph touches: an input from outside, the target of an in-place write,
 * or a node's result. Slots on the same storage share a storage class (the
 * index of the first of them), which is how aliasing is seen: an in-place
 * write to a parameter and a later read of the same parameter are the same
 * class.
 *
 * At a sync the graph's structure is written down as a key: every slot's
 * dtype, shape, strides, class, offset within its class and producer, and
 * every node's op and slots; not the data and not the scalar attributes.
 * The cache maps keys to plans. A key seen for the first time runs its
 * nodes one by one through the C kernels (what --jit=off does); seen again,
 * it is planned and compiled:
 *
 *   nodes -> groups    consecutive nodes over the same iteration shape,
 *                      cut where a node would read a storage the group
 *                      writes through a different view (or the reverse)
 *   group -> KDesc     one loop nest per group (jit_kernel.h): operands are
 *                      the distinct views the group touches, values stay in
 *                      registers from the op that makes them to the ops
 *                      that use them; a result is stored only when the
 *                      sync needs it, or it is known to be read later
 *                      (the others are "unstored", see Frozen)
 *   KDescs -> module   the kernels not compiled before, as one LLVM module
 *                      (libnsjit.so, loaded on a thread of its own)
 *
 * and later syncs with the same key only gather the data pointers and the
 * arguments (scalar attributes, 0-dim inputs: values that change from step
 * to step, like a scheduled learning rate or Adam's bias corrections) and
 * call the kernels. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jit_kernel.h"
#include "tensor_graph.h"
#include "tensor_int.h"
#include "threadpool.h"

#ifndef NS_JIT_MODULE_PATH
#define NS_JIT_MODULE_PATH "libnsjit.so"
#endif

typedef struct TGraph TGraph;

#define KCACHE_BUCKETS 256
typedef struct KCached {
  struct KCached *next;
  uint64_t hash;
  size_t nwords;
  NsKernelFn fn;
  uint64_t words[];
} KCached;

#define GRAPH_MAX_NODES 512
/* The pending results' storage a graph may hold before it runs: results
 * wait for a sync, and a loop that never reads its tensors must not keep
 * more of them alive than the collector would. */
#define GRAPH_MAX_BYTES ((size_t)64 << 20)
#define CACHE_MAX 4096
/* tc->jit_min: an op whose operands have fewer elements, and are not
 * pending, runs at once (recording it would cost more than the C kernel);
 * results of fewer than 4 * jit_min elements are always stored (the store
 * costs less than remembering how to compute them). */

typedef struct {
  ObjTensor *t;
  int cls;      /* storage class: index of the first slot on this storage */
  int producer; /* the node whose result it is, or -1 */
} GSlot;

typedef struct {
  uint16_t op;
  uint8_t n;
  bool inplace;
  uint8_t dtype; /* the result's */
  bool keep;     /* its result is stored (it was recomputed once already) */
  int16_t in[3], out;
  double a0, a1; /* the op's scalar attributes (clamp bounds, leaky slope) */
} GNode;

/* Where a kernel argument comes from. */
typedef struct {
  int16_t node;  /* >= 0: node's a0 (which 0) or a1 (which 1) */
  int16_t slot;  /* node < 0: the value of this 0-dim slot */
  uint8_t which;
} ArgSrc;

typedef struct {
  NsKernelFn fn;
  int noperands, nargs, nops;
  int16_t operand_slot[KDESC_MAX_OPERANDS];
  ArgSrc args[KDESC_MAX_ARGS];
  int64_t outer, inner; /* dim 0's extent, elements per index of dim 0 */
} Kernel;

typedef struct {
  uint64_t hash;
  uint8_t *key;
  size_t keylen;
  int seen;
  enum { CE_COLD, CE_COMPILED, CE_FAILED } state;
  int nkernels;
  Kernel *kernels;
  int nslots;
  bool *store;   /* per slot: the compiled kernels store this result */
  bool *needed;  /* per slot: a result found alive after a run that did not store it */
} CacheEntry;

/* A graph that ran without storing some of its results (speculative dead
 * stores: most results of a step are temporaries nobody reads again).
 * Each unstored result points here; reading it, or writing to a storage
 * its computation reads, first re-records the ops that compute it into the
 * pending graph (materialize). A result found alive that way is stored by
 * the plan's next compile (needed). Alive while an unstored result is:
 * that result's blacken marks every tensor here. */
typedef struct Frozen {
  struct Frozen *next, *prev;
  int refs;            /* unstored results alive */
  int nnodes, nslots;
  GNode *nodes;
  ObjTensor **slots;
  int *producer;
  uint64_t *version;   /* each slot's storage version when the graph ran */
  bool *virt;          /* the slot is a result that was not stored */
  bool *alive;         /* ... and its tensor is not collected */
  bool *reads;         /* a stored slot the unstored results are computed from (vreaders, a storage ref) */
  TStorage **read_storage;
  CacheEntry *entry;
} Frozen;

typedef struct {
  uint64_t recorded, syncs, compiled_runs, eager_runs, compiles, compile_failures, kernels, kernel_ops,
      max_kernel_ops;
  double compile_ms, compiled_ms, load_ms, load_wait_ms, llvm_ms;
  uint64_t eager_ops[TOP__COUNT][TG__REASONS];
  uint64_t cold, cache_full, full_syncs, recompiles, unstored, waiting; /* eager graph runs: first sighting, no room in the cache */
  char last_failure[256];
} Stats;

struct TGraph {
  GNode nodes[GRAPH_MAX_NODES];
  int nnodes;
  size_t bytes; /* storage of the pending results */
  GSlot *slots;
  int nslots, slotcap;
  bool flushing;

  CacheEntry **cache; /* open addressing, power-of-two size */
  int cachecap, ncache;
  uint8_t *keybuf;
  size_t keylen, keycap;
  uint32_t epoch;       /* a storage with this epoch is in the pending graph */
  bool *storebuf;       /* required_stores' work space */
  size_t storecap;
  Frozen *frozen;       /* graphs with unstored results */
  struct KCached *kcache[KCACHE_BUCKETS]; /* compiled kernels by description */
  TStorage *demand[8];  /* what the sync is for: its results are stored */
  int ndemand;          /* -1: everything */

  /* the JIT module, opened on the first compile */
  void *dl;
  const NsJitApi *api;
  void *jit;
  bool unavailable;
  char unavailable_why[256];
  pthread_t loader; /* while loading: the only writer of dl, api, jit, unavailable* and st.load_ms */
  bool loading, loaded;
  int modules;

  Stats st;
};

static bool is_float(DType d) { return d == DT_F32 || d == DT_F64; }

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static TGraph *graph_of(TCtx *tc) {
  if (!tc->graph) {
    tc->graph = calloc(1, sizeof(TGraph));
    if (tc->graph) tc->graph->epoch = 1;
  }
  return tc->graph;
}

static bool in_graph(const TGraph *g, const TStorage *s) { return s->epoch == g->epoch; }

/* Is s still the business of tc: in the pending graph, an unstored
 * result, or read by one? */
static void relazy(TCtx *tc, TStorage *s) {
  s->lazy = in_graph(tc->graph, s) || s->vreaders || s->virt || s->watch ? tc : NULL;
}

/* A result of a graph run op by op is watched until that graph runs again:
 * if it is read (or used by another graph) in between, it is one the
 * compiled plan must store, learned before the first compile instead of by
 * recompiling. */
static void watched_read(TStorage *s) {
  CacheEntry *e = s->watch;
  if (s->watch_slot < e->nslots) e->needed[s->watch_slot] = true;
  s->watch = NULL;
}

/* ---- recording ---- */

/* The rows of tensor_scalar.def, by op: which ops a kernel can compute. */
static const uint8_t elem_loop[TOP__COUNT] = {
#define ELEM(NAME, LOOP, TYPES, RES, EXPR) [TOP_##NAME] = 1,
#include "tensor_scalar.def"
#undef ELEM
};

static bool is_comparison(TensorOp op) { return op >= TOP_EQ && op <= TOP_GE; }

/* Same storage, same offset, and the same stride on every dim of `shape`
 * that has more than one element (t's strides broadcast to shape). */
static bool same_view(const ObjTensor *t, const ObjTensor *dst) {
  if (t->storage != dst->storage) return true;
  if (t->offset != dst->offset) return false;
  int64_t s[NS_MAX_DIMS];
  tensor_broadcast_strides(t, dst->ndim, dst->shape, s);
  for (int d = 0; d < dst->ndim; d++)
    if (dst->shape[d] > 1 && s[d] != dst->strides[d]) return false;
  return true;
}

bool tgraph_accepts(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *a, ObjTensor *dst,
                    TgReason *why) {
  TGraph *g = tc->graph;
  if (g && g->flushing) return *why = TG__REASONS, false; /* running a graph: ops run at once, uncounted */
  if (!elem_loop[op] && op != TOP_CONTIGUOUS) return *why = TG_NOT_ELEMENTWISE, false;
  if (op == TOP_INDEX_PUT || n > 3) return *why = TG_NOT_ELEMENTWISE, false;
  if (tc->detect_anomaly) return *why = TG_ANOMALY, false;
  /* few elements and nothing pending to wait for: at once (the inputs'
   * sizes stand for the result's: checked before anything costlier) */
  int64_t most = dst ? dst->numel : 0;
  bool pending = dst && tgraph_lazy(dst);
  for (int i = 0; i < n; i++) {
    if (in[i]->numel > most) most = in[i]->numel;
    pending = pending || tgraph_lazy(in[i]);
  }
  if (most < tc->jit_min && !pending) return *why = TG_SMALL, false;
  /* the dtype the row computes in: the inputs' (they must agree) */
  int first = op == TOP_WHERE ? 1 : 0;
  DType cd = in[first]->dtype;
  if (op == TOP_CAST || op == TOP_CONTIGUOUS) {
    DType to = op == TOP_CAST ? a->dtype : cd;
    if (cd == DT_I64 || to == DT_I64) return *why = TG_DTYPE, false;
  } else {
    if (!is_float(cd)) return *why = TG_DTYPE, false;
    for (int i = first; i < n; i++)
      if (in[i]->dtype != cd) return *why = TG_DTYPE, false;
    if (op == TOP_WHERE && in[0]->dtype != DT_BOOL) return *why = TG_DTYPE, false;
  }
  int nd = in[0]->ndim;
  int64_t shape[NS_MAX_DIMS];
  memcpy(shape, in[0]->shape, sizeof(int64_t) * (size_t)nd);
  for (int i = 1; i < n; i++)
    if (!tensor_broadcast_shape(nd, shape, in[i]->ndim, in[i]->shape, &nd, shape))
      return *why = TG_SHAPES, false;
  if (dst) {
    DType rd = op == TOP_CAST ? a->dtype : is_comparison(op) ? DT_BOOL : cd;
    if (rd != dst->dtype) return *why = TG_DTYPE, false;
    /* the result must broadcast to dst, which must not overlap itself */
    if (nd > dst->ndim) return *why = TG_SHAPES, false;
    for (int i = 0; i < nd; i++) {
      int64_t d = shape[i], want = dst->shape[i + dst->ndim - nd];
      if (d != want && d != 1) return *why = TG_SHAPES, false;
    }
    for (int d = 0; d < dst->ndim; d++)
      if (dst->shape[d] > 1 && dst->strides[d] == 0) return *why = TG_OVERLAP, false;
    for (int i = 0; i < n; i++)
      if (!same_view(in[i], dst)) return *why = TG_OVERLAP, false;
  }
  return true;
}

void tgraph_note_eager(TCtx *tc, TensorOp op, TgReason why) {
  TGraph *g = graph_of(tc);
  if (g && !g->flushing) g->st.eager_ops[op][why]++;
}

static int add_slot(TCtx *tc, TGraph *g, ObjTensor *t, int producer) {
  if (t->graph_slot >= 0) return t->graph_slot;
  if (g->nslots == g->slotcap) {
    int cap = g->slotcap ? g->slotcap * 2 : 256;
    GSlot *s = realloc(g->slots, sizeof(GSlot) * (size_t)cap);
    if (!s) return -1;
    g->slots = s;
    g->slotcap = cap;
  }
  int i = g->nslots++;
  TStorage *st = t->storage;
  if (st->watch) watched_read(st);
  if (!in_graph(g, st)) {
    st->epoch = g->epoch;
    st->lazy_class = i;
  }
  st->lazy = tc;
  g->slots[i] = (GSlot){t, st->lazy_class, producer};
  t->graph_slot = i;
  return i;
}

static bool reserve_slots(TCtx *tc, TGraph *g) {
  /* room for four new slots first, so a failure leaves nothing half-recorded */
  if (g->nslots + 4 > g->slotcap) {
    int cap = g->slotcap ? g->slotcap * 2 : 256;
    GSlot *s = realloc(g->slots, sizeof(GSlot) * (size_t)cap);
    if (!s) return tensor_error(tc, "out of memory");
    g->slots = s;
    g->slotcap = cap;
  }
  return true;
}

/* Append node `tmpl` reading in[] and writing out: a new result (or one
 * recomputed), or the target of an in-place write. */
static bool append_node(TCtx *tc, TGraph *g, const GNode *tmpl, ObjTensor **in, ObjTensor *out) {
  if (!reserve_slots(tc, g)) return false;
  GNode *nd = &g->nodes[g->nnodes];
  *nd = *tmpl;
  nd->in[0] = nd->in[1] = nd->in[2] = 0;
  for (int i = 0; i < nd->n; i++) nd->in[i] = (int16_t)add_slot(tc, g, in[i], -1);
  nd->out = (int16_t)add_slot(tc, g, out, nd->inplace ? -1 : g->nnodes);
  g->nnodes++;
  return true;
}

static void frozen_unref(TCtx *tc, Frozen *f);
static bool run_graph(TCtx *tc);

/* Re-record the ops of f that compute its unstored results still alive,
 * into the pending graph (which stores them: keep). `wanted` (may be NULL)
 * is the result somebody reads: the plan learns to store it. */
static bool materialize(TCtx *tc, Frozen *f, const ObjTensor *wanted) {
  TGraph *g = tc->graph;
  if (wanted && f->entry && f->entry->needed && wanted->frozen_slot < f->entry->nslots)
    f->entry->needed[wanted->frozen_slot] = true;
  bool *need = calloc((size_t)f->nslots, 1);
  if (!need) return tensor_error(tc, "out of memory");
  for (int i = 0; i < f->nslots; i++) need[i] = f->alive[i];
  /* a needed result needs the unstored results it is computed from */
  for (int k = f->nnodes - 1; k >= 0; k--) {
    const GNode *nd = &f->nodes[k];
    if (!need[nd->out] || !f->virt[nd->out]) continue;
    for (int j = 0; j < nd->n; j++)
      if (f->virt[nd->in[j]]) need[nd->in[j]] = true;
  }
  f->refs++; /* f stays while its results are handed back */
  bool ok = true;
  for (int k = 0; k < f->nnodes && ok; k++) {
    const GNode *nd = &f->nodes[k];
    if (nd->inplace || !f->virt[nd->out] || !need[nd->out]) continue;
    ObjTensor *in[3] = {NULL, NULL, NULL};
    for (int j = 0; j < nd->n; j++) {
      int sl = nd->in[j];
      in[j] = f->slots[sl];
      if (!f->virt[sl] && in[j]->storage->version != f->version[sl])
        ok = tensor_error(tc, "internal error: a tensor an unstored result is computed from changed (slot %d)", sl);
    }
    if (g->nnodes == GRAPH_MAX_NODES) ok = ok && tensor_sync(tc);
    ObjTensor *out = f->slots[nd->out];
    GNode t = *nd;
    t.keep = true;
    ok = ok && append_node(tc, g, &t, in, out);
    if (out->frozen == f) {
      /* it is an ordinary pending result from now on */
      out->frozen = NULL;
      out->storage->virt = NULL;
      f->alive[nd->out] = false;
      relazy(tc, out->storage);
      f->refs--;
    }
  }
  free(need);
  frozen_unref(tc, f);
  return ok;
}

/* Every frozen graph that computes from s: materialized, so s may change. */
static bool materialize_readers(TCtx *tc, TStorage *s) {
  TGraph *g = tc->graph;
  bool again = true, ok = true;
  while (again && ok && s->vreaders > 0) {
    again = false;
    for (Frozen *f = g->frozen; f && !again; f = f->next)
      for (int i = 0; i < f->nslots; i++)
        if (f->reads[i] && f->slots[i]->storage == s) {
          ok = materialize(tc, f, NULL); /* may free f: start over */
          again = true;
          break;
        }
  }
  return ok;
}

/* Before t is read by a recorded op: its values must be on the way. */
static bool prepare_input(TCtx *tc, ObjTensor *t) {
  TStorage *s = t->storage;
  if (s->virt) return materialize(tc, s->virt->frozen, s->virt);
  return true;
}

/* Before t is written in place: computations that read its present values
 * must not be left for later, and its own values must exist. */
static bool prepare_target(TCtx *tc, ObjTensor *t) {
  if (!prepare_input(tc, t)) return false;
  return t->storage->vreaders == 0 || materialize_readers(tc, t->storage);
}

bool tgraph_record(TCtx *tc, TensorOp op, ObjTensor **in, int n, const TAttrs *a, ObjTensor *dst,
                   ObjTensor **out) {
  TGraph *g = graph_of(tc);
  if (!g) return tensor_error(tc, "out of memory");
  for (int i = 0; i < n; i++)
    if (!prepare_input(tc, in[i])) return false;
  if (dst && !prepare_target(tc, dst)) return false;
  if (g->nnodes == GRAPH_MAX_NODES || g->bytes > GRAPH_MAX_BYTES) {
    g->st.full_syncs++;
    if (!tensor_sync(tc)) return false;
  }
  int first = op == TOP_WHERE ? 1 : 0;
  DType cd = in[first]->dtype;
  DType rd = op == TOP_CAST ? a->dtype : is_comparison(op) ? DT_BOOL : cd;
  ObjTensor *r = dst;
  if (!r) {
    int nd = in[0]->ndim;
    int64_t shape[NS_MAX_DIMS];
    memcpy(shape, in[0]->shape, sizeof(int64_t) * (size_t)nd);
    for (int i = 1; i < n; i++) tensor_broadcast_shape(nd, shape, in[i]->ndim, in[i]->shape, &nd, shape);
    r = tensor_new(tc, rd, nd, shape); /* unwinds on failure */
    g->bytes += r->storage->nbytes;
  }
  GNode t = {.op = (uint16_t)op, .n = (uint8_t)n, .inplace = dst != NULL, .dtype = (uint8_t)rd,
             .a0 = a->scalar[0], .a1 = a->scalar[1]};
  if (!append_node(tc, g, &t, in, r)) return false;
  g->st.recorded++;
  *out = r;
  return true;
}

/* ---- unstored results ---- */

void tgraph_mark_frozen(VM *vm, Frozen *f) {
  for (int i = 0; i < f->nslots; i++) gc_mark_object(vm, (Obj *)f->slots[i]);
}

static void frozen_unref(TCtx *tc, Frozen *f) {
  if (--f->refs > 0) return;
  TGraph *g = tc->graph;
  /* read_storage[] holds a reference: safe even when the slot's tensor is
   * already collected (in the same sweep) */
  for (int i = 0; i < f->nslots; i++)
    if (f->reads[i]) {
      TStorage *s = f->read_storage[i];
      s->vreaders--;
      relazy(tc, s);
      tstorage_release(tc, s);
    }
  if (f->prev) f->prev->next = f->next;
  else g->frozen = f->next;
  if (f->next) f->next->prev = f->prev;
  free(f->nodes);
  free(f->slots);
  free(f->producer);
  free(f->version);
  free(f->virt); /* with alive and reads */
  free(f->read_storage);
  free(f);
}

void tgraph_forget(TCtx *tc, ObjTensor *t) {
  Frozen *f = t->frozen;
  t->frozen = NULL;
  f->alive[t->frozen_slot] = false;
  if (t->storage->virt == t) {
    t->storage->virt = NULL;
    relazy(tc, t->storage);
  }
  frozen_unref(tc, f);
}

bool tensor_touch(TStorage *s) {
  TCtx *tc = s->lazy;
  TGraph *g = tc->graph;
  if (g->flushing) return true; /* a graph's own reads and writes, ordered by it */
  bool ok = true;
  if (s->watch) watched_read(s);
  if (s->virt) ok = materialize(tc, s->virt->frozen, s->virt);
  /* a read or a write: the caller may write through the pointer */
  if (ok && s->vreaders) ok = materialize_readers(tc, s);
  if (ok && in_graph(g, s)) {
    g->demand[0] = s;
    g->ndemand = 1;
    ok = run_graph(tc);
  }
  relazy(tc, s);
  return ok;
}

void tgraph_mark(TCtx *tc) {
  TGraph *g = tc->graph;
  if (!g) return;
  for (int i = 0; i < g->nslots; i++) gc_mark_object(tc->vm, (Obj *)g->slots[i].t);
}

/* ---- the key ---- */

/* The key is a string of 64-bit words, built in one pass into a buffer
 * reserved up front (it is built at every sync, so it must be cheap). */
static bool build_key(TGraph *g) {
  size_t words = 2 + (size_t)g->nnodes * 2;
  for (int i = 0; i < g->nslots; i++) words += 3 + 2 * (size_t)g->slots[i].t->ndim;
  if (words * 8 > g->keycap) {
    size_t cap = g->keycap ? g->keycap : 4096;
    while (cap < words * 8) cap *= 2;
    uint8_t *b = realloc(g->keybuf, cap);
    if (!b) return false;
    g->keybuf = b;
    g->keycap = cap;
  }
  uint64_t *k = (uint64_t *)g->keybuf;
  *k++ = (uint64_t)g->nslots;
  *k++ = (uint64_t)g->nnodes;
  for (int i = 0; i < g->nslots; i++) {
    const GSlot *s = &g->slots[i];
    const ObjTensor *t = s->t;
    *k++ = (uint64_t)t->dtype | (uint64_t)t->ndim << 8 | (uint64_t)(uint32_t)s->cls << 16 |
           (uint64_t)(uint32_t)(s->producer + 1) << 40;
    for (int d = 0; d < t->ndim; d++) {
      *k++ = (uint64_t)t->shape[d];
      *k++ = (uint64_t)t->strides[d];
    }
    *k++ = (uint64_t)(t->offset - g->slots[s->cls].t->offset);
    *k++ = 0x9e3779b97f4a7c15ull; /* slot separator */
  }
  for (int i = 0; i < g->nnodes; i++) {
    const GNode *nd = &g->nodes[i];
    *k++ = (uint64_t)nd->op | (uint64_t)nd->n << 16 | (uint64_t)nd->inplace << 24 | (uint64_t)nd->dtype << 32;
    *k++ = (uint64_t)(uint16_t)nd->in[0] | (uint64_t)(uint16_t)nd->in[1] << 16 |
           (uint64_t)(uint16_t)nd->in[2] << 32 | (uint64_t)(uint16_t)nd->out << 48;
  }
  g->keylen = (size_t)((uint8_t *)k - g->keybuf);
  return true;
}

/* Four independent lanes (the multiplications of one lane wait for each
 * other; four keep the multiplier busy), folded at the end. */
static uint64_t key_hash(const uint8_t *p, size_t n) {
  const uint64_t *w = (const uint64_t *)p;
  size_t nw = n / 8, i = 0;
  uint64_t h[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull};
  for (; i + 4 <= nw; i += 4)
    for (int l = 0; l < 4; l++) h[l] = ((h[l] ^ w[i + l]) * 0xff51afd7ed558ccdull) ^ (h[l] >> 29);
  for (; i < nw; i++) h[0] = ((h[0] ^ w[i]) * 0xff51afd7ed558ccdull) ^ (h[0] >> 29);
  uint64_t r = (uint64_t)nw;
  for (int l = 0; l < 4; l++) {
    r = (r ^ h[l]) * 0xc4ceb9fe1a85ec53ull;
    r ^= r >> 32;
  }
  return r;
}

/* The entry for the key in g->keybuf, added cold when new; NULL when the
 * cache is full. */
static CacheEntry *cache_find(TGraph *g) {
  uint64_t h = key_hash(g->keybuf, g->keylen);
  if (g->ncache * 2 >= g->cachecap && g->ncache < CACHE_MAX) {
    int cap = g->cachecap ? g->cachecap * 2 : 64;
    CacheEntry **c = calloc((size_t)cap, sizeof *c);
    if (c) {
      for (int i = 0; i < g->cachecap; i++) {
        if (!g->cache[i]) continue;
        size_t j = g->cache[i]->hash & (size_t)(cap - 1);
        while (c[j]) j = (j + 1) & (size_t)(cap - 1);
        c[j] = g->cache[i];
      }
      free(g->cache);
      g->cache = c;
      g->cachecap = cap;
    }
  }
  if (!g->cachecap) return NULL;
  size_t j = h & (size_t)(g->cachecap - 1);
  while (g->cache[j]) {
    CacheEntry *e = g->cache[j];
    if (e->hash == h && e->keylen == g->keylen && !memcmp(e->key, g->keybuf, g->keylen)) return e;
    j = (j + 1) & (size_t)(g->cachecap - 1);
  }
  if (g->ncache * 2 >= g->cachecap) return NULL;
  CacheEntry *e = calloc(1, sizeof *e);
  uint8_t *k = malloc(g->keylen);
  bool *flags = calloc((size_t)g->nslots + 1, 2);
  if (!e || !k || !flags) {
    free(e), free(k), free(flags);
    return NULL;
  }
  memcpy(k, g->keybuf, g->keylen);
  *e = (CacheEntry){.hash = h, .key = k, .keylen = g->keylen, .nslots = g->nslots, .store = flags,
                    .needed = flags + g->nslots + 1};
  g->cache[j] = e;
  g->ncache++;
  return e;
}

/* ---- planning: nodes -> groups -> kernel descriptions ---- */

/* A view of a storage class over a group's iteration shape. */
typedef struct {
  int cls;
  int64_t offset;
  int64_t strides[NS_MAX_DIMS];
} View;

static void view_of(const TGraph *g, int slot, int nd, const int64_t *shape, View *v) {
  const GSlot *s = &g->slots[slot];
  v->cls = s->cls;
  v->offset = s->t->offset - g->slots[s->cls].t->offset;
  tensor_broadcast_strides(s->t, nd, shape, v->strides);
  for (int d = 0; d < nd; d++)
    if (shape[d] == 1) v->strides[d] = 0;
  for (int d = nd; d < NS_MAX_DIMS; d++) v->strides[d] = 0;
}

static bool view_eq(const View *a, const View *b) {
  return a->cls == b->cls && a->offset == b->offset && !memcmp(a->strides, b->strides, sizeof a->strides);
}

/* A 0-dim float input that nothing in the graph writes: passed by value. */
static bool is_arg_slot(const TGraph *g, int slot, const bool *written) {
  const GSlot *s = &g->slots[slot];
  return s->t->ndim == 0 && s->producer < 0 && is_float(s->t->dtype) && !written[s->cls];
}

typedef struct {
  KDesc d;
  Kernel k;
  View views[KDESC_MAX_OPERANDS];
  int value_of[KDESC_MAX_OPERANDS]; /* the operand's current value number, or -1 */
  bool written[KDESC_MAX_OPERANDS];
  int16_t arg_value[KDESC_MAX_ARGS]; /* for 0-dim slots: the KI_ARG's value number */
  int16_t arg_slot[KDESC_MAX_ARGS];
  int nslotargs;
  int nd;
  int64_t shape[NS_MAX_DIMS];
  /* results: which are stored, and, for those that are not, their value
   * in the group that computes them */
  const bool *store;
  int *slot_value, *slot_group, *node_group;
  int group;
} Builder;

static int find_operand(const Builder *b, const View *v) {
  for (int i = 0; i < b->d.noperands; i++)
    if (view_eq(&b->views[i], v)) return i;
  return -1;
}

/* Would node i's accesses conflict with what the group did so far? A class
 * written in the group may be touched only through the view it was written
 * with; and the same the other way round. */
static bool conflicts(const TGraph *g, const Builder *b, const GNode *nd, const bool *written) {
  for (int k = 0; k <= nd->n; k++) {
    int slot = k < nd->n ? nd->in[k] : nd->out;
    bool is_write = k == nd->n;
    if (!is_write && is_arg_slot(g, slot, written)) continue;
    View v;
    view_of(g, slot, b->nd, b->shape, &v);
    for (int o = 0; o < b->d.noperands; o++) {
      if (b->views[o].cls != v.cls || view_eq(&b->views[o], &v)) continue;
      if (is_write || b->written[o]) return true;
    }
  }
  return false;
}

static bool fits(const Builder *b, const GNode *nd) {
  return b->d.noperands + nd->n + 1 <= KDESC_MAX_OPERANDS && b->d.ninstrs + 2 * nd->n + 3 <= KDESC_MAX_INSTRS &&
         b->d.nargs + nd->n + 2 <= KDESC_MAX_ARGS;
}

static int emit(Builder *b, KInstr in) {
  b->d.instrs[b->d.ninstrs] = in;
  return b->d.ninstrs++;
}

static int operand(Builder *b, const TGraph *g, int slot) {
  View v;
  view_of(g, slot, b->nd, b->shape, &v);
  int o = find_operand(b, &v);
  if (o >= 0) return o;
  o = b->d.noperands++;
  b->views[o] = v;
  b->value_of[o] = -1;
  b->written[o] = false;
  b->d.operand_dtype[o] = (uint8_t)g->slots[slot].t->dtype;
  memcpy(b->d.strides[o], v.strides, sizeof v.strides);
  b->k.operand_slot[o] = (int16_t)slot;
  return o;
}

static int value_of_input(Builder *b, const TGraph *g, int slot, const bool *written) {
  if (is_arg_slot(g, slot, written)) {
    for (int i = 0; i < b->nslotargs; i++)
      if (b->arg_slot[i] == slot) return b->arg_value[i];
    int a = b->d.nargs++;
    b->k.args[a] = (ArgSrc){.node = -1, .slot = (int16_t)slot};
    int v = emit(b, (KInstr){.kind = KI_ARG, .dtype = (uint8_t)g->slots[slot].t->dtype, .a = (int16_t)a, .arg = -1});
    b->arg_slot[b->nslotargs] = (int16_t)slot;
    b->arg_value[b->nslotargs++] = (int16_t)v;
    return v;
  }
  if (b->slot_group[slot] == b->group) return b->slot_value[slot]; /* computed here, not stored */
  int o = operand(b, g, slot);
  if (b->value_of[o] < 0)
    b->value_of[o] = emit(b, (KInstr){.kind = KI_LOAD, .dtype = b->d.operand_dtype[o], .a = (int16_t)o, .arg = -1});
  return b->value_of[o];
}

static void add_node(Builder *b, const TGraph *g, int i, const bool *written) {
  const GNode *nd = &g->nodes[i];
  int v[3] = {0, 0, 0};
  for (int k = 0; k < nd->n; k++) v[k] = value_of_input(b, g, nd->in[k], written);
  int16_t arg = -1;
  if (nd->op == TOP_CLAMP || nd->op == TOP_LEAKY_RELU) {
    arg = (int16_t)b->d.nargs;
    b->k.args[b->d.nargs++] = (ArgSrc){.node = (int16_t)i, .which = 0};
    b->k.args[b->d.nargs++] = (ArgSrc){.node = (int16_t)i, .which = 1};
  }
  TensorOp op = nd->op == TOP_CONTIGUOUS ? TOP_CAST : (TensorOp)nd->op;
  int r = emit(b, (KInstr){.kind = KI_OP, .dtype = nd->dtype, .op = (uint16_t)op, .a = (int16_t)v[0],
                           .b = (int16_t)v[1], .c = (int16_t)v[2], .arg = arg});
  b->node_group[i] = b->group;
  b->k.nops++;
  if (!b->store[nd->out]) {
    b->slot_group[nd->out] = b->group;
    b->slot_value[nd->out] = r;
    return;
  }
  int o = operand(b, g, nd->out);
  emit(b, (KInstr){.kind = KI_STORE, .a = (int16_t)o, .b = (int16_t)r, .arg = -1});
  b->value_of[o] = r;
  b->written[o] = true;
}

/* Drop size-1 dims and merge dims contiguous across every operand; the
 * iteration space becomes [outer, ...] with at least one dim. */
static void collapse(KDesc *d) {
  int nd = 0;
  int64_t shape[NS_MAX_DIMS];
  int64_t st[KDESC_MAX_OPERANDS][NS_MAX_DIMS];
  for (int i = 0; i < d->ndim; i++) {
    if (d->shape[i] == 1) continue;
    if (nd > 0) {
      bool merge = true;
      for (int o = 0; o < d->noperands && merge; o++)
        merge = st[o][nd - 1] == d->strides[o][i] * d->shape[i];
      if (merge) {
        shape[nd - 1] *= d->shape[i];
        for (int o = 0; o < d->noperands; o++) st[o][nd - 1] = d->strides[o][i];
        continue;
      }
    }
    shape[nd] = d->shape[i];
    for (int o = 0; o < d->noperands; o++) st[o][nd] = d->strides[o][i];
    nd++;
  }
  if (nd == 0) {
    shape[0] = d->ndim && d->shape[0] == 0 ? 0 : 1;
    for (int i = 0; i < d->ndim; i++)
      if (d->shape[i] == 0) shape[0] = 0;
    for (int o = 0; o < d->noperands; o++) st[o][0] = 0;
    nd = 1;
  }
  d->ndim = nd;
  memcpy(d->shape, shape, sizeof shape);
  for (int o = 0; o < d->noperands; o++) {
    memset(d->strides[o], 0, sizeof d->strides[o]);
    memcpy(d->strides[o], st[o], sizeof(int64_t) * (size_t)nd);
  }
}

static void begin_group(Builder *b, const TGraph *g, int i) {
  b->group++;
  memset(&b->d, 0, sizeof b->d);
  memset(&b->k, 0, sizeof b->k);
  b->nslotargs = 0;
  const ObjTensor *o = g->slots[g->nodes[i].out].t;
  b->nd = o->ndim;
  memcpy(b->shape, o->shape, sizeof b->shape);
}

static bool same_shape(const Builder *b, const ObjTensor *t) {
  return t->ndim == b->nd && !memcmp(t->shape, b->shape, sizeof(int64_t) * (size_t)b->nd);
}

static void end_group(Builder *b, KDesc *descs, Kernel *kernels, int *nk) {
  b->d.ndim = b->nd;
  memcpy(b->d.shape, b->shape, sizeof b->shape);
  for (int o = 0; o < b->d.noperands; o++)
    for (int d = 0; d < b->nd; d++)
      if (b->shape[d] == 1) b->d.strides[o][d] = 0;
  collapse(&b->d);
  b->k.noperands = b->d.noperands;
  b->k.nargs = b->d.nargs;
  b->k.outer = b->d.shape[0];
  b->k.inner = 1;
  for (int d = 1; d < b->d.ndim; d++) b->k.inner *= b->d.shape[d];
  descs[*nk] = b->d;
  kernels[*nk] = b->k;
  ++*nk;
}

static void build(const TGraph *g, Builder *b, const bool *written, KDesc *descs, Kernel *kernels, int *nk) {
  *nk = 0;
  b->group = 0;
  for (int i = 0; i < g->nslots; i++) b->slot_group[i] = -1;
  for (int i = 0; i < g->nnodes; i++) {
    const GNode *nd = &g->nodes[i];
    bool start = i == 0;
    if (!start)
      start = !same_shape(b, g->slots[nd->out].t) || !fits(b, nd) || conflicts(g, b, nd, written);
    if (start) {
      if (i > 0) end_group(b, descs, kernels, nk);
      begin_group(b, g, i);
    }
    add_node(b, g, i, written);
  }
  if (g->nnodes) end_group(b, descs, kernels, nk);
}

/* Group the nodes and describe each group (*nk kernels). store[] says
 * which results must be stored; a result read by a later group is stored
 * too, and store[] is updated to what the kernels store. */
static bool plan(const TGraph *g, bool *store, KDesc **descs_out, Kernel **kernels_out, int *nk) {
  size_t ns = (size_t)g->nslots + 1;
  bool *written = calloc(ns, 1), *all = malloc(ns);
  int *ints = malloc(sizeof(int) * (ns * 2 + (size_t)g->nnodes));
  KDesc *descs = malloc(sizeof(KDesc) * (size_t)g->nnodes);
  Kernel *kernels = malloc(sizeof(Kernel) * (size_t)g->nnodes);
  Builder *b = malloc(sizeof *b);
  if (!written || !all || !ints || !descs || !kernels || !b) {
    free(written), free(all), free(ints), free(descs), free(kernels), free(b);
    return false;
  }
  for (int i = 0; i < g->nnodes; i++) written[g->slots[g->nodes[i].out].cls] = true;
  b->slot_value = ints;
  b->slot_group = ints + ns;
  b->node_group = ints + 2 * ns;
  /* the groups, with every result stored; then what crosses groups */
  memset(all, 1, ns);
  b->store = all;
  build(g, b, written, descs, kernels, nk);
  for (int i = 0; i < g->nslots; i++) store[i] = store[i] || g->slots[i].producer < 0;
  /* fewer stores change the groups (fewer operands): rebuild until no
   * result that is not stored is read outside its group */
  b->store = store;
  for (bool built = false;;) {
    bool more = false;
    for (int i = 0; i < g->nnodes; i++) {
      const GNode *nd = &g->nodes[i];
      for (int j = 0; j < nd->n; j++) {
        int p = g->slots[nd->in[j]].producer;
        if (p >= 0 && b->node_group[p] != b->node_group[i] && !store[nd->in[j]]) more = store[nd->in[j]] = true;
      }
    }
    if (built && !more) break;
    build(g, b, written, descs, kernels, nk);
    built = true;
  }
  free(written);
  free(all);
  free(ints);
  free(b);
  *descs_out = descs;
  *kernels_out = kernels;
  return true;
}

/* ---- the JIT module ---- */

/* Opening the module loads LLVM (about 60 ms): it happens on a thread of
 * its own, started when the first graph is seen again (a program that never
 * repeats a graph never loads LLVM); graphs keep running op by op until it
 * is done (module_ready), so the program does not wait for it. */
static void *load_thread(void *arg) {
  TGraph *g = arg;
  double t0 = now_ms();
  const char *path = getenv("NS_JIT_MODULE");
  if (!path || !*path) path = NS_JIT_MODULE_PATH;
  g->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  const char *why = NULL;
  if (!g->dl) {
    why = dlerror();
  } else {
    const NsJitApi *(*get)(void) = (const NsJitApi *(*)(void))dlsym(g->dl, "ns_jit_api");
    const NsJitApi *api = get ? get() : NULL;
    if (!api || api->abi != NS_JIT_ABI) {
      why = "the module is not this build's (ns_jit_api missing or of another version)";
    } else {
      char err[256] = "";
      const char *dump = getenv("NS_JIT_DUMP");
      if (dump && *dump) mkdir(dump, 0777); /* an existing one is fine; a bad one fails the compile, reported */
      g->jit = api->create(dump && *dump ? dump : NULL, err, sizeof err);
      if (!g->jit) {
        snprintf(g->unavailable_why, sizeof g->unavailable_why, "%s", err);
        g->unavailable = true;
        __atomic_store_n(&g->loaded, true, __ATOMIC_RELEASE);
        return NULL;
      }
      g->api = api;
      g->st.load_ms = now_ms() - t0;
      __atomic_store_n(&g->loaded, true, __ATOMIC_RELEASE);
      return NULL;
    }
  }
  snprintf(g->unavailable_why, sizeof g->unavailable_why, "cannot load %s: %s", path, why ? why : "?");
  g->unavailable = true;
  __atomic_store_n(&g->loaded, true, __ATOMIC_RELEASE);
  return NULL;
}

static void start_loading(TGraph *g) {
  if (g->loading || g->api || g->unavailable) return;
  g->loading = pthread_create(&g->loader, NULL, load_thread, g) == 0;
  if (!g->loading) load_thread(g); /* no thread: load here */
}

/* Is the module there (starting to load it if not)? Never waits. */
static bool module_ready(TGraph *g) {
  start_loading(g);
  if (g->loading && __atomic_load_n(&g->loaded, __ATOMIC_ACQUIRE)) {
    pthread_join(g->loader, NULL);
    g->loading = false;
  }
  return !g->loading;
}

static bool load_module(TGraph *g) {
  start_loading(g);
  if (g->loading) {
    double t0 = now_ms();
    pthread_join(g->loader, NULL);
    g->loading = false;
    g->st.load_wait_ms += now_ms() - t0;
  }
  return g->api != NULL;
}

/* Compile e's plan so that it stores at least what store[] says (and what
 * was found needed); e->store becomes what it stores. */
/* Compiled kernels by description: the bytes of a KDesc that are used. */
static size_t kdesc_bytes(const KDesc *d, uint64_t *buf) {
  size_t n = 0;
  buf[n++] = (uint64_t)d->ndim | (uint64_t)d->noperands << 8 | (uint64_t)d->ninstrs << 16 | (uint64_t)d->nargs << 32;
  for (int i = 0; i < d->ndim; i++) buf[n++] = (uint64_t)d->shape[i];
  for (int o = 0; o < d->noperands; o++) {
    buf[n++] = d->operand_dtype[o];
    for (int i = 0; i < d->ndim; i++) buf[n++] = (uint64_t)d->strides[o][i];
  }
  for (int i = 0; i < d->ninstrs; i++) {
    const KInstr *k = &d->instrs[i];
    buf[n++] = (uint64_t)k->kind | (uint64_t)k->dtype << 8 | (uint64_t)k->op << 16 | (uint64_t)(uint16_t)k->a << 32 |
               (uint64_t)(uint16_t)k->b << 48;
    buf[n++] = (uint64_t)(uint16_t)k->c | (uint64_t)(uint16_t)k->arg << 16;
  }
  return n;
}

#define KDESC_WORDS (1 + NS_MAX_DIMS + KDESC_MAX_OPERANDS * (1 + NS_MAX_DIMS) + 2 * KDESC_MAX_INSTRS)

static NsKernelFn kcache_get(TGraph *g, const KDesc *d) {
  uint64_t buf[KDESC_WORDS];
  size_t n = kdesc_bytes(d, buf);
  uint64_t h = key_hash((const uint8_t *)buf, n * 8);
  for (KCached *k = g->kcache[h & (KCACHE_BUCKETS - 1)]; k; k = k->next)
    if (k->hash == h && k->nwords == n && !memcmp(k->words, buf, n * 8)) return k->fn;
  return NULL;
}

static void kcache_put(TGraph *g, const KDesc *d, NsKernelFn fn) {
  uint64_t buf[KDESC_WORDS];
  size_t n = kdesc_bytes(d, buf);
  KCached *k = malloc(sizeof *k + n * 8);
  if (!k) return; /* only a lost chance to reuse it */
  k->hash = key_hash((const uint8_t *)buf, n * 8);
  k->nwords = n;
  k->fn = fn;
  memcpy(k->words, buf, n * 8);
  k->next = g->kcache[k->hash & (KCACHE_BUCKETS - 1)];
  g->kcache[k->hash & (KCACHE_BUCKETS - 1)] = k;
}

static void compile_entry(TGraph *g, CacheEntry *e, bool *store) {
  double t0 = now_ms();
  KDesc *descs = NULL;
  Kernel *kernels = NULL;
  int nk = 0;
  char err[256] = "";
  bool ok = false;
  if (!load_module(g)) {
    snprintf(err, sizeof err, "%s", g->unavailable_why);
  } else if (!plan(g, store, &descs, &kernels, &nk)) {
    snprintf(err, sizeof err, "out of memory while planning");
  } else {
    /* kernels compiled before (by another graph, or this one before a
     * recompile) are reused; the rest are compiled as one module */
    const KDesc **dp = malloc(sizeof(KDesc *) * (size_t)(nk ? nk : 1));
    NsKernelFn *fns = malloc(sizeof(NsKernelFn) * (size_t)(nk ? nk : 1));
    int *which = malloc(sizeof(int) * (size_t)(nk ? nk : 1));
    if (dp && fns && which) {
      int nnew = 0;
      ok = true;
      for (int i = 0; i < nk; i++) {
        kernels[i].fn = kcache_get(g, &descs[i]);
        if (!kernels[i].fn) {
          dp[nnew] = &descs[i];
          which[nnew++] = i;
        }
      }
      if (nnew) {
        char name[32];
        snprintf(name, sizeof name, "graph%d", ++g->modules);
        double t1 = now_ms();
        ok = g->api->compile(g->jit, name, dp, nnew, fns, err, sizeof err);
        g->st.llvm_ms += now_ms() - t1;
        for (int i = 0; ok && i < nnew; i++) {
          kernels[which[i]].fn = fns[i];
          kcache_put(g, dp[i], fns[i]);
        }
      }
    } else {
      snprintf(err, sizeof err, "out of memory while compiling");
    }
    free(dp);
    free(fns);
    free(which);
  }
  free(descs);
  g->st.compile_ms += now_ms() - t0;
  if (!ok) {
    free(kernels);
    free(e->kernels);
    e->kernels = NULL;
    e->nkernels = 0;
    e->state = CE_FAILED;
    g->st.compile_failures++;
    snprintf(g->st.last_failure, sizeof g->st.last_failure, "%s", err);
    return;
  }
  e->state = CE_COMPILED;
  free(e->kernels); /* a recompile: the old code stays in the JIT, unused */
  e->kernels = kernels;
  memcpy(e->store, store, (size_t)g->nslots);
  e->nkernels = nk;
  g->st.compiles++;
  g->st.kernels += (uint64_t)nk;
  for (int i = 0; i < nk; i++) {
    g->st.kernel_ops += (uint64_t)kernels[i].nops;
    if ((uint64_t)kernels[i].nops > g->st.max_kernel_ops) g->st.max_kernel_ops = (uint64_t)kernels[i].nops;
  }
}

/* ---- running ---- */

typedef struct {
  NsKernelFn fn;
  char **ptrs;
  const double *args;
} Call;

static void call_range(int64_t lo, int64_t hi, void *ctx) {
  Call *c = ctx;
  c->fn(c->ptrs, c->args, lo, hi);
}

static void run_compiled(TGraph *g, const CacheEntry *e) {
  double t0 = now_ms();
  char *ptrs[KDESC_MAX_OPERANDS];
  double args[KDESC_MAX_ARGS];
  for (int k = 0; k < e->nkernels; k++) {
    const Kernel *kn = &e->kernels[k];
    for (int o = 0; o < kn->noperands; o++) {
      const ObjTensor *t = g->slots[kn->operand_slot[o]].t;
      ptrs[o] = (char *)t->storage->data + t->offset * (int64_t)tensor_dtype_sizes[t->dtype];
    }
    for (int a = 0; a < kn->nargs; a++) {
      const ArgSrc *s = &kn->args[a];
      if (s->node >= 0) {
        const GNode *nd = &g->nodes[s->node];
        double v = s->which ? nd->a1 : nd->a0;
        if (nd->op == TOP_CLAMP && v != v) v = s->which ? INFINITY : -INFINITY; /* a NaN bound is none */
        args[a] = v;
      } else {
        args[a] = tensor_get(g->slots[s->slot].t, 0);
      }
    }
    if (kn->outer == 0 || kn->inner == 0) continue;
    Call c = {kn->fn, ptrs, args};
    int64_t total = kn->outer * kn->inner;
    if (total >= 2 * POOL_GRAIN && kn->outer > 1) {
      int64_t grain = POOL_GRAIN / kn->inner;
      pool_parallel_for(kn->outer, grain > 0 ? grain : 1, call_range, &c);
    } else {
      kn->fn(ptrs, args, 0, kn->outer);
    }
  }
  g->st.compiled_ms += now_ms() - t0;
}

/* One node through the C kernels, writing the tensor the graph promised. */
static bool run_node(TCtx *tc, TGraph *g, const GNode *nd) {
  ObjTensor *in[3] = {NULL, NULL, NULL};
  for (int i = 0; i < nd->n; i++) in[i] = g->slots[nd->in[i]].t;
  ObjTensor *out = g->slots[nd->out].t;
  TAttrs at = {.dtype = (DType)nd->dtype};
  at.scalar[0] = nd->a0;
  at.scalar[1] = nd->a1;
  if (nd->inplace) {
    /* the version was bumped when the write was recorded */
    uint64_t v = out->storage->version;
    bool ok = tensor_apply_into(tc, (TensorOp)nd->op, in, nd->n, &at, out);
    out->storage->version = v;
    return ok;
  }
  int grad = tc->grad_enabled;
  tc->grad_enabled = 0;
  ObjTensor *r;
  bool ok = tensor_apply(tc, (TensorOp)nd->op, in, nd->n, &at, &r);
  tc->grad_enabled = grad;
  if (!ok) return false;
  if (out->storage->refcount == 1 && r->storage != out->storage && tensor_is_contiguous(r) &&
      r->offset == 0 && r->dtype == out->dtype) {
    /* adopt the kernel's storage: no copy */
    TStorage *old = out->storage;
    out->storage = r->storage;
    out->storage->refcount++;
    out->storage->version = old->version;
    tstorage_release(tc, old);
  } else {
    tensor_copy_into(out, r);
  }
  return true;
}

/* After a compiled run: the results it did not store wait in a Frozen. */
static void freeze(TCtx *tc, TGraph *g, CacheEntry *e) {
  int nv = 0;
  for (int i = 0; i < g->nslots; i++) nv += g->slots[i].producer >= 0 && !e->store[i];
  if (nv == 0) return;
  int ns = g->nslots;
  Frozen *f = calloc(1, sizeof *f);
  if (f) {
    f->nodes = malloc(sizeof(GNode) * (size_t)g->nnodes);
    f->slots = malloc(sizeof(ObjTensor *) * (size_t)ns);
    f->producer = malloc(sizeof(int) * (size_t)ns);
    f->version = malloc(sizeof(uint64_t) * (size_t)ns);
    f->virt = calloc((size_t)ns, 3);
    f->read_storage = calloc((size_t)ns, sizeof(TStorage *));
  }
  if (!f || !f->nodes || !f->slots || !f->producer || !f->version || !f->virt || !f->read_storage) {
    /* no room to remember how to compute them: nothing is left unstored
     * because e->store is what the kernels stored... which is not all */
    if (f) {
      free(f->nodes), free(f->slots), free(f->producer), free(f->version), free(f->virt), free(f->read_storage);
      free(f);
    }
    memset(e->needed, 1, (size_t)ns); /* the next compile stores everything */
    return;
  }
  f->alive = f->virt + ns;
  f->reads = f->virt + 2 * ns;
  f->nnodes = g->nnodes;
  f->nslots = ns;
  f->entry = e;
  memcpy(f->nodes, g->nodes, sizeof(GNode) * (size_t)g->nnodes);
  for (int i = 0; i < ns; i++) {
    f->slots[i] = g->slots[i].t;
    f->producer[i] = g->slots[i].producer;
    f->version[i] = g->slots[i].t->storage->version;
    f->virt[i] = f->alive[i] = g->slots[i].producer >= 0 && !e->store[i];
  }
  for (int k = 0; k < g->nnodes; k++) {
    const GNode *nd = &g->nodes[k];
    if (!f->virt[nd->out]) continue;
    for (int j = 0; j < nd->n; j++)
      if (!f->virt[nd->in[j]]) f->reads[nd->in[j]] = true;
  }
  for (int i = 0; i < ns; i++) {
    TStorage *st = f->slots[i]->storage;
    if (f->reads[i]) {
      f->read_storage[i] = st;
      st->refcount++;
      st->vreaders++;
      st->lazy = tc;
    }
    if (f->virt[i]) {
      ObjTensor *t = f->slots[i];
      t->frozen = f;
      t->frozen_slot = i;
      st->virt = t;
      st->lazy = tc;
      f->refs++;
    }
  }
  f->next = g->frozen;
  if (g->frozen) g->frozen->prev = f;
  g->frozen = f;
  g->st.unstored += (uint64_t)nv;
}

/* Which results this run must store: what the sync is for, results with
 * views, results recomputed once already, results found needed before, and
 * results computed from a storage the graph writes in place (their inputs
 * would be gone). */
static void required_stores(const TCtx *tc, const TGraph *g, const CacheEntry *e, bool *store) {
  int ns = g->nslots;
  bool *inplace_cls = store + ns, *unsafe = store + 2 * ns;
  memset(store, 0, (size_t)ns * 3);
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i].inplace) inplace_cls[g->slots[g->nodes[i].out].cls] = true;
  for (int i = 0; i < g->nnodes; i++) {
    const GNode *nd = &g->nodes[i];
    for (int j = 0; j < nd->n; j++) {
      int sl = nd->in[j];
      unsafe[nd->out] = unsafe[nd->out] || inplace_cls[g->slots[sl].cls] || unsafe[sl];
    }
  }
  for (int i = 0; i < ns; i++) {
    const GSlot *sl = &g->slots[i];
    if (sl->producer < 0) continue;
    bool demanded = g->ndemand < 0;
    for (int k = 0; k < g->ndemand && !demanded; k++) demanded = g->demand[k] == sl->t->storage;
    store[i] = demanded || sl->t->storage->refcount > 1 || g->nodes[sl->producer].keep || unsafe[i] ||
               e->needed[i] || sl->t->numel < 4 * tc->jit_min ||
               inplace_cls[sl->cls]; /* written in place: a side effect */
  }
}

/* Run the pending graph; the results in g->demand (all when ndemand < 0)
 * are stored, others may be left for later (freeze). */
static bool run_graph(TCtx *tc) {
  TGraph *g = tc->graph;
  if (!g || g->nnodes == 0 || g->flushing) return true;
  g->flushing = true;
  g->st.syncs++;
  g->epoch++; /* nothing is in the pending graph any more */
  for (int i = 0; i < g->nslots; i++) relazy(tc, g->slots[i].t->storage);
  CacheEntry *e = NULL;
  if (build_key(g)) e = cache_find(g);
  if (!e) g->st.cache_full++;
  bool *store = NULL;
  if (e) {
    e->seen++;
    bool hot = e->state == CE_COLD && e->seen >= 2;
    if (hot && tc->jit_wait) {
      load_module(g); /* a failure is the compile's to report */
    } else if (hot && !module_ready(g)) {
      hot = false; /* op by op until LLVM is loaded */
      g->st.waiting++;
    }
    if (e->state == CE_COMPILED || hot) {
      if ((size_t)g->nslots * 3 + 1 > g->storecap) {
        size_t cap = (size_t)g->slotcap * 3 + 1;
        bool *b = realloc(g->storebuf, cap);
        if (b) {
          g->storebuf = b;
          g->storecap = cap;
        }
      }
      store = (size_t)g->nslots * 3 + 1 <= g->storecap ? g->storebuf : NULL;
      if (store) {
        required_stores(tc, g, e, store);
        bool recompile = e->state == CE_COLD;
        for (int i = 0; i < g->nslots && !recompile; i++) recompile = store[i] && !e->store[i];
        if (recompile) {
          if (e->state == CE_COMPILED) g->st.recompiles++;
          compile_entry(g, e, store);
        }
      }
    }
  }
  bool ok = true;
  if (e && e->state == CE_COMPILED && store) {
    run_compiled(g, e);
    g->st.compiled_runs++;
    freeze(tc, g, e);
  } else {
    if (e && e->state == CE_COLD) g->st.cold++;
    g->st.eager_runs++;
    /* recorded ops were never meant to be checked one by one (a backward
     * rule's ops are checked as the rule's result) */
    bool anomaly = tc->detect_anomaly;
    tc->detect_anomaly = false;
    for (int i = 0; i < g->nnodes && ok; i++) ok = run_node(tc, g, &g->nodes[i]);
    tc->detect_anomaly = anomaly;
    if (e && e->state == CE_COLD)
      for (int i = 0; i < g->nslots; i++) {
        TStorage *st = g->slots[i].t->storage; /* run_node may have given it new storage */
        if (g->slots[i].producer < 0 || st->virt || st->vreaders) continue;
        st->watch = e;
        st->watch_slot = i;
        st->lazy = tc;
      }
  }
  for (int i = 0; i < g->nslots; i++) g->slots[i].t->graph_slot = -1;
  g->nslots = 0;
  g->nnodes = 0;
  g->bytes = 0;
  g->ndemand = 0;
  g->flushing = false;
  return ok;
}

bool tensor_sync(TCtx *tc) {
  TGraph *g = tc->graph;
  if (!g || g->nnodes == 0 || g->flushing) return true;
  g->ndemand = -1;
  return run_graph(tc);
}

bool tgraph_sync_for(TCtx *tc, ObjTensor **in, int n, ObjTensor *dst) {
  TGraph *g = tc->graph;
  if (!g || g->flushing) return true;
  g->ndemand = 0;
  for (int i = 0; i <= n; i++) {
    ObjTensor *t = i < n ? in[i] : dst;
    if (!t || !t->storage->lazy) continue;
    if (g->ndemand >= 0 && g->ndemand < 8) g->demand[g->ndemand++] = t->storage;
    else g->ndemand = -1;
  }
  if (g->ndemand == 0) return true;
  bool ok = g->nnodes == 0 || run_graph(tc);
  /* and what else they need: unstored values, recomputations their writes would spoil */
  for (int i = 0; i <= n && ok; i++) {
    ObjTensor *t = i < n ? in[i] : dst;
    if (t && t->storage->lazy) ok = tensor_touch(t->storage);
  }
  return ok;
}

void tgraph_free(TCtx *tc) {
  TGraph *g = tc->graph;
  if (!g) return;
  if (g->loading) pthread_join(g->loader, NULL);
  /* the heap is gone by now: the pending graph's tensors are not touched
   * (the embedding API syncs before it frees the interpreter) */
  for (int i = 0; i < g->cachecap; i++) {
    if (!g->cache[i]) continue;
    free(g->cache[i]->key);
    free(g->cache[i]->kernels);
    free(g->cache[i]->store);
    free(g->cache[i]);
  }
  /* frozen graphs went with their tensors (gc_free_all); free any left */
  while (g->frozen) {
    Frozen *f = g->frozen;
    g->frozen = f->next;
    free(f->nodes), free(f->slots), free(f->producer), free(f->version), free(f->virt), free(f->read_storage);
    free(f);
  }
  free(g->cache);
  for (int i = 0; i < KCACHE_BUCKETS; i++)
    for (KCached *k = g->kcache[i], *next; k; k = next) {
      next = k->next;
      free(k);
    }
  free(g->slots);
  free(g->storebuf);
  free(g->keybuf);
  if (g->api && g->jit) g->api->destroy(g->jit);
  /* the module stays mapped: another context may be using it, and
   * unloading LLVM is not worth its risk at exit */
  free(g);
  tc->graph = NULL;
}

/* ---- control and statistics ---- */

void tensor_jit_set(TCtx *tc, bool on) {
  if (!on) tensor_sync(tc);
  tc->jit = on;
}

static const char *const reason_text[TG__REASONS] = {
    [TG_NOT_ELEMENTWISE] = "not elementwise (runs at once; a sync when an input is pending)",
    [TG_DTYPE] = "integer or mixed dtypes",
    [TG_SHAPES] = "shapes that do not broadcast (the error is reported at once)",
    [TG_OVERLAP] = "in-place write overlapping its source through another view",
    [TG_ANOMALY] = "--detect-anomaly",
    [TG_SMALL] = "few elements, nothing pending (cheaper at once; NS_JIT_MIN_ELEMENTS)",
};

void tensor_jit_stats(TCtx *tc, FILE *f) {
  TGraph *g = tc->graph;
  fprintf(f, "jit: %s\n", tc->jit ? "on" : "off");
  if (!g) {
    fprintf(f, "jit: no tensor ops recorded\n");
    return;
  }
  const Stats *s = &g->st;
  fprintf(f, "jit: ops recorded        %llu\n", (unsigned long long)s->recorded);
  fprintf(f, "jit: graphs run          %llu (compiled %llu, op by op %llu: first sighting %llu, while LLVM loaded %llu)\n",
          (unsigned long long)s->syncs, (unsigned long long)s->compiled_runs, (unsigned long long)s->eager_runs,
          (unsigned long long)(s->cold - s->waiting), (unsigned long long)s->waiting);
  if (g->loading) {
    pthread_join(g->loader, NULL);
    g->loading = false;
  }
  fprintf(f, "jit: graphs compiled     %llu (distinct graphs cached %d), compile %.1f ms (in LLVM %.1f ms)\n",
          (unsigned long long)s->compiles, g->ncache, s->compile_ms, s->llvm_ms);
  if (g->api)
    fprintf(f, "jit: loading LLVM        %.1f ms, in the background\n", s->load_ms);
  fprintf(f, "jit: kernels             %llu, ops per kernel %.1f (max %llu)\n", (unsigned long long)s->kernels,
          s->kernels ? (double)s->kernel_ops / (double)s->kernels : 0.0, (unsigned long long)s->max_kernel_ops);
  fprintf(f, "jit: time in kernels     %.1f ms\n", s->compiled_ms);
  fprintf(f, "jit: results not stored  %llu (recompiles to store results found needed %llu)\n",
          (unsigned long long)s->unstored, (unsigned long long)s->recompiles);
  if (g->api) {
    /* the CPU and its vector features, of the long list LLVM gives */
    const char *h = g->api->host(g->jit);
    fprintf(f, "jit: target              %.*s", (int)strcspn(h, " "), h);
    for (const char *p = strchr(h, '+'); p; p = strchr(p + 1, '+')) {
      size_t n = strcspn(p, ",");
      if (!strncmp(p, "+avx", 4) || (n == 4 && !strncmp(p, "+fma", 4)))
        fprintf(f, " %.*s", (int)n - 1, p + 1);
    }
    fputc('\n', f);
  }
  if (g->unavailable) fprintf(f, "jit: fallback: JIT unavailable: %s\n", g->unavailable_why);
  if (s->compile_failures)
    fprintf(f, "jit: fallback: %llu graphs failed to compile (they run op by op); last: %s\n",
            (unsigned long long)s->compile_failures, s->last_failure);
  if (s->full_syncs)
    fprintf(f, "jit: graphs cut at the size limit (512 ops or 64 MiB of results) %llu\n",
            (unsigned long long)s->full_syncs);
  if (s->cache_full) fprintf(f, "jit: fallback: %llu graphs ran op by op: cache full\n", (unsigned long long)s->cache_full);
  for (int op = 0; op < TOP__COUNT; op++)
    for (int r = 0; r < TG__REASONS; r++)
      if (s->eager_ops[op][r])
        fprintf(f, "jit: not recorded: %-14s %8llu  %s\n", tensor_ops[op].name,
                (unsigned long long)s->eager_ops[op][r], reason_text[r]);
}
