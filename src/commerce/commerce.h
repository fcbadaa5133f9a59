/* commerce.h -- the domain types and operations of issue 2's methods: products, customers,
 * orders, refunds and the customer profile. Pure functions over a store transaction; no I/O
 * besides the store. Conventions: money is int64 minor units + ISO-4217 code; times are int64
 * seconds since the Unix epoch (UTC); ids are byte strings of 1..128 bytes.
 * Invariant: every write function validates everything (against the input and the stored
 * state) before its first store_put, so an error leaves the store unchanged. */
#ifndef PATRON_COMMERCE_H
#define PATRON_COMMERCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/perr.h"
#include "store/store.h"

#define CORE_ID_MAX 128
#define CORE_NAME_MAX 512
#define CORE_MAX_LINES 1000
#define CORE_LAST_PRODUCTS 10
#define CORE_MAX_CURRENCIES 8 /* distinct currencies tracked per customer */

typedef struct pstr_s {
  const char *p; /* not NUL-terminated unless stated; may be NULL when n == 0 */
  size_t n;
} pstr_t;

typedef struct product_s {
  pstr_t id;
  pstr_t name;      /* optional */
  pstr_t category;  /* optional */
  pstr_t currency;  /* required when price is given */
  int64_t price;    /* minor units, >= 0 */
  int64_t stock;    /* units on hand; -1 = not tracked (always available) */
  int64_t margin;   /* minor units per unit, may be negative; valid when has_margin */
  int has_price, has_margin, has_stock; /* has_stock=0 on upsert: keep the stored stock */
  int active;       /* 0 = hidden from recommendations */
  int64_t updated_at; /* set by the core */
} product_t;

typedef struct customer_s {
  pstr_t id;
  pstr_t email;     /* optional, personal data: never logged */
  pstr_t name;      /* optional, personal data: never logged */
  int64_t created_at; /* 0 = unknown */
  int64_t updated_at;
} customer_t;

typedef struct order_line_s {
  pstr_t product_id;
  int64_t quantity;   /* > 0 */
  int64_t unit_price; /* minor units >= 0 (ignored in refunds) */
} order_line_t;

typedef struct order_s {
  pstr_t order_id;    /* idempotency key */
  pstr_t customer_id;
  pstr_t currency;
  int64_t ts;
  order_line_t *lines;
  size_t nlines;      /* 1..CORE_MAX_LINES */
  int64_t discount;   /* minor units >= 0, <= subtotal */
  int64_t shipping;   /* minor units >= 0 */
  int64_t tax;        /* minor units >= 0 */
} order_t;

typedef struct order_result_s {
  int created;        /* 1 new, 0 identical replay (no-op) */
  int64_t subtotal;   /* sum of quantity * unit_price */
  int64_t total;      /* subtotal - discount + shipping + tax: what was paid */
} order_result_t;

typedef struct refund_s {
  pstr_t refund_id;   /* idempotency key */
  pstr_t order_id;
  int64_t ts;         /* 0 = now */
  order_line_t *lines;/* product_id + quantity; unit price comes from the order */
  size_t nlines;      /* 0 = refund by amount */
  int64_t amount;     /* when nlines == 0: minor units > 0 */
} refund_t;

typedef struct refund_result_s {
  int created;          /* 1 new, 0 identical replay */
  int64_t amount;       /* this refund, minor units */
  int64_t refunded;     /* order's refunded total after it */
  int64_t refundable;   /* what is left to refund on the order */
  pstr_t currency;
  pstr_t customer_id;   /* the order's customer (set by the daemon's handler) */
} refund_result_t;

typedef struct currency_totals_s {
  char currency[4];
  int64_t orders;
  int64_t gross;        /* sum of order totals */
  int64_t refunded;     /* sum of refunds */
  int64_t net;          /* gross - refunded */
  int64_t aov;          /* gross / orders, rounded half up, minor units */
} currency_totals_t;

typedef struct customer_profile_s {
  customer_t customer;
  int known;            /* 1 if upserted, 0 if only seen through orders */
  int64_t first_order_at, last_order_at; /* 0 when no orders */
  int64_t order_count;
  int64_t refund_count;
  currency_totals_t totals[CORE_MAX_CURRENCIES];
  size_t ntotals;
  pstr_t last_products[CORE_LAST_PRODUCTS]; /* most recent first, distinct */
  size_t nlast;
} customer_profile_t;

/* ISO-4217: 1 and the minor-unit exponent in *exp if code is an active currency code. */
int core_currency_valid(pstr_t code, int *exp);

/* Writes (use a write txn). now = current time in seconds, for updated_at / default ts. */
int core_product_upsert(store_txn_t *t, const product_t *p, int64_t now, perr_info_t *e);
int core_customer_upsert(store_txn_t *t, const customer_t *c, int64_t now, perr_info_t *e);
int core_order_record(store_txn_t *t, const order_t *o, int64_t now, order_result_t *r,
                      perr_info_t *e);
int core_order_refund(store_txn_t *t, const refund_t *rf, int64_t now, refund_result_t *r,
                      perr_info_t *e);

/* Reads (any txn). Strings in the results are allocated in arena a. */
int core_product_get(store_txn_t *t, pstr_t id, arena_t *a, product_t *out, perr_info_t *e);
int core_customer_get(store_txn_t *t, pstr_t id, arena_t *a, customer_profile_t *out,
                      perr_info_t *e);
/* A customer's order count and last order time only (what offers.decide's rules read): the
 * record's leading fields, without decoding its totals and last products. PERR_NOT_FOUND
 * when no customer (nor a valid id) is stored; core_customer_get's values otherwise (a record
 * whose head decodes but whose tail is damaged: counts here, an error there). */
int core_customer_order_counts(store_txn_t *t, pstr_t id, int64_t *order_count,
                               int64_t *last_order_at);
/* An order as recorded, plus its refunded total. */
int core_order_get(store_txn_t *t, pstr_t id, arena_t *a, order_t *out, int64_t *refunded,
                   perr_info_t *e);

/* Counts for stats. */
typedef struct core_counts_s {
  uint64_t products, customers, orders, refunds, feedback;
} core_counts_t;
void core_counts(store_txn_t *t, core_counts_t *out);

#endif
