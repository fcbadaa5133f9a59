/* test_recs_wire.c -- the recs wire fast paths of protocol/codec_recs.c against the general
 * ones. Answers: enc_list (packed by hand) against the same answer packed field by field with
 * msgpack-c's own calls, byte for byte: short and str8 ids, ids too long for the short form,
 * every reason (alternating, so the encoder's reason cache is refilled), long reasons,
 * fixarray / array16 item counts, items that overflow the stack buffer, with and without a
 * customer; the raw form (the scorer's results named by the encoder) against the same
 * answer as wire items. Params: recs.cart's one-pass reader (recs_cart_fast) against the
 * table decoder, which takes the same map once it carries one more field it treats as absent
 * ("customer_id": nil): valid and invalid calls, same result or the same error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "methods.h"
#include "rpc.h"

/* The answer as msgpack-c packs it, one call per field. */
static void ref_encode(msgpack_packer *pk, const recs_list_result_t *r) {
  msgpack_pack_map(pk, r->has_customer ? 6 : 5);
  msgpack_pack_str(pk, 5);
  msgpack_pack_str_body(pk, "items", 5);
  msgpack_pack_array(pk, r->n);
  for (size_t i = 0; i < r->n; i++) {
    const recs_wire_item_t *it = &r->items[i];
    msgpack_pack_map(pk, 3);
    msgpack_pack_str(pk, 10);
    msgpack_pack_str_body(pk, "product_id", 10);
    msgpack_pack_str(pk, it->id_len);
    msgpack_pack_str_body(pk, it->id, it->id_len);
    msgpack_pack_str(pk, 5);
    msgpack_pack_str_body(pk, "score", 5);
    msgpack_pack_double(pk, it->score);
    msgpack_pack_str(pk, 6);
    msgpack_pack_str_body(pk, "reason", 6);
    msgpack_pack_str(pk, strlen(it->reason));
    msgpack_pack_str_body(pk, it->reason, strlen(it->reason));
  }
  const char *kv[] = {"fallback", "model_version", "unknown_items", "history_orders"};
  const uint64_t uv[] = {0, r->model_version, r->unknown_items, r->history_orders};
  for (int k = 0; k < 4; k++) {
    msgpack_pack_str(pk, strlen(kv[k]));
    msgpack_pack_str_body(pk, kv[k], strlen(kv[k]));
    if (k == 0) {
      msgpack_pack_str(pk, strlen(r->fallback));
      msgpack_pack_str_body(pk, r->fallback, strlen(r->fallback));
    } else {
      msgpack_pack_uint64(pk, uv[k]);
    }
  }
  if (r->has_customer) {
    msgpack_pack_str(pk, 14);
    msgpack_pack_str_body(pk, "customer_known", 14);
    if (r->customer_known) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
  }
}

/* enc_recs_cart(r) against msgpack-c's field-by-field packing of ref, byte for byte. */
static void check_same_as(const recs_list_result_t *r, const recs_list_result_t *ref) {
  msgpack_sbuffer a, b;
  msgpack_packer pa, pb;
  msgpack_sbuffer_init(&a);
  msgpack_sbuffer_init(&b);
  msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
  msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
  enc_recs_cart(&pa, r);
  ref_encode(&pb, ref);
  assert_int_equal(a.size, b.size);
  assert_memory_equal(a.data, b.data, a.size);
  msgpack_sbuffer_destroy(&a);
  msgpack_sbuffer_destroy(&b);
}

static void check_same(const recs_list_result_t *r) { check_same_as(r, r); }

static const char *const reasons[] = {"co_purchase", "upsell",   "personal",  "popular",
                                      "trending",    "repurchase",
                                      "a reason of exactly 31 bytes..", /* 30: fixstr */
                                      "a reason longer than thirty-one bytes"};

