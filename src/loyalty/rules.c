/* rules.c -- the loyalty rules on the in-memory member, shared by writes and reads: entries
 * and their effect on the summary, qualifying value by window, moving a member forward to
 * `now` (pending lots maturing, expiry, tier reviews), upgrades with entry bonuses, and the
 * earning arithmetic. No store access here.
 * Invariants: m->total changes only through loy_add_entry (so it is the sum of the queued
 * and stored entries); ENTRY expiry is first-in-first-out: what must have expired by now is
 * max(0, credits that reached their date - debits - already expired). */
#include <stdio.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

static void push_lot(void *vec, int64_t at, int64_t amount, uint64_t seq) {
  loy_lot_t l = {at, amount, seq};
  (void)loy_vec_push(vec, sizeof l, &l); /* out of memory: the lot is not tracked for expiry */
}

static loy_lot_t *find_lot(loy_lot_t *l, size_t n, uint64_t seq) {
  for (size_t i = 0; i < n; i++)
    if (l[i].seq == seq) return &l[i];
  return NULL;
}

void loy_add_entry(const loy_program_t *p, loy_member_t *m, loy_fx_t *fx, int type, int64_t amount,
                   int64_t now, int64_t available_at, uint64_t ref_seq, pstr_t key, pstr_t source) {
  loy_entry_t x;
  memset(&x, 0, sizeof x);
  x.seq = m->next_seq++;
  x.type = type;
  x.amount = amount;
  x.created_at = now;
  x.available_at = available_at;
  x.ref_seq = ref_seq;
  x.key = key;
  x.source = source;
  x.state = type == LOY_E_EARN && available_at > now ? LOY_S_PENDING
            : type == LOY_E_EXPIRE                   ? LOY_S_EXPIRED
                                                     : LOY_S_ACTIVE;
  int credit = amount > 0 && (type == LOY_E_EARN || type == LOY_E_AWARD || type == LOY_E_BONUS ||
                              type == LOY_E_ADJUST);
  if (credit && p->expiry == LOY_EXPIRY_ENTRY) {
    x.expires_at = loy_add_months(available_at > now ? available_at : now, p->expiry_months);
    push_lot(&m->credits, x.expires_at, amount, x.seq);
  }
  if (type == LOY_E_EARN && available_at > now) push_lot(&m->pending, available_at, amount, x.seq);
  m->total += amount;
  switch (type) {
    case LOY_E_REDEEM:
    case LOY_E_ADJUST:
      if (amount < 0) m->debits -= amount;
      break;
    case LOY_E_REDEEM_CANCEL:
      m->debits -= amount;
      break;
    case LOY_E_EXPIRE:
      m->expired -= amount;
      break;
    case LOY_E_REVERSE: {
      loy_lot_t *l = find_lot(m->pending.p, m->pending.n, ref_seq);
      if (l) l->amount += amount;
      l = find_lot(m->credits.p, m->credits.n, ref_seq);
      if (l)
        l->amount += amount;
      else
        m->debits -= amount; /* the lot already reached its date (or never had one) */
      break;
    }
    default:
      break;
  }
  if (fx && loy_vec_push(&fx->entries, sizeof x, &x)) fx->oom = 1;
}

static loy_bucket_t *bucket_at(loy_member_t *m, int64_t month) {
  size_t i = 0;
  while (i < m->buckets.n && m->buckets.p[i].month < month) i++;
  if (i < m->buckets.n && m->buckets.p[i].month == month) return &m->buckets.p[i];
  loy_bucket_t k = {month, 0, 0, 0};
  if (loy_vec_push(&m->buckets, sizeof k, &k)) return NULL;
  memmove(&m->buckets.p[i + 1], &m->buckets.p[i], (m->buckets.n - 1 - i) * sizeof k);
  m->buckets.p[i] = k;
  return &m->buckets.p[i];
}

void loy_qualify(loy_member_t *m, int64_t ts, int64_t points, int64_t spend, int64_t orders) {
  m->life_points += points;
  m->life_spend += spend;
  m->life_orders += orders;
  loy_bucket_t *k = bucket_at(m, loy_month_of(ts));
  if (!k) return;
  k->points += points;
  k->spend += spend;
  k->orders += orders;
}

int64_t loy_pending(const loy_member_t *m, int64_t now) {
  int64_t s = 0;
  for (size_t i = 0; i < m->pending.n; i++)
    if (m->pending.p[i].at > now) s += m->pending.p[i].amount;
  return s;
}

