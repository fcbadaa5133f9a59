/* test_recs_model.c -- the recommendations model's build from the store and its file
 * (src/recs/recs_model.h): every ordered product becomes an item, a build seeded with the
 * previous snapshot keeps every old id, an empty store is insufficient_data, the file round
 * trip gives the same bytes and header, and a damaged file (a flipped bit in every header
 * byte, every 7th body byte and the last 64; truncated at as many lengths) is refused with a
 * message naming the file, nothing returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commerce/commerce.h"
#include "recs/recs_model.h"
#include "store_fixture.h"

#define T0 1700000000
#define NPROD 12

static const char *const PRODS[NPROD] = {"a", "b", "c", "d", "e", "f",
                                        "g", "h", "i", "j", "k", "l"};

static int setup(void **state) {
  fx_setup(state, "/tmp/patron-recsmodel-XXXXXX");
  fx_t *f = *state;
  char id[32], cust[32];
  for (int i = 0; i < 40; i++) { /* baskets of 2-4 neighbouring products */
    snprintf(id, sizeof id, "o%02d", i);
    snprintf(cust, sizeof cust, "c%d", i % 9);
    size_t n = 2 + (size_t)(i % 3);
    fx_order(f, id, cust, "EUR", T0 + (39 - i) * 3600, PRODS + (i % (NPROD - 3)), n, 500);
  }
  fx_commit(f);
  return 0;
}

static int teardown(void **state) { return fx_teardown(state); }

static int try_build(fx_t *f, const recs_snapshot_t *seed, recs_snapshot_t **s, perr_info_t *e) {
  recs_config_t cfg;
  recs_config_default(&cfg);
  store_txn_t *t;
  assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
  int rc = recs_model_build(t, &cfg, seed, s, e);
  store_abort(t);
  return rc;
}

static recs_snapshot_t *build(fx_t *f, const recs_snapshot_t *seed) {
  perr_info_t e = {0};
  recs_snapshot_t *s = NULL;
  if (try_build(f, seed, &s, &e)) fail_msg("build failed: %s", e.message);
  return s;
}

static void test_build_from_orders(void **state) {
  fx_t *f = *state;
  recs_snapshot_t *s = build(f, NULL);
  recs_snapshot_stats_t st;
  recs_snapshot_stats(s, &st);
  assert_int_equal(st.items, NPROD);
  assert_int_equal(st.baskets, 40);
  assert_int_equal(st.built_at, T0 + 39 * 3600); /* the newest order */
  for (int i = 0; i < NPROD; i++)
    assert_true(recs_snapshot_lookup(s, PRODS[i], 1) < NPROD);
  /* products ordered together are neighbours */
  const uint32_t *ids;
  const float *sc;
  assert_true(recs_snapshot_neighbours(s, RECS_GRAPH_BASKET, recs_snapshot_lookup(s, "a", 1),
                                       &ids, &sc) > 0);

  /* new orders with new products; the seeded build keeps every old id */
  static const char *const fresh[] = {"z", "a", "y"};
  fx_order(f, "new-1", "c1", "EUR", T0 + 100 * 3600, fresh, 3, 700);
  fx_commit(f);
  recs_snapshot_t *s2 = build(f, s);
  recs_snapshot_stats(s2, &st);
  assert_int_equal(st.items, NPROD + 2);
  assert_int_equal(st.baskets, 41);
  for (int i = 0; i < NPROD; i++)
    assert_int_equal(recs_snapshot_lookup(s2, PRODS[i], 1), recs_snapshot_lookup(s, PRODS[i], 1));
  assert_true(recs_snapshot_lookup(s2, "z", 1) >= NPROD);
  recs_snapshot_unref(s2);
  recs_snapshot_unref(s);
}

static void test_empty_store_is_insufficient_data(void **state) {
  (void)state;
  fx_t *f;
  fx_setup((void **)&f, "/tmp/patron-recsmodel-XXXXXX");
  perr_info_t e = {0};
  recs_snapshot_t *s = NULL;
  assert_int_equal(try_build(f, NULL, &s, &e), PERR_INSUFFICIENT_DATA);
  assert_null(s);
  fx_teardown((void **)&f);
}

static void test_file_round_trip(void **state) {
  fx_t *f = *state;
  recs_snapshot_t *s = build(f, NULL);
  char path[128];
  snprintf(path, sizeof path, "%s/recs.snap", f->dir);
  recs_model_meta_t m = {7, 123, T0 + 99}, got = {0};
  perr_info_t e = {0};
  assert_int_equal(recs_model_save(path, s, &m, &e), 0);
  recs_snapshot_t *l = NULL;
  if (recs_model_load(path, &l, &got, &e)) fail_msg("load failed: %s", e.message);
  assert_int_equal(got.version, 7);
  assert_int_equal(got.build_ms, 123);
  assert_int_equal(got.saved_at, T0 + 99);
  size_t n1, n2;
  const void *b1 = recs_snapshot_bytes(s, &n1), *b2 = recs_snapshot_bytes(l, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  recs_snapshot_unref(l);
  recs_snapshot_unref(s);
  snprintf(path, sizeof path, "%s/none.snap", f->dir);
  assert_int_equal(recs_model_load(path, &l, &got, &e), PERR_NOT_FOUND);
  assert_null(l);
}

static void expect_refused(const char *path, const char *what) {
  recs_snapshot_t *l = NULL;
  recs_model_meta_t m;
  perr_info_t e = {0};
  if (recs_model_load(path, &l, &m, &e) == 0) fail_msg("a damaged file was loaded (%s)", what);
  assert_int_equal(e.code, PERR_INTERNAL);
  assert_null(l);
  assert_non_null(strstr(e.message, path));
}

static void test_damaged_file_refused(void **state) {
  fx_t *f = *state;
  recs_snapshot_t *s = build(f, NULL);
  char path[128], bad[128];
  snprintf(path, sizeof path, "%s/recs.snap", f->dir);
  snprintf(bad, sizeof bad, "%s/damaged.snap", f->dir);
  recs_model_meta_t m = {3, 10, T0};
  perr_info_t e = {0};
  assert_int_equal(recs_model_save(path, s, &m, &e), 0);
  recs_snapshot_unref(s);
  fx_damage_each(path, bad, 40, expect_refused);
  recs_snapshot_t *l = NULL; /* the intact copy loads */
  assert_int_equal(recs_model_load(bad, &l, &m, &e), 0);
  assert_int_equal(m.version, 3);
  recs_snapshot_unref(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_build_from_orders, setup, teardown),
      cmocka_unit_test(test_empty_store_is_insufficient_data),
      cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_file_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
