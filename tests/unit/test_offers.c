/* test_offers.c -- cmocka tests of offers/offers.h over a real LMDB store in a temp dir:
 * definition validation (each error names its field; a refused set changes nothing), the
 * record round trip, list and archive, offers_decide against every constraint (a table of
 * cases), tokens (valid, every tampered character, expiry, another customer, rotation and
 * the key file's mode), redemption under a random sequence of redeems and replays checked
 * against an independent model, the last unit of budget, and idempotent attribution. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_fixture.h"
#include "offers_fixture.h"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-offers-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

#define BASE "\"kind\":\"percent_off\",\"value\":10,\"currency\":\"EUR\""

/* ---- validation ------------------------------------------------------------------ */

static void test_validation_names_field(void **state) {
  fx_t *f = *state;
  static const struct { const char *json, *field; } cases[] = {
      {"{" BASE "}", "id"},
      {"{\"id\":\"\"," BASE "}", "id"},
      {"{\"id\":\"a\",\"value\":10,\"currency\":\"EUR\"}", "kind"},
      {"{\"id\":\"a\",\"kind\":\"half_off\",\"value\":10,\"currency\":\"EUR\"}", "kind"},
      {"{\"id\":\"a\",\"kind\":\"percent_off\",\"value\":101,\"currency\":\"EUR\"}", "value"},
      {"{\"id\":\"a\",\"kind\":\"amount_off\",\"value\":\"5\",\"currency\":\"EUR\"}", "value"},
      {"{\"id\":\"a\",\"kind\":\"amount_off\",\"value\":5,\"currency\":\"EUX\"}", "currency"},
      {"{\"id\":\"a\",\"kind\":\"amount_off\",\"value\":5}", "currency"},
      {"{\"id\":\"a\"," BASE ",\"valid_from\":10,\"valid_until\":5}", "valid_until"},
      {"{\"id\":\"a\"," BASE ",\"budget\":{\"money\":-1}}", "budget.money"},
      {"{\"id\":\"a\"," BASE ",\"budget\":{\"moneys\":1}}", "budget.moneys"},
      {"{\"id\":\"a\"," BASE ",\"caps\":{\"period\":\"year\"}}", "caps.period"},
      {"{\"id\":\"a\"," BASE ",\"caps\":{\"shown\":1.5}}", "caps.shown"},
      {"{\"id\":\"a\"," BASE ",\"min_cart\":-5}", "min_cart"},
      {"{\"id\":\"a\"," BASE ",\"products\":[\"p1\",7]}", "products[1]"},
      {"{\"id\":\"a\"," BASE ",\"stackable\":1}", "stackable"},
      {"{\"id\":\"a\"," BASE ",\"colour\":\"red\"}", "colour"},
      {"{\"id\":\"a\"," BASE ",\"rule\":{\"$and\":[{\"age\":{\"$gt\":[1]}}]}}",
       "rule.$and[0].age.$gt"},
      {"{\"id\":\"a\"," BASE ",\"rule\":{\"name\":{\"$regex\":\"(\"}}}", "rule.name.$regex"},
      {"{\"id\":\"a\"," BASE ",\"experiment\":{\"holdout\":0.95}}", "experiment.holdout"},
      {"{\"id\":\"a\"," BASE ",\"experiment\":{\"mode\":\"mab\"}}", "experiment.mode"},
      {"{\"id\":\"a\"," BASE ",\"experiment\":{\"variants\":[{\"id\":\"x\",\"weight\":0.5},"
       "{\"id\":\"x\",\"weight\":0.5}]}}", "experiment.variants[1].id"},
      {"{\"id\":\"a\"," BASE ",\"experiment\":{\"variants\":[{\"id\":\"x\",\"value\":300}]}}",
       "experiment.variants[0].value"},
      {"{\"id\":\"a\"," BASE ",\"experiment\":{\"variants\":[{\"id\":\"x\",\"weight\":0.2}]}}",
       "experiment.variants"},
  };
  ofx_set(f, "{\"id\":\"keep\"," BASE "}");
  dump_t before = dump(f->w);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *d = json_loads(cases[i].json, 0, NULL);
    assert_non_null(d);
    perr_info_t e = {0};
    int rc = offers_set(f->w, d, OFX_NOW, &e);
    json_decref(d);
    if (rc != PERR_INVALID_PARAMS || strcmp(e.field, cases[i].field))
      fail_msg("case %zu: rc %d field '%s' (want '%s'): %s", i, rc, e.field, cases[i].field,
               e.message);
  }
  assert_same_dump(before, dump(f->w));
}

static void test_round_trip_list_archive(void **state) {
  fx_t *f = *state;
  ofx_set(f, "{\"id\":\"b\",\"kind\":\"amount_off\",\"value\":500,\"currency\":\"EUR\","
             "\"budget\":{\"money\":10000,\"redemptions\":20},\"caps\":{\"redeemed\":1,"
             "\"period\":\"week\"},\"products\":[\"p1\"],\"priority\":3,"
             "\"experiment\":{\"holdout\":0.2,\"mode\":\"bandit\",\"reward\":\"revenue\","
             "\"variants\":[{\"id\":\"lo\",\"value\":300},{\"id\":\"hi\",\"value\":700}]}}");
  ofx_set(f, "{\"id\":\"a\"," BASE ",\"rule\":{\"segment\":\"vip\"}}");
  perr_info_t e = {0};
  offer_t o;
  assert_int_equal(offers_get(f->w, "b", &o, &e), 0);
  assert_int_equal(o.kind, OFFER_AMOUNT_OFF);
  assert_int_equal(o.budget_money, 10000);
  assert_int_equal(o.budget_redemptions, 20);
  assert_int_equal(o.cap_period, OFFER_PERIOD_WEEK);
  assert_int_equal(o.nvariants, 2);
  assert_int_equal(o.variants[1].value, 700);
  assert_int_equal(o.mode, OFFER_MODE_BANDIT);
  assert_true(o.holdout > 0.19 && o.holdout < 0.21);
  offers_clear(&o);
  assert_int_equal(offers_get(f->w, "zz", &o, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "id");

  json_t *l;
  assert_int_equal(offers_list(f->w, NULL, 0, false, &l, &e), 0);
  assert_int_equal(json_array_size(l), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "id")), "a");
  json_decref(l);
  assert_int_equal(offers_list(f->w, "a", 0, false, &l, &e), 0);
  assert_int_equal(json_array_size(l), 1);
  json_decref(l);

  assert_int_equal(offers_archive(f->w, "a", true, OFX_NOW + 1, &e), 0);
  assert_int_equal(offers_list(f->w, NULL, 0, false, &l, &e), 0);
  assert_int_equal(json_array_size(l), 1);
  json_decref(l);
  offers_catalog_t *c = ofx_catalog(f);
  assert_int_equal(c->n, 1);
  assert_string_equal(c->offers[0].id, "b");
  offers_catalog_free(c);
  /* a new definition keeps the archived flag */
  ofx_set(f, "{\"id\":\"a\"," BASE "}");
  assert_int_equal(offers_get(f->w, "a", &o, &e), 0);
  assert_true(o.archived);
  offers_clear(&o);
  assert_int_equal(offers_list(f->w, NULL, 1, true, &l, &e), 0);
  assert_int_equal(json_array_size(l), 1);
  assert_true(json_is_true(json_object_get(json_array_get(l, 0), "archived")));
  json_decref(l);
}

