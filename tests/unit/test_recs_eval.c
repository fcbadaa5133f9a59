/* test_recs_eval.c -- the offline protocol of ../shared/data/online_retail/EVALUATION.md on
 * the shared data: the plain cosine baseline must reproduce the published HR@10 0.315 +-
 * 0.005 (and the published data counts), the shipped default must beat it (HR@10 > 0.315,
 * NDCG@10 > 0.198) with coverage@10 >= 0.5. Exits 77 (skipped, label shared-data) when the
 * data is absent: see shared_data.h. */
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
  recs_eval_free(d);
}

int main(void) {
  if (!shared_data_present(RETAIL, NULL)) return SHARED_DATA_SKIP;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_protocol)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
