/* store_pg.c -- the PostgreSQL backend of store.h (docs/SCALEOUT.md): PostgreSQL is the system
 * of record of a fleet of nodes, and each node serves reads from its local LMDB copy.
 *
 * Reads: store_txn_begin(s, 0) hands out a read txn of the local copy itself (its calls then
 * dispatch to LMDB): a read costs what it costs on the embedded store.
 *
 * Writes (the writer thread): a write txn is one PostgreSQL transaction holding the fleet's
 * write lock (pg_advisory_xact_lock, or the row patron_lock(1) FOR UPDATE where advisory locks
 * are missing: [store] pg_write_lock), plus one local LMDB write txn. At begin it first applies
 * every change other nodes committed (the catch-up), so the local copy is exact while the lock
 * is held: the modules' read-modify-write (a points balance, an offer budget, an idempotency
 * key) reads the same state on every node, and no ledger needs code of its own. Each put/del
 * goes to the local txn and is recorded; savepoints are LMDB child txns plus a mark in the
 * record list. Commit appends the records to patron_change_log (COPY), folds them into
 * patron_kv, NOTIFYs the feeds, COMMITs, and only then commits the local txn with the new
 * log position. If the database is unreachable or the COMMIT fails (or its outcome is unknown:
 * the connection broke), the local txn is aborted and the caller answers `unavailable`;
 * a write whose COMMIT did land reaches the local copy through the feed (an idempotent retry
 * then answers the first answer).
 *
 * Invariants: a write txn holds the write lock from begin to end, so log positions ascend in
 * commit order; the local copy never holds a change the database does not (local commit comes
 * after the PostgreSQL COMMIT); the writer's connection is used by the writer thread only. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "store_pg_internal.h"

typedef struct pg_change_s {
  store_table_t tb;
  int del;
  size_t klen, vlen;
  unsigned char *kv; /* key then value */
} pg_change_t;

typedef struct pg_txn_s pg_txn_t;
struct pg_txn_s {
  store_txn_t base;
  store_txn_t *local;  /* the LMDB write txn (a child txn for a savepoint) */
  pg_txn_t *root;      /* the top-level txn (itself for the top) */
  size_t mark;         /* a savepoint: root's change count when it began */
  int failed;          /* first failing perr code */
  /* root only */
  pg_change_t *changes;
  size_t n, cap;
  uint64_t pos;        /* the local copy's position after the catch-up */
  uint64_t caught;     /* changes the catch-up applied */
  uint64_t tables;     /* bit per table the catch-up changed */
};

static const store_backend_t pg_backend;

static pg_store_t *PS(store_t *s) { return (pg_store_t *)s; }
static pg_txn_t *PT(store_txn_t *t) { return (pg_txn_t *)t; }

static void set_last_err(pg_store_t *s, const char *msg) {
  pthread_mutex_lock(&s->err_mu);
  snprintf(s->last_err, sizeof s->last_err, "%s", msg);
  pthread_mutex_unlock(&s->err_mu);
}

/* ---- open / close -------------------------------------------------------------------------- */

/* The cluster_id the local copy was filled from ("" if never). */
static void local_cluster(pg_store_t *s) {
  store_txn_t *t;
  const void *v;
  size_t vlen;
  if (store_txn_begin(s->local, 0, &t)) return;
  if (store_get(t, STORE_T_META, PG_META_CLUSTER, sizeof PG_META_CLUSTER - 1, &v, &vlen) == 0 &&
      vlen < sizeof s->cluster) {
    memcpy(s->cluster, v, vlen);
    s->cluster[vlen] = 0;
    atomic_store(&s->applied_pos, store_pg_local_pos(t));
  }
  store_abort(t);
}

static void pg_close(store_t *base) {
  pg_store_t *s = PS(base);
  if (s->wconn) PQfinish(s->wconn);
  if (s->fconn) PQfinish(s->fconn);
  if (s->local) store_close(s->local);
  if (s->wake[0] >= 0) close(s->wake[0]);
  if (s->wake[1] >= 0) close(s->wake[1]);
  pthread_mutex_destroy(&s->local_write);
  pthread_mutex_destroy(&s->err_mu);
  pthread_mutex_destroy(&s->ready_mu);
  free(s->conninfo);
  free(s);
}

