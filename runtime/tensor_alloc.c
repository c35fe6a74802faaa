/* Tensor storage: a size-class cache over aligned_alloc.
 *
 * Capacities are multiples of 64 B up to 512 B, then four classes per
 * power of two (640, 768, 896, 1024, 1280, ...) up to 64 MiB, so a block
 * wastes at most 25% (a 128×784 f32 batch, 392 KiB, takes 448 KiB rather
 * than 512). A released block goes
 * on its class's free list (linked through its first bytes, the TStorage
 * header kept with it) and the next request of that class takes it back,
 * so a training step that allocates the same shapes every iteration stops
 * calling malloc after the first one. Blocks above 64 MiB are allocated and
 * freed directly. The cache keeps at most CACHE_MAX bytes; beyond that,
 * released blocks are freed. Not thread-safe: storage is created and
 * released on the interpreter's thread only. */
#include <stdio.h>
#include <stdlib.h>

#include "tensor_int.h"

#define MAX_CACHED ((size_t)1 << 26) /* 64 MiB: larger blocks are not cached */
#define NCLASSES 77                   /* size_class(MAX_CACHED) + 1 */
#define CACHE_MAX ((size_t)1 << 30)

static TStorage *free_list[NCLASSES];
static TensorAllocStats stats;

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

static void *xaligned(size_t nbytes) {
  void *p = aligned_alloc(64, nbytes);
  if (!p) {
    fputs("nsc: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

TStorage *tstorage_new(VM *vm, size_t nbytes) {
  TStorage *s;
  if (nbytes > MAX_CACHED) {
    s = malloc(sizeof(TStorage));
    if (!s) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    s->nbytes = (nbytes + 63) & ~(size_t)63;
    s->data = xaligned(s->nbytes);
    stats.misses++;
  } else {
    size_t cap;
    int c = size_class(nbytes, &cap);
    if (free_list[c]) {
      s = free_list[c];
      free_list[c] = *(TStorage **)s->data;
      stats.cached_bytes -= s->nbytes;
      stats.hits++;
    } else {
      s = malloc(sizeof(TStorage));
      if (!s) {
        fputs("nsc: out of memory\n", stderr);
        exit(1);
      }
      s->nbytes = cap;
      s->data = xaligned(s->nbytes);
      stats.misses++;
    }
  }
  s->refcount = 1;
  s->version = 0;
  stats.current_bytes += s->nbytes;
  if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
  if (vm) vm_gc_external(vm, (ptrdiff_t)s->nbytes);
  return s;
}

void tstorage_release(VM *vm, TStorage *s) {
  if (--s->refcount > 0) return;
  stats.current_bytes -= s->nbytes;
  if (vm) vm_gc_external(vm, -(ptrdiff_t)s->nbytes);
  if (s->nbytes > MAX_CACHED || stats.cached_bytes + s->nbytes > CACHE_MAX) {
    free(s->data);
    free(s);
    return;
  }
  int c = size_class(s->nbytes, NULL);
  *(TStorage **)s->data = free_list[c];
  free_list[c] = s;
  stats.cached_bytes += s->nbytes;
}

void tensor_alloc_stats(TensorAllocStats *out) { *out = stats; }

void tensor_alloc_trim(void) {
  for (int c = 0; c < NCLASSES; c++) {
    while (free_list[c]) {
      TStorage *s = free_list[c];
      free_list[c] = *(TStorage **)s->data;
      free(s->data);
      free(s);
    }
  }
  stats.cached_bytes = 0;
}
