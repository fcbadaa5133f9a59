/* recs_scratch.c -- the scorer's per-thread scratch (recs_score_internal.h): allocation, the
 * accumulator's O(1) reset by generations, dense slots and their growth, the overflow map for
 * ids without a dense slot, the touched and multi lists, the history map (item -> count,
 * first and last basket time); plus the parameter defaults and the reason/fallback names.
 * Invariants: growth keeps every live entry (or fails with 0 and changes nothing the caller
 * reads); a reset never touches the slots except when a generation counter wraps. */
#include <stdlib.h>
#include <string.h>

#include "recs_score_internal.h"

void recs_params_default(recs_params_t *p) {
  memset(p, 0, sizeof(*p));
  p->history_weight = 0;
  p->repurchase_weight = 0.1;
  p->delta_weight = 1.0;
  p->upsell_max_ratio = 2.0;
  p->fallback_trending = 0;
}

static const char *const reason_names[RECS_REASON_COUNT] = {
    "co_purchase", "upsell", "personal", "popular", "trending", "repurchase"};

const char *recs_reason_name(recs_reason_t r) {
  return (unsigned)r < RECS_REASON_COUNT ? reason_names[r] : "unknown";
}

const char *const *recs_reason_names(void) { return reason_names; }

const char *recs_fallback_name(recs_fallback_t f) {
  static const char *const n[] = {"none", "popular", "trending", "price_band",
                                  "category_popular"};
  return (unsigned)f < 5 ? n[f] : "unknown";
}

recs_scratch_t *recs_scratch_new(void) {
  recs_scratch_t *sc = calloc(1, sizeof(*sc));
  if (!sc) return NULL;
  sc->cap = sc->hcap = 1024;
  sc->shift = 32 - 10;
  sc->m = calloc(sc->cap, sizeof(*sc->m));
  sc->slot = malloc(sc->cap / 2 * sizeof(uint32_t));
  sc->hkey = malloc(sc->hcap * sizeof(uint32_t));
  sc->hstamp = calloc(sc->hcap, sizeof(uint32_t));
  sc->hcnt = malloc(sc->hcap * sizeof(uint32_t));
  sc->hslot = malloc(sc->hcap * sizeof(uint32_t));
  sc->hfirst = malloc(sc->hcap * sizeof(int64_t));
  sc->hlast = malloc(sc->hcap * sizeof(int64_t));
  sc->tcap = 1024;
  sc->touched = malloc(sc->tcap * sizeof(uint32_t));
  sc->mcap = 256;
  sc->multi = malloc(sc->mcap * sizeof(uint32_t));
  sc->ccap = 512;
  sc->c = malloc(sc->ccap * sizeof(*sc->c));
  sc->heapcap = 64;
  sc->heap = malloc(sc->heapcap * sizeof(*sc->heap));
  if (!sc->m || !sc->slot || !sc->hkey || !sc->hstamp || !sc->hcnt || !sc->hslot ||
      !sc->hfirst || !sc->hlast || !sc->touched || !sc->multi || !sc->c || !sc->heap) {
    recs_scratch_free(sc);
    return NULL;
  }
  return sc;
}

void recs_scratch_free(recs_scratch_t *sc) {
  if (!sc) return;
  free(sc->d); free(sc->touched); free(sc->multi);
  free(sc->m); free(sc->slot);
  free(sc->hkey); free(sc->hstamp); free(sc->hcnt); free(sc->hslot);
  free(sc->hfirst); free(sc->hlast);
  free(sc->c); free(sc->heap); free(sc->keys);
  free(sc);
}

/* Empties the accumulator (dense part and overflow map) in O(1) by new generations. */
void recs_acc_reset(recs_scratch_t *sc) {
  sc->ntouched = sc->nmulti = 0;
  sc->track = 0;
  if (++sc->dgen < 3) { /* first use or wrap: dgen - 1 and dgen - 2 are always past */
    for (uint32_t i = 0; i < sc->dcap; i++) sc->d[i].stamp = 0;
    sc->dgen = 3;
  }
  if (++sc->gen == 0) {
    for (uint32_t i = 0; i < sc->cap; i++) sc->m[i].stamp = 0;
    sc->gen = 1;
  }
  sc->used = 0;
}

/* Dense slots for ids < n (capped); keeps the old size if memory is short. Call when empty. */
void recs_acc_dense_reserve(recs_scratch_t *sc, uint32_t n) {
  if (n > RECS_DENSE_MAX) n = RECS_DENSE_MAX;
  if (n <= sc->dcap) return;
  uint32_t nc = sc->dcap ? sc->dcap : 1024;
  while (nc < n) nc = nc > RECS_DENSE_MAX / 2 ? RECS_DENSE_MAX : nc * 2;
  struct dslot *d = realloc(sc->d, (size_t)nc * sizeof(*d));
  if (!d) return;
  memset(d + sc->dcap, 0, (size_t)(nc - sc->dcap) * sizeof(*d)); /* stamp 0 != dgen */
  sc->d = d;
  sc->dcap = nc;
}

static inline uint32_t mhash(const recs_scratch_t *sc, uint32_t item) {
  return (item * 0x9e3779b1u) >> sc->shift; /* Fibonacci hashing */
}

