/* query.c -- the loyalty reads: tier (benefits, progress, kept-until), points (balance,
 * pending, expiring soon, paged history), preview of a cart, tier history, members by tier
 * and the ledger check. Reads never write: they load the member and move a copy forward to
 * `now` with the same rules a write would apply, so a read and the next write agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

/* What a read looks at: the program (or an inactive default) and the member moved to now. */
typedef struct view_s {
  loy_program_t p;
  loy_member_t m;
  int stored; /* a program is stored (else p is an inactive default) */
} view_t;

static void view_close(view_t *v) {
  if (!v) return;
  loy_member_free(&v->m);
  free(v);
}

/* *out is NULL after an error. */
static int view_open(store_txn_t *t, pstr_t customer, int64_t now, view_t **out, perr_info_t *e) {
  *out = NULL;
  int rc = core_check_id(customer, "customer_id", e);
  if (rc) return rc;
  view_t *v = calloc(1, sizeof *v);
  if (!v) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  rc = loy_program_load(t, &v->p, e);
  v->stored = rc == 0;
  if (rc == PERR_NOT_FOUND) {
    loyalty_program_default(&v->p);
    v->p.active = 0;
    rc = 0;
  }
  if (!rc) rc = loy_member_load(t, customer, now, &v->m, e);
  if (rc) {
    view_close(v);
    return rc;
  }
  if (v->m.exists) loy_advance(&v->p, &v->m, now, NULL);
  *out = v;
  return 0;
}

int loyalty_tier(store_txn_t *t, pstr_t customer_id, int64_t now, loy_tier_info_t *out,
                 perr_info_t *e) {
  memset(out, 0, sizeof *out);
  view_t *v;
  int rc = view_open(t, customer_id, now, &v, e);
  if (rc) return rc;
  loy_program_t *p = &v->p;
  loy_member_t *m = &v->m;
  if (!m->exists) goto done;
  out->member = 1;
  snprintf(out->unit, sizeof out->unit, "%s",
           p->basis == LOY_BASIS_POINTS   ? "points"
           : p->basis == LOY_BASIS_ORDERS ? "orders"
                                          : p->tier_currency);
  out->qualifying = loy_window_value(p, m, now);
  int cur = loy_tier_index(p, m->tier);
  if (cur >= 0) {
    out->has_tier = 1;
    out->tier = p->tiers[cur];
    out->tier_since = m->tier_since;
  }
  if ((size_t)(cur + 1) < p->ntiers) {
    out->has_next = 1;
    memcpy(out->next_tier, p->tiers[cur + 1].name, sizeof out->next_tier);
    int64_t miss = p->tiers[cur + 1].entry_threshold - out->qualifying;
    out->missing = miss > 0 ? miss : 0;
  }
  if (cur >= 0) {
    int64_t from = m->tier_since > m->reviewed_to ? m->tier_since : m->reviewed_to;
    int64_t end = loy_next_period_end(p, from);
    if (end) {
      out->kept_until = end + (int64_t)p->grace_days * LOY_DAY;
      /* pace: the reviewed window's value so far, extrapolated linearly to its end */
      int64_t start = p->window == LOY_WINDOW_CALENDAR_YEAR
                          ? loy_month_start(loy_month_of(end) - 12)
                          : loy_month_start(loy_month_of(end) - p->window_months);
      int64_t so_far = loy_review_value(p, m, end);
      int64_t elapsed = now - start, len = end - start;
      __int128 projected = so_far;
      if (elapsed > 0 && elapsed < len) projected = (__int128)so_far * len / elapsed;
      out->kept_at_pace = projected >= loy_keep_threshold(&p->tiers[cur]);
    } else {
      out->kept_at_pace = 1;
    }
  }
done:
  view_close(v);
  return rc;
}

/* Expiring-soon list: ENTRY replays the FIFO rule over the open lots by date; INACTIVITY
 * has one date, the inactivity deadline. */
