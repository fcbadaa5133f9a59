/* test_offers_fastpath.c -- offers.decide's computed-path shortcuts give exactly what the
 * paths they replaced gave:
 * - reasons: offers_format_fixed against snprintf "%.Nf" over random, halfway and edge values;
 * - attributes: the lazy, by-slot attributes (offers_attrs_t) against the JSON object the
 *   daemon used to build whole (reference_attrs below transcribes that code: the shop's used
 *   members first, then Patron's profile, loyalty, CLV and cart members over them), value by
 *   value and through whole decisions (same items, arms, reasons and tokens), over random
 *   profiles, carts and shop attributes;
 * - GrowthBook splits: each decided arm and the global holdout against experiment_assign
 *   called as before (ids with non-ASCII and invalid UTF-8 included);
 * - caps read only for the offers the selection takes: a capped offer leaves the decision
 *   exactly as if it were not in the catalogue;
 * - the customer's order counts read from the record's head, as core_customer_get gives them;
 * - a $regex of plain text (^?TEXT$?) matched without PCRE2: against the same pattern in a
 *   group, (?:P), which PCRE2 matches, over random patterns and subjects (invalid UTF-8,
 *   NULs, non-string values included);
 * - the memos that skip a read under an unchanged store snapshot (store_txn_snapshot_id):
 *   the id itself, the loyalty program memo and the offers' counter memo each see a commit
 *   at the next read txn, and answer as the store does;
 * - $lt/$lte/$gt/$gte on two numbers compared directly: condition_js_compare against the JS
 *   steps it replaced (string-like operands, else ToNumber both) over random JSON values;
 * - product/category targets kept as C strings: the applicable cart value (offers_discount)
 *   against a walk of the definition's JSON arrays, over random targets and carts;
 * - the catalogue's gates (currency, window, minimum cart, a rule found false): whole
 *   decisions with them against the same catalogue without them (every check read from the
 *   offers, in the old order), over offers in three currencies, windows, minimum carts and
 *   shared rules, random carts, attributes and clocks; and with the gates checked one by one
 *   instead of by the catalogue's gate masks;
 * - the caps read from the customer's seen rows (cap slots): against the 'c' rows read one
 *   by one, over stores written partly in the old layout, cap periods that change, past and
 *   future times, and customers moved by customer.forget;
 * - the sticky arms found by walking the seen rows alongside the catalogue scan: whole
 *   decisions with the counter memo against decisions without it.
 * The answer-path shortcuts (selection order, discount, tokens, packing) are in
 * test_offers_answer.c.
 * The GrowthBook evalCondition cases through condition_eval_get are in test_condition.c. */
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
#include "offers/condition.h"
#include "offers/condition_internal.h"
#include "offers/offers_internal.h"
#include "loyalty/loyalty.h"
#include "offers_types.h"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-ofp-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

/* ---- offers_format_fixed ---- */

static void check_fixed(double x, int prec) {
  char want[512], got[64];
  snprintf(want, sizeof want, "%.*f", prec, x);
  size_t n = offers_format_fixed(got, x, prec);
  if (!n) { /* left to printf: only for what the fast path does not cover */
    assert_true(!isfinite(x) || fabs(x) >= 1e15 || fabs(x) * pow(10, prec) >= 1e19);
    return;
  }
  if (strcmp(want, got) || n != strlen(want))
    fail_msg("%.17g prec %d: printf %s, fast %s", x, prec, want, got);
}

static void test_format_fixed(void **st) {
  (void)st;
  uint64_t s = 42;
  static const double edge[] = {0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 0.00005, 0.00015,
                                -0.00005, 1e-300, -1e-300, 999999999999999.9, 1e15, -1e15,
                                123456.78905, 0.125, 0.375, 5e-324, NAN, INFINITY, -INFINITY,
                                9.9999999999999e14, 0.020000000000000018, 5.340000000000021};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
    for (int p = 0; p <= 6; p++) check_fixed(edge[i], p);
  for (int i = 0; i < 200000; i++) {
    double x;
    switch (i % 4) {
    case 0: x = (ofx_unif(&s) - 0.5) * pow(10, (double)(ofx_rand(&s) % 30) - 12); break;
    case 1: /* halfway in decimal (often not exactly representable) */
      x = ((double)(int64_t)(ofx_rand(&s) % 2000001) - 1000000 + 0.5) /
          pow(10, (double)(ofx_rand(&s) % 7));
      break;
    case 2: { /* exact binary halves and quarters: the round-half-even cases */
      x = ldexp((double)(int64_t)(ofx_rand(&s) % 4000001) - 2000000,
                -(int)(ofx_rand(&s) % 20));
      break;
    }
    default: { /* any bit pattern with a moderate exponent */
      uint64_t b = ofx_rand(&s);
      b = (b & 0x800fffffffffffffull) | ((uint64_t)(1023 - 40 + ofx_rand(&s) % 90) << 52);
      memcpy(&x, &b, sizeof x);
    }
    }
    check_fixed(x, (int)(ofx_rand(&s) % 7));
    check_fixed(x, 0);
    check_fixed(x, 4);
  }
}

/* ---- attributes ---- */

/* Offers whose rules read every attribute Patron fills, shop attributes (one shadowed by a
 * Patron name) and nested paths; stackable, so most of them are decided at once. */
static const char *const RULES[] = {
    "{\"tier\":{\"$in\":[\"silver\",\"gold\"]}}",
    "{\"points\":{\"$gte\":100}}",
    "{\"cart_value\":{\"$gte\":1000}}",
    "{\"cart_categories\":{\"$elemMatch\":{\"$eq\":\"kitchen\"}}}",
    "{\"order_count\":{\"$gte\":1}}",
    "{\"id\":{\"$regex\":\"^c-[0-4]\"}}",
    "{\"$or\":[{\"churn_band\":\"high\"},{\"cart_quantity\":{\"$gte\":3}}]}",
    "{\"$and\":[{\"first_order\":false},{\"currency\":\"EUR\"}]}",
    "{\"channel\":\"web\"}",
    "{\"cart_items\":{\"$all\":[\"mug-1\"]}}",
    "{\"segment\":{\"$exists\":true}}",
    "{\"days_since_last_order\":{\"$lte\":30}}",
    "{\"predicted_clv\":{\"$gt\":5000},\"p_alive\":{\"$lt\":0.5}}",
    "{\"churn_risk\":{\"$gte\":0.3}}",
    "{\"cart_items.0\":\"mug-1\"}",
    "{\"device.os\":\"ios\"}",
    "{\"$not\":{\"segment\":\"lost\"}}",
    "{\"tier\":{\"$exists\":false}}",
    "{\"margin_rate\":{\"$gt\":0.2}}",
    "{\"tier\":{\"$regex\":\"^g\"}}",
    "{\"tier\":\"g\\u00f6ld\"}",
};
#define NRULES (sizeof RULES / sizeof RULES[0])

