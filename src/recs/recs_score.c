/* recs_score.c -- answering requests against an immutable snapshot (+ optional delta):
 * accumulate neighbour scores of the request's items in the per-thread scratch map, drop
 * what the business filters and the request exclude, rank (score desc, popularity desc, id
 * asc: popularity breaks ties), honour max-per-category, then fill empty slots from the
 * trending/popular lists (reported in recs_answer_t).
 * Invariants: the scratch map is cleared by bumping a generation stamp (O(1)); nothing here
 * writes to the snapshot; the only lock taken is the delta's read lock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recs_delta_internal.h"

struct recs_scratch_s {
  struct mslot { uint32_t key, stamp; float val; } *m; /* accumulator, open addressing */
  uint32_t gen, cap, used, shift;
  uint32_t *slot; /* the used slots, in insertion order (used entries) */
  uint32_t *hkey, *hstamp, hgen, hcap, hused; /* history item -> count */
  uint32_t *hcnt;
  struct cand { uint32_t id, pop; float s; } *c;
  size_t ccap;
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
  static const char *const n[] = {"co_purchase", "upsell", "personal", "popular", "trending"};
  return (unsigned)r < 5 ? n[r] : "unknown";
}

const char *recs_fallback_name(recs_fallback_t f) {
  static const char *const n[] = {"none", "popular", "trending"};
  return (unsigned)f < 3 ? n[f] : "unknown";
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
  sc->ccap = 512;
  sc->c = malloc(sc->ccap * sizeof(*sc->c));
  if (!sc->m || !sc->slot || !sc->hkey || !sc->hstamp || !sc->hcnt || !sc->c) {
    recs_scratch_free(sc);
    return NULL;
  }
  return sc;
}

void recs_scratch_free(recs_scratch_t *sc) {
  if (!sc) return;
  free(sc->m); free(sc->slot);
  free(sc->hkey); free(sc->hstamp); free(sc->hcnt); free(sc->c);
  free(sc);
}

static void map_reset(recs_scratch_t *sc) {
  if (++sc->gen == 0) {
    for (uint32_t i = 0; i < sc->cap; i++) sc->m[i].stamp = 0;
    sc->gen = 1;
  }
  sc->used = 0;
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

/* Adds v to item's score; returns 0 on allocation failure. */
static inline int acc_add(recs_scratch_t *sc, uint32_t item, float v) {
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
static float acc_get(const recs_scratch_t *sc, uint32_t item) {
  uint32_t mask = sc->cap - 1, x = mhash(sc, item);
  while (sc->m[x].stamp == sc->gen) {
    if (sc->m[x].key == item) return sc->m[x].val;
    x = (x + 1) & mask;
  }
  return 0;
}

/* History multiset -> distinct items with counts (separate map). Returns max count. */
static uint32_t hist_load(recs_scratch_t *sc, const uint32_t *h, size_t n) {
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
         (double)inf->price > (double)c->uprice * c->p.upsell_max_ratio))
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
  recs_scratch_t *sc = c->sc;
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
      out[k++] = (recs_result_t){sc->c[i].id, sc->c[i].s, (uint8_t)c->reason};
    }
    if (!dropped) break;
  }
  ans->fallback = RECS_FALLBACK_NONE;
  ans->from_fallback = 0;
  for (int pass = 0; pass < 2 && k < nout; pass++) {
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
  for (uint32_t x = 0; x < c->sc->hcap; x++)
    if (c->sc->hstamp[x] == c->sc->hgen &&
        !acc_add(c->sc, c->sc->hkey[x], (float)(c->p.repurchase_weight * c->sc->hcnt[x] / mx)))
      return PERR_INTERNAL;
  return PERR_OK;
}

static uint32_t hist_max(const recs_scratch_t *sc) {
  uint32_t mx = 0;
  for (uint32_t x = 0; x < sc->hcap; x++)
    if (sc->hstamp[x] == sc->hgen && sc->hcnt[x] > mx) mx = sc->hcnt[x];
  return mx;
}

int recs_cart(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
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
  for (uint32_t x = 0; x < sc->hcap; x++)
    if (sc->hstamp[x] == sc->hgen && (rc = add_row(&c, RECS_GRAPH_CUSTOMER, sc->hkey[x], 1.0f)))
      return rc;
  for (size_t i = 0; i < q->nitems; i++) /* an optional current cart adds context */
    if ((rc = add_row(&c, RECS_GRAPH_BASKET, q->items[i], 1.0f))) return rc;
  if ((rc = add_repurchase(&c, hist_max(sc)))) return rc; /* consumables only survive */
  return finish(&c, out, nout, ans);
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
      ok = acc_add(sc, q->candidates[i], v[i] > 0 ? v[i] : 1e-9f); /* unseen: by popularity */
    if (v != stackv) free(v);
    if (!ok) return PERR_INTERNAL;
  }
  return finish(&c, out, nout, ans);
}
