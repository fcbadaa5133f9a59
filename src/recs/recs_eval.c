/* recs_eval.c -- EVALUATION.md implemented exactly: cleaning (CustomerID present, InvoiceNo
 * not starting 'C', Quantity > 0, UnitPrice > 0, StockCode starting with 5 digits), baskets =
 * distinct StockCodes per InvoiceNo, invoices ordered by (InvoiceDate, InvoiceNo); per
 * customer with >= 2 invoices whose last has >= 2 items, hide sorted(items)[crc32(InvoiceNo)
 * % len] of the last invoice; training = all other invoices; metrics over top-k answers.
 * Invariants: item strings are interned in training order (so the popularity tie-break is
 * first appearance); an invoice's date is its first row's date. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "recs_eval.h"
#include "recs_internal.h"

typedef struct inv_s {
  uint32_t name;     /* id in invoices interner */
  uint32_t cust;     /* id in customers interner */
  int64_t ts;
  uint32_t *items;   /* ids in the all-items interner, distinct, file order */
  uint32_t n, cap;
  int test;
} inv_t;

typedef struct ecase_s { uint32_t inv; uint32_t hidden; } ecase_t; /* hidden: all-items id */

struct recs_eval_data_s {
  recs_interner_t *items, *invnames, *custs;
  inv_t *inv;
  uint32_t ninv;
  uint32_t *order;       /* invoices sorted by (ts, name) */
  uint32_t *cust_off, *cust_inv; /* per customer: invoice indices in order */
  ecase_t *cases;
  size_t ncases, rows, kept;
};

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int parse_ts(const char *s, int64_t *out) {
  int Y, M, D, h, mi, sec = 0;
  if (sscanf(s, "%d-%d-%d %d:%d:%d", &Y, &M, &D, &h, &mi, &sec) < 5) return 0;
  *out = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec;
  return 1;
}

/* Splits a CSV line in place (quotes, doubled quotes); returns the field count. */
static int split_csv(char *line, char **f, int maxf) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == maxf) return n;
    char *w = p;
    f[n++] = w;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == 0) break;
        if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; continue; }
        if (*p == '"') { p++; break; }
        *w++ = *p++;
      }
      while (*p && *p != ',') p++;
    } else {
      while (*p && *p != ',') *w++ = *p++;
    }
    int end = *p == 0;
    *w = 0;
    if (end) return n;
    p++;
  }
}

enum { C_INV, C_CODE, C_QTY, C_DATE, C_PRICE, C_CUST, C_N };

static int inv_push(inv_t *v, uint32_t it) {
  for (uint32_t i = 0; i < v->n; i++)
    if (v->items[i] == it) return 1;
  if (v->n == v->cap) {
    uint32_t nc = v->cap ? v->cap * 2 : 8;
    uint32_t *ni = realloc(v->items, nc * sizeof(uint32_t));
    if (!ni) return 0;
    v->items = ni;
    v->cap = nc;
  }
  v->items[v->n++] = it;
  return 1;
}

typedef struct { const recs_eval_data_t *d; uint32_t i; } sortref_t;

static int inv_cmp(const void *pa, const void *pb) {
  const sortref_t *a = pa, *b = pb;
  const inv_t *x = &a->d->inv[a->i], *y = &b->d->inv[b->i];
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  size_t lx, ly;
  const char *sx = recs_interner_name(a->d->invnames, x->name, &lx);
  const char *sy = recs_interner_name(a->d->invnames, y->name, &ly);
  int c = memcmp(sx, sy, lx < ly ? lx : ly);
  if (c) return c;
  return (lx > ly) - (lx < ly);
}

typedef struct { const recs_interner_t *in; uint32_t id; } strref_t;
static int str_cmp(const void *pa, const void *pb) {
  const strref_t *a = pa, *b = pb;
  size_t la, lb;
  const char *sa = recs_interner_name(a->in, a->id, &la);
  const char *sb = recs_interner_name(b->in, b->id, &lb);
  int c = memcmp(sa, sb, la < lb ? la : lb);
  return c ? c : (la > lb) - (la < lb);
}

void recs_eval_free(recs_eval_data_t *d) {
  if (!d) return;
  for (uint32_t i = 0; i < d->ninv; i++) free(d->inv[i].items);
  free(d->inv);
  recs_interner_free(d->items);
  recs_interner_free(d->invnames);
  recs_interner_free(d->custs);
  free(d->order); free(d->cust_off); free(d->cust_inv); free(d->cases);
  free(d);
}

