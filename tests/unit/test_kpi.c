/* test_kpi.c -- the KPI report of analytics/kpi.h on a small hand-computed shop. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/kpi.h"

#define DEC15 1702598400 /* 2023-12-15T00:00:00Z */
#define DEC1 1701388800
#define JAN1 1704067200
#define FEB1 1706745600
#define MAR1 1709251200
#define D 86400

static const kpi_order_t orders[] = {
    {0, DEC15, 1000, 0},           {0, JAN1 + 9 * D, 2000, 500}, {1, JAN1 + 4 * D, 3000, 0},
    {1, JAN1 + 19 * D, 1000, 0},   {2, JAN1 + 24 * D, 4000, 4000}, {3, FEB1 + 2 * D, 5000, 0}};
#define NO (sizeof orders / sizeof orders[0])

static void near(double a, double b) {
  if (fabs(a - b) > 1e-9) fail_msg("got %.12g want %.12g", a, b);
}

static void test_report(void **st) {
  (void)st;
  const kpi_feedback_t fb[] = {
      {KPI_FEEDBACK_NPS, 10, JAN1 + D}, {KPI_FEEDBACK_NPS, 9, JAN1 + D},  {KPI_FEEDBACK_NPS, 9, JAN1 + D},
      {KPI_FEEDBACK_NPS, 8, JAN1 + D},  {KPI_FEEDBACK_NPS, 3, JAN1 + D},  {KPI_FEEDBACK_NPS, 0, JAN1 + D},
      {KPI_FEEDBACK_NPS, 10, FEB1 + D}, {KPI_FEEDBACK_NPS, 11, JAN1 + D}, {KPI_FEEDBACK_CSAT, 5, JAN1},
      {KPI_FEEDBACK_CSAT, 4, JAN1},     {KPI_FEEDBACK_CSAT, 3, JAN1},     {KPI_FEEDBACK_CSAT, 1, JAN1},
      {KPI_FEEDBACK_CSAT, 0, JAN1}};
  kpi_report_t r;
  assert_int_equal(kpi_report(orders, NO, 4, fb, sizeof fb / sizeof fb[0], (kpi_period_t){JAN1, FEB1}, &r), 0);
  assert_int_equal(r.orders, 4);
  assert_int_equal(r.revenue_gross, 10000);
  assert_int_equal(r.refunded, 4500);
  assert_int_equal(r.revenue_net, 5500);
  near(r.aov, 2500);
  assert_int_equal(r.customers, 3);
  near(r.purchase_freq, 4.0 / 3);
  assert_int_equal(r.repeat_customers, 2); /* c0 (Dec + Jan), c1 (two in Jan) */
  near(r.repeat_rate, 2.0 / 3);
  assert_int_equal(r.new_customers, 2);    /* c1, c2 */
  near(r.refund_rate, 0.45);
  near(r.refund_order_rate, 0.5);
  assert_int_equal(r.nps_responses, 6);
  assert_true(r.promoters == 3 && r.passives == 1 && r.detractors == 2);
  near(r.nps, 100.0 / 6);
  assert_int_equal(r.csat_responses, 4);
  near(r.csat, 50.0);
  assert_int_equal(r.invalid_feedback, 2);
  /* an empty period: zeros, never NaN */
  assert_int_equal(kpi_report(orders, NO, 4, NULL, 0, (kpi_period_t){MAR1, MAR1 + D}, &r), 0);
  assert_true(r.orders == 0 && r.aov == 0 && r.repeat_rate == 0 && r.nps == 0 && r.csat == 0 &&
              r.refund_rate == 0 && r.purchase_freq == 0);
  /* bad input */
  const kpi_order_t bad[] = {{9, JAN1, 1, 0}};
  assert_int_equal(kpi_report(bad, 1, 4, NULL, 0, (kpi_period_t){JAN1, FEB1}, &r), -1);
  assert_int_equal(kpi_report(orders, NO, 4, NULL, 0, (kpi_period_t){FEB1, JAN1}, &r), -1);
}

static void test_retention(void **st) {
  (void)st;
  kpi_retention_t rt;
  assert_int_equal(kpi_retention(orders, NO, 4, (kpi_period_t){DEC1, JAN1}, (kpi_period_t){JAN1, FEB1}, &rt), 0);
  assert_true(rt.base == 1 && rt.retained == 1);
  near(rt.retention, 1.0);
  near(rt.churn, 0.0);
  assert_int_equal(kpi_retention(orders, NO, 4, (kpi_period_t){JAN1, FEB1}, (kpi_period_t){FEB1, MAR1}, &rt), 0);
  assert_true(rt.base == 3 && rt.retained == 0);
  near(rt.churn, 1.0);
  assert_int_equal(kpi_retention(orders, NO, 4, (kpi_period_t){MAR1, MAR1 + D}, (kpi_period_t){JAN1, FEB1}, &rt), 0);
  assert_true(rt.base == 0 && rt.retention == 0 && rt.churn == 0);
}

static void test_cohorts(void **st) {
  (void)st;
  kpi_cohorts_t c;
  assert_int_equal(kpi_cohorts(orders, NO, 4, (kpi_period_t){DEC1, MAR1}, &c), 0);
  assert_int_equal(c.ncohorts, 3);
  assert_int_equal(c.first_month, 2023 * 12 + 11);
  assert_int_equal(kpi_month_index(JAN1), 2024 * 12);
  const uint64_t size[] = {1, 2, 1};
  const double rate[] = {1, 1, 0, 1, 0, -1, 1, -1, -1};
  for (int i = 0; i < 3; i++) assert_int_equal(c.size[i], size[i]);
  for (int i = 0; i < 9; i++) near(c.rate[i], rate[i]);
  assert_int_equal(c.active[1 * 3 + 0], 2); /* c1 twice in January counts once */
  kpi_cohorts_free(&c);
  /* a period starting in January: customer 0 (December cohort) is in no row */
  assert_int_equal(kpi_cohorts(orders, NO, 4, (kpi_period_t){JAN1, MAR1}, &c), 0);
  assert_int_equal(c.ncohorts, 2);
  assert_true(c.size[0] == 2 && c.size[1] == 1 && c.active[0] == 2 && c.active[1] == 0);
  kpi_cohorts_free(&c);
  assert_int_equal(kpi_cohorts(orders, NO, 4, (kpi_period_t){JAN1, JAN1}, &c), -1);
}

static void test_quantiles(void **st) {
  (void)st;
  const double v[] = {4, 2, NAN, 1, INFINITY, 3};
  const double p[] = {0, 0.5, 0.9, 1};
  double q[4];
  assert_int_equal(kpi_quantiles(v, 6, p, 4, q), 4);
  near(q[0], 1);
  near(q[1], 2.5);
  near(q[2], 3.7);
  near(q[3], 4);
  assert_int_equal(kpi_quantiles(v, 0, p, 4, q), 0);
  assert_true(q[0] == 0 && q[3] == 0);
  const double badp[] = {1.5};
  assert_int_equal(kpi_quantiles(v, 6, badp, 1, q), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_report), cmocka_unit_test(test_retention),
                                     cmocka_unit_test(test_cohorts), cmocka_unit_test(test_quantiles)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
