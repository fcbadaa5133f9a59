/* test_store.c -- cmocka tests of store.h on the LMDB backend: directory creation and mode,
 * get/put/del, cursor order, counts, persistence across reopen, the schema-version guard,
 * MDB_MAP_FULL mapping, read-txn snapshot isolation and reuse (also across threads), and
 * savepoints (nested write txns: commit merges into the parent, abort restores it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fx_s {
  char root[64];
  char dir[96];
  store_t *s;
} fx_t;

static void rm_store_dir(const char *dir) {
  char p[160];
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  unlink(p);
  rmdir(dir);
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  snprintf(f->root, sizeof f->root, "/tmp/patron-store-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  snprintf(f->dir, sizeof f->dir, "%s/data", f->root);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->s) store_close(f->s);
  rm_store_dir(f->dir);
  rmdir(f->root);
  free(f);
  return 0;
}

static store_t *open_store(fx_t *f, uint64_t map_size) {
  store_options_t o;
  store_options_default(&o);
  o.no_sync = 1;
  if (map_size) o.map_size = map_size;
  perr_info_t e = {0};
  int rc = store_open(f->dir, &o, &f->s, &e);
  if (rc) fprintf(stderr, "store_open: %s\n", e.message);
  assert_int_equal(rc, 0);
  return f->s;
}

static void put1(store_t *s, store_table_t tb, const char *k, const char *v) {
  store_txn_t *t;
  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  assert_int_equal(store_put(t, tb, k, strlen(k), v, strlen(v)), 0);
  assert_int_equal(store_commit(t), 0);
}

static void test_defaults_and_dir_mode(void **state) {
  fx_t *f = *state;
  store_options_t o;
  store_options_default(&o);
  assert_true(o.map_size == (UINT64_C(8) << 30));
  assert_int_equal(o.no_sync, 0);
  open_store(f, 0);
  struct stat st;
  assert_int_equal(stat(f->dir, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_string_equal(store_table_name(STORE_T_CUSTOMER_ORDERS), "cust_orders");
  assert_true(store_size_bytes(f->s) > 0);
}

static void test_put_get_del(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_PRODUCTS, "p1", "hello");
  store_txn_t *t;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 0, &t), 0);
  assert_int_equal(store_get(t, STORE_T_PRODUCTS, "p1", 2, &v, &n), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(v, "hello", 5);
  assert_int_equal(store_get(t, STORE_T_PRODUCTS, "p2", 2, &v, &n), PERR_NOT_FOUND);
  assert_int_equal(store_get(t, STORE_T_CUSTOMERS, "p1", 2, &v, &n), PERR_NOT_FOUND);
  /* writes on a read txn are refused */
  assert_int_equal(store_put(t, STORE_T_PRODUCTS, "x", 1, "y", 1), PERR_INTERNAL);
  store_abort(t);

  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  assert_int_equal(store_del(t, STORE_T_PRODUCTS, "p1", 2), 0);
  assert_int_equal(store_del(t, STORE_T_PRODUCTS, "p1", 2), PERR_NOT_FOUND);
  assert_int_equal(store_get(t, STORE_T_PRODUCTS, "p1", 2, &v, &n), PERR_NOT_FOUND);
  assert_int_equal(store_put(t, STORE_T_AUX, "empty", 5, "", 0), 0);
  assert_int_equal(store_commit(t), 0);

  assert_int_equal(store_txn_begin(s, 0, &t), 0);
  assert_int_equal(store_get(t, STORE_T_PRODUCTS, "p1", 2, &v, &n), PERR_NOT_FOUND);
  assert_int_equal(store_get(t, STORE_T_AUX, "empty", 5, &v, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(store_commit(t), 0); /* committing a read txn just ends it */
}

static void expect_keys(store_t *s, const char *start, const char *const *want, size_t nwant) {
  store_txn_t *t;
  store_cursor_t *c;
  assert_int_equal(store_txn_begin(s, 0, &t), 0);
  assert_int_equal(store_cursor_open(t, STORE_T_AUX, start, start ? strlen(start) : 0, &c), 0);
  const void *k, *v;
  size_t kn, vn, i = 0;
  int rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    assert_true(i < nwant);
    assert_int_equal(kn, strlen(want[i]));
    assert_memory_equal(k, want[i], kn);
    i++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(i, nwant);
  assert_int_equal(store_cursor_next(c, &k, &kn, &v, &vn), 0);
  store_cursor_close(c);
  store_abort(t);
}

static void test_cursor_order_and_counts(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  expect_keys(s, NULL, NULL, 0);
  const char *ins[] = {"b", "a", "c", "ab", "a\x01", "b\xff"};
  for (size_t i = 0; i < 6; i++) put1(s, STORE_T_AUX, ins[i], "v");
  const char *all[] = {"a", "a\x01", "ab", "b", "b\xff", "c"};
  expect_keys(s, NULL, all, 6);
  expect_keys(s, "ab", all + 2, 4);
  expect_keys(s, "aa", all + 2, 4);
  expect_keys(s, "bz", all + 4, 2); /* 0xff sorts after z */
  expect_keys(s, "c", all + 5, 1);
  expect_keys(s, "d", NULL, 0);
  store_txn_t *t;
  assert_int_equal(store_txn_begin(s, 0, &t), 0);
  assert_int_equal(store_count(t, STORE_T_AUX), 6);
  assert_int_equal(store_count(t, STORE_T_ORDERS), 0);
  assert_int_equal(store_count(t, STORE_T_META), 1); /* schema version */
  store_abort(t);
}

static void test_reopen_persists(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_ORDERS, "o1", "one");
  store_close(s);
  f->s = NULL;
  s = open_store(f, 0);
  store_txn_t *t;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 0, &t), 0);
  assert_int_equal(store_get(t, STORE_T_ORDERS, "o1", 2, &v, &n), 0);
  assert_memory_equal(v, "one", 3);
  store_abort(t);
}