/* ---- decide ----------------------------------------------------------------------- */

static offers_keyring_t test_keys(fx_t *f) {
  offers_keyring_t k;
  perr_info_t e = {0};
  assert_int_equal(offers_keys_open(f->dir, true, 86400, &k, &e), 0);
  return k;
}

/* Redeem a token freshly decided for customer (helper for the setups). */
static int redeem_once(fx_t *f, const char *offer_id, const char *customer, const char *key,
                       int64_t cart_value, offers_refusal_t *why) {
  offers_keyring_t k = test_keys(f);
  offers_catalog_t *c = ofx_catalog(f);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", cart_value);
  offers_decision_t d;
  ofx_decide(f, c, customer, NULL, &cart.cart, OFX_NOW, 1, &k, &d);
  const char *tok = NULL;
  for (size_t i = 0; i < d.n; i++)
    if (!strcmp(d.items[i].offer_id, offer_id)) tok = d.items[i].token;
  assert_non_null(tok);
  offers_redeem_in_t in = {tok, customer, &cart.cart, "cart-1", key, OFX_NOW};
  offers_redeem_out_t out;
  perr_info_t e = {0};
  int rc = offers_redeem(f->w, &k, &in, &out, why, &e);
  offers_catalog_free(c);
  return rc;
}

static void setup_budget_used(fx_t *f) {
  offers_refusal_t why;
  assert_int_equal(redeem_once(f, "o1", "other", "k-budget", 10000, &why), 0);
}
static void setup_shown_cap(fx_t *f) { ofx_impression(f, "imp-1", "o1", "c1", 1, OFX_NOW); }
static void setup_redeemed_cap(fx_t *f) {
  offers_refusal_t why;
  assert_int_equal(redeem_once(f, "o1", "c1", "k-cap", 10000, &why), 0);
}
static void setup_archive(fx_t *f) {
  perr_info_t e = {0};
  assert_int_equal(offers_archive(f->w, "o1", true, OFX_NOW, &e), 0);
}

typedef struct decide_case_s {
  const char *name;
  const char *offers[3];
  const char *currency;
  int64_t cart_value;
  int64_t now;
  const char *attrs; /* JSON, or "cart": offers_cart_attributes of the cart */
  void (*setup)(fx_t *f);
  const char *want; /* shown offer ids, comma-separated, in rank order */
} decide_case_t;

#define O1(extra) "{\"id\":\"o1\"," BASE extra "}"
#define O2(extra) \
  "{\"id\":\"o2\",\"kind\":\"percent_off\",\"value\":20,\"currency\":\"EUR\"" extra "}"

static const decide_case_t DECIDE_CASES[] = {
    {"eligible", {O1("")}, "EUR", 10000, OFX_NOW, NULL, NULL, "o1"},
    {"currency", {O1("")}, "USD", 10000, OFX_NOW, NULL, NULL, ""},
    {"empty cart", {O1("")}, "EUR", 0, OFX_NOW, NULL, NULL, ""},
    {"not yet valid", {O1(",\"valid_from\":1700000100")}, "EUR", 10000, OFX_NOW, NULL, NULL, ""},
    {"expired", {O1(",\"valid_until\":1700000000")}, "EUR", 10000, OFX_NOW, NULL, NULL, ""},
    {"in window", {O1(",\"valid_from\":1600000000,\"valid_until\":1700000001")}, "EUR", 10000,
     OFX_NOW, NULL, NULL, "o1"},
    {"min cart", {O1(",\"min_cart\":10001")}, "EUR", 10000, OFX_NOW, NULL, NULL, ""},
    {"min cart met", {O1(",\"min_cart\":10000")}, "EUR", 10000, OFX_NOW, NULL, NULL, "o1"},
    {"rule false", {O1(",\"rule\":{\"segment\":\"vip\"}")}, "EUR", 10000, OFX_NOW,
     "{\"segment\":\"new\"}", NULL, ""},
    {"rule true", {O1(",\"rule\":{\"segment\":\"vip\"}")}, "EUR", 10000, OFX_NOW,
     "{\"segment\":\"vip\"}", NULL, "o1"},
    {"products elsewhere", {O1(",\"products\":[\"p9\"]")}, "EUR", 10000, OFX_NOW, NULL, NULL, ""},
    {"category matches", {O1(",\"categories\":[\"shoes\"]")}, "EUR", 10000, OFX_NOW, NULL, NULL,
     "o1"},
    {"budget redemptions", {O1(",\"budget\":{\"redemptions\":1}")}, "EUR", 10000, OFX_NOW, NULL,
     setup_budget_used, ""},
    {"budget money", {O1(",\"budget\":{\"money\":1000}")}, "EUR", 10000, OFX_NOW, NULL,
     setup_budget_used, ""},
    {"budget left", {O1(",\"budget\":{\"money\":2000}")}, "EUR", 10000, OFX_NOW, NULL,
     setup_budget_used, "o1"},
    {"budget short of this discount", {O1(",\"budget\":{\"money\":1999}")}, "EUR", 10000,
     OFX_NOW, NULL, setup_budget_used, ""},
    {"shown cap", {O1(",\"caps\":{\"shown\":1,\"period\":\"day\"}")}, "EUR", 10000, OFX_NOW, NULL,
     setup_shown_cap, ""},
    {"shown cap next day", {O1(",\"caps\":{\"shown\":1,\"period\":\"day\"}")}, "EUR", 10000,
     OFX_NOW + 86400, NULL, setup_shown_cap, "o1"},
    /* OFX_NOW is Tuesday 2023-11-14 22:13 UTC: weeks start on Monday, months on the 1st */
    {"week cap: Sunday", {O1(",\"caps\":{\"shown\":1,\"period\":\"week\"}")}, "EUR", 10000,
     INT64_C(1700438399), NULL, setup_shown_cap, ""},
    {"week cap: Monday", {O1(",\"caps\":{\"shown\":1,\"period\":\"week\"}")}, "EUR", 10000,
     INT64_C(1700438400), NULL, setup_shown_cap, "o1"},
    {"month cap: 30th", {O1(",\"caps\":{\"shown\":1,\"period\":\"month\"}")}, "EUR", 10000,
     INT64_C(1701388799), NULL, setup_shown_cap, ""},
    {"month cap: 1st", {O1(",\"caps\":{\"shown\":1,\"period\":\"month\"}")}, "EUR", 10000,
     INT64_C(1701388800), NULL, setup_shown_cap, "o1"},
    {"lifetime cap", {O1(",\"caps\":{\"shown\":1}")}, "EUR", 10000, INT64_C(1800000000), NULL,
     setup_shown_cap, ""},
    {"cart attributes in the rule", {O1(",\"rule\":{\"cart_categories\":\"shoes\","
     "\"cart_value\":{\"$gte\":10000}}")}, "EUR", 10000, OFX_NOW, "cart", NULL, "o1"},
    {"cart attributes: rule false", {O1(",\"rule\":{\"cart_categories\":\"hats\"}")}, "EUR",
     10000, OFX_NOW, "cart", NULL, ""},
    {"redeemed cap", {O1(",\"caps\":{\"redeemed\":1}")}, "EUR", 10000, OFX_NOW, NULL,
     setup_redeemed_cap, ""},
    {"archived", {O1("")}, "EUR", 10000, OFX_NOW, NULL, setup_archive, ""},
    {"exclusive group: the larger value wins", {O1(",\"exclusive_group\":\"g\",\"stackable\":true"),
     O2(",\"exclusive_group\":\"g\",\"stackable\":true")}, "EUR", 10000, OFX_NOW, NULL, NULL, "o1"},
    {"stackable both", {O1(",\"stackable\":true"), O2(",\"stackable\":true")}, "EUR", 10000,
     OFX_NOW,
     NULL, NULL, "o1,o2"},
    {"not stackable", {O1(""), O2(",\"stackable\":true")}, "EUR", 10000, OFX_NOW, NULL, NULL, "o1"},
    {"stackable after an exclusive", {O1(",\"stackable\":true"), O2("")}, "EUR", 10000, OFX_NOW,
     NULL, NULL, "o1"},
    {"priority breaks ties", {O1(",\"stackable\":true,\"exclusive_group\":\"g\""),
     "{\"id\":\"o0\"," BASE ",\"stackable\":true,\"exclusive_group\":\"g\",\"priority\":5}"},
     "EUR", 10000, OFX_NOW, NULL, NULL, "o0"},
};

