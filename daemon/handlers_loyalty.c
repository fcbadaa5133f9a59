/* handlers_loyalty.c -- the loyalty rows of the method table (loyalty.*, debug.clock), the
 * loyalty side of order.record / order.refund (same savepoint: points follow orders
 * atomically), the loyalty fields of customer.get, and the background passes: a timer on the
 * loop submits the expiry pass to the writer in chunks every LOY_EXPIRE_EVERY_MS, and a
 * program change starts a re-evaluation of every member in chunks (LOY_CHUNK members per
 * write txn). Each chunk is its own committed transaction, so reads between chunks see every
 * member either before or after its move, never half of one; a newer program change or
 * pass supersedes the chain in flight (generation counter).
 * Invariants: every time rule uses x->now (the daemon's clock, exec_clock); write handlers
 * run on the writer inside their job's savepoint; the loop-side state (struct loyalty_rt_s)
 * is touched on the loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/readcache.h"
#include "contract.h"
#include "daemon.h"
#include "log.h"

#define LOY_CHUNK 1000               /* members per pass chunk (one write txn) */
#define LOY_EXPIRE_EVERY_MS 60000    /* the periodic expiry pass */
#define LOY_HORIZON_S (30 * 86400)   /* customer.get: nothing listed, the horizon is unused */

_Static_assert(sizeof(((cust_loyalty_t *)0)->tier) == LOY_NAME_MAX + 1, "cust_loyalty_t.tier");

struct loyalty_rt_s {
  uv_timer_t timer;
  uint64_t gen[2];   /* per pass kind (0 expire, 1 reevaluate): the chain that may go on */
  int running[2];
};

static const pstr_t NO_ID = {"", 0};

/* ---------- program ---------- */

static void start_pass(daemon_t *d, int reeval);

static void after_program_set(daemon_t *d, wjob_t *j) {
  if (j->rc == 0) start_pass(d, 1);
}

int handle_loyalty_program_set(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_program_params_t *w = p;
  loy_program_set_result_t *res = r;
  /* due expiries and reviews under the old program first (docs/LOYALTY.md) */
  int rc = loyalty_expire_run(x->txn, x->now, NO_ID, 0, &res->expired, e);
  if (!rc) rc = loyalty_program_set(x->txn, &w->program, &res->version, e);
  if (!rc && x->job) x->job->on_loop = after_program_set;
  return rc;
}

int handle_loyalty_program_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  (void)p;
  store_txn_t *t = exec_txn(x, e);
  return t ? loyalty_program_get(t, &((loy_program_view_t *)r)->program, e) : e->code;
}

/* ---------- reads ---------- */

int handle_loyalty_tier(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  store_txn_t *t = exec_txn(x, e);
  return t ? loyalty_tier(t, ((const id_params_t *)p)->id, x->now, r, e) : e->code;
}

int handle_loyalty_points(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  const loy_points_params_t *q = p;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  return loyalty_points(t, q->id, x->now, q->horizon_days * 86400, (uint64_t)q->before_seq,
                        (size_t)q->limit, x->arena, r, e);
}

/* Order lines for the core: the category from the line, else from the product record (in
 * the same transaction); an unknown product has none. */
static int to_lines(exec_ctx_t *x, store_txn_t *t, const order_line_t *ol,
                    const loy_line_wire_t *wl, size_t n, loy_line_t **out, perr_info_t *e) {
  loy_line_t *l = arena_alloc(x->arena, (n ? n : 1) * sizeof *l);
  if (!l) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    l[i] = ol ? (loy_line_t){ol[i].product_id, {NULL, 0}, ol[i].quantity, ol[i].unit_price}
              : (loy_line_t){wl[i].product_id, wl[i].category, wl[i].quantity, wl[i].unit_price};
    if (l[i].category.p) continue;
    product_t prod;
    perr_info_t ignore;
    if (core_product_get(t, l[i].product_id, x->arena, &prod, &ignore) == 0 && prod.category.n)
      l[i].category = prod.category;
  }
  *out = l;
  return 0;
}

int handle_loyalty_preview(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  const loy_preview_params_t *q = p;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  loy_line_t *lines;
  int rc = to_lines(x, t, NULL, q->lines, q->nlines, &lines, e);
  if (rc) return rc;
  loy_order_t cart = {.customer_id = q->customer_id, .currency = q->currency, .lines = lines,
                      .nlines = q->nlines, .discount = q->discount};
  return loyalty_preview(t, &cart, x->now, r, e);
}