int store_pg_open(const char *dir, const store_options_t *opt, store_t **out, perr_info_t *err) {
  *out = NULL;
  if (!dir || !*dir) return perr_set(err, PERR_INVALID_PARAMS, "data_dir", "empty data directory");
  pg_store_t *s = calloc(1, sizeof *s);
  char path[4096], m[160];
  if (!s || !(s->conninfo = strdup(opt->pg_conninfo))) {
    free(s);
    return perr_set(err, PERR_INTERNAL, NULL, "out of memory");
  }
  s->base.be = &pg_backend;
  s->table_lock = opt->pg_table_lock;
  s->wake[0] = s->wake[1] = -1;
  pthread_mutex_init(&s->local_write, NULL);
  pthread_mutex_init(&s->err_mu, NULL);
  pthread_mutex_init(&s->ready_mu, NULL);
  if (opt->node_name && opt->node_name[0]) snprintf(s->origin, sizeof s->origin, "%s", opt->node_name);
  else {
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(s->origin, sizeof s->origin, "%s:%ld", host, (long)getpid());
  }
  int rc;
  if (pipe2(s->wake, O_NONBLOCK | O_CLOEXEC)) {
    rc = perr_set(err, PERR_INTERNAL, NULL, "pipe: out of descriptors");
    goto fail;
  }
  /* the local copy beside (never inside) the embedded store's files */
  if ((size_t)snprintf(path, sizeof path, "%s/pg-local", dir) >= sizeof path) {
    rc = perr_set(err, PERR_INVALID_PARAMS, "data_dir", "data directory path too long");
    goto fail;
  }
  store_options_t lo = *opt;
  lo.pg_conninfo = NULL;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    rc = perr_set(err, PERR_INTERNAL, "data_dir", "cannot create data directory %s", dir);
    goto fail;
  }
  if ((rc = store_lmdb_open(path, &lo, &s->local, err))) goto fail;
  local_cluster(s);
  if (!(s->wconn = store_pg_connect(s->conninfo, m, sizeof m))) {
    rc = perr_set(err, PERR_UNAVAILABLE, NULL, "%s", m);
  } else if (!(rc = store_pg_migrate(s->wconn, err)) &&
             !(rc = store_pg_bootstrap(s, s->wconn, err))) {
    if (store_pg_check_lock_kind(s, s->wconn, m, sizeof m)) {
      rc = perr_set(err, PERR_UNAVAILABLE, NULL, "%s", m);
      goto fail;
    }
    atomic_store(&s->ready, 1);
    atomic_store(&s->connected, 1); /* the database answered; the feed thread takes over */
  }
  if (rc) {
    /* the database is unreachable but this node has a copy of it: start on the copy (reads
     * served, writes unavailable) and check the database at the first connection */
    int unreachable = !s->wconn || PQstatus(s->wconn) != CONNECTION_OK;
    if (!unreachable || !s->cluster[0]) goto fail;
    set_last_err(s, err->message);
    if (s->wconn) PQfinish(s->wconn);
    s->wconn = NULL;
    s->wconn_retry_ms = 0;
    memset(err, 0, sizeof *err);
  }
  *out = &s->base;
  return 0;
fail:
  pg_close(&s->base);
  return rc;
}

/* The fleet's write lock, held to the end of the transaction (0004_write_lock_table.sql). */
#define PG_WRITE_LOCK_ADVISORY "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK_KEY ")"
#define PG_WRITE_LOCK_TABLE "BEGIN; SELECT id FROM patron_lock WHERE id = 1 FOR UPDATE"

int store_pg_check_lock_kind(pg_store_t *s, PGconn *c, char *m, size_t mlen) {
  const char *mine = s->table_lock ? "table" : "advisory";
  const char *pv[1] = {mine};
  /* the first node records its kind; a node racing it sees neither its own insert nor the
   * other's row in that statement's snapshot (no row): the next statement sees it */
  for (int tries = 0; tries < 3; tries++) {
    PGresult *r = PQexecParams(c, "WITH ins AS (INSERT INTO patron_meta (k, v) VALUES "
                               "('write_lock', $1) ON CONFLICT (k) DO NOTHING RETURNING v) "
                               "SELECT v FROM ins UNION ALL "
                               "SELECT v FROM patron_meta WHERE k = 'write_lock'",
                               1, NULL, pv, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
      store_pg_errtext(m, mlen, "recording the write lock", r ? store_pg_resmsg(r) : PQerrorMessage(c));
      PQclear(r);
      return -1;
    }
    int rc = PQntuples(r) < 1 ? 1 : strcmp(PQgetvalue(r, 0, 0), mine) ? -1 : 0;
    if (rc < 0)
      snprintf(m, mlen, "[store] pg_write_lock = %s, but this database's fleet takes the %s "
               "lock (patron_meta write_lock): every node must take the same one", mine,
               PQgetvalue(r, 0, 0));
    PQclear(r);
    if (rc <= 0) return rc;
  }
  snprintf(m, mlen, "the fleet's write lock kind is not recorded (patron_meta write_lock)");
  return -1;
}

