/* clv_snapshot.c -- see clv_snapshot.h.
 * Build: scan every order (commerce/scan.h); keep the shop's main currency (most gross revenue;
 * other currencies are not mixed in); per customer, orders net of refunds with ts <= as_of
 * become CDNOW-convention transactions (same UTC day merged, weeks) -> (x, t_x, T, mean
 * repeat spend); fit the purchase model(s) [clv] model names (auto: BG/NBD, MBG/NBD and
 * Pareto/NBD, serving the lowest AIC; clv.h), with Hessian standard errors, then Gamma-Gamma; score P(alive), E[purchases] over 30/90/365
 * days and CLV (horizon, monthly discount from [clv]) with the bulk plan; RFM scores on
 * (last order day, transactions, net spend) with [clv] rfm_bins bins -> segments.
 * If BG/NBD cannot be fitted the snapshot still serves segments, with the reason.
 * File (native byte order, checked by a marker): "PTRNCLV\0" | u32 0x01020304 | u32 format |
 * u32 sizeof tx | u32 sizeof spend | u32 sizeof row | header fields | tx | fits[3] | spend | u64 n |
 * u64 pool_n | rows | pool | u64 file_sum of everything before. Load refuses a file whose
 * marker, format, struct sizes or counts differ, whose size is not what its header implies,
 * whose checksum does not match (any single changed byte), or with a row outside the pool. */
#include "clv/clv_snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commerce/scan.h"
#include "store/fileio.h"

#define FILE_MAGIC "PTRNCLV"
#define FILE_FORMAT 3u /* 2: fits[3] and the model rule; 3: file_sum (was byte FNV-1a) */
#define ENDIAN_MARK 0x01020304u
static const double QPROBS[KPI_NQUANTILES] = {0.10, 0.25, 0.50, 0.75, 0.90, 0.99};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
  return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

/* The file checksum: FNV-1a's step on 8-byte words in 4 interleaved lanes (4 independent
 * multiply chains and 8x fewer steps than bytes: ~30x faster than fnv1a on a 64 MB model,
 * most of a 1M-customer start-up before), the tail bytewise. Each step is a bijection of its
 * lane (xor, then a multiply by an odd number mod 2^64), so any single changed word changes
 * its lane and so the sum. */
static uint64_t file_sum(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t lane[4] = {h, h ^ 1, h ^ 2, h ^ 3};
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; k++) {
      uint64_t w;
      memcpy(&w, b + i + 8 * k, 8);
      lane[k] = (lane[k] ^ w) * 0x100000001b3ULL;
    }
  for (int k = 0; k < 4; k++) h = (h ^ lane[k]) * 0x100000001b3ULL;
  return fnv1a(h, b + i, n - i);
}

static int id_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an > bn) - (an < bn);
}

void clv_snap_free(clv_snap_t *s) {
  if (!s) return;
  free(s->rows);
  free(s->pool);
  free(s->hash);
  free(s->by_seg);
  free(s->changes);
  free(s);
}

void clv_snap_release(clv_snap_t *s) {
  if (s && atomic_fetch_sub(&s->refs, 1) == 1) clv_snap_free(s);
}

const clv_row_t *clv_snap_find(const clv_snap_t *s, const char *id, size_t n) {
  if (!s || !s->hash) return NULL;
  size_t h = (size_t)fnv1a(FNV_INIT, id, n) & s->hmask;
  for (;; h = (h + 1) & s->hmask) {
    uint32_t v = s->hash[h];
    if (!v) return NULL;
    const clv_row_t *r = &s->rows[v - 1];
    if (r->id_len == n && memcmp(s->pool + r->id_off, id, n) == 0) return r;
  }
}

/* qsort context for by_seg (qsort_r: _GNU_SOURCE is on) */
static int seg_cmp(const void *a, const void *b, void *ctx) {
  const clv_snap_t *s = ctx;
  const clv_row_t *x = &s->rows[*(const uint32_t *)a], *y = &s->rows[*(const uint32_t *)b];
  if (x->segment != y->segment) return (int)x->segment - (int)y->segment;
  return id_cmp(s->pool + x->id_off, x->id_len, s->pool + y->id_off, y->id_len);
}

