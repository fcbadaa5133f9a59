/* test_recs_score_ref.c -- checks the optimised scorers of src/recs/recs_score.c, recs_rank.c against a
 * straightforward reference: the scorer as it was before the dense accumulator and lazy
 * ranking (hash-map accumulator, every candidate filtered, bounded heap + qsort), kept here
 * verbatim apart from names, as test-only code. Random models (basket/customer graphs, top-K,
 * row norm), random catalogues (none, arrays, callback; partial coverage, unknown prices),
 * filters (stock, exclusions, price band, category cap, margin boost of either sign),
 * params, deltas with new items, carts/histories/candidates with duplicates and unknown ids,
 * and answer sizes 0..70; every answer must be identical: count, items, score bits,
 * reasons, fallback, unknown and from_fallback. Owns nothing outside this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs/recs.h"
#include "recs/recs_delta_internal.h"

/* ======== reference scorer (the pre-optimisation recs_score.c) ======== */
typedef struct ref_scratch_s ref_scratch_t;
static void ref_scratch_free(ref_scratch_t *sc);

struct ref_scratch_s {
  struct mslot { uint32_t key, stamp; float val; } *m; /* accumulator, open addressing */
  uint32_t gen, cap, used, shift;
  uint32_t *slot; /* the used slots, in insertion order (used entries) */
  uint32_t *hkey, *hstamp, hgen, hcap, hused; /* history item -> count */
  uint32_t *hcnt;
  struct cand { uint32_t id, pop; float s; } *c;
  size_t ccap;
};




static ref_scratch_t *ref_scratch_new(void) {
  ref_scratch_t *sc = calloc(1, sizeof(*sc));
  if (!sc) return NULL;
  sc->cap = sc->hcap = 1024;
  sc->shift = 32 - 10;
  sc->m = calloc(sc->cap, sizeof(*sc->m));
  sc->slot = malloc(sc->cap / 2 * sizeof(uint32_t));
  sc->hkey = malloc(sc->hcap * sizeof(uint32_t));
  sc->hstamp = calloc(sc->hcap, sizeof(uint32_t));
  sc->hcnt = malloc(sc->hcap * sizeof(uint32_t));
  sc->ccap = 512;
  sc->c = malloc(sc->ccap * sizeof(*sc->c));
  if (!sc->m || !sc->slot || !sc->hkey || !sc->hstamp || !sc->hcnt || !sc->c) {
    ref_scratch_free(sc);
    return NULL;
  }
  return sc;
}

static void ref_scratch_free(ref_scratch_t *sc) {
  if (!sc) return;
  free(sc->m); free(sc->slot);
  free(sc->hkey); free(sc->hstamp); free(sc->hcnt); free(sc->c);
  free(sc);
}

static void map_reset(ref_scratch_t *sc) {
  if (++sc->gen == 0) {
    for (uint32_t i = 0; i < sc->cap; i++) sc->m[i].stamp = 0;
    sc->gen = 1;
  }
  sc->used = 0;
}

static inline uint32_t mhash(const ref_scratch_t *sc, uint32_t item) {
  return (item * 0x9e3779b1u) >> sc->shift; /* Fibonacci hashing */
}

static int map_grow(ref_scratch_t *sc) {
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

/* Adds v to item's score; returns 0 on allocation failure. */
static inline int acc_add(ref_scratch_t *sc, uint32_t item, float v) {
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  struct mslot *e;
  while ((e = &sc->m[x])->stamp == sc->gen) {
    if (e->key == item) { e->val += v; return 1; }
    x = (x + 1) & mask;
  }
  if ((sc->used + 1) * 2 > sc->cap) {
    if (!map_grow(sc)) return 0;
    return acc_add(sc, item, v);
  }
  *e = (struct mslot){item, sc->gen, v};
  sc->slot[sc->used++] = x;
  return 1;
}

/* Current score of item, 0 when absent. */
static float acc_get(const ref_scratch_t *sc, uint32_t item) {
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  while (sc->m[x].stamp == sc->gen) {
    if (sc->m[x].key == item) return sc->m[x].val;
    x = (x + 1) & mask;
  }
  return 0;
}

/* History multiset -> distinct items with counts (separate map). Returns max count. */
static uint32_t hist_load(ref_scratch_t *sc, const uint32_t *h, size_t n) {
  while (n * 2 > sc->hcap) {
    uint32_t nc = sc->hcap * 2;
    uint32_t *k = realloc(sc->hkey, nc * sizeof(uint32_t)), *c = NULL, *st = NULL;
    if (k) sc->hkey = k;
    if (k && (c = realloc(sc->hcnt, nc * sizeof(uint32_t)))) sc->hcnt = c;
    if (c && (st = calloc(nc, sizeof(uint32_t)))) { free(sc->hstamp); sc->hstamp = st; }
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
      sc->hused++;
    }
    if (++sc->hcnt[x] > mx) mx = sc->hcnt[x];
  }
  return mx;
}

