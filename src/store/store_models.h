/* store_models.h -- model leader election and versioned model snapshots on a shared store
 * ([store] backend = postgresql, docs/SCALEOUT.md section 7). One node of a fleet, the model
 * leader, holds a session advisory lock on a connection of its own and publishes the models it
 * builds as versioned snapshots (kind + version -> bytes + SHA-256); every node loads the
 * newest version of each kind. When the leader's session ends (the process died, the
 * connection broke), PostgreSQL releases the lock and the next node to try it leads.
 * The bytes are opaque here (the model kinds' own file formats).
 * Threads: a channel belongs to one thread (it owns a libpq connection), except
 * store_models_wake, which any thread may call. Never call it on the event loop: every call
 * but wake may wait for the database. On an embedded store there is no channel. */
#ifndef PATRON_STORE_MODELS_H
#define PATRON_STORE_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/perr.h"
#include "store/store.h"

typedef struct store_models_s store_models_t;

#define STORE_MODELS_SUM_LEN 64 /* SHA-256 in hex */
#define STORE_MODELS_KEEP 3     /* versions kept per kind: older ones are deleted on publish */

typedef struct store_model_head_s {
  char kind[32];
  uint64_t version;
  char checksum[STORE_MODELS_SUM_LEN + 1];
  int64_t age_s;  /* seconds since it was published (the database's clock) */
} store_model_head_t;

/* The channel of store s: PERR_NOT_FOUND (and *out NULL) on an embedded store. It connects at
 * its first use. */
int store_models_open(store_t *s, store_models_t **out, perr_info_t *e);
void store_models_close(store_models_t *m);
/* Connect if needed, then, unless this channel leads already, try the leader lock once
 * (pg_try_advisory_lock: never waits). *leader = 1 while this channel holds the lock. A leader
 * checks that its session is still alive. PERR_UNAVAILABLE (and *leader = 0) when the database
 * cannot be reached or the session broke: a broken session has lost the lock. */
int store_models_lead(store_models_t *m, int *leader, perr_info_t *e);
/* The newest published version of every kind (at most max; *n set). */
int store_models_heads(store_models_t *m, store_model_head_t *heads, size_t max, size_t *n,
                       perr_info_t *e);
/* One published snapshot: *bytes (malloc'd; free it) of *n bytes whose SHA-256 equals the
 * checksum recorded with it (else PERR_INTERNAL: the copy is refused); PERR_NOT_FOUND if that
 * version is gone (pruned: read the heads again). */
int store_models_fetch(store_models_t *m, const char *kind, uint64_t version,
                       unsigned char **bytes, size_t *n, perr_info_t *e);
/* Leader only: publish bytes as kind/version in one transaction on the lock's own session
 * (a node that lost the lock cannot publish), keep the newest STORE_MODELS_KEEP versions and
 * notify the other nodes; clear_mark: the same transaction clears the kind's build mark.
 * checksum (if not NULL) receives the SHA-256. PERR_CONFLICT if the database holds this
 * version or a newer one; PERR_UNAVAILABLE if not leading or the session broke. */
int store_models_publish(store_models_t *m, const char *kind, uint64_t version,
                         const void *bytes, size_t n, int clear_mark,
                         char checksum[STORE_MODELS_SUM_LEN + 1], perr_info_t *e);
/* Leader only: mark kind as being built (building = 1: before the build starts) or not any
 * more (0: it failed or was dropped), in one statement on the lock's own session that
 * changes nothing unless this session holds the lock. */
int store_models_mark(store_models_t *m, const char *kind, int building, perr_info_t *e);
/* The kinds marked as being built (at most max names into kinds; *n set). Read by a node
 * that has just taken the lock: every such mark was left by a leader that ended mid-build. */
int store_models_marked(store_models_t *m, char (*kinds)[32], size_t max, size_t *n,
                        perr_info_t *e);
/* The current leader's node name ("" if no session holds the lock). */
int store_models_leader(store_models_t *m, char *buf, size_t len, perr_info_t *e);
/* Wait up to timeout_ms for a published snapshot's notification or a store_models_wake.
 * 1 if woken by either, 0 on timeout (also while not connected: it just waits). */
int store_models_wait(store_models_t *m, int timeout_ms);
void store_models_wake(store_models_t *m);
/* SHA-256 of bytes in hex (what the channel records and verifies). */
void store_models_checksum(const void *bytes, size_t n, char out[STORE_MODELS_SUM_LEN + 1]);

#endif