/* by_seg = the rows by (segment, id). clv_snap_build writes the rows in the scan's customer
 * order, which is id order: then a stable counting sort by segment gives exactly that in O(n)
 * (the qsort took most of a 1M-customer start-up); rows in another order are qsorted. */
static void sort_by_segment(clv_snap_t *s, const uint64_t counts[RFM_NSEGMENTS]) {
  int id_order = 1;
  for (size_t i = 1; i < s->n && id_order; i++) {
    const clv_row_t *a = &s->rows[i - 1], *b = &s->rows[i];
    id_order = id_cmp(s->pool + a->id_off, a->id_len, s->pool + b->id_off, b->id_len) < 0;
  }
  if (!id_order) {
    for (size_t i = 0; i < s->n; i++) s->by_seg[i] = (uint32_t)i;
    qsort_r(s->by_seg, s->n, sizeof *s->by_seg, seg_cmp, s);
    return;
  }
  uint64_t next[RFM_NSEGMENTS], at = 0;
  for (int k = 0; k < RFM_NSEGMENTS; k++) next[k] = at, at += counts[k];
  for (size_t i = 0; i < s->n; i++) {
    unsigned seg = s->rows[i].segment;
    s->by_seg[next[seg < RFM_NSEGMENTS ? seg : RFM_LOST]++] = (uint32_t)i;
  }
}

#define HASH_AHEAD 16

