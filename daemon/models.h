/* models.h -- the registry of background-built models (CLV, recommendations, ...): each kind
 * builds a new immutable model on the worker thread from a read snapshot of the store,
 * persists it in the data directory, and installs it on the loop thread, where requests
 * read it; a request sees the old model or the new one, never a mix. The registry loads
 * persisted models at start (a restart serves at once), rebuilds each kind on its configured
 * interval, and serves model.status / model.refit. The model logic itself (build, file
 * format, queries) is the core's (src/clv, src/recs); a kind here is only its lifecycle.
 * A fleet on a shared store (hooks.publish_snapshot set; docs/SCALEOUT.md section 7): only the
 * model leader builds (model_fleet.c elects it); what it builds is also handed to the fleet to
 * publish, and the other nodes install the published snapshots (models_load_snapshot,
 * models_install_snapshot) instead of building.
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
  /* Loop thread: swap in what build (or load) returned (frees the previous model). published:
   * a snapshot of the fleet: its version is served as it is (never renumbered). */
  void (*install)(daemon_t *d, void *state, void *built, int published);
  /* The persisted file is models/<name>.<ext>. */
  const char *ext;
  /* Worker: write what build returned to path in the kind's file format (what load reads);
   * *version = its version. 0 or a perr code. */
  int (*save)(void *state, const void *built, const char *path, uint64_t *version,
              perr_info_t *e);
  /* Not the loop thread: load such a file as what install takes (its version is the file's).
   * NULL with e set if the file fails the kind's checks. */
  void *(*load)(void *state, const char *path, perr_info_t *e);
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
  /* A fleet on a shared store (model_fleet.c; NULL = every node builds its own models). Loop
   * thread: the leader built and installed kind's version; bytes (malloc'd, the hook frees
   * them) is its file, to publish. */
  void (*publish_snapshot)(daemon_t *d, size_t kind, uint64_t version, unsigned char *bytes,
                           size_t n, uint64_t mark);
  /* A fleet: the worker is about to build kind; returns once the start is recorded in the
   * shared store (the mark's number, 0 if nothing was recorded: not leading, database down).
   * Every marked build ends in exactly one publish_snapshot or build_ended (loop thread) with
   * that number, which clears the mark unless a newer build marked it since. */
  uint64_t (*build_started)(daemon_t *d, size_t kind);
  void (*build_ended)(daemon_t *d, size_t kind, uint64_t mark);
  /* Any thread: the model leader's node name ("" = unknown). */
  void (*leader_name)(daemon_t *d, char *buf, size_t len);
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
/* ---- a fleet on a shared store (hooks.publish_snapshot set) ---- */
/* The kinds: how many, and kind i's name. */
size_t models_count(const daemon_t *d);
const char *models_name(const daemon_t *d, size_t i);
/* Not the loop thread: write a published snapshot of kind i (bytes, already verified against
 * its checksum) into the data directory and load it with the kind's checks; the loaded model
 * (for models_install_snapshot) or NULL with e set. The file replaces the kind's persisted
 * one only once it loaded, so a restart serves it at once. */
void *models_load_snapshot(daemon_t *d, size_t i, const unsigned char *bytes, size_t n,
                           perr_info_t *e);
/* Loop thread: install what models_load_snapshot returned (its version as published); on
 * shutdown it is dropped. */
void models_install_snapshot(daemon_t *d, size_t i, void *built);
/* Drop it instead (shutdown, out of memory). Any thread. */
void models_drop_snapshot(daemon_t *d, size_t i, void *built);
/* What a node taking the model lead knows of each kind (model_fleet.c reads it in PostgreSQL
 * before it tells the loop). */
typedef struct models_takeover_s {
  unsigned interrupted;      /* kinds marked as being built by a leader that has died */
  int64_t age_s[MODELS_MAX]; /* seconds since the snapshot this node serves was published;
                                -1: it serves none of the fleet's snapshots */
} models_takeover_t;
/* Loop thread: this node became the model leader (1, t set) or is not any more (0, t NULL).
 * A new leader builds at once only the kinds it has no model of, the kinds in t->interrupted,
 * and the kinds on a schedule whose interval has run out since the served snapshot was
 * published (or that serve no published snapshot); for the other scheduled kinds the next
 * build comes one interval after that publication. Any thread: models_leader(). */
void models_set_leader(daemon_t *d, int leader, const models_takeover_t *t);
int models_leader(const daemon_t *d);
/* 1 if this node may build models: no fleet, or the fleet's leader. Any thread. */
int models_may_build(const daemon_t *d);

/* Close the schedule timer (shutdown). */
void models_stop_timer(daemon_t *d);
/* Kind i's persisted file (models/<name>.<ext>). */
void models_file_path(const daemon_t *d, size_t i, char *buf, size_t len);
/* Path of a kind's persisted file in the data directory (models/<name>.<ext>). */
void models_path(const daemon_t *d, const char *name, const char *ext, char *buf, size_t len);

#endif
