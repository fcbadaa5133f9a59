/* test_recs_wire.c -- the recs answer encoder (protocol/codec_recs.c enc_list, packed by hand
 * for speed) against the same answer packed field by field with msgpack-c's own calls: the
 * bytes must be identical for short and str8 ids, ids too long for the short form, every
 * reason (alternating, so the encoder's reason cache is refilled), long reasons, fixarray /
 * array16 item counts, items that overflow the stack buffer, with and without a customer. */
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

static void check_same(const recs_list_result_t *r) {
  msgpack_sbuffer a, b;
  msgpack_packer pa, pb;
  msgpack_sbuffer_init(&a);
  msgpack_sbuffer_init(&b);
  msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
  msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
  enc_recs_cart(&pa, r);
  ref_encode(&pb, r);
  assert_int_equal(a.size, b.size);
  assert_memory_equal(a.data, b.data, a.size);
  msgpack_sbuffer_destroy(&a);
  msgpack_sbuffer_destroy(&b);
}

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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_answers_match_msgpack_c)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
