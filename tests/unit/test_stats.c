/* test_stats.c -- experiments/stats.h against figures computed independently with SciPy
 * 1.10.1 (Debian python3-scipy) once; each block gives the exact expression that produced
 * its numbers (the full script is in docs/EXPERIMENTS.md, "Checking the statistics").
 * Every comparison is to 1e-6 relative. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/perr.h"
#include "experiments/stats.h"

static void rel(double got, double want, const char *what) {
  double tol = 1e-6 * fabs(want);
  if (!(fabs(got - want) <= tol) && !(want == 0 && fabs(got) < 1e-12))
    fail_msg("%s: got %.15g want %.15g", what, got, want);
}

static void test_normal_cdf(void **st) {
  (void)st;
  /* [scipy.stats.norm.cdf(x) for x in (-3.5, -1.0, 0.0, 0.5, 1.959963984540054, 4.0)] */
  static const double x[] = {-3.5, -1.0, 0.0, 0.5, 1.959963984540054, 4.0};
  static const double want[] = {0.00023262907903552502, 0.15865525393145707, 0.5,
                                0.6914624612740131, 0.975, 0.9999683287581669};
  for (size_t i = 0; i < 6; i++) rel(stats_normal_cdf(x[i]), want[i], "norm.cdf");
}

static void test_incomplete_gamma(void **st) {
  (void)st;
  /* [scipy.special.gammaincc(a, x) for a, x in ((0.5,0.1), (1.0,2.0), (2.5,1.0), (10,15),
   *  (50,30), (0.5,40), (100,100))] */
  static const double ax[][2] = {{0.5, 0.1}, {1.0, 2.0}, {2.5, 1.0}, {10, 15},
                                 {50, 30},   {0.5, 40},  {100, 100}};
  static const double want[] = {0.6547208460185768, 0.1353352832366127, 0.8491450360846096,
                                0.06985366069940986, 0.999481108537452, 3.744097384202887e-19,
                                0.48670120172085135};
  for (size_t i = 0; i < 7; i++) rel(stats_gamma_q(ax[i][0], ax[i][1]), want[i], "gammaincc");
  assert_true(isnan(stats_gamma_q(0, 1)));
  rel(stats_gamma_q(3, 0), 1, "Q(a,0)");
}

static void test_chi2_sf(void **st) {
  (void)st;
  /* [scipy.stats.chi2.sf(x, df) for x, df in ((3.84,1), (0.5,1), (10.0,3), (1.0,4), (60.0,2),
   *  (250.0,200), (1e-3,1))] */
  static const double xd[][2] = {{3.84, 1}, {0.5, 1}, {10.0, 3}, {1.0, 4},
                                 {60.0, 2}, {250.0, 200}, {1e-3, 1}};
  static const double want[] = {0.05004352124870519, 0.47950012218695337, 0.01856613546304325,
                                0.9097959895689501,  9.357622968840163e-14, 0.009379131668826098,
                                0.9747728793699604};
  for (size_t i = 0; i < 7; i++) rel(stats_chi2_sf(xd[i][0], xd[i][1]), want[i], "chi2.sf");
}

