/* test_offers_attrs.c -- offers.decide's attribute shortcuts give exactly what the paths they
 * replaced gave:
 * - a shop attribute sent as a msgpack scalar, typed (mp_scalar_value, then
 *   offers_attrs_set_shop_typed, its JSON made only when read as JSON), against the same
 *   attribute converted by mp_to_json and set as JSON (offers_attrs_set_shop): every slot's
 *   typed value and JSON value, and whole decisions (rules and the ranking's margin_rate,
 *   p_alive, churn_risk from the shop), over random scalars of every msgpack type (integers at
 *   the int64 edges and beyond, float32/float64 with -0, NaN and infinities, strings empty,
 *   non-ASCII, not UTF-8, holding a NUL) and arrays/maps, a slot set twice either way, and
 *   shop values for Patron's own attributes (those stay JSON). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fixture.h"
#include "offers_fixture.h"
#include "offers_types.h"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-oat-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

/* Rules over shop attributes (and one Patron attribute a shop may also send), every offer
 * stackable so most are decided at once. */
static const char *const RULES[] = {
    "{\"channel\":\"web\"}",
    "{\"channel\":{\"$in\":[\"app\",\"\"]}}",
    "{\"margin_rate\":{\"$gt\":0.2}}",
    "{\"device\":{\"$exists\":true}}",
    "{\"score\":{\"$gte\":3}}",
    "{\"score\":{\"$lt\":-1}}",
    "{\"vip\":true}",
    "{\"vip\":{\"$ne\":null}}",
    "{\"channel\":{\"$regex\":\"^w\"}}",
    "{\"device.os\":\"ios\"}",
    "{\"score\":\"3\"}",
    "{\"tier\":{\"$exists\":false}}",
    "{\"channel\":{\"$gt\":\"m\"}}",
    "{\"margin_rate\":{\"$type\":\"number\"}}",
};
#define NRULES (sizeof RULES / sizeof RULES[0])

static const char *const NAMES[] = {"channel", "margin_rate", "device", "score", "vip",
                                    "p_alive", "churn_risk", "tier", "unused"};
#define NNAMES (sizeof NAMES / sizeof NAMES[0])

/* One random msgpack value of any type (strings point into buf, arrays/maps into kids). */
static void random_mp(uint64_t *s, msgpack_object *o, char *buf, msgpack_object *kids,
                      msgpack_object_kv *kvs) {
  static const char *const strs[] = {"web", "app", "", "w\xc3\xa9" "b", "w\xff", "ios", "3",
                                     "zzz"};
  memset(o, 0, sizeof *o);
  switch (ofx_rand(s) % 9) {
  case 0: o->type = MSGPACK_OBJECT_NIL; break;
  case 1: o->type = MSGPACK_OBJECT_BOOLEAN, o->via.boolean = ofx_rand(s) % 2; break;
  case 2: {
    static const uint64_t edges[] = {0, 1, 3, 5, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
                                     UINT64_MAX};
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = ofx_rand(s) % 2 ? edges[ofx_rand(s) % 7] : ofx_rand(s) % 10;
    break;
  }
  case 3:
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = ofx_rand(s) % 3 ? -(int64_t)(1 + ofx_rand(s) % 5) : INT64_MIN;
    break;
  case 4:
  case 5: {
    static const double edges[] = {0.0, -0.0, 0.25, 0.5, 3.0, -2.5, 1e300, INFINITY, -INFINITY,
                                   NAN};
    o->type = ofx_rand(s) % 2 ? MSGPACK_OBJECT_FLOAT64 : MSGPACK_OBJECT_FLOAT32;
    o->via.f64 = ofx_rand(s) % 2 ? edges[ofx_rand(s) % 10] : ofx_unif(s);
    break;
  }
  case 6: {
    const char *t = strs[ofx_rand(s) % 8];
    size_t n = strlen(t);
    memcpy(buf, t, n + 1);
    if (ofx_rand(s) % 8 == 0) buf[n++] = 0, buf[n++] = 'x'; /* a NUL inside */
    o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = buf, o->via.str.size = (uint32_t)n;
    break;
  }
  case 7: /* ["ios"] */
    kids[0].type = MSGPACK_OBJECT_STR, kids[0].via.str.ptr = "ios", kids[0].via.str.size = 3;
    o->type = MSGPACK_OBJECT_ARRAY, o->via.array.ptr = kids, o->via.array.size = 1;
    break;
  default: /* {"os": "ios"|"android"} */
    kvs[0].key.type = MSGPACK_OBJECT_STR, kvs[0].key.via.str.ptr = "os";
    kvs[0].key.via.str.size = 2;
    kvs[0].val.type = MSGPACK_OBJECT_STR;
    kvs[0].val.via.str.ptr = ofx_rand(s) % 2 ? "ios" : "android";
    kvs[0].val.via.str.size = (uint32_t)strlen(kvs[0].val.via.str.ptr);
    o->type = MSGPACK_OBJECT_MAP, o->via.map.ptr = kvs, o->via.map.size = 1;
  }
}