static int map_grow(recs_scratch_t *sc) {
  uint32_t nc = sc->cap * 2;
  struct mslot *nm = calloc(nc, sizeof(*nm));
  uint32_t *sl = malloc(nc / 2 * sizeof(uint32_t));
  if (!nm || !sl) { free(nm); free(sl); return 0; }
  uint32_t shift = sc->shift - 1;
  for (uint32_t u = 0; u < sc->used; u++) {
    const struct mslot *o = &sc->m[sc->slot[u]];
    uint32_t x = (o->key * 0x9e3779b1u) >> shift;
    while (nm[x].stamp == 1) x = (x + 1) & (nc - 1);
    nm[x] = (struct mslot){o->key, 1, o->val};
    sl[u] = x;
  }
  free(sc->m); free(sc->slot);
  sc->m = nm; sc->slot = sl; sc->cap = nc; sc->shift = shift; sc->gen = 1;
  return 1;
}

int recs_acc_map_add(recs_scratch_t *sc, uint32_t item, float v) {
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  struct mslot *e;
  while ((e = &sc->m[x])->stamp == sc->gen) {
    if (e->key == item) { e->val += v; return 1; }
    x = (x + 1) & mask;
  }
  if ((sc->used + 1) * 2 > sc->cap) {
    if (!map_grow(sc)) return 0;
    return recs_acc_map_add(sc, item, v);
  }
  *e = (struct mslot){item, sc->gen, v};
  sc->slot[sc->used++] = x;
  return 1;
}

int recs_acc_touched_grow(recs_scratch_t *sc) {
  uint32_t nc = sc->tcap * 2;
  uint32_t *t = realloc(sc->touched, (size_t)nc * sizeof(uint32_t));
  if (!t) return 0;
  sc->touched = t;
  sc->tcap = nc;
  return 1;
}

/* Room for n more entries in the multi list; 0 when out of memory. */
int recs_acc_multi_reserve(recs_scratch_t *sc, uint32_t n) {
  while (sc->mcap - sc->nmulti < n) {
    uint32_t *m = realloc(sc->multi, (size_t)sc->mcap * 2 * sizeof(uint32_t));
    if (!m) return 0;
    sc->multi = m;
    sc->mcap *= 2;
  }
  return 1;
}

/* Current score of item, 0 when absent. */
float recs_acc_get(const recs_scratch_t *sc, uint32_t item) {
  if (item < sc->dcap) return sc->d[item].stamp == sc->dgen ? sc->d[item].v : 0;
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  while (sc->m[x].stamp == sc->gen) {
    if (sc->m[x].key == item) return sc->m[x].val;
    x = (x + 1) & mask;
  }
  return 0;
}

static void sort_u32(uint32_t *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    uint32_t x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1] > x) { v[j] = v[j - 1]; j--; }
    v[j] = x;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* History multiset -> distinct items with counts (separate map), first and last times (when
 * ts is given) and the list of used slots in slot order (the order every pass over the
 * history follows). Returns max count. */
uint32_t recs_hist_load(recs_scratch_t *sc, const uint32_t *h, const int64_t *ts, size_t n) {
  while (n * 2 > sc->hcap) {
    uint32_t nc = sc->hcap * 2;
    uint32_t *k = realloc(sc->hkey, nc * sizeof(uint32_t)), *c = NULL, *st = NULL, *sl = NULL;
    int64_t *f = NULL, *l = NULL;
    if (k) sc->hkey = k;
    if (k && (c = realloc(sc->hcnt, nc * sizeof(uint32_t)))) sc->hcnt = c;
    if (c && (f = realloc(sc->hfirst, nc * sizeof(int64_t)))) sc->hfirst = f;
    if (f && (l = realloc(sc->hlast, nc * sizeof(int64_t)))) sc->hlast = l;
    if (l && (sl = realloc(sc->hslot, nc * sizeof(uint32_t)))) sc->hslot = sl;
    if (sl && (st = calloc(nc, sizeof(uint32_t)))) { free(sc->hstamp); sc->hstamp = st; }
    if (!st) { n = sc->hcap / 2; break; } /* out of memory: use a prefix of the history */
    sc->hcap = nc;
    sc->hgen = 0;
  }
  if (++sc->hgen == 0) { memset(sc->hstamp, 0, sc->hcap * sizeof(uint32_t)); sc->hgen = 1; }
  sc->hused = 0;
  uint32_t mx = 0, m = sc->hcap - 1;
  for (size_t i = 0; i < n; i++) {
    if (h[i] == RECS_NO_ITEM) continue;
    uint32_t x = recs_hash_u32(h[i]) & m;
    while (sc->hstamp[x] == sc->hgen && sc->hkey[x] != h[i]) x = (x + 1) & m;
    if (sc->hstamp[x] != sc->hgen) {
      sc->hstamp[x] = sc->hgen;
      sc->hkey[x] = h[i];
      sc->hcnt[x] = 0;
      sc->hslot[sc->hused++] = x;
      if (ts) sc->hfirst[x] = sc->hlast[x] = ts[i];
    }
    if (ts && ts[i] < sc->hfirst[x]) sc->hfirst[x] = ts[i];
    if (ts && ts[i] > sc->hlast[x]) sc->hlast[x] = ts[i];
    if (++sc->hcnt[x] > mx) mx = sc->hcnt[x];
  }
  if (sc->hused <= 64) sort_u32(sc->hslot, sc->hused);
  else qsort(sc->hslot, sc->hused, sizeof(uint32_t), cmp_u32);
  return mx;
}
