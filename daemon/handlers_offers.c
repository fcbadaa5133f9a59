/* handlers_offers.c -- the offers wiring's lifecycle and admin methods: the served offer
 * catalogue (an immutable offers_catalog_t snapshot), the token key ring, offers.set / get /
 * list / archive and offers.reload (the key ring and offers.rotate_key: offers_keys.c).
 * Catalogue: built synchronously at start; after each committed offers.set / offers.archive
 * the loop queues an internal offers.reload job on the worker, which builds the new snapshot
 * from its own read transaction; the job's on_loop hook swaps it in and frees the old one.
 * Until the swap, offers.decide (loop thread) keeps using the old snapshot. One rebuild is in
 * flight at a time; writes meanwhile ask for one more when it lands (the worker runs jobs in
 * order, so the last snapshot installed reflects every write committed before it started).
 * Invariants: the catalogue pointer is read and swapped only on the loop thread; a ring
 * node is never changed after it is published and lives until offers_wire_destroy. */
#include <string.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "base/readcache.h"
#include "handlers_offers.h"
#include "offers_wire.h"

/* ---- the catalogue snapshot ---- */

static int catalog_build(store_t *st, offers_catalog_t **out, perr_info_t *e) {
  store_txn_t *t;
  *out = NULL;
  if (store_txn_begin(st, 0, &t)) return perr_set(e, PERR_UNAVAILABLE, NULL, "cannot read the store");
  int rc = offers_catalog_build(t, out, e);
  store_abort(t);
  return rc;
}

/* Swap in a new catalogue; the cached offers.decide answers (read cache, by query) were
 * decided with the old one: drop them. */
static void install(daemon_t *d, offers_catalog_t *c) {
  offers_catalog_free(d->offers->catalog);
  d->offers->catalog = c;
  d->offers->catalog_gen++;
  if (d->qcache) rcache_bump(d->qcache);
}

static void submit_rebuild(daemon_t *d);

/* on_loop of offers.reload (internal or from the wire): swap in what the worker built. */
static void reload_done(daemon_t *d, wjob_t *j) {
  struct offers_wire_s *w = d->offers;
  offers_catalog_t *c = j->hook_data;
  j->hook_data = NULL;
  if (!w) {
    offers_catalog_free(c);
    return;
  }
  if (c) install(d, c);
  if (!j->conn) { /* the internal rebuild */
    w->rebuilding = 0;
    if (j->rc) log_warn("offers: catalogue not rebuilt: %s", j->err.message);
    if (w->rebuild_gen) submit_rebuild(d); /* writes landed while it ran */
  }
}

static void submit_rebuild(daemon_t *d) {
  struct offers_wire_s *w = d->offers;
  if (w->rebuilding || d->stopping || !d->worker) return;
  wjob_t *j = job_new(METHOD_offers_reload, 0);
  if (!j) {
    log_err("offers: out of memory queueing the catalogue rebuild");
    return;
  }
  ((raw_params_t *)j->params)->obj.type = MSGPACK_OBJECT_NIL;
  j->on_loop = reload_done;
  if (jobq_submit(d->worker, j)) { /* worker full: build here rather than serve stale offers */
    job_free(j);
    perr_info_t e;
    offers_catalog_t *c;
    if (catalog_build(d->store, &c, &e)) log_warn("offers: catalogue not rebuilt: %s", e.message);
    else install(d, c);
    w->rebuild_gen = 0;
    return;
  }
  w->rebuilding = 1;
  w->rebuild_gen = 0;
}

void offers_wire_after_write(daemon_t *d, wjob_t *job) {
  if (job->rc || !d->offers) return;
  if (job->method != METHOD_offers_set && job->method != METHOD_offers_archive) return;
  offers_wire_reload(d);
}

void offers_wire_reload(daemon_t *d) {
  if (!d->offers) return;
  d->offers->rebuild_gen++;
  submit_rebuild(d);
}

/* offers.reload (worker): build; the on_loop hook installs it before the answer is sent. */
int handle_offers_reload(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  json_t *j = NULL;
  offers_catalog_t *c;
  int rc = offers_params_json(p, (const char *const[]){NULL}, &j, e);
  json_decref(j);
  if (rc || (rc = catalog_build(x->store, &c, e))) return rc;
  if (x->job) {
    x->job->hook_data = c;
    x->job->on_loop = reload_done;
  }
  size_t n = c->n;
  if (!x->job) offers_catalog_free(c);
  return offers_answer(x, json_pack("{sI}", "offers", (json_int_t)n), r, e);
}