static void test_newer_schema_refused(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  store_txn_t *t;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  assert_int_equal(store_get(t, STORE_T_META, STORE_META_SCHEMA_KEY,
                             strlen(STORE_META_SCHEMA_KEY), &v, &n), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(v, "\0\0\0\1", 4);
  assert_int_equal(store_put(t, STORE_T_META, STORE_META_SCHEMA_KEY,
                             strlen(STORE_META_SCHEMA_KEY), "\0\0\0\2", 4), 0);
  assert_int_equal(store_commit(t), 0);
  store_close(s);
  f->s = NULL;
  perr_info_t e = {0};
  store_t *s2 = NULL;
  assert_int_equal(store_open(f->dir, NULL, &s2, &e), PERR_UNAVAILABLE);
  assert_null(s2);
  assert_non_null(strstr(e.message, "newer"));
}

static void test_map_full(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 1u << 20);
  store_txn_t *t;
  char val[4000], key[16];
  memset(val, 'x', sizeof val);
  int rc = 0;
  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  for (int i = 0; i < 1000 && rc == 0; i++) {
    snprintf(key, sizeof key, "k%05d", i);
    rc = store_put(t, STORE_T_AUX, key, strlen(key), val, sizeof val);
  }
  assert_int_equal(rc, PERR_UNAVAILABLE);
  /* no map_size_max: the message says the map cannot grow and what to do */
  assert_string_equal(store_txn_errmsg(t), "data store full: the LMDB map is full at 1 MiB "
                                           "(store.map_size_max_mb): raise it and restart");
  perr_info_t e = {0};
  assert_int_equal(store_commit_err(t, &e), PERR_UNAVAILABLE);
  assert_non_null(strstr(e.message, "data store full"));
  /* the store stays usable */
  put1(s, STORE_T_AUX, "small", "ok");
}

static int has(store_txn_t *t, const char *k) {
  const void *v;
  size_t n;
  return store_get(t, STORE_T_AUX, k, strlen(k), &v, &n) == 0;
}

