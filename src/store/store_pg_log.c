/* store_pg_log.c -- the database side of the PostgreSQL backend (docs/SCALEOUT.md):
 * connections with patrond's session settings, the versioned schema migrations (store/pg/NNNN_name.sql,
 * compiled in), and reading the change log into the local LMDB copy: the writer's catch-up
 * under the write lock, the feed thread's tail (woken by LISTEN/NOTIFY, polling at the latest
 * every timeout), and a new node's bootstrap from patron_kv.
 * Invariants: rows are applied in position order and the local position moves in the same
 * local transaction as the rows, so a crash between them re-applies nothing twice and skips
 * nothing; the feed's connection is used only by the feed thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "store_pg_internal.h"
#include "store_pg_migrations.h" /* generated: pg_migrations[] */

const char *store_pg_resmsg(const PGresult *r) {
  const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  return primary ? primary : PQresultErrorMessage(r);
}

void store_pg_errtext(char *err, size_t errlen, const char *what, const char *msg) {
  snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
  /* libpq's messages span lines ("...\n\tThis probably means...\n"): one line, for logs */
  char *w = err;
  for (const char *r = err; *r; r++) {
    char ch = (*r == '\n' || *r == '\t') ? ' ' : *r;
    if (ch == ' ' && w > err && w[-1] == ' ') continue;
    *w++ = ch;
  }
  while (w > err && w[-1] == ' ') w--;
  *w = 0;
}

PGconn *store_pg_connect(const char *conninfo, char *err, size_t errlen) {
  /* ours first: the operator's connection string (expanded from dbname) overrides them */
  const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
  const char *vals[] = {"5", "patrond", conninfo, NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (!c) {
    snprintf(err, errlen, "PostgreSQL: out of memory");
    return NULL;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    store_pg_errtext(err, errlen, "PostgreSQL unreachable", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  /* a stuck database or a stuck peer holding the write lock must not hold a writer forever */
  if (store_pg_exec(c, "SET statement_timeout = 10000; SET lock_timeout = 10000; "
                 "SET idle_in_transaction_session_timeout = 30000; "
                 "SET client_min_messages = warning",
              err, errlen)) {
    PQfinish(c);
    return NULL;
  }
  return c;
}

int store_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) store_pg_errtext(err, errlen, "PostgreSQL", r ? store_pg_resmsg(r) : PQerrorMessage(c));
  PQclear(r);
  return ok ? 0 : -1;
}

/* ---- migrations --------------------------------------------------------------------- */

static int applied_version(PGconn *c, int version, int *yes, char *err, size_t errlen) {
  char v[16];
  snprintf(v, sizeof v, "%d", version);
  const char *pv[1] = {v};
  PGresult *r = PQexecParams(c, "SELECT 1 FROM patron_schema_migrations WHERE version = $1", 1,
                             NULL, pv, NULL, NULL, 0);
  int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) store_pg_errtext(err, errlen, "PostgreSQL", r ? store_pg_resmsg(r) : PQerrorMessage(c));
  else *yes = PQntuples(r) > 0;
  PQclear(r);
  return ok ? 0 : -1;
}

static int apply_migration(PGconn *c, const pg_migration_t *m, char *err, size_t errlen) {
  int yes = 0;
  if (store_pg_exec(c, "BEGIN", err, errlen)) return -1;
  if (applied_version(c, m->version, &yes, err, errlen)) goto fail;
  if (!yes) {
    char rec[256];
    if (store_pg_exec(c, m->sql, err, errlen)) goto fail;
    snprintf(rec, sizeof rec, "INSERT INTO patron_schema_migrations (version, name) VALUES (%d, '%s')",
             m->version, m->name); /* name: a file name of ours, [0-9a-z_.] */
    if (store_pg_exec(c, rec, err, errlen)) goto fail;
  }
  return store_pg_exec(c, "COMMIT", err, errlen);
fail: {
  char ignore[160]; /* the first error is the one to report */
  store_pg_exec(c, "ROLLBACK", ignore, sizeof ignore);
  return -1;
}
}

