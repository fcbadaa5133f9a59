/* store_pg_models.c -- store_models.h on PostgreSQL (docs/SCALEOUT.md section 7): the model
 * leader lock and the snapshots table of migration 0003.
 * The channel owns one connection of its own (application_name patrond, the session settings
 * of store_pg_connect) that LISTENs on patron_models. Leader election: a session advisory lock
 * on PG_MODEL_LOCK_KEY taken with pg_try_advisory_lock, held as long as the session lives, so a
 * leader that dies (kill -9, a broken connection, a database restart) loses it at once and the
 * next node whose periodic try comes up takes it. Publishing runs on that same session and
 * checks in the same transaction that the session holds the lock: a node that lost the lock
 * can never publish (no split brain in the table). The leader marks each build it starts in
 * patron_model_builds (migration 0005) and clears the mark when the build is published or
 * ends otherwise, on the same session, fenced the same way.
 * Invariants: *leader is 1 only while the current session holds the lock (a reconnect makes a
 * new session: leader 0); versions of a kind only grow in the table; a fetched snapshot whose
 * SHA-256 differs from the recorded one is refused. */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_models.h"
#include "store_pg_internal.h"

/* "PtrnMODL" in ASCII, distinct from PG_WRITE_LOCK_KEY and PG_MIGRATE_LOCK_KEY; pg_locks shows a
 * bigint key as classid (high half), objid (low half), objsubid 1 */
#define PG_MODEL_LOCK_KEY "5797384438401680460"
#define PG_MODEL_LOCK_HELD                                                                   \
  "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "             \
  "classid = 1349808750 AND objid = 1297040460 AND objsubid = 1 AND pid = %s)"
#define PG_MODEL_CHANNEL "patron_models"

struct store_models_s {
  pg_store_t *s;
  PGconn *c;
  int leader;
  int wake[2];
};

int store_models_open(store_t *base, store_models_t **out, perr_info_t *e) {
  *out = NULL;
  if (strcmp(store_backend_name(base), "postgresql") != 0)
    return perr_set(e, PERR_NOT_FOUND, NULL, "an embedded store has no model leader");
  store_models_t *m = calloc(1, sizeof *m);
  if (!m) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  m->s = (pg_store_t *)base;
  if (pipe2(m->wake, O_NONBLOCK | O_CLOEXEC)) {
    free(m);
    return perr_set(e, PERR_INTERNAL, NULL, "pipe: out of descriptors");
  }
  *out = m;
  return 0;
}

static void drop_conn(store_models_t *m) {
  if (m->c) PQfinish(m->c);
  m->c = NULL;
  m->leader = 0; /* the session is gone and the lock with it */
}

void store_models_close(store_models_t *m) {
  if (!m) return;
  drop_conn(m);
  close(m->wake[0]);
  close(m->wake[1]);
  free(m);
}

static int fail(store_models_t *m, perr_info_t *e, const char *what, PGresult *r) {
  char msg[160];
  store_pg_errtext(msg, sizeof msg, what, r ? store_pg_resmsg(r) : PQerrorMessage(m->c));
  PQclear(r);
  if (PQstatus(m->c) != CONNECTION_OK) drop_conn(m);
  return perr_set(e, PERR_UNAVAILABLE, NULL, "%s", msg);
}

static int connect_channel(store_models_t *m, perr_info_t *e) {
  char msg[160];
  drop_conn(m);
  m->c = store_pg_connect(m->s->conninfo, msg, sizeof msg);
  if (!m->c) return perr_set(e, PERR_UNAVAILABLE, NULL, "%s", msg);
  /* the schema (migration 0003) is there and the database is this fleet's; a snapshot may be
   * tens of MB: more time than the writer's statements get */
  if (store_pg_ready(m->s, m->c, msg, sizeof msg) ||
      store_pg_exec(m->c, "SET statement_timeout = 60000; LISTEN " PG_MODEL_CHANNEL, msg,
                    sizeof msg)) {
    drop_conn(m);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "%s", msg);
  }
  return 0;
}

