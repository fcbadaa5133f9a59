/* test_offers_answer.c -- offers.decide's answer-path shortcuts give exactly what the paths
 * they replaced gave (split from test_offers_fastpath.c):
 * - the selection's order found as the walk needs it: against the full ranking walked with
 *   the selection rules, for random stackability, exclusive groups and max_offers;
 * - the percent-off discount in 64 bits against the 128-bit product;
 * - tokens of version 2 (a hex impression id as its 16 bytes): they verify to exactly their
 *   fields, and so does the version 1 token (made as before) of the same fields; the fields
 *   signed with their lengths and the id's bytes given (offer_token_sign, as offers.decide
 *   signs) give the same token;
 * - offers.decide's answer packed directly: the bytes msgpack-c's packer wrote, over random
 *   decisions (string, integer and float edges); the fast reader's NUL check (mp_has_nul)
 *   against a byte loop;
 * - offer_sha.c's HMAC-SHA256 from a key's hashed pads against EVP_MAC, and its SHA-256 of
 *   parts against offer_sha256 (EVP), over random keys (switched back and forth), messages
 *   of 0 to 300 bytes and parts (empty, NULL, long);
 * - the seen rows' walk compares ids by heads and lengths (offer_id_cmp): the sign of strcmp
 *   over random ids of 1 to 20 bytes from a few letters and high bytes (shared prefixes,
 *   lengths around 8), and the heads offers_parse stores. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "store_fixture.h"
#include "offers_fixture.h"
#include "offers/offers_internal.h"
#include "experiments/bandit.h"
#include "loyalty/loyalty.h"
#include "offers_types.h"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-ofa-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

/* The selection visits the candidates in ranking order, each found as the walk needs it:
 * against the full ranking (every offer stackable, no group, 16 slots: the decision lists
 * every candidate, checked sorted by expected value, priority, id) walked with the selection
 * rules by the test, for random stackability, exclusive groups and max_offers on the same
 * catalogue (neither changes an offer's arm or value), over random carts, customers and
 * clocks. */
static const offer_t *offer_by_id(const offers_catalog_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->offers[i].id, id)) return &c->offers[i];
  fail_msg("no offer %s", id);
  return NULL;
}

/* A one-line cart worth lo + a random part below span, and a random customer prefix0..n-1
 * (the value drawn first). */
static void random_request(uint64_t *s, ofx_cart_t *cart, int64_t lo, uint64_t span,
                           char customer[16], const char *prefix, uint64_t n) {
  ofx_cart(cart, "EUR", lo + (int64_t)(ofx_rand(s) % span));
  snprintf(customer, 16, "%s%d", prefix, (int)(ofx_rand(s) % n));
}

static void test_selection_order(void **st) {
  fx_t *f = *st;
  for (int i = 0; i < 16; i++) {
    char def[512];
    snprintf(def, sizeof def,
             "{\"id\":\"s%02d\",\"kind\":\"%s\",\"value\":%d,\"currency\":\"EUR\","
             "\"priority\":%d,\"experiment\":{\"holdout\":0.2,\"variants\":[{\"id\":\"a\","
             "\"value\":%d},{\"id\":\"b\",\"value\":%d}]}}",
             (i * 7) % 16, i % 3 ? "amount_off" : "percent_off", i % 3 ? 300 : 5, i % 4,
             i % 3 ? 300 : 5, i % 3 ? (i % 2 ? 500 : 300) : 10);
    ofx_set(f, def);
  }
  offers_catalog_t *c = ofx_catalog(f);
  assert_int_equal(c->n, 16);
  static const char *const groups[] = {"g1", "g2"};
  uint64_t s = 0x5e1;
  size_t picked = 0;
  for (int round = 0; round < 2000; round++) {
    ofx_cart_t cart;
    char customer[16];
    random_request(&s, &cart, 500, 20000, customer, "c", 500);
    offers_decide_in_t in = {.customer = customer, .cart = &cart.cart, .attrs = NULL,
                             .now = OFX_NOW + (int64_t)(ofx_rand(&s) % 100000),
                             .seed = ofx_rand(&s), .max_offers = OFFERS_DECIDE_MAX};
    json_t *attrs = json_object();
    in.attrs = attrs;
    for (size_t i = 0; i < c->n; i++) c->offers[i].stackable = true, c->offers[i].exclusive_group = NULL;
    offers_decision_t all, got;
    perr_info_t e = {0};
    assert_int_equal(offers_decide(c, f->w, &in, &all, &e), 0);
    assert_int_equal(all.n, 16); /* every offer a candidate, all listed */
    for (size_t i = 1; i < all.n; i++) {
      const offers_decided_t *a = &all.items[i - 1], *b = &all.items[i];
      const offer_t *oa = offer_by_id(c, a->offer_id), *ob = offer_by_id(c, b->offer_id);
      assert_true(a->expected_value > b->expected_value ||
                  (a->expected_value == b->expected_value &&
                   (oa->priority > ob->priority ||
                    (oa->priority == ob->priority && strcmp(oa->id, ob->id) < 0))));
    }
    for (size_t i = 0; i < c->n; i++) {
      uint64_t r = ofx_rand(&s);
      c->offers[i].stackable = r % 4 != 0;
      c->offers[i].exclusive_group = r % 3 == 0 ? groups[(r >> 8) % 2] : NULL;
    }
    in.max_offers = 1 + (int)(ofx_rand(&s) % 6);
    assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0);
    /* the selection rules walked over the full ranking */
    const char *taken_groups[OFFERS_DECIDE_MAX];
    size_t ntaken = 0, ngroups = 0;
    bool exclusive = false;
    for (size_t i = 0; i < all.n && ntaken < (size_t)in.max_offers; i++) {
      const offer_t *o = offer_by_id(c, all.items[i].offer_id);
      if (exclusive || (ntaken && !o->stackable)) continue;
      bool clash = false;
      for (size_t g = 0; g < ngroups && o->exclusive_group; g++)
        clash |= !strcmp(taken_groups[g], o->exclusive_group);
      if (clash) continue;
      if (o->exclusive_group) taken_groups[ngroups++] = o->exclusive_group;
      if (!o->stackable) exclusive = true;
      assert_true(ntaken < got.n);
      assert_string_equal(got.items[ntaken].offer_id, all.items[i].offer_id);
      assert_int_equal(got.items[ntaken].arm, all.items[i].arm);
      assert_memory_equal(&got.items[ntaken].expected_value, &all.items[i].expected_value,
                          sizeof(double));
      ntaken++;
    }
    assert_int_equal(got.n, ntaken);
    picked += ntaken;
    json_decref(attrs);
  }
  assert_true(picked > 2000);
  offers_catalog_free(c);
}

