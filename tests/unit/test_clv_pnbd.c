/* test_clv_pnbd.c -- Pareto/NBD against PUBLISHED figures on the CDNOW sample (tests/data/cdnow;
 * shared/data/cdnow/REFERENCE.md: Fader, Hardie & Lee 2005 and the BTYD walkthrough), the
 * Gauss 2F1 series against closed forms and an Euler integral, the per-customer likelihood and
 * P(alive) in BOTH branches of the BTYD formulation (alpha >= beta, alpha < beta) against an
 * independent 2-D integration over (lambda, mu), and Hessian standard errors against the
 * values lifetimes publishes for BG/NBD. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clv/clv.h"
#include "cdnow_data.h"

#define NCUST CDNOW_NCUST

static clv_summary_t g_sum[NCUST];
static size_t g_n;

static int load_summary(void **state) {
  (void)state;
  return cdnow_load_summary(g_sum, &g_n);
}

#define ASSERT_NEAR(v, ref, tol) \
  do { \
    double v_ = (v), r_ = (ref); \
    if (!(fabs(v_ - r_) <= (tol))) fail_msg("%s = %.9g, expected %.9g +- %g", #v, v_, r_, (double)(tol)); \
  } while (0)

/* ---- 2F1: closed forms (Abramowitz & Stegun 15.1.3-15.1.8) and the Euler integral */
static double euler_2f1(double a, double b, double z) {
  /* 2F1(a, b; a+1; z) = a int_0^1 t^(a-1) (1 - z t)^(-b) dt = 4 int_0^1 w^3 (1 - z w^(4/a))^(-b) dw
   * (t = w^(4/a), which makes the integrand smooth at 0); composite Simpson, 200,000 panels. */
  const int n = 200000;
  double s = 0;
  for (int i = 0; i <= n; i++) {
    const double w = (double)i / n, f = 4 * w * w * w * pow(1 - z * pow(w, 4 / a), -b);
    s += f * (i == 0 || i == n ? 1 : (i & 1 ? 4 : 2));
  }
  return s / (3.0 * n);
}

static void test_hyp2f1(void **state) {
  (void)state;
  int ok = 0;
  const double zs[] = {0.0, 0.1, 0.5, 0.9, 0.99};
  for (int i = 0; i < 5; i++) {
    const double z = zs[i];
    ASSERT_NEAR(clv_hyp2f1(1, 1, 2, z, &ok), z ? -log1p(-z) / z : 1.0, 1e-13);
    assert_true(ok);
    ASSERT_NEAR(clv_hyp2f1(2.5, 0.7, 0.7, z, &ok) / pow(1 - z, -2.5), 1, 1e-13);
    const double w = sqrt(z);
    ASSERT_NEAR(clv_hyp2f1(0.5, 0.5, 1.5, z, &ok), w ? asin(w) / w : 1.0, 1e-13);
    ASSERT_NEAR(clv_hyp2f1(0.5, 1, 1.5, z, &ok), w ? atanh(w) / w : 1.0, 1e-12);
  }
  /* the Pareto/NBD shape 2F1(c, b; c+1; z), both branches' b (s+1 and r+x) */
  const double cs[] = {1.159, 27.159, 3.5}, bs[] = {1.606, 26.553, 0.8}, zz[] = {0.09, 0.5, 0.95};
  for (int i = 0; i < 3; i++) {
    const double ref = euler_2f1(cs[i], bs[i], zz[i]);
    ASSERT_NEAR(clv_hyp2f1(cs[i], bs[i], cs[i] + 1, zz[i], &ok) / ref, 1, 1e-10);
    assert_true(ok);
  }
}

/* ---- independent integration of one customer's Pareto/NBD likelihood:
 * L(lambda, mu) = lambda^x [mu e^{-(lambda+mu) t_x} + lambda e^{-(lambda+mu) T}] / (lambda+mu),
 * lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta); trapezoid in (ln lambda, ln mu). Returns
 * the likelihood and the posterior P(alive): the share of lambda^x e^{-(lambda+mu)T} (x
 * purchases by t_x, none after, alive at T) in L. */
static void integrate(const double p[4], unsigned x, double t_x, double T, double *L,
                      double *palive) {
  const double r = p[0], al = p[1], s = p[2], be = p[3];
  const double lo = -30, hi = 6, h = 0.04;
  const int n = (int)((hi - lo) / h);
  double tot = 0, alive = 0;
  for (int i = 0; i <= n; i++) {
    const double u = lo + i * h, lam = exp(u);
    const double gl = r * log(al) + r * u - al * lam - lgamma(r);
    for (int j = 0; j <= n; j++) {
      const double v = lo + j * h, mu = exp(v);
      const double gm = s * log(be) + s * v - be * mu - lgamma(s);
      const double base = gl + gm + x * u - log(lam + mu);
      const double a1 = exp(base + v - (lam + mu) * t_x), a2 = exp(base + u - (lam + mu) * T);
      tot += a1 + a2;
      alive += exp(gl + gm + x * u - (lam + mu) * T);
    }
  }
  *L = tot * h * h;
  *palive = alive / tot;
}