static void set_offers(fx_t *f) {
  for (size_t i = 0; i < NRULES; i++) {
    char def[1024];
    snprintf(def, sizeof def,
             "{\"id\":\"r%02zu\",\"kind\":\"%s\",\"value\":%d,\"currency\":\"EUR\",\"rule\":%s,"
             "\"stackable\":true,\"priority\":%zu,\"experiment\":{\"holdout\":0.2,\"variants\":"
             "[{\"id\":\"a\",\"value\":%d,\"weight\":0.3},{\"id\":\"b\",\"value\":%d,"
             "\"weight\":0.7}]}}",
             i, i % 2 ? "amount_off" : "percent_off", i % 2 ? 300 : 5, RULES[i], i % 4,
             i % 2 ? 300 : 5, i % 2 ? 500 : 10);
    ofx_set(f, def);
  }
}

typedef struct trial_s {
  char customer[32];
  offers_profile_t prof;
  char tier[16];
  offers_cart_item_t items[5];
  offers_cart_t cart;
  json_t *shop;
  unsigned loads[8];
} trial_t;

static const char *pick(uint64_t *s, const char *const *v, size_t n) {
  return v[ofx_rand(s) % n];
}

static void random_trial(uint64_t *s, trial_t *t) {
  static const char *const tiers[] = {"bronze", "silver", "gold", "g\xc3\xb6ld" /* non-ASCII */,
                                      "g\xffld" /* not UTF-8 */, "platinum-\xff" /* late */,
                                      "\xff-platinum-plus" /* in the first 8 bytes */,
                                      "platinum-plus" /* ASCII past 8 bytes */};
  static const char *const segs[] = {"champions", "lost", "at_risk"};
  static const char *const bands[] = {"low", "medium", "high"};
  static const char *const prods[] = {"mug-1", "tea-7", "spoon-3", "pot-2", "th\xc3\xa9-9"};
  static const char *const cats[] = {"kitchen", "tea", "garden", "th\xc3\xa9"};
  static const char *const shop_names[] = {"channel", "margin_rate", "tier", "order_count",
                                           "device", "id", "segment", "points", "unused",
                                           "p_alive", "days_since_last_order"};
  memset(t, 0, sizeof *t);
  snprintf(t->customer, sizeof t->customer, "c-%d", (int)(ofx_rand(s) % 9));
  offers_profile_t *p = &t->prof;
  p->customer_found = ofx_rand(s) % 4 != 0;
  p->order_count = (int64_t)(ofx_rand(s) % 4);
  p->last_order_at = ofx_rand(s) % 3 ? OFX_NOW - (int64_t)(ofx_rand(s) % (90 * 86400)) : 0;
  if (ofx_rand(s) % 5 == 0) p->last_order_at = OFX_NOW + 100; /* in the future */
  p->loyalty = ofx_rand(s) % 3 != 0;
  p->has_tier = ofx_rand(s) % 2;
  snprintf(t->tier, sizeof t->tier, "%s", pick(s, tiers, sizeof tiers / sizeof *tiers));
  p->tier = t->tier;
  p->points = (int64_t)(ofx_rand(s) % 300);
  p->scored = ofx_rand(s) % 4 != 0;
  p->segment = ofx_rand(s) % 3 ? pick(s, segs, 3) : NULL;
  p->churn_band = ofx_rand(s) % 3 ? pick(s, bands, 3) : NULL;
  p->has_clv = ofx_rand(s) % 2;
  p->has_value = ofx_rand(s) % 2;
  p->p_alive = ofx_unif(s);
  p->churn_risk = ofx_unif(s);
  p->predicted_clv = (int64_t)(ofx_rand(s) % 20000);
  size_t n = 1 + ofx_rand(s) % 4;
  int64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    t->items[i] = (offers_cart_item_t){pick(s, prods, ofx_rand(s) % 8 ? 4 : 5),
                                       ofx_rand(s) % 4 ? pick(s, cats, ofx_rand(s) % 8 ? 3 : 4)
                                                       : NULL,
                                       (int64_t)(1 + ofx_rand(s) % 3),
                                       (int64_t)(100 + ofx_rand(s) % 2000)};
    sum += t->items[i].quantity * t->items[i].price;
  }
  t->cart = (offers_cart_t){sum, ofx_rand(s) % 8 ? "EUR" : "USD", t->items, n};
  t->shop = json_object();
  for (size_t i = 0; i < sizeof shop_names / sizeof shop_names[0]; i++) {
    if (ofx_rand(s) % 2) continue;
    json_t *v;
    switch (ofx_rand(s) % 4) {
    case 0: v = json_string(ofx_rand(s) % 2 ? "web" : "app"); break;
    case 1: v = json_real(ofx_unif(s)); break;
    case 2: v = json_pack("{ss}", "os", ofx_rand(s) % 2 ? "ios" : "android"); break;
    default: v = json_integer((json_int_t)(ofx_rand(s) % 50));
    }
    json_object_set_new(t->shop, shop_names[i], v);
  }
}

static void trial_load(void *ctx, unsigned group, offers_profile_t *p) {
  trial_t *t = ctx;
  t->loads[group]++;
  offers_profile_t *src = &t->prof;
  if (group == OFFERS_GROUP_ORDERS) {
    p->customer_found = src->customer_found;
    p->order_count = src->order_count;
    p->last_order_at = src->last_order_at;
  } else if (group == OFFERS_GROUP_LOYALTY) {
    p->loyalty = src->loyalty;
    p->has_tier = src->has_tier;
    p->tier = src->tier;
    p->points = src->points;
  } else {
    p->scored = src->scored;
    p->segment = src->segment;
    p->churn_band = src->churn_band;
    p->has_clv = src->has_clv;
    p->has_value = src->has_value;
    p->p_alive = src->p_alive;
    p->churn_risk = src->churn_risk;
    p->predicted_clv = src->predicted_clv;
  }
}

#define USES(c, k) offers_catalog_uses(c, k)

/* The attributes object as the daemon built it before the lazy attributes (reference). */
static json_t *reference_attrs(const offers_catalog_t *c, const trial_t *t) {
  json_t *attrs = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(t->shop, k, v) if (USES(c, k)) json_object_set(attrs, k, v);
  const offers_profile_t *p = &t->prof;
  if (USES(c, "id")) json_object_set_new(attrs, "id", json_string(t->customer));
  bool count = USES(c, "order_count"), first = USES(c, "first_order");
  if (count || first || USES(c, "days_since_last_order")) {
    if (p->customer_found) {
      if (count) json_object_set_new(attrs, "order_count", json_integer(p->order_count));
      if (first) json_object_set_new(attrs, "first_order", json_boolean(p->order_count == 0));
      if (p->last_order_at > 0 && OFX_NOW >= p->last_order_at &&
          USES(c, "days_since_last_order"))
        json_object_set_new(attrs, "days_since_last_order",
                            json_integer((OFX_NOW - p->last_order_at) / 86400));
    } else {
      if (count) json_object_set_new(attrs, "order_count", json_integer(0));
      if (first) json_object_set_new(attrs, "first_order", json_true());
    }
  }
  if ((USES(c, "tier") || USES(c, "points")) && p->loyalty) {
    if (p->has_tier && USES(c, "tier")) json_object_set_new(attrs, "tier", json_string(p->tier));
    if (USES(c, "points")) json_object_set_new(attrs, "points", json_integer(p->points));
  }
  if (p->scored) {
    if (p->segment && USES(c, "segment"))
      json_object_set_new(attrs, "segment", json_string(p->segment));
    if (p->has_clv) {
      json_object_set_new(attrs, "p_alive", json_real(p->p_alive));
      json_object_set_new(attrs, "churn_risk", json_real(p->churn_risk));
      if (p->churn_band && USES(c, "churn_band"))
        json_object_set_new(attrs, "churn_band", json_string(p->churn_band));
    }
    if (p->has_value) json_object_set_new(attrs, "predicted_clv", json_integer(p->predicted_clv));
  }
  offers_cart_attributes(attrs, &t->cart);
  return attrs;
}

