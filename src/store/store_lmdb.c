/* store_lmdb.c -- the embedded LMDB backend of store.h. Owns the MDB_env in the data
 * directory (created mode 0700, files 0600), one named sub-DB per STORE_TABLE_MAP entry, the
 * META schema version check, and the pool of parked read transactions.
 *
 * Cheap reads: the env is opened with MDB_NOTLS, so a read MDB_txn is not bound to a thread.
 * Ending a read txn (store_abort/store_commit) calls mdb_txn_reset and parks the whole
 * store_txn_t object in a fixed array of atomic slots inside store_t (no lock: a slot is
 * claimed with atomic_exchange and filled with compare_exchange, so there is no ABA). The
 * next store_txn_begin(s, 0) on any thread takes a parked one and mdb_txn_renew()s it: no
 * malloc and no reader-table registration on the hot path. A parked txn keeps its LMDB reader
 * slot, so the pool holds at most max_readers/2 (<= 64) of them; the rest are freed. A read
 * txn during which this process committed nothing (`commits`, counted by every top-level
 * commit, read at its begin and at its end) is parked *live* (not reset): the next begin that
 * takes it while nothing was committed since by any process (the meta page's txn id,
 * mdb_env_info, is still its snapshot's) uses it as it is, its tables' roots already read (no
 * renew, no first-touch refresh of each named table); any other begin resets and renews it.
 * Every top-level commit of this process resets the parked live txns (their snapshots would
 * otherwise keep LMDB from reusing the pages the commit freed), and so does a remap; one
 * parked live on a snapshot another process's commit made old is reset by the next begin
 * that takes it or by this process's next commit. A read
 * txn also keeps the last cursor closed on each table (its MDB_cursor; LMDB renews a
 * read-only cursor in any read txn), so a cursor open on the hot path allocates nothing.
 *
 * Map full: a write txn that hits MDB_MAP_FULL fails (PERR_UNAVAILABLE, a message saying the
 * map is full); if map_size_max allows, the map is doubled (mdb_env_set_mapsize) at the start
 * of the next write txn, on the writer thread, when no txn is active: read txns count
 * themselves in `readers`, and a begin waits the few microseconds of a remap (`resizing`),
 * so no reader ever sees the map move under it. A long read (a model rebuild) delays the
 * growth to a later write txn. Disk full at commit (ENOSPC, EDQUOT, or EIO with the device
 * out of space) is reported as such, PERR_UNAVAILABLE.
 *
 * Savepoints: store_txn_begin_nested opens an LMDB child txn (mdb_txn_begin with a parent);
 * its commit merges into the parent, its abort restores the parent. Child txns are write
 * txns and never enter the read pool (nor the reader count).
 *
 * Invariants: writes are serialised by the caller (one writer thread); a write txn whose put
 * failed is poisoned and its commit aborts and reports the first error (a child's failed
 * commit also poisons its parent, so a lost savepoint can never commit silently);
 * MDB_MAP_FULL and a failed commit map to PERR_UNAVAILABLE, other LMDB errors to
 * PERR_INTERNAL with mdb_strerror; the store holds no global state. */
#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

#define READER_POOL_MAX 64

typedef struct lmdb_txn_s lmdb_txn_t;
typedef struct lmdb_cursor_s lmdb_cursor_t;

typedef struct lmdb_store_s {
  store_t base;
  MDB_env *env;
  MDB_dbi dbi[STORE_T__COUNT];
  char *dir;
  int pool_cap;
  _Atomic(lmdb_txn_t *) pool[READER_POOL_MAX];
  atomic_int readers;     /* read txns between begin and end, any thread */
  atomic_int resizing;    /* the writer is remapping: a reader's begin waits */
  uint64_t map_size, map_size_max; /* writer thread only, after open */
  int grow_pending;       /* a write txn hit MDB_MAP_FULL (writer thread only) */
  uint64_t open_seq;      /* this open's number in the process (store_txn_snapshot_id) */
  atomic_uint_fast64_t commits; /* top-level commits of this process (read txns parking) */
} lmdb_store_t;

static atomic_uint_fast64_t lmdb_opens; /* stores opened so far in this process */

struct lmdb_txn_s {
  store_txn_t base;
  MDB_txn *txn;
  int failed; /* write txn: first failing perr code, 0 if none */
  int ncursors;
  lmdb_txn_t *parent; /* a savepoint's parent, NULL for a top-level txn */
  lmdb_txn_t *child;  /* the open savepoint in this txn, NULL if none */
  lmdb_cursor_t *spare[STORE_T__COUNT]; /* read txn: a closed cursor per table, kept with
                                         * its MDB_cursor for the next open (renewed) */
  int live;        /* parked without mdb_txn_reset: its snapshot is still held */
  uint64_t txnid;  /* live: the snapshot's txn id */
  uint64_t commits_at; /* read txn: the store's commits when it began */
};

