/* test_core_orders.c -- cmocka tests of commerce/commerce.h over a real LMDB store in a temp dir:
 * product/customer round trips and merges, order.record (aggregates, index row, idempotent
 * and conflicting replays, validation fields, overflow, currencies, last products),
 * order.refund (by lines, by amount, over-refund, replays), order get, counts, reopen.
 * "Errors change nothing" is proved by dumping every table before and after a failing call
 * inside the same write transaction and comparing the bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commerce/commerce.h"
#include "store_fixture.h"

#define S(lit) ((pstr_t){(lit), sizeof(lit) - 1})
#define NOW 1700000000

static int setup(void **state) { return fx_setup(state, "/tmp/patron-core-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

#define mk_order fx_mk_order

#define LINE(pid, q, price) ((order_line_t){S(pid), (q), (price)})

static customer_profile_t profile(fx_t *f, const char *id) {
  customer_profile_t p;
  perr_info_t e = {0};
  assert_int_equal(core_customer_get(f->w, (pstr_t){id, strlen(id)}, &f->a, &p, &e), 0);
  return p;
}

static const currency_totals_t *totals(const customer_profile_t *p, const char *cur) {
  for (size_t i = 0; i < p->ntotals; i++)
    if (strcmp(p->totals[i].currency, cur) == 0) return &p->totals[i];
  fail_msg("no totals for %s", cur);
  return NULL;
}

/* Expect `call` to fail with code/field and leave every table byte-identical. */
#define EXPECT_FAIL_UNCHANGED(f, want_code, want_field, call)     \
  do {                                                  \
    dump_t before_ = dump((f)->w);                      \
    perr_info_t e = {0};                                \
    assert_int_equal((call), (want_code));                   \
    assert_int_equal(e.code, (want_code));                   \
    assert_string_equal(e.field, (want_field));              \
    dump_t after_ = dump((f)->w);                       \
    assert_same_dump(before_, after_);                \
  } while (0)

static void test_currency(void **state) {
  (void)state;
  int exp = -1;
  assert_true(core_currency_valid(S("EUR"), &exp));
  assert_int_equal(exp, 2);
  assert_true(core_currency_valid(S("JPY"), &exp));
  assert_int_equal(exp, 0);
  assert_true(core_currency_valid(S("KWD"), &exp));
  assert_int_equal(exp, 3);
  assert_true(core_currency_valid(S("CLF"), &exp));
  assert_int_equal(exp, 4);
  assert_true(core_currency_valid(S("AED"), NULL));
  assert_true(core_currency_valid(S("ZWG"), NULL));
  assert_false(core_currency_valid(S("usd"), NULL));
  assert_false(core_currency_valid(S("XYZ"), NULL));
  assert_false(core_currency_valid(S("XAU"), NULL));
  assert_false(core_currency_valid(S("HRK"), NULL));
  assert_false(core_currency_valid(S("EURO"), NULL));
  assert_false(core_currency_valid(S(""), NULL));
}

