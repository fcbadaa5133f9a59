/* test_rfm.c -- RFM quantile scores (ties, bins) and the segment table of analytics/rfm.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/rfm.h"

static void test_quintiles_distinct(void **st) {
  (void)st;
  rfm_input_t in[10];
  rfm_score_t out[10];
  for (int i = 0; i < 10; i++) /* customer i: more recent, more orders, more spend with i */
    in[i] = (rfm_input_t){1000 + 10 * i, (uint32_t)(1 + i), 500 * (10 - i)};
  assert_int_equal(rfm_score(in, 10, 5, out), 0);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(out[i].r, 1 + i / 2);
    assert_int_equal(out[i].f, 1 + i / 2);
    assert_int_equal(out[i].m, 5 - i / 2); /* spend falls with i */
  }
  /* deciles */
  assert_int_equal(rfm_score(in, 10, 10, out), 0);
  for (int i = 0; i < 10; i++) assert_int_equal(out[i].r, 1 + i);
}

static void test_ties_share_a_score(void **st) {
  (void)st;
  rfm_input_t in[10];
  rfm_score_t out[10];
  for (int i = 0; i < 10; i++) in[i] = (rfm_input_t){5000, 1, 100};
  in[8].frequency = 4;
  in[9].frequency = 7;
  assert_int_equal(rfm_score(in, 10, 5, out), 0);
  for (int i = 0; i < 8; i++) assert_int_equal(out[i].f, 1); /* 8 one-time buyers: all 1 */
  assert_int_equal(out[8].f, 5); /* 8 below: 1 + 8*5/10 = 5 */
  assert_int_equal(out[9].f, 5);
  for (int i = 0; i < 10; i++) assert_true(out[i].r == 1 && out[i].m == 1);
  /* one customer */
  assert_int_equal(rfm_score(in, 1, 5, out), 0);
  assert_true(out[0].r == 1 && out[0].f == 1 && out[0].m == 1);
  assert_int_equal(rfm_score(in, 0, 5, out), 0);
}

static void test_segment_rules(void **st) {
  (void)st;
  struct { unsigned r, f, m; rfm_segment_t s; } c[] = {
      {5, 5, 5, RFM_CHAMPIONS},      {5, 4, 4, RFM_CHAMPIONS},  {4, 5, 5, RFM_CHAMPIONS},
      {4, 4, 4, RFM_LOYAL},          {3, 5, 5, RFM_LOYAL},      {5, 2, 3, RFM_POTENTIAL_LOYALISTS},
      {4, 3, 2, RFM_POTENTIAL_LOYALISTS}, {5, 1, 1, RFM_NEW},   {4, 1, 1, RFM_PROMISING},
      {3, 2, 2, RFM_NEED_ATTENTION}, {3, 3, 3, RFM_NEED_ATTENTION}, {1, 5, 5, RFM_CANNOT_LOSE},
      {2, 5, 5, RFM_CANNOT_LOSE},    {2, 4, 3, RFM_AT_RISK},    {1, 3, 3, RFM_AT_RISK},
      {3, 1, 1, RFM_HIBERNATING},    {2, 2, 1, RFM_HIBERNATING}, {1, 1, 2, RFM_LOST},
      {1, 2, 2, RFM_LOST}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    if (rfm_segment(c[i].r, c[i].f, c[i].m, 5) != c[i].s)
      fail_msg("(%u,%u,%u): got %s, want %s", c[i].r, c[i].f, c[i].m,
               rfm_segment_name(rfm_segment(c[i].r, c[i].f, c[i].m, 5)), rfm_segment_name(c[i].s));
  /* every triple has a segment, and every segment is reachable */
  int seen[RFM_NSEGMENTS] = {0};
  for (unsigned r = 1; r <= 5; r++)
    for (unsigned f = 1; f <= 5; f++)
      for (unsigned m = 1; m <= 5; m++) {
        rfm_segment_t s = rfm_segment(r, f, m, 5);
        assert_true(s < RFM_NSEGMENTS);
        seen[s] = 1;
      }
  for (int s = 0; s < RFM_NSEGMENTS; s++) assert_true(seen[s]);
  /* other bin counts map onto the 1..5 scale */
  assert_int_equal(rfm_segment(3, 3, 3, 3), RFM_CHAMPIONS);
  assert_int_equal(rfm_segment(1, 1, 1, 3), RFM_LOST);
  assert_int_equal(rfm_segment(10, 1, 1, 10), RFM_NEW);
  assert_int_equal(rfm_segment(1, 10, 10, 10), RFM_CANNOT_LOSE);
}

static void test_names_counts_errors(void **st) {
  (void)st;
  for (int s = 0; s < RFM_NSEGMENTS; s++)
    assert_int_equal(rfm_segment_from_name(rfm_segment_name((rfm_segment_t)s)), s);
  assert_string_equal(rfm_segment_name(RFM_POTENTIAL_LOYALISTS), "potential_loyalists");
  assert_string_equal(rfm_segment_name(RFM_NSEGMENTS), "unknown");
  assert_int_equal(rfm_segment_from_name("vip"), RFM_NSEGMENTS);
  rfm_input_t in[100];
  rfm_score_t out[100];
  for (int i = 0; i < 100; i++) in[i] = (rfm_input_t){i * 37 % 100, (uint32_t)(1 + i % 7), i * 13 % 50};
  assert_int_equal(rfm_score(in, 100, 5, out), 0);
  uint64_t cnt[RFM_NSEGMENTS], tot = 0;
  rfm_count_segments(out, 100, cnt);
  for (int s = 0; s < RFM_NSEGMENTS; s++) tot += cnt[s];
  assert_int_equal(tot, 100);
  assert_int_equal(rfm_score(in, 10, 1, out), -1);
  assert_int_equal(rfm_score(in, 10, RFM_MAX_BINS + 1, out), -1);
  assert_int_equal(rfm_score(NULL, 10, 5, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quintiles_distinct), cmocka_unit_test(test_ties_share_a_score),
      cmocka_unit_test(test_segment_rules), cmocka_unit_test(test_names_counts_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
