/* baskets_orders.c -- core_scan_orders / core_scan_customer_orders / core_basket_decode
 * (baskets.h): read-only, zero-copy walks over ORDERS and CUSTOMER_ORDERS for model builds and
 * request-time histories. Layouts (orders.c writes them; this file only reads):
 *   ORDERS value: 'O' 1 | uv len | canon | sv ts | sv recorded_at | sv subtotal | sv total |
 *                 sv refunded | sv refund_count | uv nlines { sv refunded_qty }
 *   canon: 'o' 1 | str customer_id | str currency | sv ts_sent | sv discount | sv shipping |
 *          sv tax | uv nlines { str product_id | sv quantity | sv unit_price }
 *   CUSTOMER_ORDERS key: customer_id \0 be64(ts) order_id
 * A line whose refunded quantity reaches its quantity is left out of the basket.
 * Invariant: strings point into the snapshot; corrupt records stop with PERR_INTERNAL. */
#include <string.h>

#include "store/record.h"
#include "commerce/baskets.h"

int core_basket_decode(pstr_t order_id, const void *v, size_t n, pstr_t *lines, core_basket_t *b) {
  rec_rd_t rd, c;
  int64_t qty[CORE_MAX_LINES];
  pstr_t canon;
  if (core_ord_rec_open(v, n, &rd, &canon) || core_ord_canon_open(canon, &c)) return -1;
  b->order_id = order_id;
  b->customer_id = rec_get_str(&c);
  rec_get_str(&c); /* currency */
  for (int i = 0; i < 4; i++) rec_get_sv(&c); /* ts_sent, discount, shipping, tax */
  size_t nl = rec_get_count(&c, CORE_MAX_LINES);
  if (c.bad || nl == 0) return -1;
  for (size_t i = 0; i < nl; i++) {
    lines[i] = rec_get_str(&c);
    qty[i] = rec_get_sv(&c);
    rec_get_sv(&c); /* unit_price */
  }
  if (!rec_rd_done(&c)) return -1;
  b->ts = rec_get_sv(&rd);
  for (int i = 0; i < 5; i++) rec_get_sv(&rd); /* recorded_at .. refund_count */
  if (rec_get_count(&rd, CORE_MAX_LINES) != nl) return -1;
  size_t k = 0;
  for (size_t i = 0; i < nl; i++) {
    int64_t refunded = rec_get_sv(&rd);
    if (refunded < qty[i]) lines[k++] = lines[i];
  }
  if (!rec_rd_done(&rd)) return -1;
  b->n = k;
  b->products = lines;
  return 0;
}

int core_scan_orders(store_txn_t *t, core_basket_fn fn, void *ctx, perr_info_t *e) {
  pstr_t lines[CORE_MAX_LINES];
  store_cursor_t *c;
  int rc = store_cursor_open(t, STORE_T_ORDERS, "", 0, &c);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  int ret = 0;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    core_basket_t b;
    if (core_basket_decode(core_pstr(k, kn), v, vn, lines, &b)) {
      ret = core_corrupt("order", e);
      break;
    }
    if ((ret = fn(ctx, &b))) break;
  }
  if (rc < 0 && !ret) ret = core_store_err(t, rc, e);
  store_cursor_close(c);
  return ret;
}

int core_scan_customer_orders(store_txn_t *t, pstr_t customer_id, pstr_t *ids, size_t max_orders,
                              core_basket_fn fn, void *ctx, uint64_t *total, perr_info_t *e) {
  char start[CORE_ID_MAX + 1];
  pstr_t lines[CORE_MAX_LINES];
  if (total) *total = 0;
  if (customer_id.n == 0 || customer_id.n > CORE_ID_MAX || max_orders == 0) return 0;
  memcpy(start, customer_id.p, customer_id.n);
  start[customer_id.n] = 0;
  size_t plen = customer_id.n + 1;
  store_cursor_t *c;
  int rc = store_cursor_open(t, STORE_T_CUSTOMER_ORDERS, start, plen, &c);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  uint64_t seen = 0;
  /* ring of the newest max_orders order ids (keys are in time order) */
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (kn < plen + 8 || memcmp(k, start, plen) != 0) break;
    ids[seen % max_orders] = core_pstr((const char *)k + plen + 8, kn - plen - 8);
    seen++;
  }
  store_cursor_close(c);
  if (rc < 0) return core_store_err(t, rc, e);
  if (total) *total = seen;
  size_t n = seen < max_orders ? (size_t)seen : max_orders;
  size_t first = seen < max_orders ? 0 : (size_t)(seen % max_orders);
  for (size_t i = 0; i < n; i++) {
    pstr_t id = ids[(first + i) % max_orders];
    core_basket_t b;
    rc = store_get(t, STORE_T_ORDERS, id.p, id.n, &v, &vn);
    if (rc == PERR_NOT_FOUND) continue;
    if (rc) return core_store_err(t, rc, e);
    if (core_basket_decode(id, v, vn, lines, &b)) return core_corrupt("order", e);
    if ((rc = fn(ctx, &b))) return rc;
  }
  return 0;
}
