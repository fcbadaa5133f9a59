/* ops.c -- the loyalty writes: on_order (earn), on_refund (pro-rata reversal), redeem,
 * redeem_cancel, award, adjust. Each one validates its input, answers a replay of its key
 * from the LOY_KEYS row (the first answer, even a refusal), and otherwise loads the member,
 * moves it forward to `now` (expiry, reviews), applies itself and writes everything with
 * loy_flush plus its key row, all in the caller's write txn.
 * Refund after spend: the reversal is always written in full, so the balance may go
 * negative (docs/LOYALTY.md); no point is clamped away.
 * Key rows (LOY_KEYS, kind byte + id):
 *  'o' order: 'O' 1 | str customer | sv ts | raw3 currency | sv net | sv points | uv seq |
 *     sv refunded | sv reversed | sv spend | u8 counted | sv available_at | move |
 *     uv nlines { str product_id | sv quantity | sv net }
 *  'r' refund: 'R' 1 | str order_id | sv amount | sv reversed | sv balance_after | move
 *  'd' redemption: 'D' 1 | str customer | sv points | raw3 currency | u8 status | sv value |
 *     sv balance_after | uv seq | u8 cancelled | sv cancel_balance
 *  'a' award: 'A' 1 | str customer | sv points | u8 kind | sv balance_after | move
 *  'j' adjust: 'J' 1 | str customer | sv delta | sv balance_after
 *  move = u8 changed | str from | str to | sv bonus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

#define LOY_MAX_POINTS 1000000000000LL /* per redemption / adjustment */

typedef struct op_s {
  loy_program_t p;
  int has_program;
  loy_member_t m;
  loy_fx_t fx;
} op_t;

static op_t *op_new(perr_info_t *e) {
  op_t *op = calloc(1, sizeof *op);
  if (!op) perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  return op;
}

static void op_free(op_t *op) {
  if (!op) return;
  loy_member_free(&op->m);
  loy_fx_free(&op->fx);
  free(op);
}

static int op_program(store_txn_t *w, op_t *op, perr_info_t *e) {
  int rc = loy_program_load(w, &op->p, e);
  if (rc == PERR_NOT_FOUND) {
    loyalty_program_default(&op->p);
    op->p.active = 0;
    return 0;
  }
  if (rc) return rc;
  op->has_program = 1;
  return 0;
}

/* Load the member and move it to now. */
static int op_member(store_txn_t *w, op_t *op, pstr_t customer, int64_t now, perr_info_t *e) {
  int rc = loy_member_load(w, customer, now, &op->m, e);
  if (rc) return rc;
  loy_advance(&op->p, &op->m, now, &op->fx);
  return 0;
}

static int64_t balance(const loy_member_t *m, int64_t now) {
  return m->total - loy_pending(m, now);
}

static void put_move(rec_buf_t *b, const loy_tier_move_t *mv) {
  rec_put_u8(b, mv->changed ? 1 : 0);
  rec_put_str(b, loy_cstr(mv->from));
  rec_put_str(b, loy_cstr(mv->to));
  rec_put_sv(b, mv->bonus);
}

static void get_move(rec_rd_t *r, loy_tier_move_t *mv) {
  mv->changed = rec_get_u8(r);
  loy_get_cstr(r, mv->from, LOY_NAME_MAX);
  loy_get_cstr(r, mv->to, LOY_NAME_MAX);
  mv->bonus = rec_get_sv(r);
}

