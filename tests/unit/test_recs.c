/* test_recs.c -- unit tests of the recs core: interner, similarity formulas, time decay,
 * min support, snapshot persistence and validation, stable ids across rebuilds, holder swap
 * under concurrent readers, scoring (cart/similar/for_customer/upsell), business filters,
 * reason codes, fallbacks, and the incremental delta. Needs no external data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recs/recs.h"

#define DAY 86400
#define T0 1700000000

static void add(recs_builder_t *b, const char *cust, int64_t ts, const char *items) {
  const char *v[32];
  size_t l[32], n = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", items);
  for (char *p = strtok(buf, " "); p; p = strtok(NULL, " ")) {
    v[n] = p;
    l[n++] = strlen(p);
  }
  assert_int_equal(recs_builder_add_basket(b, cust, cust ? strlen(cust) : 0, ts, v, l, n), PERR_OK);
}

static uint32_t id(const recs_snapshot_t *s, const char *name) {
  return recs_snapshot_lookup(s, name, strlen(name));
}

static float nb_score(const recs_snapshot_t *s, recs_graph_t g, const char *a, const char *b) {
  const uint32_t *ids;
  const float *sc;
  size_t n = recs_snapshot_neighbours(s, g, id(s, a), &ids, &sc);
  for (size_t k = 0; k < n; k++)
    if (ids[k] == id(s, b)) return sc[k];
  return 0;
}

static recs_snapshot_t *build(const recs_config_t *cfg, void (*fill)(recs_builder_t *)) {
  recs_builder_t *b = recs_builder_new(cfg, NULL);
  assert_non_null(b);
  fill(b);
  recs_snapshot_t *s;
  perr_info_t e;
  assert_int_equal(recs_builder_build(b, &s, &e), PERR_OK);
  recs_builder_free(b);
  return s;
}

/* a,b together twice; a,c once; b alone once; d,e with a customer-level link */
static void fill_small(recs_builder_t *b) {
  add(b, "u1", T0, "a b");
  add(b, "u2", T0, "a b");
  add(b, "u3", T0, "a c");
  add(b, "u4", T0, "b");
  add(b, "u5", T0, "d e");
  add(b, "u5", T0, "d x");
  add(b, "u6", T0, "x y");
}

static void test_interner(void **st) {
  (void)st;
  recs_interner_t *in = recs_interner_new();
  uint32_t a, b, c;
  assert_int_equal(recs_intern(in, "sku-1", 5, &a), PERR_OK);
  assert_int_equal(recs_intern(in, "sku-2", 5, &b), PERR_OK);
  assert_int_equal(recs_intern(in, "sku-1", 5, &c), PERR_OK);
  assert_int_equal(a, 0);
  assert_int_equal(b, 1);
  assert_int_equal(c, 0);
  assert_int_equal(recs_intern(in, "", 0, &c), PERR_INVALID_PARAMS);
  for (int i = 0; i < 5000; i++) {
    char k[32];
    int n = snprintf(k, sizeof k, "item-%d", i);
    assert_int_equal(recs_intern(in, k, (size_t)n, &c), PERR_OK);
  }
  assert_int_equal(recs_interner_count(in), 5002);
  assert_int_equal(recs_interner_find(in, "item-4999", 9), 5001);
  assert_int_equal(recs_interner_find(in, "nope", 4), RECS_NO_ITEM);
  size_t n;
  assert_memory_equal(recs_interner_name(in, 1, &n), "sku-2", 5);
  recs_interner_free(in);
  assert_int_equal(recs_crc32(0, "123456789", 9), 0xcbf43926u);
  /* slicing by 8: a longer check value (zlib's), and any split point chains to the whole */
  const char *fox = "The quick brown fox jumps over the lazy dog";
  size_t fl = strlen(fox);
  assert_int_equal(recs_crc32(0, fox, fl), 0x414fa339u);
  for (size_t cut = 0; cut <= fl; cut++)
    assert_int_equal(recs_crc32(recs_crc32(0, fox, cut), fox + cut, fl - cut), 0x414fa339u);
}

