/* scan.h -- bulk reads of the order store for the analytics builders (the CLV/RFM model and
 * the KPI report): every order of every customer, grouped by customer (key order of the
 * CUSTOMER_ORDERS index) and by time within a customer, plus gross revenue per currency.
 * (The recommendations' scanner is a different module: baskets.h.)
 * Invariants: read-only; the scan holds its own copies (nothing points into the txn);
 * customer c owns orders[first[c] .. first[c+1]), in ascending ts order; its id is
 * pool[id_off[c] .. id_off[c+1]); customers appear once each. */
#ifndef PATRON_SCAN_H
#define PATRON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "commerce/commerce.h"
#include "base/perr.h"
#include "store/store.h"

#define SCAN_MAX_CURRENCIES 256

typedef struct scan_order_s {
  int64_t ts;         /* effective order time, seconds */
  int64_t total;      /* what was paid, minor units */
  int64_t refunded;   /* refunded so far, minor units (0..total) */
  uint32_t customer;  /* index into the scan's customers */
  uint16_t currency;  /* index into scan_t.currencies */
} scan_order_t;

typedef struct scan_s {
  scan_order_t *orders;
  size_t norders, ocap;
  char *pool;          /* customer ids back to back (not NUL-terminated) */
  size_t pool_n, pool_cap;
  uint64_t *id_off;    /* [ncustomers + 1] offsets into pool */
  size_t *first;       /* [ncustomers + 1] offsets into orders */
  size_t ncustomers, ccap;
  char currencies[SCAN_MAX_CURRENCIES][4];
  int64_t gross[SCAN_MAX_CURRENCIES];  /* sum of order totals (saturating) */
  uint64_t count[SCAN_MAX_CURRENCIES]; /* orders */
  size_t ncurrencies;
} scan_t;

/* Reads every order. 0, or an error (corrupt records: PERR_INTERNAL; out of memory:
 * PERR_UNAVAILABLE). On error *s is left empty. */
int scan_orders(store_txn_t *t, scan_t *s, perr_info_t *e);
void scan_free(scan_t *s);
/* The currency with the most gross revenue (ties: the alphabetically first), or -1. */
int scan_main_currency(const scan_t *s);
/* Index of an ISO code in the scan, or -1. */
int scan_currency_index(const scan_t *s, const char *code, size_t n);
static inline pstr_t scan_id(const scan_t *s, size_t i) {
  pstr_t r = {s->pool + s->id_off[i], (size_t)(s->id_off[i + 1] - s->id_off[i])};
  return r;
}

/* The leading fields of an ORDERS value (shared with merge.c): the customer id and currency
 * (pointing into v), ts, total and refunded. 0, or -1 when malformed. */
int scan_order_brief(const void *v, size_t n, pstr_t *customer, pstr_t *currency, int64_t *ts,
                     int64_t *total, int64_t *refunded);

#endif