static int same(pstr_t a, pstr_t b) {
  return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int conflict(perr_info_t *e, const char *field, const char *what) {
  return perr_set(e, PERR_CONFLICT, field, "%s was already used with different parameters", what);
}

/* ---- orders ------------------------------------------------------------------------- */

typedef struct ord_rec_s {
  pstr_t customer;
  int64_t ts;
  char currency[4];
  int64_t net, points;
  uint64_t seq;
  int64_t refunded, reversed, spend;
  int counted;
  int64_t available_at;
  loy_tier_move_t move;
  size_t nlines;
  rec_rd_t lines; /* positioned at the first line */
} ord_rec_t;

static int ord_decode(const void *v, size_t n, ord_rec_t *o) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  memset(o, 0, sizeof *o);
  if (rec_get_u8(&r) != 'O' || rec_get_u8(&r) != 1) return -1;
  o->customer = rec_get_str(&r);
  o->ts = rec_get_sv(&r);
  for (int k = 0; k < 3; k++) o->currency[k] = (char)rec_get_u8(&r);
  o->net = rec_get_sv(&r);
  o->points = rec_get_sv(&r);
  o->seq = rec_get_uv(&r);
  o->refunded = rec_get_sv(&r);
  o->reversed = rec_get_sv(&r);
  o->spend = rec_get_sv(&r);
  o->counted = rec_get_u8(&r);
  o->available_at = rec_get_sv(&r);
  get_move(&r, &o->move);
  o->nlines = rec_get_count(&r, CORE_MAX_LINES);
  o->lines = r;
  return r.bad ? -1 : 0;
}

static void ord_encode_head(rec_buf_t *b, const ord_rec_t *o) {
  rec_put_u8(b, 'O');
  rec_put_u8(b, 1);
  rec_put_str(b, o->customer);
  rec_put_sv(b, o->ts);
  rec_put_raw(b, o->currency, 3);
  rec_put_sv(b, o->net);
  rec_put_sv(b, o->points);
  rec_put_uv(b, o->seq);
  rec_put_sv(b, o->refunded);
  rec_put_sv(b, o->reversed);
  rec_put_sv(b, o->spend);
  rec_put_u8(b, o->counted ? 1 : 0);
  rec_put_sv(b, o->available_at);
  put_move(b, &o->move);
  rec_put_uv(b, o->nlines);
}

static void earn_answer(const ord_rec_t *o, loy_earn_result_t *r) {
  r->points = o->points;
  r->net_spend = o->net;
  r->available_at = o->available_at;
  r->move = o->move;
}

int loyalty_on_order(store_txn_t *w, const loy_order_t *o, int64_t now, loy_earn_result_t *r,
                     perr_info_t *e) {
  memset(r, 0, sizeof *r);
  int rc;
  if ((rc = core_check_id(o->customer_id, "customer_id", e))) return rc;
  if ((rc = core_check_id(o->order_id, "order_id", e))) return rc;
  const void *v;
  size_t vn;
  rc = loy_keys_get(w, 'o', o->order_id, &v, &vn, e);
  if (rc == 0) {
    ord_rec_t rec;
    if (ord_decode(v, vn, &rec)) return core_corrupt("loyalty order", e);
    if (!same(rec.customer, o->customer_id)) return conflict(e, "order_id", "order_id");
    earn_answer(&rec, r);
    return 0;
  }
  if (rc != PERR_NOT_FOUND) return rc;
  rc = 0;
  op_t *op = op_new(e);
  if (!op) return PERR_INTERNAL;
  int64_t *line_net = malloc((o->nlines ? o->nlines : 1) * sizeof *line_net);
  int64_t ts = o->ts ? o->ts : now, net = 0, points = 0;
  if (!line_net) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  if (!rc) rc = op_program(w, op, e);
  if (!rc) rc = loy_earn_compute(&op->p, o, -1, &net, &points, line_net, e);
  if (!rc && !op->p.active) {
    r->inactive = 1;
    goto done;
  }
  if (!rc) rc = op_member(w, op, o->customer_id, now, e);
  if (rc) goto done;
  loy_member_t *m = &op->m;
  rc = loy_earn_compute(&op->p, o, loy_tier_index(&op->p, m->tier), &net, &points, line_net, e);
  if (rc) goto done;
  ord_rec_t rec;
  memset(&rec, 0, sizeof rec);
  rec.customer = o->customer_id;
  rec.ts = ts;
  memcpy(rec.currency, o->currency.p, 3);
  rec.net = net;
  rec.points = points;
  rec.available_at = ts + (int64_t)op->p.pending_days * LOY_DAY;
  rec.spend =
      op->p.basis == LOY_BASIS_SPEND && memcmp(op->p.tier_currency, rec.currency, 3) == 0 ? net : 0;
  rec.counted = 1;
  if (points > 0) {
    rec.seq = m->next_seq;
    loy_add_entry(&op->p, m, &op->fx, LOY_E_EARN, points, now, rec.available_at, 0, o->order_id,
                  o->order_id);
  }
  loy_qualify(m, ts, points, rec.spend, 1);
  if (ts > m->last_order_at) m->last_order_at = ts;
  loy_upgrade(&op->p, m, now, !o->import, &op->fx, &rec.move);
  rec.nlines = o->nlines;
  rc = loy_flush(w, m, &op->fx, e);
  if (!rc) {
    rec_buf_t b;
    rec_buf_init(&b);
    ord_encode_head(&b, &rec);
    for (size_t i = 0; i < o->nlines; i++) {
      rec_put_str(&b, o->lines[i].product_id);
      rec_put_sv(&b, o->lines[i].quantity);
      rec_put_sv(&b, line_net[i]);
    }
    rc = loy_keys_put(w, 'o', o->order_id, &b, e);
    rec_buf_free(&b);
  }
  if (!rc) {
    r->created = 1;
    earn_answer(&rec, r);
  }
done:
  free(line_net);
  op_free(op);
  return rc;
}