static void test_answers_match_msgpack_c(void **state) {
  (void)state;
  static char ids[300][CORE_ID_MAX + 2];
  static recs_wire_item_t items[300];
  uint64_t rng = 12345;
  for (int round = 0; round < 200; round++) {
    size_t n = round < 40 ? (size_t)round : (size_t)(rng >> 33) % 300;
    for (size_t i = 0; i < n; i++) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      size_t len = (size_t)(rng >> 40) % 8 == 0 ? CORE_ID_MAX + 1 /* long: slow path */
                   : (size_t)(rng >> 40) % 8 == 1 ? 32 + (rng >> 20) % (CORE_ID_MAX - 31) /* str8 */
                                                    : 1 + (rng >> 20) % 31;           /* fixstr */
      for (size_t c = 0; c < len; c++) ids[i][c] = (char)('a' + (rng >> (c % 50)) % 26);
      double score;
      uint64_t bits = rng ^ (rng >> 17);
      memcpy(&score, &bits, sizeof score);
      if (i % 3 == 0) score = (double)(float)((double)(rng >> 40) / 1e6);
      const char *reason = reasons[(round % 3 == 0) ? (rng >> 30) % 8 : (i / 4) % 6];
      items[i] = (recs_wire_item_t){ids[i], len, score, reason};
    }
    recs_list_result_t r = {.items = items, .n = n,
                            .fallback = round % 5 ? "none" : "category_popular",
                            .model_version = round * 977ull * (round % 4 ? 1 : 1000003ull),
                            .unknown_items = (uint32_t)(round % 7) * 40,
                            .history_orders = (uint32_t)round * 300,
                            .customer_known = round % 2, .has_customer = (round / 2) % 2};
    check_same(&r);
  }
}

/* The raw form (recs_types.h: the scorer's results named by the encoder from a name table)
 * against the same answer as wire items packed by msgpack-c: every reason, float scores, ids
 * of every length class (too long for the short form included), 0..299 results. */
static void test_raw_answers_match_wire_items(void **state) {
  (void)state;
  enum { NAMES = 500 };
  static char names[NAMES * (CORE_ID_MAX + 1)];
  static uint32_t off[NAMES + 1];
  static recs_result_t res[300];
  static recs_wire_item_t items[300];
  uint64_t rng = 777;
  for (uint32_t k = 0; k < NAMES; k++) { /* the name table */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t len = k % 9 == 0 ? CORE_ID_MAX + 1 : k % 9 == 1 ? 32 + (rng >> 20) % (CORE_ID_MAX - 31)
                                                             : 1 + (rng >> 20) % 31;
    for (size_t c = 0; c < len; c++) names[off[k] + c] = (char)('a' + (rng >> (c % 50)) % 26);
    off[k + 1] = off[k] + (uint32_t)len;
  }
  const char *const *rn = recs_reason_names();
  for (int round = 0; round < 200; round++) {
    size_t n = round < 40 ? (size_t)round : (size_t)(rng >> 33) % 300;
    for (size_t i = 0; i < n; i++) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t item = (uint32_t)(rng >> 35) % NAMES;
      float score = (float)((double)(rng >> 40) / 1e6) * (i % 5 == 0 ? -1.0f : 1.0f);
      uint8_t reason = (uint8_t)((round % 3 == 0) ? (rng >> 30) % RECS_REASON_COUNT
                                                  : (i / 4) % RECS_REASON_COUNT);
      res[i] = (recs_result_t){item, score, reason};
      items[i] = (recs_wire_item_t){names + off[item], off[item + 1] - off[item], score,
                                    recs_reason_name((recs_reason_t)reason)};
    }
    recs_list_result_t raw = {.items = NULL, .n = n, .results = res, .names = names,
                              .name_off = off, .reason_names = rn,
                              .fallback = round % 5 ? "none" : "popular",
                              .model_version = round * 977ull, .unknown_items = round % 3,
                              .history_orders = (uint32_t)round, .customer_known = round % 2,
                              .has_customer = (round / 2) % 2};
    recs_list_result_t wire = raw;
    wire.items = items;
    check_same_as(&raw, &wire);
  }
}

/* Packs {items: ids[0..n) (or a non-array / wrong elements per kind), limit?} (+ customer_id:
 * nil when general) into sb. */
