/* clv_util.c -- special functions (lgamma, digamma, log1pexp, 2F1), the hash grouping of
 * identical summary rows, and the slice-parallel runner used by the fits and the scorer.
 * Invariants: no global state; clv_rows_build either fills every array or frees all. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

const char *clv_status_name(int status) {
  switch (status) {
  case CLV_OK: return "ok";
  case CLV_INSUFFICIENT_DATA: return "insufficient_data";
  case CLV_NOT_CONVERGED: return "not_converged";
  case CLV_INVALID_INPUT: return "invalid_input";
  case CLV_NOMEM: return "out_of_memory";
  case CLV_NOT_FITTED: return "not_fitted";
  default: return "unknown";
  }
}

const char *clv_kind_name(int kind) {
  switch (kind) {
  case CLV_KIND_BGNBD: return "bgnbd";
  case CLV_KIND_MBGNBD: return "mbgnbd";
  case CLV_KIND_PNBD: return "pnbd";
  default: return "none";
  }
}

int clv_model_rule_parse(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "auto")) return CLV_MODEL_AUTO;
  for (int k = CLV_KIND_BGNBD; k <= CLV_KIND_PNBD; k++)
    if (!strcmp(s, clv_kind_name(k))) return k;
  return -1;
}

const char *clv_model_rule_name(int rule) {
  return rule == CLV_MODEL_AUTO ? "auto" : clv_kind_name(rule);
}

double clv_tx_aic(const clv_tx_model_t *m) {
  return m->version == CLV_MODEL_VERSION && m->kind != CLV_KIND_NONE && m->status == CLV_OK &&
                 isfinite(m->ll)
             ? 2.0 * 4 - 2.0 * m->ll
             : HUGE_VAL;
}

int clv_tx_select(const clv_tx_model_t *m, size_t n) {
  int best = -1;
  for (size_t i = 0; i < n; i++)
    if (clv_tx_aic(&m[i]) < HUGE_VAL && (best < 0 || clv_tx_aic(&m[i]) < clv_tx_aic(&m[best])))
      best = (int)i;
  return best;
}

void clv_set_reason(char *dst, const char *msg) {
  size_t n = strlen(msg);
  if (n >= CLV_REASON_MAX) n = CLV_REASON_MAX - 1;
  memcpy(dst, msg, n);
  dst[n] = '\0';
}

double clv_lgamma(double x) {
  int sign;
  return lgamma_r(x, &sign);
}

double clv_digamma(double x) {
  double acc = 0.0;
  while (x < 6.0) { /* psi(x) = psi(x+1) - 1/x */
    acc -= 1.0 / x;
    x += 1.0;
  }
  double f = 1.0 / (x * x);
  /* psi(x) ~ ln x - 1/(2x) - sum B_2k / (2k x^2k) */
  double series = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 +
                  f * (-1.0 / 132 + f * (691.0 / 32760 - f / 12.0))))));
  return acc + log(x) - 0.5 / x + series;
}

double clv_log1pexp(double a) {
  if (a > 0) return a + log1p(exp(-a));
  return log1p(exp(a));
}

double clv_sigmoid(double a) {
  if (a >= 0) return 1.0 / (1.0 + exp(-a));
  double e = exp(a);
  return e / (1.0 + e);
}

double clv_hyp2f1(double a, double b, double c, double z, int *ok) {
  return clv__hyp2f1_n(a, b, c, z, 2000000, ok);
}

double clv__hyp2f1_n(double a, double b, double c, double z, long max_terms, int *ok) {
  double term = 1.0, sum = 1.0;
  if (ok) *ok = 1;
  if (z == 0.0) return 1.0;
  for (long k = 0; k < max_terms; k++) {
    term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z;
    sum += term;
    if (fabs(term) <= 1e-17 * fabs(sum) && k > 2) return sum;
  }
  if (ok) *ok = 0;
  return sum;
}

/* ------------------------------------------------------------------ grouping */

static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint64_t dbits(double d) {
  uint64_t u;
  if (d == 0.0) d = 0.0; /* -0.0 and 0.0 are one key */
  memcpy(&u, &d, sizeof u);
  return u;
}

void clv_rows_free(clv_rows_t *r) {
  free(r->tx);
  free(r->T);
  free(r->w);
  free(r->grp);
  free(r->xs);
  free(r->xw);
  memset(r, 0, sizeof *r);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Maps the x stored in r->grp[] to group indices; fills xs, xw, ngroups. */
static int rows_group_x(clv_rows_t *r) {
  uint32_t maxx = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->grp[i] > maxx) maxx = r->grp[i];
  size_t ng = 0;
  if (maxx <= (1u << 16)) {
    uint32_t *map = calloc((size_t)maxx + 1, sizeof *map);
    if (!map) return CLV_NOMEM;
    for (size_t i = 0; i < r->n; i++)
      if (!map[r->grp[i]]) map[r->grp[i]] = 1;
    for (uint32_t x = 0; x <= maxx; x++)
      if (map[x]) ng++;
    r->xs = malloc(ng * sizeof *r->xs);
    r->xw = calloc(ng, sizeof *r->xw);
    if (!r->xs || !r->xw) { free(map); return CLV_NOMEM; }
    size_t g = 0;
    for (uint32_t x = 0; x <= maxx; x++)
      if (map[x]) { r->xs[g] = x; map[x] = (uint32_t)g++; }
    for (size_t i = 0; i < r->n; i++) r->grp[i] = map[r->grp[i]];
    free(map);
  } else { /* rare: huge frequencies; sort the distinct x values */
    uint32_t *tmp = malloc(r->n * sizeof *tmp);
    if (!tmp) return CLV_NOMEM;
    memcpy(tmp, r->grp, r->n * sizeof *tmp);
    qsort(tmp, r->n, sizeof *tmp, cmp_u32);
    for (size_t i = 0; i < r->n; i++)
      if (i == 0 || tmp[i] != tmp[i - 1]) tmp[ng++] = tmp[i];
    uint32_t *shrunk = realloc(tmp, (ng ? ng : 1) * sizeof *tmp);
    r->xs = shrunk ? shrunk : tmp; /* a failed shrink keeps the larger block */
    r->xw = calloc(ng ? ng : 1, sizeof *r->xw);
    if (!r->xw) return CLV_NOMEM;
    for (size_t i = 0; i < r->n; i++) {
      uint32_t *hit = bsearch(&r->grp[i], r->xs, ng, sizeof *r->xs, cmp_u32);
      r->grp[i] = (uint32_t)(hit - r->xs);
    }
  }
  r->ngroups = ng;
  for (size_t i = 0; i < r->n; i++) r->xw[r->grp[i]] += r->w[i];
  return CLV_OK;
}

