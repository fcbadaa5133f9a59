/* merge.h -- customer.merge: a guest's orders and feedback move to a registered customer, in
 * the caller's one write transaction.
 * Invariants: everything is read, checked and encoded before the first store write, so an
 * error changes nothing; after a merge the guest row is gone and every order / feedback index
 * row, order record and feedback record names the customer; the customer's aggregates equal
 * the sum of both (per currency, counts, first/last order, last products by their newest
 * ts); a merge leaves a tombstone (AUX: MERGE_TOMBSTONE_PREFIX \0 guest -> customer), so
 * merging the same pair again is a successful no-op (merged = 0), while a guest never seen
 * is not_found and a guest merged into another customer a conflict. (A future erasure of a
 * customer must delete the tombstones naming it.) */
#ifndef PATRON_MERGE_H
#define PATRON_MERGE_H

#include <stdint.h>

#include "commerce/commerce.h"
#include "base/perr.h"
#include "store/store.h"

#define MERGE_TOMBSTONE_PREFIX "mg/g" /* AUX key: prefix \0 guest_id -> customer_id */

typedef struct merge_s {
  pstr_t guest_id;     /* the id the guest's orders/feedback were recorded under */
  pstr_t customer_id;  /* the registered customer (must exist) */
} merge_t;

typedef struct merge_result_s {
  int merged;          /* 1 moved, 0 guest already merged into this customer (no-op) */
  uint64_t orders;     /* orders moved */
  uint64_t feedback;   /* feedback rows moved */
} merge_result_t;

/* Errors: invalid_params (guest_id, customer_id; same id; more currencies than a customer can
 * hold; totals overflow), not_found (customer_id; guest_id never seen), conflict (guest_id
 * already merged into another customer). */
int core_customer_merge(store_txn_t *t, const merge_t *m, int64_t now, merge_result_t *r,
                        perr_info_t *e);

#endif