static void test_lazy_attributes(void **st) {
  fx_t *f = *st;
  set_offers(f);
  offers_catalog_t *c = ofx_catalog(f);
  offers_keyring_t keys;
  perr_info_t e = {0};
  assert_int_equal(offers_keys_open(f->dir, true, 86400, &keys, &e), 0);
  uint64_t s = 7;
  size_t decided = 0;
  offers_attr_pool_t *pool = offers_attr_pool_new();
  json_t *held = NULL, *held_copy = NULL; /* a value someone still holds: never changed */
  assert_non_null(pool);
  for (int i = 0; i < 3000; i++) {
    trial_t t;
    random_trial(&s, &t);
    json_t *ref = reference_attrs(c, &t);
    offers_attrs_t lazy;
    assert_int_equal(offers_attrs_init(&lazy, c, t.customer, &t.cart, OFX_NOW, trial_load, &t),
                     0);
    if (i % 4) offers_attrs_use_pool(&lazy, pool); /* most trials reuse the pool's values */
    const char *k;
    json_t *v;
    json_object_foreach(t.shop, k, v) {
      int slot = offers_catalog_slot(c, k);
      if (slot >= 0) offers_attrs_set_shop(&lazy, (size_t)slot, json_incref(v));
    }
    offers_decide_in_t in = {.customer = t.customer, .cart = &t.cart, .now = OFX_NOW,
                             .seed = 99, .keys = &keys};
    offers_decision_t want, got;
    in.attrs = ref;
    assert_int_equal(offers_decide(c, f->w, &in, &want, &e), 0);
    in.attrs = NULL;
    in.lazy = &lazy;
    assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0);
    ofx_assert_same_decision(&want, &got);
    decided += got.n;
    for (size_t slot = 0; slot < c->nattrs; slot++) { /* every value, read or not */
      const json_t *a = json_object_get(ref, c->attrs[slot]), *b = offers_attrs_get(&lazy, slot);
      if (!(a == b || (a && b && json_equal(a, b))))
        fail_msg("trial %d: attribute %s differs", i, c->attrs[slot]);
      condition_value_t tv = *offers_attrs_value(&lazy, slot), jv; /* what the rules read */
      condition_value_from_json(b, &jv);
      bool same = tv.type == jv.type;
      if (same && tv.type == CONDITION_VALUE_BOOL) same = tv.b == jv.b;
      if (same && tv.type == CONDITION_VALUE_INT) same = tv.i == jv.i;
      if (same && tv.type == CONDITION_VALUE_REAL) same = tv.d == jv.d;
      if (same && tv.type == CONDITION_VALUE_STR)
        same = tv.n == jv.n && !memcmp(tv.s, jv.s, tv.n);
      if (same && tv.type == CONDITION_VALUE_JSON) same = tv.json == jv.json;
      if (tv.type == CONDITION_VALUE_STRS) { /* a cart list: the JSON array's strings */
        same = jv.type == CONDITION_VALUE_JSON && json_array_size(jv.json) == tv.n;
        for (size_t k = 0; same && k < tv.n; k++) {
          const json_t *el = json_array_get(jv.json, k);
          same = json_string_length(el) == tv.strs[k].n &&
                 !memcmp(json_string_value(el), tv.strs[k].s, tv.strs[k].n);
        }
      }
      if (!same) fail_msg("trial %d: typed attribute %s differs", i, c->attrs[slot]);
    }
    for (unsigned g = 0; g < 8; g++) assert_true(t.loads[g] <= 1); /* each group once */
    if (held) {
      assert_true(json_equal(held, held_copy));
      json_decref(held);
      json_decref(held_copy);
    }
    held = json_incref((json_t *)offers_attrs_get(&lazy, ofx_rand(&s) % c->nattrs));
    held_copy = held ? json_deep_copy(held) : NULL;
    offers_attrs_clear(&lazy);
    json_decref(ref);
    json_decref(t.shop);
  }
  assert_true(decided > 3000); /* the trials decide offers, not only empty answers */
  json_decref(held);
  json_decref(held_copy);
  offers_attr_pool_free(pool);
  offers_catalog_free(c);
}

/* ---- GrowthBook splits ---- */

/* What offer_decide.c's assignment called before the per-decision hash. */
static int old_assign(const char *key, const char *seed, const double *w, int n,
                      const char *id) {
  experiment_t x;
  experiment_assignment_t a;
  experiment_defaults(&x);
  x.key = key;
  x.seed = seed;
  x.variations = n;
  x.weights = w;
  x.nweights = n;
  if (experiment_assign(&x, id, NULL, NULL, &a) || !a.in_experiment) return -1;
  return a.variation;
}

static void test_assignment(void **st) {
  fx_t *f = *st;
  static const char *const defs[] = {
      "{\"id\":\"h1\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
      "\"stackable\":true,\"experiment\":{\"holdout\":0.37}}",
      "{\"id\":\"ab3\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
      "\"stackable\":true,\"experiment\":{\"holdout\":0.1,\"seed\":\"s\\u00e9ed\",\"variants\":["
      "{\"id\":\"x\",\"value\":100,\"weight\":0.2},{\"id\":\"y\",\"value\":150,\"weight\":0.5},"
      "{\"id\":\"z\",\"value\":200,\"weight\":0.3}]}}",
      "{\"id\":\"ab2\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
      "\"stackable\":true,\"experiment\":{\"variants\":[{\"id\":\"x\",\"value\":100},"
      "{\"id\":\"y\",\"value\":120}]}}",
  };
  for (size_t i = 0; i < 3; i++) ofx_set(f, defs[i]);
  offers_catalog_t *c = ofx_catalog(f);
  uint64_t s = 3;
  size_t arms[3][4] = {{0}};
  for (int i = 0; i < 4000; i++) {
    char id[64];
    int n = 0;
    size_t len = 1 + ofx_rand(&s) % 20;
    for (size_t k = 0; k < len; k++) { /* ASCII, 2-, 3- and 4-byte UTF-8, invalid bytes */
      static const char *const parts[] = {"a", "Z", "7", "-", "\xc3\xa9", "\xe2\x82\xac",
                                          "\xf0\x9f\x98\x80", "\xff", "\x80", "\xe2\x82"};
      n += snprintf(id + n, sizeof id - (size_t)n, "%s", parts[ofx_rand(&s) % (i % 2 ? 4 : 10)]);
      if (n > 40) break;
    }
    ofx_cart_t cart;
    ofx_cart(&cart, "EUR", 10000);
    offers_decide_in_t in = {.customer = id, .cart = &cart.cart, .now = OFX_NOW, .seed = 5,
                             .global_holdout = 0.25};
    offers_decision_t d;
    perr_info_t e = {0};
    assert_int_equal(offers_decide(c, f->w, &in, &d, &e), 0);
    double gw[2] = {0.25, 0.75};
    bool global = old_assign("patron-global-holdout", NULL, gw, 2, id) == 0;
    assert_int_equal(d.global_holdout, global);
    assert_int_equal(d.n, global ? 0 : 3);
    for (size_t k = 0; k < d.n; k++) {
      const offer_t *o = NULL;
      for (size_t j = 0; j < c->n; j++)
        if (!strcmp(c->offers[j].id, d.items[k].offer_id)) o = &c->offers[j];
      assert_non_null(o);
      int want;
      double hw[2] = {o->holdout, 1 - o->holdout}, vw[OFFERS_MAX_VARIANTS];
      for (int v = 0; v < o->nvariants; v++) vw[v] = o->variants[v].weight;
      if (o->holdout > 0 && old_assign(o->seed, o->seed_holdout, hw, 2, id) == 0) want = 0;
      else if (o->nvariants == 1) want = 1;
      else {
        int v = old_assign(o->seed, o->seed_variant, vw, o->nvariants, id);
        want = 1 + (v < 0 ? 0 : v);
      }
      assert_int_equal(d.items[k].arm, want);
      arms[o - c->offers][want]++;
    }
  }
  for (size_t j = 0; j < 3; j++) /* every arm of every split was reached */
    for (int a = c->offers[j].holdout > 0 ? 0 : 1; a <= c->offers[j].nvariants; a++)
      assert_true(arms[j][a] > 0);
  offers_catalog_free(c);
}