static void pack_cart(msgpack_sbuffer *sb, int general, uint64_t rng, int kind) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  int has_limit = kind % 3 != 0, limit_first = kind % 5 == 0;
  size_t n = (size_t)(rng >> 20) % 8;
  if (kind == 7) n = RECS_WIRE_MAX_IDS + 1;
  msgpack_pack_map(&pk, 1 + (size_t)has_limit + (size_t)general + (kind == 11));
  if (general) {
    msgpack_pack_str(&pk, 11);
    msgpack_pack_str_body(&pk, "customer_id", 11);
    msgpack_pack_nil(&pk);
  }
  for (int f = 0; f < 2; f++) {
    if ((f == 0) == limit_first) {
      if (!has_limit) continue;
      msgpack_pack_str(&pk, 5);
      msgpack_pack_str_body(&pk, "limit", 5);
      if (kind == 4) msgpack_pack_int64(&pk, -3);
      else if (kind == 8) msgpack_pack_nil(&pk);
      else if (kind == 10) msgpack_pack_str(&pk, 0), msgpack_pack_str_body(&pk, "", 0);
      else msgpack_pack_uint64(&pk, kind == 2 ? 0 : kind == 5 ? RECS_WIRE_MAX_LIMIT + 1 : 1 + (rng >> 40) % 1000);
      continue;
    }
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "items", 5);
    if (kind == 9) {
      msgpack_pack_uint64(&pk, 3);
      continue;
    }
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
      char id[CORE_ID_MAX + 2];
      size_t len = kind == 1 && i == n - 1 ? 0 : kind == 6 && i == 0 ? CORE_ID_MAX + 1
                                                                     : 1 + (rng >> (i % 40)) % CORE_ID_MAX;
      for (size_t c = 0; c < len; c++) id[c] = (char)('A' + (c * 7 + i) % 26);
      if (kind == 3 && i == 1) msgpack_pack_uint64(&pk, 9);
      else msgpack_pack_str(&pk, len), msgpack_pack_str_body(&pk, id, len);
    }
  }
  if (kind == 11) { /* a repeated key */
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "items", 5);
    msgpack_pack_array(&pk, 0);
  }
}

static void test_cart_params_fast_equals_table(void **state) {
  (void)state;
  uint64_t rng = 99;
  int fast_ok = 0;
  for (int round = 0; round < 3000; round++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    int kind = round % 12;
    recs_query_t q[2];
    perr_info_t e[2];
    int rc[2];
    msgpack_sbuffer sb[2];
    msgpack_unpacked up[2];
    arena_t a[2];
    for (int g = 0; g < 2; g++) {
      msgpack_sbuffer_init(&sb[g]);
      pack_cart(&sb[g], g, rng, kind);
      msgpack_unpacked_init(&up[g]);
      assert_int_equal(msgpack_unpack_next(&up[g], sb[g].data, sb[g].size, NULL),
                       MSGPACK_UNPACK_SUCCESS);
      arena_init(&a[g], 0);
      memset(&q[g], 0x5a, sizeof q[g]);
      memset(&e[g], 0, sizeof e[g]);
      rc[g] = dec_recs_cart(&up[g].data, &a[g], &q[g], &e[g]);
    }
    assert_int_equal(rc[0], rc[1]);
    if (rc[0]) {
      assert_int_equal(e[0].code, e[1].code);
      assert_string_equal(e[0].field, e[1].field);
      assert_string_equal(e[0].message, e[1].message);
    } else {
      fast_ok += kind == 0;
      assert_int_equal(q[0].nitems, q[1].nitems);
      for (size_t i = 0; i < q[0].nitems; i++) {
        assert_int_equal(q[0].items[i].n, q[1].items[i].n);
        assert_memory_equal(q[0].items[i].p, q[1].items[i].p, q[0].items[i].n);
      }
      assert_int_equal(q[0].limit, q[1].limit);
      assert_null(q[0].customer_id.p);
      assert_null(q[1].customer_id.p);
      assert_int_equal(q[0].customer_id.n, q[1].customer_id.n);
      assert_int_equal(q[0].as_of, q[1].as_of);
      const recs_wire_filter_t *f0 = &q[0].filters, *f1 = &q[1].filters;
      assert_int_equal(f0->in_stock_only, f1->in_stock_only);
      assert_int_equal(f0->n_exclude_products, f1->n_exclude_products);
      assert_int_equal(f0->n_exclude_categories, f1->n_exclude_categories);
      assert_true(f0->exclude_products == NULL && f1->exclude_products == NULL);
      assert_true(f0->exclude_categories == NULL && f1->exclude_categories == NULL);
      assert_int_equal(f0->has_min_price, f1->has_min_price);
      assert_int_equal(f0->has_max_price, f1->has_max_price);
      assert_int_equal(f0->min_price, f1->min_price);
      assert_int_equal(f0->max_price, f1->max_price);
      assert_true(f0->currency.p == NULL && f1->currency.p == NULL);
      assert_int_equal(f0->max_per_category, f1->max_per_category);
      assert_true(f0->boost_margin == f1->boost_margin);
    }
    for (int g = 0; g < 2; g++) {
      msgpack_unpacked_destroy(&up[g]);
      msgpack_sbuffer_destroy(&sb[g]);
      arena_free(&a[g]);
    }
  }
  assert_true(fast_ok > 100); /* the common shape was decoded (and compared) many times */
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_answers_match_msgpack_c),
                                     cmocka_unit_test(test_raw_answers_match_wire_items),
                                     cmocka_unit_test(test_cart_params_fast_equals_table)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
