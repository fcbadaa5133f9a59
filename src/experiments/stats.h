/* stats.h -- experiment statistics for experiments.report: one treatment arm against its
 * control (the holdout), and a sample-ratio-mismatch check over all arms.
 * Invariants: pure functions, no allocation, thread-safe; money in and out is int64 minor
 * units (one currency per call: the caller groups by currency); statistics are doubles.
 *
 * Per arm: n = exposed customers, c = converted customers, R = revenue attributed to them
 * (minor units), Q = sum over exposed customers of revenue^2 (for the variance), D = discount
 * cost given away in the arm (minor units). z = 1.959963984540054 (the 97.5% normal quantile),
 * Phi = standard normal CDF.
 *
 * Conversion (frequentist): p = c/n, Var(p) = p(1-p)/n.
 *   absolute effect  d = p_t - p_c,  se = sqrt(Var(p_t) + Var(p_c)),  95% CI d +- z se,
 *                    two-sided p-value 2 (1 - Phi(|d| / se)).
 *   relative effect  r = p_t/p_c - 1; delta method for the ratio of two independent means:
 *                    Var(p_t/p_c) ~= (p_t/p_c)^2 (Var(p_t)/p_t^2 + Var(p_c)/p_c^2)
 *                    = Var(p_t)/p_c^2 + p_t^2 Var(p_c)/p_c^4;  95% CI r +- z sqrt(Var).
 *                    Undefined (valid = false) when p_c = 0.
 * Revenue per exposed customer: m = R/n, s^2 = (Q - n m^2)/(n - 1) (sample variance, 0 when
 * n = 1), Var(m) = s^2/n; absolute and relative effects exactly as above with m for p and
 * Var(m) for Var(p).
 * Bayesian chance to beat control:
 *   conversion: posteriors Beta(1 + c, 1 + n - c) (uniform prior); P(p_t > p_c) computed
 *     exactly (Evan Miller's closed form, a finite sum over the smaller integer alpha:
 *     P(X_B > X_A) = sum_{i=0}^{a_B-1} B(a_A+i, b_A+b_B) / ((b_B+i) B(1+i, b_B) B(a_A, b_A)));
 *     when both alphas exceed STATS_BETA_EXACT_MAX the posteriors are replaced by normals with
 *     the Beta means and variances: Phi((mu_t - mu_c) / sqrt(v_t + v_c)).
 *   revenue per exposed: normal approximation of the posterior of each mean (flat prior):
 *     Phi((m_t - m_c) / sqrt(Var(m_t) + Var(m_c))).
 * Incremental revenue (minor units, rounded half away from zero):
 *   inc = R_t - n_t R_c / n_c (the treatment's revenue minus what it would have made at the
 *   control's revenue per exposed customer); 95% CI n_t * (CI of m_t - m_c).
 *   net = inc - D_t + n_t D_c / n_c (added revenue minus the added discount cost);
 *   ROI = net / (D_t - n_t D_c / n_c) when that added cost is > 0 (else has_roi = false).
 * Sample-ratio mismatch: Pearson chi-square of the exposures against the planned weights,
 *   X^2 = sum (o_i - e_i)^2 / e_i with e_i = N w_i / sum(w), df = k - 1,
 *   p = Q(df/2, X^2/2) (the chi-square survival function, Q = regularized upper incomplete
 *   gamma). A p-value below 0.001 flags a broken assignment (GrowthBook's default threshold). */
#ifndef PATRON_STATS_H
#define PATRON_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define STATS_Z975 1.959963984540054
#define STATS_BETA_EXACT_MAX 20000
#define STATS_SRM_THRESHOLD 0.001

typedef struct stats_arm_s {
  int64_t exposures;    /* customers exposed */
  int64_t conversions;  /* of them, customers who converted (0..exposures) */
  int64_t revenue;      /* minor units attributed to the exposed customers */
  double revenue_sumsq; /* sum of per-customer revenue^2 (minor units^2) */
  int64_t discount_cost; /* minor units given away in this arm */
} stats_arm_t;

typedef struct stats_effect_s {
  bool valid;         /* false when undefined (e.g. relative effect over a zero baseline) */
  double estimate, se, lower, upper, p_value;
} stats_effect_t;

typedef struct stats_comparison_s {
  double rate_control, rate_treatment;     /* conversion rates */
  stats_effect_t conv_abs, conv_rel;
  double conv_chance_to_beat;
  double rpe_control, rpe_treatment;       /* revenue per exposed, minor units */
  stats_effect_t rpe_abs, rpe_rel;
  double rpe_chance_to_beat;
  int64_t incremental_revenue, incremental_lower, incremental_upper; /* minor units */
  int64_t net_incremental;                 /* minor units */
  bool has_roi;
  double roi;
} stats_comparison_t;

/* Compare treatment with control. Returns 0, or PERR_INSUFFICIENT_DATA when an arm has no
 * exposures, PERR_INVALID_PARAMS when counts are inconsistent (conversions > exposures,
 * negative values). */
int stats_compare(const stats_arm_t *control, const stats_arm_t *treatment,
                  stats_comparison_t *out);

/* Sample-ratio mismatch over k arms (observed exposures, planned weights > 0).
 * Returns 0 and sets chi2 and p_value, or PERR_INVALID_PARAMS (k < 2, bad weights) /
 * PERR_INSUFFICIENT_DATA (no exposures). */
int stats_srm(const int64_t *observed, const double *weights, int k, double *chi2,
              double *p_value);

/* Building blocks, exposed for tests and reuse. */
double stats_normal_cdf(double x);
/* Regularized upper incomplete gamma Q(a, x), a > 0, x >= 0. */
double stats_gamma_q(double a, double x);
/* Chi-square survival function P(X > x) with df degrees of freedom. */
double stats_chi2_sf(double x, double df);
/* P(X_t > X_c) for X_c ~ Beta(a_c, b_c), X_t ~ Beta(a_t, b_t); integer-valued alphas use
 * the exact sum (see above). */
double stats_beta_chance_to_beat(double a_c, double b_c, double a_t, double b_t);
/* Effect of treatment over control given two means and the variances of those means. */
void stats_effects(double mean_c, double var_c, double mean_t, double var_t,
                   stats_effect_t *abs_out, stats_effect_t *rel_out);

#endif
