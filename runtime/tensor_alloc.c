/* Tensor storage: a size-class cache over aligned_alloc.
 *
 * Capacities are powers of two from 64 B to 64 MiB; a released block goes
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

#define MIN_SHIFT 6  /* 64 B */
#define MAX_SHIFT 26 /* 64 MiB */
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define CACHE_MAX ((size_t)1 << 30)

static TStorage *free_list[NCLASSES];
static TensorAllocStats stats;

static int size_class(size_t nbytes) {
  int c = 0;
  while (((size_t)1 << (MIN_SHIFT + c)) < nbytes) c++;
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
  if (nbytes > ((size_t)1 << MAX_SHIFT)) {
    s = malloc(sizeof(TStorage));
    if (!s) {
      fputs("nsc: out of memory\n", stderr);
      exit(1);
    }
    s->nbytes = (nbytes + 63) & ~(size_t)63;
    s->data = xaligned(s->nbytes);
    stats.misses++;
  } else {
    int c = size_class(nbytes);
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
      s->nbytes = (size_t)1 << (MIN_SHIFT + c);
      s->data = xaligned(s->nbytes);
      stats.misses++;
    }
  }
  s->refcount = 1;
  stats.current_bytes += s->nbytes;
  if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
  if (vm) vm_gc_external(vm, (ptrdiff_t)s->nbytes);
  return s;
}

void tstorage_release(VM *vm, TStorage *s) {
  if (--s->refcount > 0) return;
  stats.current_bytes -= s->nbytes;
  if (vm) vm_gc_external(vm, -(ptrdiff_t)s->nbytes);
  if (s->nbytes > ((size_t)1 << MAX_SHIFT) || stats.cached_bytes + s->nbytes > CACHE_MAX) {
    free(s->data);
    free(s);
    return;
  }
  int c = size_class(s->nbytes);
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