/* The decision's generator, seeded at its first draw (offer_decide.c draws_t), gives the
 * draws of one seeded first: a bandit offer's arm (drawn in the catalogue scan, from counters
 * at zero) and then every random impression id (16 draws each, in the answer's order), against
 * a generator the test seeds with the request's seed; and a decision without a bandit offer
 * takes its impression ids from the seed's first draws. */
static void expect_ids(bandit_rng_t *r, const offers_decision_t *d) {
  for (size_t i = 0; i < d->n; i++) {
    char want[33];
    for (int k = 0; k < 16; k++)
      snprintf(want + 2 * k, 3, "%02x", (unsigned)(unsigned char)(bandit_uniform(r) * 256.0));
    assert_string_equal(d->items[i].impression_id, want);
  }
}

static void test_random_ids_follow_seed(void **st) {
  fx_t *f = *st;
  ofx_set(f, "{\"id\":\"r1\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
             "\"stackable\":true,\"experiment\":{\"variants\":[{\"id\":\"a\",\"value\":100},"
             "{\"id\":\"b\",\"value\":200}]}}");
  offers_catalog_t *ab = ofx_catalog(f);
  ofx_set(f, "{\"id\":\"r2\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
             "\"stackable\":true,\"experiment\":{\"mode\":\"bandit\",\"variants\":[{\"id\":"
             "\"a\",\"value\":100},{\"id\":\"b\",\"value\":150}]}}");
  offers_catalog_t *both = ofx_catalog(f);
  uint64_t s = 0x51d5;
  size_t ids = 0;
  for (int round = 0; round < 300; round++) {
    ofx_cart_t cart;
    char customer[16];
    random_request(&s, &cart, 1000, 5000, customer, "c", 1000);
    json_t *attrs = json_object();
    offers_decide_in_t in = {.customer = customer, .cart = &cart.cart, .attrs = attrs,
                             .now = OFX_NOW, .seed = ofx_rand(&s), .random_ids = true};
    offers_decision_t d;
    perr_info_t e = {0};
    bandit_rng_t r;
    assert_int_equal(offers_decide(ab, f->w, &in, &d, &e), 0);
    assert_int_equal(d.n, 1);
    bandit_rng_seed(&r, in.seed);
    expect_ids(&r, &d);
    assert_int_equal(offers_decide(both, f->w, &in, &d, &e), 0);
    assert_int_equal(d.n, 2);
    bandit_rng_seed(&r, in.seed);
    stats_arm_t arms[2] = {{0}, {0}};
    int arm = 1 + bandit_pick(arms, 2, BANDIT_CONVERSION, &r);
    for (size_t i = 0; i < d.n; i++)
      if (!strcmp(d.items[i].offer_id, "r2")) assert_int_equal(d.items[i].arm, arm);
    expect_ids(&r, &d);
    ids += 3;
    json_decref(attrs);
  }
  assert_int_equal(ids, 900);
  offers_catalog_free(ab);
  offers_catalog_free(both);
}

/* One random offer for the deferral tests, stored with its counters: 1..max_variants variants
 * with equal or different values, a holdout of 0/0.1/0.3, A/B or (1 in bandit_in) bandit, a
 * money budget partly spent (often to a multiple of 50, so a discount is exactly the money
 * left) and a redemption budget used up or not (not when wide), a category target, an
 * exclusive group, stop_when_losing (never when wide), arm counters on both sides of the
 * prior's 100 exposures, and sticky impressions of `sticky` customers prefix0..ncustomers. */
typedef struct gen_s {
  const char *prefix, *customers;
  int max_variants, bandit_in, sticky, ncustomers, round;
  bool wide, redemptions;
} gen_t;

