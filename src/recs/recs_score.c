/* recs_score.c -- answering requests against an immutable snapshot (+ optional delta):
 * accumulate neighbour scores of the request's items in the per-thread scratch, drop what the
 * business filters and the request exclude, rank (score desc, popularity desc, id asc:
 * popularity breaks ties), honour max-per-category, then fill empty slots from the
 * trending/popular lists (reported in recs_answer_t).
 * Accumulator: dense {score, stamp} slots indexed by item id (ids below the snapshot's item
 * count, up to RECS_DENSE_MAX) plus a list of the ids touched by this request; a new request
 * bumps the generation stamp, so nothing is cleared per entry. Other ids (delta-only items,
 * unknown ids) go to a small open-addressing map. Every item's sum is formed by the same
 * additions in the same order as in the plain hash-map scorer this replaced (history items in
 * slot order of the history map), so scores are bit-identical.
 * Ranking: candidates are taken in rank order batch by batch (one pass keeps the best T in a
 * small sorted array, rejecting with one float compare against its worst; a further batch,
 * rare, takes the next 4T below it), and the filters and the catalogue are consulted only for
 * the candidates walked, until the answer is full. This equals filtering every candidate,
 * sorting them all and walking the sorted list with the category cap. With a margin boost
 * the score depends on the catalogue, so every candidate is checked first.
 * recs_cart's quick walk (sc->track: a plain cart, sorted rows, an empty delta): the rows do
 * not list their first touches; the candidates at or above a floor are the ids touched more
 * than once plus the rows' entries at their own score down to the floor; walk_above merges
 * these sorted sources lazily in rank order and walks them (above cart_floor(limit) first,
 * then down to cart_floor(limit + 4)), else everything is listed and batched.
 * Invariants: a dense slot holds a score only when its stamp is the current generation (a
 * first touch overwrites it); nothing here writes to the snapshot; the only lock taken is the
 * delta's read lock; the catalogue callback must be a pure function of the item id (it is
 * called for fewer items, in a different order, than a filter-everything scorer would). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recs_delta_internal.h"

/* Items with ids below this many get dense accumulator slots (12 bytes per item per scratch
 * with the touched list); bigger catalogues use the map for the rest. */
#define RECS_DENSE_MAX (1u << 22)

struct cand { uint32_t id; float s; uint32_t cat; };

struct recs_scratch_s {
  struct dslot { float v; uint32_t stamp; } *d; /* dense accumulator, ids < dcap; an entry
                                                 holds a score only when stamp == dgen */
  uint32_t dcap, dgen;
  uint32_t *touched;  /* this request's dense ids, first-touch order (with track: only the
                         ones first touched outside the cart rows) */
  uint32_t ntouched, tcap;
  int track;          /* recs_cart's quick walk: cart rows do not list their first touches;
                         every later touch of an id appends it to multi (repeats possible) */
  uint32_t *multi, nmulti, mcap;
  struct mslot { uint32_t key, stamp; float val; } *m; /* overflow map, open addressing */
  uint32_t gen, cap, used, shift;
  uint32_t *slot; /* the used slots, in insertion order (used entries) */
  uint32_t *hkey, *hstamp, hgen, hcap, hused; /* history item -> count */
  uint32_t *hcnt;
  int64_t *hfirst, *hlast; /* history item -> its first and last basket time (history_ts) */
  uint32_t *hslot;    /* the used history slots, ascending after hist_load */
  struct cand *c;     /* boosted candidates (margin boost) or the overflow map's */
  size_t ccap;
  struct cand *heap;  /* the selection batch */
  size_t heapcap;
  uint64_t *keys;     /* walk_above's extras as score bits << 32 | id */
  size_t kcap;
};

void recs_params_default(recs_params_t *p) {
  memset(p, 0, sizeof(*p));
  p->history_weight = 0;
  p->repurchase_weight = 0.1;
  p->delta_weight = 1.0;
  p->upsell_max_ratio = 2.0;
  p->fallback_trending = 0;
}