/* Orders the invoices, groups them by customer and derives the test cases (the protocol's
 * rule: each customer's last invoice, when the customer has >= 2 and it has >= 2 items). */
static int index_invoices(recs_eval_data_t *d) {
  uint32_t n = d->ninv, nc = recs_interner_count(d->custs);
  sortref_t *sr = malloc((n + 1) * sizeof(sortref_t));
  free(d->order); free(d->cust_off); free(d->cust_inv); free(d->cases);
  d->ncases = 0;
  d->order = malloc((n + 1) * sizeof(uint32_t));
  d->cust_off = calloc(nc + 2, sizeof(uint32_t));
  d->cust_inv = malloc((n + 1) * sizeof(uint32_t));
  d->cases = malloc((nc + 1) * sizeof(ecase_t));
  if (!sr || !d->order || !d->cust_off || !d->cust_inv || !d->cases) { free(sr); return PERR_INTERNAL; }
  for (uint32_t i = 0; i < n; i++) sr[i] = (sortref_t){d, i};
  qsort(sr, n, sizeof(sortref_t), inv_cmp);
  for (uint32_t i = 0; i < n; i++) d->order[i] = sr[i].i;
  free(sr);
  for (uint32_t i = 0; i < n; i++) d->cust_off[d->inv[i].cust + 2]++;
  for (uint32_t c = 0; c < nc; c++) d->cust_off[c + 2] += d->cust_off[c + 1];
  for (uint32_t r = 0; r < n; r++) {
    uint32_t i = d->order[r];
    d->cust_inv[d->cust_off[d->inv[i].cust + 1]++] = i;
  }
  for (uint32_t c = 0; c < nc; c++) {
    uint32_t a = d->cust_off[c], b = d->cust_off[c + 1];
    if (b - a < 2) continue;
    inv_t *last = &d->inv[d->cust_inv[b - 1]];
    if (last->n < 2) continue;
    strref_t tmp[1024], *sorted = last->n <= 1024 ? tmp : malloc(last->n * sizeof(strref_t));
    if (!sorted) return PERR_INTERNAL;
    for (uint32_t k = 0; k < last->n; k++) sorted[k] = (strref_t){d->items, last->items[k]};
    qsort(sorted, last->n, sizeof(strref_t), str_cmp);
    size_t ln;
    const char *nm = recs_interner_name(d->invnames, last->name, &ln);
    uint32_t pick = recs_crc32(0, nm, ln) % last->n;
    d->cases[d->ncases++] = (ecase_t){d->cust_inv[b - 1], sorted[pick].id};
    if (sorted != tmp) free(sorted);
    last->test = 1;
  }
  return PERR_OK;
}

int recs_eval_to_validation(recs_eval_data_t *d, int64_t cutoff, perr_info_t *e) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < d->ninv; i++) {
    inv_t v = d->inv[i];
    if (v.test || v.ts >= cutoff) { free(v.items); continue; }
    d->inv[k++] = v;
  }
  d->ninv = k;
  if (index_invoices(d) != PERR_OK) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return PERR_OK;
}

