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
#include "models.h"
#include "rpc.h"

#define LOY_MOVES_MAX 4096           /* tier changes announced per pass chunk */
#define LOY_CHUNK 10000              /* members per pass chunk (one write txn, ~35 ms of writer time) */
#define LOY_EXPIRE_EVERY_MS 60000    /* the periodic expiry pass */
#define LOY_HORIZON_S (30 * 86400)   /* customer.get: nothing listed, the horizon is unused */
#define LOY_NOTICE_S (7 * 86400)     /* loyalty.points_expiring: points expiring this soon */
#define LOY_SCAN_EVERY_S 86400       /* ... scanned at most once a day (daemon clock) */

_Static_assert(sizeof(((cust_loyalty_t *)0)->tier) == LOY_NAME_MAX + 1, "cust_loyalty_t.tier");

struct loyalty_rt_s {
  uv_timer_t timer;
  uint64_t gen[2];   /* per pass kind (0 expire, 1 reevaluate): the chain that may go on */
  int running[2];
  uint64_t notified, dropped;
  int64_t scanned_to;   /* expiring notices sent for dates up to here (0 = none yet) */
  int scanning, rescan;  /* a scan runs on the worker; another was asked for meanwhile */
};

/* ---------- notifications: loyalty.tier_changed after a committed write ---------- */

typedef struct tier_notice_s {
  pstr_t customer_id;        /* in the job's arena */
  loy_tier_move_t move;
  const char *reason;        /* what moved it: order, refund, award, adjust */
  int64_t at;
} tier_notice_t;

static void pack_move(msgpack_packer *pk, const char *id, size_t idn, const char *from,
                      const char *to, const char *reason, int64_t bonus, int64_t at) {
  PK_MAP(pk) {
    pk_kv_strn(pk, "customer_id", id, idn);
    if (from[0]) pk_kv_str(pk, "from", from);
    else pk_kv_nil(pk, "from");
    if (to[0]) pk_kv_str(pk, "to", to);
    else pk_kv_nil(pk, "to");
    pk_kv_str(pk, "reason", reason);
    pk_kv_int(pk, "bonus", bonus);
    pk_kv_int(pk, "at", at);
  }
}

static void pack_notice(msgpack_packer *pk, const void *ctx, size_t i) {
  const tier_notice_t *n = ctx;
  (void)i;
  pack_move(pk, n->customer_id.p, n->customer_id.n, n->move.from, n->move.to, n->reason,
            n->move.bonus, n->at);
}

/* A pass's moves (reviews, re-evaluation): reason as the tier history records it. */
static void pack_pass_move(msgpack_packer *pk, const void *ctx, size_t i) {
  const loy_pass_move_t *m = &((const loy_pass_moves_t *)ctx)->items[i];
  pack_move(pk, m->customer_id, strlen(m->customer_id), m->change.from, m->change.to,
            m->change.reason, 0, m->change.at);
}

static void publish_pass_moves(daemon_t *d, wjob_t *j) {
  struct loyalty_rt_s *lr = d->loyalty;
  const loy_pass_moves_t *mv = &((const loy_pass_result_t *)j->result)->moves;
  if (j->rc || !lr || !mv->n) return;
  models_publish(d, "loyalty.tier_changed", pack_pass_move, mv, mv->n, &lr->notified,
                 &lr->dropped);
  if (mv->more) log_warn("loyalty: more tier changes in one pass chunk than are announced");
}

static void publish_notice(daemon_t *d, wjob_t *j) {
  struct loyalty_rt_s *lr = d->loyalty;
  if (j->rc || !j->hook_data || !lr) return; /* not committed: nothing happened */
  models_publish(d, "loyalty.tier_changed", pack_notice, j->hook_data, 1, &lr->notified,
                 &lr->dropped);
}