static void random_offer(fx_t *f, uint64_t *s, const gen_t *g, int i, const char *rule) {
  static const char *const kinds[] = {"percent_off", "amount_off", "free_shipping"};
  static const char *const holdouts[] = {"0", "0.1", "0.3"};
  char def[1536], vars[512] = "", extra[512] = "", id[16];
  int k = (int)(ofx_rand(s) % 3), nv = 1 + (int)(ofx_rand(s) % (uint64_t)g->max_variants);
  for (int v = 0; v < nv; v++) {
    int value = k == 0 ? 1 + (int)(ofx_rand(s) % 30) : 50 + 50 * (int)(ofx_rand(s) % 8);
    size_t used = strlen(vars);
    snprintf(vars + used, sizeof vars - used, "%s{\"id\":\"v%d\",\"value\":%d}", v ? "," : "", v,
             value);
  }
  int budget = ofx_rand(s) % 4 == 0 && !g->wide ? 100 + 50 * (int)(ofx_rand(s) % 8) : 0;
  int redemptions =
      g->redemptions && ofx_rand(s) % 4 == 0 && !g->wide ? 1 + (int)(ofx_rand(s) % 3) : 0;
  if (budget || redemptions)
    snprintf(extra, sizeof extra, ",\"budget\":{\"money\":%d,\"redemptions\":%d}", budget,
             redemptions);
  size_t used = strlen(extra);
  if (rule) snprintf(extra + used, sizeof extra - used, ",\"rule\":%s", rule);
  used = strlen(extra);
  if (ofx_rand(s) % 5 == 0)
    snprintf(extra + used, sizeof extra - used, ",\"categories\":[\"%s\"]",
             ofx_rand(s) % 2 ? "shoes" : "hats");
  used = strlen(extra);
  if (ofx_rand(s) % 3 == 0)
    snprintf(extra + used, sizeof extra - used, ",\"exclusive_group\":\"g%d\"",
             (int)(ofx_rand(s) % 2));
  snprintf(id, sizeof id, "%s%02d", g->prefix, i);
  snprintf(def, sizeof def,
           "{\"id\":\"%s\",\"kind\":\"%s\",\"value\":1,\"currency\":\"EUR\",\"priority\":%d,"
           "\"stackable\":%s%s,\"experiment\":{\"holdout\":%s,\"mode\":\"%s\","
           "\"stop_when_losing\":%s,\"variants\":[%s]}}",
           id, kinds[k], (int)(ofx_rand(s) % 2), ofx_rand(s) % 3 ? "true" : "false", extra,
           holdouts[ofx_rand(s) % 3],
           ofx_rand(s) % (uint64_t)g->bandit_in == 0 ? "bandit" : "ab",
           ofx_rand(s) % 4 && !g->wide ? "true" : "false", vars);
  ofx_set(f, def);
  int64_t spent = budget ? (int64_t)(ofx_rand(s) % (uint64_t)budget) : 0;
  if (ofx_rand(s) % 2) spent -= spent % 50;
  int64_t used_r = redemptions ? (int64_t)(ofx_rand(s) % (uint64_t)(redemptions + 1)) : 0;
  assert_int_equal(offer_budget_store(f->w, id, used_r, spent), 0);
  bool mature = ofx_rand(s) % 2; /* every arm past the prior, or some arms not */
  for (int a = 0; a <= nv; a++) {
    offer_arm_t arm = {0};
    arm.s.exposures = (int64_t)(ofx_rand(s) % 100) + (mature ? 100 : (int64_t)(ofx_rand(s) % 150));
    arm.s.conversions = (int64_t)(ofx_rand(s) % (uint64_t)(arm.s.exposures / 3 + 1));
    assert_int_equal(offer_arm_store(f->w, id, a, &arm), 0);
  }
  for (int c = 0; c < g->sticky; c++) {
    char customer[16], key[48];
    snprintf(customer, sizeof customer, "%s%d", g->customers,
             (int)(ofx_rand(s) % (uint64_t)g->ncustomers));
    snprintf(key, sizeof key, "imp-%s-%d-%d-%d", g->prefix, g->round, i, c);
    ofx_impression(f, key, id, customer, (int)(ofx_rand(s) % (uint64_t)(nv + 1)), OFX_NOW);
  }
}

/* Splits left to the selection (offer_decide.c split_later, bound_arms, resolve_split): the
 * decision through a warm counter memo, where A/B offers rank by the bound of their arms'
 * EVs and are split only when the selection reaches them, against the same decision with
 * every split made in the scan (offer_decide_eager, counters from the store), field by field,
 * over random catalogues (random_offer), random customers, carts and max_offers. */
