/* test_store_keyorder.c -- the LMDB backend's own key compare (store_lmdb_key_cmp, set on
 * every table) against LMDB's default order (memcmp of the common length, then the shorter
 * first): the same sign for millions of random key pairs (shared prefixes, NUL and 0xff
 * bytes, every length around the 4- and 8-byte words it reads), and a store written through
 * store.h read by a plain LMDB env with the default compare (and the reverse): every key
 * found, the cursor order ascending, nothing missing — so a store stays readable both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <lmdb.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "store_fixture.h"

static uint64_t next_rand(uint64_t *s) { /* xorshift64 */
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* LMDB's default key order (mdb_cmp_memn), as a sign. */
static int ref_cmp(const void *a, size_t an, const void *b, size_t bn) {
  int d = memcmp(a, b, an < bn ? an : bn);
  if (d) return d < 0 ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

static int sign(int v) { return (v > 0) - (v < 0); }

/* A random key of 0..max bytes, drawn so that shared prefixes and edge bytes are common. */
static size_t random_key(uint64_t *s, unsigned char *k, size_t max) {
  size_t n = (size_t)(next_rand(s) % (max + 1));
  static const unsigned char edge[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a', 'b'};
  for (size_t i = 0; i < n; i++) {
    uint64_t r = next_rand(s);
    k[i] = r % 3 ? edge[(r >> 8) % sizeof edge] : (unsigned char)(r >> 16);
  }
  return n;
}

static void test_sign_matches_default(void **state) {
  (void)state;
  uint64_t s = 0x9e3779b97f4a7c15u;
  unsigned char a[48], b[48];
  for (int round = 0; round < 2000000; round++) {
    size_t an = random_key(&s, a, 40), bn;
    uint64_t r = next_rand(&s);
    if (r % 2) { /* b: a copy of a, then changed at one byte and/or cut or extended */
      bn = an;
      memcpy(b, a, an);
      if (an && (r >> 1) % 2) b[(r >> 8) % an] ^= (unsigned char)(1u << ((r >> 16) % 8));
      if ((r >> 2) % 3 == 0) bn = (size_t)((r >> 24) % (an + 1));
      else if ((r >> 2) % 3 == 1 && an < 40) b[bn++] = (unsigned char)(r >> 32);
    } else {
      bn = random_key(&s, b, 40);
    }
    int want = ref_cmp(a, an, b, bn);
    assert_int_equal(sign(store_lmdb_key_cmp(a, an, b, bn)), want);
    assert_int_equal(sign(store_lmdb_key_cmp(b, bn, a, an)), -want);
  }
  /* every length pair of two equal runs, and a difference at every position of each */
  memset(a, 'x', sizeof a);
  memset(b, 'x', sizeof b);
  for (size_t an = 0; an <= 40; an++)
    for (size_t bn = 0; bn <= 40; bn++) {
      assert_int_equal(sign(store_lmdb_key_cmp(a, an, b, bn)), ref_cmp(a, an, b, bn));
      for (size_t i = 0; i < (an < bn ? an : bn); i++) {
        b[i] = 'y';
        assert_int_equal(sign(store_lmdb_key_cmp(a, an, b, bn)), ref_cmp(a, an, b, bn));
        b[i] = 0x00;
        assert_int_equal(sign(store_lmdb_key_cmp(a, an, b, bn)), ref_cmp(a, an, b, bn));
        b[i] = 'x';
      }
    }
}

#define NKEYS 6000

typedef struct key_s {
  unsigned char b[40];
  size_t n;
} key_t_;

static int by_ref(const void *x, const void *y) {
  const key_t_ *a = x, *b = y;
  return ref_cmp(a->b, a->n, b->b, b->n);
}

/* NKEYS distinct non-empty random keys. */
static key_t_ *make_keys(uint64_t seed) {
  key_t_ *k = calloc(NKEYS, sizeof *k);
  uint64_t s = seed;
  size_t n = 0;
  while (n < NKEYS) {
    k[n].n = random_key(&s, k[n].b, 24);
    if (!k[n].n) continue;
    n++;
    if (n == NKEYS) { /* drop duplicates (keep the first of each) and refill */
      qsort(k, n, sizeof *k, by_ref);
      size_t w = 1;
      for (size_t i = 1; i < n; i++)
        if (by_ref(&k[i], &k[w - 1])) k[w++] = k[i];
      n = w;
    }
  }
  return k;
}

/* A plain LMDB env on dir with LMDB's default compare: every key of k found in the table
 * "customers" with its value, and a cursor walk ascending in the default order. */
static void check_with_default(const char *dir, const key_t_ *k, size_t nk) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
  assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "customers", 0, &dbi), 0);
  for (size_t i = 0; i < nk; i++) {
    MDB_val kv = {k[i].n, (void *)k[i].b}, v;
    assert_int_equal(mdb_get(txn, dbi, &kv, &v), 0);
    assert_int_equal(v.mv_size, k[i].n);
    assert_memory_equal(v.mv_data, k[i].b, k[i].n);
  }
  MDB_cursor *c;
  MDB_val kv, v, prev = {0, NULL};
  size_t seen = 0;
  assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
  while (mdb_cursor_get(c, &kv, &v, seen ? MDB_NEXT : MDB_FIRST) == 0) {
    if (seen) assert_true(ref_cmp(prev.mv_data, prev.mv_size, kv.mv_data, kv.mv_size) < 0);
    prev = kv;
    seen++;
  }
  assert_int_equal(seen, nk);
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