static void test_savepoints(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_AUX, "old", "1");
  store_txn_t *w, *c1, *c2, *c3, *r;
  assert_int_equal(store_txn_begin(s, 1, &w), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "a", 1, "1", 1), 0);
  /* aborted savepoint: its put and del are gone, the parent is as before it */
  assert_int_equal(store_txn_begin_nested(w, &c1), 0);
  assert_int_equal(store_put(c1, STORE_T_AUX, "b", 1, "2", 1), 0);
  assert_int_equal(store_del(c1, STORE_T_AUX, "a", 1), 0);
  assert_int_equal(store_del(c1, STORE_T_AUX, "old", 3), 0);
  assert_true(has(c1, "b"));
  assert_false(has(c1, "a"));
  store_abort(c1);
  assert_true(has(w, "a"));
  assert_true(has(w, "old"));
  assert_false(has(w, "b"));
  /* committed savepoints, two deep: merged into the parent, not yet visible to readers */
  assert_int_equal(store_txn_begin_nested(w, &c2), 0);
  assert_int_equal(store_put(c2, STORE_T_AUX, "c", 1, "3", 1), 0);
  assert_int_equal(store_txn_begin_nested(c2, &c3), 0);
  assert_int_equal(store_put(c3, STORE_T_AUX, "d", 1, "4", 1), 0);
  assert_int_equal(store_commit(c3), 0);
  assert_true(has(c2, "d"));
  assert_int_equal(store_commit(c2), 0);
  assert_true(has(w, "c"));
  assert_true(has(w, "d"));
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  assert_false(has(r, "c"));
  assert_false(has(r, "a"));
  store_abort(r);
  assert_int_equal(store_commit(w), 0);
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  assert_true(has(r, "old") && has(r, "a") && has(r, "c") && has(r, "d"));
  assert_false(has(r, "b"));
  /* a read txn has no savepoints */
  assert_int_equal(store_txn_begin_nested(r, &c1), PERR_INTERNAL);
  assert_null(c1);
  store_abort(r);
}

/* Using a parent while its savepoint is open is refused and poisons the parent. */
static void test_parent_used_under_savepoint(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  store_txn_t *w, *c, *r;
  assert_int_equal(store_txn_begin(s, 1, &w), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "a", 1, "1", 1), 0);
  assert_int_equal(store_txn_begin_nested(w, &c), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "b", 1, "2", 1), PERR_INTERNAL);
  assert_int_equal(store_put(c, STORE_T_AUX, "c", 1, "3", 1), 0);
  assert_int_equal(store_commit(c), 0);
  assert_int_equal(store_commit(w), PERR_INTERNAL);
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  assert_false(has(r, "a") || has(r, "b") || has(r, "c"));
  store_abort(r);
}

/* A savepoint that hit MDB_MAP_FULL: aborting it keeps the parent usable; committing it
 * poisons the parent, so the batch cannot commit without the savepoint's writes. */
static void test_savepoint_store_failure(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 1u << 20);
  char val[4000], key[16];
  memset(val, 'x', sizeof val);
  for (int commit_child = 0; commit_child < 2; commit_child++) {
    store_txn_t *w, *c;
    int rc = 0;
    assert_int_equal(store_txn_begin(s, 1, &w), 0);
    const char *mine = commit_child ? "mine1" : "mine0";
    assert_int_equal(store_put(w, STORE_T_AUX, mine, 5, "x", 1), 0);
    assert_int_equal(store_txn_begin_nested(w, &c), 0);
    for (int i = 0; i < 1000 && rc == 0; i++) {
      snprintf(key, sizeof key, "k%05d", i);
      rc = store_put(c, STORE_T_AUX, key, strlen(key), val, sizeof val);
    }
    assert_int_equal(rc, PERR_UNAVAILABLE);
    perr_info_t e = {0};
    if (commit_child) {
      assert_int_equal(store_commit_err(c, &e), PERR_UNAVAILABLE);
      assert_int_equal(store_commit_err(w, &e), PERR_UNAVAILABLE);
      assert_non_null(strstr(e.message, "data store full"));
    } else {
      store_abort(c);
      assert_int_equal(store_commit_err(w, &e), 0);
    }
    store_txn_t *r;
    assert_int_equal(store_txn_begin(s, 0, &r), 0);
    assert_int_equal(has(r, mine), !commit_child);
    assert_false(has(r, "k00000"));
    store_abort(r);
  }
}

