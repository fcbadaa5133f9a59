/* baskets.h -- bulk, zero-copy reads of the PRODUCTS and ORDERS tables for background model
 * builds and per-request histories (recommendations, issue 4). Decoders follow the record
 * layouts documented in catalog.c and orders.c; the write paths there stay the only writers.
 * Invariant: every pstr handed to a callback points into the store's snapshot and is valid
 * until the transaction ends (never after); nothing here writes or allocates per record. */
#ifndef PATRON_COMMERCE_BASKETS_H
#define PATRON_COMMERCE_BASKETS_H

#include <stddef.h>
#include <stdint.h>

#include "commerce/commerce.h"
#include "store/store.h"

/* Callbacks return 0 to go on; any other value stops the scan and is returned. */
typedef int (*core_product_fn)(void *ctx, const product_t *p);

/* Every product in key order (p->has_stock = 1; strings point into the snapshot). */
int core_scan_products(store_txn_t *t, core_product_fn fn, void *ctx, perr_info_t *e);
/* Decode one PRODUCTS value (id is not part of it). 0, or -1 when corrupt. */
int core_product_record_decode(const void *v, size_t n, product_t *p);

/* An order as a basket: the products of its lines that are not fully refunded, in line
 * order (a product may repeat when it is on several lines). */
typedef struct core_basket_s {
  pstr_t order_id, customer_id;
  int64_t ts;                 /* effective order time, seconds */
  size_t n;
  const pstr_t *products;
} core_basket_t;
typedef int (*core_basket_fn)(void *ctx, const core_basket_t *b);

/* Every order in key (order_id) order. */
int core_scan_orders(store_txn_t *t, core_basket_fn fn, void *ctx, perr_info_t *e);
/* The newest max_orders orders of a customer (CUSTOMER_ORDERS index), oldest first.
 * ids: caller's buffer of max_orders entries. An unknown customer calls fn zero times;
 * *total (optional) gets the customer's order count. */
int core_scan_customer_orders(store_txn_t *t, pstr_t customer_id, pstr_t *ids, size_t max_orders,
                              core_basket_fn fn, void *ctx, uint64_t *total, perr_info_t *e);
/* Decode one ORDERS value into b; lines: caller's buffer of CORE_MAX_LINES. 0 / -1 corrupt. */
int core_basket_decode(pstr_t order_id, const void *v, size_t n, pstr_t *lines, core_basket_t *b);

#endif