static void test_srm(void **st) {
  (void)st;
  double chi2, p;
  /* scipy.stats.chisquare([5120, 4880]) -> statistic 5.76, pvalue 0.01639507184919225 */
  const int64_t o2[] = {5120, 4880};
  const double w2[] = {0.5, 0.5};
  assert_int_equal(stats_srm(o2, w2, 2, &chi2, &p), 0);
  rel(chi2, 5.76, "chi2");
  rel(p, 0.01639507184919225, "p");
  /* scipy.stats.chisquare([1000, 1050, 950]) -> 5.0, 0.0820849986238988 (weights need not
   * sum to 1) */
  const int64_t o3[] = {1000, 1050, 950};
  const double w3[] = {1, 1, 1};
  assert_int_equal(stats_srm(o3, w3, 3, &chi2, &p), 0);
  rel(chi2, 5.0, "chi2");
  rel(p, 0.0820849986238988, "p");
  /* scipy.stats.chisquare([4900, 5100, 10210], [20210*0.25, 20210*0.25, 20210*0.5])
   *   -> 6.1405244928253335, 0.046408982672223785 */
  const int64_t o4[] = {4900, 5100, 10210};
  const double w4[] = {0.25, 0.25, 0.5};
  assert_int_equal(stats_srm(o4, w4, 3, &chi2, &p), 0);
  rel(chi2, 6.1405244928253335, "chi2");
  rel(p, 0.046408982672223785, "p");
  const int64_t zero[] = {0, 0};
  assert_int_equal(stats_srm(zero, w2, 2, &chi2, &p), PERR_INSUFFICIENT_DATA);
  const double bad[] = {0.5, 0};
  assert_int_equal(stats_srm(o2, bad, 2, &chi2, &p), PERR_INVALID_PARAMS);
  assert_int_equal(stats_srm(o2, w2, 1, &chi2, &p), PERR_INVALID_PARAMS);
}

static void test_beta_chance_to_beat(void **st) {
  (void)st;
  /* P(X_t > X_c) by numerical integration, independent of the closed form:
   *   g = lambda x: beta.pdf(x, at, bt) * beta.cdf(x, ac, bc)
   *   scipy.integrate.quad(g, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=1000)
   * with lo/hi the 1e-15 tail quantiles (beta.ppf / beta.isf) of both posteriors. */
  static const double args[][4] = {{4, 8, 6, 6},
                                   {41, 961, 31, 971},
                                   {12001, 88001, 12301, 87701}};
  static const double want[] = {0.806501547987615, 0.11333345447695492, 0.979976085460074};
  for (size_t i = 0; i < 3; i++)
    rel(stats_beta_chance_to_beat(args[i][0], args[i][1], args[i][2], args[i][3]), want[i],
        "beta chance");
  /* symmetric: swapping arms gives the complement */
  rel(stats_beta_chance_to_beat(6, 6, 4, 8), 1 - 0.806501547987615, "complement");
  /* beyond STATS_BETA_EXACT_MAX: the normal approximation, checked against the same formula
   * in scipy: norm.cdf((mt-mc)/sqrt(vc+vt)) with Beta means/variances -> 0.9742992781219824;
   * the integral above gives 0.9742986259555815 (approximation error 7e-7) */
  double approx = stats_beta_chance_to_beat(30001, 70001, 30401, 69601);
  rel(approx, 0.9742992781219824, "beta normal approx");
  assert_true(fabs(approx - 0.9742986259555815) < 1e-6);
}

/* Two arms built from per-customer revenue (the same generator in the scipy script):
 * control 2000 exposed, customers 0..99 convert with revenue 1500 + (37 i mod 1000);
 * treatment 2000 exposed, customers 0..129 convert with 1400 + (53 i mod 1200), discount
 * cost 26000 in the treatment, 0 in the control. */
static void add_converters(stats_arm_t *a, int count, int64_t base, int64_t step, int64_t mod) {
  for (int64_t i = 0; i < count; i++) {
    int64_t r = base + (i * step) % mod;
    a->revenue += r;
    a->revenue_sumsq += (double)(r * r);
  }
}

static void make_arms(stats_arm_t *c, stats_arm_t *t) {
  *c = (stats_arm_t){.exposures = 2000, .conversions = 100};
  *t = (stats_arm_t){.exposures = 2000, .conversions = 130, .discount_cost = 26000};
  add_converters(c, 100, 1500, 37, 1000);
  add_converters(t, 130, 1400, 53, 1200);
}

static void effect_is(const stats_effect_t *e, const double want[5], const char *what) {
  assert_true(e->valid);
  rel(e->estimate, want[0], what);
  rel(e->se, want[1], what);
  rel(e->lower, want[2], what);
  rel(e->upper, want[3], what);
  rel(e->p_value, want[4], what);
}

