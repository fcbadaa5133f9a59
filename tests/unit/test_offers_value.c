/* test_offers_value.c -- cmocka tests of two offers rules over a real LMDB store:
 * - the negative expected incremental value (docs/OFFERS.md section 3): an offer still
 *   learning is decided whatever its EIV; once every arm has 100 exposures, an offer whose
 *   best variant's EIV on the cart is negative is decided for nobody (either arm), a
 *   positive one is, with the EIV the formula gives (computed here by hand, independently of
 *   offer_decide.c), and experiment.stop_when_losing = false keeps a losing offer;
 * - offers_customer_rekey (customer.forget): the sticky arm, exposure window and shown cap
 *   move to the pseudonym (the cap binds it, the old id is a stranger), the global holdout's
 *   row too, and an order of the pseudonym is attributed through the moved rows; afterwards
 *   no row of any offers table matches what a guessed id yields (the id itself, its
 *   impression ids, its events' fingerprints), computed here with OpenSSL's SHA256. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "store_fixture.h"
#include "offers_fixture.h"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-offval-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

/* n customers "<prefix><i>" exposed in arm, the first conv of them converting. */
static void arm_counts(fx_t *f, const char *offer, const char *prefix, int arm, int n, int conv) {
  for (int i = 0; i < n; i++) {
    char id[32], key[48];
    snprintf(id, sizeof id, "%s%d", prefix, i);
    snprintf(key, sizeof key, "imp-%s-%s", offer, id);
    ofx_impression(f, key, offer, id, arm, OFX_NOW);
    if (i >= conv) continue;
    snprintf(key, sizeof key, "ord-%s-%s", offer, id);
    offers_event_t ev = {OFFERS_EV_ORDER, key, offer, id, arm, OFX_NOW + 10, 1000};
    bool replay;
    perr_info_t e = {0};
    assert_int_equal(offers_event(f->w, &ev, &replay, &e), 0);
  }
}

/* Decide for customer on a 5000 EUR cart, without attributes. */
static void decide_for(fx_t *f, const offers_catalog_t *c, const char *customer,
                       offers_decision_t *d) {
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 5000);
  json_t *attrs = json_object();
  ofx_decide(f, c, customer, attrs, &cart.cart, OFX_NOW, 1, NULL, d);
  json_decref(attrs);
}

/* How many of 40 fresh customers get the offer decided (any arm). */
static int decided(fx_t *f, const char *offer) {
  offers_catalog_t *c = ofx_catalog(f);
  int n = 0;
  for (int i = 0; i < 40; i++) {
    char id[32];
    snprintf(id, sizeof id, "fresh-%d", i);
    offers_decision_t d;
    decide_for(f, c, id, &d);
    for (size_t k = 0; k < d.n; k++) n += !strcmp(d.items[k].offer_id, offer);
  }
  offers_catalog_free(c);
  return n;
}

/* The formula of docs/OFFERS.md section 3 with the prior (B 0.10, U 0.02, N0 100), margin 0.3
 * and no CLV term: (p_t - p_c) x 0.3 x cart - p_t x discount. */
static double hand_eiv(double n0, double c0, double n1, double c1, double cart, double disc) {
  double pc = (c0 + 100 * 0.10) / (n0 + 100), pt = (c1 + 100 * 0.12) / (n1 + 100);
  return (pt - pc) * 0.3 * cart - pt * disc;
}

static void test_negative_value_not_decided_once_measured(void **state) {
  fx_t *f = *state;
  /* 10% of 5000 = 500: prior EIV = 0.02 x 1500 - 0.12 x 500 = -30, but still learning */
  assert_true(hand_eiv(0, 0, 0, 0, 5000, 500) < 0);
  ofx_set(f, "{\"id\":\"neg\",\"kind\":\"percent_off\",\"value\":10,\"currency\":\"EUR\","
             "\"experiment\":{\"holdout\":0.5}}");
  assert_int_equal(decided(f, "neg"), 40);
  /* 100 holdout exposures, 99 treated: one arm still learning -> still decided */
  arm_counts(f, "neg", "h", 0, 100, 10);
  arm_counts(f, "neg", "t", 1, 99, 12);
  assert_int_equal(decided(f, "neg"), 40);
  /* the 100th treated exposure: measured, EIV(100,10,100,12) = 0.02 x 1500 - 0.12 x 500 < 0 */
  arm_counts(f, "neg", "u", 1, 1, 0);
  assert_true(hand_eiv(100, 10, 100, 12, 5000, 500) < 0);
  assert_int_equal(decided(f, "neg"), 0); /* for nobody: neither the treated nor the holdout */
  /* the same counters, the rule off: decided again */
  ofx_set(f, "{\"id\":\"neg\",\"kind\":\"percent_off\",\"value\":10,\"currency\":\"EUR\","
             "\"experiment\":{\"holdout\":0.5,\"stop_when_losing\":false}}");
  assert_int_equal(decided(f, "neg"), 40);
}