int store_pg_migrate(PGconn *c, perr_info_t *err) {
  char m[160];
  size_t n = sizeof pg_migrations / sizeof pg_migrations[0];
  int newest = pg_migrations[n - 1].version, rc = 0;
  if (store_pg_exec(c, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK_KEY ")", m, sizeof m))
    return perr_set(err, PERR_UNAVAILABLE, NULL, "schema migrations: %s", m);
  if (store_pg_exec(c, "CREATE TABLE IF NOT EXISTS patron_schema_migrations (version int PRIMARY KEY, "
                 "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
              m, sizeof m)) {
    rc = perr_set(err, PERR_UNAVAILABLE, NULL, "schema migrations: %s", m);
    goto out;
  }
  PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM patron_schema_migrations");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
    store_pg_errtext(m, sizeof m, "PostgreSQL", r ? store_pg_resmsg(r) : PQerrorMessage(c));
    PQclear(r);
    rc = perr_set(err, PERR_UNAVAILABLE, NULL, "schema migrations: %s", m);
    goto out;
  }
  int have = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (have > newest) {
    rc = perr_set(err, PERR_UNAVAILABLE, NULL,
                  "the database schema is version %d, newer than this patrond knows (%d): "
                  "upgrade patrond", have, newest);
    goto out;
  }
  for (size_t i = 0; i < n && !rc; i++)
    if (pg_migrations[i].version > have && apply_migration(c, &pg_migrations[i], m, sizeof m))
      rc = perr_set(err, PERR_UNAVAILABLE, NULL, "schema migration %s: %s",
                    pg_migrations[i].name, m);
out:
  store_pg_exec(c, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK_KEY ")", m, sizeof m);
  return rc;
}

/* ---- the local copy's position -------------------------------------------------------- */

uint64_t store_pg_local_pos(store_txn_t *lt) {
  const void *v;
  size_t vlen;
  if (store_get(lt, STORE_T_META, PG_META_POS, sizeof PG_META_POS - 1, &v, &vlen) || vlen != 8)
    return 0;
  const unsigned char *p = v;
  uint64_t pos = 0;
  for (int i = 0; i < 8; i++) pos = pos << 8 | p[i];
  return pos;
}

int store_pg_local_set_pos(store_txn_t *lt, uint64_t pos) {
  unsigned char be[8];
  for (int i = 7; i >= 0; i--, pos >>= 8) be[i] = (unsigned char)(pos & 0xff);
  return store_put(lt, STORE_T_META, PG_META_POS, sizeof PG_META_POS - 1, be, sizeof be);
}

static int table_by_name(const char *name, store_table_t *out) {
  for (int i = 0; i < STORE_T__COUNT; i++)
    if (!strcmp(store_table_name((store_table_t)i), name)) {
      *out = (store_table_t)i;
      return 0;
    }
  return -1;
}

static uint64_t be64(const char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | (unsigned char)p[i];
  return v;
}

/* One record change into the local txn (val NULL = delete; deleting an absent key is fine). */
static int apply_row(store_txn_t *lt, const char *tname, const char *key, size_t klen,
                     const char *val, size_t vlen, int is_del, uint64_t *tables, char *err,
                     size_t errlen) {
  store_table_t tb;
  if (table_by_name(tname, &tb)) {
    snprintf(err, errlen, "the database holds table '%.40s' unknown to this patrond: upgrade it",
             tname);
    return -1;
  }
  *tables |= UINT64_C(1) << tb;
  int rc = is_del ? store_del(lt, tb, key, klen) : store_put(lt, tb, key, klen, val, vlen);
  if (rc && !(is_del && rc == PERR_NOT_FOUND)) {
    snprintf(err, errlen, "local copy: %s", store_txn_errmsg(lt));
    return -1;
  }
  return 0;
}

/* Apply every row of r: columns tcol (table name), tcol + 1 (key), tcol + 2 (value; NULL =
 * deleted). The rows applied, or -1 with err filled. */
static int apply_rows(PGresult *r, int tcol, store_txn_t *lt, uint64_t *tables, char *err,
                      size_t errlen) {
  int rows = PQntuples(r);
  for (int i = 0; i < rows; i++) {
    char tname[64];
    int tl = PQgetlength(r, i, tcol);
    snprintf(tname, sizeof tname, "%.*s", tl < 63 ? tl : 63, PQgetvalue(r, i, tcol));
    if (apply_row(lt, tname, PQgetvalue(r, i, tcol + 1), (size_t)PQgetlength(r, i, tcol + 1),
                  PQgetvalue(r, i, tcol + 2), (size_t)PQgetlength(r, i, tcol + 2),
                  PQgetisnull(r, i, tcol + 2), tables, err, errlen))
      return -1;
  }
  return rows;
}

/* r holds rows (else err filled and r cleared: returns NULL). */
static PGresult *rows_or_err(PGresult *r, PGconn *c, const char *what, char *err, size_t errlen) {
  if (r && PQresultStatus(r) == PGRES_TUPLES_OK) return r;
  store_pg_errtext(err, errlen, what, r ? store_pg_resmsg(r) : PQerrorMessage(c));
  PQclear(r);
  return NULL;
}