/* Hash index, segment lists, counts and CLV quantiles. 0 or -1 (out of memory). */
static int derive(clv_snap_t *s) {
  size_t cap = 16;
  while (cap < s->n * 2) cap *= 2;
  s->hash = calloc(cap, sizeof *s->hash);
  s->by_seg = malloc((s->n ? s->n : 1) * sizeof *s->by_seg);
  double *vals = malloc((s->n ? s->n : 1) * sizeof *vals);
  if (!s->hash || !s->by_seg || !vals) {
    free(vals);
    return -1;
  }
  s->hmask = cap - 1;
  memset(s->bands, 0, sizeof s->bands);
  uint64_t counts[RFM_NSEGMENTS] = {0};
  double sum = 0;
  /* the hash index: row i's slot is prefetched HASH_AHEAD rows before it is filled (random
   * writes into a table of 2n slots miss the cache; the rows go in in order, so the table is
   * the same as without the prefetch) */
  size_t ahead[HASH_AHEAD];
  for (size_t i = 0; i < s->n + HASH_AHEAD; i++) {
    if (i >= HASH_AHEAD) { /* row i - HASH_AHEAD, whose slot is in the entry row i reuses */
      size_t h = ahead[i % HASH_AHEAD];
      while (s->hash[h]) h = (h + 1) & s->hmask;
      s->hash[h] = (uint32_t)(i - HASH_AHEAD + 1);
    }
    if (i < s->n) {
      const clv_row_t *r = &s->rows[i];
      ahead[i % HASH_AHEAD] = (size_t)fnv1a(FNV_INIT, s->pool + r->id_off, r->id_len) & s->hmask;
      __builtin_prefetch(&s->hash[ahead[i % HASH_AHEAD]], 1);
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    const clv_row_t *r = &s->rows[i];
    counts[r->segment < RFM_NSEGMENTS ? r->segment : RFM_LOST]++;
    if (r->band < CLV_NBANDS) s->bands[r->band]++;
    vals[i] = r->clv;
    sum += r->clv;
  }
  sort_by_segment(s, counts);
  s->seg_start[0] = 0;
  for (int k = 0; k < RFM_NSEGMENTS; k++) s->seg_start[k + 1] = s->seg_start[k] + counts[k];
  memset(s->clv_q, 0, sizeof s->clv_q);
  s->clv_n = 0;
  s->clv_mean = 0;
  if (clv_snap_has_value(s) && s->n) {
    long used = kpi_quantiles(vals, s->n, QPROBS, KPI_NQUANTILES, s->clv_q);
    s->clv_n = used > 0 ? (uint64_t)used : 0;
    s->clv_mean = sum / (double)s->n;
  }
  free(vals);
  return 0;
}

void clv_snap_diff(clv_snap_t *s, const clv_snap_t *base) {
  free(s->changes);
  s->changes = NULL;
  s->nchanges = 0;
  s->changes_dropped = 0;
  s->diff_base = base ? base->version : 0;
  if (!base) return;
  int bands_now = clv_snap_has_clv(s), bands_before = clv_snap_has_clv(base);
  size_t cap = 0;
  for (size_t i = 0; i < s->n; i++) {
    const clv_row_t *r = &s->rows[i];
    const clv_row_t *o = clv_snap_find(base, s->pool + r->id_off, r->id_len);
    if (!o) continue; /* first assignment: not a change */
    int seg_changed = o->segment != r->segment;
    int band_changed = bands_now && bands_before && o->band != r->band;
    if (!seg_changed && !band_changed) continue;
    if (s->nchanges >= CLV_MAX_CHANGES) {
      s->changes_dropped++;
      continue;
    }
    if (s->nchanges == cap) {
      size_t nc = cap ? cap * 2 : 256;
      clv_change_t *nv = realloc(s->changes, nc * sizeof *nv);
      if (!nv) {
        s->changes_dropped++;
        continue;
      }
      s->changes = nv;
      cap = nc;
    }
    clv_change_t *c = &s->changes[s->nchanges++];
    c->row = (uint32_t)i;
    c->prev_segment = (int8_t)o->segment;
    c->prev_band = bands_before ? (int8_t)o->band : -1;
  }
}

/* ---- build ---- */

typedef struct work_s {
  clv_summary_t *sum;
  rfm_input_t *rfm;
  rfm_score_t *rs;
  clv_score_t *sc;
  uint32_t *cust;   /* scan customer index of each row */
  clv_txn_t *tx;
  size_t txcap;
} work_t;

static void work_free(work_t *w) {
  free(w->sum);
  free(w->rfm);
  free(w->rs);
  free(w->sc);
  free(w->cust);
  free(w->tx);
}

static void fit(clv_snap_t *s, const work_t *w, const clv_build_opts_t *o) {
  clv_fit_opts_t fo = clv_fit_opts_default();
  fo.threads = o->threads ? o->threads : 1;
  fo.std_errors = 1;
  s->model_rule = o->model;
  for (int k = CLV_KIND_BGNBD; k <= CLV_KIND_PNBD; k++)
    if (o->model == CLV_MODEL_AUTO || o->model == k)
      clv_tx_fit((clv_kind_t)k, w->sum, s->n, CLV_SECONDS_PER_WEEK, &fo, &s->fits[k - 1]);
  int best = clv_tx_select(s->fits, 3);
  if (best < 0) {
    const int k = o->model == CLV_MODEL_AUTO ? CLV_KIND_BGNBD : o->model;
    s->tx = s->fits[k - 1];
    memset(&s->spend, 0, sizeof s->spend);
    s->spend.status = CLV_NOT_FITTED;
    snprintf(s->reason, sizeof s->reason, "%s %s: %.100s; segments are served",
             clv_kind_name(k), clv_status_name(s->tx.status), s->tx.reason);
    return;
  }
  s->tx = s->fits[best];
  clv_spend_fit(w->sum, s->n, &fo, &s->spend);
  if (s->spend.status != CLV_OK)
    snprintf(s->reason, sizeof s->reason, "Gamma-Gamma %s: %.90s; no CLV, P(alive) is served",
             clv_status_name(s->spend.status), s->spend.reason);
}

static void score(clv_snap_t *s, work_t *w, const clv_build_opts_t *o) {
  if (!clv_snap_has_clv(s)) return;
  clv_value_opts_t vo = clv_value_opts_default();
  vo.months = s->horizon_months;
  vo.discount_month = s->discount_monthly;
  const double hz[3] = {30.0 / 7.0, 90.0 / 7.0, 365.0 / 7.0};
  double T_max = 0;
  uint32_t x_max = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (w->sum[i].T > T_max) T_max = w->sum[i].T;
    if (w->sum[i].x > x_max) x_max = w->sum[i].x;
  }
  const clv_spend_model_t *g = clv_snap_has_value(s) ? &s->spend : NULL;
  clv_plan_t *plan = clv_plan_new(&s->tx, g, &vo, hz, 3, T_max, x_max > 512 ? 512 : x_max);
  if (!plan || clv_score_many(plan, w->sum, s->n, o->threads ? o->threads : 1, w->sc) != CLV_OK) {
    for (size_t i = 0; i < s->n; i++) { /* exact path */
      const clv_summary_t *m = &w->sum[i];
      clv_score_t *c = &w->sc[i];
      c->p_alive = clv_p_alive(&s->tx, m->x, m->t_x, m->T);
      for (int k = 0; k < 3; k++) c->expected[k] = clv_expected_purchases(&s->tx, hz[k], m->x, m->t_x, m->T);
      c->clv = g ? clv_value(&s->tx, g, &vo, m) : 0;
      c->band = (uint8_t)clv_churn_band(c->p_alive);
    }
  }
  clv_plan_free(plan);
}

