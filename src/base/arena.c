/* arena.c -- see arena.h. Blocks grow geometrically (4 KiB .. 1 MiB, or the request size). */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block_s {
  arena_block_t *next;
  size_t size;
  _Alignas(16) unsigned char data[];
};

void arena_init(arena_t *a, size_t limit) {
  a->head = NULL;
  a->used = 0;
  a->total = 0;
  a->limit = limit;
}

static size_t align16(size_t n) { return (n + 15u) & ~(size_t)15u; }

void *arena_alloc(arena_t *a, size_t n) {
  n = align16(n ? n : 1);
  size_t cap = a->head ? a->head->size : 0;
  if (a->head && a->used + n <= cap) {
    void *p = a->head->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
  }
  size_t want = cap ? cap * 2 : 4096;
  if (want > (1u << 20)) want = 1u << 20;
  if (want < n) want = n;
  if (a->limit && a->total + want > a->limit) {
    if (a->total + n > a->limit) return NULL;
    want = n;
  }
  arena_block_t *b = malloc(sizeof *b + want);
  if (!b) return NULL;
  b->next = a->head;
  b->size = want;
  a->head = b;
  a->total += want;
  a->used = n;
  memset(b->data, 0, n);
  return b->data;
}

char *arena_strndup(arena_t *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void *arena_memdup(arena_t *a, const void *src, size_t n) {
  void *p = arena_alloc(a, n);
  if (p && n) memcpy(p, src, n);
  return p;
}

void arena_reset(arena_t *a) {
  /* keep the newest block for reuse, free the rest */
  if (!a->head) return;
  arena_block_t *b = a->head->next;
  while (b) {
    arena_block_t *n = b->next;
    a->total -= b->size;
    free(b);
    b = n;
  }
  a->head->next = NULL;
  a->used = 0;
}

void arena_free(arena_t *a) {
  arena_block_t *b = a->head;
  while (b) {
    arena_block_t *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->used = a->total = 0;
}

int arena_grow(arena_t *a, void **v, size_t n, size_t *cap, size_t el) {
  if (n < *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 16;
  void *nv = arena_alloc(a, nc * el);
  if (!nv) return -1;
  if (n) memcpy(nv, *v, n * el);
  *v = nv;
  *cap = nc;
  return 0;
}