static uint32_t hist_count(const ref_scratch_t *sc, uint32_t item) {
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
  ref_scratch_t *sc;
  const recs_request_t *q;
  recs_params_t p;
  recs_filter_t f;
  uint32_t n;              /* snapshot items */
  recs_reason_t reason;
  int exclude_history;     /* for_customer: drop bought items unless consumable */
  int upsell;              /* upsell: same category, price in (pp, pp * ratio] */
  int repurchased;         /* the repurchase term was added: history items say so */
  int unbounded, no_fill;  /* upsell widening (written for this test, not the old scorer) */
  uint32_t ucat;
  int64_t uprice;
} ctx_t;

static void item_info(const recs_catalog_t *cat, uint32_t id, recs_item_info_t *o) {
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

static int in_list(const uint32_t *v, size_t n, uint32_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

/* Whether item may be shown at all; fills *inf. */
static int allowed(const ctx_t *c, uint32_t id, recs_item_info_t *inf) {
  if (in_list(c->q->items, c->q->nitems, id)) return 0;
  if (in_list(c->f.exclude_items, c->f.n_exclude_items, id)) return 0;
  item_info(c->q->catalog, id, inf);
  if (c->exclude_history && !inf->consumable && hist_count(c->sc, id)) return 0;
  if (c->f.in_stock_only && !inf->in_stock) return 0;
  if (inf->category != RECS_NO_CATEGORY &&
      in_list(c->f.exclude_categories, c->f.n_exclude_categories, inf->category))
    return 0;
  if (c->f.price_max > 0 &&
      (inf->price == RECS_PRICE_UNKNOWN || inf->price < c->f.price_min || inf->price > c->f.price_max))
    return 0;
  if (c->upsell) {
    if (c->ucat != RECS_NO_CATEGORY && inf->category != c->ucat) return 0;
    if (c->uprice != RECS_PRICE_UNKNOWN &&
        (inf->price == RECS_PRICE_UNKNOWN || inf->price <= c->uprice ||
         (!c->unbounded && (double)inf->price > (double)c->uprice * c->p.upsell_max_ratio)))
      return 0;
  }
  return 1;
}

static int cand_better(const struct cand *a, const struct cand *b) {
  if (a->s != b->s) return a->s > b->s;
  if (a->pop != b->pop) return a->pop > b->pop;
  return a->id < b->id;
}

/* Min-heap on "better": the root is the worst kept candidate. */
static void sift_worst(struct cand *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && cand_better(&h[m], &h[l])) m = l;
    if (l + 1 < n && cand_better(&h[m], &h[l + 1])) m = l + 1;
    if (m == i) return;
    struct cand t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
}

static int cand_cmp(const void *a, const void *b) {
  return cand_better(a, b) ? -1 : cand_better(b, a) ? 1 : 0;
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

/* Ranks the accumulated scores, then fills from the fallback lists. */
static int finish(ctx_t *c, recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ref_scratch_t *sc = c->sc;
  if (sc->used > sc->ccap) {
    size_t nc = sc->ccap;
    while (nc < sc->used) nc *= 2;
    struct cand *nv = realloc(sc->c, nc * sizeof(*nv));
    if (!nv) return PERR_INTERNAL;
    sc->c = nv; sc->ccap = nc;
  }
  uint32_t cats_stack[64], *cats = nout <= 64 ? cats_stack : malloc(nout * sizeof(uint32_t));
  if (!cats) return PERR_INTERNAL;
  size_t k = 0;
  /* Bounded selection: keep the best lim candidates in a heap whose root is the worst kept
   * one (most candidates lose one comparison against the root). With a per-category cap,
   * lim = 8 * nout, and a full pass (lim = all) if the caps leave slots empty. */
  for (int attempt = 0; attempt < 2 && k < nout; attempt++) {
    size_t lim = !c->f.max_per_category ? nout : attempt ? sc->used : nout * 8;
    size_t m = 0, dropped = 0;
    k = 0;
    for (uint32_t u = 0; u < sc->used; u++) {
      const struct mslot *ms = &sc->m[sc->slot[u]];
      if (!(ms->val > 0)) continue;
      float s = ms->val;
      if (m == lim && s < sc->c[0].s && c->f.margin_boost == 0) { dropped++; continue; }
      uint32_t id = ms->key;
      recs_item_info_t inf;
      if (!allowed(c, id, &inf)) continue;
      if (c->f.margin_boost != 0 && inf.margin != RECS_PRICE_UNKNOWN && inf.price > 0)
        s *= (float)(1 + c->f.margin_boost * (double)inf.margin / (double)inf.price);
      if (!(s > 0)) continue;
      struct cand cd = {id, id < c->n ? c->s->pop[id] : 0, s};
      if (m < lim) {
        size_t i = m++;
        while (i > 0 && cand_better(&sc->c[(i - 1) / 2], &cd)) {
          sc->c[i] = sc->c[(i - 1) / 2];
          i = (i - 1) / 2;
        }
        sc->c[i] = cd;
      } else if (cand_better(&cd, &sc->c[0])) {
        sc->c[0] = cd;
        sift_worst(sc->c, m, 0);
        dropped++;
      } else {
        dropped++;
      }
    }
    qsort(sc->c, m, sizeof(*sc->c), cand_cmp);
    for (size_t i = 0; i < m && k < nout; i++) {
      recs_item_info_t inf;
      item_info(c->q->catalog, sc->c[i].id, &inf);
      if (cat_full(c, cats, k, inf.category)) continue;
      cats[k] = inf.category;
      out[k++] = (recs_result_t){sc->c[i].id, sc->c[i].s,
                                 (uint8_t)(c->repurchased && hist_count(c->sc, sc->c[i].id)
                                               ? RECS_REASON_REPURCHASE : c->reason)};
    }
    if (!dropped) break;
  }
  ans->fallback = RECS_FALLBACK_NONE;
  ans->from_fallback = 0;
  for (int pass = 0; pass < 2 && k < nout && !c->no_fill; pass++) {
    int trend = pass == 0;
    if (trend && !c->p.fallback_trending) continue;
    const uint32_t *list = trend ? c->s->trend_rank : c->s->pop_rank;
    uint32_t len = trend ? c->s->h->n_trend : c->n, lim = len < 200000 ? len : 200000;
    for (uint32_t r = 0; r < lim && k < nout; r++) {
      uint32_t id = list[r];
      recs_item_info_t inf;
      if (chosen(out, k, id) || !allowed(c, id, &inf) || cat_full(c, cats, k, inf.category))
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

static int begin(ctx_t *c, const recs_snapshot_t *s, ref_scratch_t *sc, const recs_request_t *q,
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
  hist_load(sc, q->history, q->nhistory);
  for (size_t i = 0; i < q->nitems; i++)
    ans->unknown += q->items[i] >= c->n && !recs_delta_known(q->delta, q->items[i]);
  for (size_t i = 0; i < q->nhistory; i++)
    ans->unknown += q->history[i] >= c->n && !recs_delta_known(q->delta, q->history[i]);
  return PERR_OK;
}

static int acc_cb(void *sc, uint32_t item, float v) { return acc_add(sc, item, v); }

/* Adds w * row(item) of graph g, plus the delta's pairs of item. */
static int add_row(ctx_t *c, recs_graph_t g, uint32_t item, float w) {
  if (item < c->n) {
    const uint32_t *ids;
    const float *sc;
    size_t n = recs_snapshot_neighbours(c->s, g, item, &ids, &sc);
    for (size_t k = 0; k < n; k++)
      if (!acc_add(c->sc, ids[k], w * sc[k])) return PERR_INTERNAL;
  }
  if (c->q->delta && c->p.delta_weight > 0)
    if (!recs_delta_accumulate(c->q->delta, item, (float)(w * c->p.delta_weight),
                               acc_cb, c->sc))
      return PERR_INTERNAL;
  return PERR_OK;
}

static int add_repurchase(ctx_t *c, uint32_t mx) {
  if (!(c->p.repurchase_weight > 0) || mx == 0) return PERR_OK;
  c->repurchased = 1;
  for (uint32_t x = 0; x < c->sc->hcap; x++)
    if (c->sc->hstamp[x] == c->sc->hgen &&
        !acc_add(c->sc, c->sc->hkey[x], (float)(c->p.repurchase_weight * c->sc->hcnt[x] / mx)))
      return PERR_INTERNAL;
  return PERR_OK;
}

static uint32_t hist_max(const ref_scratch_t *sc) {
  uint32_t mx = 0;
  for (uint32_t x = 0; x < sc->hcap; x++)
    if (sc->hstamp[x] == sc->hgen && sc->hcnt[x] > mx) mx = sc->hcnt[x];
  return mx;
}

static int ref_cart(const recs_snapshot_t *s, ref_scratch_t *sc, const recs_request_t *q,
              recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_CO_PURCHASE);
  if (rc) return rc;
  for (size_t i = 0; i < q->nitems; i++)
    if ((rc = add_row(&c, RECS_GRAPH_BASKET, q->items[i], 1.0f))) return rc;
  if (q->nhistory && (c.p.history_weight > 0 || c.p.repurchase_weight > 0)) {
    if (c.p.history_weight > 0)
      for (uint32_t x = 0; x < sc->hcap; x++)
        if (sc->hstamp[x] == sc->hgen &&
            (rc = add_row(&c, RECS_GRAPH_BASKET, sc->hkey[x], (float)c.p.history_weight)))
          return rc;
    if ((rc = add_repurchase(&c, hist_max(sc)))) return rc;
  }
  return finish(&c, out, nout, ans);
}

static int ref_similar(const recs_snapshot_t *s, ref_scratch_t *sc, const recs_request_t *q,
                 recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_CO_PURCHASE);
  if (rc) return rc;
  if (q->nitems && (rc = add_row(&c, RECS_GRAPH_CUSTOMER, q->items[0], 1.0f))) return rc;
  return finish(&c, out, nout, ans);
}

static int ref_for_customer(const recs_snapshot_t *s, ref_scratch_t *sc, const recs_request_t *q,
                      recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_PERSONAL);
  if (rc) return rc;
  c.exclude_history = 1;
  for (uint32_t x = 0; x < sc->hcap; x++)
    if (sc->hstamp[x] == sc->hgen && (rc = add_row(&c, RECS_GRAPH_CUSTOMER, sc->hkey[x], 1.0f)))
      return rc;
  for (size_t i = 0; i < q->nitems; i++) /* an optional current cart adds context */
    if ((rc = add_row(&c, RECS_GRAPH_BASKET, q->items[i], 1.0f))) return rc;
  if ((rc = add_repurchase(&c, hist_max(sc)))) return rc; /* consumables only survive */
  return finish(&c, out, nout, ans);
}

/* Upsell widening, written plainly: every eligible distinct item of the list, sorted by
 * popularity desc then id, walked with the category cap. */
static const recs_snapshot_t *widen_snap;
static int widen_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  uint32_t n = widen_snap->h->n_items;
  uint32_t px = x < n ? widen_snap->pop[x] : 0, py = y < n ? widen_snap->pop[y] : 0;
  if (px != py) return px > py ? -1 : 1;
  return (x > y) - (x < y);
}

static int ref_widen(ctx_t *c, recs_result_t *out, size_t k, size_t nout, recs_answer_t *ans,
                     recs_fallback_t step) {
  const uint32_t *list = c->q->candidates ? c->q->candidates : c->s->pop_rank;
  size_t len = c->q->candidates ? c->q->ncandidates : (c->n < 200000 ? c->n : 200000);
  uint32_t *v = malloc((len + 1) * sizeof(uint32_t));
  uint32_t *cats = malloc((nout + 1) * sizeof(uint32_t));
  if (!v || !cats) { free(v); free(cats); return PERR_INTERNAL; }
  size_t m = 0;
  for (size_t i = 0; i < len; i++) {
    recs_item_info_t inf;
    if (!chosen(out, k, list[i]) && allowed(c, list[i], &inf)) v[m++] = list[i];
  }
  widen_snap = c->s;
  qsort(v, m, sizeof(uint32_t), widen_cmp);
  for (size_t j = 0; j < k; j++) {
    recs_item_info_t inf;
    item_info(c->q->catalog, out[j].item, &inf);
    cats[j] = inf.category;
  }
  for (size_t j = 0; j < m && k < nout; j++) {
    recs_item_info_t inf;
    if ((j && v[j] == v[j - 1]) || chosen(out, k, v[j])) continue;
    item_info(c->q->catalog, v[j], &inf);
    if (cat_full(c, cats, k, inf.category)) continue;
    cats[k] = inf.category;
    out[k++] = (recs_result_t){v[j], 0.0f, (uint8_t)RECS_REASON_UPSELL};
    ans->from_fallback++;
    if (ans->fallback == RECS_FALLBACK_NONE) ans->fallback = step;
  }
  free(v);
  free(cats);
  return (int)k;
}

static int ref_upsell(const recs_snapshot_t *s, ref_scratch_t *sc, const recs_request_t *q,
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
    /* keep only the given candidates: copy their scores, then rebuild the map */
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
  k = ref_widen(&c, out, (size_t)k, nout, ans, RECS_FALLBACK_PRICE_BAND);
  c.unbounded = 1;
  return ref_widen(&c, out, (size_t)k, nout, ans, RECS_FALLBACK_CATEGORY_POPULAR);
}

/* ======== random instances ======== */
static uint64_t rng_state;
static uint32_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  rng_state = x;
  return (uint32_t)(x >> 16);
}
static uint32_t rn(uint32_t n) { return n ? rnd() % n : 0; }