int store_models_lead(store_models_t *m, int *leader, perr_info_t *e) {
  *leader = 0;
  if ((!m->c || PQstatus(m->c) != CONNECTION_OK) && connect_channel(m, e)) return e->code;
  if (m->leader) { /* the lock lives with the session: is it still there? */
    PGresult *r = PQexec(m->c, "SELECT 1");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
      drop_conn(m); /* whatever broke, this session must not be trusted with the lock */
      return fail(m, e, "model leader session lost", r);
    }
    PQclear(r);
    *leader = 1;
    return 0;
  }
  PGresult *r = PQexec(m->c, "SELECT pg_try_advisory_lock(" PG_MODEL_LOCK_KEY ")");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return fail(m, e, "model leader lock", r);
  m->leader = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (m->leader) { /* who leads, for the others' stats and errors (advisory: pg_locks decides) */
    const char *pv[1] = {m->s->origin};
    r = PQexecParams(m->c,
                     "INSERT INTO patron_model_leader (id, node, pid) VALUES (1, $1, "
                     "pg_backend_pid()) ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, "
                     "pid = EXCLUDED.pid, since = now()",
                     1, NULL, pv, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return fail(m, e, "model leader row", r);
    PQclear(r);
  }
  *leader = m->leader;
  return 0;
}

int store_models_heads(store_models_t *m, store_model_head_t *heads, size_t max, size_t *n,
                       perr_info_t *e) {
  *n = 0;
  if (!m->c) return perr_set(e, PERR_UNAVAILABLE, NULL, "model snapshots: not connected");
  PGresult *r = PQexec(m->c, "SELECT DISTINCT ON (kind) kind, version, checksum, "
                             "GREATEST(0, extract(epoch FROM now() - created_at))::bigint FROM "
                             "patron_model_snapshots ORDER BY kind, version DESC");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return fail(m, e, "model snapshots", r);
  for (int i = 0; i < PQntuples(r) && *n < max; i++) {
    store_model_head_t *h = &heads[(*n)++];
    snprintf(h->kind, sizeof h->kind, "%s", PQgetvalue(r, i, 0));
    h->version = strtoull(PQgetvalue(r, i, 1), NULL, 10);
    snprintf(h->checksum, sizeof h->checksum, "%s", PQgetvalue(r, i, 2));
    h->age_s = strtoll(PQgetvalue(r, i, 3), NULL, 10);
  }
  PQclear(r);
  return 0;
}

