/* orders.c -- orders and refunds: core_order_record, core_order_refund, core_order_get,
 * core_counts. Owns the ORDERS, REFUNDS and CUSTOMER_ORDERS rows and the aggregate updates
 * of the customer row (codec in customers.c).
 *
 * Idempotency: order_id / refund_id are the keys. The client-supplied content is encoded
 * into a canonical byte string (ts exactly as sent, 0 included; refund lines without
 * unit_price; a refund's amount only when it has no lines) stored first in the record; a
 * replay whose canonical bytes are identical is a no-op (created = 0), any difference is
 * PERR_CONFLICT on order_id / refund_id. Server-set fields follow the canonical part.
 * Refunds: by lines (per product: refundable = ordered - refunded over all the order's lines
 * of that product, taken line by line in order, amount = sum qty * that line's unit_price) or
 * by amount; the order's refunded total never exceeds its total.
 * Last products: each kept with the newest order ts that contained it; a new order merges its
 * products with that ts and the list is re-sorted newest first (ties: the new order first),
 * so an older order never pushes its products in front of newer ones, yet stays exact.
 * Invariants: every check (input, stored state, overflow of every aggregate) runs before the
 * first store_put, and all records are encoded before it too.
 * Order record: 'O' 1 | uv len | canon | sv ts | sv recorded_at | sv subtotal | sv total |
 * sv refunded | sv refund_count | uv nlines { sv refunded_qty }
 * canon: 'o' 1 | str customer_id | str currency | sv ts_sent | sv discount | sv shipping |
 * sv tax | uv nlines { str product_id | sv quantity | sv unit_price }
 * Refund record: 'R' 1 | uv len | canon | sv ts | sv amount | raw[3] currency | sv recorded_at
 * canon: 'r' 1 | str order_id | sv ts_sent | uv nlines { str product_id | sv quantity }
 * [sv amount when nlines == 0]. */
#include <stdio.h>
#include <string.h>

#include "commerce/commerce.h"
#include "store/record.h"

typedef struct ord_rec_s {
  pstr_t canon;
  order_t o; /* o.ts = effective ts; o.order_id unset */
  int64_t ts_sent, recorded_at, subtotal, total, refunded, refund_count;
  int64_t *line_refunded;
} ord_rec_t;

static int oom(perr_info_t *e) { return perr_set(e, PERR_INTERNAL, NULL, "out of memory"); }

/* ---- codecs ---------------------------------------------------------------------------- */

static void order_canon(rec_buf_t *b, const order_t *o) {
  rec_put_u8(b, 'o');
  rec_put_u8(b, 1);
  rec_put_str(b, o->customer_id);
  rec_put_str(b, o->currency);
  rec_put_sv(b, o->ts);
  rec_put_sv(b, o->discount);
  rec_put_sv(b, o->shipping);
  rec_put_sv(b, o->tax);
  rec_put_uv(b, o->nlines);
  for (size_t i = 0; i < o->nlines; i++) {
    rec_put_str(b, o->lines[i].product_id);
    rec_put_sv(b, o->lines[i].quantity);
    rec_put_sv(b, o->lines[i].unit_price);
  }
}

static void order_encode(rec_buf_t *b, const ord_rec_t *r) {
  rec_put_u8(b, 'O');
  rec_put_u8(b, 1);
  rec_put_str(b, r->canon);
  rec_put_sv(b, r->o.ts);
  rec_put_sv(b, r->recorded_at);
  rec_put_sv(b, r->subtotal);
  rec_put_sv(b, r->total);
  rec_put_sv(b, r->refunded);
  rec_put_sv(b, r->refund_count);
  rec_put_uv(b, r->o.nlines);
  for (size_t i = 0; i < r->o.nlines; i++) rec_put_sv(b, r->line_refunded[i]);
}

/* Decode an order record; every string (NUL-terminated) and array is copied into a.
 * 0, -1 corrupt, -2 out of memory. */
int core_ord_rec_open(const void *v, size_t n, rec_rd_t *rd, pstr_t *canon) {
  rec_rd_init(rd, v, n);
  if (rec_get_u8(rd) != 'O' || rec_get_u8(rd) != 1) return -1;
  *canon = rec_get_str(rd);
  return rd->bad ? -1 : 0;
}