/* ---- caps read at selection ---- */

static void test_capped_offer_as_if_absent(void **st) {
  fx_t *f = *st;
  /* "top" wins the ranking but its shown cap is reached; the others compete as usual */
  ofx_set(f, "{\"id\":\"top\",\"kind\":\"free_shipping\",\"value\":0,\"currency\":\"EUR\","
             "\"priority\":9,\"caps\":{\"shown\":1},\"exclusive_group\":\"g\"}");
  ofx_set(f, "{\"id\":\"mid\",\"kind\":\"amount_off\",\"value\":500,\"currency\":\"EUR\","
             "\"priority\":5,\"exclusive_group\":\"g\",\"caps\":{\"redeemed\":3}}");
  ofx_set(f, "{\"id\":\"low\",\"kind\":\"percent_off\",\"value\":5,\"currency\":\"EUR\","
             "\"stackable\":true,\"caps\":{\"shown\":5}}");
  ofx_set(f, "{\"id\":\"bandit\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
             "\"stackable\":true,\"caps\":{\"shown\":5},\"experiment\":{\"mode\":\"bandit\","
             "\"variants\":[{\"id\":\"a\",\"value\":100},{\"id\":\"b\",\"value\":200}]}}");
  ofx_impression(f, "imp-top", "top", "c1", 1, OFX_NOW);
  offers_catalog_t *with = ofx_catalog(f);
  perr_info_t e = {0};
  assert_int_equal(offers_archive(f->w, "top", true, OFX_NOW, &e), 0);
  offers_catalog_t *without = ofx_catalog(f);
  assert_int_equal(with->n, without->n + 1);
  for (int max = 1; max <= 4; max++)
    for (uint64_t seed = 1; seed <= 20; seed++) {
      ofx_cart_t cart;
      ofx_cart(&cart, "EUR", 10000);
      offers_decide_in_t in = {.customer = "c1", .cart = &cart.cart, .now = OFX_NOW,
                               .seed = seed, .max_offers = max};
      offers_decision_t a, b;
      assert_int_equal(offers_decide(with, f->w, &in, &a, &e), 0);
      assert_int_equal(offers_decide(without, f->w, &in, &b, &e), 0);
      ofx_assert_same_decision(&a, &b);
      assert_true(a.n >= 1);
      assert_string_not_equal(a.items[0].offer_id, "top");
    }
  offers_catalog_free(with);
  offers_catalog_free(without);
}

/* ---- the customer's order counts ---- */

static void test_customer_order_counts(void **st) {
  fx_t *f = *st;
  static const char *const prods[] = {"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9",
                                      "p10", "p11", "p12"};
  customer_t cu = {.id = {"known", 5}, .email = {"k@example.com", 13}};
  perr_info_t e = {0};
  assert_int_equal(core_customer_upsert(f->w, &cu, OFX_NOW, &e), 0);
  for (int i = 0; i < 14; i++) { /* more products than the profile keeps, two currencies */
    char id[16];
    snprintf(id, sizeof id, "o%d", i);
    fx_order(f, id, i % 3 ? "buyer" : "known", i % 2 ? "EUR" : "USD", OFX_NOW - 1000 * i,
             prods + i % 4, 1 + (size_t)i % 8, 100 + i);
  }
  static const char *const ids[] = {"known", "buyer", "nobody", ""};
  for (size_t i = 0; i < 4; i++) {
    pstr_t id = {ids[i], strlen(ids[i])};
    customer_profile_t prof;
    int64_t count = -1, last = -1;
    int want = core_customer_get(f->w, id, &f->a, &prof, &e);
    int got = core_customer_order_counts(f->w, id, &count, &last);
    assert_int_equal(got == 0, want == 0);
    if (!got) {
      assert_int_equal(count, prof.order_count);
      assert_int_equal(last, prof.last_order_at);
    }
  }
}

/* ---- $regex of plain text ---- */

static bool regex_holds(const char *pat, size_t patn, const json_t *subject) {
  json_t *rule = json_pack("{s{so}}", "id", "$regex", json_stringn(pat, patn));
  json_t *attrs = json_pack("{sO}", "id", subject);
  condition_t *c = NULL;
  perr_info_t e;
  assert_non_null(rule);
  assert_int_equal(condition_compile(rule, &c, &e), 0);
  bool ok = condition_eval(c, attrs);
  condition_free(c);
  json_decref(rule);
  json_decref(attrs);
  return ok;
}