static void test_decide_constraints(void **state) {
  fx_t *f = *state;
  for (size_t i = 0; i < sizeof DECIDE_CASES / sizeof DECIDE_CASES[0]; i++) {
    const decide_case_t *k = &DECIDE_CASES[i];
    store_abort(f->w); /* a fresh, empty store for each case */
    f->w = NULL;
    assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
    assert_int_equal(store_count(f->w, STORE_T_OFFERS), 0);
    for (int j = 0; j < 3 && k->offers[j]; j++) ofx_set(f, k->offers[j]);
    if (k->setup) k->setup(f);
    offers_catalog_t *c = ofx_catalog(f);
    bool cart_attrs = k->attrs && !strcmp(k->attrs, "cart");
    json_t *attrs = k->attrs && !cart_attrs ? json_loads(k->attrs, 0, NULL) : json_object();
    ofx_cart_t cart;
    ofx_cart(&cart, k->currency, k->cart_value);
    if (cart_attrs) assert_int_equal(offers_cart_attributes(attrs, &cart.cart), 0);
    offers_decision_t d;
    ofx_decide(f, c, "c1", attrs, &cart.cart, k->now, 7, NULL, &d);
    char got[256] = "";
    for (size_t j = 0; j < d.n; j++) {
      assert_false(d.items[j].held_out);
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", j ? "," : "",
               d.items[j].offer_id);
    }
    if (strcmp(got, k->want)) fail_msg("case '%s': got [%s], want [%s]", k->name, got, k->want);
    json_decref(attrs);
    offers_catalog_free(c);
  }
}

static void test_decide_holdouts(void **state) {
  fx_t *f = *state;
  ofx_set(f, O1(",\"experiment\":{\"holdout\":0.5}"));
  offers_catalog_t *c = ofx_catalog(f);
  offers_keyring_t keys = test_keys(f);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 10000);
  int held = 0, shown = 0, n = 2000;
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "cust-%d", i);
    offers_decision_t d, again;
    ofx_decide(f, c, id, NULL, &cart.cart, OFX_NOW, (uint64_t)i, &keys, &d);
    ofx_decide(f, c, id, NULL, &cart.cart, OFX_NOW + 60, (uint64_t)i + 99, &keys, &again);
    assert_int_equal(d.n, 1);
    assert_int_equal(again.items[0].arm, d.items[0].arm); /* sticky */
    assert_string_equal(again.items[0].impression_id, d.items[0].impression_id); /* same hour */
    if (d.items[0].held_out) {
      held++;
      assert_int_equal(d.items[0].arm, 0);
      assert_string_equal(d.items[0].token, ""); /* the control gets nothing to redeem */
    } else {
      shown++;
      assert_true(strlen(d.items[0].token) > 0);
    }
  }
  /* Binomial(2000, 0.5): 4.5 standard deviations is 100. */
  assert_true(held > 900 && held < 1100);
  assert_int_equal(held + shown, n);
  /* The global holdout: about 10% see nothing at all. */
  int global = 0;
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "cust-%d", i);
    offers_decide_in_t in = {0};
    in.customer = id;
    in.cart = &cart.cart;
    in.now = OFX_NOW;
    in.global_holdout = 0.1;
    offers_decision_t d;
    perr_info_t e = {0};
    assert_int_equal(offers_decide(c, f->w, &in, &d, &e), 0);
    if (d.global_holdout) {
      global++;
      assert_int_equal(d.n, 0);
    }
  }
  assert_true(global > 140 && global < 260); /* 200 +- 4.7 sd */
  offers_catalog_free(c);
}

/* ---- tokens ----------------------------------------------------------------------- */

static offers_token_t sample_token(void) {
  offers_token_t t = {0};
  strcpy(t.offer_id, "o1");
  strcpy(t.customer, "c1");
  t.value = 10;
  strcpy(t.currency, "EUR");
  t.expires = OFX_NOW + 3600;
  strcpy(t.impression_id, "0123456789abcdef0123456789abcdef");
  t.arm = 1;
  return t;
}