int core_ord_canon_open(pstr_t canon, rec_rd_t *c) {
  rec_rd_init(c, canon.p, canon.n);
  if (rec_get_u8(c) != 'o' || rec_get_u8(c) != 1) return -1;
  return c->bad ? -1 : 0;
}

static int order_decode(const void *v, size_t n, arena_t *a, ord_rec_t *r) {
  rec_rd_t rd, c;
  pstr_t canon;
  memset(r, 0, sizeof *r);
  if (core_ord_rec_open(v, n, &rd, &canon)) return -1;
  if (core_pstr_dup(a, canon, &r->canon)) return -2;
  if (core_ord_canon_open(r->canon, &c)) return -1;
  r->o.customer_id = rec_get_str(&c);
  r->o.currency = rec_get_str(&c);
  r->ts_sent = rec_get_sv(&c);
  r->o.discount = rec_get_sv(&c);
  r->o.shipping = rec_get_sv(&c);
  r->o.tax = rec_get_sv(&c);
  r->o.nlines = rec_get_count(&c, CORE_MAX_LINES);
  if (c.bad || r->o.nlines == 0) return -1;
  r->o.lines = arena_alloc(a, r->o.nlines * sizeof *r->o.lines);
  r->line_refunded = arena_alloc(a, r->o.nlines * sizeof *r->line_refunded);
  if (!r->o.lines || !r->line_refunded) return -2;
  for (size_t i = 0; i < r->o.nlines; i++) {
    r->o.lines[i].product_id = rec_get_str(&c);
    r->o.lines[i].quantity = rec_get_sv(&c);
    r->o.lines[i].unit_price = rec_get_sv(&c);
  }
  if (!rec_rd_done(&c)) return -1;
  /* NUL-terminated copies for readers */
  if (core_pstr_dup(a, r->o.customer_id, &r->o.customer_id) ||
      core_pstr_dup(a, r->o.currency, &r->o.currency))
    return -2;
  for (size_t i = 0; i < r->o.nlines; i++)
    if (core_pstr_dup(a, r->o.lines[i].product_id, &r->o.lines[i].product_id)) return -2;
  r->o.ts = rec_get_sv(&rd);
  r->recorded_at = rec_get_sv(&rd);
  r->subtotal = rec_get_sv(&rd);
  r->total = rec_get_sv(&rd);
  r->refunded = rec_get_sv(&rd);
  r->refund_count = rec_get_sv(&rd);
  if (rec_get_count(&rd, CORE_MAX_LINES) != r->o.nlines) return -1;
  for (size_t i = 0; i < r->o.nlines; i++) r->line_refunded[i] = rec_get_sv(&rd);
  return rec_rd_done(&rd) ? 0 : -1;
}

/* Load ORDERS[id] into a. PERR_NOT_FOUND (e set, field order_id) if absent. */
static int order_load(store_txn_t *t, pstr_t id, arena_t *a, ord_rec_t *r, perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = store_get(t, STORE_T_ORDERS, id.p, id.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "order_id", "unknown order");
  if (rc) return core_store_err(t, rc, e);
  rc = order_decode(v, vn, a, r);
  if (rc == -2) return oom(e);
  return rc ? core_corrupt("order", e) : 0;
}

static void refund_canon(rec_buf_t *b, const refund_t *rf) {
  rec_put_u8(b, 'r');
  rec_put_u8(b, 1);
  rec_put_str(b, rf->order_id);
  rec_put_sv(b, rf->ts);
  rec_put_uv(b, rf->nlines);
  for (size_t i = 0; i < rf->nlines; i++) {
    rec_put_str(b, rf->lines[i].product_id);
    rec_put_sv(b, rf->lines[i].quantity);
  }
  if (rf->nlines == 0) rec_put_sv(b, rf->amount);
}

/* ---- validation ------------------------------------------------------------------------ */

