/* model_recs.c -- the recommendations model kind (issue 4): lifecycle of the co-purchase
 * snapshot served by the recs.* methods.
 *   init (loop, start): model configuration from [recs] similarity; the persisted snapshot
 *     (models/recs.snap) or an empty one; the catalogue from PRODUCTS; an empty delta.
 *   build (worker): recs_model_build (src/recs/recs_model.h) on its own read snapshot,
 *     seeded with the served snapshot so item ids stay stable; recs_model_save persists it
 *     with its version. A persisted file that fails its checks at start is logged and
 *     ignored: the empty model is served (no answers from the file) and rebuilt at once.
 *   install (loop): swap the holder, start a new delta, replay the orders recorded during the
 *     build that the build did not see, and remap the catalogue to the new ids.
 *   after_write (loop): a new order goes into the delta at once (recs.cart changes before any
 *     rebuild) while the incremental budget lasts (models.recs_delta_pairs_per_s: an order
 *     of n products costs n(n-1) pair updates on the loop thread); past it, as in a bulk
 *     import, the order is skipped and counted, and refit_due asks for one full rebuild
 *     once no order was skipped for a second (with recs_rebuild_interval_s = 0 the reason
 *     says they wait for model.refit). product.upsert re-reads the product into the
 *     catalogue (stock 0 hides it).
 * Invariant: no order is lost between the build's read snapshot and the install: logging
 * starts before the build opens its own read transaction, every logged order the build's
 * transaction does not hold is replayed into the new delta (an order logged after that check
 * is replayed too; it may then count twice until the next rebuild, never zero times). A
 * skipped order is not logged: the build records skipped_seq before its read transaction
 * begins, so an install leaves orders skipped after that point still counted as waiting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "log.h"
#include "model_recs.h"
#include "models.h"
#include "commerce/baskets.h"
#include "recs/recs_model.h"

/* The kind's own name string: models_state finds it by pointer, before comparing names. */
recs_state_t *recs_state(daemon_t *d) { return models_state(d, model_kind_recs.name); }

/* ---- replay log (log_mu) ---- */

static void log_put(recs_state_t *st, const void *p, size_t n) {
  memcpy(st->log + st->log_n, p, n);
  st->log_n += n;
}

static void log_order(recs_state_t *st, const order_t *o) {
  size_t need = 4 + 1 + 8 + 2 + o->order_id.n + 2;
  for (size_t i = 0; i < o->nlines; i++) need += 2 + o->lines[i].product_id.n;
  pthread_mutex_lock(&st->log_mu);
  if (st->logging && !st->log_overflow) {
    if (st->log_n + need > st->log_cap) {
      size_t nc = st->log_cap ? st->log_cap * 2 : 1 << 16;
      while (nc < st->log_n + need) nc *= 2;
      unsigned char *nl = nc <= RECS_LOG_MAX_BYTES ? realloc(st->log, nc) : NULL;
      if (nl) {
        st->log = nl;
        st->log_cap = nc;
      } else {
        st->log_overflow = 1;
      }
    }
    if (!st->log_overflow) {
      uint32_t len = (uint32_t)need;
      uint8_t seen = 0;
      uint16_t on = (uint16_t)o->order_id.n, nl = (uint16_t)o->nlines;
      log_put(st, &len, 4);
      log_put(st, &seen, 1);
      log_put(st, &o->ts, 8);
      log_put(st, &on, 2);
      log_put(st, o->order_id.p, on);
      log_put(st, &nl, 2);
      for (size_t i = 0; i < o->nlines; i++) {
        uint16_t l = (uint16_t)o->lines[i].product_id.n;
        log_put(st, &l, 2);
        log_put(st, o->lines[i].product_id.p, l);
      }
    }
  }
  pthread_mutex_unlock(&st->log_mu);
}

static void log_stop(recs_state_t *st) {
  pthread_mutex_lock(&st->log_mu);
  st->logging = 0;
  st->log_overflow = 0;
  st->log_n = 0;
  pthread_mutex_unlock(&st->log_mu);
}

