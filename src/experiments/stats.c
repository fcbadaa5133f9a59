/* stats.c -- experiment statistics (formulas in stats.h): frequentist effects with delta-method
 * relative intervals, Bayesian chance to beat control, incremental revenue / ROI, and the
 * sample-ratio-mismatch chi-square test with its own incomplete-gamma survival function.
 * Invariants: pure, no allocation; money stays int64 minor units at the interface. */
#include "experiments/stats.h"

#include <math.h>

#include "base/perr.h"

#define EPS 1e-16
#define TINY 1e-300
#define MAX_ITER 10000

double stats_normal_cdf(double x) { return 0.5 * erfc(-x / M_SQRT2); }

/* P(a, x) by its power series; converges fast for x < a + 1. */
static double gamma_p_series(double a, double x) {
  double ap = a, term = 1.0 / a, sum = term;
  for (int n = 1; n < MAX_ITER; n++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (fabs(term) < fabs(sum) * EPS) break;
  }
  return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Q(a, x) by its continued fraction (modified Lentz); for x >= a + 1. */
static double gamma_q_fraction(double a, double x) {
  double b = x + 1 - a, c = 1 / TINY, d = 1 / b, h = d;
  for (int i = 1; i < MAX_ITER; i++) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (fabs(d) < TINY) d = TINY;
    c = b + an / c;
    if (fabs(c) < TINY) c = TINY;
    d = 1 / d;
    double delta = d * c;
    h *= delta;
    if (fabs(delta - 1) < EPS) break;
  }
  return exp(-x + a * log(x) - lgamma(a)) * h;
}

double stats_gamma_q(double a, double x) {
  if (!(a > 0) || !(x >= 0)) return NAN;
  if (x == 0) return 1;
  if (x < a + 1) return 1 - gamma_p_series(a, x);
  return gamma_q_fraction(a, x);
}

double stats_chi2_sf(double x, double df) {
  if (!(x > 0)) return 1;
  return stats_gamma_q(df / 2, x / 2);
}

static double lbeta(double a, double b) { return lgamma(a) + lgamma(b) - lgamma(a + b); }

/* Evan Miller's closed form for P(X_B > X_A), a_b a positive integer. */
static double beta_exact(double a_a, double b_a, double a_b, double b_b) {
  double total = 0, base = lbeta(a_a, b_a);
  for (int64_t i = 0; i < (int64_t)a_b; i++)
    total += exp(lbeta(a_a + (double)i, b_a + b_b) - log(b_b + (double)i) -
                 lbeta(1 + (double)i, b_b) - base);
  return total;
}

static double beta_normal(double a_c, double b_c, double a_t, double b_t) {
  double mc = a_c / (a_c + b_c), mt = a_t / (a_t + b_t);
  double vc = a_c * b_c / ((a_c + b_c) * (a_c + b_c) * (a_c + b_c + 1));
  double vt = a_t * b_t / ((a_t + b_t) * (a_t + b_t) * (a_t + b_t + 1));
  return stats_normal_cdf((mt - mc) / sqrt(vc + vt));
}

static bool integral(double a) { return a >= 1 && a == floor(a); }

double stats_beta_chance_to_beat(double a_c, double b_c, double a_t, double b_t) {
  if (!(a_c > 0 && b_c > 0 && a_t > 0 && b_t > 0)) return NAN;
  bool sum_t = integral(a_t) && a_t <= STATS_BETA_EXACT_MAX;
  bool sum_c = integral(a_c) && a_c <= STATS_BETA_EXACT_MAX;
  if (sum_t && (!sum_c || a_t <= a_c)) return beta_exact(a_c, b_c, a_t, b_t);
  if (sum_c) return 1 - beta_exact(a_t, b_t, a_c, b_c);
  return beta_normal(a_c, b_c, a_t, b_t);
}

static void effect(double estimate, double variance, stats_effect_t *out) {
  out->valid = variance >= 0 && isfinite(estimate);
  out->estimate = estimate;
  out->se = sqrt(variance > 0 ? variance : 0);
  out->lower = estimate - STATS_Z975 * out->se;
  out->upper = estimate + STATS_Z975 * out->se;
  out->p_value = out->se > 0 ? 2 * stats_normal_cdf(-fabs(estimate) / out->se)
                             : (estimate == 0 ? 1 : 0);
}