static void test_compare(void **st) {
  (void)st;
  stats_arm_t c, t;
  make_arms(&c, &t);
  assert_int_equal(c.revenue, 198150); /* sums as printed by the script */
  assert_int_equal(t.revenue, 256805);
  stats_comparison_t r;
  assert_int_equal(stats_compare(&c, &t, &r), 0);
  rel(r.rate_control, 0.05, "pc");
  rel(r.rate_treatment, 0.065, "pt");
  /* conversion, z = scipy.stats.norm.ppf(0.975), vp = p(1-p)/n:
   *   d = pt-pc; se = sqrt(vpc+vpt); (d, se, d-z*se, d+z*se, 2*norm.sf(abs(d)/se)) */
  const double conv_abs[] = {0.015, 0.007357818970319941, 0.0005789398134073299,
                             0.02942106018659267, 0.04148521074738214};
  effect_is(&r.conv_abs, conv_abs, "conv_abs");
  /*   r = pt/pc-1; se = sqrt((pt/pc)**2*(vpt/pt**2+vpc/pc**2)); same five */
  const double conv_rel[] = {0.30000000000000004, 0.16795832816505407, -0.02919227410706532,
                             0.6291922741070655, 0.0740737867936222};
  effect_is(&r.conv_rel, conv_rel, "conv_rel");
  /* chance to beat: the quad integral above with Beta(1+c, 1+n-c) */
  rel(r.conv_chance_to_beat, 0.9790979131578378, "conv ctb");
  /* revenue per exposed: statistics.fmean(xs), statistics.variance(xs)/n over the 2000
   * per-customer revenues (zeros for non-converters), then the same formulas */
  rel(r.rpe_control, 99.075, "rpe c");
  rel(r.rpe_treatment, 128.4025, "rpe t");
  const double rpe_abs[] = {29.3275, 14.756050130102434, 0.40617319093164994,
                            58.24882680906835, 0.04686813853874805};
  effect_is(&r.rpe_abs, rpe_abs, "rpe_abs");
  const double rpe_rel[] = {0.29601312137269753, 0.1696519350564231, -0.03649856124541995,
                            0.628524803990815, 0.08101514704914342};
  effect_is(&r.rpe_rel, rpe_rel, "rpe_rel");
  /* norm.cdf(d/se) */
  rel(r.rpe_chance_to_beat, 0.976565930730626, "rpe ctb");
  /* inc = Rt - nt*Rc/nc = 58655; round(nt*(d -+ z*se)) = 812, 116498;
   * net = inc - (Dt - nt*Dc/nc) = 32655; roi = net/26000 = 1.2559615384615384 */
  assert_int_equal(r.incremental_revenue, 58655);
  assert_int_equal(r.incremental_lower, 812);
  assert_int_equal(r.incremental_upper, 116498);
  assert_int_equal(r.net_incremental, 32655);
  assert_true(r.has_roi);
  rel(r.roi, 1.2559615384615384, "roi");
}

static void test_compare_edges(void **st) {
  (void)st;
  stats_arm_t c = {.exposures = 100}, t = {.exposures = 100, .conversions = 3, .revenue = 300,
                                           .revenue_sumsq = 30000};
  stats_comparison_t r;
  assert_int_equal(stats_compare(&c, &t, &r), 0);
  assert_false(r.conv_rel.valid); /* zero baseline: relative effect undefined */
  assert_false(r.rpe_rel.valid);
  assert_false(r.has_roi); /* no discount given: no ROI */
  assert_true(r.conv_abs.valid);
  stats_arm_t empty = {0};
  assert_int_equal(stats_compare(&empty, &t, &r), PERR_INSUFFICIENT_DATA);
  stats_arm_t bad = {.exposures = 5, .conversions = 6};
  assert_int_equal(stats_compare(&bad, &t, &r), PERR_INVALID_PARAMS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normal_cdf),  cmocka_unit_test(test_incomplete_gamma),
      cmocka_unit_test(test_chi2_sf),     cmocka_unit_test(test_srm),
      cmocka_unit_test(test_beta_chance_to_beat), cmocka_unit_test(test_compare),
      cmocka_unit_test(test_compare_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
