/* arena.h -- a bump allocator owned by one request: everything a request decodes or builds
 * is allocated here and freed at once with arena_reset/arena_free. Not thread-safe; an arena
 * may move between threads with its request (never used by two at once).
 * Invariant: blocks are never freed singly; alignment is 16 bytes. */
#ifndef PATRON_ARENA_H
#define PATRON_ARENA_H

#include <stddef.h>

typedef struct arena_block_s arena_block_t;
typedef struct arena_s {
  arena_block_t *head;   /* newest block; older ones chained behind it */
  size_t used;           /* bytes used in head */
  size_t total;          /* bytes held in all blocks */
  size_t limit;          /* 0 = unlimited; else arena_alloc fails past it */
} arena_t;

void arena_init(arena_t *a, size_t limit);
/* NULL when out of memory or over the limit. Zeroed memory. */
void *arena_alloc(arena_t *a, size_t n);
/* A NUL-terminated copy of n bytes. */
char *arena_strndup(arena_t *a, const char *s, size_t n);
void *arena_memdup(arena_t *a, const void *p, size_t n);
/* A growing array in the arena: when n == *cap, moves *v (n elements of el bytes) to a new
 * block of twice the capacity (16 at first). 0, or -1 when out of memory (*v unchanged). */
int arena_grow(arena_t *a, void **v, size_t n, size_t *cap, size_t el);
void arena_reset(arena_t *a);
void arena_free(arena_t *a);

#endif