typedef struct cat_s {
  uint32_t n;
  uint64_t stock[64], cons[64];
  uint32_t category[4096];
  int64_t price[4096], margin[4096];
} cat_t;

static int cat_info(void *ctx, uint32_t id, recs_item_info_t *o) {
  const cat_t *c = ctx;
  if (id >= c->n || id % 17 == 3) return 0; /* some items without data */
  o->in_stock = (int)((c->stock[id >> 6] >> (id & 63)) & 1);
  o->consumable = (int)((c->cons[id >> 6] >> (id & 63)) & 1);
  o->category = c->category[id];
  o->price = c->price[id];
  o->margin = c->margin[id];
  return 1;
}

static void cat_random(cat_t *c, uint32_t n, uint32_t ncat) {
  memset(c, 0, sizeof *c);
  c->n = n;
  uint32_t stock_pct = 30 + rn(71), cons_pct = rn(40);
  for (uint32_t i = 0; i < n; i++) {
    if (rn(100) < stock_pct) c->stock[i >> 6] |= 1ull << (i & 63);
    if (rn(100) < cons_pct) c->cons[i >> 6] |= 1ull << (i & 63);
    c->category[i] = rn(8) == 0 ? RECS_NO_CATEGORY : rn(ncat);
    c->price[i] = rn(10) == 0 ? RECS_PRICE_UNKNOWN : 50 + (int64_t)rn(1000);
    c->margin[i] = rn(8) == 0 ? RECS_PRICE_UNKNOWN : (int64_t)rn(600) - 100;
  }
}