clv_snap_t *clv_snap_build(store_txn_t *t, const clv_build_opts_t *o, const clv_snap_t *prev,
                           uint64_t min_version, perr_info_t *e) {
  scan_t sc;
  if (scan_orders(t, &sc, e)) return NULL;
  work_t w = {0};
  clv_snap_t *s = calloc(1, sizeof *s);
  if (!s) goto nomem;
  atomic_init(&s->refs, 1);
  s->version = (prev ? prev->version : 0) + 1;
  if (s->version < min_version) s->version = min_version;
  s->as_of = o->as_of;
  s->horizon_months = o->horizon_months;
  s->rfm_bins = o->rfm_bins;
  s->discount_monthly = o->discount_monthly;
  int cur = scan_main_currency(&sc);
  if (cur < 0) {
    perr_set(e, PERR_INSUFFICIENT_DATA, NULL, "no orders yet");
    goto fail;
  }
  memcpy(s->currency, sc.currencies[cur], 4);
  size_t nc = sc.ncustomers ? sc.ncustomers : 1;
  w.sum = malloc(nc * sizeof *w.sum);
  w.rfm = malloc(nc * sizeof *w.rfm);
  w.rs = malloc(nc * sizeof *w.rs);
  w.sc = calloc(nc, sizeof *w.sc);
  w.cust = malloc(nc * sizeof *w.cust);
  if (!w.sum || !w.rfm || !w.rs || !w.sc || !w.cust) goto nomem;
  clv_summary_opts_t so = clv_summary_opts_default(o->as_of);
  for (size_t c = 0; c < sc.ncustomers; c++) {
    size_t k = 0;
    int64_t spend = 0, last = 0;
    for (size_t i = sc.first[c]; i < sc.first[c + 1]; i++) {
      const scan_order_t *od = &sc.orders[i];
      if (od->currency != cur || od->ts > o->as_of) continue;
      if (k == w.txcap) {
        size_t ncap = w.txcap ? w.txcap * 2 : 64;
        clv_txn_t *nt = realloc(w.tx, ncap * sizeof *nt);
        if (!nt) goto nomem;
        w.tx = nt;
        w.txcap = ncap;
      }
      w.tx[k].ts = od->ts;
      w.tx[k].amount = od->total - od->refunded;
      if (__builtin_add_overflow(spend, w.tx[k].amount, &spend)) spend = INT64_MAX;
      last = od->ts;
      k++;
    }
    if (!k || clv_summarize(w.tx, k, &so, &w.sum[s->n]) != CLV_OK) continue;
    w.rfm[s->n].last_ts = last - last % 86400; /* the day: same-day orders tie */
    w.rfm[s->n].frequency = w.sum[s->n].x + 1;
    w.rfm[s->n].monetary = spend;
    w.cust[s->n] = (uint32_t)c;
    s->n++;
  }
  if (!s->n) {
    perr_set(e, PERR_INSUFFICIENT_DATA, NULL, "no customer with a %s order by as_of", s->currency);
    goto fail;
  }
  fit(s, &w, o);
  score(s, &w, o);
  if (rfm_score(w.rfm, s->n, s->rfm_bins, w.rs)) goto nomem;
  s->rows = calloc(s->n, sizeof *s->rows);
  for (size_t i = 0; i < s->n; i++) s->pool_n += scan_id(&sc, w.cust[i]).n;
  s->pool = malloc(s->pool_n ? s->pool_n : 1);
  if (!s->rows || !s->pool) goto nomem;
  size_t off = 0;
  for (size_t i = 0; i < s->n; i++) {
    clv_row_t *r = &s->rows[i];
    pstr_t id = scan_id(&sc, w.cust[i]);
    memcpy(s->pool + off, id.p, id.n);
    r->id_off = off;
    r->id_len = (uint16_t)id.n;
    off += id.n;
    r->r = w.rs[i].r;
    r->f = w.rs[i].f;
    r->m = w.rs[i].m;
    r->segment = w.rs[i].segment;
    r->band = clv_snap_has_clv(s) ? w.sc[i].band : 0;
    r->p_alive = w.sc[i].p_alive;
    for (int k = 0; k < 3; k++) r->expected[k] = w.sc[i].expected[k];
    r->clv = clv_snap_has_value(s) && isfinite(w.sc[i].clv) ? w.sc[i].clv : 0;
  }
  if (derive(s)) goto nomem;
  clv_snap_diff(s, prev);
  scan_free(&sc);
  work_free(&w);
  return s;
nomem:
  perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory building the CLV model");
fail:
  scan_free(&sc);
  work_free(&w);
  clv_snap_free(s);
  return NULL;
}

