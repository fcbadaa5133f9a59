/* member.c -- the member summary record (codec, load), writing an operation's queued
 * effects (ledger entries, tier history, tier index, summary) in one go, the LOY_KEYS
 * idempotency rows, and the UTC calendar the rules use.
 * Summary record: 'M' 1 | uv next_seq | uv next_hist | sv total | str tier | sv tier_since |
 * sv reviewed_to | sv first_seen | sv last_order_at | sv credits_due | sv debits |
 * sv expired | sv life_points | sv life_spend | sv life_orders | uv nbonus { str tier | sv at }
 * | uv npending { sv at | sv amount | uv seq } | uv ncredits { same } |
 * uv nbuckets { sv month | sv points | sv spend | sv orders }.
 * Entry record: 'E' 1 | u8 type | u8 state | sv amount | sv created_at | sv available_at |
 * sv expires_at | uv ref_seq | str key | str source.
 * History record: 'H' 1 | sv at | str from | str to | str reason.
 * Invariant: loy_flush writes entries before the summary that counts them, in one txn. */
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

int loy_vec_push(void *vec, size_t el, const void *item) {
  struct {
    void *p;
    size_t n, cap;
  } *v = vec;
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 8;
    void *np = realloc(v->p, cap * el);
    if (!np) return -1;
    v->p = np;
    v->cap = cap;
  }
  memcpy((char *)v->p + v->n * el, item, el);
  v->n++;
  return 0;
}

void loy_member_free(loy_member_t *m) {
  free(m->pending.p);
  free(m->credits.p);
  free(m->buckets.p);
  memset(m, 0, sizeof *m);
}

void loy_fx_reset(loy_fx_t *fx) {
  fx->entries.n = 0;
  fx->changes.n = 0;
  fx->cancel_seq = 0;
  fx->oom = 0;
}

void loy_fx_free(loy_fx_t *fx) {
  free(fx->entries.p);
  free(fx->changes.p);
  memset(fx, 0, sizeof *fx);
}

/* ---- calendar (proleptic Gregorian, UTC) ------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t loy_month_of(int64_t ts) {
  int64_t y, m, d;
  civil_from_days(floor_div(ts, LOY_DAY), &y, &m, &d);
  return y * 12 + (m - 1);
}

int64_t loy_year_of(int64_t ts) { return floor_div(loy_month_of(ts), 12); }

int64_t loy_month_start(int64_t month) {
  return days_from_civil(floor_div(month, 12), month - floor_div(month, 12) * 12 + 1, 1) * LOY_DAY;
}

int64_t loy_add_months(int64_t ts, int months) {
  int64_t days = floor_div(ts, LOY_DAY), secs = ts - days * LOY_DAY;
  int64_t y, m, d;
  civil_from_days(days, &y, &m, &d);
  int64_t mi = y * 12 + (m - 1) + months;
  int64_t ny = floor_div(mi, 12), nm = mi - ny * 12 + 1;
  int64_t first = days_from_civil(ny, nm, 1);
  int64_t next = days_from_civil(nm == 12 ? ny + 1 : ny, nm == 12 ? 1 : nm + 1, 1);
  if (d > next - first) d = next - first; /* Jan 31 + 1 month = Feb 28/29 */
  return (first + d - 1) * LOY_DAY + secs;
}

/* ---- codec ------------------------------------------------------------------------- */

static void put_lots(rec_buf_t *b, const loy_lot_t *l, size_t n) {
  rec_put_uv(b, n);
  for (size_t i = 0; i < n; i++) {
    rec_put_sv(b, l[i].at);
    rec_put_sv(b, l[i].amount);
    rec_put_uv(b, l[i].seq);
  }
}