/* Writer: remember a tier move of this job, published once the batch committed. */
static void note_move(exec_ctx_t *x, pstr_t customer, const loy_tier_move_t *m,
                      const char *reason) {
  if (!m->changed || !x->job || x->job->on_loop) return;
  tier_notice_t *n = arena_alloc(x->arena, sizeof *n);
  char *id = arena_alloc(x->arena, customer.n + 1);
  if (!n || !id) return; /* a notification is best effort; the write stands */
  memcpy(id, customer.p, customer.n);
  *n = (tier_notice_t){{id, customer.n}, *m, reason, x->now};
  x->job->hook_data = n;
  x->job->on_loop = publish_notice;
}

static const pstr_t NO_ID = {"", 0};

/* ---------- program ---------- */

static void start_pass(daemon_t *d, int reeval);

static void after_program_set(daemon_t *d, wjob_t *j) {
  loyalty_program_file_applied(d, j);
  if (j->rc == 0) start_pass(d, 1);
}

int handle_loyalty_program_set(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_program_params_t *w = p;
  loy_program_set_result_t *res = r;
  /* due expiries and reviews under the old program first (docs/LOYALTY.md) */
  int rc = loyalty_expire_run(x->txn, x->now, NO_ID, 0, &res->expired, e);
  if (!rc) rc = loyalty_program_set(x->txn, &w->program, &res->version, e);
  if (!rc && w->source_sha256) rc = loyalty_program_source_set(x->txn, w->source_sha256, e);
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

/* Members whose points expire in (from, to]: every tier's members (and those without a
 * tier), their expiring lots as of now. Runs on the worker; a scratch arena per page keeps
 * memory flat over any number of members. */
int handle_loyalty_expiring(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  const loy_expiring_params_t *q = p;
  loy_expiring_result_t *res = r;
  res->from = q->from ? q->from : x->now;
  res->to = q->to ? q->to : x->now + LOY_NOTICE_S;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  loy_program_t *prog = arena_alloc(x->arena, sizeof *prog);
  res->items = arena_alloc(x->arena, (size_t)q->limit * sizeof *res->items);
  if (!prog || !res->items) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  perr_info_t none;
  int rc = loyalty_program_get(t, prog, &none);
  if (rc == PERR_NOT_FOUND || res->to <= x->now) return 0;
  if (rc) return perr_set(e, rc, NULL, "%s", none.message);
  arena_t scratch;
  arena_init(&scratch, 0);
  char after[CORE_ID_MAX + 1];
  for (size_t k = 0; !rc && k <= prog->ntiers && !res->truncated; k++) {
    pstr_t tier = k ? (pstr_t){prog->tiers[k - 1].name, strlen(prog->tiers[k - 1].name)} : NO_ID;
    size_t after_n = 0;
    int more = 1;
    while (!rc && more && !res->truncated) {
      pstr_t *ids;
      size_t n;
      arena_reset(&scratch);
      rc = loyalty_members(t, tier, (pstr_t){after, after_n}, 1000, &scratch, &ids, &n, &more, e);
      for (size_t i = 0; !rc && i < n; i++) {
        loy_points_info_t pi;
        rc = loyalty_points(t, ids[i], x->now, res->to - x->now, 0, 0, &scratch, &pi, e);
        loy_expiring_item_t it = {{NULL, 0}, 0, 0};
        for (size_t j = 0; !rc && j < pi.nexpiring; j++) {
          if (pi.expiring[j].at <= res->from || pi.expiring[j].at > res->to) continue;
          if (!it.points) it.at = pi.expiring[j].at;
          it.points += pi.expiring[j].points;
        }
        if (rc || !it.points) continue;
        if (res->n == (size_t)q->limit) {
          res->truncated = 1;
          break;
        }
        it.customer_id.p = arena_strndup(x->arena, ids[i].p, ids[i].n);
        it.customer_id.n = ids[i].n;
        if (!it.customer_id.p) rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
        else res->items[res->n++] = it;
      }
      if (n) {
        after_n = ids[n - 1].n;
        memcpy(after, ids[n - 1].p, after_n);
      }
    }
  }
  arena_free(&scratch);
  return rc;
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
  int rc = loyalty_award(x->txn, q->customer_id, q->points, q->kind, q->key, x->now, &w->r, e);
  if (!rc) note_move(x, q->customer_id, &w->r.move, "award");
  return rc;
}

int handle_loyalty_adjust(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_adjust_params_t *q = p;
  loy_credit_wire_t *w = r;
  w->customer_id = q->customer_id;
  int rc = loyalty_adjust(x->txn, q->customer_id, q->delta, q->reason, q->key, x->now, &w->r, e);
  if (!rc) note_move(x, q->customer_id, &w->r.move, "adjust");
  return rc;
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

/* Without an active program an order earns nothing and loyalty_on_order stores nothing: it
 * would only refuse an order above LOY_MAX_NET, so only such an order goes through it then.
 * The lines' categories matter only to a program with category multipliers: the products
 * are looked up only then. (Both were half of the writer's time in a bulk import.) */
int loyalty_follow_order(exec_ctx_t *x, const order_t *o, perr_info_t *e) {
  /* 11 KiB: malloc'd, not from the arena (which zeroes it: a third of the writer's time) */
  loy_program_t *prog = malloc(sizeof *prog);
  if (!prog) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  perr_info_t none;
  int rc = loyalty_program_find(x->txn, prog, &none);
  int active = rc == 0 && prog->active;
  int by_category = rc != 0 && rc != PERR_NOT_FOUND; /* unreadable: as before */
  for (size_t i = 0; active && !by_category && i < prog->nmults; i++)
    by_category = prog->mults[i].is_category;
  free(prog);
  if (rc == PERR_NOT_FOUND || (rc == 0 && !active)) {
    int64_t sub = 0; /* validated: no overflow */
    for (size_t i = 0; i < o->nlines; i++) sub += o->lines[i].quantity * o->lines[i].unit_price;
    if (sub <= LOY_MAX_NET) return 0;
  }
  loy_line_t *lines;
  if (by_category) {
    rc = to_lines(x, x->txn, o->lines, NULL, o->nlines, &lines, e);
    if (rc) return rc;
  } else {
    lines = arena_alloc(x->arena, (o->nlines ? o->nlines : 1) * sizeof *lines);
    if (!lines) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
    for (size_t i = 0; i < o->nlines; i++)
      lines[i] = (loy_line_t){o->lines[i].product_id, {NULL, 0}, o->lines[i].quantity,
                              o->lines[i].unit_price};
  }
  loy_order_t lo = {.customer_id = o->customer_id, .order_id = o->order_id,
                    .currency = o->currency, .ts = o->ts, .lines = lines,
                    .nlines = o->nlines, .discount = o->discount};
  loy_earn_result_t er;
  rc = loyalty_on_order(x->txn, &lo, x->now, &er, e);
  if (!rc) note_move(x, o->customer_id, &er.move, "order");
  return rc;
}

int loyalty_follow_refund(exec_ctx_t *x, const refund_t *rf, perr_info_t *e) {
  loy_line_t *lines;
  int rc = to_lines(x, x->txn, rf->lines, NULL, rf->nlines, &lines, e);
  if (rc) return rc;
  loy_refund_t lr = {.order_id = rf->order_id, .refund_id = rf->refund_id,
                     .amount = rf->nlines ? 0 : rf->amount, .lines = lines,
                     .nlines = rf->nlines};
  loy_refund_result_t rr;
  if ((rc = loyalty_on_refund(x->txn, &lr, x->now, &rr, e))) return rc;
  if (rr.move.changed) { /* the refund names only the order: its customer */
    order_t o;
    int64_t refunded;
    perr_info_t ignore;
    if (core_order_get(x->txn, rf->order_id, x->arena, &o, &refunded, &ignore) == 0)
      note_move(x, o.customer_id, &rr.move, "refund");
  }
  return 0;
}

/* ---------- passes: loyalty.expire / loyalty.reevaluate, one chunk a job ---------- */

static int run_pass(exec_ctx_t *x, const void *p, void *r, int reeval, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const loy_pass_params_t *q = p;
  loy_pass_result_t *res = r;
  pstr_t after = q->after.p ? q->after : NO_ID;
  res->moves.max = LOY_MOVES_MAX;
  res->moves.items = arena_alloc(x->arena, LOY_MOVES_MAX * sizeof *res->moves.items);
  if (!res->moves.items) return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  int rc = loyalty_pass(x->txn, x->now, reeval, after, (size_t)q->limit, &res->moves, &res->r, e);
  res->unchanged = !rc && res->r.changed == 0; /* then no cached answer is dropped */
  if (!rc && x->job && !x->job->on_loop) x->job->on_loop = publish_pass_moves; /* a wire call */
  return rc;
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
  publish_pass_moves(d, j);
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

static void pack_expiring(msgpack_packer *pk, const void *ctx, size_t i) {
  enc_loyalty_expiring_item(pk, &((const loy_expiring_result_t *)ctx)->items[i]);
}

static void scan_expiring(daemon_t *d);

static void after_scan(daemon_t *d, wjob_t *j) {
  struct loyalty_rt_s *lr = d->loyalty;
  const loy_expiring_result_t *r = j->result;
  if (!lr) return;
  lr->scanning = 0;
  if (j->rc) return;
  lr->scanned_to = r->to;
  if (r->n)
    models_publish(d, "loyalty.points_expiring", pack_expiring, r, r->n, &lr->notified,
                   &lr->dropped);
  if (r->truncated) log_warn("loyalty: more members with expiring points than one scan sends");
  if (lr->rescan) {
    lr->rescan = 0;
    scan_expiring(d);
  }
}

/* Daily: notices for the points expiring within LOY_NOTICE_S that no earlier scan covered;
 * consecutive windows tile, so each date is announced once (per daemon run). */
static void scan_expiring(daemon_t *d) {
  struct loyalty_rt_s *lr = d->loyalty;
  exec_ctx_t x = {.d = d};
  exec_clock(&x);
  int64_t to = x.now + LOY_NOTICE_S;
  if (lr->scanning) {
    lr->rescan = 1;
    return;
  }
  if ((lr->scanned_to && to - lr->scanned_to < LOY_SCAN_EVERY_S)) return;
  wjob_t *j = job_new(METHOD_loyalty_expiring, 0);
  if (!j) return;
  loy_expiring_params_t *q = j->params;
  q->from = lr->scanned_to > x.now ? lr->scanned_to : x.now;
  q->to = to;
  q->limit = 100000;
  j->on_loop = after_scan;
  if (d->stopping || !d->worker || jobq_submit(d->worker, j)) {
    job_free(j);
    return;
  }
  lr->scanning = 1;
}

/* Whether a program was ever set (loop thread, its own read txn). */
static int have_program(daemon_t *d) {
  store_txn_t *t;
  loy_program_t *p = malloc(sizeof *p);
  perr_info_t e;
  int have = 0;
  if (p && store_txn_begin(d->store, 0, &t) == 0) {
    have = loyalty_program_get(t, p, &e) == 0;
    store_abort(t);
  }
  free(p);
  return have;
}

/* The periodic work: the expiry pass and the expiring notices (also after debug.clock).
 * Nothing without a program: a pass is a write that drops the read cache. */
static void loyalty_tick(daemon_t *d) {
  if (!d->loyalty || !have_program(d)) return;
  start_pass(d, 0);
  scan_expiring(d);
}

static void on_expire_timer(uv_timer_t *t) { loyalty_tick(t->data); }

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
  loyalty_tick(d); /* what became due at the new time */
  res->now = x->now;
  res->offset_s = (int64_t)atomic_load(&d->clock_offset_s);
  return 0;
}