/* Random model with n items; returns the snapshot and the item count. */
static recs_snapshot_t *model_random(uint32_t *nitems) {
  recs_config_t cfg;
  recs_config_default(&cfg);
  switch (rn(5)) {
  case 0: recs_config_baseline_cosine(&cfg); break;
  case 1: cfg.top_k = 1 + rn(12); break;
  case 2: cfg.sim = RECS_SIM_COOC; cfg.top_k = 0; cfg.row_norm = 1; break;
  case 3: cfg.sim = RECS_SIM_LIFT; cfg.power = 1; cfg.top_k = 3 + rn(30); break;
  default: break;
  }
  cfg.customer_graph = rn(3) != 0;
  cfg.max_history = 5 + rn(40);
  cfg.threads = 1 + rn(2);
  uint32_t n = 5 + rn(rn(2) ? 60 : 900);
  recs_builder_t *b = recs_builder_new(&cfg, NULL);
  assert_non_null(b);
  uint32_t ids[1000], cids[64], ncust = 1 + rn(60);
  char name[32];
  for (uint32_t i = 0; i < n; i++) {
    int l = snprintf(name, sizeof name, "it%u", i);
    assert_int_equal(recs_builder_intern(b, name, (size_t)l, &ids[i]), PERR_OK);
  }
  /* customers are interned at their first basket (a customer without baskets trips UBSan in
   * the builder's customer graph: qsort of an empty, NULL vector) */
  for (uint32_t i = 0; i < ncust; i++) cids[i] = RECS_NO_ITEM;
  uint32_t nb = 20 + rn(2000);
  for (uint32_t k = 0; k < nb; k++) {
    uint32_t bs[12], m = 1 + rn(rn(4) ? 4 : 12);
    uint32_t first = rn(2) ? rn(1 + n / 8) : rn(n);
    for (uint32_t j = 0; j < m; j++)
      bs[j] = ids[j == 0 ? first : rn(3) ? (first + 1 + rn(6)) % n : rn(n)];
    uint32_t cust = RECS_NO_ITEM;
    if (rn(5)) {
      uint32_t ci = rn(ncust);
      if (cids[ci] == RECS_NO_ITEM) {
        int l = snprintf(name, sizeof name, "c%u", ci);
        assert_int_equal(recs_builder_intern_customer(b, name, (size_t)l, &cids[ci]), PERR_OK);
      }
      cust = cids[ci];
    }
    assert_int_equal(recs_builder_add_basket_ids(b, cust, 1700000000 + (int64_t)k * 3600, bs, m),
                     PERR_OK);
  }
  recs_snapshot_t *s = NULL;
  perr_info_t e;
  assert_int_equal(recs_builder_build(b, &s, &e), PERR_OK);
  recs_builder_free(b);
  recs_snapshot_stats_t st;
  recs_snapshot_stats(s, &st);
  *nitems = st.items;
  return s;
}

