/* test_store_batch.c -- cmocka tests of store/store_batch.h (the writer's group-commit batch
 * with one savepoint a job) over real LMDB stores and the real core write functions:
 *  - a batch mixing accepted writes, writes the core rejects, and jobs that fail after
 *    their first put (or after a delete) leaves every table byte-identical to a store that
 *    ran only the accepted writes;
 *  - a store-level failure in any job stores nothing of the batch and runs no later job;
 *  - store_batch_apply_group (one savepoint for a run of jobs, one each again when one is
 *    refused) ends in the same store and the same per-job codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commerce/commerce.h"
#include "store/store_batch.h"
#include "store_fixture.h"

#define S(lit) ((pstr_t){(lit), sizeof(lit) - 1})
#define NOW 1700000000

typedef enum { J_PRODUCT, J_CUSTOMER, J_ORDER, J_REFUND, J_PUT_THEN_FAIL, J_DEL_THEN_FAIL,
               J_STORE_ERROR } kind_t;

/* One write job of the scenario; want = the code the batch must report for it. */
typedef struct job_s {
  kind_t kind;
  product_t product;
  customer_t customer;
  order_t order;
  refund_t refund;
  int want;
  int ran;
} job_t;

static int run_job(store_txn_t *t, void *arg, perr_info_t *e) {
  job_t *j = arg;
  order_result_t orr;
  refund_result_t rr;
  int rc;
  j->ran = 1;
  switch (j->kind) {
    case J_PRODUCT: return core_product_upsert(t, &j->product, NOW, e);
    case J_CUSTOMER: return core_customer_upsert(t, &j->customer, NOW, e);
    case J_ORDER: return core_order_record(t, &j->order, NOW, &orr, e);
    case J_REFUND: return core_order_refund(t, &j->refund, NOW, &rr, e);
    case J_PUT_THEN_FAIL: /* real core writes (several puts), then a rejection */
      if ((rc = core_product_upsert(t, &j->product, NOW, e))) return rc;
      if ((rc = core_order_record(t, &j->order, NOW, &orr, e))) return rc;
      return perr_set(e, PERR_CONFLICT, "order_id", "rejected after its writes (test)");
    case J_DEL_THEN_FAIL: /* removes rows the accepted jobs wrote, then a rejection */
      if ((rc = store_del(t, STORE_T_PRODUCTS, "p1", 2))) return perr_set(e, rc, NULL, "del");
      if ((rc = store_del(t, STORE_T_CUSTOMERS, "c1", 2))) return perr_set(e, rc, NULL, "del");
      return perr_set(e, PERR_NOT_FOUND, NULL, "rejected after its deletes (test)");
    case J_STORE_ERROR:
      if ((rc = store_put(t, STORE_T_AUX, "half", 4, "x", 1))) return rc;
      return perr_set(e, PERR_UNAVAILABLE, NULL, "store failure (test)");
  }
  return PERR_INTERNAL;
}

static order_line_t lines_p1[] = {{S("p1"), 2, 1250}, {S("p2"), 1, 300}};
static order_line_t lines_p9[] = {{S("p9"), 1, 999}};
static order_line_t lines_bad[] = {{S("p1"), 0, 1250}}; /* quantity 0: invalid */

static order_t order(const char *id, const char *cust, int64_t ts, order_line_t *l, size_t n) {
  order_t o = {0};
  o.order_id = (pstr_t){id, strlen(id)};
  o.customer_id = (pstr_t){cust, strlen(cust)};
  o.currency = S("EUR");
  o.ts = ts;
  o.lines = l;
  o.nlines = n;
  return o;
}

static product_t product(const char *id, const char *cur, int64_t price) {
  product_t p = {0};
  p.id = (pstr_t){id, strlen(id)};
  p.name = S("A product");
  p.category = S("tea");
  p.currency = (pstr_t){cur, strlen(cur)};
  p.price = price;
  p.has_price = 1;
  p.stock = -1;
  p.active = 1;
  return p;
}