static void test_product_round_trip(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  product_t p = {0}, g;
  p.id = S("sku-1");
  p.name = S("Blue mug");
  p.category = S("kitchen");
  p.currency = S("EUR");
  p.price = 1299;
  p.has_price = 1;
  p.stock = 7;
  p.has_stock = 1;
  p.margin = -50;
  p.has_margin = 1;
  p.active = 1;
  assert_int_equal(core_product_upsert(f->w, &p, NOW, &e), 0);
  assert_int_equal(core_product_get(f->w, S("sku-1"), &f->a, &g, &e), 0);
  assert_string_equal(g.id.p, "sku-1");
  assert_string_equal(g.name.p, "Blue mug");
  assert_string_equal(g.category.p, "kitchen");
  assert_string_equal(g.currency.p, "EUR");
  assert_int_equal(g.price, 1299);
  assert_int_equal(g.stock, 7);
  assert_int_equal(g.margin, -50);
  assert_true(g.has_price && g.has_margin && g.active);
  assert_int_equal(g.updated_at, NOW);

  /* merge: only stock and active given, the rest is kept */
  product_t q = {0};
  q.id = S("sku-1");
  q.stock = -1;
  q.has_stock = 1;
  q.active = 0;
  assert_int_equal(core_product_upsert(f->w, &q, NOW + 5, &e), 0);
  assert_int_equal(core_product_get(f->w, S("sku-1"), &f->a, &g, &e), 0);
  assert_string_equal(g.name.p, "Blue mug");
  assert_int_equal(g.price, 1299);
  assert_int_equal(g.stock, -1);
  assert_int_equal(g.active, 0);
  assert_int_equal(g.updated_at, NOW + 5);

  /* a new product without stock is untracked; errors change nothing */
  product_t r = {0};
  r.id = S("sku-2");
  assert_int_equal(core_product_upsert(f->w, &r, NOW, &e), 0);
  assert_int_equal(core_product_get(f->w, S("sku-2"), &f->a, &g, &e), 0);
  assert_int_equal(g.stock, -1);
  assert_null(g.name.p);
  r.currency = S("XXX");
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "currency", core_product_upsert(f->w, &r, NOW, &e));
  r.currency = (pstr_t){NULL, 0};
  r.has_price = 1;
  r.price = 10;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "currency", core_product_upsert(f->w, &r, NOW, &e));
  r.currency = S("USD");
  r.price = -1;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "price", core_product_upsert(f->w, &r, NOW, &e));
  product_t c = {0};
  c.id = S("sku-1");
  c.currency = S("USD"); /* currency change without a new price */
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "price", core_product_upsert(f->w, &c, NOW, &e));
  c.has_stock = 1;
  c.stock = -2;
  c.currency = (pstr_t){NULL, 0};
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "stock", core_product_upsert(f->w, &c, NOW, &e));
  char big[CORE_NAME_MAX + 1];
  memset(big, 'n', sizeof big);
  c.has_stock = 0;
  c.name = (pstr_t){big, sizeof big};
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "name", core_product_upsert(f->w, &c, NOW, &e));
  EXPECT_FAIL_UNCHANGED(f, PERR_NOT_FOUND, "product_id",
                        core_product_get(f->w, S("nope"), &f->a, &g, &e));
}

static void test_customer_round_trip(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  customer_t c = {0};
  c.id = S("c1");
  c.email = S("a@example.com");
  c.name = S("Ada");
  c.created_at = 1600000000;
  assert_int_equal(core_customer_upsert(f->w, &c, NOW, &e), 0);
  customer_profile_t p = profile(f, "c1");
  assert_int_equal(p.known, 1);
  assert_string_equal(p.customer.email.p, "a@example.com");
  assert_string_equal(p.customer.name.p, "Ada");
  assert_int_equal(p.customer.created_at, 1600000000);
  assert_int_equal(p.customer.updated_at, NOW);
  assert_int_equal(p.order_count, 0);

  order_line_t l[] = {LINE("p1", 2, 500)};
  order_t o = mk_order("o1", "c1", "EUR", 1650000000, l, 1);
  order_result_t r;
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);

  customer_t m = {0};
  m.id = S("c1");
  m.name = S("Ada L.");
  assert_int_equal(core_customer_upsert(f->w, &m, NOW + 1, &e), 0);
  p = profile(f, "c1");
  assert_string_equal(p.customer.email.p, "a@example.com"); /* kept */
  assert_string_equal(p.customer.name.p, "Ada L.");
  assert_int_equal(p.customer.created_at, 1600000000);
  assert_int_equal(p.customer.updated_at, NOW + 1);
  assert_int_equal(p.order_count, 1); /* aggregates untouched */
  assert_int_equal(totals(&p, "EUR")->gross, 1000);

  m.created_at = -1;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "created_at",
                        core_customer_upsert(f->w, &m, NOW, &e));
  m.id = S("");
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "customer_id",
                        core_customer_upsert(f->w, &m, NOW, &e));
  EXPECT_FAIL_UNCHANGED(f, PERR_NOT_FOUND, "customer_id",
                        core_customer_get(f->w, S("ghost"), &f->a, &p, &e));
}

