/* test_clv_degenerate.c -- CLV contracts other than published accuracy: degenerate data gives
 * insufficient_data with a reason (never NaN, never a crash), invalid rows are rejected, the
 * summary builder's conventions, byte-wise persistence of the POD models, grouping
 * invariance, analytic vs numeric gradients, thread safety, and the bulk plan vs the exact
 * single-customer formulas. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clv/clv.h"

#define SUMMARY_CSV PATRON_TEST_DATA "/cdnow/cdnow_customers_summary_with_transactions.csv"
#define NCUST 2357
static clv_summary_t g_sum[NCUST];

static int load(void **st) {
  (void)st;
  FILE *f = fopen(SUMMARY_CSV, "r");
  if (!f) return -1;
  char line[256];
  int id, n = 0;
  unsigned x;
  double a, b, c;
  if (!fgets(line, sizeof line, f)) { fclose(f); return -1; }
  while (n < NCUST && fscanf(f, "%d,%u,%lf,%lf,%lf", &id, &x, &a, &b, &c) == 5) {
    g_sum[n].x = x; g_sum[n].t_x = a; g_sum[n].T = b; g_sum[n].mean_spend = c;
    n++;
  }
  fclose(f);
  return n == NCUST ? 0 : -1;
}

static void assert_clean_failure(const clv_tx_model_t *m, int status) {
  assert_int_equal(m->status, status);
  assert_true(strlen(m->reason) > 0);
  assert_int_equal(m->version, CLV_MODEL_VERSION);
  assert_true(m->r == 0 && m->alpha == 0 && m->a == 0 && m->b == 0 && m->ll == 0);
  /* predictions on a failed model: 0, never NaN */
  assert_true(clv_p_alive(m, 3, 2, 5) == 0.0);
  assert_true(clv_expected_purchases(m, 10, 3, 2, 5) == 0.0);
  clv_summary_t s = {3, 2, 5, 10};
  assert_true(clv_value(m, NULL, NULL, &s) == 0.0);
}

static void test_no_repeat_buyers(void **st) {
  (void)st;
  clv_summary_t s[50];
  for (int i = 0; i < 50; i++) s[i] = (clv_summary_t){0, 0, 10.0 + i, 0};
  clv_tx_model_t m;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, 50, 0, NULL, &m), CLV_INSUFFICIENT_DATA);
  assert_clean_failure(&m, CLV_INSUFFICIENT_DATA);
  assert_non_null(strstr(m.reason, "repeat"));
  assert_int_equal(clv_tx_fit(CLV_KIND_MBGNBD, s, 50, 0, NULL, &m), CLV_INSUFFICIENT_DATA);
  clv_spend_model_t g;
  assert_int_equal(clv_spend_fit(s, 50, NULL, &g), CLV_INSUFFICIENT_DATA);
  assert_true(strlen(g.reason) > 0);
  assert_true(clv_expected_spend(&g, 2, 10) == 0.0);
}

static void test_one_customer(void **st) {
  (void)st;
  clv_summary_t s = {5, 20, 30, 12.5};
  clv_tx_model_t m;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, &s, 1, 0, NULL, &m), CLV_INSUFFICIENT_DATA);
  assert_clean_failure(&m, CLV_INSUFFICIENT_DATA);
  assert_non_null(strstr(m.reason, "customers"));
  clv_spend_model_t g;
  assert_int_equal(clv_spend_fit(&s, 1, NULL, &g), CLV_INSUFFICIENT_DATA);
  /* and zero customers */
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, NULL, 0, 0, NULL, &m), CLV_INSUFFICIENT_DATA);
  assert_int_equal(clv_spend_fit(NULL, 0, NULL, &g), CLV_INSUFFICIENT_DATA);
  /* even when the minimum is lowered, one customer cannot identify four parameters */
  clv_fit_opts_t o = clv_fit_opts_default();
  o.min_customers = 1;
  o.min_repeat = 1;
  int rc = clv_tx_fit(CLV_KIND_BGNBD, &s, 1, 0, &o, &m);
  assert_true(rc == CLV_NOT_CONVERGED || rc == CLV_OK);
  assert_true(isfinite(m.r) && isfinite(m.ll) && isfinite(m.alpha));
}

