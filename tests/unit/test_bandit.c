/* test_bandit.c -- experiments/bandit.h: the gamma and Beta samplers reproduce SciPy's CDFs
 * (empirical CDF of 200 000 draws within 5 standard errors of scipy.stats.beta.cdf /
 * gamma.cdf, values precomputed with SciPy 1.10.1), Thompson picks match the independently
 * computed chance to beat (stats_beta_chance_to_beat), new arms are explored, and a seed
 * reproduces its draws. Seeds are fixed, so the test is deterministic. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "experiments/bandit.h"

#define DRAWS 200000

static void within(double got, double want, double se, const char *what) {
  if (fabs(got - want) > 5 * se) fail_msg("%s: got %.6f want %.6f (se %.6f)", what, got, want, se);
}

/* empirical CDF of `sample` at xs against the reference values */
static void check_cdf(double (*sample)(bandit_rng_t *, double, double), double a, double b,
                      const double xs[3], const double want[3], const char *what) {
  bandit_rng_t r;
  bandit_rng_seed(&r, 12345);
  int below[3] = {0};
  for (int i = 0; i < DRAWS; i++) {
    double x = sample(&r, a, b);
    for (int k = 0; k < 3; k++) below[k] += x <= xs[k];
  }
  for (int k = 0; k < 3; k++)
    within((double)below[k] / DRAWS, want[k], sqrt(want[k] * (1 - want[k]) / DRAWS), what);
}

static double beta_sample(bandit_rng_t *r, double a, double b) { return bandit_beta(r, a, b); }
static double gamma_sample(bandit_rng_t *r, double a, double b) {
  (void)b;
  return bandit_gamma(r, a);
}

static void test_samplers_match_scipy(void **st) {
  (void)st;
  /* scipy.stats.beta.cdf([0.1, 0.3, 0.5], 3, 7) */
  const double bx[] = {0.1, 0.3, 0.5}, bw[] = {0.052972138, 0.5371688339999998, 0.91015625};
  check_cdf(beta_sample, 3, 7, bx, bw, "Beta(3,7)");
  /* scipy.stats.beta.cdf([0.05, 0.5, 0.9], 0.5, 0.5): shapes below 1 take the boost path */
  const double hx[] = {0.05, 0.5, 0.9},
               hw[] = {0.14356629312870628, 0.5000000000000001, 0.7951672353008665};
  check_cdf(beta_sample, 0.5, 0.5, hx, hw, "Beta(.5,.5)");
  /* scipy.stats.gamma.cdf([1.0, 2.5, 5.0], 2.5) */
  const double gx[] = {1.0, 2.5, 5.0},
               gw[] = {0.15085496391539038, 0.584119813004492, 0.9247647538534878};
  check_cdf(gamma_sample, 2.5, 0, gx, gw, "Gamma(2.5)");
}

static void test_pick_matches_chance_to_beat(void **st) {
  (void)st;
  stats_arm_t arms[2] = {{.exposures = 1000, .conversions = 50},
                         {.exposures = 1000, .conversions = 62}};
  double p = stats_beta_chance_to_beat(51, 951, 63, 939); /* P(arm 1 > arm 0) */
  bandit_rng_t r;
  bandit_rng_seed(&r, 7);
  int n = 40000, ones = 0;
  for (int i = 0; i < n; i++) ones += bandit_pick(arms, 2, BANDIT_CONVERSION, &r) == 1;
  within((double)ones / n, p, sqrt(p * (1 - p) / n), "Thompson share");
  assert_int_equal(bandit_pick(arms, 0, BANDIT_CONVERSION, &r), -1);
}

static void test_revenue_explores_new_arms(void **st) {
  (void)st;
  /* 500 customers each, revenue mean 1000 vs 1200, standard deviation 500 */
  const double var = 250000;
  stats_arm_t arms[3] = {
      {.exposures = 500, .revenue = 500 * 1000, .revenue_sumsq = 500 * (1000.0 * 1000 + var)},
      {.exposures = 500, .revenue = 500 * 1200, .revenue_sumsq = 500 * (1200.0 * 1200 + var)},
      {.exposures = 0}};
  bandit_rng_t r;
  bandit_rng_seed(&r, 99);
  int picks[3] = {0};
  for (int i = 0; i < 5000; i++) picks[bandit_pick(arms, 3, BANDIT_REVENUE, &r)]++;
  assert_true(picks[2] > 100);         /* the new arm is drawn from the pooled prior */
  assert_true(picks[1] > 20 * picks[0] || picks[0] == 0); /* 1200 beats 1000 by 9 se */
}

static void test_seed_reproduces(void **st) {
  (void)st;
  bandit_rng_t a, b;
  bandit_rng_seed(&a, 42);
  bandit_rng_seed(&b, 42);
  for (int i = 0; i < 100; i++) assert_true(bandit_beta(&a, 2, 3) == bandit_beta(&b, 2, 3));
  bandit_rng_seed(&b, 43);
  assert_true(bandit_uniform(&a) != bandit_uniform(&b));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_samplers_match_scipy),
      cmocka_unit_test(test_pick_matches_chance_to_beat),
      cmocka_unit_test(test_revenue_explores_new_arms),
      cmocka_unit_test(test_seed_reproduces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