/* ---- transactions ---------------------------------------------------------------------------- */

/* The writer's connection, reconnecting after a failure (at most every 200 ms while the
 * database is unreachable). */
static PGconn *writer_conn(pg_store_t *s, char *m, size_t mlen) {
  if (s->wconn && PQstatus(s->wconn) == CONNECTION_OK) return s->wconn;
  if (s->wconn) PQfinish(s->wconn);
  s->wconn = NULL;
  uint64_t now = clock_mono_ms();
  /* the last connect failed: not again before 200 ms, unless the feed has reached the
   * database since (it is back: the next write must not fail on an old refusal) */
  if (now < s->wconn_retry_ms && !atomic_load(&s->connected)) {
    snprintf(m, mlen, "%s", s->wconn_err);
    return NULL;
  }
  s->wconn = store_pg_connect(s->conninfo, m, mlen);
  if (s->wconn && store_pg_ready(s, s->wconn, m, mlen)) {
    PQfinish(s->wconn);
    s->wconn = NULL;
  }
  s->wconn_retry_ms = s->wconn ? 0 : now + 200;
  if (!s->wconn) snprintf(s->wconn_err, sizeof s->wconn_err, "%s", m);
  return s->wconn;
}

/* End the writer's PostgreSQL transaction without committing; a broken connection is dropped. */
static void pg_rollback(pg_store_t *s) {
  char m[160];
  if (!s->wconn) return;
  if (PQstatus(s->wconn) != CONNECTION_OK || store_pg_exec(s->wconn, "ROLLBACK", m, sizeof m)) {
    PQfinish(s->wconn);
    s->wconn = NULL;
  }
}

static int begin_write(pg_store_t *s, store_txn_t **out) {
  char m[160];
  PGconn *c = writer_conn(s, m, sizeof m);
  if (!c) {
    set_last_err(s, m);
    return PERR_UNAVAILABLE;
  }
  int tries = 0;
  while (store_pg_exec(c, s->table_lock ? PG_WRITE_LOCK_TABLE : PG_WRITE_LOCK_ADVISORY, m,
                       sizeof m)) {
    int broken = PQstatus(c) != CONNECTION_OK;
    set_last_err(s, m);
    pg_rollback(s);
    /* a connection that broke while idle (a database restart, a killed backend): nothing of
     * this txn was sent yet, so one fresh connection is tried at once */
    if (!broken || tries++ || !(c = writer_conn(s, m, sizeof m))) return PERR_UNAVAILABLE;
  }
  pg_txn_t *t = calloc(1, sizeof *t);
  if (!t) {
    pg_rollback(s);
    return PERR_INTERNAL;
  }
  t->base.s = &s->base;
  t->base.write = 1;
  t->root = t;
  pthread_mutex_lock(&s->local_write);
  int rc = store_txn_begin(s->local, 1, &t->local);
  if (rc) {
    snprintf(m, sizeof m, "local copy: cannot begin a write");
  } else {
    t->pos = store_pg_local_pos(t->local);
    if (store_pg_apply_log(c, t->local, &t->pos, &t->caught, &t->tables, m, sizeof m))
      rc = PERR_UNAVAILABLE;
  }
  if (rc) {
    set_last_err(s, m);
    if (t->local) store_abort(t->local);
    pthread_mutex_unlock(&s->local_write);
    pg_rollback(s);
    free(t);
    return rc;
  }
  *out = &t->base;
  return 0;
}

static int pg_txn_begin(store_t *base, int write, store_txn_t **out) {
  pg_store_t *s = PS(base);
  *out = NULL;
  if (!write) return store_txn_begin(s->local, 0, out); /* the local copy's own read txn */
  return begin_write(s, out);
}