static int64_t pick(const loy_program_t *p, int64_t points, int64_t spend, int64_t orders) {
  return p->basis == LOY_BASIS_POINTS ? points : p->basis == LOY_BASIS_SPEND ? spend : orders;
}

/* Sum of the buckets in months [lo, hi]. */
static int64_t months_value(const loy_program_t *p, const loy_member_t *m, int64_t lo, int64_t hi) {
  int64_t s = 0;
  for (size_t i = 0; i < m->buckets.n; i++) {
    const loy_bucket_t *k = &m->buckets.p[i];
    if (k->month >= lo && k->month <= hi) s += pick(p, k->points, k->spend, k->orders);
  }
  return s;
}

int64_t loy_window_value(const loy_program_t *p, const loy_member_t *m, int64_t now) {
  if (p->window == LOY_WINDOW_LIFETIME)
    return pick(p, m->life_points, m->life_spend, m->life_orders);
  int64_t mon = loy_month_of(now);
  if (p->window == LOY_WINDOW_CALENDAR_YEAR) {
    int64_t y = loy_year_of(now);
    return months_value(p, m, y * 12, y * 12 + 11);
  }
  return months_value(p, m, mon - p->window_months + 1, mon);
}

int64_t loy_review_value(const loy_program_t *p, const loy_member_t *m, int64_t period_end) {
  int64_t mon = loy_month_of(period_end); /* the first month after the window */
  if (p->window == LOY_WINDOW_CALENDAR_YEAR) return months_value(p, m, mon - 12, mon - 1);
  return months_value(p, m, mon - p->window_months, mon - 1);
}

int64_t loy_next_period_end(const loy_program_t *p, int64_t ts) {
  if (p->downgrade == LOY_DOWN_NEVER || p->window == LOY_WINDOW_LIFETIME) return 0;
  if (p->window == LOY_WINDOW_CALENDAR_YEAR) return loy_month_start((loy_year_of(ts) + 1) * 12);
  return loy_month_start(loy_month_of(ts) + 1);
}

void loy_set_tier(loy_member_t *m, const char *to, int64_t at, const char *reason, loy_fx_t *fx) {
  if (strcmp(m->tier, to) == 0) return;
  loy_tier_change_t c;
  memset(&c, 0, sizeof c);
  c.at = at;
  memcpy(c.from, m->tier, sizeof c.from);
  snprintf(c.to, sizeof c.to, "%s", to);
  snprintf(c.reason, sizeof c.reason, "%s", reason);
  if (fx && loy_vec_push(&fx->changes, sizeof c, &c)) fx->oom = 1;
  memcpy(m->tier, c.to, sizeof m->tier);
  m->tier_since = at;
}

static void expire(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx) {
  int64_t need = 0;
  if (p->expiry == LOY_EXPIRY_ENTRY) {
    size_t j = 0;
    for (size_t i = 0; i < m->credits.n; i++) {
      if (m->credits.p[i].at <= now)
        m->credits_due += m->credits.p[i].amount;
      else
        m->credits.p[j++] = m->credits.p[i];
    }
    m->credits.n = j;
    need = m->credits_due - m->debits - m->expired;
  } else if (p->expiry == LOY_EXPIRY_INACTIVITY) {
    int64_t base = m->last_order_at ? m->last_order_at : m->first_seen;
    if (now >= loy_add_months(base, p->expiry_months)) need = m->total - loy_pending(m, now);
  }
  if (need > 0)
    loy_add_entry(
        p, m, fx, LOY_E_EXPIRE, -need, now, now, 0, core_pstr("expiry", 6),
        p->expiry == LOY_EXPIRY_ENTRY ? core_pstr("entry", 5) : core_pstr("inactivity", 10));
}

static void review(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx) {
  int64_t grace = (int64_t)p->grace_days * LOY_DAY;
  for (;;) {
    int cur = loy_tier_index(p, m->tier);
    if (cur < 0) return;
    int64_t from = m->tier_since > m->reviewed_to ? m->tier_since : m->reviewed_to;
    int64_t end = loy_next_period_end(p, from);
    if (!end || end + grace > now) return;
    m->reviewed_to = end;
    int64_t v = loy_review_value(p, m, end);
    if (v >= loy_keep_threshold(&p->tiers[cur])) continue;
    int to = -1;
    if (p->downgrade == LOY_DOWN_ONE_TIER)
      to = cur - 1;
    else
      for (int i = 0; i < cur; i++)
        if (loy_keep_threshold(&p->tiers[i]) <= v) to = i;
    loy_set_tier(m, to < 0 ? "" : p->tiers[to].name, end + grace, "review", fx);
  }
}