int recs_eval_load(FILE *csv, recs_eval_data_t **out, perr_info_t *e) {
  *out = NULL;
  recs_eval_data_t *d = calloc(1, sizeof(*d));
  char *line = NULL;
  size_t lcap = 0;
  int col[C_N], rc = PERR_INTERNAL;
  uint32_t invcap = 0;
  if (!d || !(d->items = recs_interner_new()) || !(d->invnames = recs_interner_new()) ||
      !(d->custs = recs_interner_new()))
    goto fail;
  if (getline(&line, &lcap, csv) < 0) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "csv", "empty input");
    goto fail;
  }
  {
    static const char *const names[C_N] = {"InvoiceNo", "StockCode", "Quantity",
                                           "InvoiceDate", "UnitPrice", "CustomerID"};
    char *f[64];
    line[strcspn(line, "\r\n")] = 0;
    int nf = split_csv(line[0] == '\xef' ? line + 3 : line, f, 64); /* skip a UTF-8 BOM */
    for (int c = 0; c < C_N; c++) {
      col[c] = -1;
      for (int i = 0; i < nf; i++)
        if (strcmp(f[i], names[c]) == 0) col[c] = i;
      if (col[c] < 0) {
        rc = perr_set(e, PERR_INVALID_PARAMS, "csv", "missing column %s", names[c]);
        goto fail;
      }
    }
  }
  ssize_t len;
  while ((len = getline(&line, &lcap, csv)) >= 0) {
    char *f[64];
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    d->rows++;
    int nf = split_csv(line, f, 64);
    int ok = 1;
    for (int c = 0; c < C_N; c++) ok = ok && col[c] < nf;
    if (!ok) continue;
    const char *inv = f[col[C_INV]], *code = f[col[C_CODE]], *cust = f[col[C_CUST]];
    if (!cust[0] || !inv[0] || inv[0] == 'C') continue;
    if (strtol(f[col[C_QTY]], NULL, 10) <= 0 || !(strtod(f[col[C_PRICE]], NULL) > 0)) continue;
    for (int i = 0; i < 5 && ok; i++) ok = code[i] >= '0' && code[i] <= '9';
    int64_t ts;
    if (!ok || !parse_ts(f[col[C_DATE]], &ts)) continue;
    d->kept++;
    uint32_t vi, ii, ci;
    if (recs_intern(d->invnames, inv, strlen(inv), &vi) || recs_intern(d->items, code, strlen(code), &ii) ||
        recs_intern(d->custs, cust, strlen(cust), &ci))
      goto fail;
    if (vi == d->ninv) {
      if (d->ninv == invcap) {
        invcap = invcap ? invcap * 2 : 1024;
        inv_t *ni = realloc(d->inv, invcap * sizeof(inv_t));
        if (!ni) goto fail;
        d->inv = ni;
      }
      d->inv[d->ninv++] = (inv_t){vi, ci, ts, NULL, 0, 0, 0};
    }
    if (!inv_push(&d->inv[vi], ii)) goto fail;
  }
  if ((rc = index_invoices(d)) != PERR_OK) goto fail;
  free(line);
  *out = d;
  return PERR_OK;
fail:
  free(line);
  recs_eval_free(d);
  return rc == PERR_INTERNAL ? perr_set(e, rc, NULL, "evaluation data load failed") : rc;
}

int recs_eval_run(const recs_eval_data_t *d, const recs_config_t *cfg, const recs_params_t *p,
                  size_t k, recs_eval_metrics_t *m, perr_info_t *e) {
  return recs_eval_run_flags(d, cfg, p, k, 0, m, e);
}

int recs_eval_run_flags(const recs_eval_data_t *d, const recs_config_t *cfg,
                        const recs_params_t *p, size_t k, unsigned flags, recs_eval_metrics_t *m,
                        perr_info_t *e) {
  return recs_eval_run_many(d, cfg, p, 1, k, flags, m, e);
}

int recs_eval_run_many(const recs_eval_data_t *d, const recs_config_t *cfg,
                       const recs_params_t *ps, size_t np, size_t k, unsigned flags,
                       recs_eval_metrics_t *ms, perr_info_t *e) {
  return recs_eval_run_delta(d, cfg, ps, np, k, flags, 0, ms, e);
}