/* Worker, end of build: mark the logged orders that t holds. */
static void log_mark_seen(recs_state_t *st, store_txn_t *t) {
  pthread_mutex_lock(&st->log_mu);
  for (size_t off = 0; off + 4 <= st->log_n;) {
    uint32_t len;
    uint16_t on;
    memcpy(&len, st->log + off, 4);
    memcpy(&on, st->log + off + 13, 2);
    const void *v;
    size_t vn;
    if (store_get(t, STORE_T_ORDERS, st->log + off + 15, on, &v, &vn) == 0) st->log[off + 4] = 1;
    off += len;
  }
  pthread_mutex_unlock(&st->log_mu);
}

/* Loop, install: replay the unseen orders into the (new) delta; stop logging. */
static int delta_add_order(recs_state_t *st, const pstr_t *ids, size_t n, int64_t ts);

static int log_replay(recs_state_t *st) {
  pstr_t ids[CORE_MAX_LINES];
  pthread_mutex_lock(&st->log_mu);
  int overflow = st->log_overflow;
  size_t replayed = 0;
  for (size_t off = 0; off + 4 <= st->log_n;) {
    uint32_t len;
    uint16_t on, nl;
    int64_t ts;
    memcpy(&len, st->log + off, 4);
    memcpy(&ts, st->log + off + 5, 8);
    memcpy(&on, st->log + off + 13, 2);
    if (!st->log[off + 4]) {
      size_t q = off + 15 + on;
      memcpy(&nl, st->log + q, 2);
      q += 2;
      for (uint16_t i = 0; i < nl && i < CORE_MAX_LINES; i++) {
        uint16_t l;
        memcpy(&l, st->log + q, 2);
        ids[i].p = (const char *)st->log + q + 2;
        ids[i].n = l;
        q += 2u + l;
      }
      delta_add_order(st, ids, nl, ts);
      replayed++;
    }
    off += len;
  }
  st->logging = 0;
  st->log_overflow = 0;
  st->log_n = 0;
  pthread_mutex_unlock(&st->log_mu);
  if (replayed) log_info("recs: %zu orders recorded during the build replayed into the delta", replayed);
  return overflow;
}

/* ---- incremental updates (loop) ---- */

static int delta_add_order(recs_state_t *st, const pstr_t *ids, size_t n, int64_t ts) {
  uint32_t items[CORE_MAX_LINES];
  size_t k = 0;
  for (size_t i = 0; i < n && k < CORE_MAX_LINES; i++) {
    uint32_t id;
    if (recs_delta_intern(st->delta, ids[i].p, ids[i].n, &id) != PERR_OK) continue;
    items[k++] = id;
  }
  if (!k) return 0;
  int rc = recs_delta_add_basket(st->delta, items, k, ts);
  if (rc == PERR_TOO_LARGE) recs_request_rebuild(st, "incremental delta full");
  return rc;
}

void recs_request_rebuild(recs_state_t *st, const char *why) {
  if (st->rebuild_queued || st->d->stopping) return;
  if (st->d->cfg.recs_rebuild_interval_s == 0) {
    /* builds are the operator's (model.refit only): the delta stays bounded and the orders
     * it cannot take reach the answers at the next model.refit; model.status says so */
    if (!st->reason[0])
      log_notice("recs: %s; newer orders reach the recommendations at the next model.refit "
                 "(models.recs_rebuild_interval_s=0: no automatic rebuild)", why);
    snprintf(st->reason, sizeof st->reason, "%s: newer orders wait for model.refit", why);
    return;
  }
  if (models_request_refit(st->d, "recs")) return;
  st->rebuild_queued = 1;
  log_notice("recs: full rebuild queued (%s)", why);
}

/* Orders recorded past the incremental budget that no installed model holds yet. */
static uint64_t skipped_waiting(const recs_state_t *st) {
  return atomic_load(&st->skipped_seq) - st->skipped_folded;
}

/* Take the pair updates of an order of n lines from the budget (a token bucket holding at
 * most one second's worth); 0 = over budget, skip the order. */
static int delta_affordable(recs_state_t *st, size_t n) {
  uint64_t rate = st->d->cfg.recs_delta_pairs_per_s, now = clock_mono_ms();
  double cost = (double)n * (double)(n ? n - 1 : 0);
  st->delta_tokens += (double)(now - st->delta_tokens_ms) * (double)rate / 1000.0;
  if (st->delta_tokens > (double)rate) st->delta_tokens = (double)rate;
  st->delta_tokens_ms = now;
  if (cost > st->delta_tokens) return 0;
  st->delta_tokens -= cost;
  return 1;
}

