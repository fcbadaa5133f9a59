/* recs_score_internal.h -- what the scorer's files share (src/recs only): the per-thread
 * scratch's layout, the request context, and the per-candidate checks as static inline so
 * that every file inlines them (recs_score.c: set-up, row sums, the public scorers;
 * recs_rank.c: ranking and the quick walk; recs_scratch.c: the scratch and its maps).
 * Accumulator: dense {score, stamp} slots indexed by item id (ids below the snapshot's item
 * count, up to RECS_DENSE_MAX) plus a list of the ids touched by this request; a new request
 * bumps the generation stamp, so nothing is cleared per entry. Other ids (delta-only items,
 * unknown ids) go to a small open-addressing map. Every item's sum is formed by the same
 * additions in the same order as in the plain hash-map scorer this replaced (history items in
 * slot order of the history map), so scores are bit-identical.
 * Invariants: a dense slot holds a score only when its stamp is the current generation (a
 * first touch overwrites it); nothing here writes to the snapshot. */
#ifndef PATRON_RECS_SCORE_INTERNAL_H
#define PATRON_RECS_SCORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recs_delta_internal.h"

/* Items with ids below this many get dense accumulator slots (12 bytes per item per scratch
 * with the touched list); bigger catalogues use the map for the rest. */
#define RECS_DENSE_MAX (1u << 22)

struct cand { uint32_t id; float s; uint32_t cat; };

struct recs_scratch_s {
  struct dslot { float v; uint32_t stamp; } *d; /* dense accumulator, ids < dcap; an entry
                                                 holds a score only when stamp == dgen
                                                 (8 bytes, no padding: row_sum_track) */
  uint32_t dcap, dgen;
  uint32_t *touched;  /* this request's dense ids, first-touch order (with track: only the
                         ones first touched outside the cart rows) */
  uint32_t ntouched, tcap;
  int track;          /* recs_cart's quick walk: cart rows do not list their first touches;
                         a later touch of an id appends it to multi when its sum reaches
                         the walk's lowest floor (repeats possible) */
  uint32_t *multi, nmulti, mcap;
  struct mslot { uint32_t key, stamp; float val; } *m; /* overflow map, open addressing */
  uint32_t gen, cap, used, shift;
  uint32_t *slot; /* the used slots, in insertion order (used entries) */
  uint32_t *hkey, *hstamp, hgen, hcap, hused; /* history item -> count */
  uint32_t *hcnt;
  int64_t *hfirst, *hlast; /* history item -> its first and last basket time (history_ts) */
  uint32_t *hslot;    /* the used history slots, ascending after recs_hist_load */
  struct cand *c;     /* boosted candidates (margin boost) or the overflow map's */
  size_t ccap;
  struct cand *heap;  /* the selection batch */
  size_t heapcap;
  uint64_t *keys;     /* walk_above's extras as score bits << 32 | id */
  size_t kcap;
};

_Static_assert(sizeof(struct dslot) == 8 && offsetof(struct dslot, stamp) == 4,
               "row_sum_track writes a slot as one 8-byte word");

/* A dense slot {v with these float bits, stamp} as the 8-byte word it is in memory
 * (genhi = (uint64_t)stamp << 32): one store or one compare instead of two. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SLOT_WORD(genhi, bits) ((uint64_t)(bits) << 32 | (genhi) >> 32)
#else
#define SLOT_WORD(genhi, bits) ((genhi) | (bits))
#endif

/* ---- recs_scratch.c: the accumulator and the history map ---- */
/* Empties the accumulator (dense part and overflow map) in O(1) by new generations. */
void recs_acc_reset(recs_scratch_t *sc);
/* Dense slots for ids < n (capped); keeps the old size if memory is short. Call when empty. */
void recs_acc_dense_reserve(recs_scratch_t *sc, uint32_t n);
/* The overflow map's add (ids without a dense slot); 0 when out of memory. */
int recs_acc_map_add(recs_scratch_t *sc, uint32_t item, float v);
/* Doubles the touched list; 0 when out of memory. */
int recs_acc_touched_grow(recs_scratch_t *sc);
/* Room for n more entries in the multi list; 0 when out of memory. */
int recs_acc_multi_reserve(recs_scratch_t *sc, uint32_t n);
/* Current score of item, 0 when absent. */
float recs_acc_get(const recs_scratch_t *sc, uint32_t item);
/* History multiset -> distinct items with counts; returns the largest count. */
uint32_t recs_hist_load(recs_scratch_t *sc, const uint32_t *h, const int64_t *ts, size_t n);


