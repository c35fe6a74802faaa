/* Bump allocator: a list of blocks, newest first. Requests are carved from
 * the head block; a request that does not fit starts a new block (or gets a
 * block of its own when it is larger than the usual block size, so a huge
 * request does not waste the rest of the current block). */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_BLOCK_SIZE (64 * 1024)

struct ArenaBlock {
  ArenaBlock *next;
  size_t used; /* bytes of data[] handed out */
  size_t cap;  /* bytes of data[] */
  _Alignas(ARENA_ALIGN) unsigned char data[];
};

_Noreturn void ns_oom(size_t size) {
  fprintf(stderr, "nsc: out of memory (%zu bytes)\n", size);
  exit(1);
}

void arena_init(Arena *a) { a->head = NULL; }

void arena_free(Arena *a) {
  ArenaBlock *b = a->head;
  while (b) {
    ArenaBlock *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

static ArenaBlock *new_block(size_t cap) {
  if (cap > SIZE_MAX - sizeof(ArenaBlock)) ns_oom(cap);
  /* calloc: every block is zeroed once, and memory is never reused. */
  ArenaBlock *b = calloc(1, sizeof(ArenaBlock) + cap);
  if (!b) ns_oom(sizeof(ArenaBlock) + cap);
  b->cap = cap;
  return b;
}

void *arena_alloc(Arena *a, size_t size) {
  if (size == 0) size = 1;
  if (size > SIZE_MAX - ARENA_ALIGN) ns_oom(size);
  size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  ArenaBlock *b = a->head;
  if (b && b->cap - b->used >= size) {
    void *p = b->data + b->used;
    b->used += size;
    return p;
  }
  if (size > ARENA_BLOCK_SIZE / 4) {
    /* A big request gets its own block behind the head, so the head keeps
     * serving small requests. */
    ArenaBlock *big = new_block(size);
    big->used = size;
    if (b) {
      big->next = b->next;
      b->next = big;
    } else {
      a->head = big;
    }
    return big->data;
  }
  b = new_block(ARENA_BLOCK_SIZE);
  b->next = a->head;
  a->head = b;
  b->used = size;
  return b->data;
}

char *arena_strndup(Arena *a, const char *s, size_t len) {
  char *p = arena_alloc(a, len + 1);
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *arena_sprintf(Arena *a, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  char *p = arena_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}