static void test_deferred_splits(void **st) {
  fx_t *f = *st;
  uint64_t s = 0xdefe;
  size_t decided = 0, items = 0;
  for (int round = 0; round < 40; round++) {
    gen_t g = {.prefix = "d", .customers = "k", .max_variants = 4, .bandit_in = 6, .sticky = 3,
               .ncustomers = 60, .round = round};
    for (int i = 0; i < 12; i++) random_offer(f, &s, &g, i, NULL);
    offers_catalog_t *c = ofx_catalog(f);
    offers_counter_memo_t *m = offers_counter_memo_new();
    assert_non_null(m);
    for (int d = 0; d < 60; d++) {
      ofx_cart_t cart;
      char customer[16];
      random_request(&s, &cart, 200, 6000, customer, "k", 60);
      json_t *attrs = json_object();
      offers_decide_in_t in = {.customer = customer, .cart = &cart.cart, .attrs = attrs,
                               .now = OFX_NOW + 60, .seed = ofx_rand(&s),
                               .max_offers = 1 + (int)(ofx_rand(&s) % 5), .counters = m};
      offers_decision_t got, want;
      perr_info_t e = {0};
      assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0);
      in.counters = NULL;
      assert_int_equal(offer_decide_eager(c, f->w, &in, &want, &e), 0);
      ofx_assert_same_decision(&got, &want);
      decided++;
      items += got.n;
      json_decref(attrs);
    }
    offers_counter_memo_free(m);
    offers_catalog_free(c);
  }
  printf("deferred splits = splits in the scan on %zu decisions (%zu items)\n", decided, items);
  assert_true(items > decided); /* selections of several items happened */
}

/* Rules left to the selection (offer_decide.c defer_rule): on the lazy attributes, an offer
 * whose rule needs a profile group not loaded yet ranks by the bound of its arms' EVs, and
 * its rule, sticky arm and split are made only when the selection reaches it. The decision
 * through a warm memo against offer_decide_eager (every rule and split in the scan, counters
 * from the store), each on its own lazy attributes over the same profile, field by field, on
 * random catalogues of 40 offers (random_offer, with rules over the order history, the
 * loyalty tier and points, the CLV scores, the cart, several attributes, none), random
 * profiles, customers and carts; and the loads: a group is loaded at most once by either (and
 * the deferring decision loads no group the eager one does not). */
typedef struct prof_src_s {
  offers_profile_t p;
  int loads[8];
} prof_src_t;

static void prof_load(void *ctx, unsigned group, offers_profile_t *p) {
  prof_src_t *src = ctx;
  src->loads[group]++;
  if (group == OFFERS_GROUP_ORDERS) {
    p->customer_found = src->p.customer_found;
    p->order_count = src->p.order_count;
    p->last_order_at = src->p.last_order_at;
  } else if (group == OFFERS_GROUP_LOYALTY) {
    p->loyalty = src->p.loyalty;
    p->has_tier = src->p.has_tier;
    p->tier = src->p.tier;
    p->points = src->p.points;
  } else {
    p->scored = src->p.scored;
    p->segment = src->p.segment;
    p->churn_band = src->p.churn_band;
    p->has_clv = src->p.has_clv;
    p->has_value = src->p.has_value;
    p->p_alive = src->p.p_alive;
    p->churn_risk = src->p.churn_risk;
    p->predicted_clv = src->p.predicted_clv;
  }
}