static void test_similarities(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_baseline_cosine(&c);
  recs_snapshot_t *s = build(&c, fill_small);
  /* n_a = 3, n_b = 3, n_c = 1, c_ab = 2, c_ac = 1, N = 7 */
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 2.0 / 3.0, 1e-6);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "c"), 1.0 / sqrt(3.0), 1e-6);
  assert_int_equal(recs_snapshot_popularity(s, id(s, "b")), 3);
  recs_snapshot_unref(s);
  c.sim = RECS_SIM_LIFT;
  s = build(&c, fill_small);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 2.0 * 7 / 9, 1e-5);
  recs_snapshot_unref(s);
  c.sim = RECS_SIM_JACCARD;
  c.shrink = 1;
  s = build(&c, fill_small);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 2.0 / 4 * 2 / 3, 1e-6);
  recs_snapshot_unref(s);
  c.sim = RECS_SIM_COOC;
  c.shrink = 0;
  c.min_support = 2;
  s = build(&c, fill_small);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 2.0, 1e-6);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "c"), 0, 0);
  recs_snapshot_unref(s);
}

static void fill_decay(recs_builder_t *b) {
  add(b, NULL, T0, "a b");
  add(b, NULL, T0 - 10 * DAY, "a c");
}

static void test_time_decay(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  c.sim = RECS_SIM_COOC;
  c.power = 1;
  c.half_life_days = 10;
  recs_snapshot_t *s = build(&c, fill_decay);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 1.0, 1e-6);
  assert_float_equal(nb_score(s, RECS_GRAPH_BASKET, "a", "c"), 0.5, 1e-6);
  recs_snapshot_unref(s);
}

static void test_snapshot_roundtrip(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_snapshot_t *s = build(&c, fill_small), *t;
  size_t len;
  const unsigned char *bytes = recs_snapshot_bytes(s, &len);
  perr_info_t e;
  assert_int_equal(recs_snapshot_load(bytes, len, &t, &e), PERR_OK);
  recs_snapshot_stats_t a, b;
  recs_snapshot_stats(s, &a);
  recs_snapshot_stats(t, &b);
  assert_int_equal(a.items, b.items);
  assert_int_equal(a.edges[0], b.edges[0]);
  assert_int_equal(a.edges[1], b.edges[1]);
  assert_int_equal(id(t, "c"), id(s, "c"));
  assert_float_equal(nb_score(t, RECS_GRAPH_BASKET, "a", "b"),
                     nb_score(s, RECS_GRAPH_BASKET, "a", "b"), 0);
  assert_float_equal(recs_snapshot_config(t)->power, 2, 0);
  recs_snapshot_unref(t);
  unsigned char *bad = malloc(len);
  memcpy(bad, bytes, len);
  bad[len - 5] ^= 1;
  assert_int_equal(recs_snapshot_load(bad, len, &t, &e), PERR_INVALID_PARAMS);
  assert_null(t);
  assert_int_equal(recs_snapshot_load(bytes, len - 8, &t, &e), PERR_INVALID_PARAMS);
  memcpy(bad, bytes, len);
  bad[0] = 'X';
  assert_int_equal(recs_snapshot_load(bad, len, &t, &e), PERR_INVALID_PARAMS);
  free(bad);
  char path[] = "/tmp/test_recs_snapXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(recs_snapshot_save_file(s, path, &e), PERR_OK);
  assert_int_equal(recs_snapshot_load_file(path, &t, &e), PERR_OK);
  assert_int_equal(id(t, "x"), id(s, "x"));
  remove(path);
  recs_snapshot_unref(t);
  /* stable ids: a rebuild seeded from s keeps every id */
  recs_builder_t *rb = recs_builder_new(&c, s);
  add(rb, NULL, T0, "new1 c");
  add(rb, NULL, T0, "x a");
  assert_int_equal(recs_builder_build(rb, &t, &e), PERR_OK);
  assert_int_equal(id(t, "a"), id(s, "a"));
  assert_int_equal(id(t, "y"), id(s, "y"));
  assert_int_equal(id(t, "new1"), a.items);
  recs_builder_free(rb);
  recs_snapshot_unref(t);
  recs_snapshot_unref(s);
}