static void expiring(const loy_program_t *p, const loy_member_t *m, int64_t now, int64_t until,
                     loy_points_info_t *out) {
  if (p->expiry == LOY_EXPIRY_INACTIVITY) {
    int64_t base = m->last_order_at ? m->last_order_at : m->first_seen;
    int64_t at = loy_add_months(base, p->expiry_months);
    int64_t pts = m->total - loy_pending(m, at);
    if (at <= until && pts > 0) {
      out->expiring[0].at = at > now ? at : now;
      out->expiring[0].points = pts;
      out->nexpiring = 1;
    }
    return;
  }
  if (p->expiry != LOY_EXPIRY_ENTRY) return;
  size_t n = m->credits.n;
  loy_lot_t *lots = malloc((n ? n : 1) * sizeof *lots);
  if (!lots) return;
  if (n) memcpy(lots, m->credits.p, n * sizeof *lots);
  for (size_t i = 1; i < n; i++) /* by date (insertion sort: lots arrive nearly sorted) */
    for (size_t j = i; j > 0 && lots[j - 1].at > lots[j].at; j--) {
      loy_lot_t x = lots[j];
      lots[j] = lots[j - 1];
      lots[j - 1] = x;
    }
  int64_t due = m->credits_due, listed = 0;
  for (size_t i = 0; i < n && lots[i].at <= until; i++) {
    due += lots[i].amount;
    if (i + 1 < n && lots[i + 1].at == lots[i].at) continue;
    int64_t need = due - m->debits - m->expired - listed;
    if (need <= 0) continue;
    listed += need;
    if (out->nexpiring < LOY_MAX_EXPIRING) {
      out->expiring[out->nexpiring].at = lots[i].at;
      out->expiring[out->nexpiring++].points = need;
    }
  }
  free(lots);
}

/* The summary of a member already moved to now. */
static void summarize(const loy_program_t *p, int stored, const loy_member_t *m, int64_t now,
                      loy_summary_t *out) {
  out->program = stored;
  if (!m->exists) return;
  out->member = 1;
  out->balance = m->total - loy_pending(m, now);
  int cur = loy_tier_index(p, m->tier);
  if (cur >= 0) {
    out->has_tier = 1;
    memcpy(out->tier, p->tiers[cur].name, sizeof out->tier);
  }
}

/* The summary from a stored record's brief, as loy_advance then summarize would make it:
 * pending lots after now are what is not spendable, expiry is applied as expire() does
 * (ENTRY: the credits at their date minus what was spent or expired; INACTIVITY: all that
 * is spendable once the deadline passed). 1 when a tier review is due (review() would
 * need the qualifying buckets): the caller decodes the member and moves it instead. */
static int summarize_brief(const loy_program_t *p, int stored, const loy_brief_t *b,
                           int64_t now, loy_summary_t *out) {
  int cur = loy_tier_index_n(p, b->tier, b->tier_n);
  if (cur >= 0) { /* review()'s first test: the period after the last review has not ended */
    int64_t from = b->tier_since > b->reviewed_to ? b->tier_since : b->reviewed_to;
    int64_t end = loy_next_period_end(p, from);
    if (end && end + (int64_t)p->grace_days * LOY_DAY <= now) return 1;
  }
  int64_t need = 0, total = b->total;
  if (p->expiry == LOY_EXPIRY_ENTRY) {
    need = b->credits_due - b->debits - b->expired;
  } else if (p->expiry == LOY_EXPIRY_INACTIVITY) {
    int64_t base = b->last_order_at ? b->last_order_at : b->first_seen;
    if (now >= loy_add_months(base, p->expiry_months)) need = total - b->pending;
  }
  if (need > 0) total += -need; /* the expire entry loy_add_entry would apply */
  out->program = stored;
  out->member = 1;
  out->balance = total - b->pending;
  if (cur >= 0) {
    out->has_tier = 1;
    memcpy(out->tier, p->tiers[cur].name, sizeof out->tier);
  }
  return 0;
}

/* Through a memo: no view (the program is the memo's); the stored record read as a brief
 * (no member decoded, nothing allocated), or, when a tier review is due, decoded into the
 * memo's scratch member (loy_member_decode sets every field it reads) and moved to now. */