/* The scenario, in arrival order: accepted and rejected writes interleaved. */
static size_t scenario(job_t *j) {
  size_t n = 0;
  j[n++] = (job_t){.kind = J_PRODUCT, .product = product("p1", "EUR", 1250)};
  j[n++] = (job_t){.kind = J_PRODUCT, .product = product("bad", "XYZ", 100),
                   .want = PERR_INVALID_PARAMS};
  j[n++] = (job_t){.kind = J_CUSTOMER, .customer = {.id = S("c1"), .email = S("a@example.org")}};
  j[n++] = (job_t){.kind = J_PUT_THEN_FAIL, .product = product("p9", "EUR", 999),
                   .order = order("o9", "c9", NOW - 50, lines_p9, 1), .want = PERR_CONFLICT};
  j[n++] = (job_t){.kind = J_ORDER, .order = order("o1", "c1", NOW - 100, lines_p1, 2)};
  j[n++] = (job_t){.kind = J_ORDER, .order = order("o2", "c1", NOW - 90, lines_bad, 1),
                   .want = PERR_INVALID_PARAMS};
  j[n++] = (job_t){.kind = J_DEL_THEN_FAIL, .want = PERR_NOT_FOUND};
  /* same order id, other content: conflict */
  j[n++] = (job_t){.kind = J_ORDER, .order = order("o1", "c1", NOW - 100, lines_p9, 1),
                   .want = PERR_CONFLICT};
  j[n++] = (job_t){.kind = J_REFUND, .refund = {.refund_id = S("r1"), .order_id = S("o1"),
                                                .amount = 500}};
  j[n++] = (job_t){.kind = J_REFUND, .refund = {.refund_id = S("r2"), .order_id = S("o1"),
                                                .amount = 1000000}, .want = PERR_INVALID_PARAMS};
  j[n++] = (job_t){.kind = J_ORDER, .order = order("o3", "c2", NOW - 10, lines_p1, 1)};
  return n;
}

static int setup(void **state) {
  fx_t **two = calloc(2, sizeof *two);
  for (int i = 0; i < 2; i++) {
    void *one;
    fx_setup(&one, "/tmp/patron-batch-XXXXXX");
    two[i] = one;
    store_abort(two[i]->w); /* the batch opens its own */
    two[i]->w = NULL;
  }
  *state = two;
  return 0;
}

static int teardown(void **state) {
  fx_t **two = *state;
  for (int i = 0; i < 2; i++) {
    void *one = two[i];
    fx_teardown(&one);
  }
  free(two);
  return 0;
}

static dump_t dump_store(store_t *s) {
  store_txn_t *r;
  assert_int_equal(store_txn_begin(s, 0, &r), 0);
  dump_t d = dump(r);
  store_abort(r);
  return d;
}

/* Run jobs (only the ones whose want is 0 when accepted_only) as one batch on s. */
static void run_batch(store_t *s, job_t *jobs, size_t n, int accepted_only) {
  store_batch_t b;
  assert_int_equal(store_batch_begin(s, &b), 0);
  for (size_t i = 0; i < n; i++) {
    if (accepted_only && jobs[i].want) continue;
    perr_info_t e = {0};
    int rc = store_batch_apply(&b, run_job, &jobs[i], &e);
    if (rc != jobs[i].want) fail_msg("job %zu: got %d (%s), want %d", i, rc, e.message, jobs[i].want);
    if (rc) assert_int_equal(e.code, rc);
  }
  assert_int_equal(store_batch_commit(&b), 0);
}

static void test_rejected_jobs_leave_no_trace(void **state) {
  fx_t **two = *state;
  job_t mixed[16], accepted[16];
  size_t n = scenario(mixed);
  scenario(accepted);
  size_t nrejected = 0;
  for (size_t i = 0; i < n; i++) nrejected += mixed[i].want != 0;
  assert_true(nrejected >= 5 && nrejected < n);

  run_batch(two[0]->s, mixed, n, 0);
  run_batch(two[1]->s, accepted, n, 1);
  dump_t a = dump_store(two[0]->s), b = dump_store(two[1]->s);
  assert_true(a.n > 200); /* the accepted writes are there (both sides) */
  assert_same_dump(a, b);

  /* the rejected jobs' own rows are absent, the accepted ones' present */
  store_txn_t *r;
  const void *v;
  size_t vn;
  assert_int_equal(store_txn_begin(two[0]->s, 0, &r), 0);
  assert_int_equal(store_get(r, STORE_T_PRODUCTS, "p9", 2, &v, &vn), PERR_NOT_FOUND);
  assert_int_equal(store_get(r, STORE_T_ORDERS, "o9", 2, &v, &vn), PERR_NOT_FOUND);
  assert_int_equal(store_get(r, STORE_T_PRODUCTS, "p1", 2, &v, &vn), 0);
  assert_int_equal(store_get(r, STORE_T_CUSTOMERS, "c1", 2, &v, &vn), 0);
  assert_int_equal(store_get(r, STORE_T_REFUNDS, "r1", 2, &v, &vn), 0);
  store_abort(r);
}