int store_pg_apply_log(PGconn *c, store_txn_t *lt, uint64_t *pos, uint64_t *n, uint64_t *tables,
                       char *err, size_t errlen) {
  for (;;) {
    char after[24];
    snprintf(after, sizeof after, "%" PRIu64, *pos);
    const char *pv[1] = {after};
    /* binary results: pos as int8 (big-endian), key and val as raw bytes */
    PGresult *r = rows_or_err(PQexecParams(c,
                                           "SELECT pos, tbl, key, val FROM patron_change_log "
                                           "WHERE pos > $1 ORDER BY pos LIMIT 2000",
                                           1, NULL, pv, NULL, NULL, 1),
                              c, "reading the change log", err, errlen);
    if (!r) return -1;
    int rows = apply_rows(r, 1, lt, tables, err, errlen);
    if (rows > 0) {
      *pos = be64(PQgetvalue(r, rows - 1, 0));
      *n += (uint64_t)rows;
    }
    PQclear(r);
    if (rows < 0) return -1;
    if (rows < PG_LOG_PAGE) return 0;
  }
}

/* ---- bootstrap: a local copy filled from this database ---------------------------------- */

/* Delete every record of the local copy except its own META bookkeeping. */
static int empty_local(store_txn_t *lt) {
  for (int tb = 0; tb < STORE_T__COUNT; tb++) {
    for (;;) { /* collect a page of keys, then delete them (no delete under a cursor) */
      store_cursor_t *cur;
      char *keys[256];
      size_t lens[256], nk = 0;
      int rc = store_cursor_open(lt, (store_table_t)tb, NULL, 0, &cur);
      if (rc) return rc;
      const void *k;
      size_t kl;
      while (nk < 256 && store_cursor_next(cur, &k, &kl, NULL, NULL) == 1) {
        if (tb == STORE_T_META && kl == sizeof STORE_META_SCHEMA_KEY - 1 &&
            !memcmp(k, STORE_META_SCHEMA_KEY, kl))
          continue;
        if (!(keys[nk] = malloc(kl ? kl : 1))) break;
        memcpy(keys[nk], k, kl);
        lens[nk++] = kl;
      }
      store_cursor_close(cur);
      for (size_t i = 0; i < nk; i++) {
        if (!rc) rc = store_del(lt, (store_table_t)tb, keys[i], lens[i]);
        free(keys[i]);
      }
      if (rc) return rc;
      if (nk < 256) break;
    }
  }
  return 0;
}

static int cluster_id(PGconn *c, char *out, size_t outlen, char *err, size_t errlen) {
  PGresult *r = PQexec(c, "SELECT v FROM patron_meta WHERE k = 'cluster_id'");
  int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  if (ok) snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
  else store_pg_errtext(err, errlen, "reading cluster_id", r ? store_pg_resmsg(r) : PQerrorMessage(c));
  PQclear(r);
  return ok ? 0 : -1;
}

/* Copy patron_kv (at the snapshot of the open REPEATABLE READ txn) into lt, page by page. */
static int copy_kv(PGconn *c, store_txn_t *lt, uint64_t *n, char *err, size_t errlen) {
  uint64_t tables = 0;
  if (store_pg_exec(c, "DECLARE patron_boot NO SCROLL CURSOR FOR SELECT tbl, key, val FROM patron_kv",
              err, errlen))
    return -1;
  for (;;) {
    PGresult *r = rows_or_err(PQexecParams(c, "FETCH 2000 FROM patron_boot", 0, NULL, NULL,
                                           NULL, NULL, 1),
                              c, "copying patron_kv", err, errlen);
    if (!r) return -1;
    int rows = apply_rows(r, 0, lt, &tables, err, errlen);
    PQclear(r);
    if (rows < 0) return -1;
    if (rows == 0) return 0;
    *n += (uint64_t)rows;
  }
}

