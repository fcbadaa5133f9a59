/* test_loyalty.c -- cmocka tests of loyalty/loyalty.h over a real LMDB store in a temp dir:
 * program validation and round trip, earning arithmetic (rounding, multipliers, discount),
 * the named edge cases (499 -> 500 upgrades at once; spending never moves a
 * points-earned tier down; no second entry reward in one window; a partial refund removes
 * points pro rata and can drop a lifetime tier; two redemptions of one balance in one write
 * txn; replayed redemption ids), refund after spend, pending points, both expiry rules,
 * calendar reviews with grace, program re-evaluation, members paging and "errors change
 * nothing" (every table dumped before and after a failing call). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty.h"
#include "store/store_batch.h"
#include "store_fixture.h"

#define S(lit) ((pstr_t){(lit), sizeof(lit) - 1})
#define DAY 86400
/* 2024-03-01 00:00:00 UTC */
#define T0 1709251200

static int setup(void **state) { return fx_setup(state, "/tmp/patron-loyalty-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

static pstr_t P(const char *s) { return (pstr_t){s, strlen(s)}; }

/* Bronze 0 / Silver 500 / Gold 1000 points, lifetime, 1 point per EUR, 1 EUR per 100 points. */
static void base_program(loy_program_t *p) {
  loyalty_program_default(p);
  const char *names[] = {"Bronze", "Silver", "Gold"};
  int64_t th[] = {0, 500, 1000};
  p->ntiers = 3;
  for (int i = 0; i < 3; i++) {
    snprintf(p->tiers[i].name, sizeof p->tiers[i].name, "%s", names[i]);
    p->tiers[i].entry_threshold = th[i];
    p->tiers[i].retention_threshold = -1;
    p->tiers[i].earn_mult_bp = LOY_BP;
  }
  p->tiers[1].entry_bonus = 50;
  p->tiers[2].entry_bonus = 100;
  p->tiers[2].discount_pct = 10;
  p->tiers[2].free_shipping = 1;
  p->nearn = 1;
  memcpy(p->earn[0].currency, "EUR", 4);
  p->earn[0].points = 1;
  p->earn[0].per_minor = 100;
  p->nredeem = 1;
  memcpy(p->redeem[0].currency, "EUR", 4);
  p->redeem[0].points = 100;
  p->redeem[0].per_minor = 100;
}

static void set_program(fx_t *f, const loy_program_t *p) {
  perr_info_t e = {0};
  assert_int_equal(loyalty_program_set(f->w, p, NULL, &e), 0);
}

static loy_earn_result_t order(fx_t *f, const char *cust, const char *id, int64_t cents,
                               int64_t now) {
  loy_line_t l = {S("p1"), S("cat"), 1, cents};
  loy_order_t o = {P(cust), P(id), S("EUR"), now, &l, 1, 0, 0};
  loy_earn_result_t r;
  perr_info_t e = {0};
  assert_int_equal(loyalty_on_order(f->w, &o, now, &r, &e), 0);
  return r;
}

static loy_refund_result_t refund(fx_t *f, const char *oid, const char *rid, int64_t amount,
                                  int64_t now) {
  loy_refund_t rf = {P(oid), P(rid), amount, NULL, 0};
  loy_refund_result_t r;
  perr_info_t e = {0};
  assert_int_equal(loyalty_on_refund(f->w, &rf, now, &r, &e), 0);
  return r;
}

static loy_redeem_result_t redeem(fx_t *f, const char *cust, const char *rid, int64_t pts,
                                  int64_t now) {
  loy_redeem_t rq = {P(cust), P(rid), S("cart-1"), S("EUR"), pts};
  loy_redeem_result_t r;
  perr_info_t e = {0};
  assert_int_equal(loyalty_redeem(f->w, &rq, now, &r, &e), 0);
  return r;
}

static loy_credit_result_t award(fx_t *f, const char *cust, int64_t pts, const char *key,
                                 int64_t now) {
  loy_credit_result_t r;
  perr_info_t e = {0};
  assert_int_equal(loyalty_award(f->w, P(cust), pts, LOY_AWARD_CUSTOM, P(key), now, &r, &e), 0);
  return r;
}

static loy_tier_info_t tier(fx_t *f, const char *cust, int64_t now) {
  loy_tier_info_t t;
  perr_info_t e = {0};
  assert_int_equal(loyalty_tier(f->w, P(cust), now, &t, &e), 0);
  return t;
}

static loy_points_info_t points(fx_t *f, const char *cust, int64_t now) {
  loy_points_info_t p;
  perr_info_t e = {0};
  assert_int_equal(loyalty_points(f->w, P(cust), now, 400 * DAY, 0, 100, &f->a, &p, &e), 0);
  return p;
}

static void assert_check_clean(fx_t *f) {
  loy_check_t c;
  perr_info_t e = {0};
  assert_int_equal(loyalty_check(f->w, &f->a, &c, &e), 0);
  assert_int_equal(c.ndiffs, 0);
  assert_true(c.members > 0);
}

/* ---- program -------------------------------------------------------------------------- */

static void test_program_validation(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  perr_info_t e;
  base_program(&p);
  p.tiers[1].entry_threshold = 0; /* not increasing */
  memset(&e, 0, sizeof e);
  dump_t before = dump(f->w);
  assert_int_equal(loyalty_program_set(f->w, &p, NULL, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "tiers.entry_threshold");
  assert_same_dump(before, dump(f->w));

  base_program(&p);
  p.tiers[2].retention_threshold = 2000;
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "tiers.retention_threshold");
  base_program(&p);
  memcpy(p.earn[0].currency, "XXQ", 4);
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "earn");
  base_program(&p);
  p.window = LOY_WINDOW_ROLLING;
  p.window_months = 0;
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "window_months");
  base_program(&p);
  p.basis = LOY_BASIS_SPEND;
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "tier_currency");
  base_program(&p);
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Bronze");
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "tiers.name");
  base_program(&p);
  p.expiry = LOY_EXPIRY_ENTRY;
  assert_int_equal(loyalty_program_validate(&p, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "expiry_months");

  /* round trip and versions */
  assert_int_equal(loyalty_program_get(f->w, &p, &e), PERR_NOT_FOUND);
  base_program(&p);
  p.nmults = 1;
  p.mults[0].is_category = 1;
  snprintf(p.mults[0].id, sizeof p.mults[0].id, "shoes");
  p.mults[0].mult_bp = 2 * LOY_BP;
  snprintf(p.tiers[2].labels[0], sizeof p.tiers[2].labels[0], "vip");
  p.tiers[2].nlabels = 1;
  uint32_t v1 = 0, v2 = 0;
  assert_int_equal(loyalty_program_set(f->w, &p, &v1, &e), 0);
  assert_int_equal(loyalty_program_set(f->w, &p, &v2, &e), 0);
  assert_int_equal(v1, 1);
  assert_int_equal(v2, 2);
  loy_program_t got;
  assert_int_equal(loyalty_program_get(f->w, &got, &e), 0);
  assert_int_equal(got.version, 2);
  p.version = 2;
  assert_int_equal(got.ntiers, 3);
  assert_string_equal(got.tiers[2].labels[0], "vip");
  assert_string_equal(got.mults[0].id, "shoes");
  assert_int_equal(got.mults[0].mult_bp, 2 * LOY_BP);
  assert_int_equal(got.tiers[2].free_shipping, 1);
  assert_int_equal(got.redeem[0].per_minor, 100);
}