/* ---- persistence ---- */

typedef struct file_head_s {
  char magic[8];
  uint32_t endian, format, tx_size, spend_size, row_size, pad;
  uint64_t version;
  int64_t built_at, as_of;
  uint64_t build_ms;
  char currency[4];
  uint32_t horizon_months, rfm_bins;
  int32_t model_rule;
  double discount_monthly;
  char reason[160];
  uint64_t n, pool_n;
} file_head_t;

int clv_snap_save(const clv_snap_t *s, const char *path, perr_info_t *e) {
  file_head_t h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, FILE_MAGIC, 8);
  h.endian = ENDIAN_MARK;
  h.format = FILE_FORMAT;
  h.tx_size = sizeof s->tx;
  h.spend_size = sizeof s->spend;
  h.row_size = sizeof(clv_row_t);
  h.version = s->version;
  h.built_at = s->built_at;
  h.as_of = s->as_of;
  h.build_ms = s->build_ms;
  memcpy(h.currency, s->currency, 4);
  h.horizon_months = s->horizon_months;
  h.rfm_bins = s->rfm_bins;
  h.model_rule = s->model_rule;
  h.discount_monthly = s->discount_monthly;
  memcpy(h.reason, s->reason, sizeof h.reason);
  h.n = s->n;
  h.pool_n = s->pool_n;
  /* header | tx | fits | spend | rows | pool | FNV-1a of all of it */
  const void *parts[7] = {&h, &s->tx, s->fits, &s->spend, s->rows, s->pool, NULL};
  size_t lens[7] = {sizeof h, sizeof s->tx, sizeof s->fits, sizeof s->spend,
                    s->n * sizeof *s->rows, s->pool_n, sizeof(uint64_t)};
  uint64_t sum = FNV_INIT;
  for (int i = 0; i < 6; i++) sum = file_sum(sum, parts[i], lens[i]);
  parts[6] = &sum;
  return file_write_atomic(path, parts, lens, 7, e);
}