int store_pg_bootstrap(pg_store_t *s, PGconn *c, perr_info_t *err) {
  char m[160], want[64];
  if (cluster_id(c, want, sizeof want, m, sizeof m))
    return perr_set(err, PERR_UNAVAILABLE, NULL, "%s", m);
  store_txn_t *lt;
  pthread_mutex_lock(&s->local_write);
  int rc = store_txn_begin(s->local, 1, &lt);
  if (rc) {
    pthread_mutex_unlock(&s->local_write);
    return perr_set(err, PERR_INTERNAL, NULL, "local copy: cannot begin a write");
  }
  const void *v;
  size_t vlen;
  if (store_get(lt, STORE_T_META, PG_META_CLUSTER, sizeof PG_META_CLUSTER - 1, &v, &vlen) == 0 &&
      vlen == strlen(want) && !memcmp(v, want, vlen)) {
    uint64_t pos = store_pg_local_pos(lt);
    store_abort(lt); /* this database's copy: the feed brings it up to date */
    pthread_mutex_unlock(&s->local_write);
    atomic_store(&s->applied_pos, pos);
    atomic_store(&s->head_pos, pos);
    snprintf(s->cluster, sizeof s->cluster, "%s", want);
    return 0;
  }
  uint64_t pos = 0, n = 0;
  rc = empty_local(lt);
  if (rc) snprintf(m, sizeof m, "local copy: %s", store_txn_errmsg(lt));
  if (!rc && (rc = store_pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", m, sizeof m)) == 0) {
    PGresult *r = PQexec(c, "SELECT coalesce(max(pos), 0) FROM patron_change_log");
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) pos = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    else {
      store_pg_errtext(m, sizeof m, "bootstrap", r ? store_pg_resmsg(r) : PQerrorMessage(c));
      rc = -1;
    }
    PQclear(r);
    if (!rc) rc = copy_kv(c, lt, &n, m, sizeof m);
    char ignore[160];
    if (rc) store_pg_exec(c, "ROLLBACK", ignore, sizeof ignore);
    else if (store_pg_exec(c, "COMMIT", m, sizeof m)) rc = -1;
  }
  if (!rc && (store_put(lt, STORE_T_META, PG_META_CLUSTER, sizeof PG_META_CLUSTER - 1, want,
                        strlen(want)) ||
              store_pg_local_set_pos(lt, pos))) {
    snprintf(m, sizeof m, "local copy: %s", store_txn_errmsg(lt));
    rc = -1;
  }
  if (rc) store_abort(lt);
  else if (store_commit_err(lt, err)) rc = -1, snprintf(m, sizeof m, "%s", err->message);
  pthread_mutex_unlock(&s->local_write);
  if (rc) return perr_set(err, PERR_UNAVAILABLE, NULL, "bootstrap of the local copy: %s", m);
  store_pg_note_caught_up(s, pos);
  snprintf(s->cluster, sizeof s->cluster, "%s", want);
  return 0;
}

int store_pg_ready(pg_store_t *s, PGconn *c, char *m, size_t mlen) {
  if (atomic_load(&s->ready)) return 0;
  pthread_mutex_lock(&s->ready_mu);
  int rc = 0;
  if (!atomic_load(&s->ready)) {
    perr_info_t e = {0};
    char have[64];
    if (store_pg_migrate(c, &e)) {
      snprintf(m, mlen, "%s", e.message);
      rc = -1;
    } else if (cluster_id(c, have, sizeof have, m, mlen)) {
      rc = -1;
    } else if (strcmp(have, s->cluster)) {
      snprintf(m, mlen, "the database is not the one this node's local copy came from "
                        "(cluster_id differs): restart patrond to copy it afresh");
      rc = -1;
    } else if (store_pg_check_lock_kind(s, c, m, mlen)) {
      rc = -1;
    } else {
      atomic_store(&s->ready, 1);
    }
  }
  pthread_mutex_unlock(&s->ready_mu);
  return rc;
}

/* ---- the feed ----------------------------------------------------------------------------- */

void store_pg_note_caught_up(pg_store_t *s, uint64_t pos) {
  atomic_store(&s->applied_pos, pos);
  uint64_t head = atomic_load(&s->head_pos);
  while (head < pos && !atomic_compare_exchange_weak(&s->head_pos, &head, pos)) {
  }
  atomic_store(&s->caught_up_ms, clock_mono_ms());
}

static void feed_drop(pg_store_t *s, const char *why, perr_info_t *err) {
  perr_set(err, PERR_UNAVAILABLE, NULL, "change feed: %s", why);
  if (s->fconn) PQfinish(s->fconn);
  s->fconn = NULL;
  atomic_store(&s->connected, 0);
}