void loy_member_encode(rec_buf_t *b, const loy_member_t *m) {
  rec_put_u8(b, 'M');
  rec_put_u8(b, 1);
  rec_put_uv(b, m->next_seq);
  rec_put_uv(b, m->next_hist);
  rec_put_sv(b, m->total);
  rec_put_str(b, loy_cstr(m->tier));
  rec_put_sv(b, m->tier_since);
  rec_put_sv(b, m->reviewed_to);
  rec_put_sv(b, m->first_seen);
  rec_put_sv(b, m->last_order_at);
  rec_put_sv(b, m->credits_due);
  rec_put_sv(b, m->debits);
  rec_put_sv(b, m->expired);
  rec_put_sv(b, m->life_points);
  rec_put_sv(b, m->life_spend);
  rec_put_sv(b, m->life_orders);
  rec_put_uv(b, m->nbonus);
  for (size_t i = 0; i < m->nbonus; i++) {
    rec_put_str(b, loy_cstr(m->bonus[i].tier));
    rec_put_sv(b, m->bonus[i].at);
  }
  put_lots(b, m->pending.p, m->pending.n);
  put_lots(b, m->credits.p, m->credits.n);
  rec_put_uv(b, m->buckets.n);
  for (size_t i = 0; i < m->buckets.n; i++) {
    const loy_bucket_t *k = &m->buckets.p[i];
    rec_put_sv(b, k->month);
    rec_put_sv(b, k->points);
    rec_put_sv(b, k->spend);
    rec_put_sv(b, k->orders);
  }
}

void loy_get_cstr(rec_rd_t *r, char *out, size_t max) {
  pstr_t s = rec_get_str(r);
  if (s.n > max) {
    r->bad = 1;
    s.n = 0;
  }
  if (s.n) memcpy(out, s.p, s.n);
  out[s.n] = 0;
}

static int get_lots(rec_rd_t *r, void *vec) {
  size_t n = rec_get_count(r, 1u << 24);
  for (size_t i = 0; i < n && !r->bad; i++) {
    loy_lot_t l;
    l.at = rec_get_sv_inline(r);
    l.amount = rec_get_sv_inline(r);
    l.seq = rec_get_uv_inline(r);
    if (loy_vec_push(vec, sizeof l, &l)) return -1;
  }
  return 0;
}

/* Keeps m->id and the vectors' capacity (reused across a bulk walk). */
int loy_member_decode(const void *v, size_t n, loy_member_t *m) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  m->pending.n = m->credits.n = m->buckets.n = 0;
  m->exists = 1;
  if (rec_get_u8(&r) != 'M' || rec_get_u8(&r) != 1) return -1;
  m->next_seq = rec_get_uv_inline(&r);
  m->next_hist = rec_get_uv_inline(&r);
  m->total = rec_get_sv_inline(&r);
  loy_get_cstr(&r, m->tier, LOY_NAME_MAX);
  memcpy(m->loaded_tier, m->tier, sizeof m->tier);
  m->tier_since = rec_get_sv_inline(&r);
  m->reviewed_to = rec_get_sv_inline(&r);
  m->first_seen = rec_get_sv_inline(&r);
  m->last_order_at = rec_get_sv_inline(&r);
  m->credits_due = rec_get_sv_inline(&r);
  m->debits = rec_get_sv_inline(&r);
  m->expired = rec_get_sv_inline(&r);
  m->life_points = rec_get_sv_inline(&r);
  m->life_spend = rec_get_sv_inline(&r);
  m->life_orders = rec_get_sv_inline(&r);
  m->nbonus = rec_get_count(&r, LOY_MAX_TIERS);
  for (size_t i = 0; i < m->nbonus && !r.bad; i++) {
    loy_get_cstr(&r, m->bonus[i].tier, LOY_NAME_MAX);
    m->bonus[i].at = rec_get_sv_inline(&r);
  }
  if (get_lots(&r, &m->pending) || get_lots(&r, &m->credits)) return -1;
  size_t nb = rec_get_count(&r, 1u << 16);
  for (size_t i = 0; i < nb && !r.bad; i++) {
    loy_bucket_t k;
    k.month = rec_get_sv_inline(&r);
    k.points = rec_get_sv_inline(&r);
    k.spend = rec_get_sv_inline(&r);
    k.orders = rec_get_sv_inline(&r);
    if (loy_vec_push(&m->buckets, sizeof k, &k)) return -1;
  }
  return rec_rd_done(&r) ? 0 : -1;
}