clv_snap_t *clv_snap_load(const char *path, perr_info_t *e) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) perr_set(e, PERR_NOT_FOUND, NULL, "%s: no such file", path);
    else perr_set(e, PERR_INTERNAL, NULL, "%s: %s", path, strerror(errno));
    return NULL;
  }
  clv_snap_t *s = calloc(1, sizeof *s);
  file_head_t h;
  uint64_t sum = FNV_INIT, stored;
  if (!s) {
    perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory loading %s", path);
    goto fail;
  }
  if (fread(&h, sizeof h, 1, f) != 1) {
    perr_set(e, PERR_INTERNAL, NULL, "%s: truncated", path);
    goto fail;
  }
  if (memcmp(h.magic, FILE_MAGIC, 8) != 0 ||
      h.endian != ENDIAN_MARK || h.format != FILE_FORMAT || h.tx_size != sizeof s->tx ||
      h.spend_size != sizeof s->spend || h.row_size != sizeof(clv_row_t) ||
      h.n > UINT32_MAX - 1 || h.pool_n > ((uint64_t)1 << 40) || h.rfm_bins < 2 ||
      h.rfm_bins > RFM_MAX_BINS || h.model_rule < CLV_MODEL_AUTO || h.model_rule > CLV_KIND_PNBD) {
    perr_set(e, PERR_INTERNAL, NULL, "%s: not a CLV model file of this build", path);
    goto fail;
  }
  struct stat fs;
  memset(&fs, 0, sizeof fs);
  uint64_t want = sizeof h + sizeof s->tx + sizeof s->fits + sizeof s->spend + h.n * sizeof *s->rows + h.pool_n +
                  sizeof stored;
  if (fstat(fileno(f), &fs) || (uint64_t)fs.st_size != want) {
    perr_set(e, PERR_INTERNAL, NULL, "%s: %lld bytes where its header says %llu (truncated or corrupted)",
             path, (long long)fs.st_size, (unsigned long long)want);
    goto fail;
  }
  sum = file_sum(sum, &h, sizeof h);
  s->rows = malloc(h.n ? h.n * sizeof *s->rows : 1);
  s->pool = malloc(h.pool_n ? h.pool_n : 1);
  if (!s->rows || !s->pool || fread(&s->tx, sizeof s->tx, 1, f) != 1 ||
      fread(s->fits, sizeof s->fits, 1, f) != 1 || fread(&s->spend, sizeof s->spend, 1, f) != 1 ||
      (h.n && fread(s->rows, sizeof *s->rows, h.n, f) != h.n) ||
      (h.pool_n && fread(s->pool, 1, h.pool_n, f) != h.pool_n) ||
      fread(&stored, sizeof stored, 1, f) != 1) {
    perr_set(e, PERR_INTERNAL, NULL, "%s: truncated", path);
    goto fail;
  }
  sum = file_sum(sum, &s->tx, sizeof s->tx);
  sum = file_sum(sum, s->fits, sizeof s->fits);
  sum = file_sum(sum, &s->spend, sizeof s->spend);
  sum = file_sum(sum, s->rows, h.n * sizeof *s->rows);
  sum = file_sum(sum, s->pool, h.pool_n);
  if (sum != stored) {
    perr_set(e, PERR_INTERNAL, NULL, "%s: checksum mismatch", path);
    goto fail;
  }
  for (uint64_t i = 0; i < h.n; i++) {
    const clv_row_t *r = &s->rows[i];
    if (r->id_off > h.pool_n || r->id_len > h.pool_n - r->id_off || r->segment >= RFM_NSEGMENTS) {
      perr_set(e, PERR_INTERNAL, NULL, "%s: bad row %llu", path, (unsigned long long)i);
      goto fail;
    }
  }
  fclose(f);
  f = NULL;
  atomic_init(&s->refs, 1);
  s->version = h.version;
  s->built_at = h.built_at;
  s->as_of = h.as_of;
  s->build_ms = h.build_ms;
  memcpy(s->currency, h.currency, 3);
  s->horizon_months = h.horizon_months;
  s->rfm_bins = h.rfm_bins;
  s->model_rule = h.model_rule;
  s->discount_monthly = h.discount_monthly;
  memcpy(s->reason, h.reason, sizeof s->reason);
  s->reason[sizeof s->reason - 1] = 0;
  s->n = h.n;
  s->pool_n = h.pool_n;
  if (derive(s)) {
    perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory loading %s", path);
    goto fail;
  }
  return s;
fail:
  if (f) fclose(f);
  clv_snap_free(s);
  return NULL;
}

/* ---- queries ---- */

void clv_snap_scores(const clv_snap_t *s, const clv_row_t *r, clv_scores_t *out) {
  if (!s || !r) {
    *out = (clv_scores_t){0};
    return;
  }
  out->scored = 1;
  out->segment = rfm_segment_name((rfm_segment_t)r->segment);
  out->has_clv = clv_snap_has_clv(s);
  out->has_value = clv_snap_has_value(s);
  out->p_alive = r->p_alive;
  out->churn_risk = 1.0 - r->p_alive;
  out->churn_band = clv_band_name((clv_band_t)r->band);
  out->predicted_clv = (int64_t)llround(r->clv);
}

void clv_snap_analytics(const clv_snap_t *s, const clv_row_t *r, cust_analytics_t *a) {
  memset(a, 0, sizeof *a);
  if (!s) return;
  a->model_version = s->version;
  if (!r) return;
  clv_scores_t sc;
  clv_snap_scores(s, r, &sc);
  a->scored = sc.scored;
  a->as_of = s->as_of;
  a->r = r->r;
  a->f = r->f;
  a->m = r->m;
  a->segment = sc.segment;
  a->has_clv = sc.has_clv;
  a->has_value = sc.has_value;
  a->p_alive = sc.p_alive;
  a->churn_risk = sc.churn_risk;
  for (int k = 0; k < 3; k++) a->expected[k] = r->expected[k];
  a->churn_band = sc.churn_band;
  a->predicted_clv = sc.predicted_clv;
  memcpy(a->currency, s->currency, 4);
}