int recs_eval_run_delta(const recs_eval_data_t *d, const recs_config_t *cfg,
                        const recs_params_t *ps, size_t np, size_t k, unsigned flags,
                        uint32_t delta_days, recs_eval_metrics_t *ms, perr_info_t *e) {
  recs_eval_metrics_t *m = ms;
  for (size_t i = 0; i < np; i++) {
    memset(&ms[i], 0, sizeof(ms[i]));
    ms[i].rows = d->rows;
    ms[i].kept_rows = d->kept;
    ms[i].invoices = d->ninv;
    ms[i].customers = recs_interner_count(d->custs);
    ms[i].cases = d->ncases;
  }
  if (np == 0) return PERR_OK;
  if (k == 0 || k > 1000) return perr_set(e, PERR_INVALID_PARAMS, "k", "k must be 1..1000");
  int rc = PERR_INTERNAL, built_err = 0;
  recs_builder_t *b = recs_builder_new(cfg, NULL);
  recs_snapshot_t *s = NULL;
  recs_scratch_t *sc = recs_scratch_new();
  recs_delta_t *dl = NULL;
  uint32_t *dids = NULL;
  const char **names = malloc(4096 * sizeof(char *));
  size_t *lens = malloc(4096 * sizeof(size_t));
  uint32_t *map = malloc((recs_interner_count(d->items) + 1) * sizeof(uint32_t));
  uint32_t *cart = NULL, *hist = NULL;
  int64_t *hts = NULL;
  size_t histcap = 0;
  recs_result_t *res = malloc(k * sizeof(recs_result_t));
  uint8_t *seen = NULL;
  if (!b || !sc || !names || !lens || !map || !res) goto out;
  /* training invoices dated at or after cut go to the delta, not the build */
  int64_t tmax = INT64_MIN, cut = INT64_MAX;
  for (uint32_t r = 0; r < d->ninv; r++)
    if (!d->inv[r].test && d->inv[r].ts > tmax) tmax = d->inv[r].ts;
  if (delta_days) cut = tmax - (int64_t)delta_days * 86400;
  uint64_t t0 = clock_mono_ns();
  for (uint32_t r = 0; r < d->ninv; r++) {
    const inv_t *v = &d->inv[d->order[r]];
    if (v->test || v->ts >= cut) continue;
    if (v->n > 4096) goto out;
    for (uint32_t j = 0; j < v->n; j++) names[j] = recs_interner_name(d->items, v->items[j], &lens[j]);
    size_t cl;
    const char *cn = recs_interner_name(d->custs, v->cust, &cl);
    if ((rc = recs_builder_add_basket(b, cn, cl, v->ts, names, lens, v->n))) goto out;
    m->train_baskets++;
  }
  if ((rc = recs_builder_build(b, &s, e))) { built_err = 1; goto out; }
  m->build_seconds = clock_elapsed_s(t0);
  rc = PERR_INTERNAL;
  recs_snapshot_stats_t st;
  recs_snapshot_stats(s, &st);
  m->train_items = st.items;
  if (delta_days) { /* the later invoices, recorded as the daemon does between rebuilds */
    if (!(dl = recs_delta_new(s, 0)) || !(dids = malloc(4096 * sizeof(uint32_t)))) goto out;
    for (uint32_t r = 0; r < d->ninv; r++) {
      const inv_t *v = &d->inv[d->order[r]];
      if (v->test || v->ts < cut) continue;
      if (v->n > 4096) goto out;
      for (uint32_t j = 0; j < v->n; j++) {
        size_t l;
        const char *nm = recs_interner_name(d->items, v->items[j], &l);
        if (recs_delta_intern(dl, nm, l, &dids[j]) != PERR_OK) goto out;
      }
      if (recs_delta_add_basket(dl, dids, v->n, v->ts) != PERR_OK) goto out;
    }
  }
  uint32_t nall = recs_interner_count(d->items);
  for (uint32_t i = 0; i < nall; i++) {
    size_t l;
    const char *nm = recs_interner_name(d->items, i, &l);
    map[i] = dl ? recs_delta_lookup(dl, nm, l) : recs_snapshot_lookup(s, nm, l);
  }
  if (!(seen = calloc((size_t)st.items + nall + 1, 1))) goto out;
  for (size_t pi = 0; pi < np; pi++) {
    const recs_params_t *p = ps ? &ps[pi] : NULL;
    m = &ms[pi];
    m->build_seconds = ms[0].build_seconds;
    m->train_baskets = ms[0].train_baskets;
    m->train_items = st.items;
    memset(seen, 0, (size_t)st.items + nall + 1);
    size_t covered = 0;
    double tscore = 0;
    for (size_t c = 0; c < d->ncases; c++) {
      const inv_t *v = &d->inv[d->cases[c].inv];
      uint32_t hid = map[d->cases[c].hidden];
      uint32_t nc = 0, nh = 0;
      free(cart);
      if (!(cart = malloc(v->n * sizeof(uint32_t)))) goto out;
      for (uint32_t j = 0; j < v->n; j++)
        if (v->items[j] != d->cases[c].hidden) cart[nc++] = map[v->items[j]];
      uint32_t a = d->cust_off[v->cust], z = d->cust_off[v->cust + 1];
      if (flags & RECS_EVAL_CART_ONLY) z = a + 1; /* a new customer: no history */
      for (uint32_t q = a; q + 1 < z; q++) { /* earlier invoices (the last is the test) */
        const inv_t *hv = &d->inv[d->cust_inv[q]];
        if (nh + hv->n > histcap) {
          histcap = (nh + hv->n) * 2;
          uint32_t *nhst = realloc(hist, histcap * sizeof(uint32_t));
          if (!nhst) goto out;
          hist = nhst;
          int64_t *nts = realloc(hts, histcap * sizeof(int64_t));
          if (!nts) goto out;
          hts = nts;
        }
        for (uint32_t j = 0; j < hv->n; j++) {
          hts[nh] = hv->ts;
          hist[nh++] = map[hv->items[j]];
        }
      }
      /* the request's time: the case invoice's (the cycle term's "now") */
      recs_request_t q = {.items = cart, .nitems = nc, .history = hist, .nhistory = nh,
                          .history_ts = hts, .now = v->ts, .delta = dl, .params = p};
      recs_answer_t ans;
      uint64_t t1 = clock_mono_ns();
      int got = recs_cart(s, sc, &q, res, k, &ans);
      tscore += clock_elapsed_s(t1);
      if (got < 0) { rc = got; goto out; }
      m->fallback_slots += ans.from_fallback;
      if (hid == RECS_NO_ITEM) m->hidden_unseen++;
      for (int r = 0; r < got; r++) {
        if (res[r].item < st.items + nall && !seen[res[r].item]) {
          seen[res[r].item] = 1;
          covered++;
        }
        if (res[r].item == hid) {
          m->hr += 1;
          m->ndcg += 1.0 / log2(r + 2.0);
          m->mrr += 1.0 / (r + 1.0);
        }
      }
    }
    if (d->ncases) {
      m->hr /= d->ncases;
      m->ndcg /= d->ncases;
      m->mrr /= d->ncases;
      m->score_us_mean = tscore * 1e6 / d->ncases;
    }
    m->coverage = st.items ? (double)covered / st.items : 0;
  }
  rc = PERR_OK;
out:
  recs_builder_free(b);
  recs_delta_free(dl);
  free(dids);
  recs_snapshot_unref(s);
  recs_scratch_free(sc);
  free(names); free(lens); free(map); free(cart); free(hist); free(hts); free(res); free(seen);
  if (rc != PERR_OK && !built_err) perr_set(e, rc, NULL, "evaluation failed");
  return rc;
}

