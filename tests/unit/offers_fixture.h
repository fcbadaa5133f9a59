/* offers_fixture.h -- what the offers tests share (header-only, after store_fixture.h): define
 * offers from JSON text, build a catalogue from the open write txn, decide for a customer and
 * a one-line cart, record an impression, and a deterministic test RNG (splitmix64, kept
 * apart from the core's generators so the tests check the core with an independent one). */
#ifndef PATRON_TEST_OFFERS_FIXTURE_H
#define PATRON_TEST_OFFERS_FIXTURE_H

#include "offers/offers.h"

#define OFX_NOW INT64_C(1700000000)

static inline void ofx_set(fx_t *f, const char *json_text) {
  json_error_t je;
  json_t *d = json_loads(json_text, 0, &je);
  if (!d) fail_msg("bad test JSON: %s", je.text);
  perr_info_t e = {0};
  int rc = offers_set(f->w, d, OFX_NOW, &e);
  if (rc) fail_msg("offers_set: %s (%s)", e.message, e.field);
  json_decref(d);
}

static inline offers_catalog_t *ofx_catalog(fx_t *f) {
  offers_catalog_t *c = NULL;
  perr_info_t e = {0};
  assert_int_equal(offers_catalog_build(f->w, &c, &e), 0);
  return c;
}

/* A cart of one item (product p1, category shoes) worth value. */
typedef struct ofx_cart_s {
  offers_cart_item_t item;
  offers_cart_t cart;
} ofx_cart_t;

static inline void ofx_cart(ofx_cart_t *c, const char *currency, int64_t value) {
  c->item = (offers_cart_item_t){"p1", "shoes", 1, value};
  c->cart = (offers_cart_t){value, currency, &c->item, 1};
}

static inline void ofx_decide(fx_t *f, const offers_catalog_t *c, const char *customer,
                              const json_t *attrs, const offers_cart_t *cart, int64_t now,
                              uint64_t seed, const offers_keyring_t *keys,
                              offers_decision_t *out) {
  offers_decide_in_t in = {0};
  in.customer = customer;
  in.attrs = attrs;
  in.cart = cart;
  in.now = now;
  in.seed = seed;
  in.keys = keys;
  perr_info_t e = {0};
  int rc = offers_decide(c, f->w, &in, out, &e);
  if (rc) fail_msg("offers_decide: %s", e.message);
}

static inline void ofx_impression(fx_t *f, const char *key, const char *offer,
                                  const char *customer, int arm, int64_t ts) {
  offers_event_t ev = {OFFERS_EV_IMPRESSION, key, offer, customer, arm, ts, 0};
  bool replay;
  perr_info_t e = {0};
  int rc = offers_event(f->w, &ev, &replay, &e);
  if (rc) fail_msg("offers_event: %s (%s)", e.message, e.field);
}

static inline uint64_t ofx_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline double ofx_unif(uint64_t *s) {
  return (double)(ofx_rand(s) >> 11) / 9007199254740992.0; /* 53 bits in [0, 1) */
}

/* Two decisions are the same, field by field (doubles bit for bit). */
static inline void ofx_assert_same_decision(const offers_decision_t *a,
                                            const offers_decision_t *b) {
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->global_holdout, b->global_holdout);
  assert_int_equal(a->global_split, b->global_split);
  for (size_t i = 0; i < a->n; i++) {
    const offers_decided_t *x = &a->items[i], *y = &b->items[i];
    assert_string_equal(x->offer_id, y->offer_id);
    assert_int_equal(x->arm, y->arm);
    assert_int_equal(x->value, y->value);
    assert_int_equal(x->discount, y->discount);
    assert_memory_equal(&x->expected_value, &y->expected_value, sizeof(double));
    assert_memory_equal(&x->uplift, &y->uplift, sizeof(double));
    assert_string_equal(x->impression_id, y->impression_id);
    assert_int_equal(x->expires, y->expires);
    assert_string_equal(x->reason, y->reason);
    assert_string_equal(x->token, y->token);
  }
}

#endif
