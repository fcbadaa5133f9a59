/* kpi.c -- KPI computations defined in kpi.h.
 * Invariants: pure; per-customer scratch arrays are freed before returning; rates with a
 * zero denominator are 0. */
#include "kpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

static int in_period(int64_t ts, kpi_period_t p) { return ts >= p.from && ts < p.to; }

static int check_orders(const kpi_order_t *o, size_t n, size_t nc) {
  if (n && !o) return -1;
  for (size_t i = 0; i < n; i++)
    if (o[i].customer >= nc) return -1;
  return 0;
}

int32_t kpi_month_index(int64_t ts) {
  time_t t = (time_t)ts;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return 0;
  return (int32_t)((tm.tm_year + 1900) * 12 + tm.tm_mon);
}

int kpi_report(const kpi_order_t *orders, size_t n, size_t ncustomers,
               const kpi_feedback_t *fb, size_t nfb, kpi_period_t p, kpi_report_t *out) {
  if (!out || p.from > p.to || check_orders(orders, n, ncustomers) || (nfb && !fb)) return -1;
  memset(out, 0, sizeof *out);
  out->period = p;
  uint32_t *total = calloc(ncustomers ? ncustomers : 1, sizeof *total);   /* orders < to */
  uint32_t *inper = calloc(ncustomers ? ncustomers : 1, sizeof *inper);   /* orders in p */
  uint8_t *before = calloc(ncustomers ? ncustomers : 1, 1);               /* order < from */
  if (!total || !inper || !before) {
    free(total); free(inper); free(before);
    return -2;
  }
  for (size_t i = 0; i < n; i++) {
    const kpi_order_t *o = &orders[i];
    if (o->ts >= p.to) continue;
    total[o->customer]++;
    if (o->ts < p.from) {
      before[o->customer] = 1;
      continue;
    }
    inper[o->customer]++;
    out->orders++;
    out->revenue_gross += o->amount;
    out->refunded += o->refunded;
    if (o->refunded > 0) out->refunded_orders++;
  }
  for (size_t c = 0; c < ncustomers; c++) {
    if (!inper[c]) continue;
    out->customers++;
    if (!before[c]) out->new_customers++;
    if (total[c] >= 2) out->repeat_customers++;
  }
  free(total); free(inper); free(before);
  out->revenue_net = out->revenue_gross - out->refunded;
  out->aov = ratio((double)out->revenue_gross, (double)out->orders);
  out->purchase_freq = ratio((double)out->orders, (double)out->customers);
  out->repeat_rate = ratio((double)out->repeat_customers, (double)out->customers);
  out->refund_rate = ratio((double)out->refunded, (double)out->revenue_gross);
  out->refund_order_rate = ratio((double)out->refunded_orders, (double)out->orders);
  for (size_t i = 0; i < nfb; i++) {
    const kpi_feedback_t *f = &fb[i];
    if (!in_period(f->ts, p)) continue;
    if (f->kind == KPI_FEEDBACK_NPS && f->score >= 0 && f->score <= 10) {
      out->nps_responses++;
      if (f->score >= 9) out->promoters++;
      else if (f->score >= 7) out->passives++;
      else out->detractors++;
    } else if (f->kind == KPI_FEEDBACK_CSAT && f->score >= 1 && f->score <= 5) {
      out->csat_responses++;
      if (f->score >= 4) out->csat_satisfied++;
    } else {
      out->invalid_feedback++;
    }
  }
  out->nps = 100.0 * ratio((double)out->promoters - (double)out->detractors,
                           (double)out->nps_responses);
  out->csat = 100.0 * ratio((double)out->csat_satisfied, (double)out->csat_responses);
  return 0;
}

int kpi_retention(const kpi_order_t *orders, size_t n, size_t ncustomers, kpi_period_t prev,
                  kpi_period_t cur, kpi_retention_t *out) {
  if (!out || prev.from > prev.to || cur.from > cur.to || check_orders(orders, n, ncustomers))
    return -1;
  memset(out, 0, sizeof *out);
  uint8_t *f = calloc(ncustomers ? ncustomers : 1, 1); /* bit 1: in prev, bit 2: in cur */
  if (!f) return -2;
  for (size_t i = 0; i < n; i++) {
    if (in_period(orders[i].ts, prev)) f[orders[i].customer] |= 1;
    if (in_period(orders[i].ts, cur)) f[orders[i].customer] |= 2;
  }
  for (size_t c = 0; c < ncustomers; c++) {
    if (f[c] & 1) out->base++;
    if (f[c] == 3) out->retained++;
  }
  free(f);
  out->retention = ratio((double)out->retained, (double)out->base);
  out->churn = out->base ? 1.0 - out->retention : 0.0;
  return 0;
}

