/* privacy_export.c -- customer.export (privacy.h): everything stored under a customer id as
 * one document: the profile, the orders (CUSTOMER_ORDERS index) and their refund records, the
 * feedback (AUX index), the loyalty member (loyalty.h: tier, points, the whole ledger, tier
 * history) and the offers rows (offers.h: exposures, experiment arms, cap counters).
 * Invariants: read-only, in the caller's one read snapshot, so the parts agree; every string
 * and array lives in the caller's arena. Refund records are keyed by refund id and name only
 * the order: they are found by one pass over the REFUNDS table against the customer's orders. */
#include <stdlib.h>
#include <string.h>

#include "commerce/privacy.h"
#include "store/record.h"

static int cmp_pstr(const void *a, const void *b) {
  const pstr_t *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* REFUNDS: refund_id -> 'R' 1 str(canon: 'r' 1 str(order_id) sv(ts) uv(n) n x (str, sv)
 * [sv(amount) when n = 0]) sv(ts) sv(amount) raw(currency, 3) sv(recorded_at) */
static int decode_refund(arena_t *a, pstr_t key, const void *v, size_t vn, export_refund_t *r) {
  rec_rd_t rd, cd;
  rec_rd_init(&rd, v, vn);
  if (rec_get_u8(&rd) != 'R' || rec_get_u8(&rd) != 1) return -1;
  pstr_t canon = rec_get_str(&rd);
  r->ts = rec_get_sv(&rd);
  r->amount = rec_get_sv(&rd);
  for (int i = 0; i < 3; i++) r->currency[i] = (char)rec_get_u8(&rd);
  r->currency[3] = 0;
  r->recorded_at = rec_get_sv(&rd);
  if (rd.bad) return -1;
  r->refund_id = key;
  rec_rd_init(&cd, canon.p, canon.n);
  if (rec_get_u8(&cd) != 'r' || rec_get_u8(&cd) != 1) return -1;
  r->order_id = rec_get_str(&cd);
  rec_get_sv(&cd); /* ts as given */
  uint64_t n = rec_get_uv(&cd);
  if (cd.bad || n > CORE_MAX_LINES) return -1;
  r->nlines = (size_t)n;
  r->lines = n ? arena_alloc(a, n * sizeof *r->lines) : NULL;
  if (n && !r->lines) return -2;
  for (size_t i = 0; i < n; i++) {
    r->lines[i].product_id = rec_get_str(&cd);
    r->lines[i].quantity = rec_get_sv(&cd);
  }
  return cd.bad ? -1 : 0;
}

static int export_refunds(store_txn_t *t, arena_t *a, export_result_t *out, perr_info_t *e) {
  if (!out->norders) return 0;
  pstr_t *mine = arena_alloc(a, out->norders * sizeof *mine);
  if (!mine) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  for (size_t i = 0; i < out->norders; i++) mine[i] = out->orders[i].order.order_id;
  qsort(mine, out->norders, sizeof *mine, cmp_pstr);
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn, cap = 0;
  int rc = store_cursor_open(t, STORE_T_REFUNDS, NULL, 0, &c);
  if (rc) return core_store_err(t, rc, e);
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    export_refund_t r;
    memset(&r, 0, sizeof r);
    int d = decode_refund(a, core_pstr(k, kn), v, vn, &r);
    if (d) {
      store_cursor_close(c);
      return d == -2 ? perr_set(e, PERR_INTERNAL, NULL, "out of memory") : core_corrupt("refund", e);
    }
    if (!bsearch(&r.order_id, mine, out->norders, sizeof *mine, cmp_pstr)) continue;
    /* kept: copy what points into the store's pages (the answer outlives the snapshot) */
    int ok = (r.refund_id.p = arena_strndup(a, r.refund_id.p, r.refund_id.n)) != NULL &&
             (r.order_id.p = arena_strndup(a, r.order_id.p, r.order_id.n)) != NULL;
    for (size_t i = 0; ok && i < r.nlines; i++)
      ok = (r.lines[i].product_id.p =
                arena_strndup(a, r.lines[i].product_id.p, r.lines[i].product_id.n)) != NULL;
    if (!ok || arena_grow(a, (void **)&out->refunds, out->nrefunds, &cap, sizeof *out->refunds)) {
      store_cursor_close(c);
      return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    }
    out->refunds[out->nrefunds++] = r;
  }
  store_cursor_close(c);
  return rc < 0 ? core_store_err(t, rc, e) : 0;
}

#define LEDGER_PAGE 4096 /* ledger entries read at once */

