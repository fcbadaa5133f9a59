/* test_readcache.c -- the read cache: hits, misses, TTL expiry, deletion keeps other entries
 * reachable (backward shift), growth, the byte budget, clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/readcache.h"

static void test_get_put_ttl(void **state) {
  (void)state;
  rcache_t *c = rcache_new(1 << 20, 1000);
  const char *v;
  size_t n;
  assert_int_equal(rcache_get(c, 1, "a", 1, 0, &v, &n), 0);
  rcache_put(c, 1, "a", 1, "hello", 5, 0);
  assert_int_equal(rcache_get(c, 1, "a", 1, 999, &v, &n), 1);
  assert_int_equal(n, 5);
  assert_memory_equal(v, "hello", 5);
  assert_int_equal(rcache_get(c, 2, "a", 1, 10, &v, &n), 0); /* other method */
  assert_int_equal(rcache_get(c, 1, "a", 1, 1000, &v, &n), 0); /* expired */
  rcache_stats_t st;
  rcache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  rcache_free(c);
}

static void test_many_and_deletes(void **state) {
  (void)state;
  rcache_t *c = rcache_new(64 << 20, 1000000);
  char k[32], val[32];
  const char *v;
  size_t n;
  for (int i = 0; i < 20000; i++) {
    int kl = snprintf(k, sizeof k, "cust-%d", i);
    int vl = snprintf(val, sizeof val, "v%d", i * 7);
    rcache_put(c, 1, k, (size_t)kl, val, (size_t)vl, 0);
  }
  /* delete every third: all others still found with their own values */
  for (int i = 0; i < 20000; i += 3) {
    int kl = snprintf(k, sizeof k, "cust-%d", i);
    rcache_del(c, 1, k, (size_t)kl);
  }
  for (int i = 0; i < 20000; i++) {
    int kl = snprintf(k, sizeof k, "cust-%d", i);
    int hit = rcache_get(c, 1, k, (size_t)kl, 1, &v, &n);
    if (i % 3 == 0) {
      assert_int_equal(hit, 0);
    } else {
      int vl = snprintf(val, sizeof val, "v%d", i * 7);
      assert_int_equal(hit, 1);
      assert_int_equal(n, (size_t)vl);
      assert_memory_equal(v, val, n);
    }
  }
  assert_int_equal(rcache_get(c, 1, "cust-1", 6, 1, &v, &n), 1);
  rcache_bump(c); /* everything stale at once */
  assert_int_equal(rcache_get(c, 1, "cust-1", 6, 1, &v, &n), 0);
  assert_int_equal(rcache_get(c, 1, "cust-2", 6, 1, &v, &n), 0);
  rcache_put(c, 1, "cust-2", 6, "new", 3, 1);
  assert_int_equal(rcache_get(c, 1, "cust-2", 6, 1, &v, &n), 1);
  assert_memory_equal(v, "new", 3);
  rcache_clear(c);
  assert_int_equal(rcache_get(c, 1, "cust-2", 6, 1, &v, &n), 0);
  rcache_free(c);
}

static void test_budget(void **state) {
  (void)state;
  rcache_t *c = rcache_new(100000, 1000000);
  char k[32], big[1000];
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 5000; i++) {
    int kl = snprintf(k, sizeof k, "k%d", i);
    rcache_put(c, 1, k, (size_t)kl, big, sizeof big, 0);
  }
  rcache_stats_t st;
  rcache_stats(c, &st);
  assert_true(st.bytes <= 100000);
  assert_true(st.entries > 10);
  assert_true(st.evictions > 0);
  /* the newest entry is always kept */
  const char *v;
  size_t n;
  assert_int_equal(rcache_get(c, 1, "k4999", 5, 1, &v, &n), 1);
  /* a value larger than an eighth of the budget is not cached */
  char huge[20000] = {0};
  rcache_put(c, 1, "h", 1, huge, sizeof huge, 0);
  assert_int_equal(rcache_get(c, 1, "h", 1, 1, &v, &n), 0);
  rcache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_put_ttl),
    cmocka_unit_test(test_many_and_deletes),
    cmocka_unit_test(test_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