/* ---- refunds ------------------------------------------------------------------------ */

/* Net amount of the refunded lines: each line's net share, pro rata to the quantity. */
static int refund_lines_amount(const loy_refund_t *rf, const ord_rec_t *rec, int64_t *amount,
                               perr_info_t *e) {
  *amount = 0;
  for (size_t i = 0; i < rf->nlines; i++) {
    const loy_line_t *l = &rf->lines[i];
    int rc;
    if ((rc = core_check_id(l->product_id, "lines.product_id", e))) return rc;
    if (l->quantity <= 0)
      return perr_set(e, PERR_INVALID_PARAMS, "lines.quantity", "quantity must be > 0");
    rec_rd_t r = rec->lines;
    int found = 0;
    for (size_t k = 0; k < rec->nlines && !r.bad && !found; k++) {
      pstr_t pid = rec_get_str(&r);
      int64_t q = rec_get_sv(&r), ln = rec_get_sv(&r);
      if (!same(pid, l->product_id)) continue;
      found = 1;
      if (l->quantity > q)
        return perr_set(e, PERR_INVALID_PARAMS, "lines.quantity", "more than was ordered");
      *amount += (int64_t)((__int128)ln * l->quantity / q);
    }
    if (r.bad) return core_corrupt("loyalty order", e);
    if (!found)
      return perr_set(e, PERR_INVALID_PARAMS, "lines.product_id", "product not in the order");
  }
  return 0;
}

static void refund_answer(rec_rd_t *r, loy_refund_result_t *out) {
  out->amount = rec_get_sv(r);
  out->points_reversed = rec_get_sv(r);
  out->balance_after = rec_get_sv(r);
  get_move(r, &out->move);
}