static void test_tokens(void **state) {
  fx_t *f = *state;
  offers_keyring_t k = test_keys(f), again;
  perr_info_t e = {0};
  char path[256];
  snprintf(path, sizeof path, "%s/%s", f->dir, OFFERS_KEY_FILE);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(offers_keys_open(f->dir, false, 86400, &again, &e), 0);
  assert_memory_equal(again.current, k.current, OFFERS_KEY_BYTES);

  offers_token_t t = sample_token(), got;
  char tok[OFFERS_TOKEN_MAX];
  offers_refusal_t why;
  assert_int_equal(offers_token_encode(&k, &t, tok, &e), 0);
  assert_int_equal(offers_token_verify(&k, tok, "c1", OFX_NOW, &got, &why, &e), 0);
  assert_memory_equal(&got, &t, sizeof t);
  /* every character changed: refused as malformed or as a bad signature, never accepted */
  size_t n = strlen(tok);
  for (size_t i = 0; i < n; i++) {
    char bad[OFFERS_TOKEN_MAX];
    strcpy(bad, tok);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    assert_int_equal(offers_token_verify(&k, bad, "c1", OFX_NOW, &got, &why, &e), PERR_FORBIDDEN);
    assert_true(why == OFFERS_TOKEN_BAD_SIGNATURE || why == OFFERS_TOKEN_MALFORMED);
  }
  char cut[OFFERS_TOKEN_MAX];
  snprintf(cut, sizeof cut, "%.*s", (int)n - 3, tok);
  assert_int_equal(offers_token_verify(&k, cut, "c1", OFX_NOW, &got, &why, &e), PERR_FORBIDDEN);
  assert_int_equal(offers_token_verify(&k, "not a token!", "c1", OFX_NOW, &got, &why, &e),
                   PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_MALFORMED);
  /* another value signed by someone else's key */
  offers_keyring_t forger = k;
  forger.current[0] ^= 1;
  offers_token_t rich = t;
  rich.value = 100;
  assert_int_equal(offers_token_encode(&forger, &rich, cut, &e), 0);
  assert_int_equal(offers_token_verify(&k, cut, "c1", OFX_NOW, &got, &why, &e), PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_BAD_SIGNATURE);
  assert_non_null(strstr(e.message, "token_bad_signature"));
  /* expiry and another customer */
  assert_int_equal(offers_token_verify(&k, tok, "c1", t.expires, &got, &why, &e), PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_EXPIRED);
  assert_int_equal(offers_token_verify(&k, tok, "c2", OFX_NOW, &got, &why, &e), PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_WRONG_CUSTOMER);
  assert_string_equal(e.field, "token");

  /* rotation: the old key is accepted for one grace period, then refused as retired */
  assert_int_equal(offers_keys_rotate(f->dir, OFX_NOW, &k, &e), 0);
  assert_int_equal(offers_keys_open(f->dir, false, 86400, &again, &e), 0);
  assert_int_equal(again.current_id, k.current_id);
  assert_int_equal(again.previous_id, k.previous_id);
  assert_memory_not_equal(again.current, again.previous, OFFERS_KEY_BYTES);
  assert_int_equal(offers_token_verify(&again, tok, "c1", OFX_NOW + 100, &got, &why, &e), 0);
  offers_keyring_t late = again;
  late.rotated_at = OFX_NOW - 86400;
  assert_int_equal(offers_token_verify(&late, tok, "c1", OFX_NOW, &got, &why, &e),
                   PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_KEY_RETIRED);
  char fresh[OFFERS_TOKEN_MAX];
  assert_int_equal(offers_token_encode(&again, &t, fresh, &e), 0);
  assert_int_equal(offers_token_verify(&again, fresh, "c1", OFX_NOW, &got, &why, &e), 0);
  /* two rotations: the first key is gone */
  assert_int_equal(offers_keys_rotate(f->dir, OFX_NOW + 10, &again, &e), 0);
  assert_int_equal(offers_token_verify(&again, tok, "c1", OFX_NOW + 20, &got, &why, &e),
                   PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_BAD_SIGNATURE);
  assert_int_equal(offers_token_verify(&again, fresh, "c1", OFX_NOW + 20, &got, &why, &e), 0);
  /* a damaged key file is refused, not used */
  unsigned char junk[10] = "PTK1xxxxxx";
  fx_write_file(path, junk, sizeof junk);
  assert_int_equal(offers_keys_open(f->dir, true, 86400, &again, &e), PERR_UNAVAILABLE);
}

/* The ring of a shared store (a record, docs/SCALEOUT.md section 5): stored once, then kept
 * against another seed; rotated from the stored ring, not the caller's; tokens of the
 * previous key verify with the rotated ring; a damaged record is refused. */
static void test_stored_ring(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  offers_keyring_t first, other, got, rotated, file_ring = test_keys(f);
  assert_int_equal(offers_keys_load(f->w, 86400, &got, &e), PERR_NOT_FOUND);
  bool created;
  assert_int_equal(offers_keys_ensure(f->w, NULL, 86400, &first, &created, &e), 0);
  assert_true(created);
  assert_int_equal((int)first.current_id, 1);
  assert_int_equal((int)first.previous_id, 0);
  assert_memory_not_equal(first.current, file_ring.current, OFFERS_KEY_BYTES);
  /* the first ring stays: a later node's seed (its key file) does not replace it */
  assert_int_equal(offers_keys_ensure(f->w, &file_ring, 3600, &other, &created, &e), 0);
  assert_false(created);
  assert_memory_equal(other.current, first.current, OFFERS_KEY_BYTES);
  assert_int_equal((int)other.grace_s, 3600); /* the grace is the reader's, not stored */
  offers_token_t t = sample_token(), tk;
  char tok[OFFERS_TOKEN_MAX];
  offers_refusal_t why;
  assert_int_equal(offers_token_encode(&first, &t, tok, &e), 0);
  /* rotate: from the stored ring (the fallback, another ring, is not used) */
  assert_int_equal(offers_keys_rotate_stored(f->w, OFX_NOW, &file_ring, &rotated, &e), 0);
  assert_int_equal((int)rotated.current_id, 2);
  assert_int_equal((int)rotated.previous_id, 1);
  assert_memory_equal(rotated.previous, first.current, OFFERS_KEY_BYTES);
  assert_int_equal(offers_keys_load(f->w, 86400, &got, &e), 0);
  assert_memory_equal(got.current, rotated.current, OFFERS_KEY_BYTES);
  assert_int_equal(got.rotated_at, OFX_NOW);
  assert_int_equal(offers_token_verify(&got, tok, "c1", OFX_NOW + 60, &tk, &why, &e), 0);
  assert_int_equal(offers_token_verify(&got, tok, "c1", OFX_NOW + 86400, &tk, &why, &e),
                   PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_KEY_RETIRED);
  /* a damaged record: refused, not used */
  assert_int_equal(store_put(f->w, STORE_T_META, "offers_keyring", 14, "PTK1xx", 6), 0);
  assert_int_equal(offers_keys_load(f->w, 86400, &got, &e), PERR_UNAVAILABLE);
  assert_int_equal(offers_keys_ensure(f->w, NULL, 86400, &got, &created, &e), PERR_UNAVAILABLE);
}