static int validate_order(const order_t *o, int64_t *subtotal, int64_t *total, perr_info_t *e) {
  int rc;
  char f[64];
  if ((rc = core_check_id(o->order_id, "order_id", e))) return rc;
  if ((rc = core_check_id(o->customer_id, "customer_id", e))) return rc;
  if (!core_currency_valid(o->currency, NULL))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  if (o->ts < 0) return perr_set(e, PERR_INVALID_PARAMS, "ts", "ts must be >= 0");
  if (o->nlines == 0 || !o->lines)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "an order needs at least one line");
  if (o->nlines > CORE_MAX_LINES)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "more than %d lines", CORE_MAX_LINES);
  int64_t sub = 0;
  /* field names ("lines[3].quantity") are formatted only for an error: once per line they
   * were a tenth of the writer's time in a bulk import */
  for (size_t i = 0; i < o->nlines; i++) {
    const order_line_t *l = &o->lines[i];
    int64_t amt;
    if (core_check_id(l->product_id, "", e)) {
      snprintf(f, sizeof f, "lines[%zu].product_id", i);
      return core_check_id(l->product_id, f, e);
    }
    if (l->quantity <= 0) {
      snprintf(f, sizeof f, "lines[%zu].quantity", i);
      return perr_set(e, PERR_INVALID_PARAMS, f, "quantity must be > 0");
    }
    if (l->unit_price < 0) {
      snprintf(f, sizeof f, "lines[%zu].unit_price", i);
      return perr_set(e, PERR_INVALID_PARAMS, f, "unit_price must be >= 0");
    }
    if (!ck_mul(l->quantity, l->unit_price, &amt) || !ck_add(sub, amt, &sub)) {
      snprintf(f, sizeof f, "lines[%zu].quantity", i);
      return perr_set(e, PERR_INVALID_PARAMS, f, "quantity * unit_price overflows");
    }
  }
  if (o->discount < 0)
    return perr_set(e, PERR_INVALID_PARAMS, "discount", "discount must be >= 0");
  if (o->discount > sub)
    return perr_set(e, PERR_INVALID_PARAMS, "discount", "discount exceeds the subtotal");
  if (o->shipping < 0)
    return perr_set(e, PERR_INVALID_PARAMS, "shipping", "shipping must be >= 0");
  if (o->tax < 0) return perr_set(e, PERR_INVALID_PARAMS, "tax", "tax must be >= 0");
  int64_t tot = sub - o->discount;
  if (!ck_add(tot, o->shipping, &tot))
    return perr_set(e, PERR_INVALID_PARAMS, "shipping", "order total overflows");
  if (!ck_add(tot, o->tax, &tot))
    return perr_set(e, PERR_INVALID_PARAMS, "tax", "order total overflows");
  *subtotal = sub;
  *total = tot;
  return 0;
}

static int validate_refund(const refund_t *rf, perr_info_t *e) {
  int rc;
  char f[64];
  if ((rc = core_check_id(rf->refund_id, "refund_id", e))) return rc;
  if ((rc = core_check_id(rf->order_id, "order_id", e))) return rc;
  if (rf->ts < 0) return perr_set(e, PERR_INVALID_PARAMS, "ts", "ts must be >= 0");
  if (rf->nlines > CORE_MAX_LINES)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "more than %d lines", CORE_MAX_LINES);
  if (rf->nlines && !rf->lines)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "lines missing");
  if (rf->nlines == 0 && rf->amount <= 0)
    return perr_set(e, PERR_INVALID_PARAMS, "amount", "amount must be > 0 (or give lines)");
  for (size_t i = 0; i < rf->nlines; i++) {
    snprintf(f, sizeof f, "lines[%zu].product_id", i);
    if ((rc = core_check_id(rf->lines[i].product_id, f, e))) return rc;
    if (rf->lines[i].quantity <= 0) {
      snprintf(f, sizeof f, "lines[%zu].quantity", i);
      return perr_set(e, PERR_INVALID_PARAMS, f, "quantity must be > 0");
    }
  }
  return 0;
}

/* ---- last products ---------------------------------------------------------------------- */

/* Merge the order's products (ts) into c's last-products list; no copies: the strings (the
 * order's and c's) must outlive c. */
static void merge_last(cust_rec_t *c, const order_t *o, int64_t ts) {
  core_last_acc_t l;
  l.n = 0;
  /* the order's first 2N distinct products: any later one has ts <= these and is never in
   * the top N unless it is in the old list (then it comes in below with its own ts) */
  for (size_t i = 0; i < o->nlines && l.n < 2 * CORE_LAST_PRODUCTS; i++)
    core_last_acc_add(&l, o->lines[i].product_id, ts);
  for (size_t j = 0; j < c->nlast; j++) core_last_acc_add(&l, c->last[j], c->last_ts[j]);
  (void)core_last_acc_store(&l, c, NULL); /* cannot fail without an arena */
}

/* ---- order.record ----------------------------------------------------------------------- */

