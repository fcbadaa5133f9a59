/* kpi.h -- the shop owner's KPI report over plain arrays: revenue, orders, AOV, purchase
 * frequency, repeat-purchase rate, retention / churn between two periods, the monthly cohort
 * retention matrix, NPS, CSAT, refund rate and quantiles of a CLV distribution.
 * Invariants: pure functions, no global state, thread-safe; all arrays are of one currency
 * (the caller filters by currency); periods are half-open [from, to) in seconds (UTC);
 * a rate whose denominator is 0 is reported as 0 (never NaN) with the denominator alongside.
 *
 * Definitions (over the orders with from <= ts < to unless stated):
 *   revenue_gross    sum of amount;  refunded = sum of refunded (refunds are attributed to
 *                    their order's time);  revenue_net = gross - refunded
 *   aov              revenue_gross / orders (minor units, not rounded)
 *   customers        distinct customers with an order in the period
 *   purchase_freq    orders / customers
 *   repeat_rate      share of the period's customers with >= 2 orders in total up to `to`
 *                    (orders before the period count: a returning customer is a repeat buyer)
 *   new_customers    customers whose first order ever falls in the period
 *   refund_rate      refunded / revenue_gross;  refund_order_rate = orders with refunded > 0
 *                    / orders
 *   nps              100 * (promoters - detractors) / responses, kind NPS, score 0..10,
 *                    promoters 9..10, passives 7..8, detractors 0..6 (range -100..100)
 *   csat             100 * (responses with score 4 or 5) / responses, kind CSAT, score 1..5
 *   Feedback outside its scale is ignored and counted in invalid_feedback.
 * Retention between periods P0 and P1: base = customers with an order in P0; retained = those
 * of them with an order in P1; retention = retained / base; churn = 1 - retention.
 * Cohorts: a customer's cohort is the UTC calendar month of their first order ever; row c,
 * column k = share of cohort c's customers with an order in month c + k. */
#ifndef PATRON_KPI_H
#define PATRON_KPI_H

#include <stddef.h>
#include <stdint.h>

typedef struct kpi_order_s {
  uint32_t customer;  /* dense index 0..ncustomers-1 */
  int64_t ts;         /* seconds, UTC */
  int64_t amount;     /* order total, minor units, >= 0 */
  int64_t refunded;   /* refunded so far, minor units, 0..amount */
} kpi_order_t;

typedef enum { KPI_FEEDBACK_NPS = 0, KPI_FEEDBACK_CSAT = 1 } kpi_feedback_kind_t;

typedef struct kpi_feedback_s {
  uint8_t kind;       /* kpi_feedback_kind_t */
  int32_t score;      /* NPS 0..10, CSAT 1..5 */
  int64_t ts;
} kpi_feedback_t;

typedef struct kpi_period_s {
  int64_t from, to;   /* [from, to) */
} kpi_period_t;

typedef struct kpi_report_s {
  kpi_period_t period;
  int64_t revenue_gross, refunded, revenue_net;
  uint64_t orders, customers, new_customers, repeat_customers, refunded_orders;
  double aov, purchase_freq, repeat_rate, refund_rate, refund_order_rate;
  uint64_t nps_responses, promoters, passives, detractors;
  double nps;
  uint64_t csat_responses, csat_satisfied;
  double csat;
  uint64_t invalid_feedback;
} kpi_report_t;

typedef struct kpi_retention_s {
  uint64_t base, retained;
  double retention, churn;
} kpi_retention_t;

typedef struct kpi_cohorts_s {
  size_t ncohorts;     /* months from..to (rows); also the number of columns */
  int32_t first_month; /* year * 12 + month0 of row 0 */
  uint64_t *size;      /* [ncohorts] customers whose first order is in that month */
  uint64_t *active;    /* [ncohorts * ncohorts] row c, column k: active in month c + k */
  double *rate;        /* same shape: active / size; -1 where month c + k is after `to`
                          (not observable yet), 0 when size is 0 */
} kpi_cohorts_t;

/* Returns 0, -1 on bad arguments (NULL arrays with n > 0, customer >= ncustomers,
 * from > to), -2 when out of memory (scratch: 12 bytes per customer). */
int kpi_report(const kpi_order_t *orders, size_t n, size_t ncustomers,
               const kpi_feedback_t *fb, size_t nfb, kpi_period_t period, kpi_report_t *out);

int kpi_retention(const kpi_order_t *orders, size_t n, size_t ncustomers, kpi_period_t prev,
                  kpi_period_t cur, kpi_retention_t *out);

/* Cohorts whose first month lies in [from, to), at most 240 months. Free with
 * kpi_cohorts_free. Returns 0, -1 bad arguments, -2 out of memory. */
int kpi_cohorts(const kpi_order_t *orders, size_t n, size_t ncustomers, kpi_period_t period,
                kpi_cohorts_t *out);
void kpi_cohorts_free(kpi_cohorts_t *c);

/* UTC calendar month index (year * 12 + month0) of a time. */
int32_t kpi_month_index(int64_t ts);

/* Quantiles (type 7: linear interpolation between order statistics, as R's default and
 * numpy's) of the finite values in v, at probabilities probs[0..np) in [0, 1]. Sorts a
 * copy. Returns the number of finite values used (0: out all 0), or -1 / -2 on bad
 * arguments / out of memory. */
long kpi_quantiles(const double *v, size_t n, const double *probs, size_t np, double *out);

#endif