struct lmdb_cursor_s {
  store_cursor_t base;
  MDB_cursor *c;
  store_table_t tb;
  int pending; /* 1: the positioned entry (pending_rc) has not been returned yet */
  int pending_rc;
  MDB_val k, v;
};

/* A read txn's spare cursors closed (before the txn is freed). */
static void spares_free(lmdb_txn_t *t) {
  for (int i = 0; i < STORE_T__COUNT; i++)
    if (t->spare[i]) {
      mdb_cursor_close(t->spare[i]->c);
      free(t->spare[i]);
      t->spare[i] = NULL;
    }
}

static const store_backend_t lmdb_backend;

static lmdb_store_t *LS(store_t *s) { return (lmdb_store_t *)s; }
static lmdb_txn_t *LT(store_txn_t *t) { return (lmdb_txn_t *)t; }

/* Map an LMDB return code to a perr code, recording the message in msg (size 160). */
static int map_rc(int rc, const char *what, char *msg, size_t msz) {
  if (rc == MDB_SUCCESS) return 0;
  if (rc == MDB_NOTFOUND) return PERR_NOT_FOUND;
  if (rc == MDB_MAP_FULL) {
    snprintf(msg, msz, "data store full: the LMDB map (store.map_size_mb) is full");
    return PERR_UNAVAILABLE;
  }
  snprintf(msg, msz, "%s: %s", what, mdb_strerror(rc));
  return PERR_INTERNAL;
}

/* A full map: say whether it will grow (before the next write txn) or cannot. */
static void note_map_full(lmdb_txn_t *t) {
  lmdb_store_t *s = LS(t->base.s);
  s->grow_pending = 1;
  if (s->map_size < s->map_size_max)
    snprintf(t->base.err, sizeof t->base.err,
             "data store full: the LMDB map is full at %llu MiB; it grows (up to "
             "store.map_size_max_mb = %llu MiB) before the next write: retry",
             (unsigned long long)(s->map_size >> 20), (unsigned long long)(s->map_size_max >> 20));
  else
    snprintf(t->base.err, sizeof t->base.err,
             "data store full: the LMDB map is full at %llu MiB (store.map_size_max_mb): "
             "raise it and restart", (unsigned long long)(s->map_size >> 20));
}

static int txn_fail(lmdb_txn_t *t, int rc, const char *what) {
  int code = map_rc(rc, what, t->base.err, sizeof t->base.err);
  if (rc == MDB_MAP_FULL && t->base.write && !t->failed) note_map_full(t);
  if (code != PERR_NOT_FOUND && t->base.write && !t->failed) t->failed = code;
  return code;
}

/* ---- key order ---------------------------------------------------------------------- */