static int export_loyalty(store_txn_t *t, pstr_t id, int64_t now, arena_t *a,
                          export_result_t *out, perr_info_t *e) {
  int rc = loyalty_tier(t, id, now, &out->tier, e);
  if (rc) return rc;
  /* the ledger, every page of it (newest first) */
  loy_points_info_t *p = &out->points;
  loy_entry_t *all = NULL;
  size_t n = 0, cap = 0;
  uint64_t before = 0;
  do {
    loy_points_info_t page;
    if ((rc = loyalty_points(t, id, now, 0, before, LEDGER_PAGE, a, &page, e))) return rc;
    if (!before) *p = page;
    for (size_t i = 0; i < page.nhistory; i++) {
      if (arena_grow(a, (void **)&all, n, &cap, sizeof *all))
        return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
      all[n++] = page.history[i];
    }
    before = page.next_before;
  } while (before);
  p->history = all;
  p->nhistory = n;
  p->next_before = 0;
  size_t total = 0;
  if ((rc = loyalty_tier_history(t, id, NULL, 0, &out->ntier_history, &total, e))) return rc;
  if (!total) return 0;
  out->tier_history = arena_alloc(a, total * sizeof *out->tier_history);
  if (!out->tier_history) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return loyalty_tier_history(t, id, out->tier_history, total, &out->ntier_history, &total, e);
}

int core_customer_export(store_txn_t *t, pstr_t id, int64_t now, arena_t *a,
                         export_result_t *out, perr_info_t *e) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = core_customer_get(t, id, a, &out->profile, e))) return rc;
  rec_buf_t pre;
  rec_buf_init(&pre);
  rec_put_raw(&pre, id.p, id.n);
  rec_put_u8(&pre, 0);
  if (pre.oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  size_t cap = 0;
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  /* orders: CUSTOMER_ORDERS id \0 be64(ts) order_id */
  if ((rc = store_cursor_open(t, STORE_T_CUSTOMER_ORDERS, pre.p, pre.n, &c))) goto store_fail;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    if (kn < pre.n + 8 || memcmp(k, pre.p, pre.n)) {
      rc = 0;
      break;
    }
    if (arena_grow(a, (void **)&out->orders, out->norders, &cap, sizeof *out->orders)) break;
    pstr_t oid = core_pstr((const char *)k + pre.n + 8, kn - pre.n - 8);
    export_order_t *o = &out->orders[out->norders];
    int g = core_order_get(t, oid, a, &o->order, &o->refunded, e);
    if (g) {
      store_cursor_close(c);
      rec_buf_free(&pre);
      return g == PERR_NOT_FOUND ? core_corrupt("order index", e) : g;
    }
    out->norders++;
  }
  store_cursor_close(c);
  if (rc > 0) goto oom;
  if (rc < 0) goto store_fail;
  /* feedback: AUX "fb/c" \0 id \0 feedback_id */
  rec_buf_t fp;
  rec_buf_init(&fp);
  rec_put_raw(&fp, FEEDBACK_INDEX_PREFIX, sizeof FEEDBACK_INDEX_PREFIX);
  rec_put_raw(&fp, pre.p, pre.n);
  if (fp.oom || (rc = store_cursor_open(t, STORE_T_AUX, fp.p, fp.n, &c))) {
    rec_buf_free(&fp);
    if (rc) goto store_fail;
    goto oom;
  }
  cap = 0;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    if (kn < fp.n || memcmp(k, fp.p, fp.n)) {
      rc = 0;
      break;
    }
    if (arena_grow(a, (void **)&out->feedback, out->nfeedback, &cap, sizeof *out->feedback)) break;
    pstr_t fid = core_pstr((const char *)k + fp.n, kn - fp.n);
    int g = core_feedback_get(t, fid, a, &out->feedback[out->nfeedback], e);
    if (g) {
      store_cursor_close(c);
      rec_buf_free(&fp);
      rec_buf_free(&pre);
      return g == PERR_NOT_FOUND ? core_corrupt("feedback index", e) : g;
    }
    out->nfeedback++;
  }
  store_cursor_close(c);
  rec_buf_free(&fp);
  if (rc > 0) goto oom;
  if (rc < 0) goto store_fail;
  rec_buf_free(&pre);
  if ((rc = export_refunds(t, a, out, e)) || (rc = export_loyalty(t, id, now, a, out, e)))
    return rc;
  char *cid = arena_strndup(a, id.p, id.n);
  if (!cid) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return offers_customer_export(t, cid, a, &out->offers, e);
oom:
  rec_buf_free(&pre);
  return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
store_fail:
  rec_buf_free(&pre);
  return core_store_err(t, rc, e);
}