/* A signed value into *to when wanted, else skipped (the same bytes checked). */
static inline void brief_sv(rec_rd_t *r, int want, int64_t *to) {
  if (want) *to = rec_get_sv_inline(r);
  else rec_skip_uv(r);
}

/* loy_member_decode's walk of the record, keeping only what loy_brief_t holds (and of that
 * what need asks): the same reads in the same order (so the same refusals), the values not
 * kept skipped, not assembled. */
int loy_member_brief_decode(const void *v, size_t n, int64_t now, unsigned need, loy_brief_t *b) {
  rec_rd_t r;
  int review = need & LOY_BRIEF_REVIEW, inactivity = need & LOY_BRIEF_INACTIVITY;
  int entry = need & LOY_BRIEF_ENTRY;
  memset(b, 0, sizeof *b);
  rec_rd_init(&r, v, n);
  if (rec_get_u8(&r) != 'M' || rec_get_u8(&r) != 1) return -1;
  rec_skip_uv(&r); /* next_seq */
  rec_skip_uv(&r); /* next_hist */
  b->total = rec_get_sv_inline(&r);
  pstr_t tier = rec_get_str(&r);
  if (tier.n > LOY_NAME_MAX) return -1; /* loy_get_cstr's refusal */
  const char *nul = tier.n ? memchr(tier.p, 0, tier.n) : NULL;
  b->tier = tier.p;
  b->tier_n = nul ? (size_t)(nul - tier.p) : tier.n;
  brief_sv(&r, review, &b->tier_since);
  brief_sv(&r, review, &b->reviewed_to);
  brief_sv(&r, inactivity, &b->first_seen);
  brief_sv(&r, inactivity, &b->last_order_at);
  brief_sv(&r, entry, &b->credits_due);
  brief_sv(&r, entry, &b->debits);
  brief_sv(&r, entry, &b->expired);
  for (int i = 0; i < 3; i++) rec_skip_uv(&r); /* life_points, life_spend, life_orders */
  size_t nbonus = rec_get_count(&r, LOY_MAX_TIERS);
  for (size_t i = 0; i < nbonus && !r.bad; i++) {
    if (rec_get_str(&r).n > LOY_NAME_MAX) return -1;
    rec_skip_uv(&r);
  }
  size_t np = rec_get_count(&r, 1u << 24);
  for (size_t i = 0; i < np && !r.bad; i++) { /* loy_advance keeps those after now */
    int64_t at = rec_get_sv_inline(&r), amount = rec_get_sv_inline(&r);
    rec_skip_uv(&r);
    if (at > now) b->pending += amount;
  }
  size_t nc = rec_get_count(&r, 1u << 24);
  for (size_t i = 0; i < nc && !r.bad; i++) { /* ENTRY expiry: those at their date are due */
    if (!entry) {
      for (int k = 0; k < 3; k++) rec_skip_uv(&r);
      continue;
    }
    int64_t at = rec_get_sv_inline(&r), amount = rec_get_sv_inline(&r);
    rec_skip_uv(&r);
    if (at <= now) b->credits_due += amount;
  }
  size_t nb = rec_get_count(&r, 1u << 16);
  for (size_t i = 0; i < nb * 4 && !r.bad; i++) rec_skip_uv(&r);
  return rec_rd_done(&r) ? 0 : -1;
}

