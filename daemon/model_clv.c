/* model_clv.c -- the CLV/segments model kind (issue 3), registered in models.c:
 *  init     loop, at start: load models/clv.bin (a restart serves at once); a file that
 *           fails its checks is logged and ignored: nothing is served from it and the
 *           model is rebuilt (the registry builds kinds that have no model).
 *  configure loop, at start and on reload: copy the [clv] settings the build uses.
 *  build    worker: clv_snap_build (src/clv) on a read snapshot with the configured options
 *           and the refit's as_of, diffed against the installed model (held by a
 *           reference), then persisted.
 *  install  loop: swap the pointer (under the mutex the worker takes to acquire a
 *           reference), release the old one, then send customer.changed notifications
 *           (segment or churn band moved) to every subscribed connection.
 * Invariants: only the loop thread changes `cur` and reads it without the mutex; the worker
 * only reads snapshots it holds a reference to and the options copied under the mutex; versions only grow (also across restarts:
 * the file carries the version). Notifications are capped at CLV_MAX_CHANGES per refit;
 * the rest, and those to subscribers over their output cap, are counted as dropped. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "log.h"
#include "model_clv.h"
#include "models.h"

typedef struct clv_state_s {
  pthread_mutex_t mu;
  clv_snap_t *cur;
  uint64_t max_version;       /* highest version built or loaded (worker reads under mu) */
  uint64_t notified, dropped; /* loop thread */
  clv_build_opts_t opts;      /* configured build options (as_of unset; worker reads under mu) */
  char path[CONFIG_PATH_MAX + 32]; /* models/clv.bin: fixed at init */
} clv_state_t;

const clv_snap_t *clv_model_current(daemon_t *d) {
  clv_state_t *st = models_state(d, "clv");
  return st ? st->cur : NULL;
}

static int clv_init(daemon_t *d, void **state) {
  clv_state_t *st = calloc(1, sizeof *st);
  if (!st) return -1;
  pthread_mutex_init(&st->mu, NULL);
  models_path(d, "clv", "bin", st->path, sizeof st->path);
  perr_info_t e;
  st->cur = clv_snap_load(st->path, &e);
  if (st->cur) {
    st->max_version = st->cur->version;
    log_notice("model clv: loaded version %llu (%zu customers, as of %lld)",
               (unsigned long long)st->cur->version, st->cur->n, (long long)st->cur->as_of);
  } else if (e.code != PERR_NOT_FOUND) {
    log_warn("model clv: persisted model refused (%s); it will be rebuilt", e.message);
  }
  *state = st;
  return 0;
}

static void clv_destroy(void *state) {
  clv_state_t *st = state;
  clv_snap_release(st->cur);
  pthread_mutex_destroy(&st->mu);
  free(st);
}

static void clv_configure(void *state, const settings_t *cfg) {
  clv_state_t *st = state;
  pthread_mutex_lock(&st->mu);
  st->opts.horizon_months = (unsigned)cfg->clv_horizon_months;
  st->opts.discount_monthly = (double)cfg->clv_discount_monthly_bp / 10000.0;
  st->opts.rfm_bins = (unsigned)cfg->rfm_bins;
  st->opts.model = (int)cfg->clv_model;
  st->opts.threads = 2;
  pthread_mutex_unlock(&st->mu);
}

static void *clv_build(void *state, const model_build_t *b, store_txn_t *t, perr_info_t *e) {
  clv_state_t *st = state;
  uint64_t t0 = clock_mono_ms();
  pthread_mutex_lock(&st->mu);
  clv_build_opts_t o = st->opts;
  clv_snap_t *prev = st->cur;
  if (prev) atomic_fetch_add(&prev->refs, 1);
  uint64_t minv = st->max_version + 1;
  pthread_mutex_unlock(&st->mu);
  o.as_of = b->as_of;
  clv_snap_t *s = clv_snap_build(t, &o, prev, minv, e);
  clv_snap_release(prev);
  if (!s) return NULL;
  s->built_at = clock_wall_s();
  s->build_ms = clock_mono_ms() - t0;
  pthread_mutex_lock(&st->mu);
  if (s->version > st->max_version) st->max_version = s->version;
  pthread_mutex_unlock(&st->mu);
  perr_info_t se;
  if (clv_snap_save(s, st->path, &se))
    log_warn("model clv: not persisted (%s); served from memory", se.message);
  return s;
}