void loy_advance(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx) {
  size_t j = 0;
  for (size_t i = 0; i < m->pending.n; i++)
    if (m->pending.p[i].at > now) m->pending.p[j++] = m->pending.p[i];
  m->pending.n = j;
  expire(p, m, now, fx);
  review(p, m, now, fx);
  int64_t keep = loy_month_of(now) - LOY_BUCKET_KEEP;
  j = 0;
  for (size_t i = 0; i < m->buckets.n; i++)
    if (m->buckets.p[i].month >= keep) m->buckets.p[j++] = m->buckets.p[i];
  m->buckets.n = j;
}

static loy_bonus_t *bonus_of(loy_member_t *m, const char *tier) {
  for (size_t i = 0; i < m->nbonus; i++)
    if (strcmp(m->bonus[i].tier, tier) == 0) return &m->bonus[i];
  return NULL;
}

static int bonus_paid_in_window(const loy_program_t *p, const loy_bonus_t *b, int64_t now) {
  if (!b) return 0;
  if (p->window == LOY_WINDOW_LIFETIME) return 1;
  if (p->window == LOY_WINDOW_CALENDAR_YEAR) return loy_year_of(b->at) == loy_year_of(now);
  return b->at > loy_add_months(now, -p->window_months);
}

/* The tier the window value gives (entry thresholds), -1 none. */
static int qualified_tier(const loy_program_t *p, int64_t v) {
  int t = -1;
  for (size_t i = 0; i < p->ntiers; i++)
    if (p->tiers[i].entry_threshold <= v) t = (int)i;
  return t;
}

void loy_upgrade(const loy_program_t *p, loy_member_t *m, int64_t now, int allow_bonus,
                 loy_fx_t *fx, loy_tier_move_t *mv) {
  int target = qualified_tier(p, loy_window_value(p, m, now));
  int cur = loy_tier_index(p, m->tier);
  if (target < 0 || target <= cur) return;
  const loy_tier_t *t = &p->tiers[target];
  if (mv && !mv->changed) {
    mv->changed = 1;
    memcpy(mv->from, m->tier, sizeof mv->from);
  }
  loy_set_tier(m, t->name, now, "qualified", fx);
  if (mv) memcpy(mv->to, t->name, sizeof mv->to);
  loy_bonus_t *b = bonus_of(m, t->name);
  if (!allow_bonus || t->entry_bonus <= 0 || bonus_paid_in_window(p, b, now)) return;
  if (!b) {
    if (m->nbonus == LOY_MAX_TIERS) { /* forget the oldest */
      size_t old = 0;
      for (size_t i = 1; i < m->nbonus; i++)
        if (m->bonus[i].at < m->bonus[old].at) old = i;
      m->bonus[old] = m->bonus[--m->nbonus];
    }
    b = &m->bonus[m->nbonus++];
    memcpy(b->tier, t->name, sizeof b->tier);
  }
  b->at = now;
  loy_add_entry(p, m, fx, LOY_E_BONUS, t->entry_bonus, now, now, 0, core_pstr("tier_bonus", 10),
                core_pstr(t->name, strlen(t->name)));
  if (mv) mv->bonus += t->entry_bonus;
}

/* Lifetime window: a refund that takes the value under the tier's keep threshold moves the
 * member down to the highest tier it still keeps. */
void loy_refund_downgrade(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx,
                          loy_tier_move_t *mv) {
  if (p->window != LOY_WINDOW_LIFETIME) return;
  int cur = loy_tier_index(p, m->tier);
  if (cur < 0) return;
  int64_t v = loy_window_value(p, m, now);
  if (v >= loy_keep_threshold(&p->tiers[cur])) return;
  int to = -1;
  for (int i = 0; i < cur; i++)
    if (loy_keep_threshold(&p->tiers[i]) <= v) to = i;
  if (mv) {
    mv->changed = 1;
    memcpy(mv->from, m->tier, sizeof mv->from);
    snprintf(mv->to, sizeof mv->to, "%s", to < 0 ? "" : p->tiers[to].name);
  }
  loy_set_tier(m, to < 0 ? "" : p->tiers[to].name, now, "refund", fx);
}

