/* store_pg_internal.h -- what the PostgreSQL backend's two files share (src/store only):
 * store_pg.c owns the store object and its transactions (the writer's side); store_pg_log.c
 * owns the database side: connecting, the schema migrations, reading the change log into the
 * local copy (the writer's catch-up, the feed, a new node's bootstrap).
 * Invariants: the local copy's META holds PG_META_POS (big-endian u64: the last change-log
 * position it contains) and PG_META_CLUSTER (the database's cluster_id); both are written
 * straight into the local txn, never recorded as changes. One local write txn at a time
 * (local_write), taken after the fleet's write lock, never before it. */
#ifndef PATRON_STORE_PG_INTERNAL_H
#define PATRON_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include "store_internal.h"

/* pg_advisory_*lock keys (int8): "PtrnWRTE" and "PtrnMIGR" in ASCII */
#define PG_WRITE_LOCK_KEY "5797099744917131845"
#define PG_MIGRATE_LOCK_KEY "5797099744900106578"
#define PG_CHANNEL "patron_changes"
#define PG_META_POS "pg.applied_pos"
#define PG_META_CLUSTER "pg.cluster_id"
#define PG_LOG_PAGE 2000 /* change-log rows read per query */

typedef struct pg_migration_s {
  int version;
  const char *name;
  const char *sql;
} pg_migration_t;

typedef struct pg_store_s {
  store_t base;
  store_t *local;             /* the node's LMDB copy (dir/pg-local) */
  char *conninfo;
  char origin[96];            /* recorded with this node's changes */
  int table_lock;             /* the write lock: 1 = patron_lock row, 0 = advisory (immutable) */
  pthread_mutex_t local_write; /* held for the life of a local write txn */
  /* writer thread only */
  PGconn *wconn;
  uint64_t wconn_retry_ms;    /* clock_mono_ms before which no reconnect is tried */
  char wconn_err[160];        /* why the last connect failed */
  /* feed thread only */
  PGconn *fconn;
  uint64_t fconn_retry_ms;
  int wake[2];                /* store_feed_wake -> a waiting feed poll */
  /* any thread (stats) */
  atomic_uint_fast64_t applied_pos, head_pos, changes_applied, caught_up_ms, wait_ms_max;
  atomic_int connected;
  atomic_uint_fast64_t remote_tables; /* bit per store_table_t changed by other nodes' writes
                                       * applied here (feed or writer) since the feed last
                                       * reported them */
  /* this run has checked the database (migrations, cluster_id = the local copy's): until then
   * (a start with the database down) each new connection checks it first */
  atomic_int ready;
  pthread_mutex_t ready_mu;
  char cluster[64];           /* the local copy's cluster_id ("" = none yet); under ready_mu */
  pthread_mutex_t err_mu;
  char last_err[160];         /* why the last write could not begin ("" = none) */
} pg_store_t;

/* A connection with patrond's session settings, or NULL with err filled. */
PGconn *store_pg_connect(const char *conninfo, char *err, size_t errlen);
/* A failed result's primary message: never its CONTEXT or DETAIL, which can quote a row
 * (personal data stays out of logs and answers). */
const char *store_pg_resmsg(const PGresult *r);
/* "what: msg" into err on one line (libpq's messages span lines). */
void store_pg_errtext(char *err, size_t errlen, const char *what, const char *msg);
/* Run sql (may be several statements); 0 if it succeeded, else -1 with err filled. */
int store_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);
/* Apply the migrations the database lacks, under an advisory lock (any number of nodes may
 * start at once: each version is applied exactly once). */
int store_pg_migrate(PGconn *c, perr_info_t *err);
/* The local copy's position (0 if none yet) and setting it, in local txn lt. */
uint64_t store_pg_local_pos(store_txn_t *lt);
int store_pg_local_set_pos(store_txn_t *lt, uint64_t pos);
/* Apply every change-log row after *pos to the local write txn lt, in order; advances *pos,
 * adds to *n and sets the bits of the tables changed in *tables. 0, or -1 with err filled (lt
 * then must be aborted). */
int store_pg_apply_log(PGconn *c, store_txn_t *lt, uint64_t *pos, uint64_t *n, uint64_t *tables,
                       char *err, size_t errlen);
/* Make the local copy match the database if it was filled from another one (or never):
 * empty it and copy patron_kv at one snapshot with that snapshot's log position. */
int store_pg_bootstrap(pg_store_t *s, PGconn *c, perr_info_t *err);
/* Before a new connection is used: the database's migrations applied and its cluster_id the
 * local copy's (once a run). 0, or -1 with m set (the connection must not be used). */
int store_pg_ready(pg_store_t *s, PGconn *c, char *m, size_t mlen);
/* The database records one write-lock kind for the fleet (the first node's); 0, or -1 with m
 * set when this node's differs (mixing them would break the lock's exclusion). */
int store_pg_check_lock_kind(pg_store_t *s, PGconn *c, char *m, size_t mlen);
/* The feed (store.h): poll, wake, stats. */
int store_pg_feed_poll(store_t *base, int timeout_ms, uint64_t *applied, uint64_t *tables,
                       perr_info_t *err);
void store_pg_feed_wake(store_t *base);
void store_pg_feed_stats(store_t *base, store_feed_stats_t *out);
/* Note that the local copy holds every committed change up to pos (stats). */
void store_pg_note_caught_up(pg_store_t *s, uint64_t pos);

#endif