static int pg_txn_begin_nested(store_txn_t *pbase, store_txn_t **out) {
  pg_txn_t *p = PT(pbase);
  *out = NULL;
  if (p->failed) return p->failed;
  pg_txn_t *t = calloc(1, sizeof *t);
  if (!t) return p->failed = PERR_INTERNAL;
  int rc = store_txn_begin_nested(p->local, &t->local);
  if (rc) {
    snprintf(pbase->err, sizeof pbase->err, "%s", store_txn_errmsg(p->local));
    free(t);
    return p->failed = rc;
  }
  t->base.s = pbase->s;
  t->base.write = 1;
  t->root = p->root;
  t->mark = p->root->n;
  *out = &t->base;
  return 0;
}

static void free_changes(pg_txn_t *root, size_t from) {
  for (size_t i = from; i < root->n; i++) free(root->changes[i].kv);
  root->n = from;
}

static void end_root(pg_txn_t *t) {
  free_changes(t, 0);
  free(t->changes);
  free(t);
}

static void pg_abort(store_txn_t *base) {
  pg_txn_t *t = PT(base);
  pg_store_t *s = PS(base->s);
  store_abort(t->local);
  if (t->root != t) { /* a savepoint: its records go with it */
    free_changes(t->root, t->mark);
    free(t);
    return;
  }
  pthread_mutex_unlock(&s->local_write);
  pg_rollback(s);
  end_root(t);
}

/* Append the COPY text form of bytes: bytea hex, the backslash escaped for COPY ("\\x..."). */
static int copy_hex(char **p, char *end, const unsigned char *b, size_t n) {
  static const char hx[] = "0123456789abcdef";
  if ((size_t)(end - *p) < 3 + 2 * n) return -1;
  *(*p)++ = '\\';
  *(*p)++ = '\\';
  *(*p)++ = 'x';
  for (size_t i = 0; i < n; i++) {
    *(*p)++ = hx[b[i] >> 4];
    *(*p)++ = hx[b[i] & 15];
  }
  return 0;
}

/* COPY the root's records into patron_change_log. 0 or -1 (m set). */
static int copy_changes(pg_store_t *s, pg_txn_t *t, char *m, size_t mlen) {
  PGconn *c = s->wconn;
  PGresult *r = PQexec(c, "COPY patron_change_log (origin, tbl, key, val) FROM STDIN");
  int ok = r && PQresultStatus(r) == PGRES_COPY_IN;
  if (!ok) store_pg_errtext(m, mlen, "COPY", r ? store_pg_resmsg(r) : PQerrorMessage(c));
  PQclear(r);
  if (!ok) return -1;
  int rc = 0;
  for (size_t i = 0; i < t->n && !rc; i++) {
    pg_change_t *ch = &t->changes[i];
    const char *tname = store_table_name(ch->tb);
    size_t need = strlen(s->origin) + strlen(tname) + 16 + 2 * (ch->klen + ch->vlen);
    char *line = malloc(need);
    if (!line) {
      snprintf(m, mlen, "out of memory");
      rc = -1;
      break;
    }
    char *p = line, *end = line + need;
    p += sprintf(p, "%s\t%s\t", s->origin, tname); /* origin: host:pid or a node name (no tabs) */
    copy_hex(&p, end, ch->kv, ch->klen);
    *p++ = '\t';
    if (ch->del) p += sprintf(p, "\\N");
    else copy_hex(&p, end, ch->kv + ch->klen, ch->vlen);
    *p++ = '\n';
    if (PQputCopyData(c, line, (int)(p - line)) != 1) {
      store_pg_errtext(m, mlen, "COPY", PQerrorMessage(c));
      rc = -1;
    }
    free(line);
  }
  if (PQputCopyEnd(c, rc ? "aborted" : NULL) != 1 && !rc) {
    store_pg_errtext(m, mlen, "COPY", PQerrorMessage(c));
    rc = -1;
  }
  while ((r = PQgetResult(c))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc) {
      store_pg_errtext(m, mlen, "COPY", store_pg_resmsg(r));
      rc = -1;
    }
    PQclear(r);
  }
  return rc;
}

/* Fold this txn's log rows (pos > after) into patron_kv, delete the log rows they supersede
 * (the log keeps the newest change of each record: no overwritten or erased value lingers,
 * and a feed behind simply skips the gap), notify the feeds, and return the last position in
 * *last. 0 or -1 (m set). */