static void test_pnbd_vs_integration(void **state) {
  (void)state;
  const double pars[2][4] = {{0.5534, 10.5802, 0.6061, 11.6562}, /* alpha < beta (CDNOW) */
                             {1.3, 14.0, 0.8, 3.5}};              /* alpha >= beta */
  const clv_summary_t rows[4] = {{0, 0, 38.86, 0}, {2, 30.43, 38.86, 0}, {7, 12.0, 39.0, 0},
                                 {26, 30.85714, 31, 0}};
  for (int k = 0; k < 2; k++) {
    clv_tx_model_t m;
    clv_tx_model_set(&m, CLV_KIND_PNBD, pars[k][0], pars[k][1], pars[k][2], pars[k][3],
                     CLV_SECONDS_PER_WEEK);
    assert_int_equal(m.status, CLV_OK);
    for (int i = 0; i < 4; i++) {
      double L, pa;
      integrate(pars[k], rows[i].x, rows[i].t_x, rows[i].T, &L, &pa);
      const double ll = clv_tx_loglik(CLV_KIND_PNBD, &rows[i], 1, pars[k], NULL);
      ASSERT_NEAR(ll - log(L), 0, 1e-6);
      ASSERT_NEAR(clv_p_alive(&m, rows[i].x, rows[i].t_x, rows[i].T), pa, 1e-6);
    }
  }
}

/* ---- the CDNOW fit: Fader, Hardie & Lee 2005 / BTYD */
static void test_pnbd_published(void **state) {
  (void)state;
  clv_tx_model_t m;
  clv_fit_opts_t fo = clv_fit_opts_default();
  fo.std_errors = 1;
  assert_int_equal(clv_tx_fit(CLV_KIND_PNBD, g_sum, g_n, CLV_SECONDS_PER_WEEK, &fo, &m), CLV_OK);
  assert_string_equal(clv_kind_name(m.kind), "pnbd");
  /* paper: r 0.553, alpha 10.58, s 0.606, beta 11.67, LL -9594.98 (BTYD -9594.976); beta is
   * flat in the likelihood (BTYD 11.656, lifetimes 11.669), so it gets 0.02 */
  printf("pnbd r=%.6f alpha=%.6f s=%.6f beta=%.6f ll=%.4f se=%g %g %g %g evals=%u\n", m.r,
         m.alpha, m.a, m.b, m.ll, m.se[0], m.se[1], m.se[2], m.se[3], m.iterations);
  ASSERT_NEAR(m.r, 0.553, 0.0006);
  ASSERT_NEAR(m.alpha, 10.58, 0.006);
  ASSERT_NEAR(m.a, 0.606, 0.0006);
  ASSERT_NEAR(m.b, 11.67, 0.02);
  ASSERT_NEAR(m.ll, -9594.98, 0.01);
  for (int k = 0; k < 4; k++) assert_true(m.se[k] > 0 && m.se[k] < (&m.r)[k]);
  /* BTYD: pnbd.Expectation(52) = 1.473434; customer 1516 E[X(52)] = 25.45647, P(alive) =
   * 0.997874 with BTYD's own fit (LL equal to ours within 0.01) */
  ASSERT_NEAR(clv_expected_purchases_new(&m, 52) / 1.473434, 1, 1e-3);
  ASSERT_NEAR(clv_expected_purchases(&m, 52, 26, 30.85714, 31) / 25.45647, 1, 1e-3);
  ASSERT_NEAR(clv_p_alive(&m, 26, 30.85714, 31), 0.997874, 1e-4);
}

