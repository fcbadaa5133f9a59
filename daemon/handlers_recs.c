/* handlers_recs.c -- the recs.* methods (issue 4): product ids -> model item ids, the
 * customer's history from CUSTOMER_ORDERS, the business filters -> recs_filter_t, then the
 * core scorer (src/recs) against the served snapshot + incremental delta, and item ids back
 * to product ids. recs.cart/upsell/similar/for_customer run on the loop thread and allocate
 * only from the request arena and the state's reused buffers; recs.rules (admin) runs on the
 * worker and mines the orders on demand.
 * Invariants: unknown products/customers are never errors (they are counted and the answer
 * says which fallback filled it); inactive products never appear (hidden category); result
 * strings point into the snapshot or the arena and are encoded before anything can swap the
 * snapshot (installs run on this same thread). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_recs.h"
#include "commerce/baskets.h"
#include "base/clock.h"
#include "base/vec.h"

#define DEFAULT_LIMIT 10

typedef struct req_s {
  recs_state_t *st;
  recs_request_t q;
  recs_filter_t f;
  recs_info_ctx_t ic;
  recs_catalog_t cat;
  size_t limit;
  int64_t as_of;              /* the request's as_of (0 = now) */
  recs_list_result_t *r;
  uint32_t unknown;           /* request items the model does not know (req_items) */
  /* not zeroed by req_begin (set in full there, or written before read): */
  recs_params_t p;
  /* the id lists of short requests (no arena allocation); R lives until the answer is made */
  uint32_t xc_small[4], xp_small[4], items_small[8];
} req_t;

/* n uint32_t from small (when they fit) or the arena; NULL when out of memory. */
static uint32_t *ids_buf(exec_ctx_t *x, uint32_t *small, size_t cap, size_t n) {
  return n <= cap ? small : arena_alloc(x->arena, n * sizeof(uint32_t));
}

static pstr_t mkpstr(const char *p, size_t n) {
  pstr_t s = {p, p ? n : 0};
  return s;
}