static void test_order_record_and_index(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_line_t l[] = {LINE("p1", 2, 1000), LINE("p2", 1, 550), LINE("p1", 1, 900)};
  order_t o = mk_order("o-1", "cust", "EUR", 1000, l, 3);
  o.discount = 450;
  o.shipping = 499;
  o.tax = 1;
  order_result_t r;
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);
  assert_int_equal(r.created, 1);
  assert_int_equal(r.subtotal, 3450);
  assert_int_equal(r.total, 3500);

  customer_profile_t p = profile(f, "cust");
  assert_int_equal(p.known, 0);
  assert_int_equal(p.order_count, 1);
  assert_int_equal(p.first_order_at, 1000);
  assert_int_equal(p.last_order_at, 1000);
  assert_int_equal(p.ntotals, 1);
  const currency_totals_t *t = totals(&p, "EUR");
  assert_int_equal(t->orders, 1);
  assert_int_equal(t->gross, 3500);
  assert_int_equal(t->net, 3500);
  assert_int_equal(t->aov, 3500);
  assert_int_equal(p.nlast, 2);
  assert_string_equal(p.last_products[0].p, "p1");
  assert_string_equal(p.last_products[1].p, "p2");

  const unsigned char key[] = {'c', 'u', 's', 't', 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 'o', '-', '1'};
  const void *v;
  size_t vn;
  assert_int_equal(store_get(f->w, STORE_T_CUSTOMER_ORDERS, key, sizeof key, &v, &vn), 0);
  assert_int_equal(vn, 0);

  order_t g;
  int64_t refunded = -1;
  assert_int_equal(core_order_get(f->w, S("o-1"), &f->a, &g, &refunded, &e), 0);
  assert_string_equal(g.order_id.p, "o-1");
  assert_string_equal(g.customer_id.p, "cust");
  assert_string_equal(g.currency.p, "EUR");
  assert_int_equal(g.ts, 1000);
  assert_int_equal(g.nlines, 3);
  assert_string_equal(g.lines[2].product_id.p, "p1");
  assert_int_equal(g.lines[2].quantity, 1);
  assert_int_equal(g.lines[2].unit_price, 900);
  assert_int_equal(g.discount, 450);
  assert_int_equal(g.shipping, 499);
  assert_int_equal(g.tax, 1);
  assert_int_equal(refunded, 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_NOT_FOUND, "order_id",
                        core_order_get(f->w, S("o-2"), &f->a, &g, &refunded, &e));

  /* ts 0 = now */
  order_t z = mk_order("o-now", "cust", "EUR", 0, l, 1);
  assert_int_equal(core_order_record(f->w, &z, NOW, &r, &e), 0);
  assert_int_equal(core_order_get(f->w, S("o-now"), &f->a, &g, NULL, &e), 0);
  assert_int_equal(g.ts, NOW);
  assert_int_equal(profile(f, "cust").last_order_at, NOW);
}

static void test_order_replays(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_line_t l[] = {LINE("p1", 1, 100), LINE("p2", 3, 200)};
  order_t o = mk_order("o1", "c", "USD", 0, l, 2);
  order_result_t r;
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);
  assert_int_equal(r.created, 1);

  dump_t before = dump(f->w);
  memset(&r, 0, sizeof r);
  assert_int_equal(core_order_record(f->w, &o, NOW + 60, &r, &e), 0); /* later retry */
  assert_int_equal(r.created, 0);
  assert_int_equal(r.total, 700);
  assert_int_equal(r.subtotal, 700);
  dump_t after = dump(f->w);
  assert_same_dump(before, after);

  order_line_t l2[] = {LINE("p1", 1, 100), LINE("p2", 3, 201)};
  order_t c = mk_order("o1", "c", "USD", 0, l2, 2);
  EXPECT_FAIL_UNCHANGED(f, PERR_CONFLICT, "order_id", core_order_record(f->w, &c, NOW, &r, &e));
  c = o;
  c.customer_id = S("other");
  EXPECT_FAIL_UNCHANGED(f, PERR_CONFLICT, "order_id", core_order_record(f->w, &c, NOW, &r, &e));
  c = o;
  c.ts = NOW; /* ts 0 and an explicit ts differ as sent */
  EXPECT_FAIL_UNCHANGED(f, PERR_CONFLICT, "order_id", core_order_record(f->w, &c, NOW, &r, &e));

  /* survives commit + reopen */
  assert_int_equal(store_commit(f->w), 0);
  store_close(f->s);
  fx_open_store(f);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  assert_int_equal(core_order_record(f->w, &o, NOW + 99, &r, &e), 0);
  assert_int_equal(r.created, 0);
  customer_profile_t p = profile(f, "c");
  assert_int_equal(p.order_count, 1);
  assert_int_equal(totals(&p, "USD")->gross, 700);
}

