/* handlers.c -- the handler column of the method table (methods.def): one function a method,
 * turning decoded params into a result through the core. Writes run on the writer thread
 * inside the batch transaction; reads run on the loop thread on a read snapshot. Strings in
 * results must outlive the transaction: write handlers copy them into the job's arena. */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "commerce/commerce.h"
#include "contract.h"
#include "daemon.h"
#include "base/readcache.h"
#include "metrics.h"
#include "model_clv.h"
#include "model_fleet.h"
#include "offers/offers.h"

int handle_ping(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  (void)p; (void)e;
  ((ping_result_t *)r)->time = x->now;
  return 0;
}

int handle_health(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  health_result_t *h = r;
  perr_info_t ignore;
  (void)p; (void)e;
  int store_ok = exec_txn(x, &ignore) != NULL;
  int threads_ok = x->d->writer != NULL && x->d->worker != NULL;
  h->uptime_s = (int64_t)((clock_mono_ms() - x->d->started_ms) / 1000);
  /* a shared store: stale once the feed has not held every committed write for 3 polls
   * (the database is unreachable or the feed is behind); reads are still served */
  store_feed_stats_t fs;
  store_feed_stats(x->d->store, &fs);
  h->shared = fs.shared;
  h->staleness_ms = fs.caught_up_ms ? clock_mono_ms() - fs.caught_up_ms : (uint64_t)h->uptime_s * 1000;
  h->stale = fs.shared && (!fs.connected || h->staleness_ms > 3 * fs.wait_ms_max + 1000);
  if (h->stale)
    snprintf(h->reason_buf, sizeof h->reason_buf,
             "stale: the change feed %s (%llu ms since the local copy was current); reads "
             "are served from it", fs.connected ? "is behind" : "cannot reach the database",
             (unsigned long long)h->staleness_ms);
  /* a shared store whose feed has heard from the database since the last failed write: the
   * database is back, so that failure no longer says anything about the next write */
  int fault = x->d->write_fault[0] &&
              !(fs.shared && fs.connected && fs.caught_up_ms > x->d->write_fault_ms);
  h->ok = store_ok && threads_ok && !fault && !h->stale;
  h->status = x->d->stopping ? "stopping" : h->ok ? "ok" : "degraded";
  h->reason = h->ok ? NULL
              : !store_ok ? "store unreadable"
              : !threads_ok ? "writer or worker thread not running"
              : fault ? x->d->write_fault /* writes fail: disk full, map full,
                                                           * I/O error, database down */
              : h->reason_buf;
  h->write_queue = atomic_load(&x->d->write_queue);
  h->version = PATRON_VERSION_STR;
  model_fleet_view(x->d, &h->model_fleet);
  return 0;
}

int handle_stats(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  daemon_t *d = x->d;
  stats_result_t *s = r;
  (void)p;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  s->version = PATRON_VERSION_STR;
  s->uptime_s = (int64_t)((clock_mono_ms() - d->started_ms) / 1000);
  s->conns_current = d->nconns;
  s->conns_total = d->c.conns_total;
  s->conns_rejected = d->c.conns_rejected;
  s->conns_closed_limit = d->c.conns_closed_limit;
  s->conns_evicted_idle = d->c.conns_evicted_idle;
  s->conns_closed_write_timeout = d->c.conns_closed_write_timeout;
  s->conns_closed_memory = d->c.conns_closed_memory;
  s->conns_tls_refused = d->c.tls_handshake_failures;
  s->protocol_errors = d->c.protocol_errors;
  s->requests = d->c.requests;
  s->errors = d->c.errors;
  s->bytes_in = d->c.bytes_in;
  s->bytes_out = d->c.bytes_out;
  s->writes_committed = atomic_load(&d->writes_committed);
  s->write_batches = atomic_load(&d->write_batches);
  s->write_failures = atomic_load(&d->write_failures);
  s->write_queue = atomic_load(&d->write_queue);
  metrics_sample_process(d);
  s->rss_bytes = d->sample.rss_bytes;
  s->peak_rss_bytes = d->sample.peak_rss_bytes;
  s->store_bytes = d->sample.store_bytes;
  s->store_backend = store_backend_name(d->store);
  store_feed_stats(d->store, &s->feed);
  if (s->feed.shared)
    s->feed_staleness_ms = s->feed.caught_up_ms ? clock_mono_ms() - s->feed.caught_up_ms : 0;
  model_fleet_view(d, &s->model_fleet);
  core_counts(t, &s->counts);
  memcpy(s->by_method, d->c.by_method, sizeof s->by_method);
  rcache_t *caches[2] = {d->rcache, d->qcache}; /* by id, by query: reported together */
  for (int i = 0; i < 2; i++) {
    rcache_stats_t cs;
    if (!caches[i]) continue;
    rcache_stats(caches[i], &cs);
    s->cache_hits += cs.hits;
    s->cache_misses += cs.misses;
    s->cache_entries += cs.entries;
    s->cache_bytes += cs.bytes;
    s->cache_evictions += cs.evictions;
  }
  return 0;
}