/* The same through store.h (its own compare): every key found, cursor ascending. */
static void check_with_store(const char *dir, const key_t_ *k, size_t nk) {
  store_t *st;
  store_txn_t *t;
  perr_info_t e;
  assert_int_equal(store_open(dir, NULL, &st, &e), 0);
  assert_int_equal(store_txn_begin(st, 0, &t), 0);
  for (size_t i = 0; i < nk; i++) {
    const void *v;
    size_t vn;
    assert_int_equal(store_get(t, STORE_T_CUSTOMERS, k[i].b, k[i].n, &v, &vn), 0);
    assert_int_equal(vn, k[i].n);
  }
  store_cursor_t *c;
  const void *kp, *vp, *pp = NULL;
  size_t kn, vn, pn = 0, seen = 0;
  assert_int_equal(store_cursor_open(t, STORE_T_CUSTOMERS, "", 0, &c), 0);
  while (store_cursor_next(c, &kp, &kn, &vp, &vn) == 1) {
    if (seen) assert_true(ref_cmp(pp, pn, kp, kn) < 0);
    pp = kp;
    pn = kn;
    seen++;
  }
  assert_int_equal(seen, nk);
  store_cursor_close(c);
  store_abort(t);
  store_close(st);
}

static void test_store_written_reads_with_default(void **state) {
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/patron-keyorder-XXXXXX");
  assert_non_null(mkdtemp(dir));
  key_t_ *k = make_keys(0x243f6a8885a308d3u);
  store_t *st;
  perr_info_t e;
  assert_int_equal(store_open(dir, NULL, &st, &e), 0);
  for (size_t i = 0; i < NKEYS; i += 500) { /* several txns, keys in random order */
    store_txn_t *w;
    assert_int_equal(store_txn_begin(st, 1, &w), 0);
    for (size_t j = i; j < i + 500 && j < NKEYS; j++) {
      size_t x = (j * 2654435761u) % NKEYS; /* a permutation (NKEYS and the factor coprime) */
      assert_int_equal(store_put(w, STORE_T_CUSTOMERS, k[x].b, k[x].n, k[x].b, k[x].n), 0);
    }
    assert_int_equal(store_commit(w), 0);
  }
  store_close(st);
  check_with_default(dir, k, NKEYS);
  check_with_store(dir, k, NKEYS);
  fx_remove_dir(dir);
  free(k);
}

static void test_default_written_reads_with_store(void **state) {
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/patron-keyorder-XXXXXX");
  assert_non_null(mkdtemp(dir));
  store_t *st; /* the tables and schema version, as a first start makes them */
  perr_info_t e;
  assert_int_equal(store_open(dir, NULL, &st, &e), 0);
  store_close(st);
  key_t_ *k = make_keys(0x13198a2e03707344u);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
  assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "customers", 0, &dbi), 0);
  for (size_t j = 0; j < NKEYS; j++) {
    size_t x = (j * 2654435761u) % NKEYS;
    MDB_val kv = {k[x].n, k[x].b}, v = {k[x].n, k[x].b};
    assert_int_equal(mdb_put(txn, dbi, &kv, &v, 0), 0);
  }
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  check_with_store(dir, k, NKEYS);
  fx_remove_dir(dir);
  free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_matches_default),
      cmocka_unit_test(test_store_written_reads_with_default),
      cmocka_unit_test(test_default_written_reads_with_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