/* A random request item: mostly known, some unknown / fresh (delta) / RECS_NO_ITEM. */
static uint32_t item_random(uint32_t n, uint32_t nfresh) {
  uint32_t r = rn(100);
  if (r < 3) return RECS_NO_ITEM;
  if (r < 6) return n + nfresh + rn(1000);          /* unknown to everything */
  if (r < 12 && nfresh) return n + rn(nfresh);       /* delta-only item */
  return rn(2) ? rn(1 + n / 6) : rn(n);              /* popular-ish or any */
}

static int same_results(const recs_result_t *a, const recs_result_t *b, int n) {
  for (int i = 0; i < n; i++) {
    uint32_t sa, sb;
    memcpy(&sa, &a[i].score, 4);
    memcpy(&sb, &b[i].score, 4);
    if (a[i].item != b[i].item || sa != sb || a[i].reason != b[i].reason) {
      fprintf(stderr, "  slot %d: got item %u score %.9g reason %u, want item %u score %.9g "
                      "reason %u\n", i, a[i].item, (double)a[i].score, a[i].reason, b[i].item,
              (double)b[i].score, b[i].reason);
      return 0;
    }
  }
  return 1;
}

typedef int (*opt_fn)(const recs_snapshot_t *, recs_scratch_t *, const recs_request_t *,
                      recs_result_t *, size_t, recs_answer_t *);
