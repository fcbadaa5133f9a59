/* recs_score.c -- answering requests against an immutable snapshot (+ optional delta):
 * accumulate neighbour scores of the request's items in the per-thread scratch
 * (recs_score_internal.h: the accumulator), then rank them (recs_rank.c: recs_finish).
 * Here: the request set-up (begin), the row sums (general, weight 1, and the quick walk's
 * tracking sum), the history terms, and the public scorers recs_cart, recs_similar,
 * recs_for_customer and recs_upsell (with its widening steps).
 * Invariants: nothing here writes to the snapshot; the only lock taken is the delta's read
 * lock; an item's sum is the same additions in the same order whichever row sum runs. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "recs_score_internal.h"

static int begin(ctx_t *c, const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                 recs_answer_t *ans, recs_reason_t reason) {
  memset(c, 0, offsetof(ctx_t, p)); /* p and f: set in full below */
  memset(ans, 0, sizeof(*ans));
  if (!s || !sc || !q || (q->nitems && !q->items) || (q->nhistory && !q->history))
    return PERR_INVALID_PARAMS;
  c->s = s; c->sc = sc; c->q = q; c->n = s->h->n_items; c->reason = reason;
  if (q->params) c->p = *q->params;
  else recs_params_default(&c->p);
  if (q->filter) c->f = *q->filter;
  else memset(&c->f, 0, sizeof c->f);
  c->ucat = RECS_NO_CATEGORY;
  c->uprice = RECS_PRICE_UNKNOWN;
  recs_acc_reset(sc);
  if (c->n > sc->dcap) recs_acc_dense_reserve(sc, c->n);
  if (q->nhistory) {
    c->hmax = recs_hist_load(sc, q->history, q->history_ts, q->nhistory);
  } else { /* no history: what recs_hist_load does for none, without the call */
    sc->hused = 0;
    if (++sc->hgen == 0) { memset(sc->hstamp, 0, sc->hcap * sizeof(uint32_t)); sc->hgen = 1; }
  }
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
 * it in its row); a later touch appends the id to m when its sum has reached lo, the walk's
 * lowest floor (an id's last touch is a later touch and leaves its final sum, so every id
 * touched more than once whose total reaches lo is listed; walk_above re-checks the final
 * sums). Returns the new multi count. Unrolled by
 * hand 16 times with constant offsets from the row pointers, the rest entered by its length
 * (a switch falling through); the steps run in row order, so the sums are the same additions
 * in the same order. A first touch is 6 instructions (load
 * the id, compare the stamp, branch, load the score's bits, or in the stamp, one 8-byte
 * store): the stamp is read through a byte view of the slots and the slot written whole, and
 * the rare later touch re-reads the id and goes through another byte view, so that GCC keeps
 * no copy of the id and no slot address (a lea) per entry (it did with d[j].stamp/.v: 8). */
#define ROW_STEP(o)                                                 \
  do {                                                              \
    uint32_t j_ = ids[o], s_;                                       \
    memcpy(&s_, stb + 8 * (size_t)j_, 4);                           \
    if (s_ != gen) {                                                \
      uint32_t b_;                                                  \
      memcpy(&b_, scs + (o), 4);                                    \
      uint64_t w_ = SLOT_WORD(genhi, b_);                           \
      memcpy(d + j_, &w_, 8);                                       \
    } else {                                                        \
      uint32_t k_ = ((const volatile uint32_t *)ids)[o];            \
      float v_;                                                     \
      memcpy(&v_, vb + 8 * (size_t)k_, 4);                          \
      v_ += scs[o];                                                 \
      memcpy(vb + 8 * (size_t)k_, &v_, 4);                          \
      if (v_ >= lo) m[nm++] = k_;                                   \
    }                                                               \
  } while (0)
