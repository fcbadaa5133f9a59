/* test_clv_snapshot.c -- the CLV/segments snapshot (src/clv/clv_snapshot.h) built from a small
 * real store: which customers and orders it takes (main currency, as_of), a second build
 * against the first (version, no spurious changes), the file round trip (every persisted
 * field equal, lookups work), and a damaged file (a flipped bit in every header byte, every
 * 7th body byte and the last 64; truncated at as many lengths) refused with a message naming
 * the file, nothing returned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clv/clv_snapshot.h"
#include "commerce/commerce.h"
#include "store_fixture.h"

#define DAY 86400
#define T0 1600000000
#define NCUST 60

static int setup(void **state) {
  fx_setup(state, "/tmp/patron-clvsnap-XXXXXX");
  fx_t *f = *state;
  static const char *const prods[] = {"p1", "p2", "p3"};
  char id[32], cust[32];
  int k = 0;
  for (int i = 0; i < NCUST; i++) { /* 1..6 orders a customer, spread over a year */
    snprintf(cust, sizeof cust, "c%02d", i);
    int norders = 1 + (i * 7) % 6;
    for (int j = 0; j < norders; j++) {
      snprintf(id, sizeof id, "o%d", k++);
      int64_t ts = T0 + (int64_t)((i * 3) % 200 + j * (10 + i % 13)) * DAY + 3600 * (i % 7);
      fx_order(f, id, cust, "EUR", ts, prods, 1 + (size_t)(i % 3), 1000 + (i % 9) * 250);
    }
  }
  static const char *const one[] = {"p9"};
  fx_order(f, "usd-1", "usd-only", "USD", T0 + 5 * DAY, one, 1, 50000); /* not the main currency */
  fx_order(f, "late-1", "late", "EUR", T0 + 500 * DAY, one, 1, 2000);    /* after as_of */
  fx_commit(f);
  return 0;
}

static int teardown(void **state) { return fx_teardown(state); }

static clv_build_opts_t opts(void) {
  clv_build_opts_t o = {0};
  o.as_of = T0 + 400 * DAY;
  o.horizon_months = 12;
  o.rfm_bins = 5;
  o.discount_monthly = 0.01;
  o.threads = 1;
  o.model = CLV_MODEL_AUTO;
  return o;
}

static clv_snap_t *build_rule(fx_t *f, const clv_snap_t *prev, int rule) {
  store_txn_t *t;
  perr_info_t e = {0};
  assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
  clv_build_opts_t o = opts();
  o.model = rule;
  clv_snap_t *s = clv_snap_build(t, &o, prev, 1, &e);
  store_abort(t);
  if (!s) fail_msg("build failed: %s", e.message);
  return s;
}

static clv_snap_t *build(fx_t *f, const clv_snap_t *prev) {
  return build_rule(f, prev, CLV_MODEL_AUTO);
}

/* [clv] model: auto fits all three and serves the best log-likelihood (equal k: lowest AIC);
 * a named kind fits and serves only that one. */
static void test_model_rule(void **state) {
  fx_t *f = *state;
  clv_snap_t *s = build(f, NULL);
  assert_int_equal(s->model_rule, CLV_MODEL_AUTO);
  int fitted = 0;
  for (int k = 0; k < 3; k++) {
    assert_int_equal(s->fits[k].kind, k + 1);
    if (s->fits[k].status != CLV_OK) continue;
    fitted++;
    assert_true(s->tx.ll >= s->fits[k].ll);
    for (int j = 0; j < 4; j++) assert_true(s->fits[k].se[j] >= 0);
  }
  assert_true(fitted > 0);
  assert_int_equal(s->tx.status, CLV_OK);
  assert_memory_equal(&s->tx, &s->fits[s->tx.kind - 1], sizeof s->tx);
  model_params_result_t pr;
  memset(&pr, 0, sizeof pr);
  clv_snap_params(s, &pr);
  assert_memory_equal(pr.fits, s->fits, sizeof pr.fits);
  clv_snap_release(s);
  for (int rule = CLV_KIND_BGNBD; rule <= CLV_KIND_PNBD; rule++) {
    s = build_rule(f, NULL, rule);
    assert_int_equal(s->tx.kind, rule);
    for (int k = 0; k < 3; k++)
      if (k + 1 != rule) assert_int_equal(s->fits[k].version, 0); /* not fitted */
    if (s->tx.status == CLV_OK) {
      const clv_row_t *r = clv_snap_find(s, "c05", 3);
      assert_non_null(r);
      assert_true(r->p_alive > 0 && r->p_alive <= 1);
    }
    clv_snap_release(s);
  }
}

static void test_build_takes_main_currency_up_to_as_of(void **state) {
  fx_t *f = *state;
  clv_snap_t *s = build(f, NULL);
  assert_int_equal(s->n, NCUST);
  assert_string_equal(s->currency, "EUR");
  assert_int_equal(s->version, 1);
  assert_int_equal(s->as_of, T0 + 400 * DAY);
  assert_null(clv_snap_find(s, "usd-only", 8));
  assert_null(clv_snap_find(s, "late", 4));
  const clv_row_t *r = clv_snap_find(s, "c05", 3);
  assert_non_null(r);
  assert_memory_equal(s->pool + r->id_off, "c05", 3);
  uint64_t total = 0;
  segment_list_t l;
  clv_snap_counts(s, &l);
  for (int k = 0; k < RFM_NSEGMENTS; k++) total += l.counts[k];
  assert_int_equal(total, NCUST);
  for (size_t i = 0; i < s->n; i++) {
    assert_in_range(s->rows[i].r, 1, 5);
    assert_in_range(s->rows[i].f, 1, 5);
    assert_in_range(s->rows[i].m, 1, 5);
  }
  /* the same data again: the next version, and nobody moved */
  clv_snap_t *s2 = build(f, s);
  assert_int_equal(s2->version, 2);
  assert_int_equal(s2->diff_base, 1);
  assert_int_equal(s2->nchanges, 0);
  clv_snap_release(s2);
  clv_snap_release(s);
}