int loyalty_on_refund(store_txn_t *w, const loy_refund_t *rf, int64_t now, loy_refund_result_t *r,
                      perr_info_t *e) {
  memset(r, 0, sizeof *r);
  int rc;
  if ((rc = core_check_id(rf->refund_id, "refund_id", e))) return rc;
  if ((rc = core_check_id(rf->order_id, "order_id", e))) return rc;
  if (rf->nlines == 0 && rf->amount <= 0)
    return perr_set(e, PERR_INVALID_PARAMS, "amount", "amount must be > 0 (or give lines)");
  if (rf->nlines > CORE_MAX_LINES)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "too many lines");
  const void *v;
  size_t vn;
  rc = loy_keys_get(w, 'r', rf->refund_id, &v, &vn, e);
  if (rc == 0) {
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    if (rec_get_u8(&rd) != 'R' || rec_get_u8(&rd) != 1) return core_corrupt("loyalty refund", e);
    if (!same(rec_get_str(&rd), rf->order_id)) return conflict(e, "refund_id", "refund_id");
    refund_answer(&rd, r);
    return rd.bad ? core_corrupt("loyalty refund", e) : 0;
  }
  if (rc != PERR_NOT_FOUND) return rc;
  rc = loy_keys_get(w, 'o', rf->order_id, &v, &vn, e);
  if (rc == PERR_NOT_FOUND) {
    r->unknown_order = 1;
    return 0;
  }
  if (rc) return rc;
  /* copy: the order row is rewritten below */
  void *copy = malloc(vn);
  if (!copy) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  memcpy(copy, v, vn);
  ord_rec_t rec;
  op_t *op = NULL;
  int64_t amount = rf->amount;
  if (ord_decode(copy, vn, &rec)) rc = core_corrupt("loyalty order", e);
  if (!rc && rf->nlines) rc = refund_lines_amount(rf, &rec, &amount, e);
  if (!rc && !(op = op_new(e))) rc = PERR_INTERNAL;
  if (!rc) rc = op_program(w, op, e);
  if (!rc) rc = op_member(w, op, rec.customer, now, e);
  if (rc) goto done;
  loy_member_t *m = &op->m;
  int64_t left = rec.net - rec.refunded;
  if (amount > left) amount = left; /* shipping/tax refunds carry no points */
  rec.refunded += amount;
  int64_t target = rec.refunded >= rec.net
                       ? rec.points
                       : (int64_t)((__int128)rec.points * rec.refunded / rec.net);
  int64_t rev = target - rec.reversed;
  rec.reversed = target;
  if (rev > 0)
    loy_add_entry(&op->p, m, &op->fx, LOY_E_REVERSE, -rev, now, now, rec.seq, rf->refund_id,
                  rf->order_id);
  int64_t spend_less = rec.spend ? amount : 0;
  int orders_less = rec.counted && rec.refunded >= rec.net ? 1 : 0;
  if (orders_less) rec.counted = 0;
  loy_qualify(m, rec.ts, -rev, -spend_less, -orders_less);
  r->amount = amount;
  r->points_reversed = rev;
  loy_refund_downgrade(&op->p, m, now, &op->fx, &r->move);
  r->balance_after = balance(m, now);
  rc = loy_flush(w, m, &op->fx, e);
  rec_buf_t b;
  rec_buf_init(&b);
  if (!rc) {
    ord_encode_head(&b, &rec);
    rec_rd_t lr = rec.lines;
    rec_put_raw(&b, lr.p, (size_t)(lr.end - lr.p));
    rc = loy_keys_put(w, 'o', rf->order_id, &b, e);
  }
  if (!rc) {
    b.n = 0;
    rec_put_u8(&b, 'R');
    rec_put_u8(&b, 1);
    rec_put_str(&b, rf->order_id);
    rec_put_sv(&b, r->amount);
    rec_put_sv(&b, r->points_reversed);
    rec_put_sv(&b, r->balance_after);
    put_move(&b, &r->move);
    rc = loy_keys_put(w, 'r', rf->refund_id, &b, e);
  }
  rec_buf_free(&b);
  if (!rc) r->created = 1;
done:
  op_free(op);
  free(copy);
  return rc;
}

/* ---- redemptions -------------------------------------------------------------------- */

const char *loyalty_redeem_status_name(int status) {
  static const char *names[] = {"accepted", "insufficient_points", "below_minimum",
                                "program_inactive"};
  return status >= 0 && status <= 3 ? names[status] : "unknown";
}

typedef struct red_rec_s {
  pstr_t customer;
  int64_t points;
  char currency[4];
  int status;
  int64_t value, balance_after;
  uint64_t seq;
  int cancelled;
  int64_t cancel_balance;
} red_rec_t;