static void test_order_validation(void **state) {
  fx_t *f = *state;
  order_result_t r;
  order_line_t l[] = {LINE("p1", 1, 100), LINE("p2", 1, 100), LINE("p3", 0, 100)};
  order_t o = mk_order("o1", "c", "EUR", 10, l, 3);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[2].quantity",
                        core_order_record(f->w, &o, NOW, &r, &e));
  l[2].quantity = 1;
  l[1].unit_price = -5;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[1].unit_price",
                        core_order_record(f->w, &o, NOW, &r, &e));
  l[1].unit_price = 100;
  l[0].product_id = S("");
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[0].product_id",
                        core_order_record(f->w, &o, NOW, &r, &e));
  l[0].product_id = S("p1");
  o.currency = S("XYZ");
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "currency", core_order_record(f->w, &o, NOW, &r, &e));
  o.currency = S("eur");
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "currency", core_order_record(f->w, &o, NOW, &r, &e));
  o.currency = S("EUR");
  o.discount = 301;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "discount", core_order_record(f->w, &o, NOW, &r, &e));
  o.discount = 0;
  o.shipping = -1;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "shipping", core_order_record(f->w, &o, NOW, &r, &e));
  o.shipping = INT64_MAX - 100;
  o.tax = 0;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "shipping", core_order_record(f->w, &o, NOW, &r, &e));
  o.shipping = INT64_MAX - 400;
  o.tax = 200;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "tax", core_order_record(f->w, &o, NOW, &r, &e));
  o.shipping = o.tax = 0;
  o.ts = -1;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "ts", core_order_record(f->w, &o, NOW, &r, &e));
  o.ts = 10;
  o.nlines = 0;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines", core_order_record(f->w, &o, NOW, &r, &e));
  o.nlines = 3;
  /* overflow: quantity * unit_price, then the sum of lines */
  l[1].quantity = INT64_MAX / 2;
  l[1].unit_price = 3;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[1].quantity",
                        core_order_record(f->w, &o, NOW, &r, &e));
  l[1].quantity = 1;
  l[1].unit_price = INT64_MAX - 150;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[2].quantity",
                        core_order_record(f->w, &o, NOW, &r, &e));
  l[1].unit_price = 100;
  /* id lengths: 128 is fine, 129 is not */
  char id[CORE_ID_MAX + 1];
  memset(id, 'x', sizeof id);
  o.order_id = (pstr_t){id, sizeof id};
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "order_id", core_order_record(f->w, &o, NOW, &r, &e));
  o.order_id = (pstr_t){"a\0b", 3};
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "order_id", core_order_record(f->w, &o, NOW, &r, &e));
  o.order_id = (pstr_t){id, CORE_ID_MAX};
  o.customer_id = (pstr_t){id, CORE_ID_MAX};
  perr_info_t e = {0};
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);
  assert_int_equal(r.total, 300);

  /* the customer's gross would overflow across orders */
  order_line_t big[] = {LINE("p", 1, INT64_MAX - 10)};
  order_t b1 = mk_order("b1", "whale", "EUR", 10, big, 1);
  order_t b2 = mk_order("b2", "whale", "EUR", 11, big, 1);
  assert_int_equal(core_order_record(f->w, &b1, NOW, &r, &e), 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "customer_id",
                        core_order_record(f->w, &b2, NOW, &r, &e));
}