static void test_deferred_rules(void **st) {
  fx_t *f = *st;
  uint64_t s = 0xd5e1;
  static const char *const rules[] = {
      "{\"tier\":{\"$in\":[\"silver\",\"gold\"]}}",
      "{\"points\":{\"$gte\":300}}",
      "{\"order_count\":{\"$gte\":2}}",
      "{\"first_order\":true}",
      "{\"days_since_last_order\":{\"$lt\":30}}",
      "{\"segment\":\"champions\"}",
      "{\"churn_band\":\"high\"}",
      "{\"cart_value\":{\"$gte\":2500}}",
      "{\"$or\":[{\"tier\":\"gold\"},{\"cart_value\":{\"$gte\":4000}}]}",
      "{\"$and\":[{\"points\":{\"$gt\":100}},{\"order_count\":{\"$gte\":1}}]}",
      "{\"tier\":\"platinum\"}",
      NULL};
  static const char *const wide_rules[] = {"{\"order_count\":{\"$gte\":0}}",
                                          "{\"points\":{\"$gte\":0}}", NULL};
  static const char *const tiers[] = {"silver", "gold", "platinum"};
  static const char *const segments[] = {"champions", "at_risk"};
  static const char *const bands[] = {"low", "high"};
  size_t decided = 0, items = 0, saved = 0;
  for (int round = 0; round < 30; round++) {
    /* a third of the rounds: most offers candidates (more than 32: the ranking sorted whole) */
    gen_t g = {.prefix = "r", .customers = "q", .max_variants = 3, .bandit_in = 8,
               .sticky = (int)(ofx_rand(&s) % 2), .ncustomers = 40, .round = round,
               .wide = round % 3 == 0, .redemptions = true};
    for (int i = 0; i < 40; i++)
      random_offer(f, &s, &g, i,
                   g.wide ? wide_rules[ofx_rand(&s) % 3]
                          : rules[ofx_rand(&s) % (sizeof rules / sizeof rules[0])]);
    offers_catalog_t *c = ofx_catalog(f);
    offers_counter_memo_t *m = offers_counter_memo_new();
    assert_non_null(m);
    for (int d = 0; d < 50; d++) {
      prof_src_t src;
      memset(&src, 0, sizeof src);
      src.p.customer_found = ofx_rand(&s) % 4 != 0;
      src.p.order_count = (int64_t)(ofx_rand(&s) % 4);
      src.p.last_order_at = OFX_NOW - (int64_t)(ofx_rand(&s) % 60) * 86400;
      src.p.loyalty = g.wide || ofx_rand(&s) % 5 != 0;
      src.p.has_tier = ofx_rand(&s) % 4 != 0;
      src.p.tier = tiers[ofx_rand(&s) % 3];
      src.p.points = (int64_t)(ofx_rand(&s) % 600);
      src.p.scored = ofx_rand(&s) % 3 != 0;
      src.p.segment = segments[ofx_rand(&s) % 2];
      src.p.churn_band = bands[ofx_rand(&s) % 2];
      src.p.has_clv = ofx_rand(&s) % 2;
      src.p.has_value = ofx_rand(&s) % 2;
      src.p.p_alive = ofx_unif(&s);
      src.p.churn_risk = ofx_unif(&s);
      src.p.predicted_clv = (int64_t)(ofx_rand(&s) % 100000);
      prof_src_t src2 = src;
      ofx_cart_t cart;
      char customer[16];
      random_request(&s, &cart, 200, 6000, customer, "q", 40);
      offers_attrs_t la, lb;
      assert_int_equal(offers_attrs_init(&la, c, customer, &cart.cart, OFX_NOW + 60, prof_load,
                                         &src), 0);
      assert_int_equal(offers_attrs_init(&lb, c, customer, &cart.cart, OFX_NOW + 60, prof_load,
                                         &src2), 0);
      offers_decide_in_t in = {.customer = customer, .cart = &cart.cart, .lazy = &la,
                               .now = OFX_NOW + 60, .seed = ofx_rand(&s),
                               .max_offers = 1 + (int)(ofx_rand(&s) % 5), .counters = m};
      offers_decision_t got, want;
      perr_info_t e = {0};
      assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0);
      in.counters = NULL;
      in.lazy = &lb;
      assert_int_equal(offer_decide_eager(c, f->w, &in, &want, &e), 0);
      ofx_assert_same_decision(&got, &want);
      for (int gr = 1; gr <= 4; gr *= 2) {
        assert_true(src.loads[gr] <= 1 && src2.loads[gr] <= 1);
        assert_true(src.loads[gr] <= src2.loads[gr]);
        saved += (size_t)(src2.loads[gr] - src.loads[gr]);
      }
      decided++;
      items += got.n;
      offers_attrs_clear(&la);
      offers_attrs_clear(&lb);
    }
    offers_counter_memo_free(m);
    offers_catalog_free(c);
  }
  printf("deferred rules = rules in the scan on %zu decisions (%zu items; %zu profile loads "
         "fewer)\n", decided, items, saved);
  assert_true(items > decided);
  assert_true(saved > 0);
}

/* A percent off computed in 64 bits when base x value fits: against the 128-bit product it
 * replaced, over random cart values of every size (up to INT64_MAX) and percents. */
static void test_percent_discount(void **state) {
  (void)state;
  offer_t o;
  memset(&o, 0, sizeof o);
  o.kind = OFFER_PERCENT_OFF;
  uint64_t s = 0x9c7;
  for (int i = 0; i < 200000; i++) {
    int64_t base = (int64_t)(ofx_rand(&s) >> (1 + ofx_rand(&s) % 63));
    int64_t value = i % 5 ? 1 + (int64_t)(ofx_rand(&s) % 100) : (int64_t)(ofx_rand(&s) >> 40);
    offers_cart_t cart = {.value = base, .currency = "EUR"};
    int64_t want = base <= 0 ? 0 : (int64_t)((__int128)base * value / 100);
    if (want < 0) want = 0;
    assert_int_equal(offers_discount(&o, value, &cart), want);
  }
}

/* ---- tokens: version 2 (the impression id's 16 bytes) beside version 1 ---- */

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A version 1 token as offer_token.c made every token before version 2 (transcribed; the
 * HMAC through EVP_Q_mac, independent of the signer). */
static void token_v1(const offers_keyring_t *ring, const offers_token_t *tk, char *out) {
  rec_buf_t b;
  rec_buf_init(&b);
  rec_put_u8(&b, 'T');
  rec_put_u8(&b, 1);
  unsigned char kid[4] = {(unsigned char)(ring->current_id >> 24),
                          (unsigned char)(ring->current_id >> 16),
                          (unsigned char)(ring->current_id >> 8), (unsigned char)ring->current_id};
  rec_put_raw(&b, kid, 4);
  rec_put_str(&b, core_pstr(tk->offer_id, strlen(tk->offer_id)));
  rec_put_str(&b, core_pstr(tk->customer, strlen(tk->customer)));
  rec_put_sv(&b, tk->value);
  rec_put_str(&b, core_pstr(tk->currency, strlen(tk->currency)));
  rec_put_sv(&b, tk->expires);
  rec_put_str(&b, core_pstr(tk->impression_id, strlen(tk->impression_id)));
  rec_put_uv(&b, (uint64_t)tk->arm);
  unsigned char mac[32];
  size_t ml = 0;
  assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ring->current,
                            OFFERS_KEY_BYTES, b.p, b.n, mac, sizeof mac, &ml));
  assert_int_equal(ml, 32);
  rec_put_raw(&b, mac, 32);
  assert_false(b.oom);
  size_t o = 0;
  for (size_t i = 0; i < b.n; i += 3) {
    uint32_t v = (uint32_t)b.p[i] << 16 | (i + 1 < b.n ? (uint32_t)b.p[i + 1] << 8 : 0) |
                 (i + 2 < b.n ? b.p[i + 2] : 0);
    size_t k = b.n - i >= 3 ? 4 : b.n - i + 1;
    for (size_t j = 0; j < k; j++) out[o++] = B64URL[v >> (18 - 6 * j) & 63];
  }
  out[o] = 0;
  rec_buf_free(&b);
}