static int summary_memo(store_txn_t *t, loy_program_memo_t *pm, pstr_t customer, int64_t now,
                        loy_summary_t *out, perr_info_t *e) {
  const loy_program_t *p;
  int stored;
  int rc = core_check_id(customer, "customer_id", e);
  if (!rc) rc = loy_program_memo_get(t, pm, &p, &stored, e);
  if (rc) return rc;
  const void *v;
  size_t vn;
  loy_brief_t b;
  rc = store_get(t, STORE_T_LOY_MEMBERS, customer.p, customer.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) { /* not a member: only whether a program is stored */
    out->program = stored;
    return 0;
  }
  if (rc) return core_store_err(t, rc, e);
  unsigned need = (p->downgrade != LOY_DOWN_NEVER && p->window != LOY_WINDOW_LIFETIME
                       ? LOY_BRIEF_REVIEW /* loy_next_period_end is 0 otherwise */
                       : 0) |
                  (p->expiry == LOY_EXPIRY_INACTIVITY ? LOY_BRIEF_INACTIVITY : 0) |
                  (p->expiry == LOY_EXPIRY_ENTRY ? LOY_BRIEF_ENTRY : 0);
  if (loy_member_brief_decode(v, vn, now, need, &b)) return core_corrupt("loyalty member", e);
  if (!summarize_brief(p, stored, &b, now, out)) return 0;
  loy_member_t *m = loy_program_memo_member(pm);
  if (loy_member_decode(v, vn, m)) return core_corrupt("loyalty member", e);
  loy_advance(p, m, now, NULL);
  summarize(p, stored, m, now, out);
  return 0;
}

int loyalty_summary(store_txn_t *t, loy_program_memo_t *memo, pstr_t customer_id, int64_t now,
                    loy_summary_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  if (memo) return summary_memo(t, memo, customer_id, now, out, e);
  view_t *v;
  int rc = view_open(t, customer_id, now, &v, e);
  if (rc) return rc;
  summarize(&v->p, v->stored, &v->m, now, out);
  view_close(v);
  return 0;
}

int loyalty_points(store_txn_t *t, pstr_t customer_id, int64_t now, int64_t horizon_s,
                   uint64_t before_seq, size_t limit, arena_t *a, loy_points_info_t *out,
                   perr_info_t *e) {
  memset(out, 0, sizeof *out);
  view_t *v;
  int rc = view_open(t, customer_id, now, &v, e);
  if (rc) return rc;
  loy_program_t *p = &v->p;
  loy_member_t *m = &v->m;
  if (!m->exists) goto done;
  out->member = 1;
  out->total = m->total;
  out->pending = loy_pending(m, now);
  out->balance = m->total - out->pending;
  expiring(p, m, now, now + (horizon_s > 0 ? horizon_s : 0), out);
  /* history: seqs [lo, hi] of the stored entries, newest first */
  uint64_t stored_next = m->next_seq; /* the read's copy may have queued nothing (fx NULL) */
  uint64_t hi = before_seq && before_seq <= stored_next ? before_seq - 1 : stored_next - 1;
  if (limit == 0 || hi == 0) goto done;
  uint64_t lo = hi >= limit ? hi - limit + 1 : 1;
  out->history = arena_alloc(a, (size_t)(hi - lo + 1) * sizeof *out->history);
  if (!out->history) {
    rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    goto done;
  }
  char k[CORE_ID_MAX + 9];
  size_t kn = loy_ledger_key(k, customer_id, lo);
  store_cursor_t *c;
  if ((rc = store_cursor_open(t, STORE_T_LOY_LEDGER, k, kn, &c))) {
    rc = core_store_err(t, rc, e);
    goto done;
  }
  const void *kk, *val;
  size_t kkn, vn;
  size_t got = 0;
  while ((rc = store_cursor_next(c, &kk, &kkn, &val, &vn)) == 1) {
    if (kkn != customer_id.n + 9 || memcmp(kk, k, customer_id.n + 1) != 0) break;
    loy_entry_t x;
    if (loy_entry_decode(val, vn, &x)) {
      rc = core_corrupt("loyalty entry", e);
      break;
    }
    const unsigned char *sp = (const unsigned char *)kk + customer_id.n + 1;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++) seq = seq << 8 | sp[i];
    if (seq > hi) break;
    x.seq = seq;
    if (x.state == LOY_S_PENDING && x.available_at <= now) x.state = LOY_S_ACTIVE;
    x.key.p = arena_memdup(a, x.key.p, x.key.n ? x.key.n : 1);
    x.source.p = arena_memdup(a, x.source.p, x.source.n ? x.source.n : 1);
    out->history[hi - seq] = x; /* newest first */
    got++;
  }
  store_cursor_close(c);
  if (rc < 0) {
    if (!e || !e->code) rc = core_store_err(t, rc, e);
    goto done;
  }
  rc = 0;
  out->nhistory = got;
  out->next_before = lo > 1 ? lo : 0;
done:
  view_close(v);
  return rc;
}

