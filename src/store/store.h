/* store.h -- the storage interface every core module uses: named tables of byte keys to byte
 * values, read transactions (snapshots) and write transactions. Backends implement
 * store_backend_t; LMDB (store_lmdb.c) is the embedded default. Modules above never see the
 * backend. Invariants: a write transaction is durable once store_commit returns 0; a read
 * transaction sees one consistent snapshot; at most one write transaction at a time (the
 * caller serialises writers; the daemon has one writer thread).
 * Shared backend (PostgreSQL, store_pg.c, docs/SCALEOUT.md): the database is the system of
 * record and dir holds this node's local LMDB copy. Read transactions read the local copy;
 * a write transaction holds the fleet's write lock, is exact against every node's committed
 * writes, and is durable in the database (then applied locally) when store_commit returns 0.
 * A feed thread (store_feed_poll) applies other nodes' writes to the local copy. */
#ifndef PATRON_STORE_H
#define PATRON_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/perr.h"

/* Tables. Keys are byte strings; values are records encoded by the owning module. */
#define STORE_TABLE_MAP(XX)                                                     \
  XX(META, "meta")                   /* schema version, settings, snapshots */ \
  XX(PRODUCTS, "products")           /* product_id -> product record */        \
  XX(CUSTOMERS, "customers")         /* customer_id -> customer record */      \
  XX(ORDERS, "orders")               /* order_id -> order record */            \
  XX(REFUNDS, "refunds")             /* refund_id -> refund record */          \
  XX(CUSTOMER_ORDERS, "cust_orders") /* customer_id \0 be64(ts) order_id -> "" */ \
  XX(FEEDBACK, "feedback")           /* feedback_id -> feedback record */      \
  XX(MODELS, "models")               /* model name -> persisted snapshot */    \
  XX(AUX, "aux")                     /* module-owned extra indexes */        \
  /* loyalty (src/loyalty/): program in META "loyalty_program" */                \
  XX(LOY_MEMBERS, "loy_members")     /* customer_id -> member summary */       \
  XX(LOY_LEDGER, "loy_ledger")       /* customer_id \0 be64(seq) -> entry */   \
  XX(LOY_KEYS, "loy_keys")           /* kind byte + idempotency key -> answer */ \
  XX(LOY_TIER_HIST, "loy_tierhist")  /* customer_id \0 be64(n) -> tier change */ \
  XX(LOY_TIER_IDX, "loy_tieridx")    /* tier \0 customer_id -> "" */  \
  /* offers (src/offers/offers_internal.h owns the key layouts) */              \
  XX(OFFERS, "offers")               /* offer_id -> offer definition record */  \
  XX(OFFER_COUNTS, "offer_counts")   /* budgets used, per-customer caps, arms */ \
  XX(OFFER_SEEN, "offer_seen")       /* customer \0 offer_id -> sticky arm, exposure */ \
  XX(OFFER_IDEM, "offer_idem")       /* idempotency keys of redeem/event/attribution */

typedef enum {
#define XX(name, str) STORE_T_##name,
  STORE_TABLE_MAP(XX)
#undef XX
  STORE_T__COUNT
} store_table_t;

typedef struct store_s store_t;
typedef struct store_txn_s store_txn_t;
typedef struct store_cursor_s store_cursor_t;

/* Schema version this build writes; META key "schema_version" holds it as 4 bytes
 * big-endian. Opening a store written by a newer schema fails with PERR_UNAVAILABLE. */
#define STORE_SCHEMA_VERSION 1
#define STORE_META_SCHEMA_KEY "schema_version"

typedef struct store_options_s {
  uint64_t map_size;  /* bytes of address space for the data file (LMDB mapsize) */
  int max_readers;    /* concurrent read transactions */
  int no_sync;        /* tests/benchmarks only: skip fsync (NOT durable) */
  uint64_t map_size_max; /* map full: grow (doubling) up to this before the next write
                          * transaction; <= map_size = never grow */
  /* Shared backend: a libpq connection string ("" or NULL = the embedded LMDB store). The
   * local copy then lives in dir/pg-local (never the embedded store's files). */
  const char *pg_conninfo;
  const char *node_name; /* origin recorded with this node's changes ("" = host:pid) */
  int pg_table_lock;     /* 1: the fleet's write lock is the row patron_lock(1) FOR UPDATE
                          * (engines without advisory locks); 0: pg_advisory_xact_lock */
  /* defaults: map_size 8 GiB (1 GiB on 32-bit), max_readers 256, no_sync 0, map_size_max 0 */
} store_options_t;

void store_options_default(store_options_t *o);

/* Open (creating if needed, mode 0700 directory) the store in dir. On failure returns a
 * negative perr code and a human message in err. */
int store_open(const char *dir, const store_options_t *opt, store_t **out, perr_info_t *err);
void store_close(store_t *s);

/* Transactions. write=1 for the (single) writer. */
int store_txn_begin(store_t *s, int write, store_txn_t **out);
/* Savepoint: a write transaction nested in the write transaction parent (LMDB: a child
 * txn). store_commit merges the child's changes into the parent (not durable by itself: the
 * parent's commit is); store_abort drops them and leaves the parent as it was before the
 * child began. A parent must not be used (get/put/cursor/commit/abort) while its child is
 * open; a child may itself have a child. If merging fails, the parent is poisoned (its
 * commit fails with the child's error). PERR_INTERNAL if parent is a read txn. */
int store_txn_begin_nested(store_txn_t *parent, store_txn_t **child);
/* Commit: durable on return 0 (a nested txn: merged into its parent). Frees the txn either
 * way. */