/* ---- notifications ---- */

static void pack_change(msgpack_packer *pk, const void *ctx, size_t i) {
  const clv_snap_t *s = ctx;
  const clv_change_t *ch = &s->changes[i];
  const clv_row_t *r = &s->rows[ch->row];
  customer_change_t m;
  m.customer_id.p = s->pool + r->id_off;
  m.customer_id.n = r->id_len;
  m.segment = rfm_segment_name((rfm_segment_t)r->segment);
  m.previous_segment = ch->prev_segment >= 0 ? rfm_segment_name((rfm_segment_t)ch->prev_segment) : NULL;
  m.churn_band = clv_snap_has_clv(s) ? clv_band_name((clv_band_t)r->band) : NULL;
  m.previous_churn_band = ch->prev_band >= 0 ? clv_band_name((clv_band_t)ch->prev_band) : NULL;
  m.model_version = s->version;
  enc_customer_changed(pk, &m);
}

static void notify(daemon_t *d, clv_state_t *st, const clv_snap_t *s) {
  if (s->changes_dropped)
    log_notice("model clv: %llu customer.changed notifications over the cap of %d dropped",
               (unsigned long long)s->changes_dropped, CLV_MAX_CHANGES);
  st->dropped += s->changes_dropped;
  if (!s->nchanges) return;
  models_publish(d, "customer.changed", pack_change, s, s->nchanges, &st->notified, &st->dropped);
}

static void clv_install(daemon_t *d, void *state, void *built, int published) {
  clv_state_t *st = state;
  clv_snap_t *s = built, *old = st->cur;
  /* a local build renumbers past the served model; a fleet's snapshot keeps its number */
  if (!published && old && s->version <= old->version) s->version = old->version + 1;
  /* another model was installed after this one was diffed: diff again */
  if ((old ? old->version : 0) != s->diff_base) clv_snap_diff(s, old);
  pthread_mutex_lock(&st->mu);
  st->cur = s;
  if (s->version > st->max_version) st->max_version = s->version;
  pthread_mutex_unlock(&st->mu);
  notify(d, st, s);
  free(s->changes); /* only needed once */
  s->changes = NULL;
  s->nchanges = 0;
  clv_snap_release(old);
}

static void clv_discard(void *built) { clv_snap_release(built); }

static int clv_save(void *state, const void *built, const char *path, uint64_t *version,
                    perr_info_t *e) {
  (void)state;
  const clv_snap_t *s = built;
  *version = s->version;
  return clv_snap_save(s, path, e);
}

/* A fleet's snapshot: the file's checks are clv_snap_load's; it becomes the newest version
 * this node knows (a later build on this node numbers past it). */
static void *clv_load(void *state, const char *path, perr_info_t *e) {
  clv_state_t *st = state;
  clv_snap_t *s = clv_snap_load(path, e);
  if (!s) return NULL;
  pthread_mutex_lock(&st->mu);
  if (s->version > st->max_version) st->max_version = s->version;
  pthread_mutex_unlock(&st->mu);
  return s;
}

static void clv_info(void *state, model_info_t *out) {
  clv_state_t *st = state;
  const clv_snap_t *s = st->cur;
  memset(out, 0, sizeof *out);
  if (!s) {
    out->status = "empty";
    return;
  }
  out->status = clv_snap_has_clv(s) ? "ready" : "insufficient_data";
  snprintf(out->reason, sizeof out->reason, "%s", s->reason);
  out->version = s->version;
  out->built_at = s->built_at;
  out->build_ms = s->build_ms;
  out->items = s->n;
  out->bytes = s->n * (sizeof(clv_row_t) + 2 * sizeof(uint32_t)) + s->pool_n +
               (s->hmask + 1) * sizeof(uint32_t);
}

static uint64_t clv_interval(const settings_t *cfg) { return cfg->clv_refit_interval_s; }

const model_kind_t model_kind_clv = {
    .name = "clv", .init = clv_init, .destroy = clv_destroy, .configure = clv_configure,
    .build = clv_build, .install = clv_install, .discard = clv_discard, .info = clv_info,
    .interval_s = clv_interval, .ext = "bin", .save = clv_save, .load = clv_load};