typedef int (*ref_fn)(const recs_snapshot_t *, ref_scratch_t *, const recs_request_t *,
                      recs_result_t *, size_t, recs_answer_t *);

static size_t compared, nonempty, with_fallback;

/* One model, many random requests through all four scorers on shared scratches. */
static void run_model(recs_scratch_t *sc, ref_scratch_t *rsc, int requests) {
  uint32_t n;
  recs_snapshot_t *s = model_random(&n);
  recs_delta_t *d = NULL;
  uint32_t nfresh = 0;
  if (rn(2)) {
    d = recs_delta_new(s, 4096);
    assert_non_null(d);
    nfresh = rn(2) ? 0 : 1 + rn(20);
    char name[32];
    for (uint32_t i = 0; i < nfresh; i++) {
      uint32_t id;
      int l = snprintf(name, sizeof name, "fresh%u", i);
      assert_int_equal(recs_delta_intern(d, name, (size_t)l, &id), PERR_OK);
    }
    uint32_t nb = rn(300);
    for (uint32_t k = 0; k < nb; k++) {
      uint32_t bs[4], m = 1 + rn(4);
      for (uint32_t j = 0; j < m; j++) bs[j] = nfresh && rn(4) == 0 ? n + rn(nfresh) : rn(n);
      int rc = recs_delta_add_basket(d, bs, m, 1800000000);
      assert_true(rc == PERR_OK || rc == PERR_TOO_LARGE);
    }
  }
  static cat_t cat;
  uint32_t ncat = 1 + rn(12);
  cat_random(&cat, rn(4) ? n + nfresh : n / 2, ncat);
  recs_catalog_t arrays = {NULL, NULL, cat.n, rn(5) ? cat.stock : NULL,
                           rn(4) ? cat.cons : NULL, rn(6) ? cat.category : NULL,
                           rn(6) ? cat.price : NULL, rn(4) ? cat.margin : NULL};
  recs_catalog_t cb = {cat_info, &cat, 0, NULL, NULL, NULL, NULL, NULL};
  static const opt_fn opt[4] = {recs_cart, recs_similar, recs_for_customer, recs_upsell};
  static const ref_fn ref[4] = {ref_cart, ref_similar, ref_for_customer, ref_upsell};
  static const char *const fname[4] = {"cart", "similar", "for_customer", "upsell"};
  for (int r = 0; r < requests; r++) {
    uint32_t items[40], hist[1200], excl[20], xcat[6], cands[400];
    size_t nitems = rn(4) == 0 ? rn(40) : rn(8), nhist = 0;
    for (size_t i = 0; i < nitems; i++)
      items[i] = i && rn(10) == 0 ? items[rn((uint32_t)i)] : item_random(n, nfresh);
    uint32_t hk = rn(10);
    if (hk >= 4) nhist = hk == 9 ? 600 + rn(600) : rn(60);
    for (size_t i = 0; i < nhist; i++)
      hist[i] = i && rn(3) == 0 ? hist[rn((uint32_t)i)]
                : hk == 9 ? rn(n + 700) : item_random(n, nfresh);
    recs_filter_t f;
    memset(&f, 0, sizeof f);
    f.in_stock_only = rn(3) == 0;
    f.n_exclude_items = rn(3) ? 0 : rn(20);
    for (size_t i = 0; i < f.n_exclude_items; i++) excl[i] = item_random(n, nfresh);
    f.exclude_items = f.n_exclude_items ? excl : NULL;
    f.n_exclude_categories = rn(3) ? 0 : rn(6);
    for (size_t i = 0; i < f.n_exclude_categories; i++) xcat[i] = rn(ncat + 1);
    f.exclude_categories = f.n_exclude_categories ? xcat : NULL;
    if (rn(4) == 0) {
      f.price_min = rn(500);
      f.price_max = rn(6) == 0 ? 0 : f.price_min + rn(700);
    }
    f.max_per_category = rn(3) == 0 ? 1 + rn(3) : 0;
    uint32_t mb = rn(6);
    f.margin_boost = mb == 0 ? 0.5 : mb == 1 ? -1.5 : mb == 2 ? 3.0 : 0;
    recs_params_t p;
    recs_params_default(&p);
    if (rn(2)) p.history_weight = rn(2) ? 0.1 : 0.7;
    if (rn(3) == 0) p.repurchase_weight = rn(2) ? 0 : 1.0;
    if (rn(4) == 0) p.delta_weight = rn(2) ? 0 : 2.5;
    if (rn(3) == 0) p.upsell_max_ratio = 1.0 + rn(30) / 10.0;
    p.fallback_trending = rn(3) == 0;
    recs_request_t q;
    memset(&q, 0, sizeof q);
    q.items = nitems ? items : NULL;
    q.nitems = nitems;
    q.history = nhist ? hist : NULL;
    q.nhistory = nhist;
    q.filter = rn(4) ? &f : NULL;
    uint32_t ck = rn(3);
    q.catalog = ck == 0 ? NULL : ck == 1 ? &arrays : &cb;
    q.delta = d && rn(4) ? d : NULL;
    q.params = rn(5) ? &p : NULL;
    if (rn(3) == 0) {
      q.ncandidates = rn(5) == 0 ? 260 + rn(140) : rn(30);
      for (size_t i = 0; i < q.ncandidates; i++)
        cands[i] = i && rn(8) == 0 ? cands[rn((uint32_t)i)] : item_random(n, nfresh);
      q.candidates = cands;
    }
    static const size_t nouts[] = {0, 1, 3, 5, 10, 10, 10, 20, 70};
    size_t nout = nouts[rn(sizeof nouts / sizeof nouts[0])];
    for (int fn = 0; fn < 4; fn++) {
      recs_result_t a[70], b[70];
      recs_answer_t aa, ba;
      memset(a, 0xa5, sizeof a);
      memset(b, 0xa5, sizeof b);
      memset(&aa, 0x5a, sizeof aa);
      memset(&ba, 0x5a, sizeof ba);
      int na = opt[fn](s, sc, &q, a, nout, &aa);
      int nb = ref[fn](s, rsc, &q, b, nout, &ba);
      int ok = na == nb && (na < 0 || (same_results(a, b, na) && aa.fallback == ba.fallback &&
                                       aa.unknown == ba.unknown &&
                                       aa.from_fallback == ba.from_fallback));
      if (!ok)
        fprintf(stderr, "%s mismatch: n %u items %zu hist %zu nout %zu cat %u filter %d "
                        "(cap %u boost %g stock %d band %lld..%lld) delta %d cands %zu: "
                        "got %d want %d; fallback %d/%d unknown %u/%u from_fallback %u/%u\n",
                fname[fn], n, nitems, nhist, nout, ck, q.filter != NULL, f.max_per_category,
                f.margin_boost, f.in_stock_only, (long long)f.price_min, (long long)f.price_max,
                q.delta != NULL, q.ncandidates, na, nb, aa.fallback, ba.fallback, aa.unknown,
                ba.unknown, aa.from_fallback, ba.from_fallback);
      assert_true(ok);
      compared++;
      if (na > 0) nonempty++;
      if (na > 0 && ba.from_fallback) with_fallback++;
    }
  }
  recs_delta_free(d);
  recs_snapshot_unref(s);
}