static int fold_changes(pg_store_t *s, uint64_t after, uint64_t *last, char *m, size_t mlen) {
  char sql[2000];
  snprintf(sql, sizeof sql,
           "WITH l AS (SELECT DISTINCT ON (tbl, key) tbl, key, val, pos FROM patron_change_log "
           "WHERE pos > %" PRIu64 " ORDER BY tbl, key, pos DESC), "
           "d AS (DELETE FROM patron_kv k USING l WHERE l.val IS NULL AND k.tbl = l.tbl AND "
           "k.key = l.key), "
           "o AS (DELETE FROM patron_change_log c USING l WHERE c.tbl = l.tbl AND "
           "c.key = l.key AND c.pos < l.pos) "
           "INSERT INTO patron_kv (tbl, key, val) SELECT tbl, key, val FROM l WHERE val IS NOT "
           "NULL ON CONFLICT (tbl, key) DO UPDATE SET val = EXCLUDED.val; "
           "SELECT last, pg_notify('" PG_CHANNEL "', last::text) FROM "
           "(SELECT currval(pg_get_serial_sequence('patron_change_log', 'pos')) AS last) c",
           after);
  PGresult *r = PQexec(s->wconn, sql);
  int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  if (ok) *last = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
  else store_pg_errtext(m, mlen, "folding the changes",
                        r ? store_pg_resmsg(r) : PQerrorMessage(s->wconn));
  PQclear(r);
  return ok ? 0 : -1;
}

static int commit_root(pg_txn_t *t, perr_info_t *err) {
  pg_store_t *s = PS(t->base.s);
  char m[160] = "";
  uint64_t last = t->pos;
  int rc = 0;
  if (t->failed) {
    perr_set(err, t->failed, NULL, "%s", t->base.err[0] ? t->base.err : "write failed");
    pg_abort(&t->base);
    return t->failed;
  }
  if (t->n && (copy_changes(s, t, m, sizeof m) || fold_changes(s, t->pos, &last, m, sizeof m)))
    rc = -1;
  if (!rc) {
    PGresult *r = PQexec(s->wconn, "COMMIT");
    /* an aborted transaction "commits" as ROLLBACK: only the COMMIT tag is a commit */
    rc = r && PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT") ? 0 : -1;
    if (rc)
      store_pg_errtext(m, sizeof m,
                       PQstatus(s->wconn) != CONNECTION_OK ? "COMMIT failed (outcome unknown)"
                                                           : "COMMIT failed",
                       r ? store_pg_resmsg(r) : PQerrorMessage(s->wconn));
    PQclear(r);
    if (rc && PQstatus(s->wconn) != CONNECTION_OK) {
      PQfinish(s->wconn);
      s->wconn = NULL;
    }
  }
  if (rc) {
    set_last_err(s, m);
    perr_set(err, PERR_UNAVAILABLE, NULL, "database: %s", m);
    pg_abort(&t->base);
    return PERR_UNAVAILABLE;
  }
  /* durable in the database: now the local copy (its position moves in the same txn) */
  set_last_err(s, "");
  uint64_t caught = t->caught, tables = t->tables;
  int lrc = store_pg_local_set_pos(t->local, last);
  if (lrc) store_abort(t->local);
  else lrc = store_commit_err(t->local, err);
  pthread_mutex_unlock(&s->local_write);
  end_root(t);
  atomic_fetch_add(&s->changes_applied, caught);
  if (tables) { /* other nodes' writes reached the local copy here: the feed reports them */
    atomic_fetch_or(&s->remote_tables, tables);
    store_pg_feed_wake(&s->base);
  }
  /* a local failure after the COMMIT: the write stands (the feed re-applies it from the old
   * position), so it is acknowledged; the local copy lags until then */
  if (!lrc) store_pg_note_caught_up(s, last);
  return 0;
}

static int pg_commit(store_txn_t *base, perr_info_t *err) {
  pg_txn_t *t = PT(base);
  if (t->root == t) return commit_root(t, err);
  pg_txn_t *root = t->root;
  int rc = store_commit_err(t->local, err);
  if (rc) { /* the savepoint's writes are lost: its parent must not commit */
    free_changes(root, t->mark);
    if (!root->failed) {
      root->failed = rc;
      snprintf(root->base.err, sizeof root->base.err, "savepoint: %.140s",
               err ? err->message : "merge failed");
    }
  }
  free(t);
  return rc;
}

/* ---- data ------------------------------------------------------------------------------------- */