static void recs_after_write(daemon_t *d, void *state, int method, const void *params,
                             const void *result) {
  recs_state_t *st = state;
  const order_t *o = method_recorded_order(method, params);
  const product_t *in = method_upserted_product(method, params);
  (void)d;
  if (o) {
    const order_result_t *r = result;
    if (!r->created) return;
    if (!delta_affordable(st, o->nlines)) {
      atomic_fetch_add(&st->skipped_seq, 1);
      st->skipped_last_ms = clock_mono_ms();
      return;
    }
    pstr_t ids[CORE_MAX_LINES];
    size_t n = 0;
    for (size_t i = 0; i < o->nlines && n < CORE_MAX_LINES; i++) ids[n++] = o->lines[i].product_id;
    delta_add_order(st, ids, n, o->ts);
    log_order(st, o);
  } else if (in) {
    store_txn_t *t;
    perr_info_t e;
    arena_t a;
    product_t p;
    if (store_txn_begin(st->d->store, 0, &t)) return;
    arena_init(&a, 0);
    if (core_product_get(t, in->id, &a, &p, &e) == 0 && recs_catalog_put(st, &p))
      log_warn("recs: catalogue update failed (out of memory)");
    store_abort(t);
    arena_free(&a);
  }
}

/* Loop, every second: rebuild once orders skipped by the budget have stopped arriving for a
 * second (a bulk import is folded in by one build, not one per batch). */
static int recs_refit_due(void *state, uint64_t now_ms) {
  recs_state_t *st = state;
  uint64_t waiting = skipped_waiting(st);
  if (!waiting || st->rebuild_queued || now_ms - st->skipped_last_ms < 1000) return 0;
  if (st->d->cfg.recs_rebuild_interval_s == 0) {
    snprintf(st->reason, sizeof st->reason,
             "%llu orders past the incremental budget wait for model.refit",
             (unsigned long long)waiting);
    return 0;
  }
  log_notice("recs: full rebuild to fold in %llu orders recorded past the incremental budget "
             "(models.recs_delta_pairs_per_s)", (unsigned long long)waiting);
  return 1;
}

/* ---- init / destroy ---- */

static int empty_snapshot(const recs_config_t *cfg, recs_snapshot_t **out) {
  perr_info_t e;
  recs_builder_t *b = recs_builder_new(cfg, NULL);
  int rc = b ? recs_builder_build(b, out, &e) : PERR_INTERNAL;
  recs_builder_free(b);
  return rc;
}

static int load_catalog_cb(void *ctx, const product_t *p) { return recs_catalog_put(ctx, p) ? PERR_INTERNAL : 0; }

static void recs_destroy(void *state);

