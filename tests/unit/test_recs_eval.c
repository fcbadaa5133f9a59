/* test_recs_eval.c -- the offline protocol of ../shared/data/online_retail/EVALUATION.md on
 * the shared data: the plain cosine baseline must reproduce the published HR@10 0.315 +-
 * 0.005 (and the published data counts), the co-occurrence default must beat it (HR@10 >
 * 0.315, NDCG@10 > 0.198) with coverage@10 >= 0.5; the shipped sparse EASE reaches issue 13's
 * targets (HR@10 >= 0.40, NDCG@10 >= 0.25, coverage@10 >= 0.5) and beats the co-occurrence
 * default; the validation split holds no test invoice. Exits 77 (skipped, label shared-data)
 * when the data is absent: see shared_data.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs/recs_eval.h"

#include "shared_data.h"

#define RETAIL PATRON_SHARED_DATA "/online_retail/online_retail_2010-12_2011-10.csv.gz"

static recs_eval_data_t *load(void) {
  FILE *f = popen("gzip -dc -- '" RETAIL "'", "r");
  assert_non_null(f);
  recs_eval_data_t *d = NULL;
  perr_info_t e;
  int rc = recs_eval_load(f, &d, &e);
  assert_int_equal(pclose(f), 0);
  assert_int_equal(rc, PERR_OK);
  return d;
}

static void print(const char *name, const recs_eval_metrics_t *m) {
  fprintf(stderr, "%-8s HR@10 %.4f NDCG@10 %.4f MRR@10 %.4f coverage@10 %.4f (build %.2f s)\n",
          name, m->hr, m->ndcg, m->mrr, m->coverage, m->build_seconds);
}

static void test_protocol(void **st) {
  (void)st;
  recs_eval_data_t *d = load();
  recs_config_t cfg;
  recs_params_t p;
  recs_eval_metrics_t base, def;
  perr_info_t e;
  recs_config_baseline_cosine(&cfg);
  recs_params_default(&p);
  p.history_weight = 0;
  p.repurchase_weight = 0;
  assert_int_equal(recs_eval_run(d, &cfg, &p, 10, &base, &e), PERR_OK);
  print("baseline", &base);
  assert_int_equal(base.train_baskets, 12769);
  assert_int_equal(base.train_items, 3580);
  assert_int_equal(base.cases, 2215);
  assert_true(base.hr > 0.310 && base.hr < 0.320);
  assert_true(base.ndcg > 0.1925 && base.ndcg < 0.2025);
  assert_true(base.coverage > 0.52 && base.coverage < 0.57);

  recs_config_default(&cfg);
  assert_int_equal(recs_eval_run(d, &cfg, NULL, 10, &def, &e), PERR_OK);
  print("default", &def);
  assert_true(def.hr > 0.315 && def.hr > base.hr);
  assert_true(def.ndcg > 0.198);
  assert_true(def.coverage >= 0.5);

  /* the shipped model (sparse EASE, knobs chosen on the validation split): issue 13's
   * targets on the test cases, and better than the earlier default */
  recs_eval_metrics_t ship;
  recs_config_shipped(&cfg);
  recs_params_default(&p);
  recs_params_for_model(&p, cfg.model);
  assert_int_equal(recs_eval_run(d, &cfg, &p, 10, &ship, &e), PERR_OK);
  print("shipped", &ship);
  assert_true(ship.hr >= 0.40 && ship.ndcg >= 0.25 && ship.coverage >= 0.5);
  assert_true(ship.ndcg > def.ndcg && ship.hr > def.hr);
  recs_eval_free(d);
}

/* The validation split never holds a test invoice of the protocol nor anything dated on or
 * after 2011-09-01, and its cases follow the protocol's rule on what remains. */
static void test_validation_split(void **st) {
  (void)st;
  recs_eval_data_t *d = load(), *v = load();
  perr_info_t e;
  assert_int_equal(recs_eval_to_validation(v, RECS_EVAL_VALIDATION_CUTOFF, &e), PERR_OK);
  recs_interner_t *test_names = recs_interner_new();
  for (size_t i = 0; i < recs_eval_ninvoices(d); i++) {
    recs_eval_invoice_t x;
    recs_eval_invoice(d, i, &x);
    uint32_t id;
    if (x.test) assert_int_equal(recs_intern(test_names, x.name, x.name_len, &id), PERR_OK);
  }
  size_t kept = 0;
  for (size_t i = 0; i < recs_eval_ninvoices(v); i++) {
    recs_eval_invoice_t x;
    recs_eval_invoice(v, i, &x);
    assert_true(x.ts < RECS_EVAL_VALIDATION_CUTOFF);
    assert_int_equal(recs_interner_find(test_names, x.name, x.name_len), RECS_NO_ITEM);
    kept++;
  }
  assert_true(kept > 0 && kept < recs_eval_ninvoices(d));
  /* every validation case is its customer's last remaining invoice, with >= 2 items */
  size_t nc = recs_eval_ncases(v);
  assert_true(nc > 1000);
  for (size_t c = 0; c < nc; c++) {
    size_t inv, hl;
    const char *hidden;
    recs_eval_case(v, c, &inv, &hidden, &hl);
    recs_eval_invoice_t x;
    recs_eval_invoice(v, inv, &x);
    assert_true(x.test && x.nitems >= 2);
    for (size_t i = 0; i < recs_eval_ninvoices(v); i++) {
      recs_eval_invoice_t y;
      recs_eval_invoice(v, i, &y);
      if (y.customer_len == x.customer_len && !memcmp(y.customer, x.customer, x.customer_len))
        assert_true(y.ts <= x.ts);
    }
  }
  recs_interner_free(test_names);
  recs_eval_free(v);
  recs_eval_free(d);
}

int main(void) {
  if (!shared_data_present(RETAIL, NULL)) return SHARED_DATA_SKIP;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_protocol),
                                     cmocka_unit_test(test_validation_split)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