static void test_all_orders_one_day(void **st) {
  (void)st;
  /* 40 customers, 3 orders each, all on 2024-03-05; observation ends that evening */
  const int64_t day = 1709596800; /* 2024-03-05T00:00:00Z */
  clv_summary_opts_t o = clv_summary_opts_default(day + 23 * 3600);
  clv_summary_t s[40];
  for (int i = 0; i < 40; i++) {
    clv_txn_t t[3] = {{day + 600 + i, 1000}, {day + 7200 + i, 2500}, {day + 80000, 300}};
    assert_int_equal(clv_summarize(t, 3, &o, &s[i]), CLV_OK);
    assert_int_equal(s[i].x, 0);
    assert_true(s[i].T == 0 && s[i].t_x == 0 && s[i].mean_spend == 0);
  }
  clv_tx_model_t m;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, 40, CLV_SECONDS_PER_WEEK, NULL, &m),
                   CLV_INSUFFICIENT_DATA);
  assert_clean_failure(&m, CLV_INSUFFICIENT_DATA);
  /* without day merging the same log has repeats but no elapsed time at all */
  o.merge_same_day = 0;
  o.end_ts = day + 600; /* everything after is outside the window */
  for (int i = 0; i < 40; i++) s[i] = (clv_summary_t){2, 0, 0, 5};
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, 40, 0, NULL, &m), CLV_INSUFFICIENT_DATA);
  assert_non_null(strstr(m.reason, "time"));
}

static void test_zero_and_constant_spend(void **st) {
  (void)st;
  clv_summary_t s[NCUST];
  memcpy(s, g_sum, sizeof s);
  for (int i = 0; i < NCUST; i++) s[i].mean_spend = 0;
  clv_spend_model_t g;
  assert_int_equal(clv_spend_fit(s, NCUST, NULL, &g), CLV_INSUFFICIENT_DATA);
  assert_non_null(strstr(g.reason, "spend"));
  assert_true(g.p == 0 && g.q == 0 && g.gamma == 0 && g.mean_spend == 0);
  /* BG/NBD does not care about spend; CLV with a failed spend model is 0, not NaN */
  clv_tx_model_t m;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, NCUST, CLV_SECONDS_PER_WEEK, NULL, &m), CLV_OK);
  assert_true(clv_value(&m, &g, NULL, &s[0]) == 0.0);
  /* every repeat customer spends exactly the same: p, q would run to infinity */
  for (int i = 0; i < NCUST; i++) s[i].mean_spend = s[i].x ? 20.0 : 0.0;
  assert_int_equal(clv_spend_fit(s, NCUST, NULL, &g), CLV_INSUFFICIENT_DATA);
  assert_true(strlen(g.reason) > 0);
  /* negative or NaN spend: invalid */
  s[5].mean_spend = -1;
  assert_int_equal(clv_spend_fit(s, NCUST, NULL, &g), CLV_INVALID_INPUT);
}

static void test_invalid_rows(void **st) {
  (void)st;
  clv_summary_t s[NCUST];
  memcpy(s, g_sum, sizeof s);
  clv_tx_model_t m;
  s[7].t_x = s[7].T + 1; /* t_x > T */
  s[7].x = 2;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, NCUST, 0, NULL, &m), CLV_INVALID_INPUT);
  assert_non_null(strstr(m.reason, "row 7"));
  memcpy(s, g_sum, sizeof s);
  s[9].T = NAN;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, NCUST, 0, NULL, &m), CLV_INVALID_INPUT);
  assert_int_equal(clv_tx_fit((clv_kind_t)9, g_sum, NCUST, 0, NULL, &m), CLV_INVALID_INPUT);
  /* prediction arguments out of domain */
  clv_tx_model_t ok;
  clv_tx_model_set(&ok, CLV_KIND_BGNBD, 0.243, 4.414, 0.793, 2.426, CLV_SECONDS_PER_WEEK);
  assert_true(clv_p_alive(&ok, 2, NAN, 3) == 0.0);
  assert_true(clv_expected_purchases(&ok, -1, 2, 1, 3) == 0.0);
  clv_tx_model_set(&ok, CLV_KIND_BGNBD, -1, 4.414, 0.793, 2.426, 0);
  assert_int_equal(ok.status, CLV_INVALID_INPUT);
  clv_tx_model_t zero;
  memset(&zero, 0, sizeof zero);
  assert_true(clv_p_alive(&zero, 1, 1, 2) == 0.0);
  assert_string_equal(clv_status_name(CLV_INSUFFICIENT_DATA), "insufficient_data");
}