static void rand_text(uint64_t *s, char *out, size_t lo, size_t hi, const char *alphabet) {
  size_t n = lo + ofx_rand(s) % (hi - lo + 1), an = strlen(alphabet);
  for (size_t i = 0; i < n; i++) out[i] = alphabet[ofx_rand(s) % an];
  out[n] = 0;
}

/* Random tokens (hex and other impression ids, ids of every length, values and expiries of
 * every size, the signer and a fresh fetch): the token made now verifies to exactly its
 * fields; the version 1 token of the same fields (made as before) verifies to the same
 * fields; a hex impression id makes version 2 (16 bytes shorter before base64), anything
 * else version 1, byte for byte as before (the version byte is signed: test_offers.c
 * changes every character of a token). */
static void test_token_versions(void **state) {
  (void)state;
  uint64_t s = 0x70c3e2;
  offers_keyring_t ring;
  memset(&ring, 0, sizeof ring);
  ring.current_id = 7;
  for (int i = 0; i < OFFERS_KEY_BYTES; i++) ring.current[i] = (unsigned char)(i * 37 + 11);
  offers_signer_t *signer = offers_signer_new();
  assert_non_null(signer);
  int v2s = 0;
  for (int round = 0; round < 3000; round++) {
    offers_token_t t, got, got1;
    memset(&t, 0, sizeof t);
    rand_text(&s, t.offer_id, 1, round % 7 ? 16 : 120, "abcxyz-_09");
    rand_text(&s, t.customer, 1, round % 5 ? 14 : 120, "c-0123456789\xc3\xa9");
    strcpy(t.currency, round % 3 ? "EUR" : "USD");
    t.value = (int64_t)(ofx_rand(&s) % 2000000) - (round % 9 == 0 ? 1000000 : 0);
    t.expires = OFX_NOW + 60 + (int64_t)(ofx_rand(&s) % 100000000);
    t.arm = (int)(ofx_rand(&s) % OFFERS_MAX_ARMS);
    int kind = (int)(ofx_rand(&s) % 6);
    if (kind < 3) rand_text(&s, t.impression_id, 32, 32, "0123456789abcdef");
    else if (kind == 3) rand_text(&s, t.impression_id, 32, 32, "0123456789abcdefA");
    else if (kind == 4) rand_text(&s, t.impression_id, 31, 32, "0123456789abcdef");
    else rand_text(&s, t.impression_id, 1, 32, "imp0123456789xyz");
    bool hex = strlen(t.impression_id) == 32 && strspn(t.impression_id, "0123456789abcdef") == 32;
    char tok[OFFERS_TOKEN_MAX], fresh[OFFERS_TOKEN_MAX], old[OFFERS_TOKEN_MAX];
    perr_info_t e = {0};
    offers_refusal_t why;
    assert_int_equal(offers_token_encode_with(signer, &ring, &t, tok, &e), 0);
    assert_int_equal(offers_token_encode(&ring, &t, fresh, &e), 0);
    assert_string_equal(tok, fresh); /* the signer gives what a fresh fetch gives */
    /* the fields signed as offers.decide signs them (lengths known; a hex id as its bytes,
     * decoded here by sscanf): the same token */
    unsigned char raw[16];
    for (int k = 0; hex && k < 16; k++) {
      unsigned byte;
      assert_int_equal(sscanf(t.impression_id + 2 * k, "%2x", &byte), 1);
      raw[k] = (unsigned char)byte;
    }
    offer_token_fields_t fields = {{t.offer_id, strlen(t.offer_id)},
                                   {t.customer, strlen(t.customer)},
                                   {t.currency, strlen(t.currency)},
                                   {t.impression_id, strlen(t.impression_id)},
                                   hex ? raw : NULL,
                                   t.value,
                                   t.expires,
                                   t.arm};
    char signed_fields[OFFERS_TOKEN_MAX];
    assert_int_equal(offer_token_sign(round % 2 ? signer : NULL, &ring, &fields, signed_fields, &e),
                     0);
    assert_string_equal(signed_fields, tok);
    token_v1(&ring, &t, old);
    assert_int_equal(offers_token_verify(&ring, tok, t.customer, OFX_NOW, &got, &why, &e), 0);
    assert_memory_equal(&got, &t, sizeof t);
    assert_int_equal(offers_token_verify(&ring, old, t.customer, OFX_NOW, &got1, &why, &e), 0);
    assert_memory_equal(&got1, &t, sizeof t);
    if (hex) { /* version 2: "VAI" is 'T' 2; 16 raw bytes for 33 of text */
      v2s++;
      assert_memory_equal(tok, "VAI", 3);
      assert_memory_equal(old, "VAE", 3);
      assert_true(strlen(tok) < strlen(old));
    } else {
      assert_string_equal(tok, old);
    }
  }
  assert_true(v2s > 1000);
  offers_signer_free(signer);
}