static int put_all(store_txn_t *t, const store_table_t *tb, const pstr_t *k, const rec_buf_t *v,
                   int n, perr_info_t *e) {
  for (int i = 0; i < n; i++) {
    int rc = store_put(t, tb[i], k[i].p, k[i].n, v[i].p ? v[i].p : (const void *)"", v[i].n);
    if (rc) return core_store_err(t, rc, e);
  }
  return 0;
}

int core_order_record(store_txn_t *t, const order_t *o, int64_t now, order_result_t *res,
                      perr_info_t *e) {
  int64_t subtotal = 0, total = 0;
  int rc = validate_order(o, &subtotal, &total, e);
  if (rc) return rc;

  arena_t a;
  arena_init(&a, 0);
  rec_buf_t canon, ob, cb, ib;
  rec_buf_init(&canon);
  rec_buf_init(&ob);
  rec_buf_init(&cb);
  rec_buf_init(&ib);
  /* sized once: a varint is at most 10 bytes, a string its length and a varint */
  size_t canon_max = 2 + (10 + o->customer_id.n) + (10 + o->currency.n) + 4 * 10 + 10;
  for (size_t i = 0; i < o->nlines; i++) canon_max += 10 + o->lines[i].product_id.n + 2 * 10;
  rec_buf_grow(&canon, canon_max);
  order_canon(&canon, o);
  if (canon.oom) {
    rc = oom(e);
    goto out;
  }

  const void *v;
  size_t vn;
  rc = store_get(t, STORE_T_ORDERS, o->order_id.p, o->order_id.n, &v, &vn);
  if (rc == 0) {
    ord_rec_t old;
    rc = order_decode(v, vn, &a, &old);
    if (rc) {
      rc = rc == -2 ? oom(e) : core_corrupt("order", e);
    } else if (old.canon.n == canon.n && memcmp(old.canon.p, canon.p, canon.n) == 0) {
      res->created = 0;
      res->subtotal = old.subtotal;
      res->total = old.total;
    } else {
      rc = perr_set(e, PERR_CONFLICT, "order_id",
                    "order_id already recorded with different content");
    }
    goto out;
  }
  if (rc != PERR_NOT_FOUND) {
    rc = core_store_err(t, rc, e);
    goto out;
  }

  int64_t ts = o->ts ? o->ts : now;
  cust_rec_t c;
  /* no copies: the customer's strings are read in place and re-encoded before the first put */
  rc = core_cust_load(t, o->customer_id, NULL, &c, e);
  if (rc == PERR_NOT_FOUND) {
    memset(&c, 0, sizeof c);
    c.updated_at = now;
  } else if (rc) {
    goto out;
  }
  const char *cur = core_currency_static(o->currency);
  int ci = core_cust_find_currency(&c, cur);
  if (ci < 0) {
    if (c.ntotals >= CORE_MAX_CURRENCIES) {
      rc = perr_set(e, PERR_INVALID_PARAMS, "currency",
                    "customer already has orders in %d currencies", CORE_MAX_CURRENCIES);
      goto out;
    }
    ci = (int)c.ntotals;
    memset(&c.totals[ci], 0, sizeof c.totals[ci]);
    memcpy(c.totals[ci].currency, cur, 4);
  }
  cust_totals_t *ct = &c.totals[ci];
  if (!ck_add(ct->gross, total, &ct->gross) || !ck_add(ct->orders, 1, &ct->orders) ||
      !ck_add(c.order_count, 1, &c.order_count)) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "customer_id",
                  "the customer's %s totals would overflow", cur);
    goto out;
  }
  if ((size_t)ci == c.ntotals) c.ntotals++;
  if (c.order_count == 1 || ts < c.first_order_at) c.first_order_at = ts;
  if (c.order_count == 1 || ts > c.last_order_at) c.last_order_at = ts;
  merge_last(&c, o, ts);

  ord_rec_t r;
  memset(&r, 0, sizeof r);
  r.canon = core_pstr((const char *)canon.p, canon.n);
  r.o = *o;
  r.o.ts = ts;
  r.recorded_at = now;
  r.subtotal = subtotal;
  r.total = total;
  r.line_refunded = arena_alloc(&a, o->nlines * sizeof *r.line_refunded);
  if (!r.line_refunded) {
    rc = oom(e);
    goto out;
  }
  rec_buf_grow(&ob, 2 + 10 + canon.n + 6 * 10 + 10 + o->nlines * 10);
  order_encode(&ob, &r);
  core_cust_encode(&cb, &c);
  /* CUSTOMER_ORDERS key: customer_id \0 be64(ts) order_id */
  rec_put_raw(&ib, o->customer_id.p, o->customer_id.n);
  rec_put_u8(&ib, 0);
  for (int s = 56; s >= 0; s -= 8) rec_put_u8(&ib, (unsigned)(((uint64_t)ts >> s) & 0xff));
  rec_put_raw(&ib, o->order_id.p, o->order_id.n);
  if (ob.oom || cb.oom || ib.oom) {
    rc = oom(e);
    goto out;
  }

  /* validated and encoded: from here on only store failures are possible */
  const store_table_t tb[3] = {STORE_T_ORDERS, STORE_T_CUSTOMERS, STORE_T_CUSTOMER_ORDERS};
  const pstr_t keys[3] = {o->order_id, o->customer_id,
                          core_pstr((const char *)ib.p, ib.n)};
  rec_buf_t empty;
  rec_buf_init(&empty);
  const rec_buf_t vals[3] = {ob, cb, empty};
  rc = put_all(t, tb, keys, vals, 3, e);
  if (rc == 0) {
    res->created = 1;
    res->subtotal = subtotal;
    res->total = total;
  }