/* ---- lifecycle ---- */

int offers_wire_init(daemon_t *d, perr_info_t *e) {
  struct offers_wire_s *w = calloc(1, sizeof *w);
  if (!w) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  d->offers = w;
  w->global_holdout = d->cfg.offers_global_holdout;
  w->data_dir = strdup(d->cfg.data_dir);
  w->expose_log = (log_limit_t){.what = "offers-expose", .burst = 5, .window_ms = 60000};
  atomic_init(&w->keys, NULL);
  if (!w->data_dir) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = offers_keys_init(d, e);
  return rc ? rc : catalog_build(d->store, &w->catalog, e);
}

void offers_wire_destroy(daemon_t *d) {
  struct offers_wire_s *w = d->offers;
  if (!w) return;
  offers_catalog_free(w->catalog);
  offers_signer_free(w->signer);
  loyalty_program_memo_free(w->loyalty);
  offers_counter_memo_free(w->counters);
  offers_attr_pool_free(w->attr_pool);
  for (offers_ring_node_t *n = atomic_load(&w->keys), *older; n; n = older) {
    older = n->older;
    OPENSSL_cleanse(&n->ring, sizeof n->ring);
    free(n);
  }
  free((void *)w->data_dir);
  free(w);
  d->offers = NULL;
}

/* ---- catalogue (admin) ---- */

int handle_offers_set(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  json_t *def;
  int rc = offers_params_json(p, NULL, &def, e);
  if (rc) return rc;
  rc = offers_set(x->txn, def, x->now, e);
  json_t *out = rc ? NULL
                   : json_pack("{sOsI}", "offer_id", json_object_get(def, "id"), "updated_at",
                               (json_int_t)x->now);
  json_decref(def);
  return rc ? rc : offers_answer(x, out, r, e);
}

int handle_offers_get(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"offer_id", NULL};
  json_t *j;
  const char *id;
  offer_t o;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  store_txn_t *t = exec_txn(x, e);
  rc = !t ? e->code : offers_jstr(j, "offer_id", "offer_id", 1, OFFERS_ID_MAX, &id, e);
  if (!rc) rc = offers_get(t, id, &o, e);
  json_decref(j);
  if (rc) {
    if (rc == PERR_NOT_FOUND) snprintf(e->field, sizeof e->field, "offer_id");
    return rc;
  }
  json_t *out = json_pack("{sOsbsI}", "offer", o.def, "archived", o.archived, "updated_at",
                          (json_int_t)o.updated_at);
  offers_clear(&o);
  return offers_answer(x, out, r, e);
}

int handle_offers_list(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"after", "limit", "include_archived", NULL};
  json_t *j, *list = NULL;
  const char *after;
  int64_t limit = 100;
  bool inc = false;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  store_txn_t *t = exec_txn(x, e);
  if (!(rc = !t ? e->code : offers_jstr(j, "after", "after", 0, OFFERS_ID_MAX, &after, e)) &&
      !(rc = offers_jint(j, "limit", "limit", 0, 1, 1000, &limit, e)) &&
      !(rc = offers_jbool(j, "include_archived", "include_archived", &inc, e)))
    rc = offers_list(t, after, (size_t)limit, inc, &list, e);
  json_decref(j);
  return rc ? rc : offers_answer(x, json_pack("{so}", "offers", list), r, e);
}

int handle_offers_archive(exec_ctx_t *x, const void *p, void *r, perr_info_t *e) {
  static const char *const keys[] = {"offer_id", "archived", NULL};
  json_t *j;
  const char *id;
  bool archived = true;
  int rc = offers_params_json(p, keys, &j, e);
  if (rc) return rc;
  if (!(rc = offers_jstr(j, "offer_id", "offer_id", 1, OFFERS_ID_MAX, &id, e)) &&
      !(rc = offers_jbool(j, "archived", "archived", &archived, e)))
    rc = offers_archive(x->txn, id, archived, x->now, e);
  if (rc == PERR_NOT_FOUND) snprintf(e->field, sizeof e->field, "offer_id");
  json_t *out = rc ? NULL : json_pack("{sssb}", "offer_id", id, "archived", archived);
  json_decref(j);
  return rc ? rc : offers_answer(x, out, r, e);
}