static void test_store_failure_stores_nothing(void **state) {
  fx_t **two = *state;
  job_t first[16];
  size_t n = scenario(first);
  run_batch(two[0]->s, first, n, 1); /* some data to keep */
  dump_t before = dump_store(two[0]->s);

  job_t jobs[3] = {{.kind = J_PRODUCT, .product = product("p5", "EUR", 10)},
                   {.kind = J_STORE_ERROR},
                   {.kind = J_CUSTOMER, .customer = {.id = S("c5")}}};
  store_batch_t b;
  perr_info_t e = {0};
  assert_int_equal(store_batch_begin(two[0]->s, &b), 0);
  assert_int_equal(store_batch_apply(&b, run_job, &jobs[0], &e), 0);
  assert_int_equal(store_batch_apply(&b, run_job, &jobs[1], &e), PERR_UNAVAILABLE);
  assert_int_equal(store_batch_apply(&b, run_job, &jobs[2], &e), PERR_UNAVAILABLE);
  assert_false(jobs[2].ran); /* a failed batch runs nothing more */
  assert_string_equal(e.message, "store failure (test)");
  assert_int_equal(store_batch_commit(&b), PERR_UNAVAILABLE);
  assert_true(b.failed);
  assert_same_dump(before, dump_store(two[0]->s));
}

/* store_batch_apply_group: the mixed scenario as one group (its refusals send it back to one
 * savepoint a job) and the accepted jobs as groups of every size leave the same store as one
 * savepoint a job, with the same code per job. */
static void test_group_same_outcome(void **state) {
  fx_t **two = *state;
  job_t mixed[16], accepted[16];
  size_t n = scenario(mixed);
  scenario(accepted);
  void *args[16];
  int rc[16];
  perr_info_t e[16];
  store_batch_t b;
  for (size_t i = 0; i < n; i++) args[i] = &mixed[i];
  assert_int_equal(store_batch_begin(two[0]->s, &b), 0);
  assert_int_not_equal(store_batch_apply_group(&b, n, run_job, args, rc, e), 0);
  for (size_t i = 0; i < n; i++) {
    if (rc[i] != mixed[i].want) fail_msg("job %zu: got %d (%s), want %d", i, rc[i], e[i].message, mixed[i].want);
    if (rc[i]) assert_int_equal(e[i].code, rc[i]);
  }
  size_t nrejected = 0;
  for (size_t i = 0; i < n; i++) nrejected += mixed[i].want != 0;
  assert_int_equal(b.rejected, nrejected);
  assert_int_equal(store_batch_commit(&b), 0);

  /* accepted only, in groups of 2 (and a last one of 1): never sent back */
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!accepted[i].want) args[k++] = &accepted[i];
  assert_int_equal(store_batch_begin(two[1]->s, &b), 0);
  for (size_t i = 0; i < k; i += 2) {
    size_t m = k - i < 2 ? k - i : 2;
    assert_int_equal(store_batch_apply_group(&b, m, run_job, args + i, rc + i, e + i), 0);
  }
  assert_int_equal(b.applied, k);
  assert_int_equal(b.rejected, 0);
  assert_int_equal(store_batch_commit(&b), 0);
  dump_t a = dump_store(two[0]->s), c = dump_store(two[1]->s);
  assert_true(a.n > 200);
  assert_same_dump(a, c); /* frees both */

  /* a store-level failure in a group fails every job and the batch: nothing stored */
  job_t bad[2] = {{.kind = J_PRODUCT, .product = product("p6", "EUR", 10)}, {.kind = J_STORE_ERROR}};
  void *bargs[2] = {&bad[0], &bad[1]};
  dump_t before = dump_store(two[1]->s);
  assert_int_equal(store_batch_begin(two[1]->s, &b), 0);
  assert_int_equal(store_batch_apply_group(&b, 2, run_job, bargs, rc, e), PERR_UNAVAILABLE);
  assert_int_equal(rc[0], PERR_UNAVAILABLE);
  assert_int_equal(rc[1], PERR_UNAVAILABLE);
  assert_int_equal(store_batch_commit(&b), PERR_UNAVAILABLE);
  assert_same_dump(before, dump_store(two[1]->s));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rejected_jobs_leave_no_trace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_failure_stores_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_same_outcome, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
