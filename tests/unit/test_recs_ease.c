/* test_recs_ease.c -- the EASE basket graph (src/recs/recs_ease.c) against an independent
 * computation. Six baskets over four items A B C D, lambda = 1. Expected values were computed
 * in double precision with numpy 1.24 (np.linalg.inv / np.linalg.solve, no code shared with
 * Patron):
 *   G = X^T X = [[4,3,1,2],[3,4,2,1],[1,2,3,1],[2,1,1,3]],
 *   B = I - P diag(1/diag P), P = (G + I)^-1 (rows = the item in the cart, columns = scored):
 *     A: 0, 34/59, -0.156862745, 23/51      B: 34/59, 0, 23/51, -0.156862745
 *     C: -0.135593220, 23/59, 0, 11/51      D: 23/59, -0.135593220, 11/51, 0
 *   Sparse with 2 neighbours (each item's 2 most cosine-similar co-purchased items, ridge
 *   regression of its column on them): W[a][i] for a in N(i):
 *     A: B 10/19, D 7/19     B: A 10/19, C 7/19     C: B 7/19, D 3/19     D: A 7/19, C 3/19
 * Checked: every positive entry is served with 1e-6 relative accuracy, no other entry is, rows
 * are best first; the sparse build with all neighbours equals the dense one (block
 * inversion); AUTO switches at ease_max_items; a snapshot keeps the model it was built with
 * through save and load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recs/recs.h"

static const double DENSE[4][4] = {
    {0, 0.57627118644067798, -0.15686274509803921, 0.45098039215686281},
    {0.57627118644067798, 0, 0.4509803921568627, -0.15686274509803927},
    {-0.13559322033898311, 0.38983050847457634, 0, 0.21568627450980393},
    {0.38983050847457629, -0.13559322033898311, 0.21568627450980393, 0}};
static const double SPARSE2[4][4] = {
    {0, 0.52631578947368429, 0, 0.36842105263157893},
    {0.52631578947368429, 0, 0.36842105263157893, 0},
    {0, 0.36842105263157893, 0, 0.15789473684210525},
    {0.36842105263157893, 0, 0.15789473684210525, 0}};

/* ease_top_k: served row length (0 = top_k, here 0 = every positive weight). */
static recs_snapshot_t *build_k(recs_model_t model, uint32_t neighbours, uint32_t max_items,
                                uint32_t ease_top_k) {
  static const char *const B[6][3] = {{"A", "B"}, {"A", "B", "C"}, {"B", "C"},
                                      {"C", "D"}, {"A", "D"},      {"A", "B", "D"}};
  static const size_t n[6] = {2, 3, 2, 2, 2, 3};
  recs_config_t c;
  recs_config_default(&c);
  c.model = model;
  c.ease_lambda = 1;
  c.ease_pop_damp = 0;
  c.ease_neighbours = neighbours;
  c.ease_max_items = max_items;
  c.top_k = 0;
  c.ease_top_k = ease_top_k;
  c.customer_graph = 0;
  recs_builder_t *b = recs_builder_new(&c, NULL);
  assert_non_null(b);
  for (int t = 0; t < 6; t++) {
    size_t lens[3] = {1, 1, 1};
    assert_int_equal(recs_builder_add_basket(b, NULL, 0, 1000 + t, B[t], lens, n[t]), PERR_OK);
  }
  recs_snapshot_t *s = NULL;
  perr_info_t e;
  assert_int_equal(recs_builder_build(b, &s, &e), PERR_OK);
  recs_builder_free(b);
  return s;
}

static recs_snapshot_t *build(recs_model_t model, uint32_t neighbours, uint32_t max_items) {
  return build_k(model, neighbours, max_items, 0);
}

static void expect_rows(const recs_snapshot_t *s, const double want[4][4]) {
  static const char *const names = "ABCD";
  for (int i = 0; i < 4; i++) {
    uint32_t id = recs_snapshot_lookup(s, &names[i], 1);
    assert_int_equal(id, (uint32_t)i); /* interned in first-appearance order */
    const uint32_t *nb;
    const float *sc;
    size_t m = recs_snapshot_neighbours(s, RECS_GRAPH_BASKET, id, &nb, &sc);
    size_t positive = 0;
    for (int j = 0; j < 4; j++) positive += want[i][j] > 0;
    assert_int_equal(m, positive);
    for (size_t k = 0; k < m; k++) {
      double w = want[i][nb[k]];
      assert_true(w > 0);
      assert_true(fabs(sc[k] - w) <= 1e-6 * w);
      if (k) assert_true(sc[k - 1] >= sc[k]);
    }
  }
}