/* Fill a write txn with 4000-byte values from key index *next until a put fails or
 * limit values are in; commit it. Returns the number of values put (committed if rc 0). */
static int fill(store_t *s, int *next, int limit, int *commit_rc) {
  store_txn_t *t;
  char val[4000], key[16];
  memset(val, 'x', sizeof val);
  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  int n = 0, rc = 0;
  for (; n < limit && rc == 0; n++) {
    snprintf(key, sizeof key, "k%06d", *next + n);
    rc = store_put(t, STORE_T_AUX, key, strlen(key), val, sizeof val);
  }
  *commit_rc = store_commit(t);
  if (*commit_rc == 0) *next += n;
  return rc == 0 ? n : n - 1;
}

/* Map full with room to grow: the failing txn is refused, the next write txn doubles the map
 * (up to map_size_max), the data before is intact, and reads across the remap are fine. */
static void test_map_full_grows(void **state) {
  fx_t *f = *state;
  store_options_t o;
  store_options_default(&o);
  o.no_sync = 1;
  o.map_size = 1u << 20;
  o.map_size_max = 4u << 20;
  perr_info_t e = {0};
  assert_int_equal(store_open(f->dir, &o, &f->s, &e), 0);
  store_t *s = f->s;
  int next = 0, crc;
  while (fill(s, &next, 20, &crc) && crc == 0) {}
  assert_int_equal(crc, PERR_UNAVAILABLE);
  int at_1mib = next;
  assert_true(at_1mib > 50 && at_1mib < 260); /* 1 MiB of 4 KB values, with page overhead */
  /* a reader open across the growth attempt delays it; it ends before the next write */
  store_txn_t *r;
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  store_abort(r);
  while (fill(s, &next, 20, &crc) && crc == 0) {} /* grown to 2 MiB, full again */
  assert_true(next > at_1mib * 3 / 2);
  while (fill(s, &next, 20, &crc) && crc == 0) {} /* grown to 4 MiB, full again */
  assert_true(next > 3 * at_1mib); /* about four times the values of 1 MiB */
  store_txn_t *t;
  assert_int_equal(store_txn_begin(s, 1, &t), 0);
  char val[4000];
  memset(val, 'x', sizeof val);
  int rc = 0;
  for (int i = 0; i < 1000 && rc == 0; i++) {
    char key[16];
    snprintf(key, sizeof key, "z%05d", i);
    rc = store_put(t, STORE_T_AUX, key, strlen(key), val, sizeof val);
  }
  assert_non_null(strstr(store_txn_errmsg(t), "at 4 MiB (store.map_size_max_mb): raise it"));
  store_abort(t);
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  assert_int_equal(store_count(r, STORE_T_AUX), (uint64_t)next);
  store_abort(r);
}

static void test_read_snapshot_and_reuse(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_AUX, "k", "v1");
  store_txn_t *r1, *r2, *w;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 0, &r1), 0);
  assert_int_equal(store_txn_begin(s, 1, &w), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "k", 1, "v2", 2), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "k2", 2, "x", 1), 0);
  assert_int_equal(store_commit(w), 0);
  assert_int_equal(store_get(r1, STORE_T_AUX, "k", 1, &v, &n), 0);
  assert_memory_equal(v, "v1", 2);
  assert_int_equal(store_get(r1, STORE_T_AUX, "k2", 2, &v, &n), PERR_NOT_FOUND);
  store_abort(r1);
  /* a parked txn is renewed onto the newest snapshot */
  assert_int_equal(store_txn_begin(s, 0, &r2), 0);
  assert_ptr_equal(r2, r1);
  assert_int_equal(store_get(r2, STORE_T_AUX, "k", 1, &v, &n), 0);
  assert_memory_equal(v, "v2", 2);
  store_abort(r2);
  for (int i = 0; i < 100000; i++) {
    assert_int_equal(store_txn_begin(s, 0, &r1), 0);
    assert_int_equal(store_get(r1, STORE_T_AUX, "k2", 2, &v, &n), 0);
    store_abort(r1);
  }
}