static void assert_same_value(const condition_value_t *a, const condition_value_t *b) {
  assert_int_equal(a->type, b->type);
  switch (a->type) {
  case CONDITION_VALUE_BOOL: assert_int_equal(a->b, b->b); break;
  case CONDITION_VALUE_INT: assert_int_equal(a->i, b->i); break;
  case CONDITION_VALUE_REAL: assert_memory_equal(&a->d, &b->d, sizeof a->d); break;
  case CONDITION_VALUE_STR:
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->s, b->s, a->n);
    break;
  case CONDITION_VALUE_JSON: assert_true(json_equal(a->json, b->json)); break;
  default: break;
  }
}

/* One shop value into both attribute sets: typed where mp_scalar_value and the slot allow,
 * else through mp_to_json, in `typed`; always through mp_to_json in `json`. *typed_count
 * counts the typed ones; a conversion error is the request's error either way. */
static bool set_both(arena_t *ar, offers_attrs_t *typed, offers_attrs_t *json, size_t slot,
                     const msgpack_object *o, size_t *typed_count) {
  perr_info_t e = {0};
  json_t *j = mp_to_json(o, "attributes", &e);
  condition_value_t v;
  if (mp_scalar_value(ar, o, &v) && offers_attrs_set_shop_typed(typed, slot, &v)) {
    assert_non_null(j); /* typed only what converts */
    ++*typed_count;
  } else if (j) {
    offers_attrs_set_shop(typed, slot, json_incref(j));
  }
  if (!j) return false;
  offers_attrs_set_shop(json, slot, j);
  return true;
}