int store_models_fetch(store_models_t *m, const char *kind, uint64_t version,
                       unsigned char **bytes, size_t *n, perr_info_t *e) {
  *bytes = NULL;
  *n = 0;
  if (!m->c) return perr_set(e, PERR_UNAVAILABLE, NULL, "model snapshots: not connected");
  char v[24];
  snprintf(v, sizeof v, "%" PRIu64, version);
  const char *pv[2] = {kind, v};
  PGresult *r = PQexecParams(m->c, "SELECT checksum, bytes FROM patron_model_snapshots WHERE "
                                   "kind = $1 AND version = $2::bigint",
                             2, NULL, pv, NULL, NULL, 1 /* binary: the bytes as they are */);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return fail(m, e, "model snapshot", r);
  if (PQntuples(r) != 1) {
    PQclear(r);
    return perr_set(e, PERR_NOT_FOUND, NULL, "model %s version %" PRIu64 " is gone", kind,
                    version);
  }
  char want[STORE_MODELS_SUM_LEN + 1], got[STORE_MODELS_SUM_LEN + 1];
  size_t sl = (size_t)PQgetlength(r, 0, 0);
  snprintf(want, sizeof want, "%.*s", (int)(sl < sizeof want ? sl : sizeof want - 1),
           PQgetvalue(r, 0, 0));
  size_t len = (size_t)PQgetlength(r, 0, 1);
  store_models_checksum(PQgetvalue(r, 0, 1), len, got);
  if (strcmp(want, got) != 0) {
    PQclear(r);
    return perr_set(e, PERR_INTERNAL, NULL,
                    "model %s version %" PRIu64 ": checksum mismatch (recorded %.12s..., "
                    "the bytes hash to %.12s...); not loaded", kind, version, want, got);
  }
  if (!(*bytes = malloc(len ? len : 1))) {
    PQclear(r);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  memcpy(*bytes, PQgetvalue(r, 0, 1), len);
  *n = len;
  PQclear(r);
  return 0;
}

static int exec_or_fail(store_models_t *m, const char *sql, perr_info_t *e) {
  char msg[160];
  if (!store_pg_exec(m->c, sql, msg, sizeof msg)) return 0;
  if (PQstatus(m->c) != CONNECTION_OK) drop_conn(m);
  return perr_set(e, PERR_UNAVAILABLE, NULL, "%s", msg);
}

static int rollback_with(store_models_t *m, int rc) {
  char ignore[160];
  if (m->c && store_pg_exec(m->c, "ROLLBACK", ignore, sizeof ignore) &&
      PQstatus(m->c) != CONNECTION_OK)
    drop_conn(m);
  return rc;
}

int store_models_publish(store_models_t *m, const char *kind, uint64_t version,
                         const void *bytes, size_t n, int clear_mark,
                         char checksum[STORE_MODELS_SUM_LEN + 1], perr_info_t *e) {
  char sum[STORE_MODELS_SUM_LEN + 1], v[24], sql[400];
  if (!m->c || !m->leader)
    return perr_set(e, PERR_UNAVAILABLE, NULL, "not the model leader: cannot publish");
  store_models_checksum(bytes, n, sum);
  snprintf(v, sizeof v, "%" PRIu64, version);
  if (exec_or_fail(m, "BEGIN", e)) return e->code;
  /* the fence: this session still holds the lock (it does while it lives; checked anyway),
   * and no newer version exists */
  const char *pk[2] = {kind, v};
  snprintf(sql, sizeof sql,
           "SELECT " PG_MODEL_LOCK_HELD ", EXISTS (SELECT 1 FROM patron_model_snapshots "
           "WHERE kind = $1 AND version >= $2::bigint)", "pg_backend_pid()");
  PGresult *r = PQexecParams(m->c, sql, 2, NULL, pk, NULL, NULL, 0);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
    return rollback_with(m, fail(m, e, "publishing a model", r));
  int held = PQgetvalue(r, 0, 0)[0] == 't', newer = PQgetvalue(r, 0, 1)[0] == 't';
  PQclear(r);
  if (!held) {
    m->leader = 0;
    return rollback_with(m, perr_set(e, PERR_UNAVAILABLE, NULL,
                                     "this node no longer holds the model lock"));
  }
  if (newer)
    return rollback_with(m, perr_set(e, PERR_CONFLICT, NULL,
                                     "model %s: the database holds version %s or newer", kind, v));
  const char *pv[5] = {kind, v, sum, bytes, m->s->origin};
  int lens[5] = {0, 0, 0, (int)n, 0}, fmts[5] = {0, 0, 0, 1, 0};
  r = PQexecParams(m->c,
                   "INSERT INTO patron_model_snapshots (kind, version, checksum, bytes, built_by) "
                   "VALUES ($1, $2::bigint, $3, $4::bytea, $5)",
                   5, NULL, pv, lens, fmts, 0);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
    return rollback_with(m, fail(m, e, "publishing a model", r));
  PQclear(r);
  snprintf(sql, sizeof sql, "%d", STORE_MODELS_KEEP);
  const char *pd[2] = {kind, sql};
  r = PQexecParams(m->c,
                   "WITH d AS (DELETE FROM patron_model_snapshots WHERE kind = $1 AND version NOT "
                   "IN (SELECT version FROM patron_model_snapshots WHERE kind = $1 ORDER BY "
                   "version DESC LIMIT $2::int)) "
                   "SELECT pg_notify('" PG_MODEL_CHANNEL "', $1)",
                   2, NULL, pd, NULL, NULL, 0);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
    return rollback_with(m, fail(m, e, "publishing a model", r));
  PQclear(r);
  if (clear_mark) { /* the build is published: it no longer counts as started */
    r = PQexecParams(m->c, "UPDATE patron_model_builds SET building = false WHERE kind = $1", 1,
                     NULL, pk, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
      return rollback_with(m, fail(m, e, "publishing a model", r));
    PQclear(r);
  }
  r = PQexec(m->c, "COMMIT");
  int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT");
  if (!ok) return fail(m, e, "publishing a model: COMMIT", r);
  PQclear(r);
  if (checksum) memcpy(checksum, sum, sizeof sum);
  return 0;
}

int store_models_mark(store_models_t *m, const char *kind, int building, perr_info_t *e) {
  char sql[600];
  if (!m->c || !m->leader)
    return perr_set(e, PERR_UNAVAILABLE, NULL, "not the model leader: no build mark");
  snprintf(sql, sizeof sql,
           "INSERT INTO patron_model_builds (kind, building, node, pid) SELECT $1, $2::boolean, "
           "$3, pg_backend_pid() WHERE " PG_MODEL_LOCK_HELD " ON CONFLICT (kind) DO UPDATE SET "
           "building = EXCLUDED.building, node = EXCLUDED.node, pid = EXCLUDED.pid, "
           "started_at = CASE WHEN EXCLUDED.building THEN now() "
           "ELSE patron_model_builds.started_at END",
           "pg_backend_pid()");
  const char *pv[3] = {kind, building ? "true" : "false", m->s->origin};
  PGresult *r = PQexecParams(m->c, sql, 3, NULL, pv, NULL, NULL, 0);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) return fail(m, e, "model build mark", r);
  int changed = strcmp(PQcmdTuples(r), "1") == 0;
  PQclear(r);
  if (!changed) {
    m->leader = 0;
    return perr_set(e, PERR_UNAVAILABLE, NULL, "this node no longer holds the model lock");
  }
  return 0;
}

int store_models_marked(store_models_t *m, char (*kinds)[32], size_t max, size_t *n,
                        perr_info_t *e) {
  *n = 0;
  if (!m->c) return perr_set(e, PERR_UNAVAILABLE, NULL, "model build marks: not connected");
  PGresult *r = PQexec(m->c, "SELECT kind FROM patron_model_builds WHERE building ORDER BY kind");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return fail(m, e, "model build marks", r);
  for (int i = 0; i < PQntuples(r) && *n < max; i++)
    snprintf(kinds[(*n)++], 32, "%s", PQgetvalue(r, i, 0));
  PQclear(r);
  return 0;
}

int store_models_leader(store_models_t *m, char *buf, size_t len, perr_info_t *e) {
  char sql[400];
  buf[0] = 0;
  if (!m->c) return perr_set(e, PERR_UNAVAILABLE, NULL, "model leader: not connected");
  snprintf(sql, sizeof sql, "SELECT node FROM patron_model_leader l WHERE " PG_MODEL_LOCK_HELD,
           "l.pid");
  PGresult *r = PQexec(m->c, sql);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return fail(m, e, "model leader", r);
  if (PQntuples(r) == 1) snprintf(buf, len, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

static int drain_notifies(PGconn *c) {
  int got = 0;
  PGnotify *nf;
  while ((nf = PQnotifies(c))) {
    got = 1;
    PQfreemem(nf);
  }
  return got;
}

int store_models_wait(store_models_t *m, int timeout_ms) {
  if (m->c && drain_notifies(m->c)) return 1; /* arrived during an earlier query */
  struct pollfd p[2] = {{.fd = m->wake[0], .events = POLLIN},
                        {.fd = m->c ? PQsocket(m->c) : -1, .events = POLLIN}};
  if (poll(p, 2, timeout_ms) <= 0) return 0;
  int woken = 0;
  if (p[0].revents) {
    char b[64];
    while (read(m->wake[0], b, sizeof b) > 0) {
    }
    woken = 1;
  }
  if (p[1].revents && m->c) {
    if (!PQconsumeInput(m->c)) return 1; /* broken: the next store_models_lead finds out */
    woken |= drain_notifies(m->c);
  }
  return woken;
}

void store_models_wake(store_models_t *m) {
  if (m && write(m->wake[1], "w", 1) < 0) {
    /* the pipe is full: a wake is pending anyway */
  }
}