static void test_regex_literal(void **st) {
  (void)st;
  const char *text;
  size_t n;
  unsigned a;
  /* what is plain text, and what is left to PCRE2 */
  assert_true(condition_regex_literal("^c-0", 4, &text, &n, &a));
  assert_true(n == 3 && !memcmp(text, "c-0", 3) && a == CONDITION_LIT_START);
  assert_true(condition_regex_literal("vip$", 4, &text, &n, &a) && a == CONDITION_LIT_END);
  assert_true(condition_regex_literal("^a b$", 5, &text, &n, &a) && n == 3 &&
              a == (CONDITION_LIT_START | CONDITION_LIT_END));
  static const char *const not_plain[] = {"a.b", "a*", "(a)", "[a]", "a|b", "a\\d", "a+",
                                          "a?", "a{2}", "a^", "$a", "\xc3\xa9"};
  for (size_t i = 0; i < sizeof not_plain / sizeof not_plain[0]; i++)
    assert_false(condition_regex_literal(not_plain[i], strlen(not_plain[i]), &text, &n, &a));
  assert_false(condition_regex_literal("a\0b", 3, &text, &n, &a)); /* a NUL */
  static const char *const empty[] = {"", "^", "$", "^$"}; /* empty matches: PCRE2's */
  for (size_t i = 0; i < 4; i++)
    assert_false(condition_regex_literal(empty[i], strlen(empty[i]), &text, &n, &a));
  /* random patterns over a small alphabet, so that they often match */
  static const char pat_chars[] = "ab-_:/ 0";
  static const char subj_chars[] = "ab-_:/ 0\xc3\xff\n.";
  srand(9);
  for (int i = 0; i < 20000; i++) {
    char pat[16], grouped[32], subj[24];
    size_t pn = 0, sn = (size_t)(rand() % 12);
    if (rand() % 3 == 0) pat[pn++] = '^';
    for (int k = rand() % 4; k >= 0; k--) pat[pn++] = pat_chars[rand() % (sizeof pat_chars - 1)];
    if (rand() % 3 == 0) pat[pn++] = '$';
    for (size_t k = 0; k < sn; k++) subj[k] = subj_chars[rand() % (sizeof subj_chars - 1)];
    if (sn > 2 && rand() % 4 == 0) subj[rand() % sn] = 0; /* a NUL inside */
    if (rand() % 5 == 0 && pn + sn < sizeof subj) { /* the text itself in the subject */
      size_t at = (size_t)rand() % (sn + 1), tn = pn - (pat[0] == '^') - (pat[pn - 1] == '$');
      memmove(subj + at + tn, subj + at, sn - at);
      memcpy(subj + at, pat + (pat[0] == '^'), tn);
      sn += tn;
    }
    assert_true(condition_regex_literal(pat, pn, &text, &n, &a));
    int gn = snprintf(grouped, sizeof grouped, "(?:%.*s)", (int)pn, pat);
    json_t *v = rand() % 8 ? json_stringn_nocheck(subj, sn) : json_integer(rand() % 100);
    bool want = regex_holds(grouped, (size_t)gn, v), got = regex_holds(pat, pn, v);
    if (want != got) fail_msg("pattern '%.*s' subject #%d: PCRE2 %d, literal %d", (int)pn, pat,
                              i, want, got);
    json_decref(v);
  }
}

/* ---- memos under an unchanged snapshot ---- */

static store_txn_t *read_txn(fx_t *f) {
  store_txn_t *r;
  assert_int_equal(store_txn_begin(f->s, 0, &r), 0);
  return r;
}

/* The summary through the memo, checked against the one without it, in a read txn. */
static loy_summary_t memo_summary(fx_t *f, loy_program_memo_t *pm, const char *cust) {
  loy_summary_t a, b;
  perr_info_t e = {0};
  pstr_t id = {cust, strlen(cust)};
  store_txn_t *r = read_txn(f);
  for (int twice = 0; twice < 2; twice++) { /* the second read: the same snapshot */
    assert_int_equal(loyalty_summary(r, pm, id, OFX_NOW, &a, &e), 0);
    assert_int_equal(loyalty_summary(r, NULL, id, OFX_NOW, &b, &e), 0);
    assert_int_equal(a.program, b.program);
    assert_int_equal(a.member, b.member);
    assert_int_equal(a.has_tier, b.has_tier);
    assert_string_equal(a.tier, b.tier);
    assert_int_equal(a.balance, b.balance);
  }
  store_abort(r);
  return a;
}

static void test_snapshot_memos(void **st) {
  fx_t *f = *st;
  perr_info_t e = {0};
  /* the id: 0 in a write txn; equal for reads of one state; another after a commit */
  assert_int_equal(store_txn_snapshot_id(f->w), 0);
  fx_commit(f);
  store_txn_t *r1 = read_txn(f), *r2 = read_txn(f);
  uint64_t id1 = store_txn_snapshot_id(r1);
  assert_true(id1 != 0);
  assert_true(store_txn_snapshot_id(r2) == id1);
  store_abort(r1);
  store_abort(r2);
  /* the loyalty program memo: none stored, then a program, then a tier renamed */
  loy_program_memo_t *pm = loyalty_program_memo_new();
  assert_non_null(pm);
  assert_int_equal(memo_summary(f, pm, "c1").program, 0);
  loy_program_t p;
  loyalty_program_default(&p);
  p.ntiers = 2;
  snprintf(p.tiers[0].name, sizeof p.tiers[0].name, "Bronze");
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Silver");
  p.tiers[1].entry_threshold = 500;
  for (int i = 0; i < 2; i++) p.tiers[i].retention_threshold = -1, p.tiers[i].earn_mult_bp = LOY_BP;
  p.nearn = 1;
  memcpy(p.earn[0].currency, "EUR", 4);
  p.earn[0].points = 1;
  p.earn[0].per_minor = 100;
  assert_int_equal(loyalty_program_set(f->w, &p, NULL, &e), 0);
  loy_line_t l = {{"p1", 2}, {"cat", 3}, 1, 60000};
  loy_order_t o = {{"c1", 2}, {"o1", 2}, {"EUR", 3}, OFX_NOW - 10, &l, 1, 0, 0};
  loy_earn_result_t er;
  assert_int_equal(loyalty_on_order(f->w, &o, OFX_NOW - 10, &er, &e), 0);
  fx_commit(f);
  r1 = read_txn(f);
  assert_true(store_txn_snapshot_id(r1) != id1);
  store_abort(r1);
  loy_summary_t s1 = memo_summary(f, pm, "c1");
  assert_int_equal(s1.program, 1);
  assert_true(s1.has_tier);
  assert_string_equal(s1.tier, "Silver");
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Silwer"); /* same length */
  assert_int_equal(loyalty_program_set(f->w, &p, NULL, &e), 0);
  fx_commit(f);
  assert_false(memo_summary(f, pm, "c1").has_tier); /* the member's tier is gone */
  loyalty_program_memo_free(pm);
  /* the counter memo: a budget written with a fresh stamp is read at the next read txn */
  ofx_set(f, "{\"id\": \"b1\", \"kind\": \"amount_off\", \"value\": 100, "
             "\"currency\": \"EUR\", \"budget\": {\"redemptions\": 10}}");
  offers_catalog_t *c = ofx_catalog(f);
  const offer_t *b1 = &c->offers[0];
  offers_counter_memo_t *m = offers_counter_memo_new();
  assert_non_null(m);
  for (int64_t used = 0; used < 3; used++) {
    assert_int_equal(offer_budget_store(f->w, "b1", used, 100 * used), 0);
    assert_int_equal(offer_counters_stamp(f->w), 0);
    fx_commit(f);
    for (int again = 0; again < 2; again++) { /* again: the same snapshot, nothing read */
      store_txn_t *r = read_txn(f);
      int64_t red = -1, money = -1;
      offers_counter_memo_t *in = offer_memo_begin(m, r, c);
      assert_non_null(in);
      assert_int_equal(offer_memo_budget(in, r, c, b1, &red, &money), 0);
      assert_int_equal(red, used);
      assert_int_equal(money, 100 * used);
      store_abort(r);
    }
  }
  offers_counter_memo_free(m);
  offers_catalog_free(c);
}

/* condition_js_compare as it was: strings (or arrays/objects) compared as strings, anything
 * else by ToNumber. */