int clv_rows_build(clv_rows_t *r, const clv_summary_t *s, size_t n, int mode) {
  memset(r, 0, sizeof *r);
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  uint32_t *tab = calloc(cap, sizeof *tab);
  r->tx = malloc((n ? n : 1) * sizeof *r->tx);
  r->T = mode == 0 ? malloc((n ? n : 1) * sizeof *r->T) : NULL;
  r->w = malloc((n ? n : 1) * sizeof *r->w);
  r->grp = malloc((n ? n : 1) * sizeof *r->grp);
  if (!tab || !r->tx || (mode == 0 && !r->T) || !r->w || !r->grp) {
    free(tab);
    clv_rows_free(r);
    return CLV_NOMEM;
  }
  size_t per_row = sizeof(double) * (mode == 0 ? 2 : 1) + 2 * sizeof(uint32_t);
  r->peak_bytes = cap * sizeof *tab + n * per_row;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t x = s[i].x;
    double a, b;
    if (mode == 0) {
      a = x ? s[i].t_x : 0.0;
      b = s[i].T;
    } else {
      if (x == 0 || !(s[i].mean_spend > 0)) continue;
      a = s[i].mean_spend;
      b = 0.0;
    }
    uint64_t ka = dbits(a), kb = dbits(b);
    uint64_t h = mix64(ka ^ mix64(kb ^ mix64((uint64_t)x + 0x9e3779b97f4a7c15ULL)));
    size_t slot = (size_t)h & (cap - 1);
    for (;;) {
      uint32_t e = tab[slot];
      if (e == 0) {
        tab[slot] = (uint32_t)(m + 1);
        r->tx[m] = a;
        if (mode == 0) r->T[m] = b;
        r->w[m] = 1;
        r->grp[m] = x;
        m++;
        break;
      }
      size_t j = e - 1;
      if (r->grp[j] == x && dbits(r->tx[j]) == ka && (mode != 0 || dbits(r->T[j]) == kb)) {
        r->w[j]++;
        break;
      }
      slot = (slot + 1) & (cap - 1);
    }
  }
  free(tab);
  r->n = m;
  if (m < n && m > 0) { /* give back the unused tail */
    double *t1 = realloc(r->tx, m * sizeof *t1);
    if (t1) r->tx = t1;
    if (mode == 0) {
      double *t2 = realloc(r->T, m * sizeof *t2);
      if (t2) r->T = t2;
    }
    uint32_t *t3 = realloc(r->w, m * sizeof *t3);
    if (t3) r->w = t3;
    uint32_t *t4 = realloc(r->grp, m * sizeof *t4);
    if (t4) r->grp = t4;
  }
  int rc = rows_group_x(r);
  if (rc != CLV_OK) {
    clv_rows_free(r);
    return rc;
  }
  r->bytes = m * per_row + r->ngroups * (sizeof(uint32_t) + sizeof(double));
  return CLV_OK;
}

/* ------------------------------------------------------------------ parallel */

typedef struct {
  clv_slice_fn fn;
  void *ctx;
  unsigned i;
  size_t lo, hi;
} slice_t;

static void *slice_main(void *p) {
  slice_t *s = p;
  s->fn(s->ctx, s->i, s->lo, s->hi);
  return NULL;
}

int clv_parallel(unsigned threads, size_t n, size_t min_n, clv_slice_fn fn, void *ctx) {
  if (threads > 16) threads = 16;
  if (threads <= 1 || n < min_n || n < threads) {
    fn(ctx, 0, 0, n);
    return 0;
  }
  slice_t sl[16];
  pthread_t th[16];
  int started[16] = {0};
  for (unsigned i = 0; i < threads; i++) {
    sl[i].fn = fn;
    sl[i].ctx = ctx;
    sl[i].i = i;
    sl[i].lo = n * i / threads;
    sl[i].hi = n * (i + 1) / threads;
  }
  for (unsigned i = 1; i < threads; i++)
    started[i] = pthread_create(&th[i], NULL, slice_main, &sl[i]) == 0;
  fn(ctx, 0, sl[0].lo, sl[0].hi);
  int rc = 0;
  for (unsigned i = 1; i < threads; i++) {
    if (started[i]) pthread_join(th[i], NULL);
    else fn(ctx, i, sl[i].lo, sl[i].hi); /* could not start: do it here */
  }
  return rc;
}