static void test_multi_currency_and_aov(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_result_t r;
  order_line_t a[] = {LINE("p1", 1, 100)}, b[] = {LINE("p2", 1, 101)},
               c[] = {LINE("p3", 1, 5000)};
  order_t o1 = mk_order("o1", "c", "EUR", 10, a, 1), o2 = mk_order("o2", "c", "EUR", 20, b, 1),
          o3 = mk_order("o3", "c", "JPY", 30, c, 1), o4 = mk_order("o4", "c", "EUR", 40, a, 1);
  assert_int_equal(core_order_record(f->w, &o1, NOW, &r, &e), 0);
  assert_int_equal(core_order_record(f->w, &o2, NOW, &r, &e), 0);
  assert_int_equal(core_order_record(f->w, &o3, NOW, &r, &e), 0);
  customer_profile_t p = profile(f, "c");
  assert_int_equal(p.ntotals, 2);
  assert_int_equal(p.order_count, 3);
  assert_int_equal(totals(&p, "EUR")->gross, 201);
  assert_int_equal(totals(&p, "EUR")->aov, 101); /* 100.5 rounds half up */
  assert_int_equal(totals(&p, "JPY")->gross, 5000);
  assert_int_equal(totals(&p, "JPY")->orders, 1);
  assert_int_equal(core_order_record(f->w, &o4, NOW, &r, &e), 0);
  p = profile(f, "c");
  assert_int_equal(totals(&p, "EUR")->aov, 100); /* 301 / 3 = 100.33 */

  /* at most CORE_MAX_CURRENCIES per customer */
  const char *curs[] = {"USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN"};
  char ids[8][16];
  for (int i = 0; i < 7; i++) {
    snprintf(ids[i], sizeof ids[i], "m%d", i);
    order_t m = mk_order(ids[i], "c", curs[i], 50 + i, a, 1);
    int rc = core_order_record(f->w, &m, NOW, &r, &e);
    if (i < 6) {
      assert_int_equal(rc, 0);
    } else {
      assert_int_equal(rc, PERR_INVALID_PARAMS);
      assert_string_equal(e.field, "currency");
    }
  }
  order_t m = mk_order("m6", "c", "PLN", 99, a, 1);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "currency", core_order_record(f->w, &m, NOW, &r, &e));
  m.currency = S("USD"); /* an existing currency is still fine */
  assert_int_equal(core_order_record(f->w, &m, NOW, &r, &e), 0);
  assert_int_equal(profile(f, "c").ntotals, CORE_MAX_CURRENCIES);
}

static void test_last_products(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_result_t r;
  order_line_t l1[] = {LINE("A", 1, 1), LINE("B", 1, 1)}, l2[] = {LINE("C", 1, 1)},
               l3[] = {LINE("D", 1, 1), LINE("A", 1, 1)};
  order_t o1 = mk_order("o1", "c", "EUR", 100, l1, 2), o2 = mk_order("o2", "c", "EUR", 300, l2, 1),
          o3 = mk_order("o3", "c", "EUR", 200, l3, 2);
  assert_int_equal(core_order_record(f->w, &o1, NOW, &r, &e), 0);
  assert_int_equal(core_order_record(f->w, &o2, NOW, &r, &e), 0);
  assert_int_equal(core_order_record(f->w, &o3, NOW, &r, &e), 0); /* older than the newest */
  customer_profile_t p = profile(f, "c");
  const char *want[] = {"C", "D", "A", "B"};
  assert_int_equal(p.nlast, 4);
  for (int i = 0; i < 4; i++) assert_string_equal(p.last_products[i].p, want[i]);
  assert_int_equal(p.first_order_at, 100);
  assert_int_equal(p.last_order_at, 300);

  /* 12 new distinct products at the newest ts: list capped, newest first */
  order_line_t many[12];
  char names[12][16];
  for (int i = 0; i < 12; i++) {
    snprintf(names[i], sizeof names[i], "N%02d", i);
    many[i] = (order_line_t){{names[i], 3}, 1, 1};
  }
  order_t o4 = mk_order("o4", "c", "EUR", 400, many, 12);
  assert_int_equal(core_order_record(f->w, &o4, NOW, &r, &e), 0);
  p = profile(f, "c");
  assert_int_equal(p.nlast, CORE_LAST_PRODUCTS);
  for (int i = 0; i < CORE_LAST_PRODUCTS; i++) assert_string_equal(p.last_products[i].p, names[i]);
  /* a very old order changes nothing at the front */
  order_line_t old[] = {LINE("Z", 1, 1)};
  order_t o5 = mk_order("o5", "c", "EUR", 1, old, 1);
  assert_int_equal(core_order_record(f->w, &o5, NOW, &r, &e), 0);
  p = profile(f, "c");
  for (int i = 0; i < CORE_LAST_PRODUCTS; i++) assert_string_equal(p.last_products[i].p, names[i]);
  assert_int_equal(p.first_order_at, 1);
  assert_int_equal(p.last_order_at, 400);
}