static int red_decode(const void *v, size_t n, red_rec_t *d) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  memset(d, 0, sizeof *d);
  if (rec_get_u8(&r) != 'D' || rec_get_u8(&r) != 1) return -1;
  d->customer = rec_get_str(&r);
  d->points = rec_get_sv(&r);
  for (int k = 0; k < 3; k++) d->currency[k] = (char)rec_get_u8(&r);
  d->status = rec_get_u8(&r);
  d->value = rec_get_sv(&r);
  d->balance_after = rec_get_sv(&r);
  d->seq = rec_get_uv(&r);
  d->cancelled = rec_get_u8(&r);
  d->cancel_balance = rec_get_sv(&r);
  return rec_rd_done(&r) ? 0 : -1;
}

static int red_put(store_txn_t *w, pstr_t id, const red_rec_t *d, perr_info_t *e) {
  rec_buf_t b;
  rec_buf_init(&b);
  rec_put_u8(&b, 'D');
  rec_put_u8(&b, 1);
  rec_put_str(&b, d->customer);
  rec_put_sv(&b, d->points);
  rec_put_raw(&b, d->currency, 3);
  rec_put_u8(&b, (unsigned)d->status);
  rec_put_sv(&b, d->value);
  rec_put_sv(&b, d->balance_after);
  rec_put_uv(&b, d->seq);
  rec_put_u8(&b, d->cancelled ? 1 : 0);
  rec_put_sv(&b, d->cancel_balance);
  int rc = loy_keys_put(w, 'd', id, &b, e);
  rec_buf_free(&b);
  return rc;
}

static void red_answer(const red_rec_t *d, loy_redeem_result_t *r) {
  r->status = d->status;
  r->points = d->points;
  r->value = d->value;
  memcpy(r->currency, d->currency, 3);
  r->currency[3] = 0;
  r->balance_after = d->balance_after;
  r->cancelled = d->cancelled;
}

int loyalty_redeem(store_txn_t *w, const loy_redeem_t *rq, int64_t now, loy_redeem_result_t *r,
                   perr_info_t *e) {
  memset(r, 0, sizeof *r);
  int rc;
  if ((rc = core_check_id(rq->customer_id, "customer_id", e))) return rc;
  if ((rc = core_check_id(rq->redemption_id, "redemption_id", e))) return rc;
  if ((rc = core_check_text(rq->cart_ref, CORE_ID_MAX, "cart_ref", e))) return rc;
  if (!core_currency_static(rq->currency))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  if (rq->points <= 0 || rq->points > LOY_MAX_POINTS)
    return perr_set(e, PERR_INVALID_PARAMS, "points", "points must be 1..1e12");
  const void *v;
  size_t vn;
  red_rec_t d;
  rc = loy_keys_get(w, 'd', rq->redemption_id, &v, &vn, e);
  if (rc == 0) {
    if (red_decode(v, vn, &d)) return core_corrupt("loyalty redemption", e);
    if (!same(d.customer, rq->customer_id) || d.points != rq->points ||
        memcmp(d.currency, rq->currency.p, 3) != 0)
      return conflict(e, "redemption_id", "redemption_id");
    red_answer(&d, r);
    return 0;
  }
  if (rc != PERR_NOT_FOUND) return rc;
  op_t *op = op_new(e);
  if (!op) return PERR_INTERNAL;
  memset(&d, 0, sizeof d);
  d.customer = rq->customer_id;
  d.points = rq->points;
  memcpy(d.currency, rq->currency.p, 3);
  const loy_rate_t *rate = NULL;
  rc = op_program(w, op, e);
  if (rc) goto done;
  for (size_t i = 0; i < op->p.nredeem; i++)
    if (memcmp(op->p.redeem[i].currency, d.currency, 3) == 0) rate = &op->p.redeem[i];
  if (!op->p.active) {
    d.status = LOY_REDEEM_PROGRAM_INACTIVE;
  } else if (!rate) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "currency", "no redemption value for this currency");
    goto done;
  } else {
    if ((rc = op_member(w, op, rq->customer_id, now, e))) goto done;
    loy_member_t *m = &op->m;
    if (rq->points < op->p.redeem_min_points) {
      d.status = LOY_REDEEM_BELOW_MINIMUM;
    } else if (!m->exists || balance(m, now) < rq->points) {
      d.status = LOY_REDEEM_INSUFFICIENT_POINTS;
    } else {
      d.status = LOY_REDEEM_ACCEPTED;
      d.seq = m->next_seq;
      d.value = (int64_t)((__int128)rq->points * rate->per_minor / rate->points);
      loy_add_entry(&op->p, m, &op->fx, LOY_E_REDEEM, -rq->points, now, now, 0, rq->redemption_id,
                    rq->cart_ref.n ? rq->cart_ref : rq->redemption_id);
    }
    d.balance_after = balance(m, now);
    if (m->exists) rc = loy_flush(w, m, &op->fx, e); /* expiry written even on a refusal */
  }
  if (!rc) rc = red_put(w, rq->redemption_id, &d, e);
  if (!rc) {
    red_answer(&d, r);
    r->created = 1;
  }