static int recs_init(daemon_t *d, void **state) {
  recs_state_t *st = calloc(1, sizeof *st);
  *state = st;
  if (!st) return -1;
  st->d = d;
  st->delta_tokens = (double)d->cfg.recs_delta_pairs_per_s; /* starts full */
  st->delta_tokens_ms = clock_mono_ms();
  pthread_mutex_init(&st->log_mu, NULL);
  st->cosine = strcmp(d->cfg.recs_similarity, "cosine") == 0;
  if (!st->cosine && strcmp(d->cfg.recs_similarity, "default") != 0) {
    log_err("recs.similarity: expected 'default' or 'cosine', got '%s'", d->cfg.recs_similarity);
    return -1;
  }
  if (st->cosine) recs_config_baseline_cosine(&st->mcfg);
  else recs_config_default(&st->mcfg);
  recs_model_t model;
  if (recs_model_parse(d->cfg.recs_model, &model)) {
    log_err("models.recs_model: expected cooc, ease, sparse_ease or auto, got '%s'",
            d->cfg.recs_model);
    return -1;
  }
  if (!st->cosine) st->mcfg.model = model; /* the published baseline stays plain cosine */
  st->mcfg.ease_max_items = (uint32_t)d->cfg.ease_max_items;
  st->holder = recs_holder_new();
  st->scratch = recs_scratch_new();
  if (!st->holder || !st->scratch || recs_catalog_init(st)) return -1;
  snprintf(st->consumable_csv, sizeof st->consumable_csv, "%s", d->cfg.recs_consumable_categories);
  models_path(d, "recs", "snap", st->path, sizeof st->path);

  perr_info_t e;
  recs_snapshot_t *s = NULL;
  recs_model_meta_t meta = {0};
  int rc = recs_model_load(st->path, &s, &meta, &e);
  uint64_t version = meta.version;
  st->build_ms = meta.build_ms;
  if (rc == 0) {
    recs_snapshot_stats_t ss;
    recs_snapshot_stats(s, &ss);
    st->built_at = ss.built_at;
    log_info("recs: snapshot version %llu loaded (%u items, %llu baskets)",
             (unsigned long long)version, ss.items, (unsigned long long)ss.baskets);
    const recs_config_t *sc = recs_snapshot_config(s);
    if ((sc->power == 1 && sc->top_k == 0) != st->cosine ||
        sc->model != recs_model_resolve(&st->mcfg, ss.items))
      log_notice("recs: the persisted model (%s) was built with another recs.similarity or "
                 "models.recs_model; the next rebuild applies '%s' / '%s'",
                 recs_model_name(sc->model), d->cfg.recs_similarity, d->cfg.recs_model);
  } else {
    if (rc != PERR_NOT_FOUND)
      log_warn("recs: persisted model refused (%s); it will be rebuilt", e.message);
    version = 0;
    st->build_ms = 0;
    if (empty_snapshot(&st->mcfg, &s)) return -1;
  }
  atomic_store(&st->version, version);
  st->snap = s;
  recs_holder_swap(st->holder, s); /* the holder owns the reference */
  {
    recs_snapshot_stats_t ss;
    recs_snapshot_stats(s, &ss);
    st->nsnap = ss.items;
  }
  if (!(st->delta = recs_delta_new(s, RECS_DELTA_MAX_PAIRS))) return -1;

  store_txn_t *t;
  if (store_txn_begin(d->store, 0, &t)) return -1;
  rc = core_scan_products(t, load_catalog_cb, st, &e);
  store_abort(t);
  if (rc) {
    log_err("recs: cannot load the catalogue: %s", e.message);
    return -1;
  }
  return 0;
}

static void recs_destroy(void *state) {
  recs_state_t *st = state;
  if (!st) return;
  recs_delta_free(st->delta);
  recs_holder_free(st->holder);
  recs_scratch_free(st->scratch);
  recs_catalog_free(st);
  free(st->ids);
  free(st->hist);
  free(st->hist_ts);
  free(st->hist_orders);
  free(st->log);
  pthread_mutex_destroy(&st->log_mu);
  free(st);
}

/* ---- build (worker) ---- */

typedef struct built_s {
  recs_snapshot_t *snap;
  uint64_t version, build_ms;
  uint64_t skipped_seen;      /* skipped_seq before the build's read transaction began */
} built_t;

static void *recs_build(void *state, const model_build_t *mb, store_txn_t *unused,
                        perr_info_t *e) {
  recs_state_t *st = state;
  (void)unused;
  uint64_t t0 = clock_mono_ms();
  pthread_mutex_lock(&st->log_mu); /* start logging before our own read snapshot begins */
  st->logging = 1;
  st->log_overflow = 0;
  st->log_n = 0;
  pthread_mutex_unlock(&st->log_mu);
  uint64_t skipped_seen = atomic_load(&st->skipped_seq);
  store_txn_t *t = NULL;
  recs_snapshot_t *prev = recs_holder_acquire(st->holder), *snap = NULL;
  built_t *out = NULL;
  if (store_txn_begin(mb->store, 0, &t)) {
    t = NULL;
    perr_set(e, PERR_UNAVAILABLE, NULL, "store unavailable");
    goto done;
  }
  /* st->version is atomic; mcfg is fixed at init */
  if (recs_model_build(t, &st->mcfg, atomic_load(&st->version) ? prev : NULL, &snap, e)) goto done;
  log_mark_seen(st, t);
  store_abort(t);
  t = NULL;
  out = calloc(1, sizeof *out);
  if (!out) {
    perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
    goto done;
  }
  out->snap = snap;
  out->skipped_seen = skipped_seen;
  out->version = atomic_load(&st->version) + 1;
  out->build_ms = clock_mono_ms() - t0;
  recs_model_meta_t meta = {out->version, out->build_ms, clock_wall_s()};
  if (recs_model_save(st->path, snap, &meta, e)) {
    free(out);
    out = NULL;
    goto done;
  }
  snap = NULL;
done:
  if (t) store_abort(t);
  if (!out) log_stop(st);
  recs_snapshot_unref(snap);
  recs_snapshot_unref(prev);
  return out;
}