const char *recs_reason_name(recs_reason_t r) {
  static const char *const n[] = {"co_purchase", "upsell",  "personal",
                                  "popular",     "trending", "repurchase"};
  return (unsigned)r < 6 ? n[r] : "unknown";
}

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
static void map_reset(recs_scratch_t *sc) {
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
static void dense_reserve(recs_scratch_t *sc, uint32_t n) {
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

static int map_add(recs_scratch_t *sc, uint32_t item, float v) {
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  struct mslot *e;
  while ((e = &sc->m[x])->stamp == sc->gen) {
    if (e->key == item) { e->val += v; return 1; }
    x = (x + 1) & mask;
  }
  if ((sc->used + 1) * 2 > sc->cap) {
    if (!map_grow(sc)) return 0;
    return map_add(sc, item, v);
  }
  *e = (struct mslot){item, sc->gen, v};
  sc->slot[sc->used++] = x;
  return 1;
}

static int touched_grow(recs_scratch_t *sc) {
  uint32_t nc = sc->tcap * 2;
  uint32_t *t = realloc(sc->touched, (size_t)nc * sizeof(uint32_t));
  if (!t) return 0;
  sc->touched = t;
  sc->tcap = nc;
  return 1;
}

/* Room for n more entries in the multi list; 0 when out of memory. */
static int multi_reserve(recs_scratch_t *sc, uint32_t n) {
  while (sc->mcap - sc->nmulti < n) {
    uint32_t *m = realloc(sc->multi, (size_t)sc->mcap * 2 * sizeof(uint32_t));
    if (!m) return 0;
    sc->multi = m;
    sc->mcap *= 2;
  }
  return 1;
}

/* Adds v to item's score; returns 0 on allocation failure. A new entry starts at v exactly. */
static inline int acc_add(recs_scratch_t *sc, uint32_t item, float v) {
  if (item < sc->dcap) {
    struct dslot *e = &sc->d[item];
    if (e->stamp == sc->dgen) {
      e->v += v;
      if (sc->track) { /* a later touch: walk_above takes it from the multi list */
        if (!multi_reserve(sc, 1)) return 0;
        sc->multi[sc->nmulti++] = item;
      }
      return 1;
    }
    if (sc->ntouched == sc->tcap && !touched_grow(sc)) return 0;
    e->stamp = sc->dgen;
    e->v = v;
    sc->touched[sc->ntouched++] = item;
    return 1;
  }
  return map_add(sc, item, v);
}

/* Current score of item, 0 when absent. */
static float acc_get(const recs_scratch_t *sc, uint32_t item) {
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
static uint32_t hist_load(recs_scratch_t *sc, const uint32_t *h, const int64_t *ts, size_t n) {
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

static uint32_t hist_count(const recs_scratch_t *sc, uint32_t item) {
  uint32_t m = sc->hcap - 1, x = recs_hash_u32(item) & m;
  while (sc->hstamp[x] == sc->hgen) {
    if (sc->hkey[x] == item) return sc->hcnt[x];
    x = (x + 1) & m;
  }
  return 0;
}

/* ---- request context ---- */
typedef struct ctx_s {
  const recs_snapshot_t *s;
  recs_scratch_t *sc;
  const recs_request_t *q;
  recs_params_t p;
  recs_filter_t f;
  uint32_t n;              /* snapshot items */
  recs_reason_t reason;
  int exclude_history;     /* for_customer: drop bought items unless consumable */
  int upsell;              /* upsell: same category, price in (pp, pp * ratio] */
  int repurchased;         /* the repurchase term was added: history items say so */
  int unbounded;           /* upsell widening: price above pp, no upper bound */
  int no_fill;             /* finish() leaves empty slots (upsell widens by itself) */
  int cart;                /* recs_cart: the first batch may start from cart_floor() */
  float floor, floor_hi;   /* recs_cart with sc->track: cart_floor(nout + 4), cart_floor(nout) */
  int ids_zeroed;          /* walk_above's walk: the request's items and excluded ids scored 0,
                              below its floor, so none is walked: allowed() skips the lists */
  uint32_t ucat;
  int64_t uprice;
  uint32_t hmax;           /* largest history count */
} ctx_t;

static inline void item_info(const recs_catalog_t *cat, uint32_t id, recs_item_info_t *o) {
  o->in_stock = 1; o->consumable = 0; o->category = RECS_NO_CATEGORY;
  o->price = o->margin = RECS_PRICE_UNKNOWN;
  if (!cat) return;
  if (cat->info) {
    recs_item_info_t got = *o;
    if (cat->info(cat->ctx, id, &got)) *o = got;
    return;
  }
  if (id >= cat->n) return;
  if (cat->in_stock_bits) o->in_stock = (int)((cat->in_stock_bits[id >> 6] >> (id & 63)) & 1);
  if (cat->consumable_bits) o->consumable = (int)((cat->consumable_bits[id >> 6] >> (id & 63)) & 1);
  if (cat->category) o->category = cat->category[id];
  if (cat->price) o->price = cat->price[id];
  if (cat->margin) o->margin = cat->margin[id];
}

static inline int in_list(const uint32_t *v, size_t n, uint32_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

/* Whether item may be shown at all; fills *inf (the catalogue is asked once per call). */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

static ALWAYS_INLINE int allowed(const ctx_t *c, uint32_t id, recs_item_info_t *inf) {
  if (!c->ids_zeroed && (in_list(c->q->items, c->q->nitems, id) ||
                         in_list(c->f.exclude_items, c->f.n_exclude_items, id)))
    return 0;
  item_info(c->q->catalog, id, inf);
  if (c->f.in_stock_only && !inf->in_stock) return 0;
  if (c->upsell) {
    if (c->ucat != RECS_NO_CATEGORY && inf->category != c->ucat) return 0;
    if (c->uprice != RECS_PRICE_UNKNOWN &&
        (inf->price == RECS_PRICE_UNKNOWN || inf->price <= c->uprice ||
         (!c->unbounded && (double)inf->price > (double)c->uprice * c->p.upsell_max_ratio)))
      return 0;
  }
  if (c->f.price_max > 0 &&
      (inf->price == RECS_PRICE_UNKNOWN || inf->price < c->f.price_min || inf->price > c->f.price_max))
    return 0;
  if (inf->category != RECS_NO_CATEGORY &&
      in_list(c->f.exclude_categories, c->f.n_exclude_categories, inf->category))
    return 0;
  if (c->exclude_history && !inf->consumable && hist_count(c->sc, id)) return 0;
  return 1;
}

static inline uint32_t pop_of(const ctx_t *c, uint32_t id) {
  return id < c->n ? c->s->pop[id] : 0;
}

/* Rank order: score desc, popularity desc, id asc (a strict total order on distinct ids).
 * Popularity is read only on equal scores. */
static inline int better(const ctx_t *c, const struct cand *a, const struct cand *b) {
  if (a->s != b->s) return a->s > b->s;
  uint32_t pa = pop_of(c, a->id), pb = pop_of(c, b->id);
  if (pa != pb) return pa > pb;
  return a->id < b->id;
}

/* Min-heap on "better": the root is the worst kept candidate. */
static void sift_worst(const ctx_t *c, struct cand *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && better(c, &h[m], &h[l])) m = l;
    if (l + 1 < n && better(c, &h[m], &h[l + 1])) m = l + 1;
    if (m == i) return;
    struct cand t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
}

static int cat_full(const ctx_t *c, const uint32_t *cats, size_t k, uint32_t cat) {
  if (!c->f.max_per_category || cat == RECS_NO_CATEGORY) return 0;
  uint32_t used = 0;
  for (size_t i = 0; i < k; i++) used += cats[i] == cat;
  return used >= c->f.max_per_category;
}

static int chosen(const recs_result_t *out, size_t k, uint32_t id) {
  for (size_t i = 0; i < k; i++)
    if (out[i].item == id) return 1;
  return 0;
}

/* Cheap rejections from catalogue arrays, a subset of what allowed() rejects (so skipping the
 * full check for them changes nothing): used where many candidates fail, the fallback walk. */
static inline int quick_reject(const ctx_t *c, uint32_t id) {
  const recs_catalog_t *cat = c->q->catalog;
  if (!cat || cat->info) return 0;
  if (c->upsell && c->ucat != RECS_NO_CATEGORY &&
      (!cat->category || id >= cat->n || cat->category[id] != c->ucat))
    return 1; /* no data = no category, which differs from ucat */
  if (c->f.in_stock_only && cat->in_stock_bits && id < cat->n &&
      !((cat->in_stock_bits[id >> 6] >> (id & 63)) & 1))
    return 1;
  return 0;
}

/* Batches up to this size are kept sorted (insertion from the worst end);
 * bigger ones are heaps (root = worst kept), sorted at the end. */
#define SEL_SORTED_MAX 256

/* Puts candidate x into the batch h[0..m) of capacity lim. Returns the new m. */
static size_t sel_put(const ctx_t *c, struct cand *h, size_t m, size_t lim,
                      const struct cand *x) {
  if (lim > SEL_SORTED_MAX) {
    if (m == lim) {
      if (!better(c, x, &h[0])) return m;
      h[0] = *x;
      sift_worst(c, h, m, 0);
      return m;
    }
    size_t j = m++;
    while (j > 0 && better(c, &h[(j - 1) / 2], x)) { h[j] = h[(j - 1) / 2]; j = (j - 1) / 2; }
    h[j] = *x;
    return m;
  }
  if (m == lim) {
    if (!better(c, x, &h[m - 1])) return m;
    m--; /* the worst leaves */
  }
  size_t pos = m; /* walk up past everything x beats: lower scores, then (rare) equal scores
                      that rank below it */
  float s = x->s;
  while (pos > 0 && s > h[pos - 1].s) {
    h[pos] = h[pos - 1];
    pos--;
  }
  while (pos > 0 && s == h[pos - 1].s && better(c, x, &h[pos - 1])) {
    h[pos] = h[pos - 1];
    pos--;
  }
  h[pos] = *x;
  return m + 1;
}

/* The worst kept score of a full batch. */
static inline float sel_worst(const struct cand *h, size_t lim) {
  return lim > SEL_SORTED_MAX ? h[0].s : h[lim - 1].s;
}

/* A heap batch -> best first (move the worst to the back repeatedly). */
static void sel_sort(const ctx_t *c, struct cand *h, size_t m, size_t lim) {
  if (lim <= SEL_SORTED_MAX) return;
  for (size_t j = m; j > 1; j--) {
    struct cand t = h[0]; h[0] = h[j - 1]; h[j - 1] = t;
    sift_worst(c, h, j - 1, 0);
  }
}

/* A ranked item's reason: the request's, or repurchase for an item of the customer's history
 * when the repurchase term was added (its score holds the term). */
static inline recs_reason_t reason_of(const ctx_t *c, uint32_t id) {
  return c->repurchased && hist_count(c->sc, id) ? RECS_REASON_REPURCHASE : c->reason;
}

/* Grows a candidate array (capacity doubling) to hold need entries; 0 when out of memory. */
static int cand_reserve(struct cand **v, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t nc = *cap;
  while (nc < need) nc *= 2;
  struct cand *nv = realloc(*v, nc * sizeof(*nv));
  if (!nv) return 0;
  *v = nv;
  *cap = nc;
  return 1;
}

/* A guess of a score that at least lim candidates reach, for recs_cart (0 = no guess): the
 * entry at depth lim + (cart items and excluded ids, which never rank) of the cart items' rows.
 * Rows are stored best first with distinct, non-negative scores, and an item's total is at
 * least each of its terms, so the guess holds for the shipped models; first_batch checks it
 * anyway and does without it when it fails, so the answer never depends on it. */
/* cart_floor(lim) and, into *hi, cart_floor(lim - less) (>= it), in one pass over the rows. */
static float cart_floors(const ctx_t *c, size_t lim, size_t less, float *hi) {
  *hi = 0;
  if (!c->cart) return 0;
  const recs_snapshot_t *s = c->s;
  size_t depth = lim + c->q->nitems + c->f.n_exclude_items, dhi = depth - less;
  float floor = 0;
  for (size_t i = 0; i < c->q->nitems; i++) {
    uint32_t it = c->q->items[i];
    if (it >= c->n) continue;
    uint32_t a = s->g_off[0][it], b = s->g_off[0][it + 1];
    if (b - a >= depth && s->g_sc[0][a + depth - 1] > floor) floor = s->g_sc[0][a + depth - 1];
    if (b - a >= dhi && s->g_sc[0][a + dhi - 1] > *hi) *hi = s->g_sc[0][a + dhi - 1];
  }
  return floor;
}

static float cart_floor(const ctx_t *c, size_t lim) {
  float hi;
  return cart_floors(c, lim, 0, &hi);
}

/* Offers the candidates scoring >= thr (thr > 0) to the batch h[0..m) of capacity lim; once
 * the batch is full, only what reaches its worst (sel_put decides ties). Returns the new m. */
static size_t offer_above(const ctx_t *c, struct cand *h, size_t m, size_t lim,
                          const struct dslot *d, const uint32_t *t, uint32_t nt,
                          const struct cand *C, size_t nc, float thr) {
  for (uint32_t u = 0; u < nt; u++) {
    uint32_t id = t[u];
    float s = d[id].v;
    if (!(s >= thr)) continue; /* also NaN */
    struct cand x = {id, s, RECS_NO_CATEGORY};
    m = sel_put(c, h, m, lim, &x);
    if (m == lim && sel_worst(h, lim) > thr) thr = sel_worst(h, lim);
  }
  for (size_t i = 0; i < nc; i++) {
    if (!(C[i].s >= thr)) continue;
    m = sel_put(c, h, m, lim, &C[i]);
    if (m == lim && sel_worst(h, lim) > thr) thr = sel_worst(h, lim);
  }
  return m;
}

/* The first batch: the best lim candidates (rank order) of all with a positive score, from
 * the touched dense slots t[0..nt) and C[0..nc). With floor > 0 only scores >= floor are
 * offered: when lim of them reach it, the batch's worst is >= floor, so every candidate left
 * out ranks below the batch and the batch is the same; when fewer reach it, the pass is
 * redone from every positive score (FLT_TRUE_MIN: s >= it exactly when s > 0). Returns the
 * batch size. */
static size_t first_batch(const ctx_t *c, struct cand *h, size_t lim, const struct dslot *d,
                          const uint32_t *t, uint32_t nt, const struct cand *C, size_t nc,
                          float floor) {
  if (floor > 0) {
    size_t m = offer_above(c, h, 0, lim, d, t, nt, C, nc, floor);
    if (m == lim) return m;
  }
  return offer_above(c, h, 0, lim, d, t, nt, C, nc, FLT_TRUE_MIN);
}

/* Rank order of a candidate list: insertion sort by better() when short; otherwise qsort on
 * (score desc, popularity desc, id asc) with the popularity parked in .cat meanwhile. */
static int cmp_cand_pop(const void *a, const void *b) {
  const struct cand *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  if (x->cat != y->cat) return x->cat > y->cat ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static void cand_sort(const ctx_t *c, struct cand *v, size_t n) {
  if (n <= 32) {
    for (size_t i = 1; i < n; i++) {
      struct cand x = v[i];
      size_t j = i;
      while (j > 0 && better(c, &x, &v[j - 1])) { v[j] = v[j - 1]; j--; }
      v[j] = x;
    }
    return;
  }
  for (size_t i = 0; i < n; i++) v[i].cat = pop_of(c, v[i].id);
  qsort(v, n, sizeof(*v), cmp_cand_pop);
  for (size_t i = 0; i < n; i++) v[i].cat = RECS_NO_CATEGORY;
}

/* Walks the ranked candidates run[0, n) (sorted, repeats of an id adjacent) into out[k..nout)
 * with the filters, the catalogue and the category cap. Returns the new k. */
static size_t walk_sorted(const ctx_t *c, const struct cand *run, size_t n, recs_result_t *out,
                          size_t k, size_t nout, uint32_t *cats) {
  for (size_t j = 0; j < n && k < nout; j++) {
    recs_item_info_t inf;
    if (j > 0 && run[j].id == run[j - 1].id) continue; /* the same id again */
    if (!allowed(c, run[j].id, &inf) || cat_full(c, cats, k, inf.category)) continue;
    cats[k] = inf.category;
    out[k++] = (recs_result_t){run[j].id, run[j].s, (uint8_t)reason_of(c, run[j].id)};
  }
  return k;
}

/* walk_above's extras are keys: a positive finite score's bits (which order like the score)
 * << 32 | the id, all distinct. */
static inline uint64_t cand_key(uint32_t id, float s) {
  uint32_t bits;
  memcpy(&bits, &s, 4);
  return (uint64_t)bits << 32 | id;
}

static inline float key_score(uint64_t k) {
  uint32_t bits = (uint32_t)(k >> 32);
  float s;
  memcpy(&s, &bits, 4);
  return s;
}

/* Moves the largest of the keys v[0, n) to v[0]. */
static inline void keys_front(uint64_t *v, size_t n) {
  if (n < 2) return;
  size_t b = 0;
  for (size_t i = 1; i < n; i++) b = v[i] > v[b] ? i : b;
  uint64_t x = v[0]; v[0] = v[b]; v[b] = x;
}

/* Most cart rows walk_above merges (longer carts take the batch ranking). */
#define MERGE_ROWS_MAX 32

/* A cart row's next candidate for walk_above: the first entry at or after q that is its id's
 * whole score (a single touch, not listed yet), unless an entry below floor (or the row's
 * end b) comes first. Returns where it stopped: a candidate when q < b && scs[q] >= floor. */
static inline uint32_t row_next(const struct dslot *d, uint32_t gen, const uint32_t *ids,
                                const float *scs, uint32_t q, uint32_t b, float floor) {
  for (; q < b && scs[q] >= floor; q++)
    if (d[ids[q]].stamp == gen && d[ids[q]].v == scs[q]) return q;
  return q;
}

/* recs_cart's quick walk (sc->track, 0 < lo <= hi), in rank order and lazily: the candidates
 * scoring >= floor are the ids touched more than once that reach it (the extras) plus the cart
 * rows' entries that are their id's whole score, down to the floor (each row is sorted, so it
 * lists them best first). A merge of these sorted sources yields every candidate >= floor by
 * score desc; a run of equal scores is re-sorted by better() (the rank order's tie break) and
 * walked with the filters, the catalogue and the category cap until the answer is full. The
 * floor is hi first (fewer extras to list); when those candidates do not fill the answer, the
 * ones in [lo, hi), all ranking below them, follow. Every other candidate ranks below all of
 * them, so a filled answer is the full walk's answer. Returns the count written to out, -1 when
 * the sources run out first (the caller ranks everything), or an error. */
static int walk_above(ctx_t *c, recs_result_t *out, size_t nout, uint32_t *cats, float hi,
                      float lo) {
  recs_scratch_t *sc = c->sc;
  struct dslot *d = sc->d;
  uint32_t gen = sc->dgen;
  if (sc->ntouched || sc->used) return -1; /* not a plain cart: rank everything */
  uint32_t pos[MERGE_ROWS_MAX], end[MERGE_ROWS_MAX];
  float head[MERGE_ROWS_MAX + 1]; /* each source's next score (source nr: the extras) */
  const uint32_t *ids = c->s->g_nbr[0];
  const float *scs = c->s->g_sc[0];
  size_t nr = 0, most = sc->nmulti;
  for (size_t i = 0; i < c->q->nitems; i++) {
    uint32_t it = c->q->items[i];
    if (it >= c->n) continue;
    if (nr == MERGE_ROWS_MAX) return -1;
    pos[nr] = c->s->g_off[0][it];
    end[nr] = c->s->g_off[0][it + 1];
    most += end[nr] - pos[nr];
    nr++;
  }
  if (!cand_reserve(&sc->c, &sc->ccap, most + 1)) return PERR_INTERNAL;
  if (sc->kcap < sc->nmulti + 1) {
    uint64_t *nk = realloc(sc->keys, ((size_t)sc->nmulti + 1) * 2 * sizeof(uint64_t));
    if (!nk) return PERR_INTERNAL;
    sc->keys = nk;
    sc->kcap = ((size_t)sc->nmulti + 1) * 2;
  }
  uint64_t *K = sc->keys; /* the extras' source: K[kp, nk), its best first (keys_front) */
  uint32_t nk = 0, kp = 0;
  struct cand *run = sc->c;
  size_t k = 0;
  c->ids_zeroed = 1; /* finish() zeroed them; lo > 0 */
  for (float floor = hi;; floor = lo) {
    /* the extras reaching this floor, each once (a listed slot gets the past stamp gen - 1) */
    for (uint32_t u = 0; u < sc->nmulti; u++) {
      uint32_t id = sc->multi[u];
      if (d[id].stamp == gen && d[id].v >= floor) {
        d[id].stamp = gen - 1;
        K[nk++] = cand_key(id, d[id].v);
      }
    }
    keys_front(K + kp, nk - kp);
    size_t ord[MERGE_ROWS_MAX + 1], ns = 0; /* the sources with a candidate, best head first */
    for (size_t r = 0; r < nr; r++) {
      pos[r] = row_next(d, gen, ids, scs, pos[r], end[r], floor);
      if (pos[r] < end[r] && scs[pos[r]] >= floor) head[r] = scs[pos[r]], ord[ns++] = r;
    }
    if (kp < nk) head[nr] = key_score(K[kp]), ord[ns++] = nr;
    for (size_t i = 1; i < ns; i++) { /* insertion by head */
      size_t x = ord[i], j = i;
      while (j > 0 && head[ord[j - 1]] < head[x]) { ord[j] = ord[j - 1]; j--; }
      ord[j] = x;
    }
    while (ns > 0 && k < nout) {
      float s = head[ord[0]];
      size_t nrun = 0;
      do { /* every candidate scoring s: take the best source's head, move it down */
        size_t b = ord[0];
        uint32_t id;
        int more;
        if (b == nr) {
          id = (uint32_t)K[kp++];
          keys_front(K + kp, nk - kp);
          if ((more = kp < nk)) head[nr] = key_score(K[kp]);
        } else {
          id = ids[pos[b]];
          d[id].stamp = gen - 1;
          pos[b] = row_next(d, gen, ids, scs, pos[b] + 1, end[b], floor);
          if ((more = pos[b] < end[b] && scs[pos[b]] >= floor)) head[b] = scs[pos[b]];
        }
        run[nrun++] = (struct cand){id, s, RECS_NO_CATEGORY};
        if (!more) { /* used up */
          ns--;
          for (size_t j = 0; j < ns; j++) ord[j] = ord[j + 1];
        } else {
          size_t j = 0;
          float h = head[b];
          while (j + 1 < ns && head[ord[j + 1]] > h) { ord[j] = ord[j + 1]; j++; }
          ord[j] = b;
        }
      } while (ns > 0 && head[ord[0]] == s);
      if (nrun == 1) { /* walk_sorted for one */
        recs_item_info_t inf;
        if (allowed(c, run[0].id, &inf) && !cat_full(c, cats, k, inf.category)) {
          cats[k] = inf.category;
          out[k++] = (recs_result_t){run[0].id, s, (uint8_t)reason_of(c, run[0].id)};
        }
        continue;
      }
      cand_sort(c, run, nrun);
      k = walk_sorted(c, run, nrun, out, k, nout, cats);
    }
    if (k == nout || floor == lo) break;
  }
  c->ids_zeroed = 0;
  return k == nout ? (int)k : -1;
}

/* Ends sc->track for the batch ranking: lists every candidate once in the touched list (the
 * ids first touched outside the rows, then the cart rows' entries: every live slot is one or
 * the other, with stamp dgen, or dgen - 1 when walk_above listed it), marking each listed
 * slot with the past generation dgen - 2 (nothing reads the stamps after this; the next
 * request's generation is newer). */
static int track_materialize(ctx_t *c) {
  recs_scratch_t *sc = c->sc;
  struct dslot *d = sc->d;
  uint32_t mark = sc->dgen - 2;
  size_t rows = 0;
  for (size_t i = 0; i < c->q->nitems; i++)
    if (c->q->items[i] < c->n)
      rows += c->s->g_off[0][c->q->items[i] + 1] - c->s->g_off[0][c->q->items[i]];
  while ((size_t)sc->tcap < (size_t)sc->ntouched + rows)
    if (!touched_grow(sc)) return PERR_INTERNAL;
  uint32_t *t = sc->touched, n = 0;
  for (uint32_t u = 0; u < sc->ntouched; u++)
    if (d[t[u]].stamp != mark) {
      d[t[u]].stamp = mark;
      t[n++] = t[u];
    }
  const uint32_t *ids = c->s->g_nbr[0];
  for (size_t i = 0; i < c->q->nitems; i++) {
    uint32_t it = c->q->items[i];
    if (it >= c->n) continue;
    for (uint32_t q = c->s->g_off[0][it]; q < c->s->g_off[0][it + 1]; q++)
      if (d[ids[q]].stamp != mark) {
        d[ids[q]].stamp = mark;
        t[n++] = ids[q];
      }
  }
  sc->ntouched = n;
  sc->track = 0;
  return PERR_OK;
}

/* Ranks the accumulated scores, then fills from the fallback lists. */
static int finish(ctx_t *c, recs_result_t *out, size_t nout, recs_answer_t *ans) {
  recs_scratch_t *sc = c->sc;
  ans->fallback = RECS_FALLBACK_NONE;
  ans->from_fallback = 0;
  if (nout == 0) return 0;
  struct dslot *d = sc->d;
  const uint32_t *t = sc->touched;
  uint32_t dcap = sc->dcap;
  /* The request's items and excluded ids never rank (allowed() rejects them whatever the
   * catalogue says): zero them so that they take no batch slot. */
  for (size_t i = 0; i < c->q->nitems; i++)
    if (c->q->items[i] < dcap) d[c->q->items[i]].v = 0;
  for (size_t i = 0; i < c->f.n_exclude_items; i++)
    if (c->f.exclude_items[i] < dcap) d[c->f.exclude_items[i]].v = 0;
  /* With a margin boost the score depends on the catalogue: check and boost every candidate
   * first (into sc->c). Otherwise the candidates are the touched dense entries plus the
   * overflow map's (copied to sc->c), and the checks run on the walked ones only. */
  int checked = c->f.margin_boost != 0;
  size_t need = (checked ? (size_t)sc->ntouched : 0) + sc->used;
  if (!cand_reserve(&sc->c, &sc->ccap, need)) return PERR_INTERNAL;
  uint32_t cats_stack[64], *cats = nout <= 64 ? cats_stack : malloc(nout * sizeof(uint32_t));
  if (!cats) return PERR_INTERNAL;
  size_t k = 0;
  int done = 0;
  if (sc->track) { /* the quick walk, else the batches over every candidate */
    float fl = c->floor;
    int w = fl > 0 ? walk_above(c, out, nout, cats, c->floor_hi, fl) : -1;
    if (w == -1) w = track_materialize(c);
    else done = 1;
    if (w < 0) {
      if (cats != cats_stack) free(cats);
      return w;
    }
    if (done) k = (size_t)w;
  }
  if (!done) {
  t = sc->touched; /* track_materialize may have moved it */
  uint32_t nt = checked ? 0 : sc->ntouched;
  size_t nc = 0;
  if (checked) {
    for (size_t u = 0; u < (size_t)sc->ntouched + sc->used; u++) {
      uint32_t id;
      float s;
      if (u < sc->ntouched) {
        id = t[u];
        s = d[id].v;
      } else {
        const struct mslot *ms = &sc->m[sc->slot[u - sc->ntouched]];
        id = ms->key;
        s = ms->val;
      }
      if (!(s > 0)) continue;
      recs_item_info_t inf;
      if (!allowed(c, id, &inf)) continue;
      if (inf.margin != RECS_PRICE_UNKNOWN && inf.price > 0)
        s *= (float)(1 + c->f.margin_boost * (double)inf.margin / (double)inf.price);
      if (!(s > 0)) continue;
      sc->c[nc++] = (struct cand){id, s, inf.category};
    }
  } else {
    for (uint32_t u = 0; u < sc->used; u++) {
      const struct mslot *ms = &sc->m[sc->slot[u]];
      if (ms->val > 0) sc->c[nc++] = (struct cand){ms->key, ms->val, RECS_NO_CATEGORY};
    }
  }
  const struct cand *C = sc->c;
  /* Batch size: the answer, plus what the catalogue checks may reject; each further batch
   * (rare) takes the next candidates in rank order, 4 times as many. */
  size_t lim = nout;
  if (!checked) {
    if (c->q->catalog || c->q->filter) lim += 4;
    if (c->exclude_history) lim += sc->hused < 64 ? sc->hused : 64;
  }
  struct cand bound = {0, 0, 0};
  for (int first = 1;; first = 0) {
    if (lim > (size_t)nt + nc) lim = (size_t)nt + nc;
    if (lim == 0) break;
    if (!cand_reserve(&sc->heap, &sc->heapcap, lim)) {
      if (cats != cats_stack) free(cats);
      return PERR_INTERNAL;
    }
    struct cand *h = sc->heap;
    size_t m = 0;
    if (first) { /* everything: the best lim of all */
      m = first_batch(c, h, lim, d, t, nt, C, nc, checked ? 0 : cart_floor(c, lim));
    } else { /* only what ranks below the previous batch */
      for (size_t u = 0; u < (size_t)nt + nc; u++) {
        struct cand x = u < nt ? (struct cand){t[u], d[t[u]].v, RECS_NO_CATEGORY} : C[u - nt];
        if (!(x.s > 0) || x.s > bound.s || !better(c, &bound, &x)) continue;
        if (m == lim && !(x.s >= sel_worst(h, lim))) continue;
        m = sel_put(c, h, m, lim, &x);
      }
    }
    sel_sort(c, h, m, lim);
    for (size_t j = 0; j < m && k < nout; j++) {
      uint32_t cat = h[j].cat;
      if (!checked) {
        recs_item_info_t inf;
        if (!allowed(c, h[j].id, &inf)) continue;
        cat = inf.category;
      }
      if (cat_full(c, cats, k, cat)) continue;
      cats[k] = cat;
      out[k++] = (recs_result_t){h[j].id, h[j].s, (uint8_t)reason_of(c, h[j].id)};
    }
    if (k == nout || m < lim) break;
    bound = h[m - 1];
    lim *= 4;
  }
  }
  for (int pass = 0; pass < 2 && k < nout && !c->no_fill; pass++) {
    int trend = pass == 0;
    if (trend && !c->p.fallback_trending) continue;
    const uint32_t *list = trend ? c->s->trend_rank : c->s->pop_rank;
    uint32_t len = trend ? c->s->h->n_trend : c->n, lim2 = len < 200000 ? len : 200000;
    for (uint32_t r = 0; r < lim2 && k < nout; r++) {
      uint32_t id = list[r];
      recs_item_info_t inf;
      if (quick_reject(c, id) || !allowed(c, id, &inf) || chosen(out, k, id) ||
          cat_full(c, cats, k, inf.category))
        continue;
      cats[k] = inf.category;
      /* fallback scores sit below every model score: 0 */
      out[k++] = (recs_result_t){id, 0.0f,
                                 (uint8_t)(c->upsell ? RECS_REASON_UPSELL
                                           : trend   ? RECS_REASON_TRENDING
                                                     : RECS_REASON_POPULAR)};
      ans->from_fallback++;
      if (ans->fallback == RECS_FALLBACK_NONE)
        ans->fallback = trend ? RECS_FALLBACK_TRENDING : RECS_FALLBACK_POPULAR;
    }
  }
  if (cats != cats_stack) free(cats);
  return (int)k;
}

static int begin(ctx_t *c, const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                 recs_answer_t *ans, recs_reason_t reason) {
  memset(c, 0, sizeof(*c));
  memset(ans, 0, sizeof(*ans));
  if (!s || !sc || !q || (q->nitems && !q->items) || (q->nhistory && !q->history))
    return PERR_INVALID_PARAMS;
  c->s = s; c->sc = sc; c->q = q; c->n = s->h->n_items; c->reason = reason;
  if (q->params) c->p = *q->params;
  else recs_params_default(&c->p);
  if (q->filter) c->f = *q->filter;
  c->ucat = RECS_NO_CATEGORY;
  c->uprice = RECS_PRICE_UNKNOWN;
  map_reset(sc);
  dense_reserve(sc, c->n);
  c->hmax = hist_load(sc, q->history, q->history_ts, q->nhistory);
  for (size_t i = 0; i < q->nitems; i++)
    ans->unknown += q->items[i] >= c->n && !recs_delta_known(q->delta, q->items[i]);
  for (size_t i = 0; i < q->nhistory; i++)
    ans->unknown += q->history[i] >= c->n && !recs_delta_known(q->delta, q->history[i]);
  return PERR_OK;
}

static int acc_cb(void *sc, uint32_t item, float v) { return acc_add(sc, item, v); }

/* The dense row sum: d[j] += w * sc[k] for the row's n entries (a first touch sets the slot
 * and appends j to t). The arrays never overlap (restrict lets the compiler keep everything
 * in registers); row_sum1 is the w == 1 case (w * x == x exactly, so the sums are the same
 * bits) without the multiply. Returns the new touched count. */
static uint32_t row_sum(struct dslot *restrict d, uint32_t *restrict t, uint32_t nt, uint32_t gen,
                        const uint32_t *restrict ids, const float *restrict scs, uint32_t n,
                        float w) {
  for (uint32_t k = 0; k < n; k++) {
    uint32_t j = ids[k];
    float v = w * scs[k];
    if (d[j].stamp == gen) {
      d[j].v += v;
    } else {
      d[j].stamp = gen;
      d[j].v = v;
      t[nt++] = j;
    }
  }
  return nt;
}

static uint32_t row_sum1(struct dslot *restrict d, uint32_t *restrict t, uint32_t nt,
                         uint32_t gen, const uint32_t *restrict ids, const float *restrict scs,
                         uint32_t n) {
  uint32_t *tp = t + nt;
  for (size_t k = 0; k < n; k++) {
    uint32_t j = ids[k];
    struct dslot *e = d + j;
    if (e->stamp == gen) {
      e->v += scs[k];
    } else {
      *e = (struct dslot){scs[k], gen};
      *tp++ = j;
    }
  }
  return (uint32_t)(tp - t);
}

/* row_sum1 for the quick walk (sc->track): a first touch only sets the slot (the walk finds
 * it in its row); a later touch appends the id to m. Returns the new multi count. */
static uint32_t row_sum_track(struct dslot *restrict d, uint32_t *restrict m, uint32_t nm,
                              uint32_t gen, const uint32_t *restrict ids,
                              const float *restrict scs, uint32_t n) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8 /* the loop's own counting: ~1 of ~6 instructions per entry at 4 */
#endif
  for (size_t k = 0; k < n; k++) {
    uint32_t j = ids[k];
    struct dslot *e = d + j;
    if (e->stamp != gen) {
      *e = (struct dslot){scs[k], gen};
    } else {
      e->v += scs[k];
      m[nm++] = j;
    }
  }
  return nm;
}

/* Adds w * row(item) of graph g, plus the delta's pairs of item. */
static int add_row(ctx_t *c, recs_graph_t g, uint32_t item, float w) {
  if (item < c->n) {
    recs_scratch_t *sc = c->sc;
    int gi = (g == RECS_GRAPH_CUSTOMER && c->s->g_off[1]) ? 1 : 0;
    uint32_t a = c->s->g_off[gi][item], b = c->s->g_off[gi][item + 1];
    const uint32_t *ids = c->s->g_nbr[gi];
    const float *scs = c->s->g_sc[gi];
    if (c->n <= sc->dcap) { /* every neighbour has a dense slot */
      while (sc->tcap - sc->ntouched < b - a)
        if (!touched_grow(sc)) return PERR_INTERNAL;
      sc->ntouched = w == 1.0f ? row_sum1(sc->d, sc->touched, sc->ntouched, sc->dgen, ids + a,
                                          scs + a, b - a)
                               : row_sum(sc->d, sc->touched, sc->ntouched, sc->dgen, ids + a,
                                         scs + a, b - a, w);
    } else {
      for (uint32_t k = a; k < b; k++)
        if (!acc_add(sc, ids[k], w * scs[k])) return PERR_INTERNAL;
    }
  }
  if (c->q->delta && c->p.delta_weight > 0)
    if (!recs_delta_accumulate(c->q->delta, item, (float)(w * c->p.delta_weight),
                               acc_cb, c->sc))
      return PERR_INTERNAL;
  return PERR_OK;
}

/* How due a repurchase is (recs.h, recs_cart): 1 when the customer's own cycle has just
 * elapsed, falling on a log scale on both sides; 0 without a usable cycle. */
static double cycle_due(uint32_t count, int64_t first, int64_t last, int64_t now) {
  if (count < 2 || last <= first || now <= last) return 0;
  double cycle = (double)(last - first) / (count - 1);
  if (cycle < 86400) return 0;
  double lr = log((double)(now - last) / cycle);
  return exp(-lr * lr / (2 * 0.5 * 0.5));
}

/* The history terms: repurchase_weight x count / mx, then cycle_weight x due. */
static int add_repurchase(ctx_t *c, uint32_t mx) {
  int rep = c->p.repurchase_weight > 0 && mx != 0;
  int cyc = c->p.cycle_weight > 0 && c->q->history_ts && c->q->now > 0;
  if (!rep && !cyc) return PERR_OK;
  const recs_scratch_t *sc = c->sc;
  for (uint32_t u = 0; u < sc->hused; u++) {
    uint32_t x = sc->hslot[u];
    if (rep) {
      c->repurchased = 1;
      if (!acc_add(c->sc, sc->hkey[x], (float)(c->p.repurchase_weight * sc->hcnt[x] / mx)))
        return PERR_INTERNAL;
    }
    double due = cyc ? cycle_due(sc->hcnt[x], sc->hfirst[x], sc->hlast[x], c->q->now) : 0;
    if (due > 0) {
      c->repurchased = 1;
      if (!acc_add(c->sc, sc->hkey[x], (float)(c->p.cycle_weight * due))) return PERR_INTERNAL;
    }
  }
  return PERR_OK;
}

int recs_cart(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
              recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_CO_PURCHASE);
  if (rc) return rc;
  c.cart = 1;
  int hist = q->nhistory && (c.p.history_weight > 0 || c.p.repurchase_weight > 0 ||
                             c.p.cycle_weight > 0);
  /* the quick walk (walk_above): plain carts (the score is the sum of the cart rows) on a
   * snapshot whose rows are sorted, every item dense, an empty delta (else its pairs make
   * many extras), a row long enough to give a floor */
  sc->track = !hist && c.f.margin_boost == 0 && s->g0_desc && c.n <= sc->dcap && nout > 0 &&
              (!q->delta || !(c.p.delta_weight > 0) || recs_delta_empty(q->delta)) &&
              (c.floor = cart_floors(&c, nout + 4, 4, &c.floor_hi)) > 0;
  if (sc->track) { /* add_row's basket rows; the delta is empty: no pairs to add */
    for (size_t i = 0; i < q->nitems; i++) {
      uint32_t it = q->items[i];
      if (it >= c.n) continue;
      uint32_t a = s->g_off[0][it], b = s->g_off[0][it + 1];
      if (!multi_reserve(sc, b - a)) return PERR_INTERNAL;
      sc->nmulti = row_sum_track(sc->d, sc->multi, sc->nmulti, sc->dgen, s->g_nbr[0] + a,
                                 s->g_sc[0] + a, b - a);
    }
    return finish(&c, out, nout, ans);
  }
  for (size_t i = 0; i < q->nitems; i++)
    if ((rc = add_row(&c, RECS_GRAPH_BASKET, q->items[i], 1.0f))) return rc;
  if (q->nhistory && (c.p.history_weight > 0 || c.p.repurchase_weight > 0 ||
                      c.p.cycle_weight > 0)) {
    if (c.p.history_weight > 0)
      for (uint32_t u = 0; u < sc->hused; u++)
        if ((rc = add_row(&c, RECS_GRAPH_BASKET, sc->hkey[sc->hslot[u]],
                          (float)c.p.history_weight)))
          return rc;
    if ((rc = add_repurchase(&c, c.hmax))) return rc;
  }
  return finish(&c, out, nout, ans);
}

int recs_similar(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                 recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_CO_PURCHASE);
  if (rc) return rc;
  if (q->nitems && (rc = add_row(&c, RECS_GRAPH_CUSTOMER, q->items[0], 1.0f))) return rc;
  return finish(&c, out, nout, ans);
}

int recs_for_customer(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                      recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_PERSONAL);
  if (rc) return rc;
  c.exclude_history = 1;
  for (uint32_t u = 0; u < sc->hused; u++)
    if ((rc = add_row(&c, RECS_GRAPH_CUSTOMER, sc->hkey[sc->hslot[u]], 1.0f))) return rc;
  for (size_t i = 0; i < q->nitems; i++) /* an optional current cart adds context */
    if ((rc = add_row(&c, RECS_GRAPH_BASKET, q->items[i], 1.0f))) return rc;
  if ((rc = add_repurchase(&c, c.hmax))) return rc; /* consumables only survive */
  return finish(&c, out, nout, ans);
}

/* Upsell widening step: appends to out[*k..nout) what allowed() accepts among q->candidates
 * (or the popularity list's first 200000) and is not chosen yet, most popular first (then
 * id), score 0, reason upsell, honouring max_per_category; names the step in ans->fallback
 * when it adds any (the first step that adds wins). */
static int upsell_widen(ctx_t *c, recs_result_t *out, size_t *k, size_t nout, recs_answer_t *ans,
                        recs_fallback_t step) {
  if (*k >= nout) return PERR_OK;
  const uint32_t *list = c->q->candidates ? c->q->candidates : c->s->pop_rank;
  size_t len = c->q->candidates ? c->q->ncandidates : (c->n < 200000 ? c->n : 200000);
  /* the category cap may drop some of the best: then rank every eligible item */
  size_t lim = c->f.max_per_category ? len : nout - *k;
  if (lim > len) lim = len;
  if (lim == 0) return PERR_OK;
  recs_scratch_t *sc = c->sc;
  if (!cand_reserve(&sc->heap, &sc->heapcap, lim)) return PERR_INTERNAL;
  struct cand *h = sc->heap;
  size_t m = 0;
  map_reset(sc); /* the accumulator now marks the ids seen (candidates may repeat) */
  for (size_t i = 0; i < len; i++) {
    uint32_t id = list[i];
    recs_item_info_t inf;
    if (acc_get(sc, id) != 0) continue;
    if (!acc_add(sc, id, 1.0f)) return PERR_INTERNAL;
    if (quick_reject(c, id) || chosen(out, *k, id) || !allowed(c, id, &inf)) continue;
    struct cand x = {id, (float)pop_of(c, id), inf.category}; /* float order agrees with pop */
    m = sel_put(c, h, m, lim, &x);
    /* the popularity list is in this very order (built so): the first lim that pass win */
    if (!c->q->candidates && m == lim && !c->f.max_per_category) break;
  }
  sel_sort(c, h, m, lim);
  uint32_t cats_stack[64], *cats = nout <= 64 ? cats_stack : malloc(nout * sizeof(uint32_t));
  if (!cats) return PERR_INTERNAL;
  for (size_t j = 0; j < *k; j++) {
    recs_item_info_t inf;
    item_info(c->q->catalog, out[j].item, &inf);
    cats[j] = inf.category;
  }
  for (size_t j = 0; j < m && *k < nout; j++) {
    if (cat_full(c, cats, *k, h[j].cat)) continue;
    cats[*k] = h[j].cat;
    out[(*k)++] = (recs_result_t){h[j].id, 0.0f, (uint8_t)RECS_REASON_UPSELL};
    ans->from_fallback++;
    if (ans->fallback == RECS_FALLBACK_NONE) ans->fallback = step;
  }
  if (cats != cats_stack) free(cats);
  return PERR_OK;
}

int recs_upsell(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_UPSELL);
  if (rc) return rc;
  if (q->nitems == 0) return PERR_INVALID_PARAMS;
  recs_item_info_t pi;
  item_info(q->catalog, q->items[0], &pi);
  c.upsell = 1;
  c.ucat = pi.category;
  c.uprice = pi.price;
  c.no_fill = c.ucat != RECS_NO_CATEGORY || c.uprice != RECS_PRICE_UNKNOWN;
  /* co-consideration: the product's customer-level neighbours (bought by the same people) */
  if ((rc = add_row(&c, RECS_GRAPH_CUSTOMER, q->items[0], 1.0f))) return rc;
  if (q->candidates) {
    /* keep only the given candidates: copy their scores, then rebuild the accumulator */
    size_t nc = q->ncandidates;
    float stackv[256], *v = nc <= 256 ? stackv : malloc(nc * sizeof(float));
    if (!v) return PERR_INTERNAL;
    for (size_t i = 0; i < nc; i++) v[i] = acc_get(sc, q->candidates[i]);
    map_reset(sc);
    int ok = 1;
    for (size_t i = 0; i < nc && ok; i++)
      if (v[i] > 0) ok = acc_add(sc, q->candidates[i], v[i]);
    if (v != stackv) free(v);
    if (!ok) return PERR_INTERNAL;
  }
  int k = finish(&c, out, nout, ans);
  if (k < 0 || !c.no_fill) return k;
  /* thin co-consideration: widen in steps, the band first, then everything pricier */
  size_t kk = (size_t)k;
  if ((rc = upsell_widen(&c, out, &kk, nout, ans, RECS_FALLBACK_PRICE_BAND))) return rc;
  c.unbounded = 1;
  if ((rc = upsell_widen(&c, out, &kk, nout, ans, RECS_FALLBACK_CATEGORY_POPULAR))) return rc;
  return (int)kk;
}