static refund_t mk_refund(const char *id, const char *order, order_line_t *lines, size_t n,
                          int64_t amount) {
  refund_t rf = {0};
  rf.refund_id = (pstr_t){id, strlen(id)};
  rf.order_id = (pstr_t){order, strlen(order)};
  rf.lines = lines;
  rf.nlines = n;
  rf.amount = amount;
  return rf;
}

static void test_refunds(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_result_t orr;
  /* p1 on two lines at different prices; total 100 + 2*50 + 300 + 20 shipping = 520 */
  order_line_t l[] = {LINE("p1", 1, 100), LINE("p1", 2, 50), LINE("p2", 1, 300)};
  order_t o = mk_order("o1", "c", "EUR", 10, l, 3);
  o.shipping = 20;
  assert_int_equal(core_order_record(f->w, &o, NOW, &orr, &e), 0);
  assert_int_equal(orr.total, 520);

  refund_result_t r;
  order_line_t rl[] = {LINE("p1", 2, 999)}; /* unit_price ignored */
  refund_t rf = mk_refund("r1", "o1", rl, 1, 0);
  assert_int_equal(core_order_refund(f->w, &rf, NOW, &r, &e), 0);
  assert_int_equal(r.created, 1);
  assert_int_equal(r.amount, 150); /* 1*100 + 1*50 */
  assert_int_equal(r.refunded, 150);
  assert_int_equal(r.refundable, 370);
  assert_int_equal(r.currency.n, 3);
  assert_memory_equal(r.currency.p, "EUR", 3);
  customer_profile_t p = profile(f, "c");
  assert_int_equal(p.refund_count, 1);
  assert_int_equal(totals(&p, "EUR")->refunded, 150);
  assert_int_equal(totals(&p, "EUR")->net, 370);
  assert_int_equal(totals(&p, "EUR")->gross, 520);

  /* identical replay: no-op; different content: conflict */
  dump_t before = dump(f->w);
  assert_int_equal(core_order_refund(f->w, &rf, NOW + 9, &r, &e), 0);
  assert_int_equal(r.created, 0);
  assert_int_equal(r.amount, 150);
  assert_int_equal(r.refundable, 370);
  dump_t after = dump(f->w);
  assert_same_dump(before, after);
  order_line_t rl3[] = {LINE("p1", 1, 0)};
  refund_t c = mk_refund("r1", "o1", rl3, 1, 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_CONFLICT, "refund_id", core_order_refund(f->w, &c, NOW, &r, &e));

  /* only one p1 left */
  order_line_t rl2[] = {LINE("p2", 1, 0), LINE("p1", 2, 0)};
  refund_t over = mk_refund("r2", "o1", rl2, 2, 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[1].quantity",
                        core_order_refund(f->w, &over, NOW, &r, &e));
  order_line_t rl4[] = {LINE("p9", 1, 0)};
  refund_t nop = mk_refund("r2", "o1", rl4, 1, 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[0].product_id",
                        core_order_refund(f->w, &nop, NOW, &r, &e));
  refund_t amt = mk_refund("r2", "o1", NULL, 0, 371);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "amount", core_order_refund(f->w, &amt, NOW, &r, &e));
  amt.amount = 0;
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "amount", core_order_refund(f->w, &amt, NOW, &r, &e));
  refund_t unk = mk_refund("r2", "o-missing", NULL, 0, 1);
  EXPECT_FAIL_UNCHANGED(f, PERR_NOT_FOUND, "order_id", core_order_refund(f->w, &unk, NOW, &r, &e));

  /* by amount, then the rest by lines up to the total */
  amt.amount = 20;
  assert_int_equal(core_order_refund(f->w, &amt, NOW, &r, &e), 0);
  assert_int_equal(r.refunded, 170);
  assert_int_equal(r.refundable, 350);
  order_line_t rl5[] = {LINE("p1", 1, 0), LINE("p2", 1, 0)};
  refund_t rest = mk_refund("r3", "o1", rl5, 2, 0);
  assert_int_equal(core_order_refund(f->w, &rest, NOW, &r, &e), 0);
  assert_int_equal(r.amount, 350);
  assert_int_equal(r.refundable, 0);
  refund_t more = mk_refund("r4", "o1", NULL, 0, 1);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "amount", core_order_refund(f->w, &more, NOW, &r, &e));

  p = profile(f, "c");
  assert_int_equal(p.refund_count, 3);
  assert_int_equal(totals(&p, "EUR")->refunded, 520);
  assert_int_equal(totals(&p, "EUR")->net, 0);
  order_t g;
  int64_t refunded;
  assert_int_equal(core_order_get(f->w, S("o1"), &f->a, &g, &refunded, &e), 0);
  assert_int_equal(refunded, 520);
}

