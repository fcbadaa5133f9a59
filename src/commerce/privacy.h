/* privacy.h -- privacy requests: customer.export (everything stored under a customer id, as
 * one document) and customer.forget (erasure: personal fields dropped and the id replaced by
 * an irreversible pseudonym), in the caller's one transaction.
 * Pseudonym: "anon-" + hex(SHA-256(salt || id))[0..32), salt = 32 random bytes drawn for this
 * call and kept nowhere, so nobody (not even the store) can map the pseudonym back to the id.
 * Invariants of forget: checked before the first write (unknown id -> not_found, nothing
 * changed); afterwards no CUSTOMERS row, CUSTOMER_ORDERS row, order record, FEEDBACK record or
 * index, nor merge tombstone names the id; the pseudonym's row holds the same aggregates
 * (totals, counts, first/last order, last products) with email and name erased; an audit row
 * (AUX "pv/f" \0 pseudonym -> be64(time) uv(orders) uv(feedback)) holds no personal data.
 * Loyalty: the member's rows are rekeyed too (loy_customer_rekey). The offers rows are
 * rekeyed by the caller in the same txn (offers_customer_rekey: commerce does not depend on
 * offers), which sets r->offers.
 * LMDB keeps stale page copies in free pages: store_scrub_free_pages (store.h) zeroes them. */
#ifndef PATRON_PRIVACY_H
#define PATRON_PRIVACY_H

#include <stdint.h>

#include "base/arena.h"
#include "base/perr.h"
#include "commerce/commerce.h"
#include "commerce/feedback.h"
#include "store/store.h"

#define PRIVACY_AUDIT_PREFIX "pv/f" /* AUX key: prefix \0 pseudonym */
#define PRIVACY_PSEUDONYM_MAX 40    /* "anon-" + 32 hex + NUL */

typedef struct forget_s {
  pstr_t customer_id;
} forget_t;

typedef struct forget_result_s {
  char pseudonym[PRIVACY_PSEUDONYM_MAX];
  uint64_t orders;   /* orders rekeyed */
  uint64_t feedback; /* feedback rows rekeyed */
  uint64_t loyalty;  /* loyalty rows rekeyed (member, ledger, tier history) */
  uint64_t offers;   /* offers rows rekeyed (by the daemon: offers_customer_rekey) */
} forget_result_t;

/* Errors: invalid_params (customer_id), not_found (customer_id). */
int core_customer_forget(store_txn_t *t, const forget_t *f, int64_t now, forget_result_t *r,
                         perr_info_t *e);

typedef struct export_order_s {
  order_t order;     /* as recorded (lines included) */
  int64_t refunded;  /* refunded total of the order */
} export_order_t;

typedef struct export_result_s {
  customer_profile_t profile;
  export_order_t *orders; /* oldest first */
  size_t norders;
  feedback_t *feedback;   /* in feedback_id order */
  size_t nfeedback;
} export_result_t;

/* Everything reachable by the customer id. Strings/arrays live in a. not_found if the id has
 * neither a customer row nor orders. */
int core_customer_export(store_txn_t *t, pstr_t id, arena_t *a, export_result_t *out,
                         perr_info_t *e);

#endif