/* A read txn's closed cursor is renewed at the next open of its table: in the same txn (a
 * new start, another table between), and in the txn renewed from the pool after a commit,
 * where it sees the new snapshot. */
static int count_from(store_txn_t *t, store_table_t tb, const char *start, const char *first) {
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  int n = 0;
  assert_int_equal(store_cursor_open(t, tb, start, strlen(start), &c), 0);
  while (store_cursor_next(c, &k, &kn, &v, &vn) == 1) {
    if (!n && first) {
      assert_int_equal(kn, strlen(first));
      assert_memory_equal(k, first, kn);
    }
    n++;
  }
  store_cursor_close(c);
  return n;
}

static void test_read_cursor_reuse(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_AUX, "a1", "x");
  put1(s, STORE_T_AUX, "a2", "x");
  put1(s, STORE_T_AUX, "b1", "x");
  put1(s, STORE_T_META, "zz", "x");
  store_txn_t *r, *w;
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(count_from(r, STORE_T_AUX, "", "a1"), 3);
    assert_int_equal(count_from(r, STORE_T_AUX, "a2", "a2"), 2);
    assert_int_equal(count_from(r, STORE_T_META, "zz", "zz"), 1);
    assert_int_equal(count_from(r, STORE_T_AUX, "c", NULL), 0);
  }
  store_cursor_t *c1, *c2; /* two open at once on one table: both work */
  const void *k, *v;
  size_t kn, vn;
  assert_int_equal(store_cursor_open(r, STORE_T_AUX, "b", 1, &c1), 0);
  assert_int_equal(store_cursor_open(r, STORE_T_AUX, "a", 1, &c2), 0);
  assert_int_equal(store_cursor_next(c1, &k, &kn, &v, &vn), 1);
  assert_memory_equal(k, "b1", 2);
  assert_int_equal(store_cursor_next(c2, &k, &kn, &v, &vn), 1);
  assert_memory_equal(k, "a1", 2);
  store_cursor_close(c1);
  store_cursor_close(c2);
  store_abort(r);
  assert_int_equal(store_txn_begin(s, 1, &w), 0);
  assert_int_equal(store_put(w, STORE_T_AUX, "a0", 2, "y", 1), 0);
  assert_int_equal(count_from(w, STORE_T_AUX, "", "a0"), 4); /* a write txn's own cursors */
  assert_int_equal(store_commit(w), 0);
  assert_int_equal(store_txn_begin(s, 0, &r), 0); /* the parked txn, with its cursors */
  assert_int_equal(count_from(r, STORE_T_AUX, "", "a0"), 4);
  store_abort(r);
}

/* A read txn ended on the newest snapshot is parked live and used again as it is while
 * nothing is committed (same snapshot id, same data); a commit by this process, or by
 * another process on the same files (which runs none of this process's code), is seen by
 * the next read txn. */
static void get_is(store_t *s, const char *k, const char *want, uint64_t *snap) {
  store_txn_t *r;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  int rc = store_get(r, STORE_T_AUX, k, strlen(k), &v, &n);
  if (!want) assert_int_equal(rc, PERR_NOT_FOUND);
  else {
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
  }
  if (snap) *snap = store_txn_snapshot_id(r);
  store_abort(r);
}