int handle_loyalty_members(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  const loy_members_params_t *q = p;
  loy_members_result_t *m = r;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  pstr_t tier = q->tier.p ? q->tier : NO_ID, after = q->after.p ? q->after : NO_ID;
  m->tier = tier;
  return loyalty_members(t, tier, after, (size_t)q->limit, x->arena, &m->ids, &m->n, &m->more,
                         e);
}

int handle_loyalty_check(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  (void)p;
  store_txn_t *t = exec_txn(x, e);
  return t ? loyalty_check(t, x->arena, &((loy_check_result_t *)r)->check, e) : e->code;
}

/* customer.get's loyalty fields: nothing when no program was ever set. */
int loyalty_customer_fields(exec_ctx_t *x, store_txn_t *t, pstr_t id, cust_loyalty_t *out,
                            perr_info_t *e) {
  memset(out, 0, sizeof *out);
  loy_program_t *prog = arena_alloc(x->arena, sizeof *prog);
  if (!prog) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  perr_info_t none;
  int rc = loyalty_program_get(t, prog, &none);
  if (rc == PERR_NOT_FOUND) return 0;
  if (rc) return perr_set(e, rc, NULL, "%s", none.message);
  loy_tier_info_t ti;
  loy_points_info_t pi;
  if ((rc = loyalty_tier(t, id, x->now, &ti, e))) return rc;
  if ((rc = loyalty_points(t, id, x->now, LOY_HORIZON_S, 0, 0, x->arena, &pi, e))) return rc;
  out->program = 1;
  out->has_tier = ti.has_tier;
  memcpy(out->tier, ti.tier.name, sizeof out->tier);
  out->points = pi.balance;
  out->pending = pi.pending;
  return 0;
}

/* ---------- writes ---------- */

int handle_loyalty_award(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_award_params_t *q = p;
  loy_credit_wire_t *w = r;
  w->customer_id = q->customer_id;
  return loyalty_award(x->txn, q->customer_id, q->points, q->kind, q->key, x->now, &w->r, e);
}

int handle_loyalty_adjust(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_adjust_params_t *q = p;
  loy_credit_wire_t *w = r;
  w->customer_id = q->customer_id;
  return loyalty_adjust(x->txn, q->customer_id, q->delta, q->reason, q->key, x->now, &w->r, e);
}

int handle_loyalty_redeem(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_redeem_params_t *q = p;
  loy_redeem_wire_t *w = r;
  w->customer_id = q->customer_id;
  w->redemption_id = q->redemption_id;
  loy_redeem_t rq = {q->customer_id, q->redemption_id, q->cart_ref.p ? q->cart_ref : NO_ID,
                     q->currency, q->points};
  return loyalty_redeem(x->txn, &rq, x->now, &w->r, e);
}

int handle_loyalty_redeem_cancel(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  loy_cancel_wire_t *w = r;
  int rc = loyalty_redeem_cancel(x->txn, ((const loy_cancel_params_t *)p)->redemption_id, x->now,
                                 &w->r, e);
  if (!rc) w->customer_id = (pstr_t){w->r.customer_id, strlen(w->r.customer_id)};
  return rc;
}

int loyalty_follow_order(exec_ctx_t *x, const order_t *o, perr_info_t *e) {
  loy_line_t *lines;
  int rc = to_lines(x, x->txn, o->lines, NULL, o->nlines, &lines, e);
  if (rc) return rc;
  loy_order_t lo = {.customer_id = o->customer_id, .order_id = o->order_id,
                    .currency = o->currency, .ts = o->ts, .lines = lines,
                    .nlines = o->nlines, .discount = o->discount};
  loy_earn_result_t er;
  return loyalty_on_order(x->txn, &lo, x->now, &er, e);
}

int loyalty_follow_refund(exec_ctx_t *x, const refund_t *rf, perr_info_t *e) {
  loy_line_t *lines;
  int rc = to_lines(x, x->txn, rf->lines, NULL, rf->nlines, &lines, e);
  if (rc) return rc;
  loy_refund_t lr = {.order_id = rf->order_id, .refund_id = rf->refund_id,
                     .amount = rf->nlines ? 0 : rf->amount, .lines = lines,
                     .nlines = rf->nlines};
  loy_refund_result_t rr;
  return loyalty_on_refund(x->txn, &lr, x->now, &rr, e);
}

/* ---------- passes: loyalty.expire / loyalty.reevaluate, one chunk a job ---------- */