static void fill_shop(recs_builder_t *b) {
  /* phone goes with case and charger; laptop with bag and mouse; cable is a consumable */
  for (int i = 0; i < 5; i++) add(b, "c1", T0 - 30 * DAY, "phone case charger");
  for (int i = 0; i < 3; i++) add(b, "c2", T0 - 30 * DAY, "laptop bag mouse");
  add(b, "c3", T0 - 30 * DAY, "phone charger cable");
  add(b, "c4", T0, "phone phonepro");
  add(b, "c4", T0, "phonemax");
  add(b, "c5", T0, "phone phonemax");
  for (int i = 0; i < 3; i++) add(b, "c6", T0, "gadget");
  for (int i = 0; i < 9; i++) add(b, "c7", T0 - 60 * DAY, "bestseller");
}

static int find(const recs_result_t *r, int n, uint32_t item) {
  for (int i = 0; i < n; i++)
    if (r[i].item == item) return i;
  return -1;
}

static void test_cart_and_filters(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_snapshot_t *s = build(&c, fill_shop);
  recs_scratch_t *sc = recs_scratch_new();
  recs_result_t r[8];
  recs_answer_t ans;
  uint32_t cart[2] = {id(s, "phone"), id(s, "laptop")};
  recs_request_t q = {.items = cart, .nitems = 2};
  int n = recs_cart(s, sc, &q, r, 8, &ans);
  assert_true(n == 8);
  /* both cart items contribute; cart items themselves never come back */
  assert_true(find(r, n, id(s, "case")) >= 0 && find(r, n, id(s, "bag")) >= 0);
  assert_int_equal(find(r, n, cart[0]), -1);
  assert_int_equal(find(r, n, cart[1]), -1);
  assert_int_equal(r[0].reason, RECS_REASON_CO_PURCHASE);
  assert_int_equal(ans.fallback, RECS_FALLBACK_POPULAR); /* 8 slots > co-purchase items */
  assert_int_equal(r[n - 1].reason, RECS_REASON_POPULAR);
  assert_string_equal(recs_reason_name(r[n - 1].reason), "popular");
  /* filters: out of stock, excluded id, excluded category, price band, diversity */
  recs_snapshot_stats_t stt;
  recs_snapshot_stats(s, &stt);
  uint32_t ni = stt.items;
  uint64_t stock[4];
  memset(stock, 0xff, sizeof stock);
  uint32_t caseid = id(s, "case"), bag = id(s, "bag");
  stock[caseid >> 6] &= ~(1ull << (caseid & 63));
  uint32_t cat[64];
  int64_t price[64], margin[64];
  for (uint32_t i = 0; i < ni; i++) {
    cat[i] = 1;
    price[i] = 1000;
    margin[i] = RECS_PRICE_UNKNOWN;
  }
  cat[id(s, "mouse")] = 7;
  price[id(s, "charger")] = 5000;
  recs_catalog_t catl = {.n = ni, .in_stock_bits = stock, .category = cat, .price = price,
                         .margin = margin};
  uint32_t ex[1] = {bag};
  recs_filter_t f = {.in_stock_only = 1, .exclude_items = ex, .n_exclude_items = 1,
                     .price_min = 0, .price_max = 2000};
  q.catalog = &catl;
  q.filter = &f;
  n = recs_cart(s, sc, &q, r, 8, &ans);
  assert_int_equal(find(r, n, caseid), -1);
  assert_int_equal(find(r, n, bag), -1);
  assert_int_equal(find(r, n, id(s, "charger")), -1); /* above price band */
  assert_true(find(r, n, id(s, "mouse")) >= 0);
  uint32_t excat[1] = {7};
  f.exclude_categories = excat;
  f.n_exclude_categories = 1;
  n = recs_cart(s, sc, &q, r, 8, &ans);
  assert_int_equal(find(r, n, id(s, "mouse")), -1);
  recs_filter_t div = {.max_per_category = 2};
  q.filter = &div;
  n = recs_cart(s, sc, &q, r, 8, &ans);
  assert_int_equal(n, 3); /* two of category 1 and the one of category 7 */
  /* margin boost lifts a weaker neighbour above a stronger one */
  uint32_t one[1] = {id(s, "phone")};
  recs_request_t q1 = {.items = one, .nitems = 1};
  n = recs_cart(s, sc, &q1, r, 3, &ans);
  int pc = find(r, n, caseid), pcab = find(r, n, id(s, "cable"));
  assert_true(pc >= 0 && (pcab < 0 || pc < pcab));
  margin[id(s, "cable")] = 900;
  recs_filter_t mb = {.margin_boost = 100};
  q1.catalog = &catl;
  q1.filter = &mb;
  n = recs_cart(s, sc, &q1, r, 3, &ans);
  assert_int_equal(r[0].item, id(s, "cable"));
  /* unknown products: not an error, popular fallback, marked */
  uint32_t unk[1] = {RECS_NO_ITEM};
  recs_request_t qu = {.items = unk, .nitems = 1};
  n = recs_cart(s, sc, &qu, r, 2, &ans);
  assert_int_equal(n, 2);
  assert_int_equal(ans.unknown, 1);
  assert_int_equal(ans.fallback, RECS_FALLBACK_POPULAR);
  assert_int_equal(ans.from_fallback, 2);
  assert_int_equal(r[0].item, id(s, "bestseller"));
  /* trending fallback: recent items first */
  recs_params_t p;
  recs_params_default(&p);
  p.fallback_trending = 1;
  qu.params = &p;
  n = recs_cart(s, sc, &qu, r, 2, &ans);
  assert_int_equal(ans.fallback, RECS_FALLBACK_TRENDING);
  assert_int_equal(r[0].reason, RECS_REASON_TRENDING);
  assert_int_equal(r[0].item, id(s, "gadget"));
  recs_scratch_free(sc);
  recs_snapshot_unref(s);
}