static void test_read_txn_kept_live(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_AUX, "k", "v1");
  uint64_t a, b;
  get_is(s, "k", "v1", &a);
  get_is(s, "k", "v1", &b);
  assert_true(a != 0 && a == b); /* the same snapshot, nothing committed */
  put1(s, STORE_T_AUX, "k", "v2"); /* this process's commit */
  get_is(s, "k", "v2", &b);
  assert_true(b != a);
  get_is(s, "k", "v2", &a);
  assert_true(a == b);
  fflush(NULL);
  pid_t pid = fork(); /* another process commits: this one is told nothing */
  assert_true(pid >= 0);
  if (pid == 0) {
    store_options_t o;
    store_options_default(&o);
    o.no_sync = 1;
    perr_info_t e = {0};
    store_t *cs;
    store_txn_t *w;
    int ok = store_open(f->dir, &o, &cs, &e) == 0 && store_txn_begin(cs, 1, &w) == 0 &&
             store_put(w, STORE_T_AUX, "k", 1, "v3", 2) == 0 && store_commit(w) == 0;
    _exit(ok ? 0 : 1);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  get_is(s, "k", "v3", &b);
  assert_true(b != a);
  /* two readers at once: both see the data, and both are parked again */
  store_txn_t *r1, *r2;
  const void *v;
  size_t n;
  assert_int_equal(store_txn_begin(s, 0, &r1), 0);
  assert_int_equal(store_txn_begin(s, 0, &r2), 0);
  assert_int_equal(store_get(r1, STORE_T_AUX, "k", 1, &v, &n), 0);
  assert_int_equal(store_get(r2, STORE_T_AUX, "k", 1, &v, &n), 0);
  store_abort(r1);
  store_abort(r2);
  put1(s, STORE_T_AUX, "k", "v4");
  get_is(s, "k", "v4", NULL);
  get_is(s, "k", "v4", NULL);
  /* a parked live txn no begin takes again (the second of two) is let go at the next commit:
   * its snapshot does not keep LMDB from reusing the pages later commits free */
  assert_int_equal(store_txn_begin(s, 0, &r1), 0);
  assert_int_equal(store_txn_begin(s, 0, &r2), 0);
  store_abort(r1);
  store_abort(r2);
  static char big[64 * 1024];
  uint64_t used0, used, size;
  store_map_info(s, &used0, &size);
  for (int i = 0; i < 200; i++) {
    memset(big, 'a' + i % 26, sizeof big);
    store_txn_t *w;
    assert_int_equal(store_txn_begin(s, 1, &w), 0);
    assert_int_equal(store_put(w, STORE_T_AUX, "big", 3, big, sizeof big), 0);
    assert_int_equal(store_commit(w), 0);
    get_is(s, "k", "v4", NULL); /* takes one parked txn, parks it again */
  }
  store_map_info(s, &used, &size);
  assert_true(used < used0 + 2 * 1024 * 1024); /* pinned: 200 x 64 KB = 12.8 MB */
}

typedef struct thr_s {
  store_t *s;
  int fails;
} thr_t;

static void *reader(void *arg) {
  thr_t *th = arg;
  for (int i = 0; i < 50000; i++) {
    store_txn_t *t;
    const void *v;
    size_t n;
    if (store_txn_begin(th->s, 0, &t) != 0) {
      th->fails++;
      continue;
    }
    int rc = store_get(t, STORE_T_AUX, "k", 1, &v, &n);
    if (rc != 0 || n != 8) th->fails++;
    store_abort(t);
  }
  return NULL;
}

static void test_readers_across_threads(void **state) {
  fx_t *f = *state;
  store_t *s = open_store(f, 0);
  put1(s, STORE_T_AUX, "k", "00000000");
  pthread_t th[3];
  thr_t a[3] = {{s, 0}, {s, 0}, {s, 0}};
  for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, reader, &a[i]), 0);
  for (int i = 0; i < 200; i++) {
    char v[16];
    snprintf(v, sizeof v, "%08d", i);
    put1(s, STORE_T_AUX, "k", v);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(a[i].fails, 0);
  }
}

static void test_open_errors(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  store_t *s = NULL;
  assert_int_equal(store_open("", NULL, &s, &e), PERR_INVALID_PARAMS);
  char p[128];
  snprintf(p, sizeof p, "%s/missing/deeper", f->root);
  assert_int_equal(store_open(p, NULL, &s, &e), PERR_INTERNAL);
  assert_non_null(strstr(e.message, "cannot create data directory"));
  assert_null(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults_and_dir_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cursor_order_and_counts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen_persists, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_full_grows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
      cmocka_unit_test_setup_teardown(test_savepoint_store_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parent_used_under_savepoint, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_snapshot_and_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_cursor_reuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_txn_kept_live, setup, teardown),
      cmocka_unit_test_setup_teardown(test_readers_across_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