void stats_effects(double mean_c, double var_c, double mean_t, double var_t,
                   stats_effect_t *abs_out, stats_effect_t *rel_out) {
  effect(mean_t - mean_c, var_t + var_c, abs_out);
  if (mean_c == 0) {
    *rel_out = (stats_effect_t){.valid = false};
    return;
  }
  double c2 = mean_c * mean_c;
  effect(mean_t / mean_c - 1, var_t / c2 + mean_t * mean_t * var_c / (c2 * c2), rel_out);
}

/* mean and variance of the mean of per-customer revenue */
static void revenue_moments(const stats_arm_t *a, double *mean, double *var_mean) {
  double n = (double)a->exposures;
  *mean = (double)a->revenue / n;
  double s2 = a->exposures > 1 ? (a->revenue_sumsq - n * *mean * *mean) / (n - 1) : 0;
  if (s2 < 0) s2 = 0; /* rounding */
  *var_mean = s2 / n;
}

static int64_t round_minor(long double x) { return (int64_t)llroundl(x); }

static bool arm_ok(const stats_arm_t *a) {
  return a->exposures >= 0 && a->conversions >= 0 && a->conversions <= a->exposures &&
         a->revenue >= 0 && a->revenue_sumsq >= 0 && a->discount_cost >= 0;
}

int stats_compare(const stats_arm_t *c, const stats_arm_t *t, stats_comparison_t *out) {
  *out = (stats_comparison_t){0};
  if (!arm_ok(c) || !arm_ok(t)) return PERR_INVALID_PARAMS;
  if (c->exposures == 0 || t->exposures == 0) return PERR_INSUFFICIENT_DATA;
  double nc = (double)c->exposures, nt = (double)t->exposures;
  double pc = (double)c->conversions / nc, pt = (double)t->conversions / nt;
  out->rate_control = pc;
  out->rate_treatment = pt;
  stats_effects(pc, pc * (1 - pc) / nc, pt, pt * (1 - pt) / nt, &out->conv_abs, &out->conv_rel);
  out->conv_chance_to_beat =
      stats_beta_chance_to_beat(1 + (double)c->conversions, 1 + nc - (double)c->conversions,
                                1 + (double)t->conversions, 1 + nt - (double)t->conversions);
  double mc, vc, mt, vt;
  revenue_moments(c, &mc, &vc);
  revenue_moments(t, &mt, &vt);
  out->rpe_control = mc;
  out->rpe_treatment = mt;
  stats_effects(mc, vc, mt, vt, &out->rpe_abs, &out->rpe_rel);
  out->rpe_chance_to_beat = vc + vt > 0 ? stats_normal_cdf((mt - mc) / sqrt(vc + vt))
                                        : (mt > mc ? 1 : mt < mc ? 0 : 0.5);
  long double expected = (long double)c->revenue * t->exposures / c->exposures;
  out->incremental_revenue = round_minor((long double)t->revenue - expected);
  out->incremental_lower = round_minor((long double)nt * out->rpe_abs.lower);
  out->incremental_upper = round_minor((long double)nt * out->rpe_abs.upper);
  long double added_cost =
      (long double)t->discount_cost - (long double)c->discount_cost * t->exposures / c->exposures;
  out->net_incremental = round_minor((long double)t->revenue - expected - added_cost);
  out->has_roi = added_cost > 0;
  if (out->has_roi)
    out->roi = (double)(((long double)t->revenue - expected - added_cost) / added_cost);
  return 0;
}

int stats_srm(const int64_t *observed, const double *weights, int k, double *chi2,
              double *p_value) {
  if (k < 2) return PERR_INVALID_PARAMS;
  double wsum = 0, n = 0;
  for (int i = 0; i < k; i++) {
    if (!(weights[i] > 0) || observed[i] < 0) return PERR_INVALID_PARAMS;
    wsum += weights[i];
    n += (double)observed[i];
  }
  if (n == 0) return PERR_INSUFFICIENT_DATA;
  double x2 = 0;
  for (int i = 0; i < k; i++) {
    double e = n * weights[i] / wsum, d = (double)observed[i] - e;
    x2 += d * d / e;
  }
  *chi2 = x2;
  *p_value = stats_chi2_sf(x2, k - 1);
  return 0;
}