int loy_member_load(store_txn_t *t, pstr_t id, int64_t now, loy_member_t *m, perr_info_t *e) {
  const void *v;
  size_t vn;
  memcpy(m->id, id.p, id.n);
  m->id[id.n] = 0;
  m->idn = id.n;
  int rc = store_get(t, STORE_T_LOY_MEMBERS, id.p, id.n, &v, &vn);
  if (rc == PERR_NOT_FOUND) {
    m->exists = 0;
    m->next_seq = m->next_hist = 1;
    m->total = 0;
    m->tier[0] = m->loaded_tier[0] = 0;
    m->tier_since = m->reviewed_to = 0;
    m->first_seen = now;
    m->last_order_at = 0;
    m->credits_due = m->debits = m->expired = 0;
    m->life_points = m->life_spend = m->life_orders = 0;
    m->nbonus = 0;
    m->pending.n = m->credits.n = m->buckets.n = 0;
    return 0;
  }
  if (rc) return core_store_err(t, rc, e);
  if (loy_member_decode(v, vn, m)) return core_corrupt("loyalty member", e);
  return 0;
}

/* ---- keys ----------------------------------------------------------------------------- */

static void put_be64(char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (char)(v & 0xff);
    v >>= 8;
  }
}

size_t loy_ledger_key(char *buf, pstr_t customer, uint64_t seq) {
  memcpy(buf, customer.p, customer.n);
  buf[customer.n] = 0;
  put_be64(buf + customer.n + 1, seq);
  return customer.n + 9;
}

int loy_keys_get(store_txn_t *t, char kind, pstr_t id, const void **v, size_t *vn, perr_info_t *e) {
  char k[CORE_ID_MAX + 1];
  k[0] = kind;
  memcpy(k + 1, id.p, id.n);
  int rc = store_get(t, STORE_T_LOY_KEYS, k, id.n + 1, v, vn);
  if (rc && rc != PERR_NOT_FOUND) return core_store_err(t, rc, e);
  return rc;
}