static void test_summary_conventions(void **st) {
  (void)st;
  const int64_t d0 = 1704067200; /* 2024-01-01T00:00:00Z */
  clv_summary_opts_t o = clv_summary_opts_default(d0 + 28 * 86400 + 5);
  clv_summary_t s;
  /* first day has two rows (first transaction, excluded from mean spend); day 7 has two rows
   * (one repeat transaction, amounts summed); day 14 one row; day 40 is after the end */
  clv_txn_t t[] = {{d0 + 100, 500},          {d0 + 200, 700},          {d0 + 7 * 86400 + 1, 1000},
                   {d0 + 7 * 86400 + 9, 2000}, {d0 + 14 * 86400 + 50, 1500}, {d0 + 40 * 86400, 99999}};
  assert_int_equal(clv_summarize(t, 6, &o, &s), CLV_OK);
  assert_int_equal(s.x, 2);
  assert_true(fabs(s.t_x - 2.0) < 1e-12 && fabs(s.T - 4.0) < 1e-12);
  assert_true(fabs(s.mean_spend - 2250.0) < 1e-9); /* (3000 + 1500) / 2 */
  /* unit = days */
  o.unit_s = CLV_SECONDS_PER_DAY;
  assert_int_equal(clv_summarize(t, 6, &o, &s), CLV_OK);
  assert_true(fabs(s.t_x - 14.0) < 1e-12 && fabs(s.T - 28.0) < 1e-12);
  /* no merging: raw seconds, every row a transaction */
  o.merge_same_day = 0;
  assert_int_equal(clv_summarize(t, 6, &o, &s), CLV_OK);
  assert_int_equal(s.x, 4);
  /* day offset: UTC+2 moves a 23:30Z order into the next local day */
  clv_summary_opts_t oz = clv_summary_opts_default(d0 + 10 * 86400);
  clv_txn_t late[] = {{d0 + 23 * 3600 + 1800, 100}, {d0 + 86400 + 3600, 100}};
  assert_int_equal(clv_summarize(late, 2, &oz, &s), CLV_OK);
  assert_int_equal(s.x, 1);
  oz.day_offset_s = 2 * 3600;
  assert_int_equal(clv_summarize(late, 2, &oz, &s), CLV_OK);
  assert_int_equal(s.x, 0);
  /* errors */
  clv_txn_t uns[] = {{d0 + 500, 1}, {d0 + 100, 1}};
  assert_int_equal(clv_summarize(uns, 2, &oz, &s), CLV_INVALID_INPUT);
  assert_int_equal(clv_summarize_unsorted(uns, 2, &oz, &s), CLV_OK);
  assert_int_equal(clv_summarize(NULL, 0, &oz, &s), CLV_INSUFFICIENT_DATA);
  clv_summary_opts_t early = clv_summary_opts_default(d0 - 86400);
  assert_int_equal(clv_summarize(t, 6, &early, &s), CLV_INSUFFICIENT_DATA);
  early.unit_s = 0;
  assert_int_equal(clv_summarize(t, 6, &early, &s), CLV_INVALID_INPUT);
}

static void test_pod_persistence_and_grouping(void **st) {
  (void)st;
  clv_tx_model_t m, back;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, g_sum, NCUST, CLV_SECONDS_PER_WEEK, NULL, &m), CLV_OK);
  unsigned char buf[sizeof m];
  memcpy(buf, &m, sizeof m);
  memcpy(&back, buf, sizeof back);
  assert_int_equal(back.version, CLV_MODEL_VERSION);
  assert_true(clv_p_alive(&back, 26, 30.85714, 31) == clv_p_alive(&m, 26, 30.85714, 31));
  /* each customer three times: same parameters, LL x3, same number of distinct rows */
  static clv_summary_t tri[3 * NCUST];
  for (int k = 0; k < 3; k++) memcpy(tri + k * NCUST, g_sum, sizeof g_sum);
  clv_tx_model_t m3;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, tri, 3 * NCUST, CLV_SECONDS_PER_WEEK, NULL, &m3), CLV_OK);
  assert_int_equal(m3.n_distinct, m.n_distinct);
  assert_true(fabs(m3.r / m.r - 1) < 1e-6 && fabs(m3.b / m.b - 1) < 1e-6);
  assert_true(fabs(m3.ll / (3 * m.ll) - 1) < 1e-10);
}

static void test_gradient_matches_numeric(void **st) {
  (void)st;
  const double par[4] = {0.4, 3.0, 1.2, 2.0};
  for (int kind = CLV_KIND_BGNBD; kind <= CLV_KIND_MBGNBD; kind++) {
    double g[4];
    double ll = clv_tx_loglik((clv_kind_t)kind, g_sum, NCUST, par, g);
    assert_true(isfinite(ll));
    for (int k = 0; k < 4; k++) {
      double p1[4], p2[4], h = 1e-6 * par[k];
      memcpy(p1, par, sizeof p1);
      memcpy(p2, par, sizeof p2);
      p1[k] += h;
      p2[k] -= h;
      double num = (clv_tx_loglik((clv_kind_t)kind, g_sum, NCUST, p1, NULL) -
                    clv_tx_loglik((clv_kind_t)kind, g_sum, NCUST, p2, NULL)) / (2 * h);
      if (fabs(num - g[k]) > 1e-5 * (fabs(num) + 1))
        fail_msg("kind %d d/dpar[%d]: analytic %.9g numeric %.9g", kind, k, g[k], num);
    }
  }
}

