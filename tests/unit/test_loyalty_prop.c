/* test_loyalty_prop.c -- property test of the loyalty core against a simple model written
 * here: seeded random sequences of orders (some imports), partial and full refunds,
 * redemptions (and replays), cancels, awards, adjustments, expiry runs, program changes with
 * re-evaluation, commits, and clock jumps across month and year ends, pending and expiry
 * dates. The model keeps plain lists (orders, credits, history) and recomputes every value
 * from them with libc's calendar (timegm/gmtime_r); the core keeps incremental summaries and
 * month buckets. After every step balances, pending points and tiers agree; at the end of a
 * seed the tier histories agree entry by entry, every member's entries sum to its summary
 * (loyalty_check) and sum(entries) == credits - debits: no point is created or destroyed.
 * Each seed also runs a fixed program family (window, downgrade rule, expiry rule). */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loyalty/loyalty.h"
#include "store_fixture.h"

#define DAY 86400
#define NCUST 4
#define STEPS 1500
#define MAXO 4096
#define MAXC 4096
#define MAXH 256
#define MAXR 2048

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
static int64_t rr(int64_t lo, int64_t hi) {
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ---- model calendar (libc) ---------------------------------------------------------- */
static int64_t m_month(int64_t ts) {
  time_t t = (time_t)ts;
  struct tm tm;
  gmtime_r(&t, &tm);
  return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}
static int64_t m_year(int64_t ts) { return m_month(ts) / 12; }
static int64_t m_month_start(int64_t month) {
  struct tm tm = {0};
  tm.tm_year = (int)(month / 12) - 1900;
  tm.tm_mon = (int)(month % 12);
  tm.tm_mday = 1;
  return (int64_t)timegm(&tm);
}
static int64_t m_add_months(int64_t ts, int n) {
  time_t t = (time_t)ts;
  struct tm tm;
  gmtime_r(&t, &tm);
  int64_t mon = (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon + n;
  int64_t dim = (m_month_start(mon + 1) - m_month_start(mon)) / DAY;
  int mday = tm.tm_mday > dim ? (int)dim : tm.tm_mday;
  return m_month_start(mon) + (int64_t)(mday - 1) * DAY + tm.tm_hour * 3600 + tm.tm_min * 60 +
         tm.tm_sec;
}

/* ---- model -------------------------------------------------------------------------- */
typedef struct {
  int cust;
  int64_t ts, avail, exp, net, points, refunded, rev_open, rev_late;
  int counted;
} m_order_t;
typedef struct {
  int cust;
  int64_t at, amount, exp;
  int qualifies;
} m_credit_t;
typedef struct {
  int64_t at;
  int from, to;
  const char *reason;
} m_hist_t;
typedef struct {
  int exists;
  int64_t first_seen, last_order, total, debits, expired;
  int tier;
  int64_t since, reviewed;
  int64_t bonus_at[3];
  m_hist_t h[MAXH];
  int nh;
} m_cust_t;
typedef struct {
  int cust;
  int64_t points, value, balance;
  int status, cancelled;
} m_red_t;

static const char *TN[3] = {"Bronze", "Silver", "Gold"};
static loy_program_t prog;
static m_order_t ords[MAXO];
static int nords;
static m_credit_t creds[MAXC];
static int ncreds;
static m_cust_t cs[NCUST];
static m_red_t reds[MAXR];
static int nreds;

static int64_t keep(int t) {
  return prog.tiers[t].retention_threshold >= 0 ? prog.tiers[t].retention_threshold
                                                : prog.tiers[t].entry_threshold;
}

static int in_window(int64_t ts, int64_t now) {
  if (prog.window == LOY_WINDOW_LIFETIME) return 1;
  if (prog.window == LOY_WINDOW_CALENDAR_YEAR) return m_year(ts) == m_year(now);
  int64_t m = m_month(ts), mn = m_month(now);
  return m > mn - prog.window_months && m <= mn;
}
static int in_review(int64_t ts, int64_t end) {
  int64_t m = m_month(ts), me = m_month(end);
  int len = prog.window == LOY_WINDOW_CALENDAR_YEAR ? 12 : prog.window_months;
  return m >= me - len && m < me;
}
static int64_t value(int c, int64_t now, int review) {
  int64_t v = 0;
  for (int i = 0; i < nords; i++)
    if (ords[i].cust == c && (review ? in_review(ords[i].ts, now) : in_window(ords[i].ts, now)))
      v += ords[i].points - ords[i].rev_open - ords[i].rev_late;
  for (int i = 0; i < ncreds; i++)
    if (creds[i].cust == c && creds[i].qualifies &&
        (review ? in_review(creds[i].at, now) : in_window(creds[i].at, now)))
      v += creds[i].amount;
  return v;
}
static int64_t pending(int c, int64_t now) {
  int64_t p = 0;
  for (int i = 0; i < nords; i++)
    if (ords[i].cust == c && ords[i].avail > now) p += ords[i].points - ords[i].rev_open;
  return p;
}
static void set_tier(int c, int to, int64_t at, const char *reason) {
  m_cust_t *m = &cs[c];
  if (m->tier == to) return;
  assert_true(m->nh < MAXH);
  m->h[m->nh++] = (m_hist_t){at, m->tier, to, reason};
  m->tier = to;
  m->since = at;
}
static void m_advance(int c, int64_t now) {
  m_cust_t *m = &cs[c];
  if (!m->exists) return;
  int64_t need = 0;
  if (prog.expiry == LOY_EXPIRY_ENTRY) {
    int64_t due = 0;
    for (int i = 0; i < nords; i++)
      if (ords[i].cust == c && ords[i].exp && ords[i].exp <= now)
        due += ords[i].points - ords[i].rev_open;
    for (int i = 0; i < ncreds; i++)
      if (creds[i].cust == c && creds[i].exp && creds[i].exp <= now) due += creds[i].amount;
    need = due - m->debits - m->expired;
  } else if (prog.expiry == LOY_EXPIRY_INACTIVITY) {
    int64_t base = m->last_order ? m->last_order : m->first_seen;
    if (now >= m_add_months(base, prog.expiry_months)) need = m->total - pending(c, now);
  }
  if (need > 0) {
    m->total -= need;
    m->expired += need;
  }
  if (prog.downgrade == LOY_DOWN_NEVER || prog.window == LOY_WINDOW_LIFETIME) return;
  int64_t grace = (int64_t)prog.grace_days * DAY;
  while (m->tier >= 0) {
    int64_t from = m->since > m->reviewed ? m->since : m->reviewed;
    int64_t end = prog.window == LOY_WINDOW_CALENDAR_YEAR ? m_month_start((m_year(from) + 1) * 12)
                                                          : m_month_start(m_month(from) + 1);
    if (end + grace > now) break;
    m->reviewed = end;
    int64_t v = value(c, end, 1);
    if (getenv("LOYDBG"))
      fprintf(stderr, "model review c%d end %lld v %lld keep %lld tier %d now %lld\n", c,
              (long long)end, (long long)v, (long long)keep(m->tier), m->tier, (long long)now);
    if (v >= keep(m->tier)) continue;
    int to = -1;
    if (prog.downgrade == LOY_DOWN_ONE_TIER)
      to = m->tier - 1;
    else
      for (int i = 0; i < m->tier; i++)
        if (keep(i) <= v) to = i;
    set_tier(c, to, end + grace, "review");
  }
}
static void m_touch(int c, int64_t now) {
  if (!cs[c].exists) {
    memset(&cs[c], 0, sizeof cs[c]);
    cs[c].exists = 1;
    cs[c].first_seen = now;
    cs[c].tier = -1;
  }
}
static int64_t entry_exp(int64_t from) {
  return prog.expiry == LOY_EXPIRY_ENTRY ? m_add_months(from, prog.expiry_months) : 0;
}
static void add_credit(int c, int64_t now, int64_t amount, int qualifies) {
  assert_true(ncreds < MAXC);
  creds[ncreds++] = (m_credit_t){c, now, amount, entry_exp(now), qualifies};
  cs[c].total += amount;
}
static int64_t m_upgrade(int c, int64_t now, int allow_bonus) {
  int64_t v = value(c, now, 0);
  int target = -1;
  for (int i = 0; i < 3; i++)
    if (prog.tiers[i].entry_threshold <= v) target = i;
  m_cust_t *m = &cs[c];
  if (target <= m->tier) return 0;
  set_tier(c, target, now, "qualified");
  int64_t b = prog.tiers[target].entry_bonus, at = m->bonus_at[target];
  int paid = at && (prog.window == LOY_WINDOW_LIFETIME ||
                    (prog.window == LOY_WINDOW_CALENDAR_YEAR
                         ? m_year(at) == m_year(now)
                         : at > m_add_months(now, -prog.window_months)));
  if (!allow_bonus || b <= 0 || paid) return 0;
  m->bonus_at[target] = now;
  add_credit(c, now, b, 0);
  return b;
}

/* ---- checks ------------------------------------------------------------------------- */
static char cid[NCUST][8];
static pstr_t C(int c) { return (pstr_t){cid[c], strlen(cid[c])}; }

/* Reads never write: the model moves a copy of the member forward and puts it back. */
static m_cust_t saved;
static void compare_at(fx_t *f, int c, int64_t now);
static void compare(fx_t *f, int c, int64_t now) {
  saved = cs[c];
  compare_at(f, c, now);
  cs[c] = saved;
}
/* loyalty_summary (offers' read) through a memo (the stored record read as a brief, or the
 * member decoded when a review is due) against the same read without one (the member
 * decoded and moved as loyalty_points / loyalty_tier do) and against those answers. */
static loy_program_memo_t *summary_memo;
static void compare_summary(fx_t *f, int c, int64_t now, const loy_points_info_t *pi) {
  perr_info_t e = {0};
  loy_summary_t s, r;
  loy_tier_info_t t;
  if (!summary_memo) assert_non_null(summary_memo = loyalty_program_memo_new());
  assert_int_equal(loyalty_summary(f->w, summary_memo, C(c), now, &s, &e), 0);
  assert_int_equal(loyalty_summary(f->w, NULL, C(c), now, &r, &e), 0);
  assert_int_equal(loyalty_tier(f->w, C(c), now, &t, &e), 0);
  assert_int_equal(s.program, 1);
  assert_int_equal(s.member, r.member);
  assert_int_equal(s.member, pi->member);
  assert_int_equal(s.balance, r.balance);
  assert_int_equal(s.balance, pi->member ? pi->balance : 0);
  assert_int_equal(s.has_tier, r.has_tier);
  assert_int_equal(s.has_tier, t.has_tier);
  assert_string_equal(s.tier, r.tier);
  assert_string_equal(s.tier, t.has_tier ? t.tier.name : "");
}

static void compare_at(fx_t *f, int c, int64_t now) {
  m_advance(c, now);
  loy_points_info_t pi;
  perr_info_t e = {0};
  assert_int_equal(loyalty_points(f->w, C(c), now, 0, 0, 0, &f->a, &pi, &e), 0);
  assert_int_equal(pi.member, cs[c].exists);
  compare_summary(f, c, now, &pi);
  if (!cs[c].exists) return;
  int64_t pend = pending(c, now);
  if (pi.total != cs[c].total || pi.pending != pend)
    fail_msg("cust %d at %lld: total %lld/%lld pending %lld/%lld", c, (long long)now,
             (long long)pi.total, (long long)cs[c].total, (long long)pi.pending, (long long)pend);
  loy_tier_info_t t;
  assert_int_equal(loyalty_tier(f->w, C(c), now, &t, &e), 0);
  const char *want = cs[c].tier < 0 ? "" : TN[cs[c].tier];
  if (strcmp(t.has_tier ? t.tier.name : "", want) != 0)
    fail_msg("cust %d at %lld: tier %s, model %s", c, (long long)now,
             t.has_tier ? t.tier.name : "-", want);
  assert_int_equal(t.qualifying, value(c, now, 0));
}

static void compare_history(fx_t *f, int c) {
  loy_tier_change_t h[MAXH];
  size_t n, total;
  perr_info_t e = {0};
  assert_int_equal(loyalty_tier_history(f->w, C(c), h, MAXH, &n, &total, &e), 0);
  if ((int)n != cs[c].nh) fail_msg("cust %d: %zu tier changes, model %d", c, n, cs[c].nh);
  for (size_t i = 0; i < n; i++) {
    const m_hist_t *m = &cs[c].h[i];
    if (strcmp(h[i].reason, m->reason) != 0 || h[i].at != m->at)
      for (size_t k = 0; k < n; k++)
        fprintf(stderr, "  c%d %zu: core %s->%s %s @%lld | model %d->%d %s @%lld\n", c, k,
                h[k].from, h[k].to, h[k].reason, (long long)h[k].at, cs[c].h[k].from, cs[c].h[k].to,
                cs[c].h[k].reason, (long long)cs[c].h[k].at);
    assert_string_equal(h[i].from, m->from < 0 ? "" : TN[m->from]);
    assert_string_equal(h[i].to, m->to < 0 ? "" : TN[m->to]);
    assert_string_equal(h[i].reason, m->reason);
    assert_int_equal(h[i].at, m->at);
  }
}

/* what the runs exercised, so a model that agrees by doing nothing fails */
static int stat_up, stat_review, stat_refund, stat_program;
static int64_t stat_expired, stat_redeemed;

/* ---- the run ------------------------------------------------------------------------- */
static void make_program(int family) {
  loyalty_program_default(&prog);
  prog.ntiers = 3;
  int64_t th[3] = {0, rr(200, 800), 0}, mult[3] = {LOY_BP, LOY_BP * 5 / 4, LOY_BP * 3 / 2};
  th[2] = th[1] + rr(200, 1500);
  for (int i = 0; i < 3; i++) {
    snprintf(prog.tiers[i].name, sizeof prog.tiers[i].name, "%s", TN[i]);
    prog.tiers[i].entry_threshold = th[i];
    prog.tiers[i].retention_threshold = -1;
    prog.tiers[i].earn_mult_bp = mult[i];
    prog.tiers[i].entry_bonus = i ? rr(0, 100) : 0;
  }
  if (rnd() % 2) prog.tiers[2].retention_threshold = th[2] - rr(0, th[2] - th[1]);
  prog.window = (loy_window_t)(family % 3);
  prog.window_months = 12;
  prog.downgrade = (loy_downgrade_t)((family / 3) % 3);
  prog.grace_days = (int)(rnd() % 2) * 15;
  prog.pending_days = (int)(rnd() % 2) * 10;
  prog.expiry = (loy_expiry_t)((family / 9) % 3);
  prog.expiry_months = prog.expiry == LOY_EXPIRY_ENTRY ? 6 : 4;
  prog.nearn = prog.nredeem = 1;
  prog.earn[0] = (loy_rate_t){"EUR", 1, 100};
  prog.redeem[0] = (loy_rate_t){"EUR", 100, 100};
}

static void run_seed(fx_t *f, uint64_t seed, int family) {
  rng_state = seed;
  memset(cs, 0, sizeof cs);
  nords = ncreds = nreds = 0;
  make_program(family);
  perr_info_t e = {0};
  assert_int_equal(loyalty_program_set(f->w, &prog, NULL, &e), 0);
  for (int c = 0; c < NCUST; c++)
    snprintf(cid[c], sizeof cid[c], "s%llu-%d", (unsigned long long)(seed % 1000), c);
  int64_t now = 1704067200 - 20 * DAY + rr(0, 10 * DAY); /* mid-December 2023 */
  int64_t credited = 0, debited = 0;                     /* over the whole run, from the answers */
  char id[48];
  for (int step = 0; step < STEPS; step++) {
    int c = (int)(rnd() % NCUST);
    int op = (int)(rnd() % 100);
    if (op < 12) { /* clock */
      int k = (int)(rnd() % 3);
      now += k == 0 ? rr(1, 6 * 3600) : k == 1 ? rr(1, 8) * DAY : rr(20, 120) * DAY;
    } else if (op < 40) { /* order */
      snprintf(id, sizeof id, "s%llu-o%d", (unsigned long long)seed, nords);
      int64_t cents = rr(100, 60000);
      int import = rnd() % 10 == 0;
      m_touch(c, now);
      m_advance(c, now);
      int64_t mbp = cs[c].tier >= 0 ? prog.tiers[cs[c].tier].earn_mult_bp : LOY_BP;
      int64_t pts = cents * mbp / (100 * LOY_BP);
      loy_line_t l = {{"p", 1}, {NULL, 0}, 1, cents};
      loy_order_t o = {C(c), {id, strlen(id)}, {"EUR", 3}, now, &l, 1, 0, import};
      loy_earn_result_t r;
      assert_int_equal(loyalty_on_order(f->w, &o, now, &r, &e), 0);
      assert_int_equal(r.points, pts);
      assert_true(nords < MAXO);
      int64_t avail = now + (int64_t)prog.pending_days * DAY;
      ords[nords++] = (m_order_t){
          c, now, avail, pts ? entry_exp(avail > now ? avail : now) : 0, cents, pts, 0, 0, 0, 1};
      cs[c].total += pts;
      credited += pts;
      if (now > cs[c].last_order) cs[c].last_order = now;
      int64_t b = m_upgrade(c, now, !import);
      assert_int_equal(r.move.bonus, b);
      credited += b;
    } else if (op < 52 && nords) { /* refund */
      int oi = (int)(rnd() % nords);
      m_order_t *o = &ords[oi];
      snprintf(id, sizeof id, "s%llu-r%d", (unsigned long long)seed, step);
      int64_t amount = rnd() % 3 == 0 ? o->net + 500 : rr(1, o->net);
      m_advance(o->cust, now);
      int64_t left = o->net - o->refunded;
      if (amount > left) amount = left;
      o->refunded += amount;
      int64_t target = o->refunded >= o->net ? o->points : o->points * o->refunded / o->net;
      int64_t rev = target - o->rev_open - o->rev_late;
      m_cust_t *m = &cs[o->cust];
      if (prog.expiry == LOY_EXPIRY_ENTRY && o->exp && o->exp <= now) {
        o->rev_late += rev;
        m->debits += rev;
      } else {
        o->rev_open += rev;
      }
      m->total -= rev;
      debited += rev;
      if (o->refunded >= o->net) o->counted = 0;
      if (prog.window == LOY_WINDOW_LIFETIME && m->tier >= 0) {
        int64_t v = value(o->cust, now, 0);
        if (v < keep(m->tier)) {
          int to = -1;
          for (int i = 0; i < m->tier; i++)
            if (keep(i) <= v) to = i;
          set_tier(o->cust, to, now, "refund");
        }
      }
      char oid[48];
      snprintf(oid, sizeof oid, "s%llu-o%d", (unsigned long long)seed, oi);
      loy_refund_t rf = {{oid, strlen(oid)}, {id, strlen(id)}, amount ? amount : 1, NULL, 0};
      loy_refund_result_t r;
      assert_int_equal(loyalty_on_refund(f->w, &rf, now, &r, &e), 0);
      assert_int_equal(r.points_reversed, rev);
    } else if (op < 68) { /* redeem (or replay) */
      if (nreds && rnd() % 5 == 0) {
        int ri = (int)(rnd() % nreds);
        snprintf(id, sizeof id, "s%llu-d%d", (unsigned long long)seed, ri);
        loy_redeem_t rq = {
            C(reds[ri].cust), {id, strlen(id)}, {NULL, 0}, {"EUR", 3}, reds[ri].points};
        loy_redeem_result_t r;
        assert_int_equal(loyalty_redeem(f->w, &rq, now, &r, &e), 0);
        assert_int_equal(r.created, 0);
        assert_int_equal(r.status, reds[ri].status);
        assert_int_equal(r.balance_after, reds[ri].balance);
        continue;
      }
      int64_t bal = 0;
      if (cs[c].exists) {
        m_advance(c, now);
        bal = cs[c].total - pending(c, now);
      }
      int64_t pts = rr(1, bal > 0 ? bal + 50 : 60);
      snprintf(id, sizeof id, "s%llu-d%d", (unsigned long long)seed, nreds);
      loy_redeem_t rq = {C(c), {id, strlen(id)}, {"cart", 4}, {"EUR", 3}, pts};
      loy_redeem_result_t r;
      assert_int_equal(loyalty_redeem(f->w, &rq, now, &r, &e), 0);
      int ok = cs[c].exists && bal >= pts;
      assert_int_equal(r.status, ok ? LOY_REDEEM_ACCEPTED : LOY_REDEEM_INSUFFICIENT_POINTS);
      if (ok) {
        cs[c].total -= pts;
        cs[c].debits += pts;
        debited += pts;
        assert_int_equal(r.value, pts);
      }
      assert_true(nreds < MAXR);
      reds[nreds++] = (m_red_t){c, pts, r.value, r.balance_after, r.status, 0};
    } else if (op < 74 && nreds) { /* cancel */
      int ri = (int)(rnd() % nreds);
      snprintf(id, sizeof id, "s%llu-d%d", (unsigned long long)seed, ri);
      loy_cancel_result_t r;
      int rc = loyalty_redeem_cancel(f->w, (pstr_t){id, strlen(id)}, now, &r, &e);
      if (reds[ri].status != LOY_REDEEM_ACCEPTED) {
        assert_int_equal(rc, PERR_CONFLICT);
        continue;
      }
      assert_int_equal(rc, 0);
      assert_int_equal(r.created, !reds[ri].cancelled);
      if (!reds[ri].cancelled) {
        int rcust = reds[ri].cust;
        m_advance(rcust, now);
        cs[rcust].total += reds[ri].points;
        cs[rcust].debits -= reds[ri].points;
        credited += reds[ri].points;
        reds[ri].cancelled = 1;
      }
    } else if (op < 84) { /* award */
      snprintf(id, sizeof id, "s%llu-a%d", (unsigned long long)seed, step);
      int64_t pts = rr(1, 300);
      m_touch(c, now);
      m_advance(c, now);
      add_credit(c, now, pts, 1);
      credited += pts;
      int64_t b = m_upgrade(c, now, 1);
      credited += b;
      loy_credit_result_t r;
      assert_int_equal(
          loyalty_award(f->w, C(c), pts, LOY_AWARD_REVIEW, (pstr_t){id, strlen(id)}, now, &r, &e),
          0);
      assert_int_equal(r.move.bonus, b);
    } else if (op < 90) { /* adjust */
      snprintf(id, sizeof id, "s%llu-j%d", (unsigned long long)seed, step);
      int64_t d = rr(-100, 100);
      if (!d) d = 1;
      m_touch(c, now);
      m_advance(c, now);
      if (d > 0) {
        add_credit(c, now, d, 0);
        credited += d;
      } else {
        cs[c].total += d;
        cs[c].debits -= d;
        debited -= d;
      }
      loy_credit_result_t r;
      assert_int_equal(
          loyalty_adjust(f->w, C(c), d, (pstr_t){"test", 4}, (pstr_t){id, strlen(id)}, now, &r, &e),
          0);
    } else if (op < 94) { /* expiry run */
      loy_batch_result_t b;
      assert_int_equal(loyalty_expire_run(f->w, now, (pstr_t){NULL, 0}, 0, &b, &e), 0);
      for (int k = 0; k < NCUST; k++) m_advance(k, now);
    } else if (op < 96) { /* program change: new thresholds, re-evaluate everyone */
      int64_t s = rr(200, 800), g = s + rr(200, 1500);
      prog.tiers[1].entry_threshold = s;
      prog.tiers[2].entry_threshold = g;
      if (prog.tiers[2].retention_threshold >= 0)
        prog.tiers[2].retention_threshold = g - rr(0, g - s);
      assert_int_equal(loyalty_program_set(f->w, &prog, NULL, &e), 0);
      loy_batch_result_t b;
      assert_int_equal(loyalty_reevaluate(f->w, now, (pstr_t){NULL, 0}, 0, &b, &e), 0);
      for (int k = 0; k < NCUST; k++) {
        m_cust_t *m = &cs[k];
        if (!m->exists) continue;
        m_advance(k, now);
        int64_t v = value(k, now, 0);
        int target = -1;
        for (int i = 0; i < 3; i++)
          if (prog.tiers[i].entry_threshold <= v) target = i;
        if (m->tier > target && keep(m->tier) <= v) target = m->tier;
        if (m->tier > target && prog.downgrade == LOY_DOWN_NEVER &&
            prog.window != LOY_WINDOW_LIFETIME)
          target = m->tier;
        if (target != m->tier) {
          set_tier(k, target, now, "program_change");
          m->reviewed = 0;
        }
      }
    } else if (op < 98) { /* commit: state survives the txn */
      assert_int_equal(store_commit(f->w), 0);
      assert_int_equal(store_txn_begin(f->s, 1, &f->w), 0);
    }
    compare(f, c, now);
  }
  /* persist what reads computed, then compare everything */
  loy_batch_result_t b;
  assert_int_equal(loyalty_expire_run(f->w, now, (pstr_t){NULL, 0}, 0, &b, &e), 0);
  int64_t expired = 0, totals = 0;
  for (int c = 0; c < NCUST; c++) {
    m_advance(c, now);
    compare(f, c, now);
    compare_history(f, c);
    expired += cs[c].expired;
    totals += cs[c].total;
  }
  /* conservation: what the answers credited minus what they debited minus expiry */
  assert_int_equal(totals, credited - debited - expired);
  loy_check_t ck;
  assert_int_equal(loyalty_check(f->w, &f->a, &ck, &e), 0);
  assert_int_equal(ck.ndiffs, 0);
  arena_reset(&f->a);
  for (int c = 0; c < NCUST; c++)
    for (int i = 0; i < cs[c].nh; i++) {
      const char *r = cs[c].h[i].reason;
      if (r[0] == 'q')
        stat_up++;
      else if (strcmp(r, "review") == 0)
        stat_review++;
      else if (strcmp(r, "refund") == 0)
        stat_refund++;
      else
        stat_program++;
    }
  stat_expired += expired;
  stat_redeemed += nreds;
  if (getenv("LOYDBG"))
    fprintf(stderr, "family %d: expired %lld, history %d/%d/%d/%d\n", family, (long long)expired,
            stat_up, stat_review, stat_refund, stat_program);
}

static int setup(void **state) { return fx_setup(state, "/tmp/patron-loyprop-XXXXXX"); }
static int teardown(void **state) {
  loyalty_program_memo_free(summary_memo);
  summary_memo = NULL;
  return fx_teardown(state);
}

/* 27 program families (window x downgrade x expiry), two seeds each over a few runs. */
static void test_model_agreement(void **state) {
  fx_t *f = *state;
  static const uint64_t seeds[] = {1, 42, 7919, 123456789, 0xC0FFEE, 2024};
  for (int family = 0; family < 27; family++) {
    run_seed(f, seeds[family % 6] * 31 + (uint64_t)family, family);
  }
  assert_true(stat_up > 100);
  assert_true(stat_review > 50);
  assert_true(stat_refund >= 5);
  assert_true(stat_program > 10);
  assert_true(stat_expired > 1000);
  assert_true(stat_redeemed > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_model_agreement, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
