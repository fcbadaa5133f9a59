/* test_recs_rules.c -- association rules on a hand-checked toy example (counts, support,
 * confidence, lift, bad parameters). The same miner against the figures arules publishes for
 * the Groceries baskets is test_recs_groceries.c (needs ../shared/data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs/recs.h"

/* Published value printed with 7 significant digits: compare at that precision. */
static void near(double got, double want) {
  double tol = fabs(want) * 5e-7 + 1e-12;
  if (fabs(got - want) > tol) fail_msg("got %.10g want %.10g", got, want);
}

static void test_toy_rules(void **st) {
  (void)st;
  /* baskets: {0,1,2} {0,1} {0,2} {1,2} {0,1}: count(0,1)=3, count(0)=4, count(1)=4, N=5 */
  uint32_t items[] = {0, 1, 2, 0, 1, 0, 2, 1, 2, 0, 1};
  uint64_t off[] = {0, 3, 5, 7, 9, 11};
  recs_rules_t r;
  perr_info_t e;
  assert_int_equal(recs_rules_mine(off, items, 5, 3, 0.4, 0.7, 10, &r, &e), PERR_OK);
  /* frequent (count >= 2): 3 singles, {0,1}=3, {0,2}=2, {1,2}=2; {0,1,2}=1 is not */
  assert_int_equal(r.itemsets, 6);
  assert_int_equal(r.n, 2); /* 0=>1 and 1=>0 at conf 0.75; the others 2/4 = 0.5 */
  for (size_t i = 0; i < r.n; i++) {
    assert_int_equal(r.rules[i].count, 3);
    near(r.rules[i].support, 0.6);
    near(r.rules[i].confidence, 0.75);
    near(r.rules[i].lift, 0.75 / 0.8);
  }
  recs_rules_free(&r);
  assert_int_equal(recs_rules_mine(off, items, 5, 3, 0, 0.5, 10, &r, &e), PERR_INVALID_PARAMS);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_toy_rules)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
