/* merge.c -- see merge.h. Rewrites, for each of the guest's orders: the CUSTOMER_ORDERS row
 * (guest \0 be64(ts) order_id -> customer \0 be64(ts) order_id) and the order record's
 * customer_id (inside its canonical part, so order.get shows the customer; a replay of the
 * original order.record under the guest id is then a conflict, see PROTOCOL.md); for each of
 * the guest's feedback rows: the record's customer_id and its AUX index row; and replaces the
 * customer row by the sum of both rows, deleting the guest row. */
#include "commerce/merge.h"

#include <string.h>

#include "commerce/feedback.h"
#include "store/record.h"

typedef struct move_s {
  pstr_t old_key, new_key; /* index rows */
  pstr_t rec_key;          /* ORDERS / FEEDBACK key */
  pstr_t rec;              /* rewritten record */
} move_t;

typedef struct moves_s {
  move_t *v;
  size_t n, cap;
} moves_t;

static int moves_push(moves_t *m, arena_t *a, move_t mv) {
  if (m->n == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 64;
    move_t *nv = arena_alloc(a, nc * sizeof *nv);
    if (!nv) return -1;
    if (m->n) memcpy(nv, m->v, m->n * sizeof *nv);
    m->v = nv;
    m->cap = nc;
  }
  m->v[m->n++] = mv;
  return 0;
}

static int dup_buf(arena_t *a, const void *p, size_t n, pstr_t *out) {
  out->p = n ? arena_memdup(a, p, n) : "";
  out->n = n;
  return out->p ? 0 : -1;
}

/* The order record v with its canon's customer_id replaced. */
static int order_rewrite(const void *v, size_t n, pstr_t cust, rec_buf_t *out) {
  rec_rd_t rd, c;
  pstr_t canon;
  if (core_ord_rec_open(v, n, &rd, &canon) || core_ord_canon_open(canon, &c)) return -1;
  (void)rec_get_str(&c);
  if (c.bad) return -1;
  rec_buf_t nc;
  rec_buf_init(&nc);
  rec_put_u8(&nc, 'o');
  rec_put_u8(&nc, 1);
  rec_put_str(&nc, cust);
  rec_put_raw(&nc, c.p, (size_t)(c.end - c.p)); /* the rest of the canon, unchanged */
  rec_put_u8(out, 'O');
  rec_put_u8(out, 1);
  rec_put_str(out, core_pstr((const char *)nc.p, nc.n));
  rec_put_raw(out, rd.p, (size_t)(rd.end - rd.p)); /* the rest of the record, unchanged */
  int bad = nc.oom || out->oom;
  rec_buf_free(&nc);
  return bad ? -1 : 0;
}

/* Collect index rows with the given prefix; for each, rewrite the record it names. */
static int collect(store_txn_t *t, arena_t *a, store_table_t idx, const rec_buf_t *prefix,
                   size_t id_skip, const rec_buf_t *new_prefix, store_table_t rec_tb,
                   pstr_t cust, int is_order, moves_t *out, perr_info_t *e) {
  store_cursor_t *c;
  int rc = store_cursor_open(t, idx, prefix->p, prefix->n, &c);
  if (rc) return core_store_err(t, rc, e);
  const void *k, *v;
  size_t kn, vn;
  int err = 0;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) > 0) {
    if (kn < prefix->n + id_skip || memcmp(k, prefix->p, prefix->n) != 0) break;
    move_t mv;
    const char *rest = (const char *)k + prefix->n;
    size_t rest_n = kn - prefix->n;
    rec_buf_t nk, nr;
    rec_buf_init(&nk);
    rec_buf_init(&nr);
    rec_put_raw(&nk, new_prefix->p, new_prefix->n);
    rec_put_raw(&nk, rest, rest_n);
    int bad = nk.oom || dup_buf(a, k, kn, &mv.old_key) || dup_buf(a, nk.p, nk.n, &mv.new_key) ||
              dup_buf(a, rest + id_skip, rest_n - id_skip, &mv.rec_key);
    rec_buf_free(&nk);
    if (bad) {
      err = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
      break;
    }
    const void *rv;
    size_t rn;
    int g = store_get(t, rec_tb, mv.rec_key.p, mv.rec_key.n, &rv, &rn);
    if (g) {
      err = g == PERR_NOT_FOUND ? core_corrupt(is_order ? "order index" : "feedback index", e)
                                : core_store_err(t, g, e);
      break;
    }
    bad = is_order ? order_rewrite(rv, rn, cust, &nr) : feedback_rewrite_customer(rv, rn, cust, &nr);
    if (bad) {
      int oom = nr.oom;
      rec_buf_free(&nr);
      err = oom ? perr_set(e, PERR_INTERNAL, NULL, "out of memory")
                : core_corrupt(is_order ? "order" : "feedback", e);
      break;
    }
    bad = dup_buf(a, nr.p, nr.n, &mv.rec) || moves_push(out, a, mv);
    rec_buf_free(&nr);
    if (bad) {
      err = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
      break;
    }
  }
  store_cursor_close(c);
  if (err) return err;
  return rc < 0 ? core_store_err(t, rc, e) : 0;
}

