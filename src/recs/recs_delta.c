/* recs_delta.c -- the incremental part of the model: co-purchase pair counts of orders
 * recorded since the base snapshot was built, merged into scores at query time.
 * Choice: a bounded delta merged at query time, not in-place snapshot edits, because the
 * snapshot stays immutable and shareable; exact figures come back with the next full
 * rebuild (which includes these orders), after which the daemon starts a new delta.
 * Invariants: item ids < base items are the snapshot's; new items get base + k; every
 * adjacency entry (i -> j) has a twin (j -> i) with the same count; all access is under the
 * rwlock (writers exclusive). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "recs_delta_internal.h"

typedef struct dnode_s { uint32_t item, cnt; int32_t head; } dnode_t;
typedef struct dedge_s { uint32_t j; float c; int32_t next; } dedge_t;

struct recs_delta_s {
  pthread_rwlock_t lock;
  recs_snapshot_t *base;
  uint32_t nbase;
  recs_interner_t *fresh;  /* items unknown to the base */
  dnode_t *node;           /* open addressing by item; item == RECS_NO_ITEM: empty */
  uint32_t ncap;
  _Atomic uint32_t nused;  /* nodes; read without the lock by recs_delta_accumulate (0: no
                              pairs, nothing to add) */
  uint64_t *pkey;          /* open addressing by (i << 32 | j) -> edge index; ~0 empty */
  uint32_t *pval, pcap, pused;
  dedge_t *edge;
  size_t nedge, ecap, max_pairs;
};

recs_delta_t *recs_delta_new(recs_snapshot_t *base, size_t max_pairs) {
  recs_delta_t *d = calloc(1, sizeof(*d));
  if (!d) return NULL;
  if (pthread_rwlock_init(&d->lock, NULL) != 0) { free(d); return NULL; }
  d->base = base;
  recs_snapshot_ref(base);
  d->nbase = base->h->n_items;
  d->max_pairs = max_pairs ? max_pairs : 1000000;
  d->ncap = 256;
  d->pcap = 1024;
  d->ecap = 512;
  d->fresh = recs_interner_new();
  d->node = malloc(d->ncap * sizeof(dnode_t));
  d->pkey = malloc(d->pcap * sizeof(uint64_t));
  d->pval = malloc(d->pcap * sizeof(uint32_t));
  d->edge = malloc(d->ecap * sizeof(dedge_t));
  if (!d->fresh || !d->node || !d->pkey || !d->pval || !d->edge) { recs_delta_free(d); return NULL; }
  for (uint32_t i = 0; i < d->ncap; i++) d->node[i].item = RECS_NO_ITEM;
  memset(d->pkey, 0xff, d->pcap * sizeof(uint64_t));
  return d;
}

void recs_delta_free(recs_delta_t *d) {
  if (!d) return;
  pthread_rwlock_destroy(&d->lock);
  recs_snapshot_unref(d->base);
  recs_interner_free(d->fresh);
  free(d->node); free(d->pkey); free(d->pval); free(d->edge);
  free(d);
}

static dnode_t *node_find(const recs_delta_t *d, uint32_t item) {
  uint32_t m = d->ncap - 1, x = recs_hash_u32(item) & m;
  while (d->node[x].item != RECS_NO_ITEM) {
    if (d->node[x].item == item) return &d->node[x];
    x = (x + 1) & m;
  }
  return NULL;
}

static dnode_t *node_get(recs_delta_t *d, uint32_t item) {
  dnode_t *f = node_find(d, item);
  if (f) return f;
  if ((d->nused + 1) * 2 > d->ncap) {
    uint32_t nc = d->ncap * 2;
    dnode_t *nn = malloc(nc * sizeof(dnode_t));
    if (!nn) return NULL;
    for (uint32_t i = 0; i < nc; i++) nn[i].item = RECS_NO_ITEM;
    for (uint32_t i = 0; i < d->ncap; i++) {
      if (d->node[i].item == RECS_NO_ITEM) continue;
      uint32_t x = recs_hash_u32(d->node[i].item) & (nc - 1);
      while (nn[x].item != RECS_NO_ITEM) x = (x + 1) & (nc - 1);
      nn[x] = d->node[i];
    }
    free(d->node);
    d->node = nn;
    d->ncap = nc;
  }
  uint32_t m = d->ncap - 1, x = recs_hash_u32(item) & m;
  while (d->node[x].item != RECS_NO_ITEM) x = (x + 1) & m;
  d->node[x] = (dnode_t){item, 0, -1};
  d->nused++;
  return &d->node[x];
}