/* ---- access for tools that answer the cases elsewhere (recs_eval.h) ---- */

size_t recs_eval_ninvoices(const recs_eval_data_t *d) { return d->ninv; }

size_t recs_eval_invoice_rank(const recs_eval_data_t *d, size_t r) { return d->order[r]; }

void recs_eval_invoice(const recs_eval_data_t *d, size_t i, recs_eval_invoice_t *out) {
  const inv_t *v = &d->inv[i];
  out->name = recs_interner_name(d->invnames, v->name, &out->name_len);
  out->customer = recs_interner_name(d->custs, v->cust, &out->customer_len);
  out->ts = v->ts;
  out->test = v->test;
  out->nitems = v->n;
}

const char *recs_eval_invoice_item(const recs_eval_data_t *d, size_t i, size_t j, size_t *len) {
  return recs_interner_name(d->items, d->inv[i].items[j], len);
}

size_t recs_eval_ncases(const recs_eval_data_t *d) { return d->ncases; }

void recs_eval_case(const recs_eval_data_t *d, size_t c, size_t *invoice, const char **hidden,
                    size_t *hidden_len) {
  *invoice = d->cases[c].inv;
  *hidden = recs_interner_name(d->items, d->cases[c].hidden, hidden_len);
}

void recs_eval_counts(const recs_eval_data_t *d, recs_eval_metrics_t *m) {
  memset(m, 0, sizeof(*m));
  m->rows = d->rows;
  m->kept_rows = d->kept;
  m->invoices = d->ninv;
  m->customers = recs_interner_count(d->custs);
  m->cases = d->ncases;
  uint32_t ni = recs_interner_count(d->items);
  uint8_t *in_train = calloc(ni + 1, 1);
  for (uint32_t i = 0; i < d->ninv; i++) {
    if (d->inv[i].test) continue;
    m->train_baskets++;
    for (uint32_t j = 0; j < d->inv[i].n && in_train; j++) in_train[d->inv[i].items[j]] = 1;
  }
  for (uint32_t i = 0; i < ni && in_train; i++) m->train_items += in_train[i];
  for (size_t c = 0; c < d->ncases && in_train; c++) m->hidden_unseen += !in_train[d->cases[c].hidden];
  free(in_train);
}

void recs_eval_add_case(recs_eval_metrics_t *m, int rank) {
  if (rank < 0) return;
  m->hr += 1;
  m->ndcg += 1.0 / log2(rank + 2.0);
  m->mrr += 1.0 / (rank + 1.0);
}

void recs_eval_finish(recs_eval_metrics_t *m, size_t covered) {
  if (m->cases) {
    m->hr /= (double)m->cases;
    m->ndcg /= (double)m->cases;
    m->mrr /= (double)m->cases;
  }
  m->coverage = m->train_items ? (double)covered / (double)m->train_items : 0;
}
