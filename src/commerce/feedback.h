/* feedback.h -- customer feedback (NPS 0..10, CSAT 1..5) for the KPI report: recorded once per
 * feedback_id (idempotency key) in the FEEDBACK table, with a per-customer index in AUX so
 * customer.merge can move a guest's feedback.
 * Invariants: a write validates everything before its first store_put; replaying the same
 * content is a no-op (created = 0); the same feedback_id with different content is
 * PERR_CONFLICT; every FEEDBACK row has exactly one AUX index row for its customer. */
#ifndef PATRON_FEEDBACK_H
#define PATRON_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "commerce/commerce.h"
#include "base/perr.h"
#include "store/store.h"

typedef enum { FEEDBACK_NPS = 0, FEEDBACK_CSAT = 1 } feedback_kind_t;

typedef struct feedback_s {
  pstr_t feedback_id;  /* idempotency key */
  pstr_t customer_id;
  int kind;            /* feedback_kind_t */
  int64_t score;       /* NPS 0..10, CSAT 1..5 */
  int64_t ts;          /* seconds; 0 = now */
} feedback_t;

typedef struct feedback_result_s {
  int created;         /* 1 new, 0 identical replay */
} feedback_result_t;

/* "nps" / "csat" -> kind, or -1. */
int feedback_kind_from_name(const char *s, size_t n);
const char *feedback_kind_name(int kind);

int core_feedback_record(store_txn_t *t, const feedback_t *f, int64_t now, feedback_result_t *r,
                         perr_info_t *e);

typedef struct feedback_row_s {
  int64_t ts;
  int32_t score;
  uint8_t kind;
} feedback_row_t;

/* Every feedback row (malloc'd array, free with free()). */
int core_feedback_list(store_txn_t *t, feedback_row_t **out, size_t *n, perr_info_t *e);

/* One feedback as stored (customer_id copied into a). PERR_NOT_FOUND if absent. */
int core_feedback_get(store_txn_t *t, pstr_t feedback_id, arena_t *a, feedback_t *out,
                      perr_info_t *e);

/* ---- for merge.c ---- */
/* AUX index key prefix of a customer's feedback: "fb/c\0" customer_id "\0". */
#define FEEDBACK_INDEX_PREFIX "fb/c"
struct rec_buf_s;
void feedback_index_key(struct rec_buf_s *b, pstr_t customer, pstr_t feedback_id);
/* The FEEDBACK record v re-encoded with another customer id. 0, or -1 when malformed. */
int feedback_rewrite_customer(const void *v, size_t n, pstr_t customer, struct rec_buf_s *out);

#endif