static int oom(perr_info_t *e) { return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory"); }

/* A product id -> its item id: the snapshot's (st->snap is the delta's base: recs_install and
 * the start-up set both together), else the delta's (which looks the snapshot up again
 * first, then its own items: only unknown and delta-only ids take that path). */
static uint32_t lookup(const recs_state_t *st, pstr_t id) {
  uint32_t it = recs_snapshot_lookup(st->snap, id.p, id.n);
  return it != RECS_NO_ITEM ? it : recs_delta_lookup(st->delta, id.p, id.n);
}

/* Common set-up: limit, filters, catalogue callback, params. */
static int req_begin(exec_ctx_t *x, const recs_query_t *q, recs_list_result_t *r, req_t *R,
                     perr_info_t *e) {
  recs_state_t *st = recs_state(x->d);
  memset(R, 0, offsetof(req_t, p)); /* p: recs_params_default below; the small arrays: ids_buf */
  R->st = st;
  R->r = r;
  memset(r, 0, sizeof *r);
  if (!st) return perr_set(e, PERR_UNAVAILABLE, NULL, "recommendations are not initialised");
  R->limit = q->limit ? q->limit : DEFAULT_LIMIT;
  R->as_of = q->as_of;
  if (R->limit > x->d->cfg.recs_max_results)
    return perr_set(e, PERR_INVALID_PARAMS, "limit", "limit exceeds recs.max_results (%llu)",
                    (unsigned long long)x->d->cfg.recs_max_results);
  recs_catalog_consumables(st, x->d->cfg.recs_consumable_categories);
  const recs_wire_filter_t *wf = &q->filters;
  recs_filter_t *f = &R->f;
  f->in_stock_only = wf->in_stock_only;
  f->max_per_category = wf->max_per_category;
  f->margin_boost = wf->boost_margin;
  if (wf->has_min_price || wf->has_max_price) {
    f->price_min = wf->has_min_price ? wf->min_price : 0;
    f->price_max = wf->has_max_price ? wf->max_price : INT64_MAX;
  }
  uint32_t *xc = ids_buf(x, R->xc_small, 4, wf->n_exclude_categories + 1);
  if (!xc) return oom(e);
  size_t nxc = 0;
  xc[nxc++] = RECS_CAT_HIDDEN;
  for (size_t i = 0; i < wf->n_exclude_categories; i++) {
    uint32_t c = recs_catalog_category(st, wf->exclude_categories[i]);
    if (c != RECS_NONE) xc[nxc++] = c;
  }
  f->exclude_categories = xc;
  f->n_exclude_categories = nxc;
  uint32_t *xp = ids_buf(x, R->xp_small, 4, wf->n_exclude_products + 1);
  if (!xp) return oom(e);
  size_t nxp = 0;
  for (size_t i = 0; i < wf->n_exclude_products; i++) {
    uint32_t id = lookup(st, wf->exclude_products[i]);
    if (id != RECS_NO_ITEM) xp[nxp++] = id;
  }
  f->exclude_items = xp;
  f->n_exclude_items = nxp;
  R->ic = (recs_info_ctx_t){st, RECS_NO_ITEM, recs_currency_pack(wf->currency)};
  R->cat.info = recs_catalog_info;
  R->cat.ctx = &R->ic;
  recs_params_default(&R->p);
  recs_params_for_model(&R->p, recs_snapshot_config(st->snap)->model);
  if (st->cosine) R->p.repurchase_weight = R->p.cycle_weight = 0;
  R->p.upsell_max_ratio = (double)x->d->cfg.recs_upsell_max_ratio_pct / 100.0;
  R->q.filter = f;
  R->q.catalog = &R->cat;
  R->q.delta = st->delta;
  R->q.params = &R->p;
  r->model_version = atomic_load(&st->version);
  r->fallback = "none";
  return 0;
}

/* Cart / product ids -> item ids (unknown ones stay as RECS_NO_ITEM and are counted). */
static int req_items(exec_ctx_t *x, req_t *R, const pstr_t *first, const pstr_t *ids, size_t n,
                     perr_info_t *e) {
  uint32_t *v = ids_buf(x, R->items_small, 8, n + 1);
  if (!v) return oom(e);
  size_t k = 0;
  uint32_t unknown = 0;
  if (first) unknown += (v[k++] = lookup(R->st, *first)) == RECS_NO_ITEM;
  for (size_t i = 0; i < n; i++) unknown += (v[k++] = lookup(R->st, ids[i])) == RECS_NO_ITEM;
  R->q.items = v;
  R->q.nitems = k;
  R->unknown = unknown;
  return 0;
}

/* History: one entry per (order, distinct product) of the customer's newest orders. */
static int hist_cb(void *ctx, const core_basket_t *b) {
  req_t *R = ctx;
  recs_state_t *st = R->st;
  if (st->nhist + b->n > st->hist_cap) {
    size_t nc = st->hist_cap ? st->hist_cap : 1024;
    while (nc < st->nhist + b->n) nc *= 2;
    uint32_t *nh = realloc(st->hist, nc * sizeof(uint32_t));
    if (!nh) return PERR_UNAVAILABLE;
    st->hist = nh;
    int64_t *nts = realloc(st->hist_ts, nc * sizeof(int64_t));
    if (!nts) return PERR_UNAVAILABLE;
    st->hist_ts = nts;
    st->hist_cap = nc;
  }
  size_t start = st->nhist;
  for (size_t i = 0; i < b->n; i++) {
    uint32_t id = lookup(st, b->products[i]);
    if (id == RECS_NO_ITEM) continue;
    int dup = 0;
    for (size_t k = start; k < st->nhist && !dup; k++) dup = st->hist[k] == id;
    if (!dup) {
      st->hist_ts[st->nhist] = b->ts;
      st->hist[st->nhist++] = id;
    }
  }
  R->r->history_orders++;
  return 0;
}

static int req_history(exec_ctx_t *x, req_t *R, pstr_t customer, perr_info_t *e) {
  recs_state_t *st = R->st;
  st->nhist = 0;
  if (!customer.p) return 0;
  R->r->has_customer = 1;
  size_t max = (size_t)x->d->cfg.recs_history_max_orders;
  if (max == 0) return 0;
  if (max > st->hist_orders_cap) {
    pstr_t *n = realloc(st->hist_orders, max * sizeof(pstr_t));
    if (!n) return oom(e);
    st->hist_orders = n;
    st->hist_orders_cap = max;
  }
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  uint64_t total = 0;
  int rc = core_scan_customer_orders(t, customer, st->hist_orders, max, hist_cb, R, &total, e);
  if (rc == PERR_UNAVAILABLE && !e->message[0]) return oom(e);
  if (rc) return rc;
  R->r->customer_known = total > 0;
  R->q.history = st->hist;
  R->q.nhistory = st->nhist;
  R->q.history_ts = st->hist_ts;
  if (st->nhist) R->q.now = R->as_of ? R->as_of : clock_wall_s(); /* the cycle term's "now" */
  return 0;
}


/* The name of a delta-only item (ids below st->nsnap are named from the snapshot's table in
 * req_run): copied to the arena. */
static void name_fresh(exec_ctx_t *x, const recs_state_t *st, recs_wire_item_t *w, uint32_t id,
                       int *oom_flag) {
  char buf[CORE_ID_MAX + 1];
  w->id_len = recs_delta_name(st->delta, id, buf, sizeof buf);
  w->id = arena_strndup(x->arena, buf, w->id_len);
  if (!w->id) *oom_flag = 1;
}

typedef int (*score_fn)(const recs_snapshot_t *, recs_scratch_t *, const recs_request_t *,
                        recs_result_t *, size_t, recs_answer_t *);

static int req_run(exec_ctx_t *x, req_t *R, score_fn fn, perr_info_t *e) {
  recs_state_t *st = R->st;
  recs_answer_t ans;
  int n = fn(st->snap, st->scratch, &R->q, st->out, R->limit, &ans);
  if (n < 0) return perr_set(e, n == PERR_INVALID_PARAMS ? PERR_INVALID_PARAMS : PERR_UNAVAILABLE,
                             NULL, "recommendation failed");
  recs_list_result_t *r = R->r;
  r->unknown_items = R->unknown;
  r->fallback = recs_fallback_name(ans.fallback);
  const uint32_t *off_out;
  const char *names = recs_snapshot_names(st->snap, &off_out);
  /* in locals (off_out's address escaped): the stores below may alias st, r and off_out */
  const uint32_t *off = off_out;
  const recs_result_t *o = st->out, *oend = o + n;
  uint32_t nsnap = st->nsnap;
  int named = 1; /* every item in the snapshot's name table: the raw form, no wire items */
  if (!ans.in_snapshot) /* (st->snap is the snapshot scored: nsnap is its item count) */
    for (const recs_result_t *p = o; p < oend; p++) named &= p->item < nsnap;
  if (named) {
    r->items = NULL;
    r->results = o;
    r->names = names;
    r->name_off = off;
    r->reason_names = recs_reason_names();
    r->n = (size_t)n;
    return 0;
  }
  r->items = arena_alloc(x->arena, ((size_t)n + 1) * sizeof(recs_wire_item_t));
  if (!r->items) return oom(e);
  int bad = 0;
  unsigned last = RECS_NONE; /* the items of one answer mostly share their reason */
  const char *reason = NULL;
  recs_wire_item_t *w = r->items;
  for (; o < oend; o++, w++) {
    uint32_t id = o->item;
    if (id < nsnap) {
      w->id = names + off[id];
      w->id_len = off[id + 1] - off[id];
    } else {
      name_fresh(x, st, w, id, &bad);
    }
    w->score = o->score;
    if (o->reason != last) {
      last = o->reason;
      reason = recs_reason_name((recs_reason_t)last);
    }
    w->reason = reason;
  }
  if (bad) return oom(e);
  r->n = (size_t)n;
  return 0;
}

/* The catalogue arrays in place of the callback when they answer the same (no currency, no
 * self item); recs.upsell keeps the callback. */
static void req_arrays(req_t *R) {
  if (R->ic.currency == 0 && R->ic.self == RECS_NO_ITEM) recs_catalog_arrays(R->st, &R->cat);
}

int handle_recs_cart(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const recs_query_t *q = params;
  req_t R;
  int rc = req_begin(x, q, result, &R, e);
  if (!rc) req_arrays(&R);
  if (!rc) rc = req_items(x, &R, NULL, q->items, q->nitems, e);
  if (!rc) rc = req_history(x, &R, q->customer_id, e);
  return rc ? rc : req_run(x, &R, recs_cart, e);
}

int handle_recs_similar(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const recs_query_t *q = params;
  req_t R;
  int rc = req_begin(x, q, result, &R, e);
  if (!rc) req_arrays(&R);
  if (!rc) rc = req_items(x, &R, &q->product_id, NULL, 0, e);
  return rc ? rc : req_run(x, &R, recs_similar, e);
}

int handle_recs_for_customer(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const recs_query_t *q = params;
  req_t R;
  int rc = req_begin(x, q, result, &R, e);
  if (rc) return rc;
  req_arrays(&R);
  R.p.fallback_trending = 1; /* cold start: what sells now, then best-sellers */
  if (!rc) rc = req_items(x, &R, NULL, q->items, q->nitems, e);
  if (!rc) rc = req_history(x, &R, q->customer_id, e);
  return rc ? rc : req_run(x, &R, recs_for_customer, e);
}

int handle_recs_upsell(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const recs_query_t *q = params;
  req_t R;
  int rc = req_begin(x, q, result, &R, e);
  if (!rc) rc = req_items(x, &R, &q->product_id, q->items, q->nitems, e);
  if (!rc) rc = req_history(x, &R, q->customer_id, e);
  if (rc) return rc;
  recs_state_t *st = R.st;
  uint32_t pi = recs_catalog_product(st, q->product_id);
  R.ic.self = R.q.items[0];
  if (pi != RECS_NONE) {
    const recs_centry_t *pe = &st->cat[pi];
    if (pe->currency) R.ic.currency = pe->currency; /* compare prices in the product's currency */
    if (pe->category < st->capcats) { /* candidates: the category's products */
      size_t n = 0;
      for (uint32_t m = st->cat_head[pe->category]; m != RECS_NONE; m = st->cat[m].cat_next) n++;
      uint32_t *cand = arena_alloc(x->arena, (n + 1) * sizeof(uint32_t));
      if (!cand) return oom(e);
      n = 0;
      for (uint32_t m = st->cat_head[pe->category]; m != RECS_NONE; m = st->cat[m].cat_next)
        if (st->cat[m].item != RECS_NO_ITEM) cand[n++] = st->cat[m].item;
      R.q.candidates = cand;
      R.q.ncandidates = n;
    }
  }
  /* what the customer already bought (not consumable) is no upsell */
  if (R.q.nhistory) {
    size_t nx = R.f.n_exclude_items;
    uint32_t *xp = arena_alloc(x->arena, (nx + R.q.nhistory) * sizeof(uint32_t));
    if (!xp) return oom(e);
    memcpy(xp, R.f.exclude_items, nx * sizeof(uint32_t));
    for (size_t i = 0; i < R.q.nhistory; i++) {
      recs_item_info_t inf = {1, 0, RECS_NO_CATEGORY, RECS_PRICE_UNKNOWN, RECS_PRICE_UNKNOWN};
      recs_catalog_info(&R.ic, R.q.history[i], &inf);
      if (!inf.consumable) xp[nx++] = R.q.history[i];
    }
    R.f.exclude_items = xp;
    R.f.n_exclude_items = nx;
    R.q.history = NULL;
    R.q.nhistory = 0;
  }
  return req_run(x, &R, recs_upsell, e);
}

/* ---- recs.rules (admin, worker): mine the orders on demand ---- */

typedef struct rscan_s {
  recs_interner_t *in;
  uint32_t *items, *count;
  uint64_t *off;
  size_t nitems, capitems, nb, capb, capcount;
  uint32_t tmp[CORE_MAX_LINES];
} rscan_t;

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static int rules_cb(void *ctx, const core_basket_t *b) {
  rscan_t *S = ctx;
  size_t k = 0;
  for (size_t i = 0; i < b->n; i++)
    if (recs_intern(S->in, b->products[i].p, b->products[i].n, &S->tmp[k++])) return PERR_INTERNAL;
  qsort(S->tmp, k, sizeof(uint32_t), cmp_u32);
  size_t m = 0;
  for (size_t i = 0; i < k; i++)
    if (m == 0 || S->tmp[m - 1] != S->tmp[i]) S->tmp[m++] = S->tmp[i];
  size_t ni = recs_interner_count(S->in);
  if (vec_reserve((void **)&S->items, &S->capitems, S->nitems + m, sizeof(uint32_t)) ||
      vec_reserve((void **)&S->off, &S->capb, S->nb + 2, sizeof(uint64_t)))
    return PERR_INTERNAL;
  if (ni > S->capcount) {
    size_t old = S->capcount;
    if (vec_reserve((void **)&S->count, &S->capcount, ni, sizeof(uint32_t))) return PERR_INTERNAL;
    memset(S->count + old, 0, (S->capcount - old) * sizeof(uint32_t));
  }
  if (S->nb == 0) S->off[0] = 0;
  for (size_t i = 0; i < m; i++) {
    S->items[S->nitems++] = S->tmp[i];
    S->count[S->tmp[i]]++;
  }
  S->off[++S->nb] = S->nitems;
  return 0;
}

static int rule_has(const recs_rule_t *r, uint32_t item) {
  if (r->rhs == item) return 1;
  for (uint32_t i = 0; i < r->nlhs; i++)
    if (r->lhs[i] == item) return 1;
  return 0;
}

int handle_recs_rules(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const recs_rules_params_t *p = params;
  recs_rules_result_t *r = result;
  memset(r, 0, sizeof *r);
  r->min_support = p->min_support;
  r->min_confidence = p->min_confidence;
  r->max_len = p->max_len;
  rscan_t S = {0};
  recs_rules_t rules = {0};
  uint32_t *remap = NULL, *back = NULL;
  int rc;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  if (!(S.in = recs_interner_new())) return oom(e);
  if ((rc = core_scan_orders(t, rules_cb, &S, e))) {
    if (!e->message[0]) oom(e);
    goto out;
  }
  r->baskets = S.nb;
  if (S.nb == 0) goto out; /* no orders: no rules */
  /* keep the frequent items only: the miner's bitsets are items x baskets bits */
  uint32_t minc = (uint32_t)ceil(p->min_support * (double)S.nb - 1e-9), nf = 0;
  if (minc < 1) minc = 1;
  uint32_t ni = recs_interner_count(S.in);
  remap = malloc((ni + 1) * sizeof(uint32_t));
  back = malloc((ni + 1) * sizeof(uint32_t));
  if (!remap || !back) { rc = oom(e); goto out; }
  for (uint32_t i = 0; i < ni; i++) {
    remap[i] = S.count[i] >= minc ? nf : RECS_NO_ITEM;
    if (remap[i] != RECS_NO_ITEM) back[nf++] = i;
  }
  if ((double)nf * (double)((S.nb + 63) / 64) * 8.0 > 1024.0 * 1024 * 1024) {
    rc = perr_set(e, PERR_TOO_LARGE, "min_support",
                  "%u items reach this support over %zu baskets: raise min_support", nf, S.nb);
    goto out;
  }
  size_t k = 0;
  for (size_t b = 0; b < S.nb; b++) {
    uint64_t a = S.off[b], z = S.off[b + 1];
    S.off[b] = k;
    for (uint64_t q = a; q < z; q++)
      if (remap[S.items[q]] != RECS_NO_ITEM) S.items[k++] = remap[S.items[q]];
  }
  S.off[S.nb] = k;
  if (nf == 0) goto out;
  if ((rc = recs_rules_mine(S.off, S.items, S.nb, nf, p->min_support, p->min_confidence,
                            p->max_len, &rules, e)))
    goto out;
  r->itemsets = rules.itemsets;
  r->total = rules.n;
  uint32_t only = RECS_NO_ITEM;
  if (p->product_id.p) {
    uint32_t id = recs_interner_find(S.in, p->product_id.p, p->product_id.n);
    only = id == RECS_NO_ITEM ? RECS_NO_ITEM - 1 : remap[id];
    if (only == RECS_NO_ITEM) only = RECS_NO_ITEM - 1; /* known but not frequent: no rule */
  }
  r->rules = arena_alloc(x->arena, (p->limit + 1) * sizeof(recs_wire_rule_t));
  if (!r->rules) { rc = oom(e); goto out; }
  for (size_t i = 0; i < rules.n && r->n < p->limit; i++) {
    const recs_rule_t *ru = &rules.rules[i];
    if (only != RECS_NO_ITEM && !rule_has(ru, only)) continue;
    recs_wire_rule_t *w = &r->rules[r->n];
    w->lhs = arena_alloc(x->arena, (ru->nlhs + 1) * sizeof(pstr_t));
    if (!w->lhs) { rc = oom(e); goto out; }
    for (uint32_t j = 0; j < ru->nlhs; j++) {
      size_t l;
      const char *s = recs_interner_name(S.in, back[ru->lhs[j]], &l);
      w->lhs[j] = mkpstr(arena_strndup(x->arena, s, l), l);
    }
    w->nlhs = ru->nlhs;
    size_t l;
    const char *s = recs_interner_name(S.in, back[ru->rhs], &l);
    w->rhs = mkpstr(arena_strndup(x->arena, s, l), l);
    w->count = ru->count;
    w->support = ru->support;
    w->confidence = ru->confidence;
    w->lift = ru->lift;
    r->n++;
  }
  rc = 0;
out:
  recs_rules_free(&rules);
  recs_interner_free(S.in);
  free(S.items); free(S.off); free(S.count);
  free(remap); free(back);
  return rc;
}