static uint64_t pair_hash(uint64_t k) {
  k ^= k >> 33; k *= 0xff51afd7ed558ccdull; k ^= k >> 33;
  return k;
}

/* Adds 1 to the directed edge i -> j; 0 on failure. */
static int edge_add(recs_delta_t *d, uint32_t i, uint32_t j) {
  uint64_t key = (uint64_t)i << 32 | j;
  uint32_t m = d->pcap - 1, x = (uint32_t)pair_hash(key) & m;
  while (d->pkey[x] != UINT64_MAX) {
    if (d->pkey[x] == key) { d->edge[d->pval[x]].c += 1; return 1; }
    x = (x + 1) & m;
  }
  if (d->nedge >= 2 * d->max_pairs) return 0;
  if ((d->pused + 1) * 2 > d->pcap) {
    uint32_t nc = d->pcap * 2;
    uint64_t *nk = malloc(nc * sizeof(uint64_t));
    uint32_t *nv = malloc(nc * sizeof(uint32_t));
    if (!nk || !nv) { free(nk); free(nv); return 0; }
    memset(nk, 0xff, nc * sizeof(uint64_t));
    for (uint32_t a = 0; a < d->pcap; a++) {
      if (d->pkey[a] == UINT64_MAX) continue;
      uint32_t y = (uint32_t)pair_hash(d->pkey[a]) & (nc - 1);
      while (nk[y] != UINT64_MAX) y = (y + 1) & (nc - 1);
      nk[y] = d->pkey[a]; nv[y] = d->pval[a];
    }
    free(d->pkey); free(d->pval);
    d->pkey = nk; d->pval = nv; d->pcap = nc;
    m = nc - 1;
    x = (uint32_t)pair_hash(key) & m;
    while (d->pkey[x] != UINT64_MAX) x = (x + 1) & m;
  }
  if (d->nedge == d->ecap) {
    dedge_t *ne = realloc(d->edge, d->ecap * 2 * sizeof(dedge_t));
    if (!ne) return 0;
    d->edge = ne;
    d->ecap *= 2;
  }
  dnode_t *ni = node_get(d, i);
  if (!ni) return 0;
  d->edge[d->nedge] = (dedge_t){j, 1, ni->head};
  ni->head = (int32_t)d->nedge;
  d->pkey[x] = key;
  d->pval[x] = (uint32_t)d->nedge++;
  d->pused++;
  return 1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

int recs_delta_add_basket(recs_delta_t *d, const uint32_t *items, size_t nitems, int64_t ts) {
  (void)ts; /* recent orders carry weight 1; decay applies at the next rebuild */
  if (!d || !items || nitems == 0 || nitems > 1000) return PERR_INVALID_PARAMS;
  uint32_t v[1000];
  memcpy(v, items, nitems * sizeof(uint32_t));
  qsort(v, nitems, sizeof(uint32_t), cmp_u32);
  size_t k = 0;
  for (size_t i = 0; i < nitems; i++)
    if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
  pthread_rwlock_wrlock(&d->lock);
  int rc = PERR_OK;
  uint32_t lim = d->nbase + recs_interner_count(d->fresh);
  for (size_t i = 0; i < k && rc == PERR_OK; i++)
    if (v[i] >= lim) rc = PERR_INVALID_PARAMS;
  if (rc == PERR_OK && d->nedge + k * (k - 1) > 2 * d->max_pairs) rc = PERR_TOO_LARGE;
  for (size_t i = 0; i < k && rc == PERR_OK; i++) {
    dnode_t *ni = node_get(d, v[i]);
    if (!ni) { rc = PERR_INTERNAL; break; }
    ni->cnt++;
    for (size_t j = 0; j < k && rc == PERR_OK; j++)
      if (i != j && !edge_add(d, v[i], v[j])) rc = PERR_TOO_LARGE;
  }
  pthread_rwlock_unlock(&d->lock);
  return rc;
}

int recs_delta_intern(recs_delta_t *d, const char *s, size_t n, uint32_t *id) {
  uint32_t b = recs_snapshot_lookup(d->base, s, n);
  if (b != RECS_NO_ITEM) { *id = b; return PERR_OK; }
  pthread_rwlock_wrlock(&d->lock);
  uint32_t local;
  int rc = recs_intern(d->fresh, s, n, &local);
  if (rc == PERR_OK && (uint64_t)d->nbase + local >= RECS_NO_ITEM) rc = PERR_TOO_LARGE;
  pthread_rwlock_unlock(&d->lock);
  if (rc == PERR_OK) *id = d->nbase + local;
  return rc;
}

uint32_t recs_delta_lookup(const recs_delta_t *d, const char *s, size_t n) {
  uint32_t b = recs_snapshot_lookup(d->base, s, n);
  if (b != RECS_NO_ITEM) return b;
  pthread_rwlock_rdlock((pthread_rwlock_t *)&d->lock);
  uint32_t local = recs_interner_find(d->fresh, s, n);
  pthread_rwlock_unlock((pthread_rwlock_t *)&d->lock);
  return local == RECS_NO_ITEM ? RECS_NO_ITEM : d->nbase + local;
}

size_t recs_delta_name(const recs_delta_t *d, uint32_t item, char *buf, size_t cap) {
  size_t n = 0;
  const char *s;
  if (cap == 0) return 0;
  pthread_rwlock_rdlock((pthread_rwlock_t *)&d->lock);
  s = item < d->nbase ? recs_snapshot_name(d->base, item, &n)
                      : recs_interner_name(d->fresh, item - d->nbase, &n);
  if (!s) n = 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(buf, s, n);
  buf[n] = 0;
  pthread_rwlock_unlock((pthread_rwlock_t *)&d->lock);
  return n;
}

int recs_delta_empty(const recs_delta_t *d) {
  return atomic_load_explicit(&d->nused, memory_order_acquire) == 0;
}

uint64_t recs_delta_pairs(const recs_delta_t *d) {
  pthread_rwlock_rdlock((pthread_rwlock_t *)&d->lock);
  uint64_t n = d->nedge / 2;
  pthread_rwlock_unlock((pthread_rwlock_t *)&d->lock);
  return n;
}

int recs_delta_known(const recs_delta_t *d, uint32_t id) {
  if (!d) return 0;
  pthread_rwlock_rdlock((pthread_rwlock_t *)&d->lock);
  int k = id < d->nbase + recs_interner_count(d->fresh);
  pthread_rwlock_unlock((pthread_rwlock_t *)&d->lock);
  return k;
}

int recs_delta_accumulate(const recs_delta_t *d, uint32_t i, float w,
                          int (*add)(void *ctx, uint32_t j, float v), void *ctx) {
  int ok = 1;
  /* no pairs yet (just after a rebuild): nothing to add, no lock taken. A basket recorded
   * meanwhile is as if it came after this request. */
  if (atomic_load_explicit(&d->nused, memory_order_acquire) == 0) return 1;
  pthread_rwlock_rdlock((pthread_rwlock_t *)&d->lock);
  const dnode_t *ni = d->nused ? node_find(d, i) : NULL;
  if (ni) {
    double Ni = (double)ni->cnt + recs_snapshot_popularity(d->base, i);
    for (int32_t e = ni->head; e >= 0 && ok; e = d->edge[e].next) {
      uint32_t j = d->edge[e].j;
      const dnode_t *nj = node_find(d, j);
      double Nj = (double)(nj ? nj->cnt : 0) + recs_snapshot_popularity(d->base, j);
      ok = add(ctx, j, (float)(w * d->edge[e].c / sqrt(Ni * Nj)));
    }
  }
  pthread_rwlock_unlock((pthread_rwlock_t *)&d->lock);
  return ok;
}