static int old_compare(const json_t *a, const json_t *b) {
  bool sa = a && (json_is_string(a) || json_is_array(a) || json_is_object(a)),
       sb = b && (json_is_string(b) || json_is_array(b) || json_is_object(b));
  if (sa && sb) {
    condition_js_str_t x, y;
    condition_js_str_init(&x);
    condition_js_str_init(&y);
    condition_js_to_string(a, &x);
    condition_js_to_string(b, &y);
    size_t n = x.len < y.len ? x.len : y.len;
    int c = memcmp(x.p, y.p, n); /* ASCII-only values below: UTF-16 order is byte order */
    if (!c) c = x.len < y.len ? -1 : x.len > y.len;
    condition_js_str_free(&x);
    condition_js_str_free(&y);
    return c < 0 ? -1 : c > 0;
  }
  double x = condition_js_to_number(a), y = condition_js_to_number(b);
  if (isnan(x) || isnan(y)) return 2;
  return x < y ? -1 : x > y;
}

static json_t *random_js_value(uint64_t *s) {
  static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, (INT64_C(1) << 53),
                                 (INT64_C(1) << 53) + 1, -(INT64_C(1) << 53) - 1};
  static const char *const strs[] = {"", "1", "10", "2", " 3 ", "abc", "1e3", "0x10", "-0"};
  switch (ofx_rand(s) % 8) {
  case 0: return json_integer((json_int_t)edge[ofx_rand(s) % 8]);
  case 1: return json_integer((json_int_t)(ofx_rand(s) % 2001) - 1000);
  case 2: return json_real(((double)(ofx_rand(s) % 20001) - 10000) / 7.0);
  case 3: return json_real(ofx_rand(s) % 2 ? 1e300 : -0.0);
  case 4: return json_string(strs[ofx_rand(s) % 9]);
  case 5: return ofx_rand(s) % 2 ? json_true() : json_null();
  case 6: return json_pack("[i]", (int)(ofx_rand(s) % 5));
  default: return NULL; /* a missing attribute */
  }
}

static void test_compare_numbers(void **st) {
  (void)st;
  uint64_t s = 0x5eedc0de;
  size_t numeric = 0;
  for (int i = 0; i < 200000; i++) {
    json_t *a = random_js_value(&s), *b = random_js_value(&s);
    numeric += json_is_number(a) && json_is_number(b);
    assert_int_equal(condition_js_compare(a, b), old_compare(a, b));
    json_decref(a);
    json_decref(b);
  }
  assert_true(numeric > 20000); /* the new path was taken often */
}

/* The applicable value as the JSON arrays give it (what applicable_value walked before). */
static int64_t json_applicable(const offer_t *o, const offers_cart_t *cart) {
  if (!o->products && !o->categories) return cart->value;
  int64_t sum = 0;
  for (size_t i = 0; i < cart->nitems; i++) {
    const offers_cart_item_t *it = &cart->items[i];
    bool in = false;
    for (size_t j = 0; j < json_array_size(o->products) && it->product && !in; j++)
      in = !strcmp(json_string_value(json_array_get(o->products, j)), it->product);
    for (size_t j = 0; j < json_array_size(o->categories) && it->category && !in; j++)
      in = !strcmp(json_string_value(json_array_get(o->categories, j)), it->category);
    if (in) sum += it->quantity * it->price;
  }
  return sum;
}

static void test_targets_as_strings(void **st) {
  (void)st;
  static const char *const ids[] = {"p1", "p2", "p3", "k1", "k2", "p10", "p"};
  uint64_t s = 0x7a26e75;
  for (int i = 0; i < 3000; i++) {
    json_t *def = json_pack("{sssssiss}", "id", "t1", "kind", "amount_off", "value",
                            1000000000, "currency", "EUR");
    const char *names[2] = {"products", "categories"};
    for (int k = 0; k < 2; k++) {
      unsigned n = (unsigned)(ofx_rand(&s) % 4); /* 0: absent (or empty) */
      if (!n) continue;
      json_t *arr = json_array();
      for (unsigned j = 1; j < n; j++) json_array_append_new(arr, json_string(pick(&s, ids, 7)));
      json_object_set_new(def, names[k], arr);
    }
    offer_t o;
    perr_info_t e;
    assert_int_equal(offers_parse(def, &o, &e), 0);
    assert_int_equal(o.nproducts, json_array_size(o.products));
    assert_int_equal(o.ncategories, json_array_size(o.categories));
    offers_cart_item_t items[4];
    offers_cart_t cart = {.currency = "EUR", .items = items, .nitems = ofx_rand(&s) % 5};
    for (size_t j = 0; j < cart.nitems; j++) {
      items[j] = (offers_cart_item_t){.product = ofx_rand(&s) % 8 ? pick(&s, ids, 7) : NULL,
                                      .category = ofx_rand(&s) % 3 ? pick(&s, ids, 7) : NULL,
                                      .quantity = 1 + (int64_t)(ofx_rand(&s) % 3),
                                      .price = (int64_t)(ofx_rand(&s) % 1000)};
      cart.value += items[j].quantity * items[j].price;
    }
    /* amount_off with a value above any cart: the discount is the applicable value */
    assert_int_equal(offers_discount(&o, o.value, &cart), json_applicable(&o, &cart));
    offers_clear(&o);
    json_decref(def);
  }
}

static void test_gates(void **st) {
  fx_t *f = *st;
  static const char *const cur[] = {"EUR", "USD", "GBP"};
  static const char *const rules[] = {"{\"x\":{\"$gte\":2}}", "{\"x\":{\"$lt\":3}}",
                                      "{\"y\":\"a\"}", "null"};
  for (int i = 0; i < 40; i++) {
    char def[768];
    int64_t from = i % 5 == 1 ? OFX_NOW + 3600 : i % 5 == 2 ? OFX_NOW - 7200 : 0;
    int64_t until = i % 5 == 2 ? OFX_NOW - 3600 : i % 5 == 3 ? OFX_NOW + 600 : 0;
    snprintf(def, sizeof def,
             "{\"id\":\"g%02d\",\"kind\":\"%s\",\"value\":%d,\"currency\":\"%s\",\"rule\":%s,"
             "\"valid_from\":%lld,\"valid_until\":%lld,\"min_cart\":%d,\"stackable\":%s,"
             "\"priority\":%d%s,\"experiment\":{\"holdout\":0.2,\"variants\":[{\"id\":\"a\","
             "\"value\":%d},{\"id\":\"b\",\"value\":%d}]}}",
             i, i % 2 ? "amount_off" : "percent_off", i % 2 ? 300 : 5, cur[i % 3],
             rules[i % 4], (long long)from, (long long)until, (i % 7) * 1000,
             i % 3 ? "true" : "false", i % 4,
             i % 6 == 0 ? ",\"categories\":[\"shoes\"]" : "", i % 2 ? 300 : 5, i % 2 ? 500 : 10);
    ofx_set(f, def);
  }
  offers_catalog_t *c = ofx_catalog(f);
  assert_non_null(c->gates);
  assert_non_null(c->gate_masks); /* 40 offers */
  offers_keyring_t keys;
  perr_info_t e = {0};
  assert_int_equal(offers_keys_open(f->dir, true, 86400, &keys, &e), 0);
  uint64_t s = 11;
  size_t decided = 0;
  for (int i = 0; i < 3000; i++) {
    ofx_cart_t cart;
    ofx_cart(&cart, i % 11 ? cur[ofx_rand(&s) % 3] : "XX", (int64_t)(ofx_rand(&s) % 8000));
    if (ofx_rand(&s) % 4 == 0) cart.item.category = "hats";
    json_t *attrs = json_pack("{siss}", "x", (int)(ofx_rand(&s) % 5), "y",
                              ofx_rand(&s) % 2 ? "a" : "b");
    char customer[16];
    snprintf(customer, sizeof customer, "c%d", (int)(ofx_rand(&s) % 50));
    offers_decide_in_t in = {.customer = customer, .attrs = attrs, .cart = &cart.cart,
                             .now = OFX_NOW + (int64_t)(ofx_rand(&s) % 1200) - 600,
                             .seed = ofx_rand(&s), .keys = &keys,
                             .max_offers = 1 + (int)(ofx_rand(&s) % 4)};
    offers_decision_t want, got, looped;
    offer_gate_t *gates = c->gates;
    c->gates = NULL; /* every check from the offers */
    assert_int_equal(offers_decide(c, f->w, &in, &want, &e), 0);
    c->gates = gates;
    assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0); /* the gate masks */
    ofx_assert_same_decision(&want, &got);
    uint64_t *masks = c->gate_masks;
    c->gate_masks = NULL; /* the gates checked one by one */
    assert_int_equal(offers_decide(c, f->w, &in, &looped, &e), 0);
    c->gate_masks = masks;
    ofx_assert_same_decision(&want, &looped);
    decided += got.n;
    json_decref(attrs);
  }
  assert_true(decided > 1000);
  offers_catalog_free(c);
}