int handle_product_upsert(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const product_t *prod = p;
  upsert_result_t *u = r;
  int rc = core_product_upsert(x->txn, prod, x->now, e);
  if (rc) return rc;
  u->id = prod->id;
  u->updated_at = x->now;
  return 0;
}

int handle_customer_upsert(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const customer_t *c = p;
  upsert_result_t *u = r;
  int rc = core_customer_upsert(x->txn, c, x->now, e);
  if (rc) return rc;
  u->id = c->id;
  u->updated_at = x->now;
  return 0;
}

int handle_product_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  store_txn_t *t = exec_txn(x, e);
  return t ? core_product_get(t, ((const id_params_t *)p)->id, x->arena, r, e) : e->code;
}

/* The profile from the store, the analytics from the one installed CLV snapshot (a lookup:
 * the scores were computed when the model was built, as of its as_of). */
int handle_customer_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  customer_view_t *v = r;
  pstr_t id = ((const id_params_t *)p)->id;
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  int rc = core_customer_get(t, id, x->arena, &v->profile, e);
  if (rc) return rc;
  const clv_snap_t *s = clv_model_current(x->d);
  clv_snap_analytics(s, s ? clv_snap_find(s, id.p, id.n) : NULL, &v->an);
  return loyalty_customer_fields(x, t, id, &v->loy, e);
}

int handle_order_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  order_view_t *v = r;
  store_txn_t *t = exec_txn(x, e);
  return t ? core_order_get(t, ((const id_params_t *)p)->id, x->arena, &v->order, &v->refunded, e)
           : e->code;
}

/* A new order is also credited, in the same transaction, to the offers the customer was
 * exposed to within their attribution windows (docs/OFFERS.md section 5). */
int handle_order_record(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  const order_t *o = p;
  order_result_t *res = r;
  int rc = core_order_record(x->txn, o, x->now, res, e);
  if (rc || !res->created) return rc; /* a replay earned and was credited with the first call */
  /* same savepoint: points follow the order (not at all when it predates the program) */
  if ((rc = loyalty_follow_order(x, p, e))) return rc;
  char *oid = arena_strndup(x->arena, o->order_id.p, o->order_id.n);
  char *cid = arena_strndup(x->arena, o->customer_id.p, o->customer_id.n);
  char *cur = arena_strndup(x->arena, o->currency.p, o->currency.n);
  if (!oid || !cid || !cur) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int linked = 0;
  bool replay = false;
  return offers_attribute_order(x->txn, oid, cid, o->ts ? o->ts : x->now, res->total, cur,
                                &linked, &replay, e);
}

int handle_order_refund(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  refund_result_t *rr = r;
  int rc = core_order_refund(x->txn, p, x->now, rr, e);
  if (rc == 0 && rr->created) rc = loyalty_follow_refund(x, p, e); /* same savepoint */
  if (rc == 0) { /* the currency points into the transaction: keep a copy */
    rr->currency.p = arena_strndup(x->arena, rr->currency.p, rr->currency.n);
    if (!rr->currency.p) rr->currency.n = 0;
    /* whose profile changed (the read cache drops it); the order is in this transaction */
    order_t o;
    int64_t refunded;
    perr_info_t ignore;
    if (core_order_get(x->txn, ((const refund_t *)p)->order_id, x->arena, &o, &refunded, &ignore) == 0)
      rr->customer_id = o.customer_id;
  }
  return rc;
}

const method_exec_fn handler_table[METHOD__COUNT] = {
#define XX(id, name, pt, rt, flags, cache, data, affects, raw, summary) [METHOD_##id] = handle_##id,
#include "methods.def"
#undef XX
};
