/* store.c -- the backend-neutral half of store.h: options, table names, and dispatch of
 * every public call through the backend vtable (store_internal.h). Owns no state.
 * Invariant: public functions never touch backend internals; adding a backend (e.g.
 * PostgreSQL) means one new store_<name>.c plus a choice in store_open. */
#include "store_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void store_options_default(store_options_t *o) {
  o->map_size = (SIZE_MAX > 0xFFFFFFFFu) ? (UINT64_C(8) << 30) : (UINT64_C(1) << 30);
  o->max_readers = 256;
  o->no_sync = 0;
  o->map_size_max = 0;
  o->pg_conninfo = NULL;
  o->node_name = NULL;
}

const char *store_table_name(store_table_t tb) {
  switch (tb) {
#define XX(name, str) case STORE_T_##name: return str;
    STORE_TABLE_MAP(XX)
#undef XX
    case STORE_T__COUNT: break;
  }
  return "?";
}

int store_open(const char *dir, const store_options_t *opt, store_t **out, perr_info_t *err) {
  if (opt && opt->pg_conninfo && opt->pg_conninfo[0]) {
#ifdef PATRON_POSTGRESQL
    return store_pg_open(dir, opt, out, err);
#else
    *out = NULL;
    return perr_set(err, PERR_INVALID_PARAMS, "store.backend",
                    "this patrond was built without PostgreSQL (cmake -DPATRON_POSTGRESQL=ON)");
#endif
  }
  return store_lmdb_open(dir, opt, out, err);
}

void store_close(store_t *s) {
  if (s) s->be->close(s);
}

int store_txn_begin(store_t *s, int write, store_txn_t **out) {
  return s->be->txn_begin(s, write, out);
}

int store_txn_begin_nested(store_txn_t *parent, store_txn_t **child) {
  *child = NULL;
  if (!parent->write) {
    snprintf(parent->err, sizeof parent->err, "a savepoint needs a write transaction");
    return PERR_INTERNAL;
  }
  return parent->s->be->txn_begin_nested(parent, child);
}

int store_commit(store_txn_t *t) { return t->s->be->commit(t, NULL); }

int store_commit_err(store_txn_t *t, perr_info_t *err) { return t->s->be->commit(t, err); }

void store_abort(store_txn_t *t) {
  if (t) t->s->be->abort(t);
}

const char *store_txn_errmsg(const store_txn_t *t) { return t->err; }

int store_get(store_txn_t *t, store_table_t tb, const void *key, size_t klen, const void **val,
              size_t *vlen) {
  return t->s->be->get(t, tb, key, klen, val, vlen);
}

int store_put(store_txn_t *t, store_table_t tb, const void *key, size_t klen, const void *val,
              size_t vlen) {
  return t->s->be->put(t, tb, key, klen, val, vlen);
}

int store_del(store_txn_t *t, store_table_t tb, const void *key, size_t klen) {
  return t->s->be->del(t, tb, key, klen);
}

int store_cursor_open(store_txn_t *t, store_table_t tb, const void *start, size_t slen,
                      store_cursor_t **out) {
  return t->s->be->cursor_open(t, tb, start, slen, out);
}

int store_cursor_next(store_cursor_t *c, const void **key, size_t *klen, const void **val,
                      size_t *vlen) {
  return c->t->s->be->cursor_next(c, key, klen, val, vlen);
}

void store_cursor_close(store_cursor_t *c) {
  if (c) c->t->s->be->cursor_close(c);
}

uint64_t store_count(store_txn_t *t, store_table_t tb) { return t->s->be->count(t, tb); }
uint64_t store_txn_snapshot_id(store_txn_t *t) {
  return t->s->be->snapshot_id ? t->s->be->snapshot_id(t) : 0;
}

uint64_t store_size_bytes(store_t *s) { return s->be->size_bytes(s); }

void store_map_info(store_t *s, uint64_t *used, uint64_t *size) {
  *used = *size = 0;
  if (s->be->map_info) s->be->map_info(s, used, size);
}

int store_fatal(store_t *s) { return s->be->fatal ? s->be->fatal(s) : 0; }

int store_scrub_free_pages(store_t *s, uint64_t *zeroed, perr_info_t *err) {
  *zeroed = 0;
  return s->be->scrub_free ? s->be->scrub_free(s, zeroed, err) : 0;
}

const char *store_backend_name(const store_t *s) { return s->be->name; }

int store_feed_poll(store_t *s, int timeout_ms, uint64_t *applied, uint64_t *tables,
                    perr_info_t *err) {
  *applied = *tables = 0;
  return s->be->feed_poll ? s->be->feed_poll(s, timeout_ms, applied, tables, err) : 0;
}

void store_feed_wake(store_t *s) {
  if (s->be->feed_wake) s->be->feed_wake(s);
}

void store_feed_stats(store_t *s, store_feed_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (s->be->feed_stats) s->be->feed_stats(s, out);
}

void store_last_error(store_t *s, char *buf, size_t len) {
  if (len) buf[0] = 0;
  if (s->be->last_error) s->be->last_error(s, buf, len);
}
