/* readcache.c -- see readcache.h. Open addressing with linear probing and backward-shift
 * deletion; each entry is one allocation (header, key, value). Eviction: a clock hand walks
 * the slots and drops entries until the cache is under 90 % of its budget. rcache_bump makes
 * every entry stale by moving the generation; stale entries go when met or evicted. */
#include "base/readcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
  uint64_t hash;
  uint64_t expires_ms;
  uint64_t gen;      /* the cache's generation when stored */
  uint32_t klen, vlen;
  int method;
  char data[];  /* key, then value */
} entry_t;

struct rcache_s {
  entry_t **slots;
  size_t cap;       /* power of two */
  size_t n;
  size_t bytes, max_bytes;
  uint64_t ttl_ms;
  uint64_t gen;
  size_t hand;
  rcache_stats_t st;
};

static uint64_t hash_key(int method, const char *k, size_t n) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)method; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

rcache_t *rcache_new(size_t max_bytes, uint64_t ttl_ms) {
  rcache_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cap = 1024;
  c->slots = calloc(c->cap, sizeof *c->slots);
  if (!c->slots) {
    free(c);
    return NULL;
  }
  c->max_bytes = max_bytes;
  c->ttl_ms = ttl_ms;
  return c;
}

void rcache_configure(rcache_t *c, size_t max_bytes, uint64_t ttl_ms) {
  c->max_bytes = max_bytes;
  c->ttl_ms = ttl_ms;
  if (c->bytes > max_bytes) rcache_clear(c);
}

static size_t entry_size(const entry_t *e) { return sizeof *e + e->klen + e->vlen + 64; }

static size_t find(const rcache_t *c, uint64_t h, int method, const char *k, size_t n) {
  size_t mask = c->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const entry_t *e = c->slots[i];
    if (!e) return i;
    if (e->hash == h && e->method == method && e->klen == n && memcmp(e->data, k, n) == 0) return i;
  }
}

/* Remove slot i and shift the following run back so probes stay unbroken. */
static void remove_at(rcache_t *c, size_t i) {
  size_t mask = c->cap - 1;
  entry_t *gone = c->slots[i];
  c->bytes -= entry_size(gone);
  c->n--;
  free(gone);
  c->slots[i] = NULL;
  for (size_t j = (i + 1) & mask; c->slots[j]; j = (j + 1) & mask) {
    size_t home = c->slots[j]->hash & mask;
    /* move j back to i if its home is not in (i, j] (cyclically) */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      c->slots[i] = c->slots[j];
      c->slots[j] = NULL;
      i = j;
    }
  }
}

int rcache_get(rcache_t *c, int method, const char *key, size_t klen, uint64_t now_ms,
               const char **val, size_t *vlen) {
  uint64_t h = hash_key(method, key, klen);
  size_t i = find(c, h, method, key, klen);
  entry_t *e = c->slots[i];
  if (!e || e->expires_ms <= now_ms || e->gen != c->gen) {
    if (e) remove_at(c, i);
    c->st.misses++;
    return 0;
  }
  c->st.hits++;
  *val = e->data + e->klen;
  *vlen = e->vlen;
  return 1;
}

static void grow(rcache_t *c) {
  size_t ncap = c->cap * 2;
  entry_t **ns = calloc(ncap, sizeof *ns);
  if (!ns) return; /* stay at this size; puts evict instead */
  for (size_t i = 0; i < c->cap; i++) {
    entry_t *e = c->slots[i];
    if (!e) continue;
    size_t j = e->hash & (ncap - 1);
    while (ns[j]) j = (j + 1) & (ncap - 1);
    ns[j] = e;
  }
  free(c->slots);
  c->slots = ns;
  c->cap = ncap;
}

static void evict(rcache_t *c, size_t want_bytes) {
  while (c->n && (c->bytes + want_bytes > c->max_bytes * 9 / 10 || c->n * 10 >= c->cap * 7)) {
    c->hand &= c->cap - 1;
    if (c->slots[c->hand]) {
      remove_at(c, c->hand); /* the shifted-in entry is looked at next round */
      c->st.evictions++;
    }
    c->hand++;
  }
}

void rcache_put(rcache_t *c, int method, const char *key, size_t klen, const char *val,
                size_t vlen, uint64_t now_ms) {
  if (!c->max_bytes || !c->ttl_ms || klen > UINT32_MAX || vlen > c->max_bytes / 8) return;
  rcache_del(c, method, key, klen);
  entry_t *e = malloc(sizeof *e + klen + vlen);
  if (!e) return;
  e->hash = hash_key(method, key, klen);
  e->expires_ms = now_ms + c->ttl_ms;
  e->gen = c->gen;
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
  e->method = method;
  memcpy(e->data, key, klen);
  memcpy(e->data + klen, val, vlen);
  if ((c->n + 1) * 10 >= c->cap * 7 && c->cap < ((size_t)1 << 26)) grow(c);
  evict(c, entry_size(e));
  size_t i = find(c, e->hash, method, key, klen);
  c->slots[i] = e;
  c->n++;
  c->bytes += entry_size(e);
}

void rcache_del(rcache_t *c, int method, const char *key, size_t klen) {
  size_t i = find(c, hash_key(method, key, klen), method, key, klen);
  if (c->slots[i]) remove_at(c, i);
}

void rcache_clear(rcache_t *c) {
  for (size_t i = 0; i < c->cap; i++) {
    free(c->slots[i]);
    c->slots[i] = NULL;
  }
  c->n = 0;
  c->bytes = 0;
}

void rcache_bump(rcache_t *c) { c->gen++; }

void rcache_free(rcache_t *c) {
  if (!c) return;
  rcache_clear(c);
  free(c->slots);
  free(c);
}

void rcache_stats(const rcache_t *c, rcache_stats_t *out) {
  *out = c->st;
  out->entries = c->n;
  out->bytes = c->bytes;
}