out:
  rec_buf_free(&canon);
  rec_buf_free(&ob);
  rec_buf_free(&cb);
  rec_buf_free(&ib);
  arena_free(&a);
  return rc;
}

/* ---- order.refund ----------------------------------------------------------------------- */

/* Amount of a refund by lines, applied to r->line_refunded; 0 or an error. */
static int refund_lines(const refund_t *rf, ord_rec_t *r, int64_t *amount, perr_info_t *e) {
  char f[64];
  int64_t sum = 0, left = r->total - r->refunded;
  for (size_t i = 0; i < rf->nlines; i++) {
    const order_line_t *l = &rf->lines[i];
    int64_t avail = 0, want = l->quantity;
    int found = 0;
    for (size_t k = 0; k < r->o.nlines; k++) {
      if (!core_pstr_eq(r->o.lines[k].product_id, l->product_id)) continue;
      found = 1;
      avail += r->o.lines[k].quantity - r->line_refunded[k]; /* both <= stored quantities */
    }
    snprintf(f, sizeof f, "lines[%zu].product_id", i);
    if (!found) return perr_set(e, PERR_INVALID_PARAMS, f, "product not in the order");
    snprintf(f, sizeof f, "lines[%zu].quantity", i);
    if (want > avail)
      return perr_set(e, PERR_INVALID_PARAMS, f, "only %lld left to refund for this product",
                      (long long)avail);
    for (size_t k = 0; k < r->o.nlines && want > 0; k++) {
      order_line_t *ol = &r->o.lines[k];
      if (!core_pstr_eq(ol->product_id, l->product_id)) continue;
      int64_t take = ol->quantity - r->line_refunded[k], amt;
      if (take > want) take = want;
      if (take <= 0) continue;
      if (!ck_mul(take, ol->unit_price, &amt) || !ck_add(sum, amt, &sum))
        return perr_set(e, PERR_INVALID_PARAMS, f, "refund amount overflows");
      r->line_refunded[k] += take;
      want -= take;
    }
    if (sum > left)
      return perr_set(e, PERR_INVALID_PARAMS, f,
                      "refund exceeds what is left to refund on the order (%lld)",
                      (long long)left);
  }
  *amount = sum;
  return 0;
}