static void test_similar_customer_upsell(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_snapshot_t *s = build(&c, fill_shop);
  recs_scratch_t *sc = recs_scratch_new();
  recs_result_t r[8];
  recs_answer_t ans;
  uint32_t phone = id(s, "phone");
  recs_request_t q = {.items = &phone, .nitems = 1};
  int n = recs_similar(s, sc, &q, r, 8, &ans);
  assert_true(n > 0);
  /* phonemax was bought by c4 and c5, who also bought the phone (customer level) */
  assert_true(find(r, n, id(s, "phonemax")) >= 0);
  assert_int_equal(find(r, n, phone), -1);
  /* for_customer: history excluded unless consumable */
  uint32_t hist[3] = {phone, id(s, "charger"), id(s, "cable")};
  recs_request_t qc = {.history = hist, .nhistory = 3};
  n = recs_for_customer(s, sc, &qc, r, 5, &ans);
  assert_true(n == 5);
  assert_int_equal(find(r, n, phone), -1);
  assert_int_equal(find(r, n, id(s, "cable")), -1);
  assert_true(find(r, n, id(s, "case")) >= 0);
  assert_int_equal(r[0].reason, RECS_REASON_PERSONAL);
  uint64_t cons[1] = {1ull << id(s, "cable")};
  recs_catalog_t cat = {.n = 64, .consumable_bits = cons};
  qc.catalog = &cat;
  n = recs_for_customer(s, sc, &qc, r, 5, &ans);
  assert_true(find(r, n, id(s, "cable")) >= 0);
  assert_int_equal(r[find(r, n, id(s, "cable"))].reason, RECS_REASON_REPURCHASE);
  assert_string_equal(recs_reason_name(RECS_REASON_REPURCHASE), "repurchase");
  /* cold start */
  recs_request_t qe = {0};
  n = recs_for_customer(s, sc, &qe, r, 3, &ans);
  assert_int_equal(n, 3);
  assert_int_equal(ans.fallback, RECS_FALLBACK_POPULAR);
  /* upsell: same category, price in (p, 2p] */
  uint32_t cats[64];
  int64_t price[64], margin[64];
  for (int i = 0; i < 64; i++) {
    cats[i] = 9;
    price[i] = 100;
    margin[i] = RECS_PRICE_UNKNOWN;
  }
  cats[phone] = cats[id(s, "phonepro")] = cats[id(s, "phonemax")] = 1;
  price[phone] = 50000;
  price[id(s, "phonepro")] = 80000;
  price[id(s, "phonemax")] = 120000; /* beyond 2x */
  recs_catalog_t uc = {.n = 64, .category = cats, .price = price, .margin = margin};
  recs_request_t qu = {.items = &phone, .nitems = 1, .catalog = &uc};
  n = recs_upsell(s, sc, &qu, r, 5, &ans);
  /* phonepro from the band; phonemax (beyond 2x) only by the widening step, marked so */
  assert_int_equal(n, 2);
  assert_int_equal(r[0].item, id(s, "phonepro"));
  assert_int_equal(r[0].reason, RECS_REASON_UPSELL);
  assert_true(r[0].score > 0);
  assert_int_equal(r[1].item, id(s, "phonemax"));
  assert_int_equal(r[1].reason, RECS_REASON_UPSELL);
  assert_true(r[1].score == 0);
  assert_int_equal(ans.fallback, RECS_FALLBACK_CATEGORY_POPULAR);
  assert_int_equal(ans.from_fallback, 1);
  assert_string_equal(recs_fallback_name(ans.fallback), "category_popular");
  n = recs_upsell(s, sc, &qu, r, 1, &ans); /* the band filled the answer: no widening */
  assert_int_equal(n, 1);
  assert_int_equal(ans.fallback, RECS_FALLBACK_NONE);
  /* nothing pricier in the category: empty */
  uint32_t maxid = id(s, "phonemax");
  recs_request_t qm = {.items = &maxid, .nitems = 1, .catalog = &uc};
  assert_int_equal(recs_upsell(s, sc, &qm, r, 5, &ans), 0);
  recs_params_t p;
  recs_params_default(&p);
  p.upsell_max_ratio = 3;
  qu.params = &p;
  uint32_t cands[2] = {id(s, "phonemax"), id(s, "phonepro")};
  qu.candidates = cands;
  qu.ncandidates = 2;
  n = recs_upsell(s, sc, &qu, r, 5, &ans);
  assert_int_equal(n, 2);
  recs_scratch_free(sc);
  recs_snapshot_unref(s);
}

