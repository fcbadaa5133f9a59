/* models.h -- the registry of background-built models (CLV, recommendations, ...): each kind
 * builds a new immutable model on the worker thread from a read snapshot of the store,
 * persists it in the data directory, and installs it on the loop thread, where requests
 * read it; a request sees the old model or the new one, never a mix. The registry loads
 * persisted models at start (a restart serves at once), rebuilds each kind on its configured
 * interval, and serves model.status / model.refit.
 * Invariant: install() and every read of a kind's served model run on the loop thread; the
 * worker only builds. */
#ifndef PATRON_MODELS_H
#define PATRON_MODELS_H

#include <stdint.h>

#include "daemon.h"

typedef struct model_kind_s {
  const char *name;
  /* Loop thread, at start: create the kind's state and load its persisted model if any. */
  int (*init)(daemon_t *d, void **state);
  void (*destroy)(void *state);
  /* Worker thread: build a new model from t. Returns the built object (opaque) or NULL with
   * e set. Must not touch what the loop thread reads; may persist the result. */
  void *(*build)(daemon_t *d, void *state, store_txn_t *t, perr_info_t *e);
  /* Loop thread: swap in what build returned (frees the previous model). */
  void (*install)(daemon_t *d, void *state, void *built);
  /* Loop thread: drop a built model that will not be installed. */
  void (*discard)(void *built);
  void (*info)(void *state, model_info_t *out);
  /* Loop thread, after a write committed (optional): incremental updates. */
  void (*after_write)(daemon_t *d, void *state, int method, const void *params,
                      const void *result);
  uint64_t (*interval_s)(const settings_t *cfg); /* 0 = no schedule */
} model_kind_t;

typedef struct models_s models_t;

/* Turn model names into a bit mask of kinds (none = all). */
int models_parse_names(const pstr_t *names, size_t n, unsigned *mask, perr_info_t *e);
int models_init(daemon_t *d);          /* create states, load persisted models, start timer */
void models_destroy(daemon_t *d);
void *models_state(daemon_t *d, const char *name);
void models_after_write(daemon_t *d, wjob_t *job);
/* Close the schedule timer (shutdown). */
void models_stop_timer(daemon_t *d);
/* Worker thread, inside a build: the as_of (seconds) model.refit was given, 0 = none (use
 * the current time). Scheduled rebuilds have none. */
int64_t models_build_as_of(void);
/* Path of a kind's persisted file in the data directory (models/<name>.<ext>). */
void models_path(const daemon_t *d, const char *name, const char *ext, char *buf, size_t len);

#endif
