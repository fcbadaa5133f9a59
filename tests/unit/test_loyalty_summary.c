/* test_loyalty_summary.c -- loyalty_summary through a program memo (offers.decide's read:
 * the stored member record walked for its tier and spendable balance, the member decoded
 * only when a tier review is due) against the same read without a memo (the member decoded
 * whole and moved to now by loy_advance, as loyalty_points and loyalty_tier do), over
 * random programs (every window, downgrade and expiry rule, grace, 0-4 tiers) and random
 * stored member records written byte by byte in the record's format: tiers of the program,
 * unknown or empty or holding a NUL, pending and credit lots before and after now, buckets,
 * entry bonuses, large and negative values; and damaged records (cut short, a byte more, a
 * wrong tag, a count too large, a name too long), which both reads must refuse. Each case is
 * read at several times around the record's dates (so reviews are due or not). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loyalty/loyalty.h"
#include "store/record.h"
#include "store_fixture.h"

#define DAY 86400
#define T0 INT64_C(1790000000) /* 2026-09 */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}
static int64_t rr(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static const char *const NAMES[] = {"bronze", "silver", "gold", "platinum"};

static void random_program(loy_program_t *p) {
  loyalty_program_default(p);
  p->ntiers = (size_t)rr(0, 4);
  int64_t th = 0;
  for (size_t i = 0; i < p->ntiers; i++) {
    snprintf(p->tiers[i].name, sizeof p->tiers[i].name, "%s", NAMES[i]);
    th += rr(1, 1000);
    p->tiers[i].entry_threshold = th;
    p->tiers[i].retention_threshold = rnd() % 2 ? -1 : rr(0, th);
    p->tiers[i].earn_mult_bp = LOY_BP;
  }
  p->window = (loy_window_t)rr(0, 2);
  p->window_months = (int)rr(1, LOY_MAX_ROLLING);
  p->downgrade = (loy_downgrade_t)rr(0, 2);
  p->grace_days = rnd() % 3 ? (int)rr(0, 40) : (int)rr(0, 365);
  p->expiry = (loy_expiry_t)rr(0, 2);
  p->expiry_months = (int)rr(1, 120);
}

/* The dates a record holds (reads are made at some of them exactly: lots at now). */
static int64_t dates[256];
static size_t ndates;

/* A value near the member's dates (or now), sometimes far off or negative. */
static int64_t ts_near(int64_t now) {
  uint64_t k = rnd() % 8;
  int64_t t = k == 0   ? 0
              : k == 1 ? rr(-(INT64_C(1) << 40), INT64_C(1) << 40)
                       : now + rr(-800, 400) * DAY + rr(0, DAY);
  if (ndates < sizeof dates / sizeof dates[0]) dates[ndates++] = t;
  return t;
}

static int64_t amount(void) {
  uint64_t k = rnd() % 10;
  return k == 0 ? rr(-1000, 0) : k == 1 ? rr(0, INT64_C(1) << 50) : rr(0, 5000);
}

/* A stored member summary as loy_member_encode lays it out (member.c's comment). */
static void random_record(rec_buf_t *b, const loy_program_t *p, int64_t now) {
  rec_put_u8(b, 'M');
  rec_put_u8(b, 1);
  rec_put_uv(b, (uint64_t)rr(1, 100000)); /* next_seq */
  rec_put_uv(b, (uint64_t)rr(1, 100));    /* next_hist */
  rec_put_sv(b, amount());                 /* total */
  uint64_t k = rnd() % 8;
  char tier[40] = "";
  if (k < 5 && p->ntiers) snprintf(tier, sizeof tier, "%s", p->tiers[rnd() % p->ntiers].name);
  else if (k == 5) snprintf(tier, sizeof tier, "%s", NAMES[rnd() % 4]); /* maybe unknown */
  else if (k == 6) snprintf(tier, sizeof tier, "nosuch");
  size_t tn = strlen(tier);
  if (tn && rnd() % 16 == 0) tier[tn++] = 0, tier[tn++] = 'x'; /* a NUL inside: C string ends */
  rec_put_str(b, (pstr_t){tier, tn});
  for (int i = 0; i < 2; i++) rec_put_sv(b, ts_near(now)); /* tier_since, reviewed_to */
  rec_put_sv(b, ts_near(now));                              /* first_seen */
  rec_put_sv(b, rnd() % 4 ? ts_near(now) : 0);              /* last_order_at */
  for (int i = 0; i < 3; i++) rec_put_sv(b, amount());      /* credits_due, debits, expired */
  for (int i = 0; i < 3; i++) rec_put_sv(b, amount());      /* life_* */
  size_t nbonus = (size_t)rr(0, 3);
  rec_put_uv(b, nbonus);
  for (size_t i = 0; i < nbonus; i++) {
    rec_put_str(b, (pstr_t){NAMES[i], strlen(NAMES[i])});
    rec_put_sv(b, ts_near(now));
  }
  for (int v = 0; v < 2; v++) { /* pending lots, credit lots */
    size_t n = rnd() % 3 ? (size_t)rr(0, 4) : (size_t)rr(0, 40);
    rec_put_uv(b, n);
    for (size_t i = 0; i < n; i++) {
      rec_put_sv(b, ts_near(now));
      rec_put_sv(b, amount());
      rec_put_uv(b, (uint64_t)rr(1, 100000));
    }
  }
  size_t nb = (size_t)rr(0, 40);
  rec_put_uv(b, nb);
  int64_t month = rr(24000, 24400);
  for (size_t i = 0; i < nb; i++) {
    rec_put_sv(b, month + (int64_t)i);
    for (int j = 0; j < 3; j++) rec_put_sv(b, amount());
  }
}

/* Damage a record in one of the ways a decoder must refuse (or, at times, not at all). */
static void damage(rec_buf_t *b) {
  switch (rnd() % 6) {
    case 0: b->n = (size_t)rr(0, (int64_t)b->n - 1); break; /* cut short */
    case 1: rec_put_u8(b, (unsigned)rr(0, 255)); break;      /* a byte more */
    case 2: b->p[(size_t)rr(0, 1)] ^= 1; break;              /* tag or version */
    case 3: b->p[(size_t)rr(2, (int64_t)b->n - 1)] = (unsigned char)rnd(); break;
    case 4: b->p[(size_t)rr(2, (int64_t)b->n - 1)] |= 0x80; break;
    default: { /* a tier or bonus name of about LOY_NAME_MAX bytes (too long: refused) */
      rec_buf_t c;
      rec_buf_init(&c);
      rec_put_raw(&c, b->p, 2);
      rec_put_uv(&c, 1);
      rec_put_uv(&c, 1);
      rec_put_sv(&c, 5);
      char name[LOY_NAME_MAX + 2];
      memset(name, 'a', sizeof name);
      pstr_t longer = {name, (size_t)rr(LOY_NAME_MAX - 1, LOY_NAME_MAX + 1)};
      int in_bonus = rnd() % 2;
      rec_put_str(&c, in_bonus ? (pstr_t){"", 0} : longer);
      for (int i = 0; i < 10; i++) rec_put_sv(&c, 0);
      rec_put_uv(&c, in_bonus); /* nbonus */
      if (in_bonus) rec_put_str(&c, longer), rec_put_sv(&c, 0);
      for (int i = 0; i < 3; i++) rec_put_uv(&c, 0);
      rec_buf_free(b);
      *b = c;
    }
  }
}

static void compare(fx_t *f, loy_program_memo_t *memo, pstr_t id, int64_t now, int *errors) {
  loy_summary_t s, r;
  perr_info_t e1 = {0}, e2 = {0};
  int rc1 = loyalty_summary(f->w, memo, id, now, &s, &e1);
  int rc2 = loyalty_summary(f->w, NULL, id, now, &r, &e2);
  assert_int_equal(rc1, rc2);
  if (rc1) {
    (*errors)++;
    assert_string_equal(e1.message, e2.message);
    return;
  }
  if (s.program != r.program || s.member != r.member || s.has_tier != r.has_tier ||
      s.balance != r.balance || strcmp(s.tier, r.tier))
    fail_msg("at %lld: memo program %d member %d tier %d '%s' balance %lld; full %d %d %d '%s' "
             "%lld", (long long)now, s.program, s.member, s.has_tier, s.tier,
             (long long)s.balance, r.program, r.member, r.has_tier, r.tier, (long long)r.balance);
}

static void test_brief_matches_full(void **state) {
  fx_t *f = *state;
  loy_program_memo_t *memo = loyalty_program_memo_new();
  assert_non_null(memo);
  perr_info_t e = {0};
  pstr_t id = {"c-000001", 8}, none = {"c-000002", 8};
  int errors = 0, cases = 0;
  for (int round = 0; round < 3000; round++) {
    if (round % 50 == 0) { /* a new program now and then (the first round: none stored yet) */
      loy_program_t p;
      random_program(&p);
      if (round && loyalty_program_set(f->w, &p, NULL, &e)) fail_msg("%s: %s", e.field, e.message);
    }
    loy_program_t p;
    int stored = loyalty_program_find(f->w, &p, &e) == 0;
    if (!stored) loyalty_program_default(&p);
    int64_t base = T0 + rr(-400, 400) * DAY;
    rec_buf_t b;
    rec_buf_init(&b);
    ndates = 0;
    random_record(&b, &p, base);
    if (rnd() % 8 == 0) damage(&b);
    assert_false(b.oom);
    assert_int_equal(store_put(f->w, STORE_T_LOY_MEMBERS, id.p, id.n, b.p, b.n), 0);
    rec_buf_free(&b);
    for (int k = 0; k < 6; k++, cases++) /* around its dates (reviews due or not), and at
                                             * one of them to the second */
      compare(f, memo, id,
              k % 2 && ndates ? dates[rnd() % ndates] + rr(-1, 1)
                              : base + rr(-500, 500) * DAY + rr(0, DAY),
              &errors);
    compare(f, memo, none, base, &errors); /* not a member */
  }
  assert_true(errors > 300 && errors < cases / 2); /* damaged records were refused by both */
  loyalty_program_memo_free(memo);
}

static int setup(void **state) { return fx_setup(state, "/tmp/patron-loysum-XXXXXX"); }
static int teardown(void **state) { return fx_teardown(state); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_brief_matches_full, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