/* ---- earning -------------------------------------------------------------------------- */

static void test_earn_rounding_and_multipliers(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.tiers[1].entry_bonus = p.tiers[2].entry_bonus = 0;
  p.nmults = 2;
  p.mults[0] = (loy_mult_t){1, "shoes", 2 * LOY_BP};
  p.mults[1] = (loy_mult_t){0, "p-sale", LOY_BP / 2};
  set_program(f, &p);
  /* 19.99 EUR earns 19 points: round down once per order */
  assert_int_equal(order(f, "c1", "o1", 1999, T0).points, 19);
  /* lines: 3 x 10.00 shoes (2x), 1 x 10.00 p-sale (0.5x), discount 4.00 spread pro rata
   * (3.00 on the shoes line, 1.00 on p-sale): (2700*2 + 900*0.5) / 100 = 58.5 -> 58 */
  loy_line_t l[2] = {{S("p-shoe"), S("shoes"), 3, 1000}, {S("p-sale"), S("misc"), 1, 1000}};
  loy_order_t o = {S("c1"), S("o2"), S("EUR"), T0, l, 2, 400, 0};
  loy_earn_result_t r;
  perr_info_t e = {0};
  assert_int_equal(loyalty_on_order(f->w, &o, T0, &r, &e), 0);
  assert_int_equal(r.net_spend, 3600);
  assert_int_equal(r.points, 58);
  /* a currency without an earn rate earns nothing, the order is still recorded */
  loy_order_t usd = {S("c1"), S("o3"), S("USD"), T0, l, 1, 0, 0};
  assert_int_equal(loyalty_on_order(f->w, &usd, T0, &r, &e), 0);
  assert_int_equal(r.points, 0);
  /* the preview of the same cart agrees and writes nothing */
  dump_t before = dump(f->w);
  loy_preview_t pv;
  o.order_id = S("o9");
  assert_int_equal(loyalty_preview(f->w, &o, T0, &pv, &e), 0);
  assert_int_equal(pv.points, 58);
  assert_same_dump(before, dump(f->w));
  /* bad input: structured error, nothing written */
  loy_line_t bad = {S("p1"), S(""), 0, 100};
  loy_order_t ob = {S("c1"), S("o4"), S("EUR"), T0, &bad, 1, 0, 0};
  before = dump(f->w);
  memset(&e, 0, sizeof e);
  assert_int_equal(loyalty_on_order(f->w, &ob, T0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "lines.quantity");
  ob.lines = l;
  ob.discount = 999999;
  assert_int_equal(loyalty_on_order(f->w, &ob, T0, &r, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "discount");
  assert_same_dump(before, dump(f->w));
  assert_check_clean(f);
}

/* ---- named edge cases ------------------------------------------------------------------ */

static void test_499_to_500_upgrades_at_once(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  loy_earn_result_t r = order(f, "c1", "o1", 49900, T0);
  assert_int_equal(r.points, 499);
  assert_string_equal(r.move.to, "Bronze");
  assert_string_equal(tier(f, "c1", T0).tier.name, "Bronze");
  assert_int_equal(tier(f, "c1", T0).missing, 1);
  loy_credit_result_t a = award(f, "c1", 1, "k1", T0 + 10);
  assert_int_equal(a.move.changed, 1);
  assert_string_equal(a.move.from, "Bronze");
  assert_string_equal(a.move.to, "Silver");
  assert_int_equal(a.move.bonus, 50);
  loy_tier_info_t t = tier(f, "c1", T0 + 10);
  assert_string_equal(t.tier.name, "Silver");
  assert_int_equal(t.tier_since, T0 + 10);
  assert_string_equal(t.next_tier, "Gold");
  assert_int_equal(t.missing, 500); /* bonus points do not qualify */
  loy_tier_change_t h[4];
  size_t n, total;
  perr_info_t e = {0};
  assert_int_equal(loyalty_tier_history(f->w, S("c1"), h, 4, &n, &total, &e), 0);
  assert_int_equal(n, 2);
  assert_string_equal(h[1].from, "Bronze");
  assert_string_equal(h[1].to, "Silver");
  assert_string_equal(h[1].reason, "qualified");
  assert_int_equal(h[1].at, T0 + 10);
  assert_check_clean(f);
}

static void test_spending_never_moves_points_tier_down(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.window = LOY_WINDOW_CALENDAR_YEAR;
  p.downgrade = LOY_DOWN_PERIOD_END;
  set_program(f, &p);
  order(f, "c1", "o1", 60000, T0); /* 600 points + 50 bonus */
  assert_string_equal(tier(f, "c1", T0).tier.name, "Silver");
  assert_int_equal(points(f, "c1", T0).balance, 650);
  loy_redeem_result_t r = redeem(f, "c1", "r1", 650, T0 + DAY);
  assert_int_equal(r.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(r.value, 650);
  assert_int_equal(r.balance_after, 0);
  loy_tier_info_t t = tier(f, "c1", T0 + DAY);
  assert_string_equal(t.tier.name, "Silver");
  assert_int_equal(t.qualifying, 600);
  loy_batch_result_t b;
  perr_info_t e = {0};
  assert_int_equal(loyalty_expire_run(f->w, T0 + 2 * DAY, S(""), 0, &b, &e), 0);
  assert_string_equal(tier(f, "c1", T0 + 2 * DAY).tier.name, "Silver");
  assert_check_clean(f);
}

static void test_entry_reward_once_per_window(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p); /* lifetime window: the window is the member's whole life */
  set_program(f, &p);
  loy_earn_result_t r = order(f, "c1", "o1", 100000, T0); /* 1000 points: Gold */
  assert_string_equal(r.move.to, "Gold");
  assert_int_equal(r.move.bonus, 100);
  /* full refund: lifetime value 0 -> down to Bronze */
  loy_refund_result_t rf = refund(f, "o1", "rf1", 100000, T0 + DAY);
  assert_int_equal(rf.points_reversed, 1000);
  assert_string_equal(rf.move.to, "Bronze");
  /* re-qualify: Gold again, no second reward */
  r = order(f, "c1", "o2", 100000, T0 + 2 * DAY);
  assert_string_equal(r.move.to, "Gold");
  assert_int_equal(r.move.bonus, 0);
  assert_int_equal(points(f, "c1", T0 + 2 * DAY).total, 1000 + 100);

  /* rolling 12 months with monthly reviews: the same within 12 months, paid again after */
  base_program(&p);
  p.window = LOY_WINDOW_ROLLING;
  p.window_months = 12;
  p.downgrade = LOY_DOWN_PERIOD_END;
  set_program(f, &p);
  r = order(f, "c2", "o3", 100000, T0);
  assert_int_equal(r.move.bonus, 100); /* straight to Gold: Gold's reward only */
  /* the order leaves the 12-month window: reviewed down at a month start */
  int64_t later = T0 + 400 * DAY;
  assert_string_equal(tier(f, "c2", later).tier.name, "Bronze");
  r = order(f, "c2", "o4", 100000, later);
  assert_string_equal(r.move.to, "Gold");
  assert_int_equal(r.move.bonus, 100); /* more than 12 months after the first reward */
  int64_t later2 = later + 400 * DAY;
  order(f, "c2", "o5", 100000, later2);
  loy_refund_result_t rf2 = refund(f, "o5", "rf5", 100000, later2 + DAY);
  (void)rf2;
  assert_check_clean(f);
}

static void test_partial_refund_pro_rata_drops_lifetime_tier(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  loy_earn_result_t r = order(f, "c1", "o1", 100000, T0);
  assert_int_equal(r.points, 1000);
  assert_string_equal(r.move.to, "Gold");
  /* 30% refunded: 300 points reversed, 700 left < 1000 -> Silver (not Bronze) */
  loy_refund_result_t rf = refund(f, "o1", "rf1", 30000, T0 + DAY);
  assert_int_equal(rf.points_reversed, 300);
  assert_int_equal(rf.move.changed, 1);
  assert_string_equal(rf.move.from, "Gold");
  assert_string_equal(rf.move.to, "Silver");
  /* 33.33% more: cumulative floor(1000 * 63333 / 100000) = 633 -> 333 this time */
  rf = refund(f, "o1", "rf2", 33333, T0 + DAY);
  assert_int_equal(rf.points_reversed, 333);
  assert_string_equal(rf.move.to, "Bronze"); /* 367 < 500 */
  /* the rest: exactly the remaining 367, never more than earned */
  rf = refund(f, "o1", "rf3", 999999, T0 + DAY);
  assert_int_equal(rf.amount, 36667);
  assert_int_equal(rf.points_reversed, 367);
  assert_int_equal(rf.move.changed, 0); /* Bronze keeps from 0 */
  /* replay returns the first answer */
  rf = refund(f, "o1", "rf1", 30000, T0 + 5 * DAY);
  assert_int_equal(rf.created, 0);
  assert_int_equal(rf.points_reversed, 300);
  loy_tier_change_t h[8];
  size_t n, total;
  perr_info_t e = {0};
  assert_int_equal(loyalty_tier_history(f->w, S("c1"), h, 8, &n, &total, &e), 0);
  assert_int_equal(n, 3);
  assert_string_equal(h[1].reason, "refund");
  assert_string_equal(h[2].to, "Bronze");
  /* refund by line */
  loy_line_t l[2] = {{S("a"), S(""), 2, 1000}, {S("b"), S(""), 1, 3000}};
  loy_order_t o = {S("c2"), S("o2"), S("EUR"), T0, l, 2, 0, 0};
  loy_earn_result_t er;
  assert_int_equal(loyalty_on_order(f->w, &o, T0, &er, &e), 0);
  assert_int_equal(er.points, 50);
  loy_line_t rl = {S("a"), S(""), 1, 0};
  loy_refund_t rfl = {S("o2"), S("rf-l"), 0, &rl, 1};
  loy_refund_result_t rr;
  assert_int_equal(loyalty_on_refund(f->w, &rfl, T0, &rr, &e), 0);
  assert_int_equal(rr.amount, 1000);
  assert_int_equal(rr.points_reversed, 10);
  assert_check_clean(f);
}

static void test_two_redemptions_one_txn(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.tiers[1].entry_bonus = 0;
  set_program(f, &p);
  award(f, "c1", 100, "k1", T0);
  assert_int_equal(store_commit(f->w), 0);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  /* one write txn (one commit batch): only the affordable one succeeds */
  loy_redeem_result_t a = redeem(f, "c1", "r1", 80, T0 + 1);
  loy_redeem_result_t b = redeem(f, "c1", "r2", 80, T0 + 1);
  loy_redeem_result_t c = redeem(f, "c1", "r3", 20, T0 + 1);
  assert_int_equal(a.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(b.status, LOY_REDEEM_INSUFFICIENT_POINTS);
  assert_int_equal(c.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(c.balance_after, 0);
  assert_int_equal(store_commit(f->w), 0);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  assert_int_equal(points(f, "c1", T0 + 2).balance, 0);
  assert_check_clean(f);
}

/* The daemon's group commit: each job in its own savepoint of one write txn. */
typedef struct redeem_job_s {
  loy_redeem_t rq;
  loy_redeem_result_t r;
} redeem_job_t;

static int redeem_job(store_txn_t *t, void *arg, perr_info_t *e) {
  redeem_job_t *j = arg;
  return loyalty_redeem(t, &j->rq, T0 + 1, &j->r, e);
}

static void test_two_redemptions_one_batch(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.tiers[1].entry_bonus = 0;
  set_program(f, &p);
  award(f, "c1", 100, "k1", T0);
  assert_int_equal(store_commit(f->w), 0);
  f->w = NULL;
  store_batch_t b;
  assert_int_equal(store_batch_begin(f->s, &b), 0);
  redeem_job_t j[3] = {{{S("c1"), S("r1"), S(""), S("EUR"), 70}, {0}},
                       {{S("c1"), S("r2"), S(""), S("EUR"), 70}, {0}},
                       {{S("c1"), S("r3"), S(""), S("JPY"), 10}, {0}}}; /* invalid: rolled back */
  perr_info_t e = {0};
  assert_int_equal(store_batch_apply(&b, redeem_job, &j[0], &e), 0);
  assert_int_equal(store_batch_apply(&b, redeem_job, &j[1], &e), 0);
  assert_int_equal(store_batch_apply(&b, redeem_job, &j[2], &e), PERR_INVALID_PARAMS);
  assert_int_equal(store_batch_commit(&b), 0);
  assert_int_equal(j[0].r.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(j[1].r.status, LOY_REDEEM_INSUFFICIENT_POINTS);
  assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
  assert_int_equal(points(f, "c1", T0 + 2).balance, 30);
  /* both answers were stored: replays return them */
  assert_int_equal(redeem(f, "c1", "r2", 70, T0 + 3).status, LOY_REDEEM_INSUFFICIENT_POINTS);
  assert_int_equal(redeem(f, "c1", "r1", 70, T0 + 3).created, 0);
  assert_check_clean(f);
}

static void test_redemption_replay_and_cancel(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.redeem_min_points = 10;
  set_program(f, &p);
  award(f, "c1", 300, "k1", T0);
  loy_redeem_result_t a = redeem(f, "c1", "r1", 200, T0);
  assert_int_equal(a.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(a.created, 1);
  assert_int_equal(a.value, 200);
  assert_string_equal(a.currency, "EUR");
  /* replay, even after the balance changed: the first answer */
  award(f, "c1", 1000, "k2", T0 + 1);
  loy_redeem_result_t again = redeem(f, "c1", "r1", 200, T0 + 2);
  assert_int_equal(again.created, 0);
  assert_int_equal(again.status, LOY_REDEEM_ACCEPTED);
  assert_int_equal(again.balance_after, a.balance_after);
  /* a refusal is an answer too */
  loy_redeem_result_t big = redeem(f, "c1", "r2", 100000, T0 + 3);
  assert_int_equal(big.status, LOY_REDEEM_INSUFFICIENT_POINTS);
  award(f, "c1", 200000, "k3", T0 + 4);
  assert_int_equal(redeem(f, "c1", "r2", 100000, T0 + 5).status, LOY_REDEEM_INSUFFICIENT_POINTS);
  assert_int_equal(redeem(f, "c1", "r3", 5, T0 + 5).status, LOY_REDEEM_BELOW_MINIMUM);
  /* different parameters under the same id: conflict, nothing written */
  loy_redeem_t rq = {S("c1"), S("r1"), S(""), S("EUR"), 201};
  loy_redeem_result_t rr;
  perr_info_t e = {0};
  dump_t before = dump(f->w);
  assert_int_equal(loyalty_redeem(f->w, &rq, T0 + 6, &rr, &e), PERR_CONFLICT);
  assert_string_equal(e.field, "redemption_id");
  rq.redemption_id = S("r9");
  rq.currency = S("JPY");
  assert_int_equal(loyalty_redeem(f->w, &rq, T0 + 6, &rr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "currency");
  assert_same_dump(before, dump(f->w));
  /* cancel returns the points once */
  int64_t bal = points(f, "c1", T0 + 7).balance;
  loy_cancel_result_t cr;
  assert_int_equal(loyalty_redeem_cancel(f->w, S("r1"), T0 + 7, &cr, &e), 0);
  assert_int_equal(cr.created, 1);
  assert_int_equal(cr.points_returned, 200);
  assert_int_equal(cr.balance_after, bal + 200);
  assert_int_equal(loyalty_redeem_cancel(f->w, S("r1"), T0 + 8, &cr, &e), 0);
  assert_int_equal(cr.created, 0);
  assert_int_equal(points(f, "c1", T0 + 8).balance, bal + 200);
  assert_int_equal(loyalty_redeem_cancel(f->w, S("r2"), T0 + 8, &cr, &e), PERR_CONFLICT);
  assert_int_equal(loyalty_redeem_cancel(f->w, S("nope"), T0 + 8, &cr, &e), PERR_NOT_FOUND);
  assert_string_equal(loyalty_entry_type_name(LOY_E_REDEEM_CANCEL), "redeem_cancel");
  assert_string_equal(loyalty_entry_state_name(LOY_S_CANCELLED), "cancelled");
  assert_string_equal(loyalty_redeem_status_name(LOY_REDEEM_BELOW_MINIMUM), "below_minimum");
  assert_string_equal(loyalty_award_kind_name(LOY_AWARD_BIRTHDAY), "birthday");
  /* the redeem entry shows cancelled, the cancel entry refers to it */
  loy_points_info_t pi = points(f, "c1", T0 + 8);
  int seen = 0;
  for (size_t i = 0; i < pi.nhistory; i++) {
    if (pi.history[i].type == LOY_E_REDEEM && pi.history[i].key.n == 2 &&
        memcmp(pi.history[i].key.p, "r1", 2) == 0) {
      assert_int_equal(pi.history[i].state, LOY_S_CANCELLED);
      seen++;
    }
    if (pi.history[i].type == LOY_E_REDEEM_CANCEL) seen++;
  }
  assert_int_equal(seen, 2);
  /* inactive program */
  p.active = 0;
  set_program(f, &p);
  assert_int_equal(redeem(f, "c1", "r4", 50, T0 + 9).status, LOY_REDEEM_PROGRAM_INACTIVE);
  assert_check_clean(f);
}

static void test_refund_after_spend_goes_negative(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.ntiers = 0;
  set_program(f, &p);
  order(f, "c1", "o1", 40000, T0);
  assert_int_equal(redeem(f, "c1", "r1", 400, T0 + 1).status, LOY_REDEEM_ACCEPTED);
  loy_refund_result_t rf = refund(f, "o1", "rf1", 40000, T0 + 2);
  assert_int_equal(rf.points_reversed, 400);
  assert_int_equal(rf.balance_after, -400);
  loy_points_info_t pi = points(f, "c1", T0 + 2);
  assert_int_equal(pi.balance, -400);
  assert_int_equal(pi.total, -400);
  /* the debt is paid by the next earnings before anything can be redeemed */
  order(f, "c1", "o2", 50000, T0 + 3);
  assert_int_equal(points(f, "c1", T0 + 3).balance, 100);
  assert_int_equal(redeem(f, "c1", "r2", 101, T0 + 4).status, LOY_REDEEM_INSUFFICIENT_POINTS);
  assert_check_clean(f);
}

static void test_pending_points(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.ntiers = 0;
  p.pending_days = 14;
  set_program(f, &p);
  loy_earn_result_t r = order(f, "c1", "o1", 10000, T0);
  assert_int_equal(r.available_at, T0 + 14 * DAY);
  loy_points_info_t pi = points(f, "c1", T0 + DAY);
  assert_int_equal(pi.pending, 100);
  assert_int_equal(pi.balance, 0);
  assert_int_equal(pi.history[0].state, LOY_S_PENDING);
  assert_int_equal(redeem(f, "c1", "r1", 100, T0 + DAY).status, LOY_REDEEM_INSUFFICIENT_POINTS);
  /* a refund within the return window removes pending points only */
  refund(f, "o1", "rf1", 5000, T0 + 2 * DAY);
  pi = points(f, "c1", T0 + 2 * DAY);
  assert_int_equal(pi.pending, 50);
  assert_int_equal(pi.balance, 0);
  pi = points(f, "c1", T0 + 14 * DAY);
  assert_int_equal(pi.pending, 0);
  assert_int_equal(pi.balance, 50);
  assert_int_equal(pi.history[pi.nhistory - 1].state, LOY_S_ACTIVE);
  assert_int_equal(redeem(f, "c1", "r2", 50, T0 + 14 * DAY).status, LOY_REDEEM_ACCEPTED);
  assert_check_clean(f);
}

static void test_expiry_per_entry(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.ntiers = 0;
  p.expiry = LOY_EXPIRY_ENTRY;
  p.expiry_months = 12;
  set_program(f, &p);
  award(f, "c1", 100, "k1", T0);            /* expires 2025-03-01 */
  award(f, "c1", 40, "k2", T0 + 60 * DAY);  /* expires 2025-04-30 */
  redeem(f, "c1", "r1", 30, T0 + 61 * DAY); /* spends the oldest first */
  int64_t exp1 = 1740787200;                /* 2025-03-01 */
  loy_points_info_t pi = points(f, "c1", exp1 - 30 * DAY);
  assert_int_equal(pi.nexpiring, 2);
  assert_int_equal(pi.expiring[0].at, exp1);
  assert_int_equal(pi.expiring[0].points, 70);
  assert_int_equal(pi.expiring[1].points, 40);
  loy_batch_result_t b;
  perr_info_t e = {0};
  assert_int_equal(loyalty_expire_run(f->w, exp1, S(""), 0, &b, &e), 0);
  assert_int_equal(b.entries, 1);
  assert_int_equal(points(f, "c1", exp1).balance, 40);
  /* twice at the same time: nothing more */
  dump_t before = dump(f->w);
  assert_int_equal(loyalty_expire_run(f->w, exp1, S(""), 0, &b, &e), 0);
  assert_int_equal(b.changed, 0);
  assert_same_dump(before, dump(f->w));
  /* a read past the second date already shows it gone; the next write writes it */
  assert_int_equal(points(f, "c1", exp1 + 90 * DAY).balance, 0);
  assert_int_equal(redeem(f, "c1", "r2", 10, exp1 + 90 * DAY).status,
                   LOY_REDEEM_INSUFFICIENT_POINTS);
  pi = points(f, "c1", exp1 + 90 * DAY);
  assert_int_equal(pi.total, 0);
  assert_int_equal(pi.history[0].type, LOY_E_EXPIRE);
  assert_int_equal(pi.history[0].amount, -40);
  assert_check_clean(f);
}

static void test_expiry_inactivity(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.ntiers = 0;
  p.pending_days = 30;
  p.expiry = LOY_EXPIRY_INACTIVITY;
  p.expiry_months = 6;
  set_program(f, &p);
  order(f, "c1", "o1", 10000, T0);             /* deadline 2024-09-01 */
  order(f, "c1", "o2", 20000, T0 + 100 * DAY); /* clock restarts: 2024-12-09 */
  int64_t deadline = 1733702400;               /* 2024-12-09 00:00 */
  assert_int_equal(points(f, "c1", deadline - DAY).balance, 300);
  loy_points_info_t pi = points(f, "c1", deadline - 10 * DAY);
  assert_int_equal(pi.nexpiring, 1);
  assert_int_equal(pi.expiring[0].at, deadline);
  assert_int_equal(pi.expiring[0].points, 300);
  loy_batch_result_t b;
  perr_info_t e = {0};
  assert_int_equal(loyalty_expire_run(f->w, deadline, S(""), 0, &b, &e), 0);
  assert_int_equal(b.entries, 1);
  assert_int_equal(points(f, "c1", deadline).total, 0);
  /* a new order's pending points never expire */
  order(f, "c1", "o3", 10000, deadline + DAY);
  assert_int_equal(points(f, "c1", deadline + 2 * DAY).pending, 100);
  assert_check_clean(f);
}

static void test_calendar_review_with_grace(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.window = LOY_WINDOW_CALENDAR_YEAR;
  p.downgrade = LOY_DOWN_PERIOD_END;
  p.grace_days = 30;
  p.tiers[2].retention_threshold = 800;
  set_program(f, &p);
  order(f, "c1", "o1", 100000, T0); /* Gold in 2024 */
  int64_t y2025 = 1735689600;       /* 2025-01-01 */
  loy_tier_info_t t = tier(f, "c1", T0);
  assert_int_equal(t.kept_until, y2025 + 30 * DAY);
  assert_int_equal(t.kept_at_pace, 1); /* 1000 already >= 800 */
  /* 2025: 850 points (>= Gold's retention 800, < its entry 1000) */
  order(f, "c1", "o2", 85000, y2025 + 10 * DAY);
  assert_string_equal(tier(f, "c1", y2025 + 40 * DAY).tier.name, "Gold");
  /* during grace: still Gold; review of 2025 (850 >= 800) keeps Gold; 2026 has nothing */
  int64_t y2026 = 1767225600, y2027 = 1798761600;
  assert_string_equal(tier(f, "c1", y2026 + 29 * DAY).tier.name, "Gold");
  assert_string_equal(tier(f, "c1", y2027 + 29 * DAY).tier.name, "Gold");
  t = tier(f, "c1", y2027 + 30 * DAY);
  assert_int_equal(t.has_tier, 1);
  assert_string_equal(t.tier.name, "Bronze");
  /* a write persists the review with its time and reason */
  award(f, "c1", 1, "k1", y2027 + 31 * DAY);
  loy_tier_change_t h[8];
  size_t n, total;
  perr_info_t e = {0};
  assert_int_equal(loyalty_tier_history(f->w, S("c1"), h, 8, &n, &total, &e), 0);
  assert_int_equal(n, 2); /* "" -> Gold (qualified), Gold -> Bronze (review of 2026) */
  assert_string_equal(h[1].reason, "review");
  assert_int_equal(h[1].at, y2027 + 30 * DAY);
  /* one tier down */
  p.downgrade = LOY_DOWN_ONE_TIER;
  set_program(f, &p);
  order(f, "c2", "o3", 100000, y2025);
  assert_string_equal(tier(f, "c2", y2026 + 30 * DAY).tier.name, "Gold"); /* 2025 kept it */
  assert_string_equal(tier(f, "c2", y2027 + 30 * DAY).tier.name, "Silver");
  assert_string_equal(tier(f, "c2", y2027 + 400 * DAY).tier.name, "Bronze");
  assert_check_clean(f);
}

static void test_tier_progress_spend_basis(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.basis = LOY_BASIS_SPEND;
  memcpy(p.tier_currency, "EUR", 4);
  p.tiers[1].entry_threshold = 50000;
  p.tiers[2].entry_threshold = 100000;
  set_program(f, &p);
  order(f, "c1", "o1", 47650, T0);
  loy_tier_info_t t = tier(f, "c1", T0);
  assert_string_equal(t.unit, "EUR");
  assert_string_equal(t.next_tier, "Silver");
  assert_int_equal(t.missing, 2350); /* "spend 23.50 EUR more to reach Silver" */
  loy_line_t l = {S("p1"), S(""), 1, 2350};
  loy_order_t cart = {S("c1"), S(""), S("EUR"), 0, &l, 1, 0, 0};
  loy_preview_t pv;
  perr_info_t e = {0};
  assert_int_equal(loyalty_preview(f->w, &cart, T0, &pv, &e), 0);
  assert_int_equal(pv.upgrades, 1);
  assert_string_equal(pv.tier_after, "Silver");
  assert_int_equal(pv.bonus, 50);
  /* unknown customer: not a member, not an error */
  t = tier(f, "nobody", T0);
  assert_int_equal(t.member, 0);
}

static void test_reevaluate_and_members(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  char id[16], oid[16];
  for (int i = 0; i < 30; i++) {
    snprintf(id, sizeof id, "c%02d", i);
    snprintf(oid, sizeof oid, "o%02d", i);
    order(f, id, oid, (int64_t)i * 4000, T0); /* 0..1160 points */
  }
  pstr_t *ids;
  size_t n;
  int more;
  perr_info_t e = {0};
  assert_int_equal(loyalty_members(f->w, S("Gold"), S(""), 100, &f->a, &ids, &n, &more, &e), 0);
  assert_int_equal(n, 5); /* 25..29: 1000..1160 */
  /* new program: Gold from 800; re-evaluation moves members, pays no bonus */
  p.tiers[2].entry_threshold = 800;
  set_program(f, &p);
  int64_t before_total = points(f, "c20", T0).total;
  loy_batch_result_t b;
  assert_int_equal(loyalty_reevaluate(f->w, T0 + DAY, S(""), 7, &b, &e), 0);
  assert_int_equal(b.members, 7);
  assert_int_equal(b.done, 0);
  uint64_t changed = b.changed;
  while (!b.done) {
    char next[CORE_ID_MAX + 1];
    memcpy(next, b.next, b.next_len);
    pstr_t after = {next, b.next_len};
    assert_int_equal(loyalty_reevaluate(f->w, T0 + DAY, after, 7, &b, &e), 0);
    changed += b.changed;
  }
  assert_int_equal(changed, 5); /* c20..c24: 800..960 */
  assert_int_equal(points(f, "c20", T0 + DAY).total, before_total);
  assert_string_equal(tier(f, "c20", T0 + DAY).tier.name, "Gold");
  loy_tier_change_t h[4];
  size_t hn, total;
  assert_int_equal(loyalty_tier_history(f->w, S("c20"), h, 4, &hn, &total, &e), 0);
  assert_string_equal(h[hn - 1].reason, "program_change");
  /* paging members of Gold: 10 of them, 4 a page */
  size_t seen = 0;
  pstr_t after = S("");
  char last[16];
  do {
    assert_int_equal(loyalty_members(f->w, S("Gold"), after, 4, &f->a, &ids, &n, &more, &e), 0);
    seen += n;
    if (n) {
      memcpy(last, ids[n - 1].p, ids[n - 1].n);
      after = (pstr_t){last, ids[n - 1].n};
    }
  } while (more);
  assert_int_equal(seen, 10);
  /* a second pass changes nothing */
  assert_int_equal(loyalty_reevaluate(f->w, T0 + DAY, S(""), 0, &b, &e), 0);
  assert_int_equal(b.changed, 0);
  /* loyalty_pass lists the moves it wrote, in member order, up to its buffer: Gold from
   * 1200 moves the 10 Gold members (800..1160) down */
  p.tiers[2].entry_threshold = 1200;
  set_program(f, &p);
  loy_pass_move_t mv[3];
  loy_pass_moves_t moves = {mv, 3, 0, 0};
  assert_int_equal(loyalty_pass(f->w, T0 + DAY, 1, S(""), 0, &moves, &b, &e), 0);
  assert_int_equal(b.tier_changes, 10);
  assert_int_equal(moves.n, 3);
  assert_int_equal(moves.more, 1);
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof id, "c%02d", 20 + i);
    assert_string_equal(mv[i].customer_id, id);
    assert_string_equal(mv[i].change.from, "Gold");
    assert_string_equal(mv[i].change.to, tier(f, id, T0 + DAY).tier.name);
    assert_string_equal(mv[i].change.reason, "program_change");
  }
  assert_int_equal(loyalty_pass(f->w, T0 + DAY, 1, S(""), 0, &moves, &b, &e), 0);
  assert_int_equal(moves.n, 0); /* nothing left to move */
  assert_int_equal(moves.more, 0);
  assert_check_clean(f);
}

static void test_award_adjust_and_history_paging(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  p.ntiers = 0;
  set_program(f, &p);
  char key[16];
  for (int i = 0; i < 25; i++) {
    snprintf(key, sizeof key, "k%d", i);
    award(f, "c1", 10, key, T0 + i);
  }
  loy_credit_result_t r = award(f, "c1", 10, "k3", T0 + 100);
  assert_int_equal(r.created, 0);
  perr_info_t e = {0};
  assert_int_equal(loyalty_award(f->w, S("c1"), 11, LOY_AWARD_CUSTOM, S("k3"), T0, &r, &e),
                   PERR_CONFLICT);
  assert_int_equal(loyalty_adjust(f->w, S("c1"), -300, S("fraud"), S("adj1"), T0 + 200, &r, &e), 0);
  assert_int_equal(r.balance_after, -50);
  assert_int_equal(loyalty_adjust(f->w, S("c1"), 0, S("x"), S("adj2"), T0, &r, &e),
                   PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "delta");
  assert_int_equal(loyalty_adjust(f->w, S("c1"), 5, S(""), S("adj2"), T0, &r, &e),
                   PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "reason");
  /* 26 entries, pages of 10, newest first, summing to the total */
  loy_points_info_t pi;
  uint64_t before = 0;
  int64_t sum = 0;
  size_t pages = 0, count = 0;
  do {
    assert_int_equal(loyalty_points(f->w, S("c1"), T0 + 300, 0, before, 10, &f->a, &pi, &e), 0);
    for (size_t i = 0; i < pi.nhistory; i++) {
      sum += pi.history[i].amount;
      if (i) assert_true(pi.history[i].seq < pi.history[i - 1].seq);
    }
    count += pi.nhistory;
    before = pi.next_before;
    pages++;
  } while (before);
  assert_int_equal(count, 26);
  assert_int_equal(pages, 3);
  assert_int_equal(sum, pi.total);
  assert_int_equal(sum, -50);
  assert_check_clean(f);
}

/* loyalty_check finds a summary that disagrees with its entries, and orphan entries. */
static void test_check_detects_differences(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  award(f, "c1", 100, "k1", T0);
  award(f, "c2", 100, "k2", T0);
  assert_check_clean(f);
  /* copy c1's only entry under seq 99: the ledger now sums to 200, the summary says 100 */
  char k[16] = "c1";
  k[2] = 0;
  memset(k + 3, 0, 8);
  k[10] = 1;
  const void *v;
  size_t vn;
  assert_int_equal(store_get(f->w, STORE_T_LOY_LEDGER, k, 11, &v, &vn), 0);
  void *copy = malloc(vn);
  memcpy(copy, v, vn);
  k[10] = 99;
  assert_int_equal(store_put(f->w, STORE_T_LOY_LEDGER, k, 11, copy, vn), 0);
  /* and an entry for a customer without a summary */
  char o[16] = "c0";
  o[2] = 0;
  memset(o + 3, 0, 8);
  o[10] = 1;
  assert_int_equal(store_put(f->w, STORE_T_LOY_LEDGER, o, 11, copy, vn), 0);
  free(copy);
  loy_check_t c;
  perr_info_t e = {0};
  assert_int_equal(loyalty_check(f->w, &f->a, &c, &e), 0);
  assert_int_equal(c.members, 2);
  assert_int_equal(c.ndiffs, 1);
  assert_int_equal(c.orphans, 1);
  assert_int_equal(c.nlisted, 1);
  assert_int_equal(c.diffs[0].customer_id.n, 2);
  assert_memory_equal(c.diffs[0].customer_id.p, "c1", 2);
  assert_int_equal(c.diffs[0].summary_total, 100);
  assert_int_equal(c.diffs[0].ledger_total, 200);
}

/* Bad refunds, awards and adjustments: structured errors, nothing written. */
static void test_errors_change_nothing(void **state) {
  fx_t *f = *state;
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  order(f, "c1", "o1", 10000, T0);
  dump_t before = dump(f->w);
  perr_info_t e = {0};
  loy_line_t l = {S("zzz"), S(""), 1, 0};
  loy_refund_t rf = {S("o1"), S("rf1"), 0, &l, 1};
  loy_refund_result_t rr;
  assert_int_equal(loyalty_on_refund(f->w, &rf, T0, &rr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "lines.product_id");
  l = (loy_line_t){S("p1"), S(""), 2, 0};
  assert_int_equal(loyalty_on_refund(f->w, &rf, T0, &rr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "lines.quantity");
  rf = (loy_refund_t){S("o1"), S("rf1"), 0, NULL, 0};
  assert_int_equal(loyalty_on_refund(f->w, &rf, T0, &rr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "amount");
  loy_credit_result_t cr;
  assert_int_equal(loyalty_award(f->w, S("c1"), 10, 9, S("k"), T0, &cr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "kind");
  assert_int_equal(loyalty_award(f->w, S("c1"), 0, 0, S("k"), T0, &cr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "points");
  assert_int_equal(loyalty_award(f->w, S(""), 5, 0, S("k"), T0, &cr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "customer_id");
  assert_int_equal(loyalty_award(f->w, S("c1"), 5, 0, S(""), T0, &cr, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "key");
  loy_redeem_t rq = {S("c1"), S("r1"), S(""), S("EUR"), 0};
  loy_redeem_result_t rd;
  assert_int_equal(loyalty_redeem(f->w, &rq, T0, &rd, &e), PERR_INVALID_PARAMS);
  assert_string_equal(e.field, "points");
  /* an order replayed for another customer */
  loy_line_t ol = {S("p1"), S(""), 1, 100};
  loy_order_t o = {S("c2"), S("o1"), S("EUR"), T0, &ol, 1, 0, 0};
  loy_earn_result_t er;
  assert_int_equal(loyalty_on_order(f->w, &o, T0, &er, &e), PERR_CONFLICT);
  assert_string_equal(e.field, "order_id");
  assert_same_dump(before, dump(f->w));
  /* a refund of an order the program never saw is a no-op, not an error */
  before = dump(f->w);
  rf = (loy_refund_t){S("o-unknown"), S("rf9"), 100, NULL, 0};
  assert_int_equal(loyalty_on_refund(f->w, &rf, T0, &rr, &e), 0);
  assert_int_equal(rr.unknown_order, 1);
  assert_same_dump(before, dump(f->w));
}

/* loyalty_summary through a program memo answers as without it, and sees every program
 * change at the next read: none -> stored, a renamed tier of the same length (same record
 * size, other bytes), a renamed tier of another length. */
static void assert_summary_memo(fx_t *f, loy_program_memo_t *pm, const char *cust, int64_t now,
                                int program, const char *tier_name, int64_t balance) {
  loy_summary_t a, b;
  perr_info_t e = {0};
  assert_int_equal(loyalty_summary(f->w, pm, P(cust), now, &a, &e), 0);
  assert_int_equal(loyalty_summary(f->w, NULL, P(cust), now, &b, &e), 0);
  assert_int_equal(a.program, program);
  assert_int_equal(a.has_tier, tier_name != NULL);
  if (tier_name) assert_string_equal(a.tier, tier_name);
  assert_int_equal(a.balance, balance);
  assert_int_equal(a.program, b.program);
  assert_int_equal(a.member, b.member);
  assert_int_equal(a.has_tier, b.has_tier);
  assert_string_equal(a.tier, b.tier);
  assert_int_equal(a.balance, b.balance);
}

static void test_summary_memo_sees_program_changes(void **state) {
  fx_t *f = *state;
  loy_program_memo_t *pm = loyalty_program_memo_new();
  assert_non_null(pm);
  assert_summary_memo(f, pm, "c1", T0, 0, NULL, 0); /* no program stored */
  loy_program_t p;
  base_program(&p);
  set_program(f, &p);
  order(f, "c1", "o1", 60000, T0); /* 600 points: Silver, +50 entry bonus */
  assert_summary_memo(f, pm, "c1", T0 + 1, 1, "Silver", 650);
  assert_summary_memo(f, pm, "c1", T0 + 2, 1, "Silver", 650); /* from the memo */
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Silwer"); /* same length */
  set_program(f, &p);
  assert_summary_memo(f, pm, "c1", T0 + 3, 1, NULL, 650); /* the member's tier is gone */
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "Silver");
  set_program(f, &p);
  assert_summary_memo(f, pm, "c1", T0 + 4, 1, "Silver", 650);
  snprintf(p.tiers[1].name, sizeof p.tiers[1].name, "SilverPlus"); /* longer */
  set_program(f, &p);
  assert_summary_memo(f, pm, "c1", T0 + 5, 1, NULL, 650);
  loyalty_program_memo_free(pm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_program_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_earn_rounding_and_multipliers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_499_to_500_upgrades_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spending_never_moves_points_tier_down, setup, teardown),
      cmocka_unit_test_setup_teardown(test_entry_reward_once_per_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partial_refund_pro_rata_drops_lifetime_tier, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_two_redemptions_one_txn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_redemptions_one_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redemption_replay_and_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refund_after_spend_goes_negative, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_points, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expiry_per_entry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expiry_inactivity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_calendar_review_with_grace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tier_progress_spend_basis, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reevaluate_and_members, setup, teardown),
      cmocka_unit_test_setup_teardown(test_award_adjust_and_history_paging, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_detects_differences, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors_change_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_summary_memo_sees_program_changes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