static void test_dense_matches_closed_form(void **st) {
  (void)st;
  recs_snapshot_t *s = build(RECS_MODEL_EASE, 0, 0);
  assert_int_equal(recs_snapshot_config(s)->model, RECS_MODEL_EASE);
  expect_rows(s, DENSE);
  /* persisted and loaded: the same rows and the model it was built with */
  size_t len;
  const void *bytes = recs_snapshot_bytes(s, &len);
  recs_snapshot_t *l = NULL;
  perr_info_t e;
  assert_int_equal(recs_snapshot_load(bytes, len, &l, &e), PERR_OK);
  assert_int_equal(recs_snapshot_config(l)->model, RECS_MODEL_EASE);
  assert_true(recs_snapshot_config(l)->ease_lambda == 1);
  expect_rows(l, DENSE);
  recs_snapshot_unref(l);
  recs_snapshot_unref(s);
}

static void test_sparse_restricted_solves(void **st) {
  (void)st;
  recs_snapshot_t *s = build(RECS_MODEL_SPARSE_EASE, 2, 0);
  assert_int_equal(recs_snapshot_config(s)->model, RECS_MODEL_SPARSE_EASE);
  expect_rows(s, SPARSE2);
  recs_snapshot_unref(s);
  /* every co-purchased item as a candidate: the restricted solve is EASE itself */
  s = build(RECS_MODEL_SPARSE_EASE, 3, 0);
  expect_rows(s, DENSE);
  recs_snapshot_unref(s);
}

/* ease_top_k keeps each EASE row's best K (the customer graph keeps top_k) and persists. */
static void test_ease_top_k_rows(void **st) {
  (void)st;
  for (int model = RECS_MODEL_EASE; model <= RECS_MODEL_SPARSE_EASE; model++) {
    recs_snapshot_t *s = build_k((recs_model_t)model, 3, 0, 1);
    const double (*want)[4] = DENSE; /* sparse with every candidate = dense */
    size_t len;
    const void *bytes = recs_snapshot_bytes(s, &len);
    recs_snapshot_t *l = NULL;
    perr_info_t e;
    assert_int_equal(recs_snapshot_load(bytes, len, &l, &e), PERR_OK);
    assert_int_equal(recs_snapshot_config(l)->ease_top_k, 1);
    for (uint32_t i = 0; i < 4; i++) {
      const uint32_t *nb;
      const float *sc;
      size_t m = recs_snapshot_neighbours(l, RECS_GRAPH_BASKET, i, &nb, &sc);
      double best = 0;
      for (int j = 0; j < 4; j++) best = want[i][j] > best ? want[i][j] : best;
      assert_int_equal(m, best > 0 ? 1 : 0);
      if (m) assert_true(fabs(sc[0] - best) <= 1e-6 * best); /* the row's best weight */
    }
    recs_snapshot_unref(l);
    recs_snapshot_unref(s);
  }
}

static void test_auto_switches_at_max_items(void **st) {
  (void)st;
  recs_snapshot_t *s = build(RECS_MODEL_AUTO, 2, 4);
  assert_int_equal(recs_snapshot_config(s)->model, RECS_MODEL_EASE);
  expect_rows(s, DENSE);
  recs_snapshot_unref(s);
  s = build(RECS_MODEL_AUTO, 2, 3);
  assert_int_equal(recs_snapshot_config(s)->model, RECS_MODEL_SPARSE_EASE);
  expect_rows(s, SPARSE2);
  recs_snapshot_unref(s);
  recs_model_t m;
  assert_int_equal(recs_model_parse("sparse_ease", &m), 0);
  assert_int_equal(m, RECS_MODEL_SPARSE_EASE);
  assert_int_equal(recs_model_parse("svd", &m), -1);
}

/* A cart scores items by summing the rows of its items: cart {A, C} ranks B (34/59 + 23/59)
 * above D (23/51 + 11/51). */
static void test_cart_sums_rows(void **st) {
  (void)st;
  recs_snapshot_t *s = build(RECS_MODEL_EASE, 0, 0);
  recs_scratch_t *sc = recs_scratch_new();
  uint32_t cart[2] = {0, 2};
  recs_params_t p;
  recs_params_default(&p);
  p.repurchase_weight = 0;
  recs_request_t q = {.items = cart, .nitems = 2, .params = &p};
  recs_result_t out[4];
  recs_answer_t ans;
  assert_int_equal(recs_cart(s, sc, &q, out, 4, &ans), 2);
  assert_int_equal(out[0].item, 1);
  assert_true(fabs(out[0].score - (DENSE[0][1] + DENSE[2][1])) < 1e-6);
  assert_int_equal(out[1].item, 3);
  assert_true(fabs(out[1].score - (DENSE[0][3] + DENSE[2][3])) < 1e-6);
  recs_scratch_free(sc);
  recs_snapshot_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_dense_matches_closed_form),
                                     cmocka_unit_test(test_sparse_restricted_solves),
                                     cmocka_unit_test(test_ease_top_k_rows),
                                     cmocka_unit_test(test_auto_switches_at_max_items),
                                     cmocka_unit_test(test_cart_sums_rows)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