static void test_random_models(void **state) {
  (void)state;
  rng_state = 0x853c49e6748fea9bull;
  recs_scratch_t *sc = recs_scratch_new();
  ref_scratch_t *rsc = ref_scratch_new();
  assert_non_null(sc);
  assert_non_null(rsc);
  for (int m = 0; m < 120; m++) run_model(sc, rsc, 60);
  fprintf(stderr, "compared %zu answers (%zu non-empty, %zu using a fallback)\n", compared,
          nonempty, with_fallback);
  assert_true(nonempty > compared / 2);
  assert_true(with_fallback > 100);
  recs_scratch_free(sc);
  ref_scratch_free(rsc);
}

/* Plain carts (no history, no margin boost, no delta: recs_cart's quick walk) of popular
 * items, whose rows overlap, against catalogues and filters that reject many: the walk's
 * second floor and its fallback to ranking everything are taken often. */
static void test_quick_walk_carts(void **state) {
  (void)state;
  rng_state = 0x9e3779b97f4a7c15ull;
  recs_scratch_t *sc = recs_scratch_new();
  ref_scratch_t *rsc = ref_scratch_new();
  assert_non_null(sc);
  assert_non_null(rsc);
  static cat_t cat;
  size_t answers = 0, in_snapshot = 0;
  for (int m = 0; m < 60; m++) {
    uint32_t n;
    recs_snapshot_t *s = model_random(&n);
    uint32_t ncat = 1 + rn(12);
    cat_random(&cat, n, ncat);
    recs_catalog_t arrays = {NULL, NULL, cat.n, cat.stock, cat.cons, cat.category, cat.price,
                             cat.margin};
    recs_catalog_t cb = {cat_info, &cat, 0, NULL, NULL, NULL, NULL, NULL};
    for (int r = 0; r < 150; r++) {
      uint32_t items[8], excl[6], xcat[3];
      size_t nitems = 1 + rn(8);
      for (size_t i = 0; i < nitems; i++) items[i] = rn(4) ? rn(1 + n / 8) : rn(n);
      recs_filter_t f;
      memset(&f, 0, sizeof f);
      f.in_stock_only = rn(2);
      f.n_exclude_items = rn(3) ? 0 : rn(6);
      for (size_t i = 0; i < f.n_exclude_items; i++) excl[i] = rn(1 + n / 8);
      f.exclude_items = f.n_exclude_items ? excl : NULL;
      f.n_exclude_categories = rn(3) ? 0 : rn(3);
      for (size_t i = 0; i < f.n_exclude_categories; i++) xcat[i] = rn(ncat + 1);
      f.exclude_categories = f.n_exclude_categories ? xcat : NULL;
      if (rn(4) == 0) {
        f.price_min = rn(500);
        f.price_max = f.price_min + rn(700);
      }
      f.max_per_category = rn(3) == 0 ? 1 + rn(3) : 0;
      recs_request_t q;
      memset(&q, 0, sizeof q);
      q.items = items;
      q.nitems = nitems;
      q.filter = &f;
      q.catalog = rn(2) ? &arrays : &cb;
      static const size_t nouts[] = {1, 3, 5, 10, 10, 20};
      size_t nout = nouts[rn(sizeof nouts / sizeof nouts[0])];
      recs_result_t a[20], b[20];
      recs_answer_t aa, ba;
      int na = recs_cart(s, sc, &q, a, nout, &aa);
      int nb = ref_cart(s, rsc, &q, b, nout, &ba);
      assert_int_equal(na, nb);
      assert_true(na < 0 || (same_results(a, b, na) && aa.fallback == ba.fallback &&
                             aa.from_fallback == ba.from_fallback));
      answers += na > 0;
      if (na > 0 && aa.in_snapshot) { /* the handler names these from the snapshot alone */
        in_snapshot++;
        for (int i = 0; i < na; i++) assert_true(a[i].item < n);
      }
    }
    recs_snapshot_unref(s);
  }
  assert_true(answers > 4000);
  assert_true(in_snapshot > 1000);
  recs_scratch_free(sc);
  ref_scratch_free(rsc);
}