static void test_positive_measured_value_decided_with_its_eiv(void **state) {
  fx_t *f = *state;
  ofx_set(f, "{\"id\":\"pos\",\"kind\":\"amount_off\",\"value\":400,\"currency\":\"EUR\"}");
  arm_counts(f, "pos", "h", 0, 150, 12);  /* no holdout share: arm 0 counted by hand anyway */
  arm_counts(f, "pos", "t", 1, 120, 30);
  double want = hand_eiv(150, 12, 120, 30, 5000, 400);
  assert_true(want > 0);
  offers_catalog_t *c = ofx_catalog(f);
  offers_decision_t d;
  decide_for(f, c, "buyer", &d);
  assert_int_equal(d.n, 1);
  assert_true(fabs(d.items[0].expected_value - want) <= 1e-9 * fabs(want));
  /* a variant that loses alone does not hide an offer whose best variant wins */
  ofx_set(f, "{\"id\":\"pos\",\"kind\":\"amount_off\",\"value\":400,\"currency\":\"EUR\","
             "\"experiment\":{\"variants\":[{\"id\":\"a\",\"value\":400,\"weight\":0.5},"
             "{\"id\":\"b\",\"value\":4000,\"weight\":0.5}]}}");
  arm_counts(f, "pos", "v", 2, 100, 5);
  assert_true(hand_eiv(150, 12, 100, 5, 5000, 4000) < 0);
  assert_int_equal(decided(f, "pos"), 40);
  offers_catalog_free(c);
}

static void test_rekey_moves_seen_and_caps(void **state) {
  fx_t *f = *state;
  ofx_set(f, "{\"id\":\"capped\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\","
             "\"caps\":{\"shown\":1}}");
  ofx_impression(f, "imp-alice", "capped", "alice", 1, OFX_NOW);
  perr_info_t e = {0};
  assert_int_equal(offers_global_exposure(f->w, "alice", false, "EUR", OFX_NOW, &e), 0);
  ofx_impression(f, "imp-bob", "capped", "bob", 1, OFX_NOW);
  offers_catalog_t *c = ofx_catalog(f);
  offers_decision_t d;
  decide_for(f, c, "alice", &d);
  assert_int_equal(d.n, 0); /* shown cap reached */
  uint64_t rows = 0;
  assert_int_equal(offers_customer_rekey(f->w, "alice", "anon-1", &rows, &e), 0);
  /* offer_seen of the offer and of the global holdout, shown cap; the impression's record */
  assert_int_equal(rows, 4);
  decide_for(f, c, "anon-1", &d);
  assert_int_equal(d.n, 0); /* the cap moved with the id */
  decide_for(f, c, "alice", &d);
  assert_int_equal(d.n, 1); /* the old id is a stranger now */
  decide_for(f, c, "bob", &d);
  assert_int_equal(d.n, 0); /* another customer's rows untouched */
  int linked;
  bool replay;
  assert_int_equal(offers_attribute_order(f->w, "o-1", "anon-1", OFX_NOW + 60, 900, "EUR",
                                          &linked, &replay, &e), 0);
  assert_int_equal(linked, 2); /* the offer and the engine arm, through the moved rows */
  assert_int_equal(offers_attribute_order(f->w, "o-2", "alice", OFX_NOW + 60, 900, "EUR",
                                          &linked, &replay, &e), 0);
  assert_int_equal(linked, 0);
  assert_int_equal(offers_customer_rekey(f->w, "nobody", "anon-2", &rows, &e), 0);
  assert_int_equal(rows, 0);
  offers_catalog_free(c);
}

/* SHA-256 of the parts, each with its terminating NUL (how the offers code fingerprints). */
static void sha_parts(const char *const *parts, int n, unsigned char out[32]) {
  unsigned char buf[512];
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    size_t k = strlen(parts[i]) + 1;
    assert_true(len + k <= sizeof buf);
    memcpy(buf + len, parts[i], k);
    len += k;
  }
  SHA256(buf, len, out);
}