int clv_snap_page(const clv_snap_t *s, const segment_page_params_t *p, arena_t *a,
                  segment_page_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  out->segment = rfm_segment_name((rfm_segment_t)p->segment);
  if (!s) return 0;
  out->model_version = s->version;
  out->has_clv = clv_snap_has_clv(s);
  out->has_value = clv_snap_has_value(s);
  memcpy(out->currency, s->currency, 4);
  size_t lo = s->seg_start[p->segment], hi = s->seg_start[p->segment + 1];
  out->total = hi - lo;
  if (p->cursor.p) { /* first member with id > cursor */
    size_t l = lo, h = hi;
    while (l < h) {
      size_t mid = l + (h - l) / 2;
      const clv_row_t *r = &s->rows[s->by_seg[mid]];
      if (id_cmp(s->pool + r->id_off, r->id_len, p->cursor.p, p->cursor.n) <= 0) l = mid + 1;
      else h = mid;
    }
    lo = l;
  }
  size_t n = hi - lo < (size_t)p->limit ? hi - lo : (size_t)p->limit;
  out->items = arena_alloc(a, (n ? n : 1) * sizeof *out->items);
  if (!out->items) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const clv_row_t *r = &s->rows[s->by_seg[lo + i]];
    segment_member_t *m = &out->items[i];
    /* a copy keeps the result self-contained (the arena outlives nothing else) */
    m->id.p = arena_memdup(a, s->pool + r->id_off, r->id_len ? r->id_len : 1);
    m->id.n = r->id_len;
    if (!m->id.p) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
    m->r = r->r;
    m->f = r->f;
    m->m = r->m;
    m->band = r->band;
    m->p_alive = r->p_alive;
    m->clv = (int64_t)llround(r->clv);
  }
  out->n = n;
  if (lo + n < hi && n) out->next_cursor = out->items[n - 1].id;
  return 0;
}

void clv_snap_counts(const clv_snap_t *s, segment_list_t *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  out->model_version = s->version;
  out->as_of = s->as_of;
  memcpy(out->currency, s->currency, 4);
  out->total = s->n;
  for (int k = 0; k < RFM_NSEGMENTS; k++) out->counts[k] = s->seg_start[k + 1] - s->seg_start[k];
  out->has_clv = clv_snap_has_clv(s);
  memcpy(out->bands, s->bands, sizeof out->bands);
}

void clv_snap_kpi(const clv_snap_t *s, kpi_result_t *out) {
  if (!s) return;
  out->model_version = s->version;
  out->model_as_of = s->as_of;
  memcpy(out->model_currency, s->currency, 4);
  out->model_customers = s->n;
  for (int k = 0; k < RFM_NSEGMENTS; k++) out->segments[k] = s->seg_start[k + 1] - s->seg_start[k];
  out->has_clv = clv_snap_has_clv(s);
  out->has_value = clv_snap_has_value(s);
  memcpy(out->bands, s->bands, sizeof out->bands);
  out->clv_n = s->clv_n;
  out->clv_mean = s->clv_mean;
  memcpy(out->clv_q, s->clv_q, sizeof out->clv_q);
}

void clv_snap_params(const clv_snap_t *s, model_params_result_t *out) {
  if (!s) {
    out->status = "empty";
    return;
  }
  out->version = s->version;
  out->built_at = s->built_at;
  out->as_of = s->as_of;
  memcpy(out->currency, s->currency, 4);
  out->customers = s->n;
  out->status = clv_snap_has_clv(s) ? "ready" : "insufficient_data";
  snprintf(out->reason, sizeof out->reason, "%s", s->reason);
  out->tx = s->tx;
  memcpy(out->fits, s->fits, sizeof out->fits);
  out->model_rule = s->model_rule;
  out->spend = s->spend;
  out->horizon_months = s->horizon_months;
  out->discount_monthly = s->discount_monthly;
  out->rfm_bins = s->rfm_bins;
}