/* Merge the guest's last products into c's (distinct, newest ts first, top N). */
static void merge_last(cust_rec_t *c, const cust_rec_t *g) {
  core_last_acc_t l;
  l.n = 0;
  const cust_rec_t *src[2] = {c, g};
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < src[s]->nlast; i++) core_last_acc_add(&l, src[s]->last[i], src[s]->last_ts[i]);
  (void)core_last_acc_store(&l, c, NULL); /* cannot fail without an arena */
}

static int merge_rows(cust_rec_t *c, const cust_rec_t *g, int64_t now, perr_info_t *e) {
  for (size_t i = 0; i < g->ntotals; i++) {
    const cust_totals_t *gt = &g->totals[i];
    int ci = core_cust_find_currency(c, gt->currency);
    if (ci < 0) {
      if (c->ntotals >= CORE_MAX_CURRENCIES)
        return perr_set(e, PERR_INVALID_PARAMS, "guest_id",
                        "the merged customer would have orders in more than %d currencies",
                        CORE_MAX_CURRENCIES);
      ci = (int)c->ntotals++;
      memset(&c->totals[ci], 0, sizeof c->totals[ci]);
      memcpy(c->totals[ci].currency, gt->currency, 4);
    }
    cust_totals_t *ct = &c->totals[ci];
    if (!ck_add(ct->orders, gt->orders, &ct->orders) || !ck_add(ct->gross, gt->gross, &ct->gross) ||
        !ck_add(ct->refunded, gt->refunded, &ct->refunded))
      return perr_set(e, PERR_INVALID_PARAMS, "guest_id", "the merged totals would overflow");
  }
  if (g->order_count) {
    if (!c->order_count || g->first_order_at < c->first_order_at) c->first_order_at = g->first_order_at;
    if (!c->order_count || g->last_order_at > c->last_order_at) c->last_order_at = g->last_order_at;
  }
  if (!ck_add(c->order_count, g->order_count, &c->order_count) ||
      !ck_add(c->refund_count, g->refund_count, &c->refund_count))
    return perr_set(e, PERR_INVALID_PARAMS, "guest_id", "the merged counts would overflow");
  merge_last(c, g);
  if (!c->email.p) c->email = g->email;
  if (!c->name.p) c->name = g->name;
  if (!c->created_at || (g->created_at && g->created_at < c->created_at)) c->created_at = g->created_at;
  c->updated_at = now;
  return 0;
}

static int apply(store_txn_t *t, const moves_t *m, store_table_t idx, store_table_t rec_tb,
                 perr_info_t *e) {
  for (size_t i = 0; i < m->n; i++) {
    const move_t *mv = &m->v[i];
    int rc = store_del(t, idx, mv->old_key.p, mv->old_key.n);
    if (!rc) rc = store_put(t, idx, mv->new_key.p, mv->new_key.n, "", 0);
    if (!rc) rc = store_put(t, rec_tb, mv->rec_key.p, mv->rec_key.n, mv->rec.p, mv->rec.n);
    if (rc) return core_store_err(t, rc, e);
  }
  return 0;
}