static void recs_discard(void *built) {
  built_t *b = built;
  if (!b) return;
  recs_snapshot_unref(b->snap);
  free(b);
}

static void recs_install(daemon_t *d, void *state, void *built, int published) {
  recs_state_t *st = state;
  built_t *b = built;
  (void)d; (void)published; /* the version is the built or published one either way */
  recs_delta_t *nd = recs_delta_new(b->snap, RECS_DELTA_MAX_PAIRS);
  if (!nd) {
    log_err("recs: out of memory installing the model; keeping the previous one");
    log_stop(st);
    recs_discard(b);
    return;
  }
  recs_delta_t *old = st->delta;
  st->snap = b->snap;
  recs_holder_swap(st->holder, b->snap);
  st->delta = nd;
  recs_delta_free(old);
  atomic_store(&st->version, b->version);
  st->build_ms = b->build_ms;
  recs_snapshot_stats_t ss;
  recs_snapshot_stats(st->snap, &ss);
  st->built_at = ss.built_at;
  st->nsnap = ss.items;
  st->rebuild_queued = 0;
  st->reason[0] = 0;
  st->skipped_folded = b->skipped_seen;
  free(b);
  int overflow = log_replay(st);
  if (recs_catalog_remap(st)) log_err("recs: catalogue remap failed (out of memory)");
  if (overflow) recs_request_rebuild(st, "too many orders recorded during the build");
}

static int recs_save(void *state, const void *built, const char *path, uint64_t *version,
                     perr_info_t *e) {
  (void)state;
  const built_t *b = built;
  recs_model_meta_t meta = {b->version, b->build_ms, clock_wall_s()};
  *version = b->version;
  return recs_model_save(path, b->snap, &meta, e);
}

/* A fleet's snapshot (recs_model_load's checks). Orders this node skipped so far count as
 * folded in: the leader's build saw the fleet's orders. */
static void *recs_load(void *state, const char *path, perr_info_t *e) {
  recs_state_t *st = state;
  built_t *b = calloc(1, sizeof *b);
  recs_model_meta_t meta = {0};
  if (!b) {
    perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    return NULL;
  }
  if (recs_model_load(path, &b->snap, &meta, e)) {
    free(b);
    return NULL;
  }
  b->version = meta.version;
  b->build_ms = meta.build_ms;
  b->skipped_seen = atomic_load(&st->skipped_seq);
  return b;
}

static void recs_info(void *state, model_info_t *out) {
  recs_state_t *st = state;
  memset(out, 0, sizeof *out);
  out->version = atomic_load(&st->version);
  out->status = out->version ? "ready" : "empty";
  snprintf(out->reason, sizeof out->reason, "%s", st->reason);
  uint64_t waiting = skipped_waiting(st);
  if (!out->reason[0] && waiting)
    snprintf(out->reason, sizeof out->reason,
             "%llu orders past the incremental budget: the next rebuild folds them in",
             (unsigned long long)waiting);
  out->built_at = st->built_at;
  out->build_ms = st->build_ms;
  recs_snapshot_stats_t ss;
  recs_snapshot_stats(st->snap, &ss);
  out->items = ss.items;
  out->bytes = ss.bytes;
}

static uint64_t recs_interval(const settings_t *cfg) { return cfg->recs_rebuild_interval_s; }

const model_kind_t model_kind_recs = {
    .name = "recs", .init = recs_init, .destroy = recs_destroy, .build = recs_build,
    .install = recs_install, .discard = recs_discard, .info = recs_info,
    .after_write = recs_after_write, .interval_s = recs_interval, .refit_due = recs_refit_due,
    .ext = "snap", .save = recs_save, .load = recs_load};