int core_order_refund(store_txn_t *t, const refund_t *rf, int64_t now, refund_result_t *res,
                      perr_info_t *e) {
  int rc = validate_refund(rf, e);
  if (rc) return rc;
  arena_t a;
  arena_init(&a, 0);
  rec_buf_t canon, rb, ob, cb;
  rec_buf_init(&canon);
  rec_buf_init(&rb);
  rec_buf_init(&ob);
  rec_buf_init(&cb);
  refund_canon(&canon, rf);
  if (canon.oom) {
    rc = oom(e);
    goto out;
  }

  const void *v;
  size_t vn;
  rc = store_get(t, STORE_T_REFUNDS, rf->refund_id.p, rf->refund_id.n, &v, &vn);
  if (rc == 0) {
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    int ok = rec_get_u8(&rd) == 'R' && rec_get_u8(&rd) == 1;
    pstr_t old = rec_get_str(&rd);
    rec_get_sv(&rd); /* ts */
    int64_t amount = rec_get_sv(&rd);
    if (!ok || rd.bad) {
      rc = core_corrupt("refund", e);
    } else if (old.n != canon.n || memcmp(old.p, canon.p, canon.n) != 0) {
      rc = perr_set(e, PERR_CONFLICT, "refund_id",
                    "refund_id already recorded with different content");
    } else {
      ord_rec_t r;
      rc = order_load(t, rf->order_id, &a, &r, e);
      if (rc == 0) {
        res->created = 0;
        res->amount = amount;
        res->refunded = r.refunded;
        res->refundable = r.total - r.refunded;
        res->currency = core_pstr(core_currency_static(r.o.currency), 3);
      }
    }
    goto out;
  }
  if (rc != PERR_NOT_FOUND) {
    rc = core_store_err(t, rc, e);
    goto out;
  }

  ord_rec_t r;
  if ((rc = order_load(t, rf->order_id, &a, &r, e))) goto out;
  const char *cur = core_currency_static(r.o.currency);
  if (!cur) {
    rc = core_corrupt("order", e);
    goto out;
  }
  int64_t amount = rf->amount;
  if (rf->nlines) {
    if ((rc = refund_lines(rf, &r, &amount, e))) goto out;
  } else if (amount > r.total - r.refunded) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "amount",
                  "refund exceeds what is left to refund on the order (%lld)",
                  (long long)(r.total - r.refunded));
    goto out;
  }
  cust_rec_t c;
  rc = core_cust_load(t, r.o.customer_id, &a, &c, e);
  int ci = rc == 0 ? core_cust_find_currency(&c, cur) : -1;
  if (rc == PERR_NOT_FOUND || (rc == 0 && ci < 0)) rc = core_corrupt("customer", e);
  if (rc) goto out;
  /* refunded <= gross and the order's refunds <= its total, so these cannot overflow */
  c.totals[ci].refunded += amount;
  c.refund_count++;
  r.refunded += amount;
  r.refund_count++;
  int64_t ts = rf->ts ? rf->ts : now;

  rec_put_u8(&rb, 'R');
  rec_put_u8(&rb, 1);
  rec_put_str(&rb, core_pstr((const char *)canon.p, canon.n));
  rec_put_sv(&rb, ts);
  rec_put_sv(&rb, amount);
  rec_put_raw(&rb, cur, 3);
  rec_put_sv(&rb, now);
  order_encode(&ob, &r);
  core_cust_encode(&cb, &c);
  if (rb.oom || ob.oom || cb.oom) {
    rc = oom(e);
    goto out;
  }
  const store_table_t tb[3] = {STORE_T_REFUNDS, STORE_T_ORDERS, STORE_T_CUSTOMERS};
  const pstr_t keys[3] = {rf->refund_id, rf->order_id, r.o.customer_id};
  const rec_buf_t vals[3] = {rb, ob, cb};
  rc = put_all(t, tb, keys, vals, 3, e);
  if (rc == 0) {
    res->created = 1;
    res->amount = amount;
    res->refunded = r.refunded;
    res->refundable = r.total - r.refunded;
    res->currency = core_pstr(cur, 3);
  }
out:
  rec_buf_free(&canon);
  rec_buf_free(&rb);
  rec_buf_free(&ob);
  rec_buf_free(&cb);
  arena_free(&a);
  return rc;
}

/* ---- reads ------------------------------------------------------------------------------ */

int core_order_get(store_txn_t *t, pstr_t id, arena_t *a, order_t *out, int64_t *refunded,
                   perr_info_t *e) {
  int rc = core_check_id(id, "order_id", e);
  if (rc) return rc;
  ord_rec_t r;
  if ((rc = order_load(t, id, a, &r, e))) return rc;
  *out = r.o;
  if (core_pstr_dup(a, id, &out->order_id)) return oom(e);
  if (refunded) *refunded = r.refunded;
  return 0;
}

void core_counts(store_txn_t *t, core_counts_t *out) {
  out->products = store_count(t, STORE_T_PRODUCTS);
  out->customers = store_count(t, STORE_T_CUSTOMERS);
  out->orders = store_count(t, STORE_T_ORDERS);
  out->refunds = store_count(t, STORE_T_REFUNDS);
  out->feedback = store_count(t, STORE_T_FEEDBACK);
}