/* ---- the caps read from the customer's seen rows (cap slots) ----
 * A store written first "by the old binary" (exposures as 'S' 1 rows and 'c' rows written
 * directly, with no slots), then through offer_seen_store/offer_cap_store (which write 'S' 2
 * rows), with offers whose cap period changes between writes, events at random past
 * and future times, and customers moved by customer.forget: at random times, the counts
 * offer_caps_load gives from the prefetched rows equal the 'c' rows read one by one (the
 * path the slots replace), and the exposures the rows give equal offer_seen_load's. */
static void old_seen_put(fx_t *f, const char *customer, const char *offer, const offer_seen_t *s) {
  offer_key_t k;
  offer_key_init(&k, 0);
  offer_key_str(&k, customer);
  offer_key_sep(&k);
  offer_key_str(&k, offer);
  rec_buf_t b;
  rec_buf_init(&b);
  rec_put_u8(&b, 'S');
  rec_put_u8(&b, 1);
  rec_put_uv(&b, (uint64_t)s->arm);
  rec_put_sv(&b, s->first_ts);
  rec_put_sv(&b, s->last_ts);
  rec_put_u8(&b, s->converted ? 1 : 0);
  rec_put_sv(&b, s->revenue);
  assert_int_equal(store_put(f->w, STORE_T_OFFER_SEEN, k.b, k.n, b.p, b.n), 0);
  rec_buf_free(&b);
}

static void old_cap_put(fx_t *f, const offer_t *o, const char *customer, char kind, int64_t ts,
                        int64_t count) {
  offer_key_t k;
  offer_key_init(&k, 'c');
  offer_key_str(&k, o->id);
  offer_key_sep(&k);
  offer_key_str(&k, customer);
  offer_key_sep(&k);
  offer_key_u8(&k, (unsigned char)kind);
  offer_key_sep(&k);
  offer_key_be64(&k, offer_period_index(o->cap_period, ts));
  rec_buf_t b;
  rec_buf_init(&b);
  rec_put_u8(&b, 'C');
  rec_put_u8(&b, 1);
  rec_put_sv(&b, count);
  assert_int_equal(store_put(f->w, STORE_T_OFFER_COUNTS, k.b, k.n, b.p, b.n), 0);
  rec_buf_free(&b);
}

