/* offer_export.c -- what the offers tables hold about one customer, for customer.export
 * (commerce/privacy.h): the exposures (OFFER_SEEN: customer \0 offer -> arm, first/last
 * impression, conversion, attributed revenue; the global holdout's rows are the customer's
 * experiment exposures; a row holding only cap slots is no exposure, and its counts are the
 * cap counters below) and the per-customer cap counters (OFFER_COUNTS 'c' offer \0 customer
 * \0 kind \0 period: impressions shown and redemptions per cap period).
 * Invariants: read-only; every string is copied into the caller's arena; the counters are
 * found by reading every cap row (keyed by offer first), so the cost is O(cap rows). */
#include <string.h>

#include "offers/offers_internal.h"

#define GLOBAL_ID_PREFIX "\x01global/" /* offer_events.c: the global holdout's pseudo-offer */

static int exposures(store_txn_t *t, const char *customer, arena_t *a, offers_export_t *out) {
  offer_key_t pre;
  offer_key_init(&pre, 0);
  offer_key_str(&pre, customer);
  offer_key_sep(&pre);
  if (pre.bad) return PERR_INVALID_PARAMS;
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn, cap = 0;
  int rc = store_cursor_open(t, STORE_T_OFFER_SEEN, pre.b, pre.n, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (kn <= pre.n || memcmp(k, pre.b, pre.n)) break;
    const char *id = (const char *)k + pre.n;
    size_t idn = kn - pre.n;
    if (idn > OFFERS_ID_MAX) continue;
    offer_seen_row_t row;
    if (offer_seen_row_parse(v, vn, &row)) {
      rc = PERR_INTERNAL;
      break;
    }
    if (!row.exposed) continue; /* only the caps of a redemption: in the counters below */
    if (arena_grow(a, (void **)&out->seen, out->nseen, &cap, sizeof *out->seen)) {
      rc = PERR_INTERNAL;
      break;
    }
    offers_export_seen_t *s = &out->seen[out->nseen];
    size_t gp = sizeof GLOBAL_ID_PREFIX - 1;
    char *full = arena_strndup(a, id, idn);
    if (!full) {
      rc = PERR_INTERNAL;
      break;
    }
    s->global_holdout = idn > gp && !memcmp(id, GLOBAL_ID_PREFIX, gp);
    s->offer_id = s->global_holdout ? full + gp : full;
    const offer_seen_t seen = row.s;
    s->arm = seen.arm;
    s->first_ts = seen.first_ts;
    s->last_ts = seen.last_ts;
    s->converted = seen.converted;
    s->revenue = seen.revenue;
    out->nseen++;
  }
  store_cursor_close(c);
  return rc < 0 || rc > 1 ? rc : 0;
}

/* 'c' offer \0 customer \0 kind \0 be64(period) -> 'C' 1 sv(count) */
static int counters(store_txn_t *t, const char *customer, arena_t *a, offers_export_t *out) {
  size_t cn = strlen(customer), cap = 0;
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  int rc = store_cursor_open(t, STORE_T_OFFER_COUNTS, "c", 1, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    const unsigned char *p = k;
    if (kn < 1 || p[0] != 'c') break;
    const unsigned char *sep = memchr(p + 1, 0, kn - 1);
    /* after the offer id: customer \0 kind \0 8 bytes */
    if (!sep || (size_t)(p + kn - sep) != 1 + cn + 1 + 1 + 1 + 8 ||
        memcmp(sep + 1, customer, cn) || sep[1 + cn] != 0)
      continue;
    if (arena_grow(a, (void **)&out->counters, out->ncounters, &cap, sizeof *out->counters)) {
      rc = PERR_INTERNAL;
      break;
    }
    offers_export_counter_t *r = &out->counters[out->ncounters];
    r->offer_id = arena_strndup(a, (const char *)p + 1, (size_t)(sep - p - 1));
    if (!r->offer_id) {
      rc = PERR_INTERNAL;
      break;
    }
    r->kind = (char)sep[1 + cn + 1];
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | sep[1 + cn + 3 + i];
    r->period = (int64_t)(u ^ (1ull << 63));
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    if (rec_get_u8(&rd) != 'C' || rec_get_u8(&rd) != 1) {
      rc = PERR_INTERNAL;
      break;
    }
    r->count = rec_get_sv(&rd);
    if (!rec_rd_done(&rd)) {
      rc = PERR_INTERNAL;
      break;
    }
    out->ncounters++;
  }
  store_cursor_close(c);
  return rc < 0 || rc > 1 ? rc : 0;
}

int offers_customer_export(store_txn_t *t, const char *customer, arena_t *a,
                           offers_export_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  int rc = offer_check_id(customer, "customer_id", e);
  if (rc) return rc;
  if ((rc = exposures(t, customer, a, out)) || (rc = counters(t, customer, a, out)))
    return rc == PERR_INTERNAL ? perr_set(e, rc, NULL, "offers rows of the customer unreadable")
                               : offer_store_err(t, rc, e);
  return 0;
}
