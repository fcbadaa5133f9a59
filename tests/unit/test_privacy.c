/* test_privacy.c -- cmocka tests of the privacy core over a real LMDB store:
 * core_customer_forget (the id is replaced by "anon-" + 32 hex everywhere it is a key or a
 * reference; aggregates, orders and feedback stay; email, name and the id are in no table's
 * keys or values; the merge tombstones naming the id go; an audit row without personal data;
 * errors change nothing), core_customer_export (profile, orders with lines and refunds, the
 * refund records, feedback, no loyalty or offers rows without a program or offers), and store_scrub_free_pages (after a committed forget, no byte of the email, the
 * name or the id is left anywhere in the data file). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commerce/commerce.h"
#include "store_fixture.h"
#include "commerce/feedback.h"
#include "commerce/merge.h"
#include "commerce/privacy.h"
#include "loyalty/loyalty.h"

#define S(lit) ((pstr_t){(lit), sizeof(lit) - 1})
#define NOW 1700000000
#define ID "victim-42-zz"
#define EMAIL "quentin.zarkov-77@example.net"
#define NAME "Quentin Zarkovitch"

static int setup(void **state) { return fx_setup(state, "/tmp/patron-pv-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

static void order(fx_t *f, const char *oid, const char *cust, int64_t ts, int64_t price) {
  order_line_t l = {S("p1"), 2, price};
  order_t o = {.order_id = {oid, strlen(oid)}, .customer_id = {cust, strlen(cust)},
               .currency = S("EUR"), .ts = ts, .lines = &l, .nlines = 1};
  order_result_t r;
  perr_info_t e = {0};
  assert_int_equal(core_order_record(f->w, &o, NOW, &r, &e), 0);
}

/* The victim: a profile, three orders (one refunded in part), feedback, a merged guest. */
static void shop(fx_t *f) {
  perr_info_t e = {0};
  customer_t c = {.id = S(ID), .email = S(EMAIL), .name = S(NAME), .created_at = 100};
  assert_int_equal(core_customer_upsert(f->w, &c, NOW, &e), 0);
  order(f, "o1", ID, 1000, 500);
  order(f, "o2", ID, 2000, 700);
  order(f, "g1", "guest-1", 1500, 300);
  order(f, "x1", "other", 1200, 900);
  refund_t rf = {.refund_id = S("r1"), .order_id = S("o2"), .ts = 2100, .amount = 200};
  refund_result_t rr;
  assert_int_equal(core_order_refund(f->w, &rf, NOW, &rr, &e), 0);
  feedback_t fb = {S("f1"), S(ID), FEEDBACK_NPS, 9, 1800};
  feedback_result_t fr;
  assert_int_equal(core_feedback_record(f->w, &fb, NOW, &fr, &e), 0);
  merge_t m = {S("guest-1"), S(ID)};
  merge_result_t mr;
  assert_int_equal(core_customer_merge(f->w, &m, NOW, &mr, &e), 0);
  assert_int_equal(mr.orders, 1);
}