/* ---- offers.decide's answer packed directly ---- */

/* The answer as the daemon packed it before (msgpack-c's packer, transcribed). */
static void pack_reference(msgpack_packer *pk, const offers_decision_t *dec) {
  msgpack_pack_map(pk, 2);
#define KEY(k) msgpack_pack_str(pk, strlen(k)), msgpack_pack_str_body(pk, k, strlen(k))
  KEY("global_holdout");
  dec->global_holdout ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
  KEY("offers");
  msgpack_pack_array(pk, dec->n);
  for (size_t i = 0; i < dec->n; i++) {
    const offers_decided_t *it = &dec->items[i];
    msgpack_pack_map(pk, 13);
    KEY("offer_id");
    KEY(it->offer_id);
    KEY("arm");
    msgpack_pack_int64(pk, it->arm);
    KEY("variant");
    if (it->variant) KEY(it->variant);
    else msgpack_pack_nil(pk);
    KEY("held_out");
    it->held_out ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    KEY("value");
    msgpack_pack_int64(pk, it->value);
    KEY("discount");
    msgpack_pack_int64(pk, it->discount);
    KEY("currency");
    KEY(it->currency);
    KEY("expected_value");
    msgpack_pack_double(pk, it->expected_value);
    KEY("uplift");
    msgpack_pack_double(pk, it->uplift);
    KEY("impression_id");
    KEY(it->impression_id);
    KEY("expires");
    msgpack_pack_int64(pk, it->expires);
    KEY("reason");
    KEY(it->reason);
    KEY("token");
    KEY(it->token);
  }
#undef KEY
}

static int64_t rand_edge_int(uint64_t *s) {
  static const int64_t edges[] = {0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536,
                                  INT64_C(4294967295), INT64_C(4294967296), INT64_MAX,
                                  -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
                                  INT64_C(-2147483649), INT64_MIN};
  uint64_t r = ofx_rand(s);
  if (r % 3 == 0) return edges[(r >> 8) % (sizeof edges / sizeof *edges)];
  int shift = (int)((r >> 8) % 64);
  int64_t v = (int64_t)(ofx_rand(s) >> shift);
  return r & 4 ? -v : v;
}

/* Random decisions (0..16 items, strings of 0..300 bytes across the fixstr/str8/str16
 * bounds, integers at every width's edges, NaN/inf/-0 doubles, nil variants): the direct
 * packer writes exactly msgpack-c's bytes, within its bound. */
static void test_answer_packed_directly(void **state) {
  (void)state;
  uint64_t s = 0xa115;
  static offers_decision_t d;
  static char strs[OFFERS_DECIDE_MAX][3][320];
  for (int round = 0; round < 3000; round++) {
    memset(&d, 0, sizeof d);
    d.global_holdout = ofx_rand(&s) & 1;
    d.n = round % 40 == 0 ? OFFERS_DECIDE_MAX : (size_t)(ofx_rand(&s) % 4);
    for (size_t i = 0; i < d.n; i++) {
      offers_decided_t *it = &d.items[i];
      size_t lens[3];
      for (int k = 0; k < 3; k++) {
        uint64_t r = ofx_rand(&s);
        lens[k] = r % 4 == 0 ? 28 + (r >> 8) % 8 : r % 4 == 1 ? 250 + (r >> 8) % 10
                : r % 4 == 2 ? (r >> 8) % 300 : (r >> 8) % 40;
        rand_text(&s, strs[i][k], lens[k], lens[k], "abcXYZ-_ 09\xc3\xa9");
      }
      it->offer_id = strs[i][0];
      it->variant = ofx_rand(&s) % 3 ? strs[i][1] : NULL;
      it->currency = strs[i][2];
      it->arm = (int)rand_edge_int(&s);
      it->held_out = ofx_rand(&s) & 1;
      it->value = rand_edge_int(&s);
      it->discount = rand_edge_int(&s);
      it->expires = rand_edge_int(&s);
      static const double odd[] = {0.0, -0.0, 1e300, -1e-300, 5.340000000000021, NAN, INFINITY};
      uint64_t r = ofx_rand(&s);
      it->expected_value = r % 3 ? (ofx_unif(&s) - 0.5) * 1e6 : odd[(r >> 8) % 7];
      it->uplift = r % 5 ? ofx_unif(&s) - 0.5 : odd[(r >> 16) % 7];
      rand_text(&s, it->impression_id, 0, 32, "0123456789abcdef");
      rand_text(&s, it->reason, 0, 127, "eligible; arm'0.5");
      rand_text(&s, it->token, 0, OFFERS_TOKEN_MAX - 1, "ABCxyz-_09");
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_reference(&pk, &d);
    size_t max = offers_decision_packed_max(&d);
    char *got = malloc(max);
    assert_non_null(got);
    size_t n = offers_decision_pack(&d, got);
    assert_true(n <= max);
    assert_int_equal(n, sb.size);
    assert_memory_equal(got, sb.data, n);
    free(got);
    msgpack_sbuffer_destroy(&sb);
  }
}

/* mp_has_nul (the fast readers' NUL check, 8 bytes a step) against a byte loop: every
 * length 0..40 with a NUL at every position or none, over random other bytes. */
static void test_has_nul(void **state) {
  (void)state;
  uint64_t s = 0x4e11;
  char buf[48];
  for (size_t n = 0; n <= 40; n++)
    for (size_t at = 0; at <= n; at++)
      for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(1 + ofx_rand(&s) % 255);
        if (round % 2) buf[ofx_rand(&s) % sizeof buf] = 0; /* maybe beyond the string */
        if (at < n) buf[at] = 0;
        bool want = memchr(buf, 0, n) != NULL;
        assert_int_equal(mp_has_nul(buf, n), want);
      }
}