/* ---- seeding from a key file: a fresh store takes the file's ring as it is ---- */
static void test_stored_ring_seeded(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  offers_keyring_t file_ring = test_keys(f), got;
  bool created;
  assert_int_equal(offers_keys_rotate(f->dir, OFX_NOW, &file_ring, &e), 0); /* ids 2 and 1 */
  assert_int_equal(offers_keys_ensure(f->w, &file_ring, 86400, &got, &created, &e), 0);
  assert_true(created);
  assert_int_equal(offers_keys_load(f->w, 86400, &got, &e), 0);
  assert_int_equal((int)got.current_id, 2);
  assert_memory_equal(got.current, file_ring.current, OFFERS_KEY_BYTES);
  assert_memory_equal(got.previous, file_ring.previous, OFFERS_KEY_BYTES);
  assert_int_equal(got.rotated_at, file_ring.rotated_at);
}

/* ---- redemption ------------------------------------------------------------------- */

static void make_token(const offers_keyring_t *k, const char *customer, int n, int64_t now,
                       char *out) {
  offers_token_t t = sample_token();
  t.expires = now + 3600;
  strcpy(t.customer, customer);
  snprintf(t.impression_id, sizeof t.impression_id, "imp%d", n);
  perr_info_t e = {0};
  assert_int_equal(offers_token_encode(k, &t, out, &e), 0);
}

typedef struct attempt_s {
  char key[32], customer[16], token[OFFERS_TOKEN_MAX];
  int64_t cart;
  int rc;
  offers_redeem_out_t out;
} attempt_t;

static void test_redeem_property(void **state) {
  fx_t *f = *state;
  /* 10% off; 40 redemptions and 12000 minor units in total; 2 a customer a day */
  ofx_set(f, O1(",\"budget\":{\"redemptions\":40,\"money\":12000},"
                "\"caps\":{\"redeemed\":2,\"period\":\"day\"},\"token_ttl_s\":864000"));
  offers_keyring_t k = test_keys(f);
  enum { OPS = 400, CUSTOMERS = 4 };
  attempt_t *done = calloc(OPS, sizeof *done);
  int64_t m_red = 0, m_money = 0, m_cap[CUSTOMERS][40] = {{0}};
  uint64_t rs = 42;
  int nd = 0, ok = 0, replays = 0, n_cap = 0, n_budget = 0;
  for (int op = 0; op < OPS; op++) {
    int64_t now = OFX_NOW + op * 3000; /* 400 ops span about two weeks: the daily cap resets */
    if (nd && ofx_rand(&rs) % 3 == 0) { /* replay an earlier request: the first answer */
      attempt_t *a = &done[ofx_rand(&rs) % (uint64_t)nd];
      if (a->rc != 0) continue; /* a refusal stores nothing: only answers are replayed */
      ofx_cart_t cart;
      ofx_cart(&cart, "EUR", a->cart);
      offers_redeem_in_t in = {a->token, a->customer, &cart.cart, NULL, a->key, now};
      offers_redeem_out_t out;
      offers_refusal_t why;
      perr_info_t e = {0};
      assert_int_equal(offers_redeem(f->w, &k, &in, &out, &why, &e), 0);
      assert_true(out.replay);
      assert_int_equal(out.discount, a->out.discount);
      assert_string_equal(out.offer_id, "o1");
      replays++;
      continue;
    }
    attempt_t *a = &done[nd++];
    int c = (int)(ofx_rand(&rs) % CUSTOMERS);
    snprintf(a->customer, sizeof a->customer, "cust%d", c);
    snprintf(a->key, sizeof a->key, "key-%d", op);
    make_token(&k, a->customer, op, now, a->token);
    a->cart = 1000 + (int64_t)(ofx_rand(&rs) % 5000);
    ofx_cart_t cart;
    ofx_cart(&cart, "EUR", a->cart);
    offers_redeem_in_t in = {a->token, a->customer, &cart.cart, NULL, a->key, now};
    offers_refusal_t why;
    perr_info_t e = {0};
    a->rc = offers_redeem(f->w, &k, &in, &a->out, &why, &e);
    /* the independent model */
    int64_t disc = a->cart / 10;
    int64_t dayidx = now / 86400 - OFX_NOW / 86400;
    offers_refusal_t want = OFFERS_OK;
    if (m_red + 1 > 40 || m_money + disc > 12000) want = OFFERS_BUDGET_EXHAUSTED;
    else if (m_cap[c][dayidx] + 1 > 2) want = OFFERS_CAP_REACHED;
    if (want == OFFERS_OK) {
      assert_int_equal(a->rc, 0);
      assert_int_equal(a->out.discount, disc);
      m_red++, m_money += disc, m_cap[c][dayidx]++, ok++;
    } else {
      assert_int_equal(a->rc, PERR_CONFLICT);
      assert_int_equal(why, want);
      n_cap += want == OFFERS_CAP_REACHED;
      n_budget += want == OFFERS_BUDGET_EXHAUSTED;
    }
    if (op % 50 == 49) fx_commit(f);
  }
  offer_t o;
  offers_report_t r;
  perr_info_t e = {0};
  assert_int_equal(offers_get(f->w, "o1", &o, &e), 0);
  assert_int_equal(offers_report(f->w, &o, &r, &e), 0);
  assert_int_equal(r.redemptions, m_red);
  assert_int_equal(r.money_spent, m_money);
  assert_true(r.redemptions <= 40 && r.money_spent <= 12000);
  assert_int_equal(r.arms[1].discount_cost, m_money);
  assert_true(ok >= 20 && replays > 10);
  assert_true(n_cap > 0 && n_budget > 0); /* both limits were exercised */
  offers_clear(&o);
  free(done);
}

