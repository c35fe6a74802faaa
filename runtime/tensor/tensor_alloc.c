/* Tensor storage: a cache of blocks over the system allocator, and the
 * protected calls that turn a failed allocation into a runtime error.
 *
 * Small blocks. Capacities are multiples of 64 B up to 512 B, then four
 * classes per power of two (640, 768, 896, 1024, 1280, ...) up to 64 MiB,
 * so a block wastes at most 25% (a 128×784 f32 batch, 392 KiB, takes
 * 448 KiB rather than 512). A released block goes on its class's free list
 * (linked through its TStorage header) and
 * the next request of that class takes it back, so a training step that
 * allocates the same shapes every iteration stops calling malloc after the
 * first one.
 *
 * Large blocks (above 64 MiB: a 60000×784 f32 training set is 188 MB) are
 * kept too, in one list reused best-fit: the smallest cached block that
 * holds the request and wastes at most 25% of it. Their capacity is a
 * multiple of 2 MiB.
 *
 * Fresh memory. Every block of 2 MiB or more is mmap'd on a 2 MiB boundary
 * and advised MADV_HUGEPAGE, so that (with transparent huge pages in
 * "madvise" or "always" mode) its first touch faults once per 2 MiB
 * rather than once per 4 KiB page: about 10 us a fault on these VMs, 0.45 s
 * for a fresh 188 MB block in 4 KiB pages. Smaller blocks come from
 * aligned_alloc.
 *
 * Release policy. The cache holds at most CACHE_MAX bytes in all. A small
 * block released beyond that is freed; a large one evicts the large
 * blocks cached longest ago until it fits (and is unmapped if it cannot).
 * A large block unused for LARGE_IDLE_NS goes back to the system at the
 * next collection or large allocation (as jemalloc decays dirty pages), so
 * a program that stops using big tensors does not keep their memory.
 * tensor_alloc_trim() empties the cache, and a request the system refuses
 * is retried once after trimming.
 *
 * The cache and its statistics are process-wide: every context (every
 * interpreter) allocates from them. Not thread-safe: storage is created
 * and released on the interpreters' thread only. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_HUGEPAGE, clock_gettime */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h>
#define HAVE_MMAP 1
#endif

#include "tensor_int.h"

#define MAX_CACHED ((size_t)1 << 26)  /* 64 MiB: larger blocks are "large" */
#define NCLASSES 77                   /* size_class(MAX_CACHED) + 1 */
#define CACHE_MAX ((size_t)1 << 30)   /* cached bytes, small and large */
#define HUGE_PAGE ((size_t)2 << 20)   /* blocks from this size on are mmap'd */
#define LARGE_IDLE_NS 5000000000ull   /* 5 s */

static TStorage *free_list[NCLASSES];
static TensorAllocStats stats;

/* Cached blocks are linked through their headers (next_free), never
 * through their data: a cached block's pages stay untouched. */
static TStorage *large_list; /* most recently released first */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The class of a request of NBYTES (≤ MAX_CACHED); its capacity goes to
 * *cap unless cap is NULL. */
static int size_class(size_t nbytes, size_t *cap) {
  size_t size;
  int c;
  if (nbytes <= 512) {
    c = nbytes ? (int)((nbytes - 1) >> 6) : 0;
    size = (size_t)(c + 1) << 6;
  } else {
    int k = 64 - __builtin_clzll(nbytes - 1) - 3;    /* nbytes ≤ 8 << k */
    size_t m = (nbytes + ((size_t)1 << k) - 1) >> k; /* 5 ... 8 */
    if (m == 8) m = 4, k++;
    size = m << k;
    c = 8 + (k - 7) * 4 + (int)(m - 4);
  }
  if (cap) *cap = size;
  return c;
}

/* ---- memory from the system ---- */

/* NBYTES (a multiple of 64) aligned to 64 B, or NULL. From HUGE_PAGE on:
 * an anonymous mapping aligned to 2 MiB (over-map by 2 MiB, unmap the
 * ends) advised for huge pages. */
static void *os_alloc(size_t nbytes) {
#ifdef HAVE_MMAP
  if (nbytes >= HUGE_PAGE) {
    size_t len = (nbytes + 4095) & ~(size_t)4095;
    if (len > SIZE_MAX - HUGE_PAGE) return NULL;
    char *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    char *a = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    size_t tail = (size_t)(p + len + HUGE_PAGE - (a + len));
    if (tail) munmap(a + len, tail);
#ifdef MADV_HUGEPAGE
    madvise(a, len, MADV_HUGEPAGE);
#endif
    return a;
  }
#endif
  return aligned_alloc(64, nbytes);
}

static void os_free(void *p, size_t nbytes) {
#ifdef HAVE_MMAP
  if (nbytes >= HUGE_PAGE) {
    munmap(p, (nbytes + 4095) & ~(size_t)4095);
    return;
  }
#endif
  free(p);
}

static void storage_free(TStorage *s) {
  os_free(s->data, s->nbytes);
  free(s);
}

/* A new block of capacity CAP; one retry after emptying the cache. */
static TStorage *fresh(size_t cap) {
  TStorage *s = malloc(sizeof(TStorage));
  if (!s) return NULL;
  s->nbytes = cap;
  s->data = os_alloc(cap);
  if (!s->data) {
    tensor_alloc_trim();
    s->data = os_alloc(cap);
  }
  if (!s->data) {
    free(s);
    return NULL;
  }
  stats.misses++;
  return s;
}