/* offer_sha.c against OpenSSL's EVP: the signing path's HMAC and the impression id's hash. */
static void test_fast_sha(void **state) {
  (void)state;
  offer_hmac_key_t *k = offer_hmac_key_new();
  if (!k) { /* an OpenSSL without the low-level calls: the signer keeps EVP (nothing to test) */
    assert_int_equal(offer_sha256_fast((const char *const[]){"x"}, 1, (unsigned char[32]){0}),
                     -1);
    return;
  }
  uint64_t s = 0x5a256;
  unsigned char keys[3][OFFERS_KEY_BYTES], msg[300], got[32], want[32];
  const unsigned char *last = NULL;
  for (int j = 0; j < 3; j++)
    for (int i = 0; i < OFFERS_KEY_BYTES; i++) keys[j][i] = (unsigned char)ofx_rand(&s);
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  assert_non_null(mac);
  for (int round = 0; round < 3000; round++) {
    const unsigned char *key = keys[round % 7 == 0 ? 1 + round % 2 : 0];
    size_t n = (size_t)(ofx_rand(&s) % (sizeof msg + 1));
    for (size_t i = 0; i < n; i++) msg[i] = (unsigned char)ofx_rand(&s);
    if (key != last) offer_hmac_key_set(k, key), last = key; /* re-keyed back and forth */
    offer_hmac_sign(k, msg, n, got);
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                      OSSL_PARAM_construct_end()};
    size_t len = 0;
    assert_true(c && EVP_MAC_init(c, key, OFFERS_KEY_BYTES, p) && EVP_MAC_update(c, msg, n) &&
                EVP_MAC_final(c, want, &len, sizeof want));
    EVP_MAC_CTX_free(c);
    assert_int_equal(len, 32);
    assert_memory_equal(got, want, 32);
  }
  EVP_MAC_free(mac);
  offer_hmac_key_free(k);
  char long_part[400];
  for (int round = 0; round < 2000; round++) {
    char a[40], b[40];
    rand_text(&s, a, 0, 39, "c-0123456789\xc3\xa9");
    rand_text(&s, b, 1, 39, "abcxyz-_09");
    rand_text(&s, long_part, 0, sizeof long_part - 1, "0123456789");
    const char *parts[4] = {a, round % 5 ? b : NULL, round % 3 ? "493817" : "", long_part};
    int n = 1 + (int)(ofx_rand(&s) % 4);
    assert_int_equal(offer_sha256_fast(parts, n, got), 0);
    offer_sha256(parts, n, want);
    assert_memory_equal(got, want, 32);
  }
}

static int sign(int x) { return (x > 0) - (x < 0); }

static void test_id_cmp(void **st) {
  (void)st;
  static const char alphabet[] = {'a', 'b', '-', '0', '\x7f', '\x80', '\xe9', '\xff'};
  uint64_t s = 7;
  char a[24], b[24];
  for (int i = 0; i < 400000; i++) {
    size_t na = 1 + ofx_rand(&s) % 20, nb = ofx_rand(&s) % 4 ? na : 1 + ofx_rand(&s) % 20;
    for (size_t j = 0; j < na; j++) a[j] = alphabet[ofx_rand(&s) % 8];
    for (size_t j = 0; j < nb; j++) /* mostly a's prefix, then its own bytes */
      b[j] = j < na && ofx_rand(&s) % 8 ? a[j] : alphabet[ofx_rand(&s) % 8];
    a[na] = b[nb] = 0;
    int want = sign(strcmp(a, b));
    int got = offer_id_cmp(offer_id_head(a, na), a, na, offer_id_head(b, nb), b, nb);
    if (sign(got) != want) fail_msg("'%s' vs '%s': strcmp %d, offer_id_cmp %d", a, b, want, got);
  }
  json_t *def = json_pack("{sssssiss}", "id", "bench-\xc3\xa9t\xc3\xa9", "kind", "amount_off",
                          "value", 100, "currency", "EUR");
  offer_t o;
  perr_info_t e = {0};
  assert_int_equal(offers_parse(def, &o, &e), 0);
  assert_int_equal(o.id_len, strlen(o.id));
  assert_true(o.id_head == offer_id_head(o.id, strlen(o.id)));
  offers_clear(&o);
  json_decref(def);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_selection_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_ids_follow_seed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_splits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_rules, setup, teardown),
      cmocka_unit_test(test_percent_discount),
      cmocka_unit_test(test_token_versions),
      cmocka_unit_test(test_answer_packed_directly),
      cmocka_unit_test(test_has_nul),
      cmocka_unit_test(test_fast_sha),
      cmocka_unit_test(test_id_cmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