/* The repurchase-cycle term (recs.h, recs_cart): cycle_weight x exp(-ln(r)^2 / 0.5), r = days
 * since the last purchase / the mean interval between the customer's purchases of the item. */
static double score_of(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                       uint32_t item, uint8_t *reason) {
  recs_result_t r[32];
  recs_answer_t ans;
  int n = recs_cart(s, sc, q, r, 32, &ans);
  assert_true(n > 0);
  int k = find(r, n, item);
  if (reason) *reason = k >= 0 ? r[k].reason : 0xff;
  return k >= 0 ? r[k].score : 0;
}

static void test_repurchase_cycle(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_snapshot_t *s = build(&c, fill_shop);
  recs_scratch_t *sc = recs_scratch_new();
  const int64_t D = 86400, t0 = T0;
  uint32_t phone = id(s, "phone"), cable = id(s, "cable"), charger = id(s, "charger");
  /* cable: days 0, 30, 60 (cycle 30 days); charger: once, day 50 (no cycle) */
  uint32_t hist[4] = {cable, cable, cable, charger};
  int64_t hts[4] = {t0, t0 + 30 * D, t0 + 60 * D, t0 + 50 * D};
  recs_params_t p;
  recs_params_default(&p);
  p.repurchase_weight = 0;
  recs_request_t q = {.items = &phone, .nitems = 1, .history = hist, .nhistory = 4,
                      .history_ts = hts, .now = t0 + 90 * D, .params = &p};
  double base = score_of(s, sc, &q, cable, NULL), base_ch = score_of(s, sc, &q, charger, NULL);
  p.cycle_weight = 1;
  uint8_t why;
  /* due: the cycle has just elapsed (r = 1): + 1 x 1 */
  assert_float_equal(score_of(s, sc, &q, cable, &why), base + 1.0, 1e-6);
  assert_int_equal(why, RECS_REASON_REPURCHASE);
  assert_float_equal(score_of(s, sc, &q, charger, NULL), base_ch, 0); /* bought once */
  /* twice the cycle since the last purchase (r = 2): exp(-ln(2)^2 / 0.5) = 0.38177 */
  q.now = t0 + 120 * D;
  assert_float_equal(score_of(s, sc, &q, cable, NULL), base + exp(-log(2) * log(2) / 0.5), 1e-6);
  /* half the cycle (r = 0.5): the same, the curve is symmetric in log r */
  q.now = t0 + 75 * D;
  assert_float_equal(score_of(s, sc, &q, cable, NULL), base + exp(-log(2) * log(2) / 0.5), 1e-6);
  /* no times, no "now", or purchases less than a day apart: no term */
  q.history_ts = NULL;
  assert_float_equal(score_of(s, sc, &q, cable, NULL), base, 0);
  q.history_ts = hts;
  q.now = 0;
  assert_float_equal(score_of(s, sc, &q, cable, NULL), base, 0);
  int64_t close[4] = {t0, t0 + 3600, t0 + 7200, t0};
  q.history_ts = close;
  q.now = t0 + 90 * D;
  assert_float_equal(score_of(s, sc, &q, cable, NULL), base, 0);
  recs_scratch_free(sc);
  recs_snapshot_unref(s);
}

