/* store_internal.h -- the vtable a storage backend implements (private to store.c and the
 * backends; modules above include store.h only). Every backend's store, txn and cursor
 * object begins with the matching *_base struct below, so store.c can dispatch on it.
 * Invariants: the vtable is immutable static data; a txn's `s` points at its store; `err`
 * holds the message of the last failed call on that txn ("" if none). */
#ifndef PATRON_STORE_BACKEND_H
#define PATRON_STORE_BACKEND_H

#include "store/store.h"

typedef struct store_backend_s store_backend_t;

struct store_s {
  const store_backend_t *be;
};

struct store_txn_s {
  store_t *s;
  int write;
  char err[160];
};

struct store_cursor_s {
  store_txn_t *t;
};

struct store_backend_s {
  const char *name;
  void (*close)(store_t *s);
  int (*txn_begin)(store_t *s, int write, store_txn_t **out);
  int (*txn_begin_nested)(store_txn_t *parent, store_txn_t **out); /* a write savepoint */
  int (*commit)(store_txn_t *t, perr_info_t *err); /* fills err (if non-NULL) on failure */
  void (*abort)(store_txn_t *t);
  int (*get)(store_txn_t *t, store_table_t tb, const void *key, size_t klen, const void **val,
             size_t *vlen);
  int (*put)(store_txn_t *t, store_table_t tb, const void *key, size_t klen, const void *val,
             size_t vlen);
  int (*del)(store_txn_t *t, store_table_t tb, const void *key, size_t klen);
  int (*cursor_open)(store_txn_t *t, store_table_t tb, const void *start, size_t slen,
                     store_cursor_t **out);
  int (*cursor_next)(store_cursor_t *c, const void **key, size_t *klen, const void **val,
                     size_t *vlen);
  void (*cursor_close)(store_cursor_t *c);
  uint64_t (*count)(store_txn_t *t, store_table_t tb);
  uint64_t (*size_bytes)(store_t *s);
  void (*map_info)(store_t *s, uint64_t *used, uint64_t *size); /* NULL = unknown */
  int (*fatal)(store_t *s); /* NULL = the backend never needs a reopen */
  int (*scrub_free)(store_t *s, uint64_t *zeroed, perr_info_t *err); /* NULL = nothing kept */
  /* the change feed of a shared backend; NULL on an embedded one */
  int (*feed_poll)(store_t *s, int timeout_ms, uint64_t *applied, uint64_t *tables,
                   perr_info_t *err);
  void (*feed_wake)(store_t *s);
  void (*feed_stats)(store_t *s, store_feed_stats_t *out);
  void (*last_error)(store_t *s, char *buf, size_t len); /* NULL = never says more */
  uint64_t (*snapshot_id)(store_txn_t *t); /* NULL = unknown (store_txn_snapshot_id: 0) */
};

/* Backends' open functions (store_open picks one). */
int store_lmdb_open(const char *dir, const store_options_t *opt, store_t **out,
                    perr_info_t *err);
/* The LMDB tables' key order (store_lmdb.c): <0, 0, >0 as LMDB's default compare orders a
 * before, with or after b (memcmp of the common length, then the shorter first). */
int store_lmdb_key_cmp(const void *a, size_t an, const void *b, size_t bn);
#ifdef PATRON_POSTGRESQL
int store_pg_open(const char *dir, const store_options_t *opt, store_t **out, perr_info_t *err);
#endif

#endif