int core_customer_merge(store_txn_t *t, const merge_t *m, int64_t now, merge_result_t *r,
                        perr_info_t *e) {
  int rc;
  memset(r, 0, sizeof *r);
  if ((rc = core_check_id(m->guest_id, "guest_id", e))) return rc;
  if ((rc = core_check_id(m->customer_id, "customer_id", e))) return rc;
  if (core_pstr_eq(m->guest_id, m->customer_id))
    return perr_set(e, PERR_INVALID_PARAMS, "guest_id", "guest_id equals customer_id");
  arena_t a;
  arena_init(&a, 0);
  cust_rec_t c, g;
  rec_buf_t cb, op, onp, fp, fnp, tomb;
  rec_buf_init(&tomb);
  rec_buf_init(&cb);
  rec_buf_init(&op);
  rec_buf_init(&onp);
  rec_buf_init(&fp);
  rec_buf_init(&fnp);
  moves_t om = {0}, fm = {0};
  rc = core_cust_load(t, m->customer_id, &a, &c, e);
  if (rc == PERR_NOT_FOUND) rc = perr_set(e, rc, "customer_id", "unknown customer");
  if (rc) goto out;
  rec_put_raw(&tomb, MERGE_TOMBSTONE_PREFIX, sizeof MERGE_TOMBSTONE_PREFIX);
  rec_put_raw(&tomb, m->guest_id.p, m->guest_id.n);
  if (tomb.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  rc = core_cust_load(t, m->guest_id, &a, &g, e);
  if (rc == PERR_NOT_FOUND) { /* merged before, or never seen: the tombstone tells */
    const void *into;
    size_t into_n;
    rc = store_get(t, STORE_T_AUX, tomb.p, tomb.n, &into, &into_n);
    if (rc == PERR_NOT_FOUND)
      rc = perr_set(e, PERR_NOT_FOUND, "guest_id", "unknown guest");
    else if (rc)
      rc = core_store_err(t, rc, e);
    else if (into_n != m->customer_id.n || memcmp(into, m->customer_id.p, into_n))
      rc = perr_set(e, PERR_CONFLICT, "guest_id", "guest already merged into another customer");
    goto out; /* same customer: a repeat, merged = 0 */
  }
  if (rc) goto out;
  if ((rc = merge_rows(&c, &g, now, e))) goto out;
  /* order index prefixes: id \0 */
  rec_put_raw(&op, m->guest_id.p, m->guest_id.n);
  rec_put_u8(&op, 0);
  rec_put_raw(&onp, m->customer_id.p, m->customer_id.n);
  rec_put_u8(&onp, 0);
  /* feedback index prefixes: "fb/c" \0 id \0 */
  rec_put_raw(&fp, FEEDBACK_INDEX_PREFIX, sizeof FEEDBACK_INDEX_PREFIX);
  rec_put_raw(&fp, op.p, op.n);
  rec_put_raw(&fnp, FEEDBACK_INDEX_PREFIX, sizeof FEEDBACK_INDEX_PREFIX);
  rec_put_raw(&fnp, onp.p, onp.n);
  core_cust_encode(&cb, &c);
  if (op.oom || onp.oom || fp.oom || fnp.oom || cb.oom) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto out;
  }
  if ((rc = collect(t, &a, STORE_T_CUSTOMER_ORDERS, &op, 8, &onp, STORE_T_ORDERS, m->customer_id,
                    1, &om, e)))
    goto out;
  if ((rc = collect(t, &a, STORE_T_AUX, &fp, 0, &fnp, STORE_T_FEEDBACK, m->customer_id, 0, &fm,
                    e)))
    goto out;
  /* everything checked and encoded: only store failures are possible from here */
  if ((rc = apply(t, &om, STORE_T_CUSTOMER_ORDERS, STORE_T_ORDERS, e))) goto out;
  if ((rc = apply(t, &fm, STORE_T_AUX, STORE_T_FEEDBACK, e))) goto out;
  if ((rc = store_put(t, STORE_T_CUSTOMERS, m->customer_id.p, m->customer_id.n, cb.p, cb.n)) ||
      (rc = store_del(t, STORE_T_CUSTOMERS, m->guest_id.p, m->guest_id.n)) ||
      (rc = store_put(t, STORE_T_AUX, tomb.p, tomb.n, m->customer_id.p, m->customer_id.n))) {
    rc = core_store_err(t, rc, e);
    goto out;
  }
  r->merged = 1;
  r->orders = om.n;
  r->feedback = fm.n;
out:
  rec_buf_free(&tomb);
  rec_buf_free(&cb);
  rec_buf_free(&op);
  rec_buf_free(&onp);
  rec_buf_free(&fp);
  rec_buf_free(&fnp);
  arena_free(&a);
  return rc;
}
