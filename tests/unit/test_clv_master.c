/* test_clv_master.c -- the whole CDNOW cohort (23,570 customers, 69,659 rows) from the
 * shared data folder (PATRON_SHARED_DATA; not copied into tests/data because of its size):
 * summary builder + BG/NBD + Gamma-Gamma + bulk scoring at 10x the sample's size. Exits 77
 * (skipped, label shared-data) when the shared folder is absent: see shared_data.h. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clv/clv.h"
#include "shared_data.h"

#define MASTER PATRON_SHARED_DATA "/cdnow/CDNOW_master.txt"
#define NC 23570

static int64_t ymd_ts(int ymd) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = ymd / 10000 - 1900;
  tm.tm_mon = ymd / 100 % 100 - 1;
  tm.tm_mday = ymd % 100;
  return (int64_t)timegm(&tm);
}

static void test_master_cohort(void **st) {
  (void)st;
  FILE *f = fopen(MASTER, "r");
  assert_non_null(f);
  char line[256];
  assert_non_null(fgets(line, sizeof line, f)); /* header */
  clv_txn_t *tx = calloc(80000, sizeof *tx);
  size_t *start = calloc(NC + 2, sizeof *start);
  int *cid = calloc(80000, sizeof *cid);
  assert_true(tx && start && cid);
  size_t n = 0;
  int id, date, cds;
  double usd;
  while (n < 80000 && fscanf(f, "%d %d %d %lf", &id, &date, &cds, &usd) == 4) {
    assert_true(id >= 1 && id <= NC);
    cid[n] = id;
    tx[n].ts = ymd_ts(date);
    tx[n].amount = llround(usd * 100);
    n++;
  }
  fclose(f);
  assert_int_equal(n, 69659);
  /* rows are grouped by customer in the file */
  for (size_t i = 1; i < n; i++) assert_true(cid[i] >= cid[i - 1]);
  clv_summary_t *s = calloc(NC, sizeof *s);
  clv_summary_opts_t o = clv_summary_opts_default(ymd_ts(19970930));
  size_t i = 0, nc = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && cid[j] == cid[i]) j++;
    assert_int_equal(clv_summarize_unsorted(tx + i, j - i, &o, &s[nc]), CLV_OK);
    nc++;
    i = j;
  }
  assert_int_equal(nc, NC);
  clv_tx_model_t m;
  clv_spend_model_t g;
  assert_int_equal(clv_tx_fit(CLV_KIND_BGNBD, s, nc, CLV_SECONDS_PER_WEEK, NULL, &m), CLV_OK);
  assert_int_equal(clv_spend_fit(s, nc, NULL, &g), CLV_OK);
  fprintf(stderr, "CDNOW master: BG/NBD r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f; "
          "GG p=%.3f q=%.3f gamma=%.1f (cents)\n", m.r, m.alpha, m.a, m.b, m.ll, g.p, g.q, g.gamma);
  /* the sample is a 1/10 systematic sample of this cohort: same process, close estimates */
  assert_true(fabs(m.r / 0.243 - 1) < 0.15 && fabs(m.alpha / 4.414 - 1) < 0.15);
  assert_true(fabs(m.a / 0.793 - 1) < 0.35 && fabs(m.b / 2.426 - 1) < 0.35);
  clv_plan_t *p = clv_plan_new(&m, &g, NULL, NULL, 0, 39.0, 100);
  assert_non_null(p);
  clv_score_t *sc = calloc(nc, sizeof *sc);
  assert_int_equal(clv_score_many(p, s, nc, 2, sc), CLV_OK);
  for (size_t k = 0; k < nc; k++)
    assert_true(isfinite(sc[k].clv) && sc[k].clv >= 0 && sc[k].p_alive >= 0 && sc[k].p_alive <= 1);
  clv_plan_free(p);
  free(sc);
  free(s);
  free(tx);
  free(start);
  free(cid);
}

int main(void) {
  if (!shared_data_present(MASTER, NULL)) return SHARED_DATA_SKIP;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_master_cohort)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
