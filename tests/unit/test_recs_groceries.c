/* test_recs_groceries.c -- the association-rule miner on the Groceries baskets against the
 * figures arules publishes (../shared/data/groceries/PROVENANCE.md: rule counts at support
 * 0.001 and 0.005 with confidence 0.5, the top rules by lift, the summary of the 5668 rules).
 * The GPL-3 data is read in place from PATRON_SHARED_DATA and never copied; when it is
 * absent the test exits 77 (skipped, label shared-data: see shared_data.h). */
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

#include "shared_data.h"

#define GROCERIES PATRON_SHARED_DATA "/groceries/groceries_baskets.csv"
#define GROCERY_ITEMS PATRON_SHARED_DATA "/groceries/groceries_items.csv"

typedef struct groc_s {
  recs_interner_t *in;
  uint64_t *off;
  uint32_t *items;
  size_t nb, nitems;
} groc_t;

/* Item ids = arules item index (groceries_items.csv order), so LHS print as arules does.
 * Baskets: one per line, labels comma-separated (two labels keep a trailing space). */
static int load_groceries(groc_t *g) {
  memset(g, 0, sizeof(*g));
  FILE *fi = fopen(GROCERY_ITEMS, "r");
  if (!fi) return 0;
  FILE *f = fopen(GROCERIES, "r");
  if (!f) {
    fclose(fi);
    return 0;
  }
  g->in = recs_interner_new();
  char *line = NULL;
  size_t lcap = 0;
  assert_true(getline(&line, &lcap, fi) > 0); /* header */
  while (getline(&line, &lcap, fi) > 0) {
    char *p = strchr(line, ','), *q = p ? strchr(p + 1, ',') : NULL; /* index,code,label,.. */
    char *r = q ? strchr(q + 1, ',') : NULL;
    assert_non_null(r);
    uint32_t id;
    assert_int_equal(recs_intern(g->in, q + 1, (size_t)(r - q - 1), &id), PERR_OK);
    assert_int_equal(id, strtoul(line, NULL, 10));
  }
  fclose(fi);
  size_t cap = 1 << 16, bcap = 1 << 14;
  g->items = malloc(cap * sizeof(uint32_t));
  g->off = malloc(bcap * sizeof(uint64_t));
  assert_non_null(g->in);
  assert_non_null(g->items);
  assert_non_null(g->off);
  g->off[0] = 0;
  while (getline(&line, &lcap, f) >= 0) {
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line, *q; *p; p = *q ? q + 1 : q) {
      q = p + strcspn(p, ",");
      assert_true(g->nitems < cap);
      assert_int_equal(recs_intern(g->in, p, (size_t)(q - p), &g->items[g->nitems]), PERR_OK);
      g->nitems++;
    }
    assert_true(g->nb + 1 < bcap);
    g->off[++g->nb] = g->nitems;
  }
  free(line);
  fclose(f);
  assert_int_equal(recs_interner_count(g->in), 169); /* no label outside the item list */
  return 1;
}

static void free_groceries(groc_t *g) {
  recs_interner_free(g->in);
  free(g->off);
  free(g->items);
}

#define NEED_GROCERIES(g) assert_true(load_groceries(g)) /* main checked it is there */

static uint32_t id_of(groc_t *g, const char *label) {
  uint32_t id = recs_interner_find(g->in, label, strlen(label));
  assert_int_not_equal(id, RECS_NO_ITEM);
  return id;
}

static void fmt_rule(groc_t *g, const recs_rule_t *r, char *out, size_t cap) {
  /* LHS labels in label order, as arules prints them: {a, b} => {c} */
  const char *lab[RECS_RULE_MAXLEN];
  size_t len[RECS_RULE_MAXLEN];
  for (uint32_t i = 0; i < r->nlhs; i++) lab[i] = recs_interner_name(g->in, r->lhs[i], &len[i]);
  size_t w = (size_t)snprintf(out, cap, "{");
  for (uint32_t i = 0; i < r->nlhs; i++)
    w += (size_t)snprintf(out + w, cap - w, "%s%.*s", i ? ", " : "", (int)len[i], lab[i]);
  size_t rl;
  const char *rs = recs_interner_name(g->in, r->rhs, &rl);
  snprintf(out + w, cap - w, "} => {%.*s}", (int)rl, rs);
}

/* Published value printed with 7 significant digits: compare at that precision. */
static void near(double got, double want) {
  double tol = fabs(want) * 5e-7 + 1e-12;
  if (fabs(got - want) > tol) fail_msg("got %.10g want %.10g", got, want);
}