int store_commit(store_txn_t *t);
void store_abort(store_txn_t *t);
/* 1 once the store cannot be used again until it is closed and reopened (LMDB: a failed
 * meta-page write during a commit sets MDB_PANIC; every later transaction, read or write,
 * fails). Acknowledged commits are intact on disk; reopening recovers. Cheap: call it after
 * a failed commit. */
int store_fatal(store_t *s);
/* Added: store_commit that also fills *err (message + code) on failure. */
int store_commit_err(store_txn_t *t, perr_info_t *err);
/* Added: human message of the last failed call on t ("" if none), e.g. "data store full: the
 * LMDB map is full at 16 MiB; it grows ..." with PERR_UNAVAILABLE. Valid until the txn ends. */
const char *store_txn_errmsg(const store_txn_t *t);
/* Read transactions are cheap: ending one (store_abort or store_commit) parks it in a
 * per-store pool of reset snapshots, and store_txn_begin(s, 0) renews a parked one (no
 * malloc, no reader-slot registration); on LMDB one that ended on the newest snapshot is
 * parked live and begun again as it is while nothing was committed since (by any process).
 * Any thread may end or begin one. Cursors must be closed before their txn ends. */

/* An id of the committed state a read txn sees: two read txns of the same process with the
 * same nonzero id see exactly the same data (any commit, feed apply, restore or reopen gives
 * another id). 0: unknown (a write txn, or a backend that cannot say): compare nothing.
 * For memos of shared records (a decoded program, a counters stamp) that may skip re-reading
 * them while nothing was committed. */
uint64_t store_txn_snapshot_id(store_txn_t *t);
/* Get: *val points into the snapshot, valid until the txn ends. PERR_NOT_FOUND if absent. */
int store_get(store_txn_t *t, store_table_t tb, const void *key, size_t klen,
              const void **val, size_t *vlen);
int store_put(store_txn_t *t, store_table_t tb, const void *key, size_t klen,
              const void *val, size_t vlen);
/* PERR_NOT_FOUND if absent. */
int store_del(store_txn_t *t, store_table_t tb, const void *key, size_t klen);

/* Iterate keys >= start in key order. store_cursor_next returns 1 with key/val set, 0 at the
 * end, negative on error. */
int store_cursor_open(store_txn_t *t, store_table_t tb, const void *start, size_t slen,
                      store_cursor_t **out);
int store_cursor_next(store_cursor_t *c, const void **key, size_t *klen, const void **val,
                      size_t *vlen);
void store_cursor_close(store_cursor_t *c);

/* Number of entries in a table as of this txn. */
uint64_t store_count(store_txn_t *t, store_table_t tb);
const char *store_table_name(store_table_t tb);
/* Erasure: overwrite with zeros every free page of the data file that no snapshot can read
 * any more, so bytes deleted or overwritten by committed writes do not linger on disk (LMDB
 * reuses freed pages but never clears them). Writer thread only, between write txns (it
 * commits two tiny META writes so the last write's freed pages become reclaimable, then
 * zeroes them while holding the writer lock). Pages a long-running reader still sees are
 * skipped (*zeroed counts the pages cleared). 0 or a perr code with err filled. */
int store_scrub_free_pages(store_t *s, uint64_t *zeroed, perr_info_t *err);
/* Bytes on disk used by the data file. */
uint64_t store_size_bytes(store_t *s);
/* Why the last write transaction could not begin or commit, as the backend knows it (e.g.
 * "PostgreSQL unreachable: ..."); "" if it has nothing to add. Any thread. */
void store_last_error(store_t *s, char *buf, size_t len);
/* Copy every record of src into dst (any backends; e.g. the embedded store into PostgreSQL),
 * in write txns of at most batch records (0 = 5000); *copied counts them. dst must hold no
 * record outside META (PERR_CONFLICT otherwise). 0 or a perr code with err filled. */
int store_copy(store_t *src, store_t *dst, uint64_t batch, uint64_t *copied, perr_info_t *err);
/* "lmdb" or "postgresql". */
const char *store_backend_name(const store_t *s);

/* ---- the change feed of a shared backend (no-ops on LMDB) ----
 * store_feed_poll: apply the changes other nodes committed since the last applied position
 * to the local copy, waiting up to timeout_ms for a notification when there are none. One
 * thread calls it in a loop (it owns the feed's own database connection). *applied = the
 * changes applied by this call; *tables = a bit (1 << store_table_t) per table that other
 * nodes' writes changed in the local copy since the last call (also those the writer applied
 * when catching up before a write). 0, or PERR_UNAVAILABLE (database unreachable: call again
 * later; it reconnects). store_feed_wake (any thread) ends a waiting poll early. */
int store_feed_poll(store_t *s, int timeout_ms, uint64_t *applied, uint64_t *tables,
                    perr_info_t *err);
void store_feed_wake(store_t *s);
typedef struct store_feed_stats_s {
  int shared;               /* 0 = embedded store: the rest is zero */
  int connected;            /* the feed's database connection is up */
  uint64_t applied_pos;     /* last change-log position in the local copy */
  uint64_t head_pos;        /* newest position the feed knows committed */
  uint64_t changes_applied; /* other nodes' changes applied since open (feed and writer) */
  uint64_t caught_up_ms;    /* clock_mono_ms when the local copy last held every committed
                             * change (0 = never): now - this is the staleness */
  uint64_t wait_ms_max;     /* the feed's longest wait between polls (the staleness bound) */
} store_feed_stats_t;
void store_feed_stats(store_t *s, store_feed_stats_t *out);
/* The data file's map: bytes of it holding pages (up to the last page in use) and the map's
 * size (the most the file may grow to before the map grows). Any thread; 0s when unknown. */
void store_map_info(store_t *s, uint64_t *used, uint64_t *size);

#endif