static void test_cap_slots(void **st) {
  fx_t *f = *st;
  static const char *const periods[] = {"day", "week", "month", "lifetime"};
  static const char *const offers[] = {"k1", "k2", "k3"};
  char customers[6][16];
  for (int i = 0; i < 6; i++) snprintf(customers[i], sizeof customers[i], "cu%d", i);
  uint64_t rs = 77;
  int checked = 0, from_slots = 0;
  for (int round = 0; round < 60; round++) {
    /* (re)define the offers: a cap period that may change between rounds */
    for (int i = 0; i < 3; i++) {
      char def[256];
      snprintf(def, sizeof def,
               "{\"id\":\"%s\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
               "\"caps\":{\"shown\":%d,\"redeemed\":%d,\"period\":\"%s\"}}",
               offers[i], 1 + (int)(ofx_rand(&rs) % 4), 1 + (int)(ofx_rand(&rs) % 3),
               periods[round < 20 ? (uint64_t)i : ofx_rand(&rs) % 4]);
      ofx_set(f, def);
    }
    offers_catalog_t *c = ofx_catalog(f);
    for (int w = 0; w < 30; w++) {
      const offer_t *o = &c->offers[ofx_rand(&rs) % c->n];
      const char *cu = customers[ofx_rand(&rs) % 6];
      int64_t ts = OFX_NOW + (int64_t)(ofx_rand(&rs) % (200 * 86400)) - 100 * 86400;
      int64_t n;
      int op = (int)(ofx_rand(&rs) % 10);
      if (round < 10) { /* the old binary (before any new write): impressions, redemptions */
        offer_seen_t s = {1, ts, ts, 0, 0};
        assert_int_equal(offer_cap_load(f->w, o, cu, 's', ts, &n), 0);
        if (op < 6) old_seen_put(f, cu, o->id, &s), old_cap_put(f, o, cu, 's', ts, n + 1);
        else assert_int_equal(offer_cap_load(f->w, o, cu, 'r', ts, &n), 0),
             old_cap_put(f, o, cu, 'r', ts, n + 1);
      } else if (op < 6) { /* an impression (offers_event's writes) */
        offer_seen_t s;
        if (offer_seen_load(f->w, cu, o->id, &s) == PERR_NOT_FOUND) s = (offer_seen_t){1, ts, ts, 0, 0};
        else s.last_ts = ts > s.last_ts ? ts : s.last_ts;
        assert_int_equal(offer_seen_store(f->w, cu, o->id, &s), 0);
        assert_int_equal(offer_cap_load(f->w, o, cu, 's', ts, &n), 0);
        assert_int_equal(offer_cap_store(f->w, o, cu, 's', ts, n + 1), 0);
      } else if (op < 9) { /* a redemption */
        assert_int_equal(offer_cap_load(f->w, o, cu, 'r', ts, &n), 0);
        assert_int_equal(offer_cap_store(f->w, o, cu, 'r', ts, n + 1), 0);
      } else if (ofx_rand(&rs) % 4 == 0) { /* customer.forget moves the rows */
        uint64_t rows;
        perr_info_t e = {0};
        char to[16];
        snprintf(to, sizeof to, "cx%d", (int)(ofx_rand(&rs) % 1000));
        assert_int_equal(offers_customer_rekey(f->w, cu, to, &rows, &e), 0);
        assert_int_equal(offers_customer_rekey(f->w, to, cu, &rows, &e), 0);
      }
    }
    if (round % 3 == 2) fx_commit(f);
    for (int q = 0; q < 40; q++) {
      const offer_t *o = &c->offers[ofx_rand(&rs) % c->n];
      const char *cu = customers[ofx_rand(&rs) % 6];
      int64_t now = OFX_NOW + (int64_t)(ofx_rand(&rs) % (240 * 86400)) - 110 * 86400;
      offer_seen_set_t set;
      offer_seen_prefetch(f->w, cu, &set);
      assert_true(set.complete);
      bool known;
      const offer_seen_row_t *row = offer_seen_row_in(&set, o->id, &known);
      int64_t shown, redeemed, want_s, want_r;
      assert_int_equal(offer_caps_load(f->w, o, cu, now, known, row, &shown, &redeemed), 0);
      assert_int_equal(offer_cap_load(f->w, o, cu, 's', now, &want_s), 0);
      assert_int_equal(offer_cap_load(f->w, o, cu, 'r', now, &want_r), 0);
      if (shown != want_s || redeemed != want_r)
        fail_msg("round %d %s %s at %lld: slots %lld/%lld, rows %lld/%lld", round, cu, o->id,
                 (long long)now, (long long)shown, (long long)redeemed, (long long)want_s,
                 (long long)want_r);
      offer_seen_t a, b;
      int ra = offer_seen_lookup(f->w, &set, cu, o->id, &a), rb = offer_seen_load(f->w, cu, o->id, &b);
      assert_int_equal(ra, rb);
      assert_memory_equal(&a, &b, sizeof a);
      from_slots += row && row->slots;
      checked++;
    }
    offers_catalog_free(c);
  }
  assert_int_equal(checked, 60 * 40);
  assert_true(from_slots > checked / 4); /* the slots did answer, not only the rows */
  /* a customer with only a redemption row: no exposure for the export or attribution */
  offers_catalog_t *c = ofx_catalog(f);
  assert_int_equal(offer_cap_store(f->w, &c->offers[0], "only-redeemed", 'r', OFX_NOW, 1), 0);
  offer_seen_t s;
  assert_int_equal(offer_seen_load(f->w, "only-redeemed", c->offers[0].id, &s), PERR_NOT_FOUND);
  int linked = -1;
  bool replay;
  perr_info_t e = {0};
  assert_int_equal(offers_attribute_order(f->w, "ord-1", "only-redeemed", OFX_NOW + 5, 100, "EUR",
                                          &linked, &replay, &e), 0);
  assert_int_equal(linked, 0);
  arena_t a;
  arena_init(&a, 0);
  offers_export_t x;
  assert_int_equal(offers_customer_export(f->w, "only-redeemed", &a, &x, &e), 0);
  assert_int_equal(x.nseen, 0);
  assert_int_equal(x.ncounters, 1);
  arena_free(&a);
  offers_catalog_free(c);
}

/* ---- the sticky arms walked alongside the catalogue scan ----
 * With the counter memo, a catalogue whose ids increase by position has each candidate's
 * seen row found by walking the customer's rows (both in id order) instead of a binary
 * search: whole decisions with the memo equal decisions without it (binary search, or one
 * read per offer past 32 rows), for customers with 0..40 rows and sticky arms that differ
 * from what the assignment would give; a catalogue out of order is found out of order. */
static void test_seen_rows_by_scan(void **st) {
  fx_t *f = *st;
  uint64_t rs = 4242;
  char ids[40][24];
  for (int i = 0; i < 40; i++) { /* ids whose order is not their creation order */
    snprintf(ids[i], sizeof ids[i], "s%02x-%d", (unsigned)(ofx_rand(&rs) % 256), i);
    char def[1400];
    snprintf(def, sizeof def,
             "{\"id\":\"%s\",\"kind\":\"amount_off\",\"value\":%d,\"currency\":\"EUR\","
             "\"stackable\":true,\"caps\":{\"shown\":%d},\"experiment\":{\"holdout\":0.2,"
             "\"variants\":[{\"id\":\"a\",\"value\":%d},{\"id\":\"b\",\"value\":%d}]}}",
             ids[i], 100 + i, 3 + (int)(ofx_rand(&rs) % 5), 100 + i, 150 + i);
    ofx_set(f, def);
  }
  offers_catalog_t *c = ofx_catalog(f);
  offers_counter_memo_t *m = offers_counter_memo_new();
  assert_non_null(m);
  assert_true(offer_memo_sorted(m, c));
  int sticky_seen = 0;
  for (int cu = 0; cu < 40; cu++) {
    char customer[16];
    snprintf(customer, sizeof customer, "sc%d", cu);
    int rows = cu < 30 ? (int)(ofx_rand(&rs) % 12) : 28 + (int)(ofx_rand(&rs) % 13);
    for (int r = 0; r < rows; r++) {
      char key[48];
      snprintf(key, sizeof key, "imp-%d-%d", cu, r);
      ofx_impression(f, key, ids[ofx_rand(&rs) % 40], customer, (int)(ofx_rand(&rs) % 3),
                     OFX_NOW - 3600);
    }
    ofx_cart_t cart;
    ofx_cart(&cart, "EUR", 20000);
    offers_decide_in_t in = {.customer = customer, .cart = &cart.cart, .now = OFX_NOW,
                             .seed = (uint64_t)cu + 1, .max_offers = 16};
    offers_decision_t a, b;
    perr_info_t e = {0};
    assert_int_equal(offers_decide(c, f->w, &in, &a, &e), 0);
    in.counters = m;
    assert_int_equal(offers_decide(c, f->w, &in, &b, &e), 0);
    ofx_assert_same_decision(&a, &b);
    for (size_t i = 0; i < b.n; i++) {
      offer_seen_t s;
      sticky_seen += offer_seen_load(f->w, customer, b.items[i].offer_id, &s) == 0;
    }
  }
  assert_true(sticky_seen > 40); /* the decisions did use stored arms */
  /* out of order: two offers swapped (a new catalogue id: the memo checks it afresh) */
  offer_t t = c->offers[0];
  c->offers[0] = c->offers[1];
  c->offers[1] = t;
  offer_gate_t g = c->gates[0];
  c->gates[0] = c->gates[1];
  c->gates[1] = g;
  c->id ^= 1;
  assert_false(offer_memo_sorted(m, c));
  offers_counter_memo_free(m);
  offers_catalog_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_fixed),
      cmocka_unit_test_setup_teardown(test_lazy_attributes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_assignment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_capped_offer_as_if_absent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_customer_order_counts, setup, teardown),
      cmocka_unit_test(test_regex_literal),
      cmocka_unit_test_setup_teardown(test_snapshot_memos, setup, teardown),
      cmocka_unit_test(test_compare_numbers),
      cmocka_unit_test(test_targets_as_strings),
      cmocka_unit_test_setup_teardown(test_gates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cap_slots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seen_rows_by_scan, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