static void test_groceries_summary(void **st) {
  (void)st;
  groc_t g;
  NEED_GROCERIES(&g);
  assert_int_equal(g.nb, 9835);
  assert_int_equal(g.nitems, 43367); /* density 0.02609146 */
  static const struct { const char *label; uint32_t n; } top[] = {
      {"whole milk", 2513}, {"other vegetables", 1903}, {"rolls/buns", 1809},
      {"soda", 1715}, {"yogurt", 1372}};
  for (size_t t = 0; t < 5; t++) {
    uint32_t id = id_of(&g, top[t].label), n = 0;
    for (size_t k = 0; k < g.nitems; k++) n += g.items[k] == id;
    assert_int_equal(n, top[t].n);
  }
  free_groceries(&g);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The rules at this minimum support, confidence >= 0.5, at most 10 items a rule (arules). */
static void mine(const groc_t *g, double support, recs_rules_t *r) {
  perr_info_t e;
  assert_int_equal(recs_rules_mine(g->off, g->items, g->nb, recs_interner_count(g->in), support,
                                   0.5, 10, r, &e), PERR_OK);
}

static void test_groceries_rules_0001(void **st) {
  (void)st;
  groc_t g;
  NEED_GROCERIES(&g);
  recs_rules_t r;
  mine(&g, 0.001, &r);
  fprintf(stderr, "groceries support 0.001 confidence 0.5: %zu rules, %zu frequent itemsets\n",
          r.n, r.itemsets);
  assert_int_equal(r.n, 5668);
  assert_int_equal(r.itemsets, 13492);
  static const struct { const char *rule; double s, c, l; uint32_t n; } want[] = {
      {"{Instant food products, soda} => {hamburger meat}", 0.001220132, 0.6315789, 18.99565, 12},
      {"{soda, popcorn} => {salty snack}", 0.001220132, 0.6315789, 16.69779, 12},
      {"{flour, baking powder} => {sugar}", 0.001016777, 0.5555556, 16.40807, 10},
      {"{ham, processed cheese} => {white bread}", 0.001931876, 0.6333333, 15.04549, 19},
      {"{whole milk, Instant food products} => {hamburger meat}", 0.001525165, 0.5, 15.03823, 15},
      {"{other vegetables, curd, yogurt, whipped/sour cream} => {cream cheese }", 0.001016777,
       0.5882353, 14.83409, 10}};
  for (size_t i = 0; i < 6; i++) {
    char buf[512];
    fmt_rule(&g, &r.rules[i], buf, sizeof buf);
    fprintf(stderr, "  %-72s supp %.9f conf %.7f lift %.5f count %u\n", buf, r.rules[i].support,
            r.rules[i].confidence, r.rules[i].lift, r.rules[i].count);
    assert_string_equal(buf, want[i].rule);
    near(r.rules[i].support, want[i].s);
    near(r.rules[i].confidence, want[i].c);
    near(r.rules[i].lift, want[i].l);
    assert_int_equal(r.rules[i].count, want[i].n);
  }
  double *v = malloc(r.n * sizeof(double));
  assert_non_null(v);
  for (size_t i = 0; i < r.n; i++) v[i] = r.rules[i].support;
  qsort(v, r.n, sizeof(double), cmp_d);
  near(v[0], 0.001016777);
  near((v[r.n / 2 - 1] + v[r.n / 2]) / 2, 0.00132181);
  near(v[r.n - 1], 0.02226741);
  for (size_t i = 0; i < r.n; i++) v[i] = r.rules[i].lift;
  qsort(v, r.n, sizeof(double), cmp_d);
  near(v[0], 1.956825);
  near(v[r.n - 1], 18.99565);
  free(v);
  recs_rules_free(&r);
  free_groceries(&g);
}

static void test_groceries_rules_0005(void **st) {
  (void)st;
  groc_t g;
  NEED_GROCERIES(&g);
  recs_rules_t r;
  mine(&g, 0.005, &r);
  fprintf(stderr, "groceries support 0.005 confidence 0.5: %zu rules\n", r.n);
  assert_int_equal(r.n, 120);
  recs_rules_free(&r);
  free_groceries(&g);
}

int main(void) {
  if (!shared_data_present(GROCERIES, GROCERY_ITEMS, NULL)) return SHARED_DATA_SKIP;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_groceries_summary),
      cmocka_unit_test(test_groceries_rules_0001),
      cmocka_unit_test(test_groceries_rules_0005),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