typedef struct { clv_tx_model_t m; clv_spend_model_t g; } fit_out_t;
static void *fit_thread(void *p) {
  fit_out_t *o = p;
  clv_tx_fit(CLV_KIND_BGNBD, g_sum, NCUST, CLV_SECONDS_PER_WEEK, NULL, &o->m);
  clv_spend_fit(g_sum, NCUST, NULL, &o->g);
  return NULL;
}

static void test_concurrent_fits(void **st) {
  (void)st;
  fit_out_t a, b, seq;
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, fit_thread, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, fit_thread, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  fit_thread(&seq);
  assert_true(a.m.r == seq.m.r && b.m.r == seq.m.r && a.m.ll == seq.m.ll && b.g.p == seq.g.p);
}

static void test_plan_matches_exact(void **st) {
  (void)st;
  clv_tx_model_t m;
  clv_spend_model_t g;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, g_sum, NCUST, CLV_SECONDS_PER_WEEK, NULL, &m), CLV_OK);
  assert_int_equal(clv_spend_fit(g_sum, NCUST, NULL, &g), CLV_OK);
  clv_value_opts_t vo = clv_value_opts_default();
  const double hz[3] = {30 / 7.0, 90 / 7.0, 365 / 7.0};
  uint32_t xmax = 0;
  for (int i = 0; i < NCUST; i++) xmax = g_sum[i].x > xmax ? g_sum[i].x : xmax;
  /* T range deliberately short: customers with T > 35 take the exact path */
  clv_plan_t *p = clv_plan_new(&m, &g, &vo, hz, 3, 35.0, xmax - 1);
  assert_non_null(p);
  static clv_score_t s1[NCUST], s2[NCUST];
  assert_int_equal(clv_score_many(p, g_sum, NCUST, 1, s1), CLV_OK);
  assert_int_equal(clv_score_many(p, g_sum, NCUST, 2, s2), CLV_OK);
  assert_memory_equal(s1, s2, sizeof s1);
  for (int i = 0; i < NCUST; i++) {
    const clv_summary_t *c = &g_sum[i];
    double pa = clv_p_alive(&m, c->x, c->t_x, c->T), v = clv_value(&m, &g, &vo, c);
    assert_true(fabs(s1[i].p_alive - pa) <= 1e-12);
    assert_true(fabs(s1[i].clv - v) <= 1e-9 * v + 1e-12);
    for (int j = 0; j < 3; j++) {
      double e = clv_expected_purchases(&m, hz[j], c->x, c->t_x, c->T);
      assert_true(fabs(s1[i].expected[j] - e) <= 1e-9 * e + 1e-12);
    }
    assert_int_equal(s1[i].band, clv_churn_band(pa));
  }
  /* CLV with no discount over H months = P(alive) * spend * E[Y(H months)] */
  vo.discount_month = 0;
  const clv_summary_t *c = &g_sum[0];
  double L = CLV_DAYS_PER_MONTH / 7.0;
  double want = clv_expected_spend(&g, c->x, c->mean_spend) *
                clv_expected_purchases(&m, 12 * L, c->x, c->t_x, c->T);
  assert_true(fabs(clv_value(&m, &g, &vo, c) - want) < 1e-9 * want);
  /* bad plan inputs */
  assert_null(clv_plan_new(&m, &g, &vo, hz, CLV_MAX_HORIZONS + 1, 35.0, 10));
  clv_tx_model_t bad;
  memset(&bad, 0, sizeof bad);
  assert_null(clv_plan_new(&bad, &g, &vo, hz, 3, 35.0, 10));
  clv_plan_free(p);
  assert_string_equal(clv_band_name(clv_churn_band(0.9)), "low");
  assert_string_equal(clv_band_name(clv_churn_band(0.1)), "critical");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_repeat_buyers),
      cmocka_unit_test(test_one_customer),
      cmocka_unit_test(test_all_orders_one_day),
      cmocka_unit_test(test_zero_and_constant_spend),
      cmocka_unit_test(test_invalid_rows),
      cmocka_unit_test(test_summary_conventions),
      cmocka_unit_test(test_pod_persistence_and_grouping),
      cmocka_unit_test(test_gradient_matches_numeric),
      cmocka_unit_test(test_concurrent_fits),
      cmocka_unit_test(test_plan_matches_exact),
  };
  return cmocka_run_group_tests(tests, load, NULL);
}