/* BTYD walkthrough values with the walkthrough's printed parameters (4 decimals) */
static void test_pnbd_btyd_params(void **state) {
  (void)state;
  clv_tx_model_t m;
  clv_tx_model_set(&m, CLV_KIND_PNBD, 0.5534, 10.5802, 0.6061, 11.6562, CLV_SECONDS_PER_WEEK);
  /* lifetimes test: P(alive) 1516 = 0.9979 +- 0.001; E[X(52)] = 25.46 +- 0.01 */
  ASSERT_NEAR(clv_p_alive(&m, 26, 30.86, 31), 0.9979, 1e-3);
  ASSERT_NEAR(clv_expected_purchases(&m, 52, 26, 30.86, 31), 25.46, 0.01);
  /* E[X(t)], t = 0..9, as the lifetimes test quotes them ("same as R BTYD", atol 0.01) */
  const double ex[] = {0, 0.05077821, 0.09916088, 0.14542507, 0.18979930,
                       0.23247466, 0.27361274, 0.31335159, 0.35181024, 0.38909211};
  for (int t = 0; t < 10; t++) ASSERT_NEAR(clv_expected_purchases_new(&m, t), ex[t], 0.01);
  /* BTYD pnbd.Expectation(52) = 1.473434 (full-precision fit; the 4-decimal params move it 2.5e-4) */
  ASSERT_NEAR(clv_expected_purchases_new(&m, 52) / 1.473434, 1, 5e-4);
  /* the "increasing frequency paradox" (t_x = 20, T = 39, t = 52) */
  const double para[] = {0.7062289, 0.1442396, 0.02250658, 0.00309267};
  for (int i = 0; i < 4; i++)
    ASSERT_NEAR(clv_expected_purchases(&m, 52, 10 + 5 * i, 20, 39) / para[i], 1, 2e-3);
  assert_true(clv_p_alive(&m, 0, 0, 0) == 1.0);
  assert_true(clv_prob_purchases(&m, 10, 1) == 0.0); /* BG/NBD only */
}

/* Hessian standard errors: lifetimes docs bgf.summary on the same file (weeks) */
static void test_bgnbd_std_errors(void **state) {
  (void)state;
  clv_tx_model_t m;
  clv_fit_opts_t fo = clv_fit_opts_default();
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, g_sum, g_n, CLV_SECONDS_PER_WEEK, &fo, &m), CLV_OK);
  for (int k = 0; k < 4; k++) assert_true(m.se[k] == 0); /* not asked for */
  fo.std_errors = 1;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, g_sum, g_n, CLV_SECONDS_PER_WEEK, &fo, &m), CLV_OK);
  printf("bgnbd se=%g %g %g %g\n", m.se[0], m.se[1], m.se[2], m.se[3]);
  const double pub[] = {0.012557, 0.378221, 0.185719, 0.705345};
  for (int k = 0; k < 4; k++) ASSERT_NEAR(m.se[k] / pub[k], 1, 0.01);
}

/* The served-model rule: on CDNOW, BG/NBD (LL -9582.4) beats Pareto/NBD (LL -9595.0), as
 * Fader, Hardie & Lee report; AIC = 8 - 2 LL. */
static void test_select_rule(void **state) {
  (void)state;
  clv_tx_model_t m[3];
  for (int k = 0; k < 3; k++)
    clv_tx_fit((clv_kind_t)(k + 1), g_sum, g_n, CLV_SECONDS_PER_WEEK, NULL, &m[k]);
  printf("ll bgnbd %.4f mbgnbd %.4f pnbd %.4f\n", m[0].ll, m[1].ll, m[2].ll);
  ASSERT_NEAR(clv_tx_aic(&m[0]), 8 + 2 * 9582.4256, 0.01);
  const int best = clv_tx_select(m, 3);
  assert_true(best >= 0 && best < 2); /* not Pareto/NBD */
  for (int k = 0; k < 3; k++) assert_true(m[best].ll >= m[k].ll);
  m[best].status = CLV_NOT_CONVERGED;
  assert_int_not_equal(clv_tx_select(m, 3), best);
  memset(&m[1], 0, sizeof m[1]); /* zeroed = not fitted, though status 0 is CLV_OK */
  for (int k = 0; k < 3; k++)
    if (k != 1) m[k].status = CLV_NOT_FITTED;
  assert_int_equal(clv_tx_select(m, 3), -1);
  assert_int_equal(clv_model_rule_parse("auto"), CLV_MODEL_AUTO);
  assert_int_equal(clv_model_rule_parse("pnbd"), CLV_KIND_PNBD);
  assert_int_equal(clv_model_rule_parse("mbgnbd"), CLV_KIND_MBGNBD);
  assert_int_equal(clv_model_rule_parse("bgnbd"), CLV_KIND_BGNBD);
  assert_int_equal(clv_model_rule_parse("nbd"), -1);
  assert_string_equal(clv_model_rule_name(CLV_KIND_PNBD), "pnbd");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hyp2f1),
      cmocka_unit_test(test_pnbd_vs_integration),
      cmocka_unit_test(test_pnbd_published),
      cmocka_unit_test(test_pnbd_btyd_params),
      cmocka_unit_test(test_bgnbd_std_errors),
      cmocka_unit_test(test_select_rule),
  };
  return cmocka_run_group_tests(tests, load_summary, NULL);
}
