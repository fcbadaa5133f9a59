/* predict.c -- exact single-customer predictions of a fitted BG/NBD or MBG/NBD model and
 * the Gamma-Gamma spend model: P(alive), E[Y(t) | x, t_x, T], E[X(t)], P(X(t) = k),
 * expected spend, discounted CLV, churn band. Formulas are in clv.h.
 * Invariants: pure functions of their arguments; never NaN (a model that is not CLV_OK,
 * or arguments outside the domain, give 0).
 *
 * Conditional expectation: given alive at T, the customer's future is a fresh BG/NBD
 * (MBG/NBD) process with r' = r + x, alpha' = alpha + T, b' = b + x (b + x + 1), so
 *   E[Y(t)] = P(alive) * F(t; r', alpha', a, b'),
 *   F(t; r, alpha, a, b) = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
 * (for a == 1 the limit is taken numerically from a = 1 +- 1e-6). */
#include <math.h>
#include <string.h>

#include "clv_internal.h"

int clv__tx_ok(const clv_tx_model_t *m) {
  return m && m->version == CLV_MODEL_VERSION && m->status == CLV_OK &&
         (m->kind == CLV_KIND_BGNBD || m->kind == CLV_KIND_MBGNBD ||
          m->kind == CLV_KIND_PNBD) && m->r > 0 &&
         m->alpha > 0 && m->a > 0 && m->b > 0 && isfinite(m->r + m->alpha + m->a + m->b);
}
#define tx_ok clv__tx_ok

static double fresh_raw(double t, double r, double al, double a, double b) {
  const double z = t / (al + t);
  const double f = clv_hyp2f1(r, b, a + b - 1, z, NULL);
  const double pre = exp(r * (log(al) - log(al + t)));
  return (a + b - 1) / (a - 1) * (1.0 - pre * f);
}

/* F(t; r, alpha, a, b) above; t >= 0. */
double clv__fresh(double t, double r, double al, double a, double b) {
  if (!(t > 0)) return 0.0;
  double v;
  if (fabs(a - 1.0) < 1e-6)
    v = 0.5 * (fresh_raw(t, r, al, 1.0 + 1e-6, b) + fresh_raw(t, r, al, 1.0 - 1e-6, b));
  else
    v = fresh_raw(t, r, al, a, b);
  return isfinite(v) && v > 0 ? v : 0.0;
}

/* log odds of "dropped out" vs "alive" (A4); *has = 0 when it does not apply. */
static double log_odds_dead(const clv_tx_model_t *m, uint32_t x, double t_x, double T) {
  const double xb = (double)x + (m->kind == CLV_KIND_MBGNBD);
  if (xb == 0) return -HUGE_VAL;
  if (x == 0) t_x = 0;
  return log(m->a) - log(m->b + xb - 1) +
         (m->r + x) * (log(m->alpha + T) - log(m->alpha + t_x));
}

double clv_p_alive(const clv_tx_model_t *m, uint32_t x, double t_x, double T) {
  if (!tx_ok(m) || !(T >= 0) || !(t_x >= 0) || !isfinite(T) || !isfinite(t_x)) return 0.0;
  if (m->kind == CLV_KIND_PNBD) return clv__pnbd_p_alive(m, x, t_x > T ? T : t_x, T);
  const double A4 = log_odds_dead(m, x, t_x, T);
  if (A4 == -HUGE_VAL) return 1.0;
  return clv_sigmoid(-A4);
}

double clv_expected_purchases(const clv_tx_model_t *m, double t, uint32_t x, double t_x,
                              double T) {
  if (!tx_ok(m) || !(t > 0) || !isfinite(t)) return 0.0;
  const double pa = clv_p_alive(m, x, t_x, T);
  if (m->kind == CLV_KIND_PNBD) return pa * clv__pnbd_fresh(m, t, x, T);
  const double xb = (double)x + (m->kind == CLV_KIND_MBGNBD);
  return pa * clv__fresh(t, m->r + x, m->alpha + T, m->a, m->b + xb);
}

double clv_expected_purchases_new(const clv_tx_model_t *m, double t) {
  return clv_expected_purchases(m, t, 0, 0.0, 0.0);
}