static void test_shop_scalars_typed(void **st) {
  fx_t *f = *st;
  for (size_t i = 0; i < NRULES; i++) {
    char def[512];
    snprintf(def, sizeof def,
             "{\"id\":\"t%02zu\",\"kind\":\"amount_off\",\"value\":300,\"currency\":\"EUR\","
             "\"rule\":%s,\"stackable\":true,\"priority\":%zu,\"experiment\":{\"holdout\":0.2,"
             "\"variants\":[{\"id\":\"a\",\"value\":300},{\"id\":\"b\",\"value\":500}]}}",
             i, RULES[i], i % 3);
    ofx_set(f, def);
  }
  ofx_set(f, "{\"id\":\"u00\",\"kind\":\"amount_off\",\"value\":200,\"currency\":\"EUR\","
             "\"stackable\":true}"); /* no rule: ranked by the worth of the cart alone */
  offers_catalog_t *c = ofx_catalog(f);
  arena_t ar;
  arena_init(&ar, 0);
  uint64_t s = 0xa77;
  size_t typed_count = 0, refused = 0, decided = 0;
  offers_cart_item_t item = {"mug-1", "kitchen", 2, 1250};
  offers_cart_t cart = {2500, "EUR", &item, 1};
  for (int trial = 0; trial < 4000; trial++) {
    offers_attrs_t a, b;
    assert_int_equal(offers_attrs_init(&a, c, "c-1", &cart, OFX_NOW, NULL, NULL), 0);
    assert_int_equal(offers_attrs_init(&b, c, "c-1", &cart, OFX_NOW, NULL, NULL), 0);
    char bufs[2 * NNAMES][16];
    msgpack_object kids[2 * NNAMES];
    msgpack_object_kv kvs[2 * NNAMES];
    bool ok = true;
    for (size_t k = 0; k < 2 * NNAMES && ok; k++) { /* some names twice: the last one stands */
      if (ofx_rand(&s) % 3 == 0) continue;
      int slot = offers_catalog_slot(c, NAMES[k % NNAMES]);
      if (slot < 0) continue;
      msgpack_object o;
      random_mp(&s, &o, bufs[k], &kids[k], &kvs[k]);
      ok = set_both(&ar, &a, &b, (size_t)slot, &o, &typed_count);
    }
    if (!ok) { /* mp_to_json refused a value: the request fails, either way */
      refused++;
    } else {
      for (int round = 0; round < 2; round++) { /* typed first, then JSON read too */
        for (size_t slot = 0; slot < c->nattrs; slot++) {
          condition_value_t x = *offers_attrs_value(&a, slot), y = *offers_attrs_value(&b, slot);
          assert_same_value(&x, &y);
          if (round == 0) continue;
          const json_t *ja = offers_attrs_get(&a, slot), *jb = offers_attrs_get(&b, slot);
          assert_true(ja == jb || (ja && jb && json_equal(ja, jb)));
          assert_same_value(offers_attrs_value(&a, slot), &y); /* unchanged by the JSON read */
        }
        if (round == 0) {
          offers_decide_in_t in = {.customer = "c-1", .cart = &cart, .now = OFX_NOW,
                                   .seed = 5};
          offers_decision_t want, got;
          perr_info_t e = {0};
          in.lazy = &b;
          assert_int_equal(offers_decide(c, f->w, &in, &want, &e), 0);
          in.lazy = &a;
          assert_int_equal(offers_decide(c, f->w, &in, &got, &e), 0);
          ofx_assert_same_decision(&want, &got);
          decided += got.n;
        }
      }
    }
    offers_attrs_clear(&a);
    offers_attrs_clear(&b);
    arena_reset(&ar);
  }
  assert_true(typed_count > 4000); /* the shortcut ran, often */
  assert_true(refused > 50 && refused < 3000); /* and so did the refusals */
  assert_true(decided > 4000);
  arena_free(&ar);
  offers_catalog_free(c);
}

/* A slot of Patron's own attribute (here `tier`, Patron's when the customer has a loyalty
 * tier) is never set typed: the JSON path decides which value stands; nor is a real JSON
 * cannot hold (json_real refuses it: the conversion's error stands). */
static void test_typed_refusals(void **st) {
  fx_t *f = *st;
  ofx_set(f, "{\"id\":\"p00\",\"kind\":\"amount_off\",\"value\":300,\"currency\":\"EUR\","
             "\"rule\":{\"tier\":\"gold\",\"channel\":\"web\"}}");
  offers_catalog_t *c = ofx_catalog(f);
  offers_cart_t cart = {2500, "EUR", NULL, 0};
  offers_attrs_t a;
  assert_int_equal(offers_attrs_init(&a, c, "c-1", &cart, OFX_NOW, NULL, NULL), 0);
  int tier = offers_catalog_slot(c, "tier"), channel = offers_catalog_slot(c, "channel");
  assert_true(tier >= 0 && channel >= 0);
  condition_value_t v = {.type = CONDITION_VALUE_STR, .s = "gold", .n = 4};
  assert_false(offers_attrs_set_shop_typed(&a, (size_t)tier, &v));
  assert_false(offers_attrs_set_shop_typed(&a, c->nattrs, &v));
  const double bad[] = {NAN, INFINITY, -INFINITY};
  for (int i = 0; i < 3; i++) {
    v = (condition_value_t){.type = CONDITION_VALUE_REAL, .d = bad[i]};
    assert_false(offers_attrs_set_shop_typed(&a, (size_t)channel, &v));
  }
  v = (condition_value_t){.type = CONDITION_VALUE_REAL, .d = -0.0};
  assert_true(offers_attrs_set_shop_typed(&a, (size_t)channel, &v));
  const json_t *j = offers_attrs_get(&a, (size_t)channel);
  assert_true(json_is_real(j) && json_real_value(j) == 0 && signbit(json_real_value(j)));
  offers_attrs_clear(&a);
  offers_catalog_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_shop_scalars_typed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_typed_refusals, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