int loyalty_preview(store_txn_t *t, const loy_order_t *cart, int64_t now, loy_preview_t *out,
                    perr_info_t *e) {
  memset(out, 0, sizeof *out);
  view_t *v;
  int rc = view_open(t, cart->customer_id, now, &v, e);
  if (rc) return rc;
  loy_program_t *p = &v->p;
  loy_member_t *m = &v->m;
  if (rc) goto done;
  if (!p->active) {
    out->inactive = 1;
    goto done;
  }
  rc =
      loy_earn_compute(p, cart, loy_tier_index(p, m->tier), &out->net_spend, &out->points, NULL, e);
  if (rc) goto done;
  int64_t spend = p->basis == LOY_BASIS_SPEND && memcmp(p->tier_currency, cart->currency.p, 3) == 0
                      ? out->net_spend
                      : 0;
  loy_qualify(m, cart->ts ? cart->ts : now, out->points, spend, 1);
  loy_tier_move_t mv;
  memset(&mv, 0, sizeof mv);
  loy_upgrade(p, m, now, !cart->import, NULL, &mv);
  out->upgrades = mv.changed;
  memcpy(out->tier_after, m->tier, sizeof out->tier_after);
  out->bonus = mv.bonus;
done:
  view_close(v);
  return rc;
}

static void copy_name(char *dst, pstr_t s) {
  size_t n = s.n > LOY_NAME_MAX ? LOY_NAME_MAX : s.n;
  if (n) memcpy(dst, s.p, n);
  dst[n] = 0;
}

int loyalty_tier_history(store_txn_t *t, pstr_t customer_id, loy_tier_change_t *out, size_t max,
                         size_t *n, size_t *total, perr_info_t *e) {
  *n = 0;
  *total = 0;
  int rc = core_check_id(customer_id, "customer_id", e);
  if (rc) return rc;
  char k[CORE_ID_MAX + 9];
  size_t kn = loy_ledger_key(k, customer_id, 0);
  store_cursor_t *c;
  if ((rc = store_cursor_open(t, STORE_T_LOY_TIER_HIST, k, kn, &c)))
    return core_store_err(t, rc, e);
  const void *kk, *v;
  size_t kkn, vn;
  while ((rc = store_cursor_next(c, &kk, &kkn, &v, &vn)) == 1) {
    if (kkn != customer_id.n + 9 || memcmp(kk, k, customer_id.n + 1) != 0) break;
    if (*n < max) {
      rec_rd_t r;
      rec_rd_init(&r, v, vn);
      loy_tier_change_t *x = &out[*n];
      memset(x, 0, sizeof *x);
      if (rec_get_u8(&r) != 'H' || rec_get_u8(&r) != 1) r.bad = 1;
      x->at = rec_get_sv(&r);
      copy_name(x->from, rec_get_str(&r));
      copy_name(x->to, rec_get_str(&r));
      pstr_t reason = rec_get_str(&r);
      size_t rn = reason.n < sizeof x->reason ? reason.n : sizeof x->reason - 1;
      if (rn) memcpy(x->reason, reason.p, rn);
      if (!rec_rd_done(&r)) {
        store_cursor_close(c);
        return core_corrupt("loyalty tier history", e);
      }
      (*n)++;
    }
    (*total)++;
  }
  store_cursor_close(c);
  return rc < 0 ? core_store_err(t, rc, e) : 0;
}

int loyalty_members(store_txn_t *t, pstr_t tier, pstr_t after, size_t limit, arena_t *a,
                    pstr_t **ids, size_t *n, int *more, perr_info_t *e) {
  *n = 0;
  *more = 0;
  *ids = NULL;
  if (tier.n > LOY_NAME_MAX) return perr_set(e, PERR_INVALID_PARAMS, "tier", "no such tier");
  if (after.n > CORE_ID_MAX) return perr_set(e, PERR_INVALID_PARAMS, "after", "after too long");
  if (limit == 0 || limit > 10000)
    return perr_set(e, PERR_INVALID_PARAMS, "limit", "limit must be 1..10000");
  char k[LOY_NAME_MAX + 2 + CORE_ID_MAX];
  if (tier.n) memcpy(k, tier.p, tier.n);
  k[tier.n] = 0;
  if (after.n) memcpy(k + tier.n + 1, after.p, after.n);
  size_t kn = tier.n + 1 + after.n, plen = tier.n + 1;
  *ids = arena_alloc(a, limit * sizeof **ids);
  if (!*ids) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  store_cursor_t *c;
  int rc = store_cursor_open(t, STORE_T_LOY_TIER_IDX, k, kn, &c);
  if (rc) return core_store_err(t, rc, e);
  const void *kk, *v;
  size_t kkn, vn;
  while ((rc = store_cursor_next(c, &kk, &kkn, &v, &vn)) == 1) {
    if (kkn < plen || memcmp(kk, k, plen) != 0) break;
    pstr_t id = core_pstr((const char *)kk + plen, kkn - plen);
    if (after.n && id.n == after.n && memcmp(id.p, after.p, after.n) == 0) continue;
    if (*n == limit) {
      *more = 1;
      break;
    }
    char *copy = arena_memdup(a, id.p, id.n);
    if (!copy) {
      rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
      break;
    }
    (*ids)[(*n)++] = core_pstr(copy, id.n);
  }
  store_cursor_close(c);
  if (rc == PERR_INTERNAL) return rc;
  return rc < 0 ? core_store_err(t, rc, e) : 0;
}