double clv_prob_purchases(const clv_tx_model_t *m, double t, uint32_t k) {
  if (!tx_ok(m) || m->kind != CLV_KIND_BGNBD || !(t >= 0) || !isfinite(t)) return 0.0;
  const double r = m->r, al = m->alpha, a = m->a, b = m->b, x = k;
  const double lb0 = clv_lgamma(a) + clv_lgamma(b) - clv_lgamma(a + b); /* ln B(a,b) */
  const double lq = log(al) - log(al + t), lz = t > 0 ? log(t) - log(al + t) : -HUGE_VAL;
  /* B(a,b+x)/B(a,b) * G(r+x)/(G(r) x!) (al/(al+t))^r (t/(al+t))^x */
  double l1 = clv_lgamma(a) + clv_lgamma(b + x) - clv_lgamma(a + b + x) - lb0 +
              clv_lgamma(r + x) - clv_lgamma(r) - clv_lgamma(x + 1) + r * lq;
  double p = k == 0 ? exp(l1) : (t > 0 ? exp(l1 + x * lz) : 0.0);
  if (k > 0) {
    /* + B(a+1,b+x-1)/B(a,b) [1 - (al/(al+t))^r sum_{j<x} G(r+j)/(G(r) j!) (t/(al+t))^j] */
    double sum = 0, term = exp(r * lq); /* j = 0 */
    for (uint32_t j = 0; j < k; j++) {
      sum += term;
      term *= (r + j) / (j + 1.0) * exp(lz);
    }
    double l2 = clv_lgamma(a + 1) + clv_lgamma(b + x - 1) - clv_lgamma(a + b + x) - lb0;
    double rest = 1.0 - sum;
    if (rest < 0) rest = 0;
    p += exp(l2) * rest;
  }
  return isfinite(p) && p > 0 ? p : 0.0;
}

double clv_expected_spend(const clv_spend_model_t *g, uint32_t x, double mean_spend) {
  if (!g || g->version != CLV_MODEL_VERSION || g->status != CLV_OK || !(g->p > 0) || !(g->q > 0) || !(g->gamma > 0)) return 0.0;
  if (x == 0 || !(mean_spend > 0) || !isfinite(mean_spend)) return g->mean_spend;
  const double den = g->p * x + g->q - 1.0;
  if (!(den > 0)) return 0.0;
  const double v = g->p * (g->gamma + x * mean_spend) / den;
  return isfinite(v) ? v : 0.0;
}

clv_value_opts_t clv_value_opts_default(void) {
  clv_value_opts_t o = {12, 0.01, 0.0};
  return o;
}

double clv__month_units(const clv_tx_model_t *m, const clv_value_opts_t *o) {
  if (o->month_units > 0) return o->month_units;
  if (m->time_unit_s > 0) return CLV_DAYS_PER_MONTH * CLV_SECONDS_PER_DAY / m->time_unit_s;
  return 0.0;
}

/* sum_{k=1..H} (F(kL) - F((k-1)L)) / (1+d)^k for a fresh process. */
double clv__discounted(double r, double al, double a, double b, unsigned H, double L, double d) {
  double prev = 0, acc = 0, disc = 1.0;
  for (unsigned k = 1; k <= H; k++) {
    const double cur = clv__fresh(k * L, r, al, a, b);
    disc /= 1.0 + d;
    acc += (cur - prev) * disc;
    prev = cur;
  }
  return acc;
}

double clv_value(const clv_tx_model_t *m, const clv_spend_model_t *g,
                 const clv_value_opts_t *o, const clv_summary_t *s) {
  clv_value_opts_t def = clv_value_opts_default();
  if (!o) o = &def;
  if (!tx_ok(m) || !s || !(o->discount_month > -1.0)) return 0.0;
  const double L = clv__month_units(m, o);
  if (!(L > 0)) return 0.0;
  const double spend = clv_expected_spend(g, s->x, s->mean_spend);
  if (!(spend > 0)) return 0.0;
  const double pa = clv_p_alive(m, s->x, s->t_x, s->T);
  if (m->kind == CLV_KIND_PNBD) {
    double prev = 0, acc = 0, disc = 1.0;
    for (unsigned k = 1; k <= o->months; k++) {
      const double cur = clv__pnbd_fresh(m, k * L, s->x, s->T);
      disc /= 1.0 + o->discount_month;
      acc += (cur - prev) * disc;
      prev = cur;
    }
    const double v = pa * spend * acc;
    return isfinite(v) ? v : 0.0;
  }
  const double xb = (double)s->x + (m->kind == CLV_KIND_MBGNBD);
  const double v = pa * spend *
                   clv__discounted(m->r + s->x, m->alpha + s->T, m->a, m->b + xb, o->months,
                                   L, o->discount_month);
  return isfinite(v) ? v : 0.0;
}

clv_band_t clv_churn_band(double p_alive) {
  const double risk = 1.0 - p_alive;
  if (!(risk >= 0.25)) return CLV_BAND_LOW; /* also NaN-safe */
  if (risk < 0.5) return CLV_BAND_MEDIUM;
  if (risk < 0.75) return CLV_BAND_HIGH;
  return CLV_BAND_CRITICAL;
}

const char *clv_band_name(clv_band_t b) {
  switch (b) {
  case CLV_BAND_LOW: return "low";
  case CLV_BAND_MEDIUM: return "medium";
  case CLV_BAND_HIGH: return "high";
  case CLV_BAND_CRITICAL: return "critical";
  }
  return "unknown";
}