static int pg_get(store_txn_t *base, store_table_t tb, const void *key, size_t klen,
                  const void **val, size_t *vlen) {
  return store_get(PT(base)->local, tb, key, klen, val, vlen);
}

static int record(pg_txn_t *t, store_table_t tb, int del, const void *key, size_t klen,
                  const void *val, size_t vlen) {
  pg_txn_t *r = t->root;
  if (r->n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    pg_change_t *c = realloc(r->changes, cap * sizeof *c);
    if (!c) return -1;
    r->changes = c;
    r->cap = cap;
  }
  pg_change_t *ch = &r->changes[r->n];
  if (!(ch->kv = malloc(klen + vlen + 1))) return -1;
  memcpy(ch->kv, key, klen);
  if (vlen) memcpy(ch->kv + klen, val, vlen);
  ch->tb = tb;
  ch->del = del;
  ch->klen = klen;
  ch->vlen = vlen;
  r->n++;
  return 0;
}

static int data_fail(pg_txn_t *t, int rc, const char *msg) {
  snprintf(t->base.err, sizeof t->base.err, "%s", msg);
  if (rc != PERR_NOT_FOUND && !t->failed) t->failed = rc;
  return rc;
}

static int pg_put(store_txn_t *base, store_table_t tb, const void *key, size_t klen,
                  const void *val, size_t vlen) {
  pg_txn_t *t = PT(base);
  int rc = store_put(t->local, tb, key, klen, val, vlen);
  if (rc) return data_fail(t, rc, store_txn_errmsg(t->local));
  if (record(t, tb, 0, key, klen, val, vlen)) return data_fail(t, PERR_INTERNAL, "out of memory");
  return 0;
}

static int pg_del(store_txn_t *base, store_table_t tb, const void *key, size_t klen) {
  pg_txn_t *t = PT(base);
  int rc = store_del(t->local, tb, key, klen);
  if (rc) return data_fail(t, rc, store_txn_errmsg(t->local));
  if (record(t, tb, 1, key, klen, NULL, 0)) return data_fail(t, PERR_INTERNAL, "out of memory");
  return 0;
}

/* Cursors and counts read the local txn (exact under the write lock); the cursor object is
 * the local store's, so its calls dispatch to LMDB. */
static int pg_cursor_open(store_txn_t *base, store_table_t tb, const void *start, size_t slen,
                          store_cursor_t **out) {
  return store_cursor_open(PT(base)->local, tb, start, slen, out);
}

static uint64_t pg_count(store_txn_t *base, store_table_t tb) {
  return store_count(PT(base)->local, tb);
}

static uint64_t pg_size_bytes(store_t *base) { return store_size_bytes(PS(base)->local); }

static int pg_fatal(store_t *base) { return store_fatal(PS(base)->local); }

static int pg_scrub_free(store_t *base, uint64_t *zeroed, perr_info_t *err) {
  pg_store_t *s = PS(base);
  pthread_mutex_lock(&s->local_write);
  int rc = store_scrub_free_pages(s->local, zeroed, err);
  pthread_mutex_unlock(&s->local_write);
  return rc;
}

static void pg_last_error(store_t *base, char *buf, size_t len) {
  pg_store_t *s = PS(base);
  pthread_mutex_lock(&s->err_mu);
  snprintf(buf, len, "%s", s->last_err);
  pthread_mutex_unlock(&s->err_mu);
}

/* The local LMDB copy's map: what a PostgreSQL node's disk and map use are. */
static void pg_map_info(store_t *base, uint64_t *used, uint64_t *size) {
  store_map_info(PS(base)->local, used, size);
}

static const store_backend_t pg_backend = {
    .name = "postgresql",
    .close = pg_close,
    .txn_begin = pg_txn_begin,
    .txn_begin_nested = pg_txn_begin_nested,
    .commit = pg_commit,
    .abort = pg_abort,
    .get = pg_get,
    .put = pg_put,
    .del = pg_del,
    .cursor_open = pg_cursor_open,
    .cursor_next = NULL, /* never called: cursors are the local store's */
    .cursor_close = NULL,
    .count = pg_count,
    .size_bytes = pg_size_bytes,
    .fatal = pg_fatal,
    .scrub_free = pg_scrub_free,
    .feed_poll = store_pg_feed_poll,
    .feed_wake = store_pg_feed_wake,
    .feed_stats = store_pg_feed_stats,
    .last_error = pg_last_error,
    .map_info = pg_map_info,
};