static int has(const void *hay, size_t n, const char *needle) {
  return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void test_forget(void **state) {
  fx_t *f = *state;
  shop(f);
  perr_info_t e = {0};
  customer_profile_t before;
  assert_int_equal(core_customer_get(f->w, S(ID), &f->a, &before, &e), 0);
  assert_int_equal(before.order_count, 3);
  dump_t d0 = dump(f->w);
  assert_true(has(d0.p, d0.n, EMAIL) && has(d0.p, d0.n, NAME) && has(d0.p, d0.n, ID));
  free(d0.p);

  forget_t fg = {S(ID)};
  forget_result_t r;
  assert_int_equal(core_customer_forget(f->w, &fg, NOW + 5, &r, &e), 0);
  assert_int_equal(strlen(r.pseudonym), 37);
  assert_memory_equal(r.pseudonym, "anon-", 5);
  assert_int_equal(strspn(r.pseudonym + 5, "0123456789abcdef"), 32);
  assert_int_equal(r.orders, 3);
  assert_int_equal(r.feedback, 1);
  pstr_t p = {r.pseudonym, strlen(r.pseudonym)};

  customer_profile_t after;
  assert_int_equal(core_customer_get(f->w, S(ID), &f->a, &after, &e), PERR_NOT_FOUND);
  assert_int_equal(core_customer_get(f->w, p, &f->a, &after, &e), 0);
  assert_int_equal(after.customer.email.n, 0);
  assert_int_equal(after.customer.name.n, 0);
  assert_int_equal(after.order_count, before.order_count);
  assert_int_equal(after.refund_count, before.refund_count);
  assert_int_equal(after.first_order_at, before.first_order_at);
  assert_int_equal(after.last_order_at, before.last_order_at);
  assert_int_equal(after.ntotals, 1);
  assert_int_equal(after.totals[0].gross, before.totals[0].gross);
  assert_int_equal(after.totals[0].refunded, 200);
  order_t o;
  int64_t refunded;
  assert_int_equal(core_order_get(f->w, S("o2"), &f->a, &o, &refunded, &e), 0);
  assert_memory_equal(o.customer_id.p, p.p, p.n);
  assert_int_equal(refunded, 200);
  feedback_t fb;
  assert_int_equal(core_feedback_get(f->w, S("f1"), &f->a, &fb, &e), 0);
  assert_memory_equal(fb.customer_id.p, p.p, p.n);

  /* no table holds the personal data or the id; the other customer is untouched */
  dump_t d = dump(f->w);
  assert_false(has(d.p, d.n, EMAIL));
  assert_false(has(d.p, d.n, NAME));
  assert_false(has(d.p, d.n, ID));
  assert_true(has(d.p, d.n, "other"));
  free(d.p);
  /* the audit row names the pseudonym only */
  char key[64];
  size_t kn = sizeof PRIVACY_AUDIT_PREFIX;
  memcpy(key, PRIVACY_AUDIT_PREFIX, kn);
  memcpy(key + kn, p.p, p.n);
  const void *v;
  size_t vn;
  assert_int_equal(store_get(f->w, STORE_T_AUX, key, kn + p.n, &v, &vn), 0);
  /* the guest's tombstone went with the id: the guest is unknown again */
  merge_t m = {S("guest-1"), p};
  merge_result_t mr;
  assert_int_equal(core_customer_merge(f->w, &m, NOW, &mr, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "guest_id");

  /* errors change nothing */
  dump_t b = dump(f->w);
  assert_int_equal(core_customer_forget(f->w, &fg, NOW, &r, &e), PERR_NOT_FOUND);
  assert_string_equal(e.field, "customer_id");
  forget_t empty = {S("")};
  assert_int_equal(core_customer_forget(f->w, &empty, NOW, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "customer_id");
  assert_same_dump(b, dump(f->w));
}

static void test_pseudonyms_are_salted(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  char seen[2][PRIVACY_PSEUDONYM_MAX];
  for (int i = 0; i < 2; i++) { /* the same id, recreated and forgotten twice */
    customer_t c = {.id = S(ID), .email = S(EMAIL)};
    assert_int_equal(core_customer_upsert(f->w, &c, NOW, &e), 0);
    forget_t fg = {S(ID)};
    forget_result_t r;
    assert_int_equal(core_customer_forget(f->w, &fg, NOW, &r, &e), 0);
    memcpy(seen[i], r.pseudonym, sizeof r.pseudonym);
  }
  assert_string_not_equal(seen[0], seen[1]);
}

static void test_export(void **state) {
  fx_t *f = *state;
  shop(f);
  perr_info_t e = {0};
  export_result_t x;
  assert_int_equal(core_customer_export(f->w, S(ID), NOW, &f->a, &x, &e), 0);
  assert_memory_equal(x.profile.customer.email.p, EMAIL, strlen(EMAIL));
  assert_int_equal(x.norders, 3);
  const char *want[] = {"o1", "g1", "o2"}; /* by ts */
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(x.orders[i].order.order_id.n, 2);
    assert_memory_equal(x.orders[i].order.order_id.p, want[i], 2);
  }
  assert_int_equal(x.orders[2].refunded, 200);
  assert_int_equal(x.orders[0].order.lines[0].quantity, 2);
  assert_int_equal(x.nfeedback, 1);
  assert_int_equal(x.feedback[0].score, 9);
  /* the refund record of o2, found by the pass over REFUNDS */
  assert_int_equal(x.nrefunds, 1);
  assert_memory_equal(x.refunds[0].refund_id.p, "r1", 2);
  assert_memory_equal(x.refunds[0].order_id.p, "o2", 2);
  assert_int_equal(x.refunds[0].amount, 200);
  assert_int_equal(x.refunds[0].ts, 2100);
  assert_int_equal(x.refunds[0].nlines, 0);
  assert_false(x.tier.member); /* no loyalty program: no member, empty ledger */
  assert_int_equal(x.points.nhistory, 0);
  assert_int_equal(x.offers.nseen + x.offers.ncounters, 0);
  assert_int_equal(core_customer_export(f->w, S("nobody"), NOW, &f->a, &x, &e), PERR_NOT_FOUND);
  assert_int_equal(core_customer_export(f->w, S(""), NOW, &f->a, &x, &e), PERR_INVALID_PARAMS);
}

/* Loyalty: the member's summary, ledger, tier history and tier index follow the pseudonym. */
static void test_forget_moves_loyalty(void **state) {
  fx_t *f = *state;
  perr_info_t e = {0};
  loy_program_t p;
  loyalty_program_default(&p);
  p.ntiers = 2;
  snprintf(p.tiers[0].name, sizeof p.tiers[0].name, "Bronze");
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Gold");
  p.tiers[1].entry_threshold = 10;
  for (int i = 0; i < 2; i++) {
    p.tiers[i].retention_threshold = -1;
    p.tiers[i].earn_mult_bp = LOY_BP;
  }
  p.nearn = 1;
  memcpy(p.earn[0].currency, "EUR", 4);
  p.earn[0].points = 1;
  p.earn[0].per_minor = 100;
  assert_int_equal(loyalty_program_set(f->w, &p, NULL, &e), 0);
  customer_t c = {.id = S(ID), .email = S(EMAIL)};
  assert_int_equal(core_customer_upsert(f->w, &c, NOW, &e), 0);
  loy_line_t l = {S("p1"), S("cat"), 1, 5000};
  loy_order_t o = {S(ID), S("lo1"), S("EUR"), NOW, &l, 1, 0, 0};
  loy_earn_result_t er;
  assert_int_equal(loyalty_on_order(f->w, &o, NOW, &er, &e), 0);
  loy_points_info_t before, after;
  assert_int_equal(loyalty_points(f->w, S(ID), NOW, 0, 0, 10, &f->a, &before, &e), 0);
  assert_int_equal(before.member, 1);
  assert_true(before.total > 0);
  forget_t fg = {S(ID)};
  forget_result_t r;
  assert_int_equal(core_customer_forget(f->w, &fg, NOW, &r, &e), 0);
  assert_true(r.loyalty >= 2); /* the summary and at least one ledger entry */
  pstr_t ps = {r.pseudonym, strlen(r.pseudonym)};
  assert_int_equal(loyalty_points(f->w, ps, NOW, 0, 0, 10, &f->a, &after, &e), 0);
  assert_int_equal(after.member, 1);
  assert_int_equal(after.total, before.total);
  assert_int_equal(loyalty_points(f->w, S(ID), NOW, 0, 0, 10, &f->a, &after, &e), 0);
  assert_int_equal(after.member, 0);
  loy_tier_info_t t;
  assert_int_equal(loyalty_tier(f->w, ps, NOW, &t, &e), 0);
  /* no loyalty row names the id any more (the order's idempotency answer included) */
  dump_t d = dump(f->w);
  assert_false(has(d.p, d.n, ID));
  free(d.p);
  /* a replay under the old id is a conflict, as after customer.merge: the answer names the
   * pseudonym now */
  assert_int_equal(loyalty_on_order(f->w, &o, NOW, &er, &e), PERR_CONFLICT);
  loy_check_t chk;
  assert_int_equal(loyalty_check(f->w, &f->a, &chk, &e), 0);
  assert_int_equal(chk.members, 1);
  assert_int_equal(chk.ndiffs, 0);
  assert_int_equal(chk.orphans, 0);
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *n = (size_t)len;
  return b;
}

static void test_scrub_leaves_no_byte(void **state) {
  fx_t *f = *state;
  shop(f);
  for (int i = 0; i < 200; i++) { /* a few pages of other customers around the victim */
    char id[16];
    snprintf(id, sizeof id, "c%03d", i);
    order(f, id, id, 3000 + i, 100 + i);
  }
  assert_int_equal(store_commit(f->w), 0);
  char path[128];
  snprintf(path, sizeof path, "%s/data.mdb", f->dir);
  size_t n;
  unsigned char *b = read_all(path, &n);
  assert_true(has(b, n, EMAIL) && has(b, n, NAME)); /* the grep can fail */
  free(b);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  perr_info_t e = {0};
  forget_t fg = {S(ID)};
  forget_result_t r;
  assert_int_equal(core_customer_forget(f->w, &fg, NOW, &r, &e), 0);
  assert_int_equal(store_commit(f->w), 0);
  f->w = NULL;
  uint64_t zeroed;
  assert_int_equal(store_scrub_free_pages(f->s, &zeroed, &e), 0);
  assert_true(zeroed > 0);
  b = read_all(path, &n);
  assert_false(has(b, n, EMAIL));
  assert_false(has(b, n, NAME));
  assert_false(has(b, n, ID));
  assert_true(has(b, n, "c199")); /* live data survives */
  free(b);
  /* the store is intact: every row still reads */
  assert_int_equal(store_txn_begin(f->s, 0, &f->w), 0);
  customer_profile_t pr;
  assert_int_equal(core_customer_get(f->w, (pstr_t){r.pseudonym, strlen(r.pseudonym)}, &f->a, &pr, &e), 0);
  assert_int_equal(pr.order_count, 3);
  assert_int_equal(core_customer_get(f->w, S("c150"), &f->a, &pr, &e), 0);
  assert_int_equal(pr.order_count, 1);
  core_counts_t cnt;
  core_counts(f->w, &cnt);
  assert_int_equal(cnt.orders, 204);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pseudonyms_are_salted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_export, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget_moves_loyalty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scrub_leaves_no_byte, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
