/* test_feedback_merge.c -- cmocka tests of the analytics core over a real LMDB store:
 * feedback.record (stored, idempotent replay, conflict, bounds with field names, listing),
 * customer.merge (orders, index rows, order records, feedback and aggregates move in one
 * transaction; repeat is a no-op; errors change nothing: every table is dumped before and
 * after a failing call inside the same write transaction and compared byte for byte), and
 * the order scan (grouping by customer, time order, main currency). */
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
#include "commerce/feedback.h"
#include "commerce/merge.h"
#include "commerce/scan.h"

#define S(lit) ((pstr_t){(lit), sizeof(lit) - 1})
#define NOW 1700000000

static int setup(void **state) { return fx_setup(state, "/tmp/patron-an-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

static void order(fx_t *f, const char *oid, const char *cust, int64_t ts, const char *cur,
                  const char *prod, int64_t price) {
  order_line_t l = {{prod, strlen(prod)}, 1, price};
  order_t o = {0};
  o.order_id = (pstr_t){oid, strlen(oid)};
  o.customer_id = (pstr_t){cust, strlen(cust)};
  o.currency = (pstr_t){cur, 3};
  o.ts = ts;
  o.lines = &l;
  o.nlines = 1;
  order_result_t r;
  perr_info_t e = {0};
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);
  assert_int_equal(r.created, 1);
}

static int fb(fx_t *f, const char *id, const char *cust, int kind, int64_t score, int64_t ts,
              feedback_result_t *r, perr_info_t *e) {
  feedback_t x = {{id, strlen(id)}, {cust, strlen(cust)}, kind, score, ts};
  return core_feedback_record(f->w, &x, NOW, r, e);
}

static void test_feedback_idempotent(void **state) {
  fx_t *f = *state;
  feedback_result_t r;
  perr_info_t e = {0};
  assert_int_equal(fb(f, "f1", "c1", FEEDBACK_NPS, 9, 1000, &r, &e), 0);
  assert_int_equal(r.created, 1);
  dump_t before = dump(f->w);
  assert_int_equal(fb(f, "f1", "c1", FEEDBACK_NPS, 9, 1000, &r, &e), 0); /* replay */
  assert_int_equal(r.created, 0);
  assert_int_equal(fb(f, "f1", "c1", FEEDBACK_NPS, 8, 1000, &r, &e), PERR_CONFLICT);
  assert_string_equal(e.field, "feedback_id");
  assert_int_equal(fb(f, "f1", "c2", FEEDBACK_NPS, 9, 1000, &r, &e), PERR_CONFLICT);
  assert_int_equal(fb(f, "f2", "c1", FEEDBACK_NPS, 11, 0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "score");
  assert_int_equal(fb(f, "f2", "c1", FEEDBACK_CSAT, 0, 0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "score");
  assert_int_equal(fb(f, "f2", "c1", 7, 3, 0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "kind");
  assert_int_equal(fb(f, "", "c1", FEEDBACK_CSAT, 3, 0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "feedback_id");
  assert_int_equal(fb(f, "f2", "c1", FEEDBACK_CSAT, 3, -1, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "ts");
  assert_same_dump(before, dump(f->w));
  /* ts 0 = now; listing */
  assert_int_equal(fb(f, "f2", "c1", FEEDBACK_CSAT, 5, 0, &r, &e), 0);
  feedback_row_t *rows;
  size_t n;
  assert_int_equal(core_feedback_list(f->w, &rows, &n, &e), 0);
  assert_int_equal(n, 2);
  assert_int_equal(rows[0].kind, FEEDBACK_NPS);
  assert_int_equal(rows[0].score, 9);
  assert_int_equal(rows[0].ts, 1000);
  assert_int_equal(rows[1].kind, FEEDBACK_CSAT);
  assert_int_equal(rows[1].ts, NOW);
  free(rows);
  assert_int_equal(feedback_kind_from_name("nps", 3), FEEDBACK_NPS);
  assert_int_equal(feedback_kind_from_name("csat", 4), FEEDBACK_CSAT);
  assert_int_equal(feedback_kind_from_name("ces", 3), -1);
}

static size_t index_rows(store_txn_t *t, const char *cust) {
  store_cursor_t *c;
  size_t n = 0, cl = strlen(cust);
  assert_int_equal(store_cursor_open(t, STORE_T_CUSTOMER_ORDERS, cust, cl, &c), 0);
  const void *k, *v;
  size_t kn, vn;
  while (store_cursor_next(c, &k, &kn, &v, &vn) > 0 && kn > cl && memcmp(k, cust, cl) == 0 &&
         ((const char *)k)[cl] == 0)
    n++;
  store_cursor_close(c);
  return n;
}

static void test_merge_moves_everything(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  customer_t reg = {S("reg"), S("r@example.com"), {NULL, 0}, 0, 0};
  assert_int_equal(core_customer_upsert(f->w, &reg, NOW, &e), 0);
  order(f, "o1", "reg", 1000, "EUR", "a", 1000);
  order(f, "o2", "guest", 500, "EUR", "b", 300);
  order(f, "o3", "guest", 3000, "USD", "c", 700);
  feedback_result_t fr;
  assert_int_equal(fb(f, "fbg", "guest", FEEDBACK_NPS, 10, 600, &fr, &e), 0);
  refund_t rf = {S("rf1"), S("o2"), 0, NULL, 0, 100};
  refund_result_t rr;
  assert_int_equal(core_order_refund(f->w, &rf, NOW, &rr, &e), 0);

  merge_t m = {S("guest"), S("reg")};
  merge_result_t r;
  assert_int_equal(core_customer_merge(f->w, &m, NOW + 5, &r, &e), 0);
  assert_int_equal(r.merged, 1);
  assert_int_equal(r.orders, 2);
  assert_int_equal(r.feedback, 1);
  /* guest row gone, index rows moved */
  customer_profile_t p;
  assert_int_equal(core_customer_get(f->w, S("guest"), &f->a, &p, &e), PERR_NOT_FOUND);
  assert_int_equal(index_rows(f->w, "guest"), 0);
  assert_int_equal(index_rows(f->w, "reg"), 3);
  /* aggregates */
  assert_int_equal(core_customer_get(f->w, S("reg"), &f->a, &p, &e), 0);
  assert_true(p.known);
  assert_int_equal(p.order_count, 3);
  assert_int_equal(p.refund_count, 1);
  assert_int_equal(p.first_order_at, 500);
  assert_int_equal(p.last_order_at, 3000);
  assert_int_equal(p.ntotals, 2);
  assert_string_equal(p.totals[0].currency, "EUR");
  assert_int_equal(p.totals[0].orders, 2);
  assert_int_equal(p.totals[0].gross, 1300);
  assert_int_equal(p.totals[0].refunded, 100);
  assert_string_equal(p.totals[1].currency, "USD");
  assert_int_equal(p.nlast, 3);
  assert_int_equal(p.last_products[0].n, 1);
  assert_memory_equal(p.last_products[0].p, "c", 1); /* newest first */
  assert_memory_equal(p.last_products[1].p, "a", 1);
  assert_memory_equal(p.last_products[2].p, "b", 1);
  /* order records name the customer; refunds still work on them */
  order_t o;
  int64_t refunded;
  assert_int_equal(core_order_get(f->w, S("o2"), &f->a, &o, &refunded, &e), 0);
  assert_int_equal(o.customer_id.n, 3);
  assert_memory_equal(o.customer_id.p, "reg", 3);
  assert_int_equal(refunded, 100);
  refund_t rf2 = {S("rf2"), S("o3"), 0, NULL, 0, 50};
  assert_int_equal(core_order_refund(f->w, &rf2, NOW, &rr, &e), 0);
  assert_int_equal(core_customer_get(f->w, S("reg"), &f->a, &p, &e), 0);
  assert_int_equal(p.totals[1].refunded, 50);
  /* feedback moved */
  feedback_t got;
  assert_int_equal(core_feedback_get(f->w, S("fbg"), &f->a, &got, &e), 0);
  assert_memory_equal(got.customer_id.p, "reg", 3);
  assert_int_equal(got.score, 10);
  /* repeat: no-op, nothing changes */
  dump_t before = dump(f->w);
  assert_int_equal(core_customer_merge(f->w, &m, NOW + 9, &r, &e), 0);
  assert_int_equal(r.merged, 0);
  assert_int_equal(r.orders, 0);
  assert_same_dump(before, dump(f->w));
  /* one scan sees the merged history under one customer */
  scan_t sc;
  assert_int_equal(scan_orders(f->w, &sc, &e), 0);
  assert_int_equal(sc.ncustomers, 1);
  assert_int_equal(sc.norders, 3);
  assert_int_equal(sc.orders[0].ts, 500);
  assert_int_equal(sc.orders[2].ts, 3000);
  assert_string_equal(sc.currencies[scan_main_currency(&sc)], "EUR");
  scan_free(&sc);
}

static void test_merge_errors_change_nothing(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  customer_t reg = {S("reg"), {NULL, 0}, {NULL, 0}, 0, 0};
  assert_int_equal(core_customer_upsert(f->w, &reg, NOW, &e), 0);
  order(f, "o1", "guest", 100, "EUR", "a", 100);
  /* the registered customer already uses 8 currencies, the guest a 9th */
  const char *curs[] = {"USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN"};
  for (int i = 0; i < 8; i++) {
    char oid[16];
    snprintf(oid, sizeof oid, "r%d", i);
    order(f, oid, "reg", 200 + i, curs[i], "x", 10);
  }
  dump_t before = dump(f->w);
  merge_result_t r;
  merge_t m1 = {S("guest"), S("reg")};
  assert_int_equal(core_customer_merge(f->w, &m1, NOW, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "guest_id");
  merge_t m2 = {S("guest"), S("nobody")};
  assert_int_equal(core_customer_merge(f->w, &m2, NOW, &r, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "customer_id");
  merge_t m3 = {S("reg"), S("reg")};
  assert_int_equal(core_customer_merge(f->w, &m3, NOW, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "guest_id");
  merge_t m4 = {S(""), S("reg")};
  assert_int_equal(core_customer_merge(f->w, &m4, NOW, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "guest_id");
  merge_t m5 = {S("never-seen"), S("reg")}; /* not a silent success */
  assert_int_equal(core_customer_merge(f->w, &m5, NOW, &r, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "guest_id");
  assert_same_dump(before, dump(f->w));
}

/* Committed in one transaction: after abort nothing is visible, after commit everything. */
static void test_merge_one_transaction(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  customer_t reg = {S("reg"), {NULL, 0}, {NULL, 0}, 0, 0};
  assert_int_equal(core_customer_upsert(f->w, &reg, NOW, &e), 0);
  order(f, "o1", "guest", 100, "EUR", "a", 100);
  order(f, "o2", "guest", 200, "EUR", "a", 100);
  assert_int_equal(store_commit(f->w), 0);
  f->w = NULL;
  store_txn_t *w;
  assert_int_equal(store_txn_begin(f->s, 1, &w), 0);
  merge_t m = {S("guest"), S("reg")};
  merge_result_t r;
  assert_int_equal(core_customer_merge(w, &m, NOW, &r, &e), 0);
  store_abort(w);
  store_txn_t *rd;
  assert_int_equal(store_txn_begin(f->s, 0, &rd), 0);
  assert_int_equal(index_rows(rd, "guest"), 2);
  assert_int_equal(index_rows(rd, "reg"), 0);
  store_abort(rd);
  assert_int_equal(store_txn_begin(f->s, 1, &w), 0);
  assert_int_equal(core_customer_merge(w, &m, NOW, &r, &e), 0);
  assert_int_equal(store_commit(w), 0);
  assert_int_equal(store_txn_begin(f->s, 0, &rd), 0);
  assert_int_equal(index_rows(rd, "guest"), 0);
  assert_int_equal(index_rows(rd, "reg"), 2);
  customer_profile_t p;
  assert_int_equal(core_customer_get(rd, S("reg"), &f->a, &p, &e), 0);
  assert_int_equal(p.order_count, 2);
  store_abort(rd);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
}

static void test_scan_main_currency(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  order(f, "o1", "b", 300, "USD", "a", 500);
  order(f, "o2", "a", 200, "EUR", "a", 400);
  order(f, "o3", "a", 100, "EUR", "a", 400);
  scan_t sc;
  assert_int_equal(scan_orders(f->w, &sc, &e), 0);
  assert_int_equal(sc.ncustomers, 2);
  assert_int_equal(scan_id(&sc, 0).n, 1);
  assert_memory_equal(scan_id(&sc, 0).p, "a", 1);
  assert_int_equal(sc.first[1] - sc.first[0], 2);
  assert_int_equal(sc.orders[0].ts, 100); /* time order within a customer */
  assert_string_equal(sc.currencies[scan_main_currency(&sc)], "EUR"); /* 800 > 500 */
  assert_int_equal(scan_currency_index(&sc, "GBP", 3), -1);
  scan_free(&sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_feedback_idempotent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge_moves_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge_errors_change_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge_one_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scan_main_currency, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