void kpi_cohorts_free(kpi_cohorts_t *c) {
  if (!c) return;
  free(c->size);
  free(c->active);
  free(c->rate);
  memset(c, 0, sizeof *c);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int kpi_cohorts(const kpi_order_t *orders, size_t n, size_t ncustomers, kpi_period_t p,
                kpi_cohorts_t *out) {
  if (!out || p.from >= p.to || check_orders(orders, n, ncustomers)) return -1;
  memset(out, 0, sizeof *out);
  const int32_t m0 = kpi_month_index(p.from), m1 = kpi_month_index(p.to - 1);
  const size_t nm = (size_t)(m1 - m0 + 1);
  if (m1 < m0 || nm > 240) return -1;
  int32_t *first = malloc((ncustomers ? ncustomers : 1) * sizeof *first);
  uint64_t *pairs = malloc((n ? n : 1) * sizeof *pairs); /* customer << 16 | month offset */
  out->size = calloc(nm, sizeof *out->size);
  out->active = calloc(nm * nm, sizeof *out->active);
  out->rate = calloc(nm * nm, sizeof *out->rate);
  if (!first || !pairs || !out->size || !out->active || !out->rate) {
    free(first); free(pairs);
    kpi_cohorts_free(out);
    return -2;
  }
  out->ncohorts = nm;
  out->first_month = m0;
  for (size_t c = 0; c < ncustomers; c++) first[c] = INT32_MAX;
  for (size_t i = 0; i < n; i++) {
    int32_t m = kpi_month_index(orders[i].ts);
    if (m < first[orders[i].customer]) first[orders[i].customer] = m;
  }
  size_t np = 0;
  for (size_t i = 0; i < n; i++) {
    if (!in_period(orders[i].ts, p)) continue;
    const int32_t m = kpi_month_index(orders[i].ts);
    pairs[np++] = ((uint64_t)orders[i].customer << 16) | (uint64_t)(m - m0);
  }
  qsort(pairs, np, sizeof *pairs, cmp_u64);
  for (size_t c = 0; c < ncustomers; c++)
    if (first[c] >= m0 && first[c] <= m1) out->size[first[c] - m0]++;
  for (size_t i = 0; i < np; i++) {
    if (i && pairs[i] == pairs[i - 1]) continue; /* one customer, one month: once */
    const uint32_t c = (uint32_t)(pairs[i] >> 16);
    const int32_t mo = (int32_t)(pairs[i] & 0xffff) + m0;
    if (first[c] < m0 || first[c] > m1) continue; /* cohort before the period */
    const size_t row = (size_t)(first[c] - m0), k = (size_t)(mo - first[c]);
    out->active[row * nm + k]++;
  }
  for (size_t r = 0; r < nm; r++)
    for (size_t k = 0; k < nm; k++)
      out->rate[r * nm + k] = r + k >= nm ? -1.0 : ratio((double)out->active[r * nm + k],
                                                          (double)out->size[r]);
  free(first);
  free(pairs);
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

long kpi_quantiles(const double *v, size_t n, const double *probs, size_t np, double *out) {
  if ((n && !v) || (np && (!probs || !out))) return -1;
  for (size_t j = 0; j < np; j++)
    if (!(probs[j] >= 0 && probs[j] <= 1)) return -1;
  double *s = malloc((n ? n : 1) * sizeof *s);
  if (!s) return -2;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) s[m++] = v[i];
  qsort(s, m, sizeof *s, cmp_d);
  for (size_t j = 0; j < np; j++) {
    if (m == 0) { out[j] = 0; continue; }
    const double h = (double)(m - 1) * probs[j];
    const size_t lo = (size_t)floor(h);
    const size_t hi = lo + 1 < m ? lo + 1 : lo;
    out[j] = s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
  }
  free(s);
  return (long)m;
}