static uint32_t row_sum_track(struct dslot *d, uint32_t *restrict m, uint32_t nm, uint32_t gen,
                              const uint32_t *restrict ids, const float *restrict scs,
                              uint32_t n, float lo) {
  const unsigned char *stb = (const unsigned char *)d + offsetof(struct dslot, stamp);
  unsigned char *vb = (unsigned char *)d + offsetof(struct dslot, v);
  const uint32_t *end16 = ids + (n & ~15u);
  const uint64_t genhi = (uint64_t)gen << 32;
  for (; ids < end16; ids += 16, scs += 16) {
    ROW_STEP(0); ROW_STEP(1); ROW_STEP(2); ROW_STEP(3);
    ROW_STEP(4); ROW_STEP(5); ROW_STEP(6); ROW_STEP(7);
    ROW_STEP(8); ROW_STEP(9); ROW_STEP(10); ROW_STEP(11);
    ROW_STEP(12); ROW_STEP(13); ROW_STEP(14); ROW_STEP(15);
  }
  /* the last n % 16 entries, in row order: entering at case r runs the steps k + 16 - r = 0
   * .. k + 15 = r - 1 (k is negative; every index used is not) */
  ptrdiff_t k = (ptrdiff_t)(n & 15u) - 16;
  switch (n & 15u) {
    case 15: ROW_STEP(k + 1); /* fall through */
    case 14: ROW_STEP(k + 2); /* fall through */
    case 13: ROW_STEP(k + 3); /* fall through */
    case 12: ROW_STEP(k + 4); /* fall through */
    case 11: ROW_STEP(k + 5); /* fall through */
    case 10: ROW_STEP(k + 6); /* fall through */
    case 9: ROW_STEP(k + 7); /* fall through */
    case 8: ROW_STEP(k + 8); /* fall through */
    case 7: ROW_STEP(k + 9); /* fall through */
    case 6: ROW_STEP(k + 10); /* fall through */
    case 5: ROW_STEP(k + 11); /* fall through */
    case 4: ROW_STEP(k + 12); /* fall through */
    case 3: ROW_STEP(k + 13); /* fall through */
    case 2: ROW_STEP(k + 14); /* fall through */
    case 1: ROW_STEP(k + 15); /* fall through */
    default: break;
  }
  return nm;
}
#undef ROW_STEP

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
        if (!recs_acc_touched_grow(sc)) return PERR_INTERNAL;
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
              (c.floor = recs_cart_floors(&c, nout + 4, 4, &c.floor_hi)) > 0;
  if (sc->track) { /* add_row's basket rows; the delta is empty: no pairs to add */
    for (size_t i = 0; i < q->nitems; i++) {
      uint32_t it = q->items[i];
      if (it >= c.n) continue;
      uint32_t a = s->g_off[0][it], b = s->g_off[0][it + 1];
      if (sc->mcap - sc->nmulti < b - a && !recs_acc_multi_reserve(sc, b - a))
        return PERR_INTERNAL;
      sc->nmulti = row_sum_track(sc->d, sc->multi, sc->nmulti, sc->dgen, s->g_nbr[0] + a,
                                 s->g_sc[0] + a, b - a, c.floor);
    }
    return recs_finish(&c, out, nout, ans);
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
  return recs_finish(&c, out, nout, ans);
}

int recs_similar(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                 recs_result_t *out, size_t nout, recs_answer_t *ans) {
  ctx_t c;
  int rc = begin(&c, s, sc, q, ans, RECS_REASON_CO_PURCHASE);
  if (rc) return rc;
  if (q->nitems && (rc = add_row(&c, RECS_GRAPH_CUSTOMER, q->items[0], 1.0f))) return rc;
  return recs_finish(&c, out, nout, ans);
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
  return recs_finish(&c, out, nout, ans);
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
  recs_acc_reset(sc); /* the accumulator now marks the ids seen (candidates may repeat) */
  for (size_t i = 0; i < len; i++) {
    uint32_t id = list[i];
    recs_item_info_t inf;
    if (recs_acc_get(sc, id) != 0) continue;
    if (!acc_add(sc, id, 1.0f)) return PERR_INTERNAL;
    if (quick_reject(c, id) || chosen(out, *k, id) || !allowed(c, id, &inf)) continue;
    struct cand x = {id, (float)pop_of(c, id), inf.category}; /* float order agrees with pop */
    m = recs_sel_put(c, h, m, lim, &x);
    /* the popularity list is in this very order (built so): the first lim that pass win */
    if (!c->q->candidates && m == lim && !c->f.max_per_category) break;
  }
  recs_sel_sort(c, h, m, lim);
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
    for (size_t i = 0; i < nc; i++) v[i] = recs_acc_get(sc, q->candidates[i]);
    recs_acc_reset(sc);
    int ok = 1;
    for (size_t i = 0; i < nc && ok; i++)
      if (v[i] > 0) ok = acc_add(sc, q->candidates[i], v[i]);
    if (v != stackv) free(v);
    if (!ok) return PERR_INTERNAL;
  }
  int k = recs_finish(&c, out, nout, ans);
  if (k < 0 || !c.no_fill) return k;
  /* thin co-consideration: widen in steps, the band first, then everything pricier */
  size_t kk = (size_t)k;
  if ((rc = upsell_widen(&c, out, &kk, nout, ans, RECS_FALLBACK_PRICE_BAND))) return rc;
  c.unbounded = 1;
  if ((rc = upsell_widen(&c, out, &kk, nout, ans, RECS_FALLBACK_CATEGORY_POPULAR))) return rc;
  return (int)kk;
}