static int run_pass(exec_ctx_t *x, const void *p, void *r, int reeval, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_pass_params_t *q = p;
  pstr_t after = q->after.p ? q->after : NO_ID;
  loy_batch_result_t *b = &((loy_pass_result_t *)r)->r;
  return reeval ? loyalty_reevaluate(x->txn, x->now, after, (size_t)q->limit, b, e)
                : loyalty_expire_run(x->txn, x->now, after, (size_t)q->limit, b, e);
}
int handle_loyalty_expire(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  return run_pass(x, p, r, 0, e);
}
int handle_loyalty_reevaluate(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  return run_pass(x, p, r, 1, e);
}

/* The internal chain: each finished chunk submits the next (loop thread). The job's own
 * generation rides in its msgid (internal jobs have no reply). */
static void submit_chunk(daemon_t *d, int reeval, uint64_t gen, const char *after, size_t n);

static void after_chunk(daemon_t *d, wjob_t *j) {
  struct loyalty_rt_s *lr = d->loyalty;
  int reeval = j->method == METHOD_loyalty_reevaluate;
  const loy_batch_result_t *b = &((const loy_pass_result_t *)j->result)->r;
  if (!lr || j->msgid != (uint32_t)lr->gen[reeval]) return; /* superseded */
  if (j->rc || b->done || d->stopping) {
    lr->running[reeval] = 0;
    if (reeval && !j->rc && b->done) log_notice("loyalty re-evaluation done");
    return;
  }
  submit_chunk(d, reeval, lr->gen[reeval], b->next, b->next_len);
}

static void submit_chunk(daemon_t *d, int reeval, uint64_t gen, const char *after, size_t n) {
  int method = reeval ? METHOD_loyalty_reevaluate : METHOD_loyalty_expire;
  wjob_t *j = job_new(method, 0);
  char *copy = j ? arena_alloc(&j->arena, n + 1) : NULL;
  if (!copy) {
    if (j) job_free(j);
    log_err("loyalty pass: out of memory");
    d->loyalty->running[reeval] = 0;
    return;
  }
  memcpy(copy, after, n);
  loy_pass_params_t *q = j->params;
  q->after = (pstr_t){copy, n};
  q->limit = LOY_CHUNK;
  j->msgid = (uint32_t)gen;
  j->on_loop = after_chunk;
  if (d->stopping || !d->writer || jobq_submit(d->writer, j)) {
    job_free(j);
    d->loyalty->running[reeval] = 0;
  }
}

static void start_pass(daemon_t *d, int reeval) {
  struct loyalty_rt_s *lr = d->loyalty;
  if (!lr) return;
  if (!reeval && lr->running[0]) return; /* the periodic pass: one at a time */
  lr->running[reeval] = 1;
  submit_chunk(d, reeval, ++lr->gen[reeval], "", 0);
}

static void on_expire_timer(uv_timer_t *t) { start_pass(t->data, 0); }

int loyalty_start(daemon_t *d) {
  struct loyalty_rt_s *lr = calloc(1, sizeof *lr);
  if (!lr) return -1;
  d->loyalty = lr;
  uv_timer_init(d->loop, &lr->timer);
  lr->timer.data = d;
  uv_timer_start(&lr->timer, on_expire_timer, LOY_EXPIRE_EVERY_MS, LOY_EXPIRE_EVERY_MS);
  uv_unref((uv_handle_t *)&lr->timer);
  return 0;
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void loyalty_stop(daemon_t *d) {
  struct loyalty_rt_s *lr = d->loyalty;
  if (!lr) return;
  d->loyalty = NULL; /* chains in flight stop at their next chunk */
  uv_timer_stop(&lr->timer);
  lr->timer.data = lr;
  uv_close((uv_handle_t *)&lr->timer, on_timer_closed);
}

/* ---------- debug.clock ---------- */

int handle_debug_clock(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  const debug_clock_params_t *q = p;
  debug_clock_result_t *res = r;
  daemon_t *d = x->d;
  if (!d->test_clock)
    return perr_set(e, PERR_FORBIDDEN, NULL, "debug.clock needs patrond --test-clock");
  int64_t off = q->has_offset ? q->offset_s : (int64_t)atomic_load(&d->clock_offset_s);
  atomic_store(&d->clock_offset_s, off + q->advance_s);
  /* answers computed at the old time may differ now */
  rcache_clear(d->rcache);
  rcache_bump(d->qcache);
  exec_clock(x);
  res->now = x->now;
  res->offset_s = (int64_t)atomic_load(&d->clock_offset_s);
  return 0;
}