/* Adds v to item's score; returns 0 on allocation failure. A new entry starts at v exactly. */
static inline int acc_add(recs_scratch_t *sc, uint32_t item, float v) {
  if (item < sc->dcap) {
    struct dslot *e = &sc->d[item];
    if (e->stamp == sc->dgen) {
      e->v += v;
      if (sc->track) { /* a later touch: walk_above takes it from the multi list */
        if (!recs_acc_multi_reserve(sc, 1)) return 0;
        sc->multi[sc->nmulti++] = item;
      }
      return 1;
    }
    if (sc->ntouched == sc->tcap && !recs_acc_touched_grow(sc)) return 0;
    e->stamp = sc->dgen;
    e->v = v;
    sc->touched[sc->ntouched++] = item;
    return 1;
  }
  return recs_acc_map_add(sc, item, v);
}

static inline uint32_t hist_count(const recs_scratch_t *sc, uint32_t item) {
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
  uint32_t n;              /* snapshot items */
  recs_reason_t reason;
  int exclude_history;     /* for_customer: drop bought items unless consumable */
  int upsell;              /* upsell: same category, price in (pp, pp * ratio] */
  int repurchased;         /* the repurchase term was added: history items say so */
  int unbounded;           /* upsell widening: price above pp, no upper bound */
  int no_fill;             /* recs_finish() leaves empty slots (upsell widens by itself) */
  int cart;                /* recs_cart: the first batch may start from cart_floor() */
  float floor, floor_hi;   /* recs_cart with sc->track: cart_floor(nout + 4), cart_floor(nout) */
  int ids_zeroed;          /* walk_above's walk: the request's items and excluded ids scored 0,
                              below its floor, so none is walked: allowed() skips the lists */
  uint32_t ucat;
  int64_t uprice;
  uint32_t hmax;           /* largest history count */
  /* last: begin() zeroes the fields above and sets these in full */
  recs_params_t p;
  recs_filter_t f;
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

static inline int cat_full(const ctx_t *c, const uint32_t *cats, size_t k, uint32_t cat) {
  if (!c->f.max_per_category || cat == RECS_NO_CATEGORY) return 0;
  uint32_t used = 0;
  for (size_t i = 0; i < k; i++) used += cats[i] == cat;
  return used >= c->f.max_per_category;
}

static inline int chosen(const recs_result_t *out, size_t k, uint32_t id) {
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

/* A ranked item's reason: the request's, or repurchase for an item of the customer's history
 * when the repurchase term was added (its score holds the term). */
static inline recs_reason_t reason_of(const ctx_t *c, uint32_t id) {
  return c->repurchased && hist_count(c->sc, id) ? RECS_REASON_REPURCHASE : c->reason;
}

/* Grows a candidate array (capacity doubling) to hold need entries; 0 when out of memory. */
static inline int cand_reserve(struct cand **v, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t nc = *cap;
  while (nc < need) nc *= 2;
  struct cand *nv = realloc(*v, nc * sizeof(*nv));
  if (!nv) return 0;
  *v = nv;
  *cap = nc;
  return 1;
}

/* ---- recs_rank.c: ranking ---- */
/* Puts candidate x into the batch h[0..m) of capacity lim. Returns the new m. */
size_t recs_sel_put(const ctx_t *c, struct cand *h, size_t m, size_t lim, const struct cand *x);
/* A heap batch -> best first. */
void recs_sel_sort(const ctx_t *c, struct cand *h, size_t m, size_t lim);
/* cart_floor(lim) and, into *hi, cart_floor(lim - less) (>= it), in one pass over the rows. */
float recs_cart_floors(const ctx_t *c, size_t lim, size_t less, float *hi);
/* Ranks the accumulated scores into out[0, nout), then fills from the fallback lists.
 * Returns the count written or a negative PERR code. */
int recs_finish(ctx_t *c, recs_result_t *out, size_t nout, recs_answer_t *ans);

#endif
