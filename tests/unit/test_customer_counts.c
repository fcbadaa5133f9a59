/* test_customer_counts.c -- core_customer_order_counts (offers.decide's read of a customer:
 * the record's head walked, the values it does not return skipped) against the head decoded
 * field by field as the record's format says (customers.c's comment; what cust_decode_head
 * reads) and against core_customer_get: over random stored records (email and name absent,
 * empty or long; values of every varint length, negative ones; totals and last products)
 * and damaged ones (cut anywhere, a wrong tag or version, a continuation bit set), read
 * straight from the store. Both must agree on the counts and on refusing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "commerce/commerce.h"
#include "store/record.h"
#include "store_fixture.h"

static uint64_t rng = 0x243f6a8885a308d3u;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* A value of a random varint length (zig-zag: negative ones too). */
static int64_t any_value(void) {
  int bits = (int)(rnd() % 64);
  int64_t v = (int64_t)(rnd() & ((UINT64_C(1) << bits) - 1));
  return rnd() % 4 ? v : -v;
}

static void put_optstr(rec_buf_t *b) {
  static char text[300];
  if (!text[0]) memset(text, 'e', sizeof text - 1);
  uint64_t k = rnd() % 4;
  if (k == 0) rec_put_optstr(b, (pstr_t){NULL, 0});
  else rec_put_optstr(b, (pstr_t){text, k == 1 ? 0 : (size_t)(rnd() % (sizeof text - 1))});
}

static void random_record(rec_buf_t *b) {
  rec_put_u8(b, 'C');
  rec_put_u8(b, 1);
  rec_put_u8(b, (unsigned)(rnd() % 2));
  put_optstr(b);
  put_optstr(b);
  for (int i = 0; i < 6; i++) rec_put_sv(b, any_value()); /* created .. refund_count */
  size_t nt = (size_t)(rnd() % 3);
  rec_put_uv(b, nt);
  for (size_t i = 0; i < nt; i++) {
    rec_put_raw(b, i ? "USD" : "EUR", 3);
    for (int k = 0; k < 3; k++) rec_put_sv(b, (int64_t)(rnd() % 100000));
  }
  size_t nl = (size_t)(rnd() % 4);
  rec_put_uv(b, nl);
  for (size_t i = 0; i < nl; i++) {
    char id[8];
    snprintf(id, sizeof id, "p%zu", i);
    rec_put_str(b, (pstr_t){id, strlen(id)});
    rec_put_sv(b, any_value());
  }
}

/* The head as the format defines it: tag, version, known, email, name, created_at,
 * updated_at, first_order_at, last_order_at, order_count; -1 when it does not read. */
static int ref_head(const void *v, size_t n, int64_t *count, int64_t *last) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  if (rec_get_u8(&r) != 'C' || rec_get_u8(&r) != 1) return -1;
  (void)rec_get_u8(&r);
  (void)rec_get_optstr(&r);
  (void)rec_get_optstr(&r);
  for (int i = 0; i < 3; i++) (void)rec_get_sv(&r);
  *last = rec_get_sv(&r);
  *count = rec_get_sv(&r);
  return r.bad ? -1 : 0;
}

static void test_counts_match_head(void **state) {
  fx_t *f = *state;
  pstr_t id = {"cust-1", 6};
  int refused = 0, read = 0;
  for (int round = 0; round < 20000; round++) {
    rec_buf_t b;
    rec_buf_init(&b);
    random_record(&b);
    int damaged = rnd() % 3 == 0;
    if (damaged) {
      uint64_t k = rnd() % 3;
      if (k == 0) b.n = (size_t)(rnd() % b.n);
      else if (k == 1) b.p[rnd() % 2] ^= 4;
      else b.p[2 + rnd() % (b.n - 2)] |= 0x80;
    }
    assert_false(b.oom);
    assert_int_equal(store_put(f->w, STORE_T_CUSTOMERS, id.p, id.n, b.p, b.n), 0);
    int64_t want_count = -1, want_last = -1, count = -2, last = -2;
    int want = ref_head(b.p, b.n, &want_count, &want_last);
    int got = core_customer_order_counts(f->w, id, &count, &last);
    rec_buf_free(&b);
    if (want) {
      assert_int_equal(got, PERR_INTERNAL);
      refused++;
      continue;
    }
    read++;
    assert_int_equal(got, 0);
    assert_int_equal(count, want_count);
    assert_int_equal(last, want_last);
    customer_profile_t prof;
    perr_info_t e = {0};
    if (!damaged) { /* a whole record: what customer.get answers */
      assert_int_equal(core_customer_get(f->w, id, &f->a, &prof, &e), 0);
      assert_int_equal(count, prof.order_count);
      assert_int_equal(last, prof.last_order_at);
    }
  }
  assert_true(refused > 1000 && read > 10000);
  int64_t count = 0, last = 0; /* no record, no valid id */
  assert_int_equal(core_customer_order_counts(f->w, (pstr_t){"nobody", 6}, &count, &last),
                   PERR_NOT_FOUND);
  assert_int_equal(core_customer_order_counts(f->w, (pstr_t){"", 0}, &count, &last),
                   PERR_NOT_FOUND);
}

static int setup(void **state) { return fx_setup(state, "/tmp/patron-custcnt-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_counts_match_head, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