/* 8 bytes at p as a big-endian number: two such words compare as memcmp orders the bytes. */
static inline uint64_t load_be64(const unsigned char *p) {
  uint64_t w;
  memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

static inline uint32_t load_be32(const unsigned char *p) {
  uint32_t w;
  memcpy(&w, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  w = __builtin_bswap32(w);
#endif
  return w;
}

static inline int key_cmp(const void *a, size_t an, const void *b, size_t bn) {
  const unsigned char *p = a, *q = b;
  size_t n = an < bn ? an : bn;
  uint64_t x = 0, y = 0;
  if (n >= 8) { /* words: the first (most keys differ there), then on; the last one overlaps
                 * the one before (its overlap is equal) */
    x = load_be64(p);
    y = load_be64(q);
    for (size_t i = 8; x == y && i < n; i += 8) {
      size_t at = i + 8 <= n ? i : n - 8;
      x = load_be64(p + at);
      y = load_be64(q + at);
    }
  } else if (n >= 4) { /* the first and the last four bytes, overlapping */
    x = (uint64_t)load_be32(p) << 32 | load_be32(p + n - 4);
    y = (uint64_t)load_be32(q) << 32 | load_be32(q + n - 4);
  } else {
    for (size_t i = 0; i < n; i++) x = x << 8 | p[i], y = y << 8 | q[i];
  }
  if (x != y) return x < y ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

int store_lmdb_key_cmp(const void *a, size_t an, const void *b, size_t bn) {
  return key_cmp(a, an, b, bn);
}

/* LMDB's key compare for every table: the order of its default (mdb_cmp_memn: memcmp of the
 * common length, then the shorter first), so any program opening the store with the default
 * sees the same order; a word at a time and no call into libc (a lookup makes ~8 compares). */
static int lmdb_key_cmp(const MDB_val *a, const MDB_val *b) {
  return key_cmp(a->mv_data, a->mv_size, b->mv_data, b->mv_size);
}

/* ---- open / close ---------------------------------------------------------------- */

static int open_fail(perr_info_t *err, int code, const char *fmt, const char *a,
                     const char *b) {
  return perr_set(err, code, NULL, fmt, a, b);
}

static int check_schema(lmdb_store_t *s, MDB_txn *txn, perr_info_t *err) {
  MDB_val k = {sizeof STORE_META_SCHEMA_KEY - 1, (void *)STORE_META_SCHEMA_KEY}, v;
  unsigned char be[4] = {(STORE_SCHEMA_VERSION >> 24) & 0xff, (STORE_SCHEMA_VERSION >> 16) & 0xff,
                         (STORE_SCHEMA_VERSION >> 8) & 0xff, STORE_SCHEMA_VERSION & 0xff};
  int rc = mdb_get(txn, s->dbi[STORE_T_META], &k, &v);
  if (rc == MDB_NOTFOUND) { /* new store: write our version (v then points at be) */
    v.mv_size = 4;
    v.mv_data = be;
    rc = mdb_put(txn, s->dbi[STORE_T_META], &k, &v, 0);
  }
  if (rc != MDB_SUCCESS) {
    char m[160];
    int code = map_rc(rc, "writing the schema version", m, sizeof m);
    return perr_set(err, code, NULL, "%s", m);
  }
  if (v.mv_size != 4)
    return perr_set(err, PERR_INTERNAL, NULL, "data store META schema_version is corrupt");
  const unsigned char *p = v.mv_data;
  uint32_t ver = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
  if (ver > STORE_SCHEMA_VERSION)
    return perr_set(err, PERR_UNAVAILABLE, NULL,
                    "data store schema version %u is newer than this build supports (%u): "
                    "upgrade patrond",
                    (unsigned)ver, (unsigned)STORE_SCHEMA_VERSION);
  /* ver < current: future migrations go here (none yet; version 1 is the first). */
  return 0;
}

int store_lmdb_open(const char *dir, const store_options_t *opt, store_t **out,
                    perr_info_t *err) {
  store_options_t o;
  store_options_default(&o);
  if (opt) {
    if (opt->map_size) o.map_size = opt->map_size;
    if (opt->max_readers > 0) o.max_readers = opt->max_readers;
    o.no_sync = opt->no_sync;
    o.map_size_max = opt->map_size_max;
  }
  *out = NULL;
  if (!dir || !*dir) return perr_set(err, PERR_INVALID_PARAMS, "data_dir", "empty data directory");
  if (o.map_size > SIZE_MAX || o.map_size_max > SIZE_MAX)
    return perr_set(err, PERR_INVALID_PARAMS, "map_size", "map_size too large for this platform");
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return open_fail(err, PERR_INTERNAL, "cannot create data directory %s: %s", dir,
                     strerror(errno));
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return open_fail(err, PERR_INTERNAL, "data directory %s: %s", dir,
                     errno ? strerror(errno) : "not a directory");

  lmdb_store_t *s = calloc(1, sizeof *s);
  if (!s || !(s->dir = strdup(dir))) {
    free(s);
    return perr_set(err, PERR_INTERNAL, NULL, "out of memory");
  }
  s->base.be = &lmdb_backend;
  s->open_seq = atomic_fetch_add(&lmdb_opens, 1) + 1;
  s->map_size = o.map_size;
  s->map_size_max = o.map_size_max > o.map_size ? o.map_size_max : o.map_size;
  s->pool_cap = o.max_readers / 2;
  if (s->pool_cap > READER_POOL_MAX) s->pool_cap = READER_POOL_MAX;
  for (int i = 0; i < READER_POOL_MAX; i++) atomic_init(&s->pool[i], NULL);
  atomic_init(&s->commits, 0);

  const char *what = "mdb_env_create";
  int rc = mdb_env_create(&s->env);
  if (rc == 0) {
    what = "mdb_env_set_maxdbs";
    rc = mdb_env_set_maxdbs(s->env, STORE_T__COUNT + 4);
  }
  if (rc == 0) {
    what = "mdb_env_set_maxreaders";
    rc = mdb_env_set_maxreaders(s->env, (unsigned)o.max_readers);
  }
  if (rc == 0) {
    what = "mdb_env_set_mapsize";
    rc = mdb_env_set_mapsize(s->env, (size_t)o.map_size);
  }
  if (rc == 0) {
    what = "mdb_env_open";
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (o.no_sync ? MDB_NOSYNC : 0), 0600);
  }
  if (rc == 0) {
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* clear reader slots of crashed processes */
  }
  MDB_txn *txn = NULL;
  if (rc == 0) {
    what = "mdb_txn_begin";
    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  }
  for (int i = 0; rc == 0 && i < STORE_T__COUNT; i++) {
    what = "mdb_dbi_open";
    rc = mdb_dbi_open(txn, store_table_name((store_table_t)i), MDB_CREATE, &s->dbi[i]);
    if (rc == 0) { /* before any data access: kept by the env for every later txn */
      what = "mdb_set_compare";
      rc = mdb_set_compare(txn, s->dbi[i], lmdb_key_cmp);
    }
  }
  if (rc == 0) {
    rc = check_schema(s, txn, err);
    if (rc != 0) goto fail;
    what = "mdb_txn_commit";
    rc = mdb_txn_commit(txn);
    txn = NULL;
  }
  if (rc != 0) {
    char m[160];
    rc = perr_set(err, map_rc(rc, what, m, sizeof m), NULL, "cannot open data store in %s: %s",
                  dir, m);
    goto fail;
  }
  *out = &s->base;
  return 0;

fail:
  if (txn) mdb_txn_abort(txn);
  if (s->env) mdb_env_close(s->env);
  free(s->dir);
  free(s);
  return rc;
}

static void lmdb_close(store_t *base) {
  lmdb_store_t *s = LS(base);
  for (int i = 0; i < READER_POOL_MAX; i++) {
    lmdb_txn_t *t = atomic_exchange(&s->pool[i], NULL);
    if (t) {
      spares_free(t);
      mdb_txn_abort(t->txn);
      free(t);
    }
  }
  mdb_env_close(s->env);
  free(s->dir);
  free(s);
}

/* ---- transactions ------------------------------------------------------------------ */

static lmdb_txn_t *pool_take(lmdb_store_t *s) {
  for (int i = 0; i < s->pool_cap; i++) {
    if (atomic_load_explicit(&s->pool[i], memory_order_relaxed) == NULL) continue;
    lmdb_txn_t *t = atomic_exchange(&s->pool[i], NULL);
    if (t) return t;
  }
  return NULL;
}

/* Park a reset read txn; 0 if the pool is full (caller frees it). */
static int pool_park(lmdb_store_t *s, lmdb_txn_t *t) {
  for (int i = 0; i < s->pool_cap; i++) {
    lmdb_txn_t *expect = NULL;
    if (atomic_compare_exchange_strong(&s->pool[i], &expect, t)) return 1;
  }
  return 0;
}

/* The txn id of the newest commit (any process's): the meta page LMDB picks. A read txn
 * whose snapshot has this id sees everything committed. */
static uint64_t last_txnid(lmdb_store_t *s) {
  MDB_envinfo info;
  return mdb_env_info(s->env, &info) == MDB_SUCCESS ? (uint64_t)info.me_last_txnid : 0;
}

/* Reset every parked live txn (after a commit: their snapshots are now old and would keep
 * LMDB from reusing the pages the commit freed; before a remap: no txn may be active). A
 * txn taken meanwhile by a reader is the reader's (slots are claimed by exchange). */
static void pool_sweep(lmdb_store_t *s) {
  for (int i = 0; i < s->pool_cap; i++) {
    if (atomic_load_explicit(&s->pool[i], memory_order_relaxed) == NULL) continue;
    lmdb_txn_t *t = atomic_exchange(&s->pool[i], NULL);
    if (!t) continue;
    if (t->live) {
      mdb_txn_reset(t->txn);
      t->live = 0;
    }
    if (!pool_park(s, t)) {
      spares_free(t);
      mdb_txn_abort(t->txn);
      free(t);
    }
  }
}

/* Dekker-style handshake with grow_map (sequentially consistent atomics): a reader counts
 * itself, then checks no remap is under way; the writer flags the remap, then checks no
 * reader is counted. At most one of them goes ahead. */
static void reader_enter(lmdb_store_t *s) {
  for (;;) {
    atomic_fetch_add(&s->readers, 1);
    if (!atomic_load(&s->resizing)) return;
    atomic_fetch_sub(&s->readers, 1);
    while (atomic_load(&s->resizing)) sched_yield();
  }
}

static void reader_exit(lmdb_store_t *s) { atomic_fetch_sub(&s->readers, 1); }

/* Writer thread, no write txn open: double the map (up to map_size_max) once no read txn is
 * active; a few short tries, else the next write txn tries again. */
static void grow_map(lmdb_store_t *s) {
  uint64_t want = s->map_size * 2 < s->map_size_max ? s->map_size * 2 : s->map_size_max;
  if (want <= s->map_size) return;
  for (int attempt = 0; attempt < 50; attempt++) {
    atomic_store(&s->resizing, 1);
    int rc = -1;
    if (atomic_load(&s->readers) == 0) {
      pool_sweep(s); /* no reader runs and none can begin: the parked ones let go */
      rc = mdb_env_set_mapsize(s->env, (size_t)want);
    }
    atomic_store(&s->resizing, 0);
    if (rc == MDB_SUCCESS) {
      s->map_size = want;
      s->grow_pending = 0;
      return;
    }
    if (rc > 0) return; /* LMDB refused: the next write txn tries again */
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

static int lmdb_txn_begin(store_t *base, int write, store_txn_t **out) {
  lmdb_store_t *s = LS(base);
  *out = NULL;
  if (write && s->grow_pending) grow_map(s);
  uint64_t commits = 0;
  if (!write) {
    reader_enter(s);
    commits = atomic_load(&s->commits); /* before the snapshot: a commit after it is seen */
    lmdb_txn_t *t = pool_take(s);
    if (t && t->live) {
      if (last_txnid(s) == t->txnid) { /* nothing committed since: the same snapshot, its
                                        * tables' roots already read */
        t->live = 0;
        t->commits_at = commits;
        t->base.err[0] = 0;
        *out = &t->base;
        return 0;
      }
      mdb_txn_reset(t->txn);
      t->live = 0;
    }
    if (t) {
      if (mdb_txn_renew(t->txn) == MDB_SUCCESS) {
        t->commits_at = commits;
        t->base.err[0] = 0;
        *out = &t->base;
        return 0;
      }
      spares_free(t);
      mdb_txn_abort(t->txn);
      free(t);
    }
  }
  lmdb_txn_t *t = calloc(1, sizeof *t);
  if (!t) {
    if (!write) reader_exit(s);
    return PERR_INTERNAL;
  }
  t->base.s = base;
  t->base.write = write ? 1 : 0;
  t->commits_at = commits;
  int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
  if (rc != MDB_SUCCESS) {
    char m[160];
    free(t);
    if (!write) reader_exit(s);
    return map_rc(rc, "mdb_txn_begin", m, sizeof m);
  }
  *out = &t->base;
  return 0;
}

static int lmdb_txn_begin_nested(store_txn_t *pbase, store_txn_t **out) {
  lmdb_txn_t *parent = LT(pbase);
  *out = NULL;
  if (parent->failed) { /* the parent will not commit: a savepoint in it is pointless */
    return parent->failed;
  }
  lmdb_txn_t *t = calloc(1, sizeof *t);
  if (!t) return txn_fail(parent, ENOMEM, "savepoint");
  t->base.s = pbase->s;
  t->base.write = 1;
  t->parent = parent;
  int rc = mdb_txn_begin(LS(pbase->s)->env, parent->txn, 0, &t->txn);
  if (rc != MDB_SUCCESS) {
    free(t);
    return txn_fail(parent, rc, "mdb_txn_begin (savepoint)");
  }
  parent->child = t;
  *out = &t->base;
  return 0;
}

/* A txn whose savepoint is open must not end (LMDB would end the child under its owner). */
static void end_txn_checks(lmdb_txn_t *t) {
  assert(!t->child && "a transaction ended while its savepoint is open");
  if (t->parent) t->parent->child = NULL;
}

static void lmdb_abort(store_txn_t *base) {
  lmdb_txn_t *t = LT(base);
  lmdb_store_t *s = LS(t->base.s);
  end_txn_checks(t);
  if (!t->base.write) {
    t->ncursors = 0;
    t->txnid = (uint64_t)mdb_txn_id(t->txn);
    t->live = atomic_load(&s->commits) == t->commits_at; /* kept for the next begin; one this
                                          * process's commits made old would only pin pages */
    if (!t->live) mdb_txn_reset(t->txn);
    reader_exit(s);
    if (pool_park(s, t)) return;
    spares_free(t);
  }
  mdb_txn_abort(t->txn);
  free(t);
}

/* A commit that failed writing: disk full (said so) or another I/O error. */
static void commit_failed(lmdb_txn_t *t, int rc) {
  struct statvfs vs;
  int full = rc == ENOSPC || rc == EDQUOT;
  if (!full && rc == EIO && statvfs(LS(t->base.s)->dir, &vs) == 0)
    full = (uint64_t)vs.f_bavail * vs.f_frsize < (UINT64_C(1) << 20); /* a short write */
  if (full)
    snprintf(t->base.err, sizeof t->base.err,
             "disk full: no space left on the device of the data directory (commit failed)");
  else
    snprintf(t->base.err, sizeof t->base.err, "cannot write the data store: %s", mdb_strerror(rc));
}

static int lmdb_commit(store_txn_t *base, perr_info_t *err) {
  lmdb_txn_t *t = LT(base);
  end_txn_checks(t);
  if (!t->base.write) {
    lmdb_abort(base);
    return 0;
  }
  int code;
  if (t->failed) {
    code = t->failed;
    perr_set(err, code, NULL, "%s", t->base.err);
    mdb_txn_abort(t->txn);
  } else {
    int rc = mdb_txn_commit(t->txn);
    code = map_rc(rc, "mdb_txn_commit", t->base.err, sizeof t->base.err);
    if (!rc && !t->parent) {
      atomic_fetch_add(&LS(t->base.s)->commits, 1); /* before the sweep: a reader ending now
                                                     * parks reset */
      pool_sweep(LS(t->base.s));
    }
    if (rc == MDB_MAP_FULL) note_map_full(t);
    else if (code) {
      commit_failed(t, rc);
      code = PERR_UNAVAILABLE;
    }
    if (code) perr_set(err, code, NULL, "%s", t->base.err);
  }
  if (code && t->parent && !t->parent->failed) { /* the savepoint's writes are lost */
    t->parent->failed = code;
    snprintf(t->parent->base.err, sizeof t->parent->base.err, "savepoint: %.140s", t->base.err);
  }
  free(t);
  return code;
}

/* ---- data ---------------------------------------------------------------------------- */

static int lmdb_get(store_txn_t *base, store_table_t tb, const void *key, size_t klen,
                    const void **val, size_t *vlen) {
  lmdb_txn_t *t = LT(base);
  MDB_val k = {klen, (void *)key}, v;
  int rc = mdb_get(t->txn, LS(base->s)->dbi[tb], &k, &v);
  if (rc != MDB_SUCCESS) return txn_fail(t, rc, "mdb_get");
  *val = v.mv_data;
  *vlen = v.mv_size;
  return 0;
}

static int lmdb_put(store_txn_t *base, store_table_t tb, const void *key, size_t klen,
                    const void *val, size_t vlen) {
  lmdb_txn_t *t = LT(base);
  if (!t->base.write) {
    snprintf(t->base.err, sizeof t->base.err, "store_put on a read transaction");
    return PERR_INTERNAL;
  }
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  int rc = mdb_put(t->txn, LS(base->s)->dbi[tb], &k, &v, 0);
  return rc == MDB_SUCCESS ? 0 : txn_fail(t, rc, "mdb_put");
}

static int lmdb_del(store_txn_t *base, store_table_t tb, const void *key, size_t klen) {
  lmdb_txn_t *t = LT(base);
  if (!t->base.write) {
    snprintf(t->base.err, sizeof t->base.err, "store_del on a read transaction");
    return PERR_INTERNAL;
  }
  MDB_val k = {klen, (void *)key};
  int rc = mdb_del(t->txn, LS(base->s)->dbi[tb], &k, NULL);
  return rc == MDB_SUCCESS ? 0 : txn_fail(t, rc, "mdb_del");
}

static int lmdb_cursor_open(store_txn_t *base, store_table_t tb, const void *start,
                            size_t slen, store_cursor_t **out) {
  lmdb_txn_t *t = LT(base);
  *out = NULL;
  lmdb_cursor_t *c = base->write ? NULL : t->spare[tb];
  if (c) { /* a read txn's cursor of this table, closed before: renewed, no malloc */
    t->spare[tb] = NULL;
    if (mdb_cursor_renew(t->txn, c->c) != MDB_SUCCESS) {
      mdb_cursor_close(c->c);
      free(c);
      c = NULL;
    }
  }
  if (!c) {
    if (!(c = calloc(1, sizeof *c))) return PERR_INTERNAL;
    int rc = mdb_cursor_open(t->txn, LS(base->s)->dbi[tb], &c->c);
    if (rc != MDB_SUCCESS) {
      free(c);
      return txn_fail(t, rc, "mdb_cursor_open");
    }
  }
  c->base.t = base;
  c->tb = tb;
  if (slen) {
    c->k.mv_size = slen;
    c->k.mv_data = (void *)start;
    c->pending_rc = mdb_cursor_get(c->c, &c->k, &c->v, MDB_SET_RANGE);
  } else {
    c->pending_rc = mdb_cursor_get(c->c, &c->k, &c->v, MDB_FIRST);
  }
  c->pending = 1;
  t->ncursors++;
  *out = &c->base;
  return 0;
}

static int lmdb_cursor_next(store_cursor_t *base, const void **key, size_t *klen,
                            const void **val, size_t *vlen) {
  lmdb_cursor_t *c = (lmdb_cursor_t *)base;
  int rc;
  if (c->pending) {
    c->pending = 0;
    rc = c->pending_rc;
  } else {
    rc = mdb_cursor_get(c->c, &c->k, &c->v, MDB_NEXT);
  }
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != MDB_SUCCESS) return txn_fail(LT(base->t), rc, "mdb_cursor_get");
  *key = c->k.mv_data;
  *klen = c->k.mv_size;
  if (val) *val = c->v.mv_data;
  if (vlen) *vlen = c->v.mv_size;
  return 1;
}

static void lmdb_cursor_close(store_cursor_t *base) {
  lmdb_cursor_t *c = (lmdb_cursor_t *)base;
  lmdb_txn_t *t = LT(base->t);
  t->ncursors--;
  if (!t->base.write && !t->spare[c->tb]) { /* kept for the next open in a read txn: LMDB
                                              * lets a read-only cursor be renewed, in this
                                              * txn or after its reset */
    t->spare[c->tb] = c;
    return;
  }
  mdb_cursor_close(c->c);
  free(c);
}

/* (open number << 40) | the snapshot's txn id: within one open, LMDB's txn id names the last
 * commit a read txn sees; the open number tells a reopened (or restored) store apart. */
static uint64_t lmdb_snapshot_id(store_txn_t *base) {
  lmdb_txn_t *t = (lmdb_txn_t *)base;
  if (base->write || !t->txn) return 0;
  uint64_t id = (uint64_t)mdb_txn_id(t->txn), seq = LS(base->s)->open_seq;
  if (!id || id >= (UINT64_C(1) << 40) || !seq || seq >= (UINT64_C(1) << 24)) return 0;
  return seq << 40 | id;
}

static uint64_t lmdb_count(store_txn_t *base, store_table_t tb) {
  MDB_stat st;
  if (mdb_stat(LT(base)->txn, LS(base->s)->dbi[tb], &st) != MDB_SUCCESS) return 0;
  return st.ms_entries;
}

static uint64_t lmdb_size_bytes(store_t *base) {
  lmdb_store_t *s = LS(base);
  char path[4096];
  struct stat st;
  if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", s->dir) >= sizeof path) return 0;
  if (stat(path, &st) != 0) return 0;
  return (uint64_t)st.st_size;
}

static void lmdb_map_info(store_t *base, uint64_t *used, uint64_t *size) {
  MDB_envinfo info;
  MDB_stat st;
  lmdb_store_t *s = LS(base);
  reader_enter(s); /* mdb_env_info reads the meta pages: not during a remap (grow_map) */
  int rc = mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st);
  reader_exit(s);
  if (rc) return;
  *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
  *size = (uint64_t)info.me_mapsize;
}

/* LMDB marks the environment fatal (MDB_FATAL_ERROR) when a commit fails to write its meta
 * page; from then on mdb_txn_begin answers MDB_PANIC to readers and writers alike. */
static int lmdb_fatal(store_t *base) {
  lmdb_store_t *s = LS(base);
  MDB_txn *t;
  reader_enter(s); /* a read txn's begin reads the meta pages: never during a remap (on the
                    * PostgreSQL backend the feed thread may grow the local copy meanwhile) */
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
  if (rc == MDB_SUCCESS) mdb_txn_abort(t);
  reader_exit(s);
  return rc == MDB_PANIC;
}

/* ---- store_scrub_free_pages: zero the free pages no snapshot can read ---------------- */

/* mdb_reader_list line "pid thread txnid" ("-" for a reset slot): the smallest txnid. */
static int oldest_reader(const char *msg, void *ctx) {
  unsigned long long *oldest = ctx, id;
  int pid;
  size_t tid;
  if (sscanf(msg, "%d %zx %llu", &pid, &tid, &id) == 3 && id < *oldest) *oldest = id;
  return 0;
}

/* A write txn that changes one META key: txnids advance, so the pages freed by the last
 * real write become reclaimable (LMDB reuses pages freed by txn N from txn N+2 on). */
static int bump_txn(MDB_env *env, MDB_dbi meta, uint64_t n) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(env, NULL, 0, &txn);
  if (rc) return rc;
  MDB_val k = {sizeof "scrub" - 1, (void *)"scrub"}, v = {sizeof n, &n};
  rc = mdb_put(txn, meta, &k, &v, 0);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

/* LMDB page header (lmdb's on-disk format, stable since 0.9): pgno (8), pad (2), flags (2),
 * lower (2) and upper (2) -- the free gap [lower, upper) -- or, for an overflow head, the
 * page count (4) in their place. */
#define PG_HDR 16
#define PG_BRANCH 0x01
#define PG_LEAF 0x02
#define PG_OVERFLOW 0x04
#define PG_META 0x08
#define PG_LEAF2 0x20

/* Zero the free gap of every branch/leaf page (deleted or moved records leave their bytes
 * there: LMDB compacts a page without clearing it) and the whole of every page in free[]. */
static int zero_pages(int fd, size_t psize, size_t npages, const unsigned char *is_free,
                      uint64_t *zeroed) {
  unsigned char *pg = malloc(psize), *zero = calloc(1, psize);
  int rc = pg && zero ? 0 : ENOMEM;
  for (size_t p = 2; p < npages && !rc; p++) { /* 0, 1: the meta pages */
    off_t at = (off_t)(p * psize);
    if (is_free[p]) {
      if (pwrite(fd, zero, psize, at) != (ssize_t)psize) rc = errno ? errno : EIO;
      (*zeroed)++;
      continue;
    }
    if (pread(fd, pg, PG_HDR, at) != PG_HDR) {
      rc = errno ? errno : EIO;
      break;
    }
    uint16_t flags, lower, upper;
    memcpy(&flags, pg + 10, 2);
    memcpy(&lower, pg + 12, 2);
    memcpy(&upper, pg + 14, 2);
    if (flags & PG_OVERFLOW) {
      uint32_t n;
      memcpy(&n, pg + 12, 4);
      if (n > 1) p += n - 1; /* its other pages are data, no header */
      continue;
    }
    if ((flags & (PG_BRANCH | PG_LEAF)) && !(flags & (PG_META | PG_LEAF2)) && lower >= PG_HDR &&
        lower < upper && upper <= psize) {
      if (pwrite(fd, zero, upper - lower, at + lower) != (ssize_t)(upper - lower))
        rc = errno ? errno : EIO;
    }
  }
  free(pg);
  free(zero);
  return rc;
}

static int lmdb_scrub_free(store_t *base, uint64_t *zeroed, perr_info_t *err) {
  lmdb_store_t *s = LS(base);
  *zeroed = 0;
  int rc = 0;
  for (uint64_t i = 0; i < 2 && !rc; i++) rc = bump_txn(s->env, s->dbi[STORE_T_META], i);
  MDB_txn *w = NULL, *r = NULL;
  MDB_cursor *c = NULL;
  unsigned char *is_free = NULL;
  /* the write txn holds the writer lock (nobody allocates or writes pages meanwhile); the
   * read txn on the same snapshot reads the freelist (LMDB allows that in read txns only) */
  if (!rc) rc = mdb_txn_begin(s->env, NULL, 0, &w);
  if (!rc) rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r);
  MDB_stat st;
  MDB_envinfo info;
  mdb_filehandle_t fd;
  if (!rc) rc = mdb_env_stat(s->env, &st);
  if (!rc) rc = mdb_env_info(s->env, &info);
  if (!rc) rc = mdb_env_get_fd(s->env, &fd);
  if (!rc) rc = mdb_cursor_open(r, 0 /* FREE_DBI */, &c);
  if (rc) goto out;
  size_t npages = info.me_last_pgno + 1;
  is_free = calloc(npages, 1);
  if (!is_free) {
    rc = ENOMEM;
    goto out;
  }
  unsigned long long oldest = (unsigned long long)mdb_txn_id(w) - 1;
  mdb_reader_list(s->env, oldest_reader, &oldest);
  MDB_val k, v;
  int g;
  while ((g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
    size_t freed_by;
    if (k.mv_size != sizeof freed_by || v.mv_size < sizeof(size_t)) continue;
    memcpy(&freed_by, k.mv_data, sizeof freed_by);
    if (freed_by >= oldest) break; /* keys ascend: the rest may still be read */
    const size_t *idl = v.mv_data; /* [count, pgno...] */
    size_t n = idl[0];
    if ((n + 1) * sizeof(size_t) > v.mv_size) continue;
    for (size_t i = 1; i <= n; i++)
      if (idl[i] < npages) is_free[idl[i]] = 1;
  }
  if (g != MDB_NOTFOUND && g != 0) rc = g;
  if (!rc) rc = zero_pages(fd, st.ms_psize, npages, is_free, zeroed);
  if (!rc && fdatasync(fd)) rc = errno;
out:
  free(is_free);
  if (c) mdb_cursor_close(c);
  if (r) mdb_txn_abort(r);
  if (w) mdb_txn_abort(w);
  if (rc)
    return perr_set(err, PERR_INTERNAL, NULL, "scrubbing free pages: %s",
                    rc > 0 && rc < 1000 ? strerror(rc) : mdb_strerror(rc));
  return 0;
}

static const store_backend_t lmdb_backend = {
    .name = "lmdb",
    .close = lmdb_close,
    .txn_begin = lmdb_txn_begin,
    .txn_begin_nested = lmdb_txn_begin_nested,
    .commit = lmdb_commit,
    .abort = lmdb_abort,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .cursor_open = lmdb_cursor_open,
    .cursor_next = lmdb_cursor_next,
    .cursor_close = lmdb_cursor_close,
    .count = lmdb_count,
    .snapshot_id = lmdb_snapshot_id,
    .size_bytes = lmdb_size_bytes,
    .map_info = lmdb_map_info,
    .fatal = lmdb_fatal,
    .scrub_free = lmdb_scrub_free,
};
