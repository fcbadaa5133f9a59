/* recs_model.h -- the served recommendations model's build and file: every order in the store
 * becomes a basket (customer, time, products) fed to a recs_builder in time order, seeded
 * with the previous snapshot so item ids stay stable; the snapshot is persisted with a small
 * header (version, build time) sealed by a CRC-32 over the header and the snapshot bytes.
 * The daemon decides when to build, on which thread, and where the file lives.
 * Invariants: pure functions of their inputs (no globals, no logging); a file that fails any
 * check is refused with a message naming the path and the problem, and nothing of it is
 * returned. */
#ifndef PATRON_RECS_MODEL_H
#define PATRON_RECS_MODEL_H

#include <stdint.h>

#include "base/perr.h"
#include "recs/recs.h"
#include "store/store.h"

/* Build a snapshot from every order in t. seed (may be NULL) is the previous snapshot: its
 * items keep their ids. Baskets go in (ts, scan order) order. 0 with *out set, or an error:
 * PERR_INSUFFICIENT_DATA when no order has a product, PERR_UNAVAILABLE out of memory. */
int recs_model_build(store_txn_t *t, const recs_config_t *cfg, const recs_snapshot_t *seed,
                     recs_snapshot_t **out, perr_info_t *e);

/* What the file carries besides the snapshot. */
typedef struct recs_model_meta_s {
  uint64_t version;           /* the daemon's model version */
  uint64_t build_ms;          /* how long the build took */
  int64_t saved_at;           /* wall-clock seconds */
} recs_model_meta_t;

/* Persist (tmp + fsync + rename + fsync dir): 0 or an error code with e set. */
int recs_model_save(const char *path, const recs_snapshot_t *s, const recs_model_meta_t *m,
                    perr_info_t *e);
/* Load what recs_model_save wrote. 0 with *out (one reference) and *m set; PERR_NOT_FOUND
 * when there is no file; otherwise PERR_INTERNAL with "<path>: <what is wrong>" (truncated,
 * not a recs model file, checksum mismatch, or the snapshot's own checks). */
int recs_model_load(const char *path, recs_snapshot_t **out, recs_model_meta_t *m,
                    perr_info_t *e);

#endif
