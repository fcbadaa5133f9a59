/* models.h -- the registry of background-built models (CLV, recommendations, ...): each kind
 * builds a new immutable model on the worker thread from a read snapshot of the store,
 * persists it in the data directory, and installs it on the loop thread, where requests
 * read it; a request sees the old model or the new one, never a mix. The registry loads
 * persisted models at start (a restart serves at once), rebuilds each kind on its configured
 * interval, and serves model.status / model.refit. The model logic itself (build, file
 * format, queries) is the core's (src/clv, src/recs); a kind here is only its lifecycle.
 * Invariants: install() and every read of a kind's served model run on the loop thread; the
 * worker only builds, from what it is handed (model_build_t and the options the kind captured
 * on the loop thread): it never reads d->cfg, which a SIGHUP rewrites. */
#ifndef PATRON_MODELS_H
#define PATRON_MODELS_H

#include <stdint.h>

#include "daemon.h"

/* What one build gets (worker thread). */
typedef struct model_build_s {
  store_t *store;
  int64_t as_of;              /* model "now", seconds: model.refit's as_of, else the time the
                                 refit started */
} model_build_t;

typedef struct model_kind_s {
  const char *name;
  /* Loop thread, at start: create the kind's state and load its persisted model if any. */
  int (*init)(daemon_t *d, void **state);
  void (*destroy)(void *state);
  /* Loop thread, at start (after init) and after each settings reload: copy the settings
   * the build needs into the state (under the kind's own lock). Optional. */
  void (*configure)(void *state, const settings_t *cfg);
  /* Worker thread: build a new model from t. Returns the built object (opaque) or NULL with
   * e set. Must not touch what the loop thread reads; may persist the result. */
  void *(*build)(void *state, const model_build_t *b, store_txn_t *t, perr_info_t *e);
  /* Loop thread: swap in what build returned (frees the previous model). */
  void (*install)(daemon_t *d, void *state, void *built);
  /* Loop thread: drop a built model that will not be installed. */
  void (*discard)(void *built);
  void (*info)(void *state, model_info_t *out);
  /* Loop thread, after a write committed (optional): incremental updates. */
  void (*after_write)(daemon_t *d, void *state, int method, const void *params,
                      const void *result);
  uint64_t (*interval_s)(const settings_t *cfg); /* 0 = no schedule */
  /* Loop thread, every second (optional): 1 = rebuild now (e.g. orders the incremental
   * update skipped are waiting), outside the interval schedule. */
  int (*refit_due)(void *state, uint64_t now_ms);
} model_kind_t;

/* Packs notification i (0..n-1) of a batch: the params map. */
typedef void (*models_pack_fn)(msgpack_packer *pk, const void *ctx, size_t i);

/* What the loop's connection layer offers the models (main.c wires server.c in), so no
 * model file calls server.c. */
typedef struct models_hooks_s {
  /* Send notifications 0..n-1 to every subscribed connection, in order, flushing each
   * connection once; a connection over its output cap gets none of the rest. Adds to *sent
   * and *dropped. */
  void (*publish)(daemon_t *d, const char *method, models_pack_fn pack, const void *ctx,
                  size_t n, uint64_t *sent, uint64_t *dropped);
} models_hooks_t;

typedef struct models_s models_t;

/* Create states, load persisted models, start the timer. kinds: the kinds served (at most
 * MODELS_MAX), in model.status order. */
int models_init(daemon_t *d, const model_kind_t *const *kinds, size_t nkinds,
                const models_hooks_t *hooks);
void models_destroy(daemon_t *d);
/* Loop thread, after a settings reload: every kind's configure(). */
void models_configure(daemon_t *d);
/* Turn model names into a bit mask of kinds (none = all). */
int models_parse_names(const daemon_t *d, const pstr_t *names, size_t n, unsigned *mask,
                       perr_info_t *e);
void *models_state(daemon_t *d, const char *name);
/* Loop thread: a write committed (the kinds' after_write). */
void models_after_write(daemon_t *d, wjob_t *job);
/* Loop thread: queue a background rebuild of one kind now. 0, or -1 if it was not queued
 * (unknown kind, queue full, stopping). */
int models_request_refit(daemon_t *d, const char *name);
/* Loop thread: the publish hook (see models_hooks_t). */
void models_publish(daemon_t *d, const char *method, models_pack_fn pack, const void *ctx,
                    size_t n, uint64_t *sent, uint64_t *dropped);
/* Loop thread: kind i's name and what model.status reports for it; -1 past the last kind. */
int models_get_info(daemon_t *d, size_t i, const char **name, model_info_t *out);
/* Close the schedule timer (shutdown). */
void models_stop_timer(daemon_t *d);
/* Path of a kind's persisted file in the data directory (models/<name>.<ext>). */
void models_path(const daemon_t *d, const char *name, const char *ext, char *buf, size_t len);

#endif
