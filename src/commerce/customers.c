/* customers.c -- customers and the customer profile: core_customer_upsert,
 * core_customer_get, and the CUSTOMERS record codec shared with orders.c (record.h).
 *
 * Upsert semantics (merge): email and name overwrite when given (pstr.p != NULL) and are
 * kept when absent; created_at overwrites when non-zero (0 = keep / unknown). The upsert sets
 * known = 1 and updated_at = now and never touches the order/refund aggregates, which only
 * orders.c changes. Error fields: customer_id, email, name, created_at.
 * Invariants: at most CORE_MAX_CURRENCIES totals, in order of first use; for each,
 * 0 <= refunded <= gross; last products are distinct, at most CORE_LAST_PRODUCTS, ordered by
 * their newest order ts (descending).
 * Record: 'C' 1 | u8 known | optstr email | optstr name | sv created_at | sv updated_at |
 * sv first_order_at | sv last_order_at | sv order_count | sv refund_count | uv ntotals
 * { raw[3] currency | sv orders | sv gross | sv refunded } | uv nlast { str id | sv ts }. */
#include <string.h>

#include "commerce/commerce.h"
#include "store/record.h"

void core_cust_encode(rec_buf_t *b, const cust_rec_t *c) {
  rec_put_u8(b, 'C');
  rec_put_u8(b, 1);
  rec_put_u8(b, c->known ? 1 : 0);
  rec_put_optstr(b, c->email);
  rec_put_optstr(b, c->name);
  rec_put_sv(b, c->created_at);
  rec_put_sv(b, c->updated_at);
  rec_put_sv(b, c->first_order_at);
  rec_put_sv(b, c->last_order_at);
  rec_put_sv(b, c->order_count);
  rec_put_sv(b, c->refund_count);
  rec_put_uv(b, c->ntotals);
  for (size_t i = 0; i < c->ntotals; i++) {
    rec_put_raw(b, c->totals[i].currency, 3);
    rec_put_sv(b, c->totals[i].orders);
    rec_put_sv(b, c->totals[i].gross);
    rec_put_sv(b, c->totals[i].refunded);
  }
  rec_put_uv(b, c->nlast);
  for (size_t i = 0; i < c->nlast; i++) {
    rec_put_str(b, c->last[i]);
    rec_put_sv(b, c->last_ts[i]);
  }
}

/* The leading fields (up to order_count) of a record; rd left after them. */
static int cust_decode_head(rec_rd_t *r, cust_rec_t *c) {
  if (rec_get_u8(r) != 'C' || rec_get_u8(r) != 1) return -1;
  c->known = rec_get_u8(r) != 0;
  c->email = rec_get_optstr(r);
  c->name = rec_get_optstr(r);
  c->created_at = rec_get_sv(r);
  c->updated_at = rec_get_sv(r);
  c->first_order_at = rec_get_sv(r);
  c->last_order_at = rec_get_sv(r);
  c->order_count = rec_get_sv(r);
  return r->bad ? -1 : 0;
}

static int cust_decode(const void *v, size_t n, cust_rec_t *c) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  memset(c, 0, sizeof *c);
  if (cust_decode_head(&r, c)) return -1;
  c->refund_count = rec_get_sv(&r);
  c->ntotals = rec_get_count(&r, CORE_MAX_CURRENCIES);
  for (size_t i = 0; i < c->ntotals && !r.bad; i++) {
    for (int k = 0; k < 3; k++) c->totals[i].currency[k] = (char)rec_get_u8(&r);
    c->totals[i].orders = rec_get_sv(&r);
    c->totals[i].gross = rec_get_sv(&r);
    c->totals[i].refunded = rec_get_sv(&r);
  }
  c->nlast = rec_get_count(&r, CORE_LAST_PRODUCTS);
  for (size_t i = 0; i < c->nlast && !r.bad; i++) {
    c->last[i] = rec_get_str(&r);
    c->last_ts[i] = rec_get_sv(&r);
  }
  return rec_rd_done(&r) ? 0 : -1;
}