/* ---- large blocks ---- */

static void large_unlink(TStorage **at) {
  TStorage *s = *at;
  *at = s->next_free;
  stats.cached_bytes -= s->nbytes;
  stats.large_cached_bytes -= s->nbytes;
}

/* The smallest cached block that holds NEED and wastes at most 25% of it. */
static TStorage *large_take(size_t need) {
  TStorage **best = NULL;
  for (TStorage **at = &large_list; *at; at = &(*at)->next_free) {
    size_t cap = (*at)->nbytes;
    if (cap >= need && cap - need <= need / 4 && (!best || cap < (*best)->nbytes)) best = at;
  }
  if (!best) return NULL;
  TStorage *s = *best;
  large_unlink(best);
  stats.hits++;
  return s;
}

/* Unmap the block cached longest ago; false when there is none. */
static bool large_evict_oldest(void) {
  TStorage **oldest = NULL;
  for (TStorage **at = &large_list; *at; at = &(*at)->next_free) oldest = at;
  if (!oldest) return false;
  TStorage *s = *oldest;
  large_unlink(oldest);
  storage_free(s);
  stats.large_released++;
  return true;
}

static void large_put(TStorage *s) {
  while (stats.cached_bytes + s->nbytes > CACHE_MAX && large_evict_oldest()) {
  }
  if (stats.cached_bytes + s->nbytes > CACHE_MAX) {
    storage_free(s);
    stats.large_released++;
    return;
  }
  s->next_free = large_list;
  s->released_ns = now_ns();
  large_list = s;
  stats.cached_bytes += s->nbytes;
  stats.large_cached_bytes += s->nbytes;
}

void tensor_alloc_age(void) {
  if (!large_list) return;
  uint64_t now = now_ns();
  TStorage **at = &large_list;
  while (*at) {
    if (now - (*at)->released_ns >= LARGE_IDLE_NS) {
      TStorage *s = *at;
      large_unlink(at);
      storage_free(s);
      stats.large_released++;
    } else {
      at = &(*at)->next_free;
    }
  }
}

/* ---- storage ---- */

TStorage *tstorage_new(TCtx *tc, size_t nbytes) {
  TStorage *s;
  if (nbytes > (size_t)TENSOR_MAX_BYTES) {
    stats.failures++;
    return NULL;
  }
  if (nbytes > MAX_CACHED) {
    size_t cap = (nbytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    tensor_alloc_age();
    s = large_take(cap);
    if (!s) s = fresh(cap);
  } else {
    size_t cap;
    int c = size_class(nbytes, &cap);
    if (free_list[c]) {
      s = free_list[c];
      free_list[c] = s->next_free;
      stats.cached_bytes -= s->nbytes;
      stats.hits++;
    } else {
      s = fresh(cap);
    }
  }
  if (!s) {
    stats.failures++;
    return NULL;
  }
  s->refcount = 1;
  s->version = 0;
  s->lazy = NULL;
  s->vreaders = 0;
  s->virt = NULL;
  s->watch = NULL;
  s->epoch = 0;
  stats.current_bytes += s->nbytes;
  if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
  if (tc) tc->account(tc->vm, (ptrdiff_t)s->nbytes);
  return s;
}

void tstorage_release(TCtx *tc, TStorage *s) {
  if (--s->refcount > 0) return;
  stats.current_bytes -= s->nbytes;
  if (tc) tc->account(tc->vm, -(ptrdiff_t)s->nbytes);
  if (s->nbytes > MAX_CACHED) {
    large_put(s);
    return;
  }
  if (stats.cached_bytes + s->nbytes > CACHE_MAX) {
    storage_free(s);
    return;
  }
  int c = size_class(s->nbytes, NULL);
  s->next_free = free_list[c];
  free_list[c] = s;
  stats.cached_bytes += s->nbytes;
}

void tensor_alloc_stats(TensorAllocStats *out) { *out = stats; }

void tensor_alloc_trim(void) {
  for (int c = 0; c < NCLASSES; c++) {
    while (free_list[c]) {
      TStorage *s = free_list[c];
      free_list[c] = s->next_free;
      stats.cached_bytes -= s->nbytes;
      storage_free(s);
    }
  }
  while (large_evict_oldest()) {
  }
}

/* ---- protected calls ---- */

/* A chain per context (tc->guard), innermost first. */
typedef struct TGuard {
  jmp_buf jb;
  struct TGuard *prev;
  int depth; /* the interpreter's depth when it was entered (tc->depth) */
} TGuard;

bool tensor_protected(TCtx *tc, bool (*fn)(TCtx *tc, void *ctx), void *ctx) {
  TGuard g;
  g.prev = tc->guard;
  g.depth = tc->depth(tc->vm);
  size_t nroots = vm_root_count(tc->vm);
  tc->guard = &g;
  bool ok;
  if (setjmp(g.jb) == 0) {
    ok = fn(tc, ctx);
  } else {
    vm_roots_reset(tc->vm, nroots);
    ok = false;
  }
  tc->guard = g.prev;
  return ok;
}

/* Never across interpreter frames: code that a protected call re-entered
 * the interpreter for (a callback) gets NULL like any native, and its
 * error travels back through the interpreter as usual. */
ObjTensor *tensor_raise(TCtx *tc) {
  if (tc->guard && tc->guard->depth == tc->depth(tc->vm)) longjmp(tc->guard->jb, 1);
  return NULL;
}
