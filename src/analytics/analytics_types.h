/* analytics_types.h -- the customer-analytics results the core produces (issue 3): the
 * per-customer analytics of customer.get, kpi.report, segment.list / segment.customers and
 * the customer.changed payload. protocol/ encodes them (protocol/analytics_types.h).
 * Invariant: plain structs, no msgpack; strings point into the request's zone / the job's
 * arena / static storage, never into a store transaction or a model that may be swapped
 * before encoding. */
#ifndef PATRON_ANALYTICS_TYPES_H
#define PATRON_ANALYTICS_TYPES_H

#include <stdint.h>

#include "analytics/kpi.h"
#include "analytics/rfm.h"
#include "commerce/commerce.h"

/* Per-customer analytics served with customer.get (see PROTOCOL.md). */
typedef struct cust_analytics_s {
  uint64_t model_version;    /* 0 = no model installed yet: every field below is nil */
  int scored;                /* 1 if the customer is in the installed model */
  int64_t as_of;             /* the model's "now" */
  uint8_t r, f, m;           /* RFM scores 1..bins */
  const char *segment;
  int has_clv;               /* BG/NBD fitted: p_alive, expected, churn */
  double p_alive, churn_risk, expected[3]; /* expected purchases in 30 / 90 / 365 days */
  const char *churn_band;
  int has_value;             /* Gamma-Gamma fitted too: predicted_clv */
  int64_t predicted_clv;     /* minor units of currency */
  char currency[4];
} cust_analytics_t;

/* The loyalty part of customer.get (filled by the daemon from src/loyalty; nil on the wire
 * when no program was ever set). */
typedef struct cust_loyalty_s {
  int program;               /* a loyalty program exists */
  int has_tier;
  char tier[33];             /* LOY_NAME_MAX + 1 (the daemon asserts it) */
  int64_t points, pending;   /* spendable balance, pending points */
} cust_loyalty_t;

typedef struct customer_view_s {
  customer_profile_t profile;
  cust_analytics_t an;
  cust_loyalty_t loy;
} customer_view_t;

/* ---- kpi.report ---- */
typedef struct kpi_params_s {
  int64_t from, to;
  int has_from, has_to;
  pstr_t currency;           /* p NULL = the shop's main currency */
} kpi_params_t;

#define KPI_NQUANTILES 6 /* p10 p25 p50 p75 p90 p99 */
#define CLV_NBANDS 4
typedef struct kpi_result_s {
  char currency[4];
  kpi_report_t report;
  kpi_period_t prev;         /* the period before, same length (retention base) */
  kpi_retention_t retention;
  kpi_cohorts_t cohorts;     /* arrays in the job's arena */
  /* from the installed model, filled on the loop thread */
  uint64_t model_version;
  int64_t model_as_of;
  char model_currency[4];
  uint64_t model_customers;
  uint64_t segments[RFM_NSEGMENTS];
  int has_clv, has_value;
  uint64_t bands[CLV_NBANDS];
  uint64_t clv_n;
  double clv_mean, clv_q[KPI_NQUANTILES];
} kpi_result_t;

/* ---- segment.list / segment.customers ---- */
typedef struct segment_list_s {
  uint64_t model_version;
  int64_t as_of;
  char currency[4];
  uint64_t total;
  uint64_t counts[RFM_NSEGMENTS];
  int has_clv;
  uint64_t bands[CLV_NBANDS];
} segment_list_t;

#define SEGMENT_PAGE_MAX 1000
typedef struct segment_page_params_s {
  int segment;               /* rfm_segment_t */
  pstr_t cursor;             /* p NULL = from the start */
  int64_t limit;             /* 1..SEGMENT_PAGE_MAX, default 100 */
} segment_page_params_t;

typedef struct segment_member_s {
  pstr_t id;
  uint8_t r, f, m;
  uint8_t band;
  double p_alive;
  int64_t clv;
} segment_member_t;

typedef struct segment_page_s {
  const char *segment;
  uint64_t model_version;
  uint64_t total;            /* members of the segment */
  int has_clv, has_value;
  char currency[4];
  segment_member_t *items;
  size_t n;
  pstr_t next_cursor;        /* p NULL = no more */
} segment_page_t;

/* ---- customer.changed notification ---- */
typedef struct customer_change_s {
  pstr_t customer_id;
  const char *segment, *previous_segment;      /* NULL = nil */
  const char *churn_band, *previous_churn_band;
  uint64_t model_version;
} customer_change_t;

#endif