static void test_redeem_last_unit_and_refusals(void **state) {
  fx_t *f = *state;
  ofx_set(f, O1(",\"budget\":{\"redemptions\":1}"));
  offers_keyring_t k = test_keys(f);
  char t1[OFFERS_TOKEN_MAX], t2[OFFERS_TOKEN_MAX];
  make_token(&k, "c1", 1, OFX_NOW, t1);
  make_token(&k, "c1", 2, OFX_NOW, t2);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 5000);
  offers_redeem_out_t out;
  offers_refusal_t why;
  perr_info_t e = {0};
  offers_redeem_in_t in = {t1, "c1", &cart.cart, NULL, "k1", OFX_NOW};
  /* refusals first: they change nothing */
  dump_t before = dump(f->w);
  offers_redeem_in_t other = in;
  other.customer = "c2";
  assert_int_equal(offers_redeem(f->w, &k, &other, &out, &why, &e), PERR_FORBIDDEN);
  assert_int_equal(why, OFFERS_TOKEN_WRONG_CUSTOMER);
  ofx_cart_t usd;
  ofx_cart(&usd, "USD", 5000);
  other = in;
  other.cart = &usd.cart;
  assert_int_equal(offers_redeem(f->w, &k, &other, &out, &why, &e), PERR_CONFLICT);
  assert_int_equal(why, OFFERS_CART_MISMATCH);
  assert_same_dump(before, dump(f->w));
  /* two redeems for the last unit in one write txn: one succeeds */
  assert_int_equal(offers_redeem(f->w, &k, &in, &out, &why, &e), 0);
  assert_int_equal(out.redemptions_left, 0);
  assert_int_equal(out.discount, 500);
  offers_redeem_in_t in2 = {t2, "c1", &cart.cart, NULL, "k2", OFX_NOW};
  before = dump(f->w);
  assert_int_equal(offers_redeem(f->w, &k, &in2, &out, &why, &e), PERR_CONFLICT);
  assert_int_equal(why, OFFERS_BUDGET_EXHAUSTED);
  assert_non_null(strstr(e.message, "budget_exhausted"));
  /* the same key with another token: a conflict; the same token under another key: used */
  offers_redeem_in_t reuse = {t2, "c1", &cart.cart, NULL, "k1", OFX_NOW};
  assert_int_equal(offers_redeem(f->w, &k, &reuse, &out, &why, &e), PERR_CONFLICT);
  assert_int_equal(why, OFFERS_IDEMPOTENCY_CONFLICT);
  offers_redeem_in_t again = {t1, "c1", &cart.cart, NULL, "k3", OFX_NOW};
  assert_int_equal(offers_redeem(f->w, &k, &again, &out, &why, &e), PERR_CONFLICT);
  assert_int_equal(why, OFFERS_TOKEN_USED);
  assert_same_dump(before, dump(f->w));
  /* the replay survives a commit */
  fx_commit(f);
  assert_int_equal(offers_redeem(f->w, &k, &in, &out, &why, &e), 0);
  assert_true(out.replay);
  assert_int_equal(out.discount, 500);
}

/* ---- events and attribution ------------------------------------------------------- */

static void test_attribution_idempotent(void **state) {
  fx_t *f = *state;
  ofx_set(f, O1(",\"attribution_window_s\":3600"));
  ofx_set(f, "{\"id\":\"usd\",\"kind\":\"amount_off\",\"value\":100,\"currency\":\"USD\"}");
  ofx_impression(f, "i1", "o1", "c1", 1, OFX_NOW);
  ofx_impression(f, "i2", "usd", "c1", 1, OFX_NOW);
  ofx_impression(f, "i1", "o1", "c1", 1, OFX_NOW); /* replay */
  ofx_impression(f, "i3", "o1", "c2", 0, OFX_NOW); /* holdout */
  int linked;
  bool replay;
  perr_info_t e = {0};
  /* before the exposure and after the window: not linked */
  assert_int_equal(offers_attribute_order(f->w, "early", "c1", OFX_NOW - 1, 999, "EUR", &linked,
                                          &replay, &e), 0);
  assert_int_equal(linked, 0);
  assert_int_equal(offers_attribute_order(f->w, "late", "c1", OFX_NOW + 3601, 999, "EUR", &linked,
                                          &replay, &e), 0);
  assert_int_equal(linked, 0);
  assert_int_equal(offers_attribute_order(f->w, "ord1", "c1", OFX_NOW + 60, 3000, "EUR", &linked,
                                          &replay, &e), 0);
  assert_int_equal(linked, 1); /* the USD offer is not credited with a EUR order */
  assert_false(replay);
  assert_int_equal(offers_attribute_order(f->w, "ord1", "c1", OFX_NOW + 60, 3000, "EUR", &linked,
                                          &replay, &e), 0);
  assert_true(replay);
  assert_int_equal(linked, 0);
  assert_int_equal(offers_attribute_order(f->w, "ord2", "c1", OFX_NOW + 120, 1000, "EUR", &linked,
                                          &replay, &e), 0);
  assert_int_equal(offers_attribute_order(f->w, "ord3", "c2", OFX_NOW + 120, 500, "EUR", &linked,
                                          &replay, &e), 0);
  assert_int_equal(linked, 1);
  offer_t o;
  offers_report_t r;
  assert_int_equal(offers_get(f->w, "o1", &o, &e), 0);
  assert_int_equal(offers_report(f->w, &o, &r, &e), 0);
  assert_int_equal(r.narms, 2);
  assert_int_equal(r.arms[1].exposures, 1);
  assert_int_equal(r.arms[1].conversions, 1); /* one customer, two orders */
  assert_int_equal(r.arms[1].revenue, 4000);
  assert_true(r.arms[1].revenue_sumsq == 4000.0 * 4000.0);
  assert_int_equal(r.arms[0].exposures, 1);
  assert_int_equal(r.arms[0].revenue, 500);
  assert_true(r.has_compare[1]);
  offers_clear(&o);
  /* an event key reused for another event is a conflict */
  offers_event_t ev = {OFFERS_EV_CLICK, "i1", "o1", "c1", 1, OFX_NOW, 0};
  assert_int_equal(offers_event(f->w, &ev, &replay, &e), PERR_CONFLICT);
  ev.offer_id = "nope";
  ev.idempotency_key = "x";
  assert_int_equal(offers_event(f->w, &ev, &replay, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "offer_id");
  ev.offer_id = "o1";
  ev.arm = 5;
  assert_int_equal(offers_event(f->w, &ev, &replay, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "arm");
}

/* The global holdout: customers who never see an offer against those who pass through the
 * engine, with a known effect of the engine (conversion 0.10 -> 0.30). */
static void test_global_holdout(void **state) {
  fx_t *f = *state;
  ofx_set(f, O1(""));
  offers_catalog_t *c = ofx_catalog(f);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 10000);
  uint64_t rs = 3;
  perr_info_t e = {0};
  int n = 3000, held = 0;
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "g%d", i);
    offers_decide_in_t in = {0};
    in.customer = id;
    in.cart = &cart.cart;
    in.now = OFX_NOW;
    in.global_holdout = 0.2;
    offers_decision_t d;
    assert_int_equal(offers_decide(c, f->w, &in, &d, &e), 0);
    assert_int_equal(offers_global_exposure(f->w, id, d.global_holdout, "EUR", OFX_NOW, &e), 0);
    assert_int_equal(offers_global_exposure(f->w, id, !d.global_holdout, "EUR", OFX_NOW + 5, &e),
                     0); /* sticky: the first arm stays, no second exposure */
    held += d.global_holdout;
    if (!d.global_holdout) {
      assert_int_equal(d.n, 1);
      ofx_impression(f, id, "o1", id, 1, OFX_NOW);
    }
    if (ofx_unif(&rs) < (d.global_holdout ? 0.10 : 0.30)) {
      int linked;
      bool replay;
      assert_int_equal(offers_attribute_order(f->w, id, id, OFX_NOW + 60, 5000, "EUR", &linked,
                                              &replay, &e), 0);
      assert_int_equal(linked, d.global_holdout ? 1 : 2); /* the engine arm and the offer */
    }
  }
  offers_report_t r;
  assert_int_equal(offers_global_report(f->w, "EUR", 0.2, &r, &e), 0);
  assert_int_equal(r.arms[0].exposures, held);
  assert_int_equal(r.arms[0].exposures + r.arms[1].exposures, n);
  assert_true(r.has_compare[1]);
  const stats_effect_t *ce = &r.compare[1].conv_abs;
  assert_true(ce->lower > 0.10 && ce->upper < 0.30); /* true effect 0.20 */
  assert_true(ce->lower <= 0.20 && 0.20 <= ce->upper);
  assert_true(r.has_srm);
  assert_false(r.srm_flag);
  assert_int_equal(offers_global_report(f->w, "EUX", 0.2, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "currency");
  offers_catalog_free(c);
}


