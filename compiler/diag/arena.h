/* Bump allocator for compiler data (tokens' text, AST nodes): everything a
 * compilation allocates is freed at once with arena_free. */
#ifndef NS_ARENA_H
#define NS_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
  ArenaBlock *head;
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Zeroed, 16-byte aligned memory; aborts only if the process is out of
 * memory (reported by ns_oom with the request size). */
void *arena_alloc(Arena *a, size_t size);
char *arena_strndup(Arena *a, const char *s, size_t len);
char *arena_sprintf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "nsc: out of memory (N bytes)" and exit(1): the one abort allowed,
 * shared by every allocator of the process. */
_Noreturn void ns_oom(size_t size);

#endif