/* Sum of one member's entries: the ledger rows share the member key prefix, in order. */
int loyalty_check(store_txn_t *t, arena_t *a, loy_check_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  store_cursor_t *mc, *lc;
  int rc = store_cursor_open(t, STORE_T_LOY_MEMBERS, NULL, 0, &mc);
  if (rc) return core_store_err(t, rc, e);
  if ((rc = store_cursor_open(t, STORE_T_LOY_LEDGER, NULL, 0, &lc))) {
    store_cursor_close(mc);
    return core_store_err(t, rc, e);
  }
  loy_member_t m;
  memset(&m, 0, sizeof m);
  const void *k, *v, *lk = NULL, *lv = NULL;
  size_t kn, vn, lkn = 0, lvn = 0;
  int lrc = store_cursor_next(lc, &lk, &lkn, &lv, &lvn);
  while ((rc = store_cursor_next(mc, &k, &kn, &v, &vn)) == 1) {
    out->members++;
    if (loy_member_decode(v, vn, &m)) {
      rc = core_corrupt("loyalty member", e);
      break;
    }
    int64_t sum = 0;
    /* skip ledger rows of ids sorting before this member (entries without a summary) */
    while (lrc == 1) {
      size_t pre = lkn >= 9 ? lkn - 9 : 0;
      int cmp = memcmp(lk, k, pre < kn ? pre : kn);
      if (cmp == 0) cmp = pre < kn ? -1 : pre > kn ? 1 : 0;
      if (cmp > 0) break;
      if (cmp < 0) out->orphans++;
      if (cmp == 0) {
        loy_entry_t x;
        if (loy_entry_decode(lv, lvn, &x)) {
          lrc = -1;
          break;
        }
        sum += x.amount;
        out->entries++;
      }
      lrc = store_cursor_next(lc, &lk, &lkn, &lv, &lvn);
    }
    if (lrc < 0) {
      rc = core_corrupt("loyalty entry", e);
      break;
    }
    if (sum != m.total) {
      if (out->nlisted < sizeof out->diffs / sizeof out->diffs[0]) {
        loy_check_diff_t *d = &out->diffs[out->nlisted++];
        d->customer_id = core_pstr(arena_memdup(a, k, kn), kn);
        d->summary_total = m.total;
        d->ledger_total = sum;
      }
      out->ndiffs++;
    }
  }
  while (rc == 0 && lrc == 1) { /* entries after the last member */
    out->orphans++;
    lrc = store_cursor_next(lc, &lk, &lkn, &lv, &lvn);
  }
  store_cursor_close(lc);
  store_cursor_close(mc);
  loy_member_free(&m);
  if (rc == PERR_INTERNAL) return rc;
  return rc < 0 ? (e && e->code ? rc : core_store_err(t, rc, e)) : 0;
}

const char *loyalty_entry_type_name(int type) {
  static const char *names[] = {"unknown", "earn",   "reverse", "redeem", "redeem_cancel",
                                "award",   "expire", "adjust",  "bonus"};
  return type >= LOY_E_EARN && type <= LOY_E_BONUS ? names[type] : "unknown";
}

const char *loyalty_entry_state_name(int state) {
  static const char *names[] = {"active", "pending", "expired", "cancelled"};
  return state >= LOY_S_ACTIVE && state <= LOY_S_CANCELLED ? names[state] : "unknown";
}