/* Fresh scratches per model too (first use sizes the dense accumulator). */
static void test_fresh_scratch(void **state) {
  (void)state;
  rng_state = 0x2545f4914f6cdd1dull;
  for (int m = 0; m < 30; m++) {
    recs_scratch_t *sc = recs_scratch_new();
    ref_scratch_t *rsc = ref_scratch_new();
    run_model(sc, rsc, 20);
    recs_scratch_free(sc);
    ref_scratch_free(rsc);
  }
}

/* Invalid requests give the same errors. */
static void test_errors(void **state) {
  (void)state;
  rng_state = 7;
  uint32_t n;
  recs_snapshot_t *s = model_random(&n);
  recs_scratch_t *sc = recs_scratch_new();
  ref_scratch_t *rsc = ref_scratch_new();
  recs_result_t out[4];
  recs_answer_t ans;
  recs_request_t q;
  memset(&q, 0, sizeof q);
  assert_int_equal(recs_upsell(s, sc, &q, out, 4, &ans), ref_upsell(s, rsc, &q, out, 4, &ans));
  q.nitems = 2; /* items NULL */
  assert_int_equal(recs_cart(s, sc, &q, out, 4, &ans), PERR_INVALID_PARAMS);
  assert_int_equal(recs_cart(NULL, sc, &q, out, 4, &ans), PERR_INVALID_PARAMS);
  recs_scratch_free(sc);
  ref_scratch_free(rsc);
  recs_snapshot_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_models),
      cmocka_unit_test(test_fresh_scratch),
      cmocka_unit_test(test_quick_walk_carts),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