/* ---- what offers.decide skips or reuses ------------------------------------------- */

/* The attributes a catalogue reads (the daemon computes only these), a customer's sticky
 * arms read in one range (and, past the range's capacity of 32 rows, one by one), and
 * tokens signed through a reused signer: identical to freshly fetched ones. */
static void test_decide_fast_paths(void **state) {
  fx_t *f = *state;
  ofx_set(f, "{\"id\":\"r1\"," BASE ",\"rule\":{\"$or\":[{\"tier\":\"gold\"},{\"$not\":"
             "{\"seg.x\":1}}],\"basket\":{\"$elemMatch\":{\"sku\":\"a\"}}}}");
  offers_catalog_t *c = ofx_catalog(f);
  const char *used[] = {"tier", "seg", "basket", "margin_rate", "predicted_clv", "p_alive",
                        "churn_risk"};
  for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
    if (!offers_catalog_uses(c, used[i])) fail_msg("%s should be used", used[i]);
  assert_false(offers_catalog_uses(c, "sku")); /* an element's field, not an attribute */
  assert_false(offers_catalog_uses(c, "seg.x"));
  assert_false(offers_catalog_uses(c, "points"));
  offers_catalog_free(c);
  /* equal rules (keys in another order) share one slot, evaluated once per decision */
  ofx_set(f, "{\"id\":\"q1\"," BASE ",\"stackable\":true,\"rule\":{\"a\":1,\"b\":{\"$gt\":2}}}");
  ofx_set(f, "{\"id\":\"q2\"," BASE ",\"stackable\":true,\"rule\":{\"b\":{\"$gt\":2},\"a\":1}}");
  ofx_set(f, "{\"id\":\"q3\"," BASE ",\"stackable\":true,\"rule\":{\"a\":1,\"b\":{\"$gt\":3}}}");
  c = ofx_catalog(f);
  assert_int_equal(c->n, 4);
  assert_int_equal(c->nrule_slots, 3); /* r1, q1 = q2, q3 */
  assert_int_equal(c->offers[0].rule_slot, c->offers[1].rule_slot); /* ids in order: q1 q2 q3 r1 */
  assert_true(c->offers[0].rule_slot != c->offers[2].rule_slot);
  {
    ofx_cart_t one;
    ofx_cart(&one, "EUR", 10000);
    offers_decision_t d;
    json_t *attrs = json_pack("{sisi}", "a", 1, "b", 3);
    ofx_decide(f, c, "c1", attrs, &one.cart, OFX_NOW, 1, NULL, &d);
    assert_int_equal(d.n, 2);
    assert_true(strcmp(d.items[0].offer_id, "q3") && strcmp(d.items[1].offer_id, "q3"));
    json_object_set_new(attrs, "b", json_integer(4));
    ofx_decide(f, c, "c1", attrs, &one.cart, OFX_NOW, 1, NULL, &d);
    assert_int_equal(d.n, 3);
    json_decref(attrs);
  }
  offers_catalog_free(c);
  for (int i = 1; i <= 3; i++) {
    char id[4];
    snprintf(id, sizeof id, "q%d", i);
    assert_int_equal(offers_archive(f->w, id, true, OFX_NOW, &(perr_info_t){0}), 0);
  }
  /* 40 offers split 50/50 between two variants of the same value; the 5 with i % 8 == 0
   * cost less (value 1), so they rank first */
  for (int i = 0; i < 40; i++) {
    char def[512];
    int v = i % 8 ? 10 : 1;
    snprintf(def, sizeof def,
             "{\"id\":\"s%02d\",\"kind\":\"percent_off\",\"value\":%d,\"currency\":\"EUR\","
             "\"stackable\":true,\"experiment\":{\"variants\":[{\"id\":\"a\",\"value\":%d},"
             "{\"id\":\"b\",\"value\":%d}]}}",
             i, v, v, v);
    ofx_set(f, def);
  }
  c = ofx_catalog(f);
  offers_keyring_t keys = test_keys(f);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 10000);
  /* the arms hashing gives ("many": the top 16, "few": the top 5) */
  int hashed_many[40] = {0}, hashed_few[40] = {0};
  offers_decision_t d;
  ofx_decide(f, c, "many", NULL, &cart.cart, OFX_NOW, 1, &keys, &d);
  assert_int_equal(d.n, OFFERS_DECIDE_MAX);
  for (size_t i = 0; i < d.n; i++) hashed_many[atoi(d.items[i].offer_id + 1)] = d.items[i].arm;
  offers_decide_in_t few = {.customer = "few", .cart = &cart.cart, .now = OFX_NOW, .seed = 1,
                            .max_offers = 5, .keys = &keys};
  perr_info_t e = {0};
  assert_int_equal(offers_decide(c, f->w, &few, &d, &e), 0);
  assert_int_equal(d.n, 5);
  for (size_t i = 0; i < d.n; i++) hashed_few[atoi(d.items[i].offer_id + 1)] = d.items[i].arm;
  /* both are then exposed in the other arm: "many" to all 40 (more rows than one range
   * holds: read one by one), "few" to its 5 (read in one range) */
  for (int i = 0; i < 40; i++) {
    char offer[8], key[32];
    snprintf(offer, sizeof offer, "s%02d", i);
    snprintf(key, sizeof key, "imp-many-%d", i);
    ofx_impression(f, key, offer, "many", hashed_many[i] ? 3 - hashed_many[i] : 1, OFX_NOW);
    if (hashed_few[i]) {
      snprintf(key, sizeof key, "imp-few-%d", i);
      ofx_impression(f, key, offer, "few", 3 - hashed_few[i], OFX_NOW);
    }
  }
  ofx_decide(f, c, "many", NULL, &cart.cart, OFX_NOW + 60, 2, &keys, &d);
  assert_int_equal(d.n, OFFERS_DECIDE_MAX);
  for (size_t i = 0; i < d.n; i++) {
    int k = atoi(d.items[i].offer_id + 1);
    assert_true(hashed_many[k] != 0);
    assert_int_equal(d.items[i].arm, 3 - hashed_many[k]); /* sticky, not hashed */
  }
  few.now = OFX_NOW + 60;
  assert_int_equal(offers_decide(c, f->w, &few, &d, &e), 0);
  assert_int_equal(d.n, 5);
  for (size_t i = 0; i < d.n; i++) {
    int k = atoi(d.items[i].offer_id + 1);
    assert_true(hashed_few[k] != 0);
    assert_int_equal(d.items[i].arm, 3 - hashed_few[k]);
  }
  /* the same decision with a signer: byte-identical tokens, verified, across a rotation */
  offers_signer_t *signer = offers_signer_new();
  assert_non_null(signer);
  for (int round = 0; round < 2; round++) {
    offers_decision_t plain, signed_;
    offers_decide_in_t in = {.customer = "few", .cart = &cart.cart, .now = OFX_NOW,
                             .seed = 5, .keys = &keys};
    assert_int_equal(offers_decide(c, f->w, &in, &plain, &e), 0);
    in.signer = signer;
    assert_int_equal(offers_decide(c, f->w, &in, &signed_, &e), 0);
    assert_int_equal(plain.n, signed_.n);
    for (size_t i = 0; i < plain.n; i++) {
      assert_string_equal(plain.items[i].token, signed_.items[i].token);
      assert_string_equal(plain.items[i].impression_id, signed_.items[i].impression_id);
      offers_refusal_t why;
      assert_int_equal(offers_token_verify(&keys, signed_.items[i].token, "few", OFX_NOW, NULL,
                                           &why, &e), 0);
    }
    assert_int_equal(offers_keys_rotate(f->dir, OFX_NOW, &keys, &e), 0); /* a new key */
  }
  offers_signer_free(signer);
  offers_catalog_free(c);
}