static void test_delta(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_snapshot_t *s = build(&c, fill_shop);
  recs_delta_t *d = recs_delta_new(s, 20);
  recs_scratch_t *sc = recs_scratch_new();
  uint32_t lap = id(s, "laptop"), gad = id(s, "gadget"), fresh;
  assert_int_equal(recs_delta_intern(d, "dock", 4, &fresh), PERR_OK);
  recs_snapshot_stats_t stt;
  recs_snapshot_stats(s, &stt);
  assert_int_equal(fresh, stt.items);
  uint32_t b1[3] = {lap, gad, fresh};
  assert_int_equal(recs_delta_add_basket(d, b1, 3, T0 + 1), PERR_OK);
  assert_int_equal(recs_delta_pairs(d), 3);
  recs_result_t r[10];
  recs_answer_t ans;
  recs_request_t q = {.items = &lap, .nitems = 1, .delta = d};
  int n = recs_cart(s, sc, &q, r, 10, &ans);
  assert_true(find(r, n, gad) >= 0 && r[find(r, n, gad)].reason == RECS_REASON_CO_PURCHASE);
  assert_true(find(r, n, fresh) >= 0);
  char name[16];
  assert_int_equal(recs_delta_name(d, fresh, name, sizeof name), 4);
  assert_string_equal(name, "dock");
  assert_int_equal(recs_delta_lookup(d, "dock", 4), fresh);
  /* the new item as a cart item is known through the delta */
  recs_request_t q2 = {.items = &fresh, .nitems = 1, .delta = d};
  n = recs_cart(s, sc, &q2, r, 3, &ans);
  assert_int_equal(ans.unknown, 0);
  assert_true(find(r, n, lap) >= 0);
  /* bounded: a huge basket is refused once the budget is spent */
  uint32_t many[8];
  for (int i = 0; i < 8; i++) many[i] = (uint32_t)i; /* 8 * 7 directed pairs > 2 * 20 */
  assert_int_equal(recs_delta_add_basket(d, many, 8, T0), PERR_TOO_LARGE);
  recs_scratch_free(sc);
  recs_delta_free(d);
  recs_snapshot_unref(s);
}

typedef struct rd_s { recs_holder_t *h; int iters, ok; } rd_t;

