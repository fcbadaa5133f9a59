/* scan.c -- see scan.h. Reads CUSTOMER_ORDERS (customer_id \0 be64(ts) order_id) in key order
 * and looks each order up in ORDERS. The order record layout is orders.c's (documented at
 * the top of that file): 'O' 1 | str canon | sv ts | sv recorded_at | sv subtotal | sv total |
 * sv refunded | ...; canon: 'o' 1 | str customer_id | str currency | ...
 * Only those leading fields are read here, with record.h's bounded readers. */
#include "commerce/scan.h"

#include <stdlib.h>
#include <string.h>

#include "store/record.h"
#include "base/vec.h"

int scan_order_brief(const void *v, size_t n, pstr_t *customer, pstr_t *currency, int64_t *ts,
                     int64_t *total, int64_t *refunded) {
  rec_rd_t rd, c;
  pstr_t canon;
  if (core_ord_rec_open(v, n, &rd, &canon)) return -1;
  *ts = rec_get_sv(&rd);
  (void)rec_get_sv(&rd); /* recorded_at */
  (void)rec_get_sv(&rd); /* subtotal */
  *total = rec_get_sv(&rd);
  *refunded = rec_get_sv(&rd);
  if (rd.bad) return -1;
  if (core_ord_canon_open(canon, &c)) return -1;
  *customer = rec_get_str(&c);
  *currency = rec_get_str(&c);
  return c.bad || currency->n != 3 ? -1 : 0;
}

void scan_free(scan_t *s) {
  free(s->orders);
  free(s->pool);
  free(s->id_off);
  free(s->first);
  memset(s, 0, sizeof *s);
}

int scan_currency_index(const scan_t *s, const char *code, size_t n) {
  if (n != 3) return -1;
  for (size_t i = 0; i < s->ncurrencies; i++)
    if (memcmp(s->currencies[i], code, 3) == 0) return (int)i;
  return -1;
}

int scan_main_currency(const scan_t *s) {
  int best = -1;
  for (size_t i = 0; i < s->ncurrencies; i++) {
    if (best < 0 || s->gross[i] > s->gross[best] ||
        (s->gross[i] == s->gross[best] && memcmp(s->currencies[i], s->currencies[best], 3) < 0))
      best = (int)i;
  }
  return best;
}

/* Start customer id (n bytes) as a new customer. */
static int add_customer(scan_t *s, const char *id, size_t n) {
  size_t cc = s->ccap;
  if (vec_reserve((void **)&s->id_off, &cc, s->ncustomers + 2, sizeof *s->id_off)) return -1;
  cc = s->ccap;
  if (vec_reserve((void **)&s->first, &cc, s->ncustomers + 2, sizeof *s->first)) return -1;
  s->ccap = cc;
  if (vec_reserve((void **)&s->pool, &s->pool_cap, s->pool_n + n, 1)) return -1;
  memcpy(s->pool + s->pool_n, id, n);
  s->id_off[s->ncustomers] = s->pool_n;
  s->first[s->ncustomers] = s->norders;
  s->pool_n += n;
  s->ncustomers++;
  s->id_off[s->ncustomers] = s->pool_n;
  s->first[s->ncustomers] = s->norders;
  return 0;
}

int scan_orders(store_txn_t *t, scan_t *s, perr_info_t *e) {
  memset(s, 0, sizeof *s);
  store_cursor_t *cur;
  int rc = store_cursor_open(t, STORE_T_CUSTOMER_ORDERS, "", 0, &cur);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  const char *prev = NULL;
  size_t prev_n = 0;
  for (;;) {
    rc = store_cursor_next(cur, &k, &kn, &v, &vn);
    if (rc <= 0) break;
    const char *key = k;
    const char *nul = memchr(key, 0, kn);
    if (!nul || (size_t)(nul - key) + 1 + 8 >= kn) {
      rc = core_corrupt("customer order index", e);
      goto fail;
    }
    size_t idn = (size_t)(nul - key);
    const char *oid = nul + 1 + 8;
    size_t oidn = kn - idn - 1 - 8;
    if (!prev || prev_n != idn || memcmp(prev, key, idn) != 0) {
      if (add_customer(s, key, idn)) goto nomem;
      prev = s->pool + s->id_off[s->ncustomers - 1];
      prev_n = idn;
    }
    const void *ov;
    size_t on;
    rc = store_get(t, STORE_T_ORDERS, oid, oidn, &ov, &on);
    if (rc) {
      rc = rc == PERR_NOT_FOUND ? core_corrupt("customer order index", e) : core_store_err(t, rc, e);
      goto fail;
    }
    pstr_t cust, ccy;
    scan_order_t so;
    if (scan_order_brief(ov, on, &cust, &ccy, &so.ts, &so.total, &so.refunded) ||
        so.total < 0 || so.refunded < 0 || so.refunded > so.total) {
      rc = core_corrupt("order", e);
      goto fail;
    }
    int ci = scan_currency_index(s, ccy.p, ccy.n);
    if (ci < 0) {
      if (s->ncurrencies >= SCAN_MAX_CURRENCIES) {
        rc = perr_set(e, PERR_UNAVAILABLE, NULL, "more than %d currencies", SCAN_MAX_CURRENCIES);
        goto fail;
      }
      ci = (int)s->ncurrencies++;
      memcpy(s->currencies[ci], ccy.p, 3);
      s->currencies[ci][3] = 0;
    }
    if (!ck_add(s->gross[ci], so.total, &s->gross[ci])) s->gross[ci] = INT64_MAX;
    s->count[ci]++;
    so.customer = (uint32_t)(s->ncustomers - 1);
    so.currency = (uint16_t)ci;
    if (vec_reserve((void **)&s->orders, &s->ocap, s->norders + 1, sizeof *s->orders)) goto nomem;
    s->orders[s->norders++] = so;
    s->first[s->ncustomers] = s->norders;
  }
  if (rc < 0) {
    rc = core_store_err(t, rc, e);
    goto fail;
  }
  store_cursor_close(cur);
  return 0;
nomem:
  rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory scanning orders");
fail:
  store_cursor_close(cur);
  scan_free(s);
  return rc;
}
