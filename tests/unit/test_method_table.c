/* test_method_table.c -- the policy columns of protocol/methods.def: every write declares the
 * data it changes and names the ids it affects, every cached method has a key, the thread
 * follows the flags; and every result type of the table encodes (zeroed and filled) into
 * msgpack that msgpack-c decodes back consuming every byte, with each map's count equal to
 * the fields written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "methods.h"

static void test_policy_columns(void **state) {
  (void)state;
  int writes = 0, cached = 0;
  for (int i = 0; i < METHOD__COUNT; i++) {
    const method_desc_t *md = &method_table[i];
    if (md->flags & M_WRITE) {
      writes++;
      if (md->data == D_NONE || !md->affects)
        fail_msg("write %s declares no data or no affects function", md->name);
      assert_int_equal(md->thread, RUN_ON_WRITER);
    } else {
      assert_null(md->affects);
      assert_int_equal(md->thread, md->flags & M_SLOW ? RUN_ON_WORKER : RUN_ON_LOOP);
    }
    if (md->cache == CACHE_NONE) {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), 0);
      assert_null(md->cache_key);
      continue;
    }
    cached++;
    assert_int_equal(md->thread, RUN_ON_LOOP);
    if (md->data == D_NONE) fail_msg("cached %s depends on no data: never invalidated", md->name);
    if (md->cache == CACHE_QUERY) {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), M_CACHED_QUERY);
      assert_null(md->cache_key);
    } else {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), M_CACHED);
      assert_non_null(md->cache_key);
      assert_string_equal(md->params_type, "id_params_t");
      id_params_t p = {{"abc", 3}};
      pstr_t k = md->cache_key(&p);
      assert_ptr_equal(k.p, p.id.p);
      assert_int_equal(k.n, 3);
    }
  }
  assert_true(writes > 0);
  assert_true(cached > 0);
}

/* A write that cannot name the ids it changed (zeroed params and result) says so (-1), so
 * every answer of that kind is dropped; it never returns a partial list. */
static void test_affects_unknown_is_all(void **state) {
  (void)state;
  for (int w = 0; w < METHOD__COUNT; w++) {
    const method_desc_t *wd = &method_table[w];
    if (!wd->affects) continue;
    void *params = calloc(1, wd->params_size), *result = calloc(1, wd->result_size);
    assert_non_null(params);
    assert_non_null(result);
    for (int r = 0; r < METHOD__COUNT; r++) {
      const method_desc_t *rd = &method_table[r];
      if (!rd->cache_key || !(rd->data & wd->data)) continue;
      pstr_t ids[METHOD_AFFECTS_MAX];
      int n = wd->affects(params, result, rd->cache, ids);
      if (n != -1) fail_msg("%s with no ids names %d ids for %s", wd->name, n, rd->name);
    }
    free(params);
    free(result);
  }
}

/* The writes that name ids: a filled params/result (every pstr_t "x") names only "x". */
static void test_affects_names_ids(void **state) {
  (void)state;
  for (int w = 0; w < METHOD__COUNT; w++) {
    const method_desc_t *wd = &method_table[w];
    if (!wd->affects) continue;
    /* fill every pointer-aligned pstr_t-shaped slot: set all bytes so ids are non-NULL */
    pstr_t *params = calloc(1, wd->params_size + sizeof(pstr_t));
    pstr_t *result = calloc(1, wd->result_size + sizeof(pstr_t));
    assert_non_null(params);
    assert_non_null(result);
    for (size_t i = 0; i < wd->params_size / sizeof(pstr_t); i++) params[i] = (pstr_t){"x", 1};
    for (size_t i = 0; i < wd->result_size / sizeof(pstr_t); i++) result[i] = (pstr_t){"x", 1};
    int named = 0;
    for (int r = 0; r < METHOD__COUNT; r++) {
      const method_desc_t *rd = &method_table[r];
      if (!rd->cache_key || !(rd->data & wd->data)) continue;
      pstr_t ids[METHOD_AFFECTS_MAX];
      int n = wd->affects(params, result, rd->cache, ids);
      if (n <= 0) fail_msg("%s names no %s key though it changes its data", wd->name, rd->name);
      for (int i = 0; i < n; i++) {
        assert_int_equal(ids[i].n, 1);
        assert_memory_equal(ids[i].p, "x", 1);
      }
      named++;
    }
    if (!named) fail_msg("write %s invalidates no cached answer by id", wd->name);
    free(params);
    free(result);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_policy_columns),
    cmocka_unit_test(test_affects_unknown_is_all),
    cmocka_unit_test(test_affects_names_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