/* offers.decide through a counters memo answers exactly as without it after every change
 * of the counters it keeps: impressions and a conversion (arm counters: the uplift), a
 * redemption (the budget: the offer goes), and a store whose counters have no stamp (written
 * by a version before it) is read directly. */
static void assert_memo_same(fx_t *f, const offers_catalog_t *c, offers_counter_memo_t *m,
                             const char *customer, const offers_cart_t *cart, size_t want_n) {
  offers_decision_t a, b;
  offers_decide_in_t in = {.customer = customer, .cart = cart, .now = OFX_NOW, .seed = 3};
  perr_info_t e = {0};
  in.counters = m;
  assert_int_equal(offers_decide(c, f->w, &in, &a, &e), 0);
  in.counters = NULL;
  assert_int_equal(offers_decide(c, f->w, &in, &b, &e), 0);
  assert_int_equal(a.n, want_n);
  assert_int_equal(b.n, want_n);
  for (size_t i = 0; i < a.n; i++) {
    assert_string_equal(a.items[i].offer_id, b.items[i].offer_id);
    assert_int_equal(a.items[i].arm, b.items[i].arm);
    assert_true(a.items[i].uplift == b.items[i].uplift);
    assert_true(a.items[i].expected_value == b.items[i].expected_value);
  }
}

static void test_decide_counter_memo(void **state) {
  fx_t *f = *state;
  ofx_set(f, O1(",\"budget\":{\"redemptions\":2}"));
  offers_catalog_t *c = ofx_catalog(f);
  offers_counter_memo_t *m = offers_counter_memo_new();
  assert_non_null(m);
  ofx_cart_t cart;
  ofx_cart(&cart, "EUR", 10000);
  assert_memo_same(f, c, m, "c1", &cart.cart, 1);
  double before;
  {
    offers_decision_t d;
    offers_decide_in_t in = {.customer = "c1", .cart = &cart.cart, .now = OFX_NOW, .seed = 3,
                             .counters = m};
    assert_int_equal(offers_decide(c, f->w, &in, &d, &(perr_info_t){0}), 0);
    before = d.items[0].uplift;
  }
  for (int i = 0; i < 5; i++) { /* exposures of arm 1, one converts: the uplift moves */
    char key[16], who[16];
    snprintf(key, sizeof key, "imp-%d", i);
    snprintf(who, sizeof who, "x%d", i);
    ofx_impression(f, key, "o1", who, 1, OFX_NOW);
  }
  offers_event_t conv = {OFFERS_EV_ORDER, "ord-1", "o1", "x0", 1, OFX_NOW, 5000};
  bool replay;
  assert_int_equal(offers_event(f->w, &conv, &replay, &(perr_info_t){0}), 0);
  assert_memo_same(f, c, m, "c1", &cart.cart, 1);
  {
    offers_decision_t d;
    offers_decide_in_t in = {.customer = "c1", .cart = &cart.cart, .now = OFX_NOW, .seed = 3,
                             .counters = m};
    assert_int_equal(offers_decide(c, f->w, &in, &d, &(perr_info_t){0}), 0);
    assert_true(d.items[0].uplift != before);
  }
  offers_refusal_t why;
  assert_int_equal(redeem_once(f, "o1", "r1", "k-1", 10000, &why), 0);
  assert_memo_same(f, c, m, "c1", &cart.cart, 1);
  assert_int_equal(redeem_once(f, "o1", "r2", "k-2", 10000, &why), 0);
  assert_memo_same(f, c, m, "c1", &cart.cart, 0); /* the budget is spent */
  /* counters written without a stamp: the memo must not answer from what it holds */
  ofx_set(f, "{\"id\":\"o2\"," BASE ",\"budget\":{\"redemptions\":1}}");
  offers_catalog_free(c);
  c = ofx_catalog(f);
  assert_memo_same(f, c, m, "c1", &cart.cart, 1); /* o2 now in the memo */
  assert_int_equal(store_del(f->w, STORE_T_OFFER_COUNTS, "g", 1), 0);
  static const unsigned char used[] = {'B', 1, 2, 0}; /* sv 1 redemption, sv 0 money */
  assert_int_equal(store_put(f->w, STORE_T_OFFER_COUNTS, "bo2", 3, used, sizeof used), 0);
  assert_memo_same(f, c, m, "c1", &cart.cart, 0);
  offers_counter_memo_free(m);
  offers_catalog_free(c);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_validation_names_field), T(test_decide_counter_memo),   T(test_round_trip_list_archive),
      T(test_decide_constraints),       T(test_decide_holdouts),
      T(test_tokens),                   T(test_redeem_property),
      T(test_redeem_last_unit_and_refusals), T(test_attribution_idempotent),
      T(test_global_holdout),           T(test_decide_fast_paths),
      T(test_stored_ring),              T(test_stored_ring_seeded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