int core_cust_load(store_txn_t *t, pstr_t id, arena_t *a, cust_rec_t *c, perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = store_get(t, STORE_T_CUSTOMERS, id.p, id.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return rc;
  if (rc) return core_store_err(t, rc, e);
  if (cust_decode(v, vn, c) != 0) return core_corrupt("customer", e);
  if (!a) return 0;
  int bad = core_pstr_dup(a, c->email, &c->email) || core_pstr_dup(a, c->name, &c->name);
  for (size_t i = 0; i < c->nlast && !bad; i++) bad = core_pstr_dup(a, c->last[i], &c->last[i]);
  return bad ? perr_set(e, PERR_INTERNAL, NULL, "out of memory") : 0;
}

int core_customer_order_counts(store_txn_t *t, pstr_t id, int64_t *order_count,
                               int64_t *last_order_at) {
  const void *v;
  size_t vn;
  perr_info_t ignore;
  if (core_check_id(id, "customer_id", &ignore)) return PERR_NOT_FOUND;
  int rc = store_get(t, STORE_T_CUSTOMERS, id.p, id.n, &v, &vn);
  if (rc) return rc;
  rec_rd_t r; /* cust_decode_head's reads (the same refusals), the values not read skipped */
  rec_rd_init(&r, v, vn);
  if (rec_get_u8(&r) != 'C' || rec_get_u8(&r) != 1) return PERR_INTERNAL;
  (void)rec_get_u8(&r); /* known */
  (void)rec_get_optstr(&r); /* email */
  (void)rec_get_optstr(&r); /* name */
  for (int i = 0; i < 3; i++) rec_skip_uv(&r); /* created_at, updated_at, first_order_at */
  int64_t last = rec_get_sv_inline(&r), count = rec_get_sv_inline(&r);
  if (r.bad) return PERR_INTERNAL; /* core_cust_load: corrupt */
  *order_count = count;
  *last_order_at = last;
  return 0;
}

int core_cust_find_currency(const cust_rec_t *c, const char *cur) {
  for (size_t i = 0; i < c->ntotals; i++)
    if (memcmp(c->totals[i].currency, cur, 3) == 0) return (int)i;
  return -1;
}

int core_customer_upsert(store_txn_t *t, const customer_t *in, int64_t now, perr_info_t *e) {
  int rc;
  if ((rc = core_check_id(in->id, "customer_id", e))) return rc;
  if ((rc = core_check_text(in->email, CORE_NAME_MAX, "email", e))) return rc;
  if ((rc = core_check_text(in->name, CORE_NAME_MAX, "name", e))) return rc;
  if (in->created_at < 0)
    return perr_set(e, PERR_INVALID_PARAMS, "created_at", "created_at must be >= 0");

  arena_t a;
  arena_init(&a, 0);
  cust_rec_t c;
  rc = core_cust_load(t, in->id, &a, &c, e);
  if (rc == PERR_NOT_FOUND) {
    memset(&c, 0, sizeof c);
  } else if (rc) {
    arena_free(&a);
    return rc;
  }
  c.known = 1;
  if (in->email.p) c.email = in->email;
  if (in->name.p) c.name = in->name;
  if (in->created_at) c.created_at = in->created_at;
  c.updated_at = now;

  rec_buf_t b;
  rec_buf_init(&b);
  core_cust_encode(&b, &c);
  if (b.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  } else {
    rc = store_put(t, STORE_T_CUSTOMERS, in->id.p, in->id.n, b.p, b.n);
    if (rc) rc = core_store_err(t, rc, e);
  }
  rec_buf_free(&b);
  arena_free(&a);
  return rc;
}

/* gross / orders rounded half up (both >= 0). */
static int64_t aov(int64_t gross, int64_t orders) {
  if (orders <= 0) return 0;
  int64_t q = gross / orders, r = gross % orders;
  return (r >= orders - r) ? q + 1 : q;
}

int core_customer_get(store_txn_t *t, pstr_t id, arena_t *a, customer_profile_t *out,
                      perr_info_t *e) {
  int rc = core_check_id(id, "customer_id", e);
  if (rc) return rc;
  cust_rec_t c;
  rc = core_cust_load(t, id, a, &c, e);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "customer_id", "unknown customer");
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  if (core_pstr_dup(a, id, &out->customer.id))
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  out->customer.email = c.email;
  out->customer.name = c.name;
  out->customer.created_at = c.created_at;
  out->customer.updated_at = c.updated_at;
  out->known = c.known;
  out->first_order_at = c.first_order_at;
  out->last_order_at = c.last_order_at;
  out->order_count = c.order_count;
  out->refund_count = c.refund_count;
  out->ntotals = c.ntotals;
  for (size_t i = 0; i < c.ntotals; i++) {
    currency_totals_t *ct = &out->totals[i];
    memcpy(ct->currency, c.totals[i].currency, 3);
    ct->currency[3] = 0;
    ct->orders = c.totals[i].orders;
    ct->gross = c.totals[i].gross;
    ct->refunded = c.totals[i].refunded;
    ct->net = ct->gross - ct->refunded;
    ct->aov = aov(ct->gross, ct->orders);
  }
  out->nlast = c.nlast;
  for (size_t i = 0; i < c.nlast; i++) out->last_products[i] = c.last[i];
  return 0;
}

void core_last_acc_add(core_last_acc_t *l, pstr_t id, int64_t ts) {
  const unsigned char *p = (const unsigned char *)id.p;
  uint32_t tag = 0;
  if (id.n)
    tag = (uint32_t)(id.n & 0xff) | (uint32_t)p[0] << 8 | (uint32_t)p[id.n / 2] << 16 |
          (uint32_t)p[id.n - 1] << 24;
  size_t k = 0;
  while (k < l->n && (l->tag[k] != tag || !core_pstr_eq(l->ids[k], id))) k++;
  if (k < l->n) {
    if (ts > l->ts[k]) l->ts[k] = ts;
    return;
  }
  if (l->n == 3 * CORE_LAST_PRODUCTS) return; /* callers add at most this many */
  l->ids[l->n] = id;
  l->tag[l->n] = tag;
  l->ts[l->n++] = ts;
}

int core_last_acc_store(core_last_acc_t *l, cust_rec_t *c, arena_t *a) {
  for (size_t i = 1; i < l->n; i++) { /* stable insertion sort, newest first */
    pstr_t id = l->ids[i];
    int64_t v = l->ts[i];
    uint32_t tag = l->tag[i];
    size_t k = i;
    for (; k > 0 && l->ts[k - 1] < v; k--) {
      l->ids[k] = l->ids[k - 1];
      l->ts[k] = l->ts[k - 1];
      l->tag[k] = l->tag[k - 1];
    }
    l->ids[k] = id;
    l->ts[k] = v;
    l->tag[k] = tag;
  }
  c->nlast = l->n < CORE_LAST_PRODUCTS ? l->n : CORE_LAST_PRODUCTS;
  for (size_t i = 0; i < c->nlast; i++) {
    if (a) {
      if (core_pstr_dup(a, l->ids[i], &c->last[i])) return -1;
    } else {
      c->last[i] = l->ids[i];
    }
    c->last_ts[i] = l->ts[i];
  }
  return 0;
}