static void *reader(void *arg) {
  rd_t *r = arg;
  recs_scratch_t *sc = recs_scratch_new();
  for (int i = 0; i < r->iters; i++) {
    recs_snapshot_t *s = recs_holder_acquire(r->h);
    uint32_t it = recs_snapshot_lookup(s, "phone", 5);
    recs_request_t q = {.items = &it, .nitems = 1};
    recs_result_t res[4];
    recs_answer_t ans;
    if (recs_cart(s, sc, &q, res, 4, &ans) == 4) r->ok++;
    recs_snapshot_unref(s);
  }
  recs_scratch_free(sc);
  return NULL;
}

static void test_holder_swap(void **st) {
  (void)st;
  recs_config_t c;
  recs_config_default(&c);
  recs_holder_t *h = recs_holder_new();
  recs_holder_swap(h, build(&c, fill_shop));
  rd_t rd[2] = {{h, 20000, 0}, {h, 20000, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reader, &rd[i]);
  for (int i = 0; i < 50; i++) recs_holder_swap(h, build(&c, fill_shop));
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  assert_int_equal(rd[0].ok, 20000);
  assert_int_equal(rd[1].ok, 20000);
  recs_holder_free(h);
}

/* Item ids of every length 1..40 (the index hashes 8 bytes at a time, the tail as
 * overlapping words): each found, after a build and after a load; near misses (one byte
 * changed, one shorter, one longer) not found unless they are ids themselves. */
static void fill_lengths(recs_builder_t *b) {
  for (int n = 1; n <= 40; n++) {
    char x[48], y[48];
    for (int i = 0; i < n; i++) x[i] = (char)('a' + (i * 7 + n) % 26);
    x[n] = 0;
    snprintf(y, sizeof y, "%.*s", n > 1 ? n - 1 : 1, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    char both[100];
    snprintf(both, sizeof both, "%s %s", x, y);
    add(b, NULL, T0 + n, both);
  }
}

static void check_lengths(const recs_snapshot_t *s) {
  recs_snapshot_stats_t st;
  recs_snapshot_stats(s, &st);
  assert_true(st.items >= 40);
  for (uint32_t i = 0; i < st.items; i++) {
    size_t n;
    const char *nm = recs_snapshot_name(s, i, &n);
    char buf[64];
    assert_true(n < sizeof buf - 1);
    memcpy(buf, nm, n);
    assert_int_equal(recs_snapshot_lookup(s, buf, n), i);
    buf[n / 2] = buf[n / 2] == '#' ? '$' : '#';
    assert_int_equal(recs_snapshot_lookup(s, buf, n), RECS_NO_ITEM);
    memcpy(buf, nm, n);
    buf[n] = 'q';
    assert_int_equal(recs_snapshot_lookup(s, buf, n + 1), RECS_NO_ITEM);
    if (n > 1 && buf[0] != 'z') assert_int_equal(recs_snapshot_lookup(s, buf, n - 1), RECS_NO_ITEM);
  }
  assert_int_equal(recs_snapshot_lookup(s, "", 0), RECS_NO_ITEM);
}

static void test_id_lookup_lengths(void **state) {
  (void)state;
  recs_config_t cfg;
  recs_config_default(&cfg);
  recs_snapshot_t *s = build(&cfg, fill_lengths);
  check_lengths(s);
  size_t len;
  const void *bytes = recs_snapshot_bytes(s, &len);
  recs_snapshot_t *l;
  perr_info_t e;
  assert_int_equal(recs_snapshot_load(bytes, len, &l, &e), PERR_OK);
  check_lengths(l);
  recs_snapshot_unref(l);
  recs_snapshot_unref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interner),          cmocka_unit_test(test_similarities),
      cmocka_unit_test(test_time_decay),        cmocka_unit_test(test_snapshot_roundtrip),
      cmocka_unit_test(test_cart_and_filters),  cmocka_unit_test(test_similar_customer_upsell),
      cmocka_unit_test(test_delta),             cmocka_unit_test(test_holder_swap),
      cmocka_unit_test(test_repurchase_cycle),  cmocka_unit_test(test_id_lookup_lengths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