/* Program change: the tier the new program gives, keeping the current one while its keep
 * threshold is met (no bonus: activation is not a move up earned by the member). */
void loy_reevaluate_member(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx) {
  int64_t v = loy_window_value(p, m, now);
  int target = qualified_tier(p, v);
  int cur = loy_tier_index(p, m->tier);
  if (cur > target && loy_keep_threshold(&p->tiers[cur]) <= v) target = cur;
  if (cur > target && p->downgrade == LOY_DOWN_NEVER && p->window != LOY_WINDOW_LIFETIME)
    target = cur;
  const char *to = target < 0 ? "" : p->tiers[target].name;
  if (strcmp(to, m->tier) == 0) return;
  loy_set_tier(m, to, now, "program_change", fx);
  m->reviewed_to = 0;
}

static int64_t mult_of(const loy_program_t *p, int is_category, pstr_t id) {
  if (!id.n) return LOY_BP;
  for (size_t i = 0; i < p->nmults; i++) {
    const loy_mult_t *x = &p->mults[i];
    if (x->is_category == is_category && strlen(x->id) == id.n && memcmp(x->id, id.p, id.n) == 0)
      return x->mult_bp;
  }
  return LOY_BP;
}


int loy_earn_compute(const loy_program_t *p, const loy_order_t *o, int tier_idx, int64_t *net,
                     int64_t *points, int64_t *line_net, perr_info_t *e) {
  int rc;
  if (!core_currency_static(o->currency))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  if (o->nlines == 0 || o->nlines > CORE_MAX_LINES || !o->lines)
    return perr_set(e, PERR_INVALID_PARAMS, "lines", "1..%d lines required", CORE_MAX_LINES);
  int64_t subtotal = 0;
  for (size_t i = 0; i < o->nlines; i++) {
    const loy_line_t *l = &o->lines[i];
    if ((rc = core_check_id(l->product_id, "lines.product_id", e))) return rc;
    if (l->category.n && (rc = core_check_id(l->category, "lines.category", e))) return rc;
    if (l->quantity <= 0)
      return perr_set(e, PERR_INVALID_PARAMS, "lines.quantity", "quantity must be > 0");
    if (l->unit_price < 0)
      return perr_set(e, PERR_INVALID_PARAMS, "lines.unit_price", "unit_price must be >= 0");
    int64_t g;
    if (!ck_mul(l->quantity, l->unit_price, &g) || !ck_add(subtotal, g, &subtotal) ||
        subtotal > LOY_MAX_NET)
      return perr_set(e, PERR_INVALID_PARAMS, "lines", "order amount too large");
  }
  if (o->discount < 0 || o->discount > subtotal)
    return perr_set(e, PERR_INVALID_PARAMS, "discount", "discount must be 0..subtotal");
  const loy_rate_t *rate = NULL;
  for (size_t i = 0; i < p->nearn; i++)
    if (memcmp(p->earn[i].currency, o->currency.p, 3) == 0) rate = &p->earn[i];
  __int128 weighted = 0, cum = 0, prev_share = 0;
  for (size_t i = 0; i < o->nlines; i++) {
    const loy_line_t *l = &o->lines[i];
    int64_t g = l->quantity * l->unit_price;
    cum += g;
    __int128 share = subtotal ? (__int128)o->discount * cum / subtotal : 0;
    int64_t ln = g - (int64_t)(share - prev_share);
    prev_share = share;
    if (line_net) line_net[i] = ln;
    weighted += (__int128)ln * mult_of(p, 1, l->category) * mult_of(p, 0, l->product_id);
  }
  *net = subtotal - o->discount;
  *points = 0;
  if (rate && p->active) {
    int64_t tier_bp = tier_idx >= 0 ? p->tiers[tier_idx].earn_mult_bp : LOY_BP;
    __int128 num = weighted * tier_bp * rate->points;
    __int128 den = (__int128)rate->per_minor * LOY_BP * LOY_BP * LOY_BP;
    __int128 pts = num / den; /* round down, once per order */
    if (pts > INT64_MAX / 4)
      return perr_set(e, PERR_INVALID_PARAMS, "lines", "order earns too many points");
    *points = (int64_t)pts;
  }
  return 0;
}