static void test_refund_capped_by_discount(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_result_t orr;
  refund_result_t r;
  order_line_t l[] = {LINE("p1", 2, 100)};
  order_t o = mk_order("o1", "c", "EUR", 10, l, 1);
  o.discount = 150; /* paid 50 */
  assert_int_equal(core_order_record(f->w, &o, NOW, &orr, &e), 0);
  order_line_t rl[] = {LINE("p1", 1, 0)};
  refund_t rf = mk_refund("r1", "o1", rl, 1, 0);
  EXPECT_FAIL_UNCHANGED(f, PERR_INVALID_PARAMS, "lines[0].quantity",
                        core_order_refund(f->w, &rf, NOW, &r, &e));
  customer_profile_t p = profile(f, "c");
  assert_int_equal(p.refund_count, 0);
  assert_int_equal(totals(&p, "EUR")->refunded, 0);
  rf.nlines = 0;
  rf.amount = 50;
  assert_int_equal(core_order_refund(f->w, &rf, NOW, &r, &e), 0);
  assert_int_equal(r.refundable, 0);
}

static void test_counts(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order_result_t orr;
  refund_result_t r;
  product_t p = {0};
  p.id = S("p1");
  assert_int_equal(core_product_upsert(f->w, &p, NOW, &e), 0);
  customer_t c = {0};
  c.id = S("known");
  assert_int_equal(core_customer_upsert(f->w, &c, NOW, &e), 0);
  order_line_t l[] = {LINE("p1", 1, 10)};
  order_t o1 = mk_order("o1", "anon", "EUR", 1, l, 1), o2 = mk_order("o2", "known", "EUR", 2, l, 1);
  assert_int_equal(core_order_record(f->w, &o1, NOW, &orr, &e), 0);
  assert_int_equal(core_order_record(f->w, &o2, NOW, &orr, &e), 0);
  refund_t rf = mk_refund("r1", "o1", NULL, 0, 5);
  assert_int_equal(core_order_refund(f->w, &rf, NOW, &r, &e), 0);
  assert_int_equal(store_commit(f->w), 0);
  f->w = NULL;
  store_txn_t *t;
  assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
  core_counts_t n;
  core_counts(t, &n);
  assert_int_equal(n.products, 1);
  assert_int_equal(n.customers, 2);
  assert_int_equal(n.orders, 2);
  assert_int_equal(n.refunds, 1);
  assert_int_equal(n.feedback, 0);
  assert_int_equal(store_count(t, STORE_T_CUSTOMER_ORDERS), 2);
  store_abort(t);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_currency),  T(test_product_round_trip),
      T(test_customer_round_trip),      T(test_order_record_and_index),
      T(test_order_replays),            T(test_order_validation),
      T(test_multi_currency_and_aov),   T(test_last_products),
      T(test_refunds),                  T(test_refund_capped_by_discount),
      T(test_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