/* Apply what other nodes committed since the local position: 0 or -1 (err set). */
static int feed_apply(pg_store_t *s, uint64_t *applied, perr_info_t *err) {
  char m[160];
  store_txn_t *lt;
  pthread_mutex_lock(&s->local_write);
  if (store_txn_begin(s->local, 1, &lt)) {
    pthread_mutex_unlock(&s->local_write);
    perr_set(err, PERR_INTERNAL, NULL, "change feed: the local copy refuses a write");
    return -1;
  }
  uint64_t pos = store_pg_local_pos(lt), start = pos, n = 0, tables = 0;
  int rc = store_pg_apply_log(s->fconn, lt, &pos, &n, &tables, m, sizeof m);
  if (rc == 0 && pos != start) rc = store_pg_local_set_pos(lt, pos) ? -1 : 0;
  if (rc) {
    store_abort(lt);
    pthread_mutex_unlock(&s->local_write);
    if (PQstatus(s->fconn) != CONNECTION_OK) feed_drop(s, m, err);
    else perr_set(err, PERR_UNAVAILABLE, NULL, "change feed: %s", m);
    return -1;
  }
  if (pos != start) rc = store_commit_err(lt, err);
  else store_abort(lt);
  pthread_mutex_unlock(&s->local_write);
  if (rc) return -1;
  atomic_fetch_or(&s->remote_tables, tables);
  atomic_fetch_add(&s->changes_applied, n);
  store_pg_note_caught_up(s, pos);
  *applied += n;
  return 0;
}

static int feed_connect(pg_store_t *s, perr_info_t *err) {
  char m[160];
  uint64_t now = clock_mono_ms();
  if (now < s->fconn_retry_ms)
    return perr_set(err, PERR_UNAVAILABLE, NULL, "change feed: waiting to reconnect");
  s->fconn = store_pg_connect(s->conninfo, m, sizeof m);
  s->fconn_retry_ms = s->fconn ? 0 : now + 200; /* after a failed connect: not before 200 ms */
  if (!s->fconn) return perr_set(err, PERR_UNAVAILABLE, NULL, "change feed: %s", m);
  if (store_pg_ready(s, s->fconn, m, sizeof m) ||
      store_pg_exec(s->fconn, "LISTEN " PG_CHANNEL, m, sizeof m)) {
    feed_drop(s, m, err);
    return PERR_UNAVAILABLE;
  }
  atomic_store(&s->connected, 1);
  return 0;
}

/* Wait up to timeout_ms for a notification (or a wake); -1 if the connection broke. */
static int feed_wait(pg_store_t *s, int timeout_ms) {
  struct pollfd p[2] = {{.fd = PQsocket(s->fconn), .events = POLLIN},
                        {.fd = s->wake[0], .events = POLLIN}};
  int got = poll(p, 2, timeout_ms);
  if (got > 0 && (p[1].revents & POLLIN)) {
    char buf[64];
    while (read(s->wake[0], buf, sizeof buf) > 0) {
    }
  }
  if (got > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP))) {
    if (!PQconsumeInput(s->fconn)) return -1;
    PGnotify *nt;
    while ((nt = PQnotifies(s->fconn))) {
      uint64_t pos = strtoull(nt->extra, NULL, 10), head = atomic_load(&s->head_pos);
      while (head < pos && !atomic_compare_exchange_weak(&s->head_pos, &head, pos)) {
      }
      PQfreemem(nt);
    }
  }
  return 0;
}

static int feed_poll(pg_store_t *s, int timeout_ms, uint64_t *applied, perr_info_t *err) {
  uint64_t wm = (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  if (atomic_load(&s->wait_ms_max) < wm) atomic_store(&s->wait_ms_max, wm);
  if (!s->fconn && feed_connect(s, err)) return PERR_UNAVAILABLE;
  if (feed_apply(s, applied, err)) return err->code;
  if (*applied) return 0;
  if (feed_wait(s, timeout_ms)) {
    feed_drop(s, PQerrorMessage(s->fconn), err);
    return PERR_UNAVAILABLE;
  }
  return feed_apply(s, applied, err) ? err->code : 0;
}

int store_pg_feed_poll(store_t *base, int timeout_ms, uint64_t *applied, uint64_t *tables,
                       perr_info_t *err) {
  pg_store_t *s = (pg_store_t *)base;
  int rc = feed_poll(s, timeout_ms, applied, err);
  /* what this poll applied and what the writer's catch-ups applied meanwhile */
  *tables = atomic_exchange(&s->remote_tables, 0);
  return rc;
}

void store_pg_feed_wake(store_t *base) {
  pg_store_t *s = (pg_store_t *)base;
  ssize_t w = write(s->wake[1], "w", 1);
  (void)w; /* a full pipe already wakes the poll */
}

void store_pg_feed_stats(store_t *base, store_feed_stats_t *out) {
  pg_store_t *s = (pg_store_t *)base;
  out->shared = 1;
  out->connected = atomic_load(&s->connected);
  out->applied_pos = atomic_load(&s->applied_pos);
  out->head_pos = atomic_load(&s->head_pos);
  out->changes_applied = atomic_load(&s->changes_applied);
  out->caught_up_ms = atomic_load(&s->caught_up_ms);
  out->wait_ms_max = atomic_load(&s->wait_ms_max);
}