done:
  op_free(op);
  return rc;
}

int loyalty_redeem_cancel(store_txn_t *w, pstr_t redemption_id, int64_t now, loy_cancel_result_t *r,
                          perr_info_t *e) {
  memset(r, 0, sizeof *r);
  int rc;
  if ((rc = core_check_id(redemption_id, "redemption_id", e))) return rc;
  const void *v;
  size_t vn;
  rc = loy_keys_get(w, 'd', redemption_id, &v, &vn, e);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, "redemption_id", "no such redemption");
  if (rc) return rc;
  void *copy = malloc(vn);
  if (!copy) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  memcpy(copy, v, vn);
  red_rec_t d;
  op_t *op = NULL;
  if (red_decode(copy, vn, &d))
    rc = core_corrupt("loyalty redemption", e);
  else if (d.status != LOY_REDEEM_ACCEPTED)
    rc = perr_set(e, PERR_CONFLICT, "redemption_id", "that redemption was not accepted");
  if (!rc && d.customer.n <= CORE_ID_MAX) memcpy(r->customer_id, d.customer.p, d.customer.n);
  if (!rc && d.cancelled) {
    r->points_returned = d.points;
    r->balance_after = d.cancel_balance;
    goto done;
  }
  if (!rc && !(op = op_new(e))) rc = PERR_INTERNAL;
  if (!rc) rc = op_program(w, op, e);
  if (!rc) rc = op_member(w, op, d.customer, now, e);
  if (rc) goto done;
  loy_add_entry(&op->p, &op->m, &op->fx, LOY_E_REDEEM_CANCEL, d.points, now, now, d.seq,
                redemption_id, redemption_id);
  op->fx.cancel_seq = d.seq;
  d.cancelled = 1;
  d.cancel_balance = balance(&op->m, now);
  rc = loy_flush(w, &op->m, &op->fx, e);
  if (!rc) rc = red_put(w, redemption_id, &d, e);
  if (!rc) {
    r->created = 1;
    r->points_returned = d.points;
    r->balance_after = d.cancel_balance;
  }
done:
  op_free(op);
  free(copy);
  return rc;
}

/* ---- awards and adjustments --------------------------------------------------------- */

const char *loyalty_award_kind_name(int kind) {
  static const char *names[] = {"signup", "birthday", "review", "custom"};
  return kind >= 0 && kind <= 3 ? names[kind] : "unknown";
}