/* The impression id offers.decide gives (customer, offer, hour), computed independently. */
static void guess_impression_id(const char *customer, const char *offer, int64_t now,
                                char out[33]) {
  char hour[24];
  unsigned char h[32];
  snprintf(hour, sizeof hour, "%lld", (long long)(now / 3600));
  const char *parts[3] = {customer, offer, hour};
  sha_parts(parts, 3, h);
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int contains(const void *hay, size_t hn, const void *needle, size_t nn) {
  for (size_t i = 0; nn && i + nn <= hn; i++)
    if (!memcmp((const char *)hay + i, needle, nn)) return 1;
  return 0;
}

/* Rows of the offers tables (key or value) holding any of what a guess of customer yields:
 * the id, its impression ids for offer in the hours around now, the fingerprints of its
 * events on offer (type 0-2, arm 0-3, revenue 0 or the one used). */
static int guess_hits(fx_t *f, const char *customer, const char *offer, int64_t revenue) {
  unsigned char fps[3 * 4 * 2][32];
  char imps[5][33];
  int nfp = 0, hits = 0;
  for (int type = 0; type < 3; type++)
    for (int arm = 0; arm < 4; arm++)
      for (int r = 0; r < 2; r++) {
        char num[64];
        snprintf(num, sizeof num, "%d/%d/%lld", type, arm, (long long)(r ? revenue : 0));
        const char *parts[3] = {offer, customer, num};
        sha_parts(parts, 3, fps[nfp++]);
      }
  for (int h = 0; h < 5; h++) guess_impression_id(customer, offer, OFX_NOW + (h - 2) * 3600, imps[h]);
  const store_table_t tables[] = {STORE_T_OFFERS, STORE_T_OFFER_COUNTS, STORE_T_OFFER_SEEN,
                                  STORE_T_OFFER_IDEM};
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    store_cursor_t *c;
    const void *k, *v;
    size_t kn, vn;
    assert_int_equal(store_cursor_open(f->w, tables[t], "", 0, &c), 0);
    while (store_cursor_next(c, &k, &kn, &v, &vn) == 1) {
      int hit = contains(k, kn, customer, strlen(customer)) ||
                contains(v, vn, customer, strlen(customer));
      for (int i = 0; i < nfp && !hit; i++) hit = contains(v, vn, fps[i], 32) || contains(k, kn, fps[i], 32);
      for (int i = 0; i < 5 && !hit; i++) hit = contains(k, kn, imps[i], 32) || contains(v, vn, imps[i], 32);
      hits += hit;
    }
    store_cursor_close(c);
  }
  return hits;
}

/* customer.forget leaves nothing a guessed id can be matched against: its impressions (keyed
 * by the impression id decide gives), a click and an order event under keys of the shop's. */
static void test_forget_leaves_no_guessable_row(void **state) {
  fx_t *f = *state;
  ofx_set(f, "{\"id\":\"o1\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"EUR\"}");
  offers_catalog_t *c = ofx_catalog(f);
  const char *who[2] = {"carol", "dave"};
  for (int i = 0; i < 2; i++) {
    offers_decision_t d;
    decide_for(f, c, who[i], &d);
    assert_int_equal(d.n, 1);
    char guess[33];
    guess_impression_id(who[i], "o1", OFX_NOW, guess);
    assert_string_equal(d.items[0].impression_id, guess); /* the independent computation holds */
    ofx_impression(f, d.items[0].impression_id, "o1", who[i], d.items[0].arm, OFX_NOW);
    char key[48];
    bool replay;
    perr_info_t e = {0};
    snprintf(key, sizeof key, "click-%d", i);
    offers_event_t click = {OFFERS_EV_CLICK, key, "o1", who[i], d.items[0].arm, OFX_NOW + 5, 0};
    assert_int_equal(offers_event(f->w, &click, &replay, &e), 0);
    snprintf(key, sizeof key, "order-%d", i);
    offers_event_t order = {OFFERS_EV_ORDER, key, "o1", who[i], d.items[0].arm, OFX_NOW + 9, 4200};
    assert_int_equal(offers_event(f->w, &order, &replay, &e), 0);
  }
  assert_true(guess_hits(f, "carol", "o1", 4200) >= 3); /* the guesses do find the rows */
  int dave_before = guess_hits(f, "dave", "o1", 4200);
  uint64_t rows = 0;
  perr_info_t e = {0};
  assert_int_equal(offers_customer_rekey(f->w, "carol", "anon-c", &rows, &e), 0);
  assert_int_equal(rows, 2 + 3); /* seen row and shown counter moved, 3 event records deleted */
  assert_int_equal(guess_hits(f, "carol", "o1", 4200), 0);
  assert_int_equal(guess_hits(f, "dave", "o1", 4200), dave_before); /* others untouched */
  /* an id with no customer record: its rows are erased, not moved */
  assert_int_equal(offers_customer_erase(f->w, "dave", &rows, &e), 0);
  assert_int_equal(rows, 2 + 3);
  assert_int_equal(guess_hits(f, "dave", "o1", 4200), 0);
  assert_int_equal(offers_customer_erase(f->w, "dave", &rows, &e), 0);
  assert_int_equal(rows, 0);
  /* the pseudonym keeps the sticky arm: an order is still attributed to it */
  int linked;
  bool replay;
  assert_int_equal(offers_attribute_order(f->w, "o-9", "anon-c", OFX_NOW + 60, 900, "EUR",
                                          &linked, &replay, &e), 0);
  assert_int_equal(linked, 1);
  offers_catalog_free(c);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_negative_value_not_decided_once_measured),
      T(test_positive_measured_value_decided_with_its_eiv),
      T(test_rekey_moves_seen_and_caps),
      T(test_forget_leaves_no_guessable_row),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