static void test_no_orders_is_insufficient_data(void **state) {
  (void)state;
  fx_t *f;
  fx_setup((void **)&f, "/tmp/patron-clvsnap-XXXXXX");
  store_txn_t *t;
  perr_info_t e = {0};
  assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
  clv_build_opts_t o = opts();
  assert_null(clv_snap_build(t, &o, NULL, 1, &e));
  assert_int_equal(e.code, PERR_INSUFFICIENT_DATA);
  store_abort(t);
  fx_teardown((void **)&f);
}

static void test_file_round_trip(void **state) {
  fx_t *f = *state;
  clv_snap_t *s = build(f, NULL);
  s->built_at = T0 + 401 * DAY;
  s->build_ms = 42;
  char path[128];
  snprintf(path, sizeof path, "%s/clv.bin", f->dir);
  perr_info_t e = {0};
  assert_int_equal(clv_snap_save(s, path, &e), 0);
  clv_snap_t *l = clv_snap_load(path, &e);
  if (!l) fail_msg("load failed: %s", e.message);
  assert_int_equal(l->version, s->version);
  assert_int_equal(l->built_at, s->built_at);
  assert_int_equal(l->as_of, s->as_of);
  assert_int_equal(l->build_ms, 42);
  assert_string_equal(l->currency, s->currency);
  assert_int_equal(l->horizon_months, s->horizon_months);
  assert_int_equal(l->rfm_bins, s->rfm_bins);
  assert_true(l->discount_monthly == s->discount_monthly);
  assert_memory_equal(&l->tx, &s->tx, sizeof s->tx);
  assert_memory_equal(l->fits, s->fits, sizeof s->fits);
  assert_int_equal(l->model_rule, s->model_rule);
  assert_memory_equal(&l->spend, &s->spend, sizeof s->spend);
  assert_string_equal(l->reason, s->reason);
  assert_int_equal(l->n, s->n);
  assert_int_equal(l->pool_n, s->pool_n);
  assert_memory_equal(l->rows, s->rows, s->n * sizeof *s->rows);
  assert_memory_equal(l->pool, s->pool, s->pool_n);
  /* derived again on load: the same indexes and figures */
  assert_memory_equal(l->seg_start, s->seg_start, sizeof s->seg_start);
  assert_memory_equal(l->by_seg, s->by_seg, s->n * sizeof *s->by_seg);
  assert_memory_equal(l->bands, s->bands, sizeof s->bands);
  for (size_t i = 0; i < s->n; i++) {
    const clv_row_t *r = &s->rows[i];
    assert_ptr_equal(clv_snap_find(l, s->pool + r->id_off, r->id_len), &l->rows[i]);
  }
  /* the scores offers.decide reads: clv_snap_analytics's fields of them, for every row, an
   * unscored customer and no model */
  for (size_t i = 0; i <= s->n + 1; i++) {
    const clv_snap_t *m = i <= s->n ? s : NULL;
    const clv_row_t *r = i < s->n ? &s->rows[i] : NULL;
    cust_analytics_t an;
    clv_scores_t sc;
    clv_snap_analytics(m, r, &an);
    clv_snap_scores(m, r, &sc);
    assert_int_equal(sc.scored, an.scored);
    assert_int_equal(sc.has_clv, an.has_clv);
    assert_int_equal(sc.has_value, an.has_value);
    assert_ptr_equal(sc.segment, an.segment);
    assert_ptr_equal(sc.churn_band, an.churn_band);
    assert_true(sc.p_alive == an.p_alive && sc.churn_risk == an.churn_risk);
    assert_int_equal(sc.predicted_clv, an.predicted_clv);
  }
  clv_snap_release(l);
  clv_snap_release(s);
  /* no file: not found, said so */
  snprintf(path, sizeof path, "%s/none.bin", f->dir);
  assert_null(clv_snap_load(path, &e));
  assert_int_equal(e.code, PERR_NOT_FOUND);
}

static void expect_refused(const char *path, const char *what) {
  perr_info_t e = {0};
  clv_snap_t *l = clv_snap_load(path, &e);
  if (l) fail_msg("a damaged file was loaded (%s)", what);
  assert_int_equal(e.code, PERR_INTERNAL);
  assert_non_null(strstr(e.message, path));
  if (strcmp(what, "truncated") == 0) assert_non_null(strstr(e.message, "truncated"));
}

static void test_damaged_file_refused(void **state) {
  fx_t *f = *state;
  clv_snap_t *s = build(f, NULL);
  char path[128], bad[128];
  snprintf(path, sizeof path, "%s/clv.bin", f->dir);
  snprintf(bad, sizeof bad, "%s/damaged.bin", f->dir);
  perr_info_t e = {0};
  assert_int_equal(clv_snap_save(s, path, &e), 0);
  clv_snap_release(s);
  fx_damage_each(path, bad, 400, expect_refused);
  clv_snap_t *l = clv_snap_load(bad, &e); /* the intact copy loads */
  assert_non_null(l);
  clv_snap_release(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_build_takes_main_currency_up_to_as_of, setup, teardown),
      cmocka_unit_test(test_no_orders_is_insufficient_data),
      cmocka_unit_test_setup_teardown(test_model_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_file_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