/* Shared by award ('a') and adjust ('j'). */
static int credit(store_txn_t *w, char kind, pstr_t customer, int64_t points, int award_kind,
                  pstr_t source, pstr_t key, int64_t now, loy_credit_result_t *r, perr_info_t *e) {
  memset(r, 0, sizeof *r);
  int rc;
  if ((rc = core_check_id(customer, "customer_id", e))) return rc;
  if ((rc = core_check_id(key, "key", e))) return rc;
  const void *v;
  size_t vn;
  rc = loy_keys_get(w, kind, key, &v, &vn, e);
  if (rc == 0) {
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    if (rec_get_u8(&rd) != (unsigned)(kind - 32) || rec_get_u8(&rd) != 1)
      return core_corrupt("loyalty key", e);
    pstr_t c = rec_get_str(&rd);
    int64_t pts = rec_get_sv(&rd);
    int k = kind == 'a' ? (int)rec_get_u8(&rd) : award_kind;
    if (!same(c, customer) || pts != points || k != award_kind) return conflict(e, "key", "key");
    r->points = pts;
    r->balance_after = rec_get_sv(&rd);
    if (kind == 'a') get_move(&rd, &r->move);
    return rd.bad ? core_corrupt("loyalty key", e) : 0;
  }
  if (rc != PERR_NOT_FOUND) return rc;
  op_t *op = op_new(e);
  if (!op) return PERR_INTERNAL;
  if ((rc = op_program(w, op, e)) || (rc = op_member(w, op, customer, now, e))) goto done;
  loy_member_t *m = &op->m;
  int type = kind == 'a' ? LOY_E_AWARD : LOY_E_ADJUST;
  loy_add_entry(&op->p, m, &op->fx, type, points, now, now, 0, key, source);
  if (kind == 'a') {
    loy_qualify(m, now, points, 0, 0);
    loy_upgrade(&op->p, m, now, 1, &op->fx, &r->move);
  }
  r->points = points;
  r->balance_after = balance(m, now);
  rc = loy_flush(w, m, &op->fx, e);
  if (!rc) {
    rec_buf_t b;
    rec_buf_init(&b);
    rec_put_u8(&b, (unsigned)(kind - 32)); /* 'A' / 'J' */
    rec_put_u8(&b, 1);
    rec_put_str(&b, customer);
    rec_put_sv(&b, points);
    if (kind == 'a') rec_put_u8(&b, (unsigned)award_kind);
    rec_put_sv(&b, r->balance_after);
    if (kind == 'a') put_move(&b, &r->move);
    rc = loy_keys_put(w, kind, key, &b, e);
    rec_buf_free(&b);
  }
  if (!rc) r->created = 1;
done:
  op_free(op);
  return rc;
}

int loyalty_award(store_txn_t *w, pstr_t customer_id, int64_t points, int kind, pstr_t key,
                  int64_t now, loy_credit_result_t *r, perr_info_t *e) {
  if (points <= 0 || points > 1000000000)
    return perr_set(e, PERR_INVALID_PARAMS, "points", "points must be 1..1e9");
  if (kind < LOY_AWARD_SIGNUP || kind > LOY_AWARD_CUSTOM)
    return perr_set(e, PERR_INVALID_PARAMS, "kind",
                    "kind must be signup, birthday, review or custom");
  const char *name = loyalty_award_kind_name(kind);
  return credit(w, 'a', customer_id, points, kind, core_pstr(name, strlen(name)), key, now, r, e);
}

int loyalty_adjust(store_txn_t *w, pstr_t customer_id, int64_t delta, pstr_t reason, pstr_t key,
                   int64_t now, loy_credit_result_t *r, perr_info_t *e) {
  if (delta == 0 || delta > LOY_MAX_POINTS || delta < -LOY_MAX_POINTS)
    return perr_set(e, PERR_INVALID_PARAMS, "delta", "delta must be non-zero, |delta| <= 1e12");
  if (!reason.p || reason.n == 0)
    return perr_set(e, PERR_INVALID_PARAMS, "reason", "reason is required");
  int rc = core_check_text(reason, 256, "reason", e);
  if (rc) return rc;
  return credit(w, 'j', customer_id, delta, 0, reason, key, now, r, e);
}