int loy_keys_put(store_txn_t *w, char kind, pstr_t id, const rec_buf_t *b, perr_info_t *e) {
  if (b->oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  char k[CORE_ID_MAX + 1];
  k[0] = kind;
  memcpy(k + 1, id.p, id.n);
  int rc = store_put(w, STORE_T_LOY_KEYS, k, id.n + 1, b->p, b->n);
  return rc ? core_store_err(w, rc, e) : 0;
}

/* ---- flush ------------------------------------------------------------------------------ */

static void entry_encode(rec_buf_t *b, const loy_entry_t *x) {
  rec_put_u8(b, 'E');
  rec_put_u8(b, 1);
  rec_put_u8(b, (unsigned)x->type);
  rec_put_u8(b, (unsigned)x->state);
  rec_put_sv(b, x->amount);
  rec_put_sv(b, x->created_at);
  rec_put_sv(b, x->available_at);
  rec_put_sv(b, x->expires_at);
  rec_put_uv(b, x->ref_seq);
  rec_put_str(b, x->key);
  rec_put_str(b, x->source);
}

static int put_buf(store_txn_t *w, store_table_t tb, const void *k, size_t kn, rec_buf_t *b,
                   perr_info_t *e) {
  if (b->oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  int rc = store_put(w, tb, k, kn, b->p, b->n);
  return rc ? core_store_err(w, rc, e) : 0;
}

static int tier_index_move(store_txn_t *w, const loy_member_t *m, int is_new, perr_info_t *e) {
  char k[LOY_NAME_MAX + 2 + CORE_ID_MAX];
  size_t tn;
  int rc;
  if (!is_new) {
    tn = strlen(m->loaded_tier);
    memcpy(k, m->loaded_tier, tn);
    k[tn] = 0;
    memcpy(k + tn + 1, m->id, m->idn);
    rc = store_del(w, STORE_T_LOY_TIER_IDX, k, tn + 1 + m->idn);
    if (rc && rc != PERR_NOT_FOUND) return core_store_err(w, rc, e);
  }
  tn = strlen(m->tier);
  memcpy(k, m->tier, tn);
  k[tn] = 0;
  memcpy(k + tn + 1, m->id, m->idn);
  rc = store_put(w, STORE_T_LOY_TIER_IDX, k, tn + 1 + m->idn, "", 0);
  return rc ? core_store_err(w, rc, e) : 0;
}

static int mark_cancelled(store_txn_t *w, const loy_member_t *m, uint64_t seq, rec_buf_t *b,
                          perr_info_t *e) {
  char k[CORE_ID_MAX + 9];
  size_t kn = loy_ledger_key(k, core_pstr(m->id, m->idn), seq);
  const void *v;
  size_t vn;
  int rc = store_get(w, STORE_T_LOY_LEDGER, k, kn, &v, &vn);
  if (rc) return core_store_err(w, rc, e);
  if (vn < 4 || ((const unsigned char *)v)[0] != 'E') return core_corrupt("loyalty entry", e);
  b->n = 0;
  rec_put_raw(b, v, vn);
  if (b->oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  b->p[3] = LOY_S_CANCELLED; /* the state byte; the amount never changes */
  return put_buf(w, STORE_T_LOY_LEDGER, k, kn, b, e);
}

int loy_flush(store_txn_t *w, loy_member_t *m, const loy_fx_t *fx, perr_info_t *e) {
  if (fx->oom) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  rec_buf_t b;
  rec_buf_init(&b);
  int rc = 0;
  char k[CORE_ID_MAX + 9];
  pstr_t id = core_pstr(m->id, m->idn);
  for (size_t i = 0; i < fx->entries.n && !rc; i++) {
    b.n = 0;
    entry_encode(&b, &fx->entries.p[i]);
    size_t kn = loy_ledger_key(k, id, fx->entries.p[i].seq);
    rc = put_buf(w, STORE_T_LOY_LEDGER, k, kn, &b, e);
  }
  if (!rc && fx->cancel_seq) rc = mark_cancelled(w, m, fx->cancel_seq, &b, e);
  for (size_t i = 0; i < fx->changes.n && !rc; i++) {
    const loy_tier_change_t *c = &fx->changes.p[i];
    b.n = 0;
    rec_put_u8(&b, 'H');
    rec_put_u8(&b, 1);
    rec_put_sv(&b, c->at);
    rec_put_str(&b, loy_cstr(c->from));
    rec_put_str(&b, loy_cstr(c->to));
    rec_put_str(&b, loy_cstr(c->reason));
    size_t kn = loy_ledger_key(k, id, m->next_hist++);
    rc = put_buf(w, STORE_T_LOY_TIER_HIST, k, kn, &b, e);
  }
  if (!rc && (!m->exists || strcmp(m->tier, m->loaded_tier) != 0))
    rc = tier_index_move(w, m, !m->exists, e);
  if (!rc) {
    b.n = 0;
    loy_member_encode(&b, m);
    rc = put_buf(w, STORE_T_LOY_MEMBERS, m->id, m->idn, &b, e);
  }
  if (!rc) {
    m->exists = 1;
    memcpy(m->loaded_tier, m->tier, sizeof m->tier);
  }
  rec_buf_free(&b);
  return rc;
}

/* Decode one entry (strings point into v). */
int loy_entry_decode(const void *v, size_t n, loy_entry_t *x) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  if (rec_get_u8(&r) != 'E' || rec_get_u8(&r) != 1) return -1;
  x->type = (int)rec_get_u8(&r);
  x->state = (int)rec_get_u8(&r);
  x->amount = rec_get_sv_inline(&r);
  x->created_at = rec_get_sv_inline(&r);
  x->available_at = rec_get_sv_inline(&r);
  x->expires_at = rec_get_sv_inline(&r);
  x->ref_seq = rec_get_uv_inline(&r);
  x->key = rec_get_str(&r);
  x->source = rec_get_str(&r);
  return rec_rd_done(&r) ? 0 : -1;
}
