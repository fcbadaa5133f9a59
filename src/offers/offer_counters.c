/* offer_counters.c -- the offers tables' keys and counter records (layouts in
 * offers_internal.h): budgets used, per-customer caps, per-arm experiment counters and the
 * per-customer seen record (one at a time, or all of a customer's in one cursor range for
 * offers.decide). Invariant: a reader never trusts a record it did not fully parse; the
 * range falls back to single reads for anything it does not hold. */
#include <openssl/evp.h>

#include "offers/offers_internal.h"

void offer_key_init(offer_key_t *k, char tag) {
  k->n = 0;
  k->bad = 0;
  if (tag) k->b[k->n++] = (unsigned char)tag;
}

void offer_key_str(offer_key_t *k, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > OFFERS_ID_MAX || k->n + n > sizeof k->b) {
    k->bad = 1;
    return;
  }
  memcpy(k->b + k->n, s, n);
  k->n += n;
}

void offer_key_sep(offer_key_t *k) { offer_key_u8(k, 0); }

void offer_key_u8(offer_key_t *k, unsigned v) {
  if (k->n + 1 > sizeof k->b) {
    k->bad = 1;
    return;
  }
  k->b[k->n++] = (unsigned char)v;
}

void offer_key_be64(offer_key_t *k, int64_t v) {
  uint64_t u = (uint64_t)v ^ (1ull << 63); /* order-preserving for negatives */
  if (k->n + 8 > sizeof k->b) {
    k->bad = 1;
    return;
  }
  for (int i = 0; i < 8; i++) k->b[k->n + i] = (unsigned char)(u >> (8 * (7 - i)));
  k->n += 8;
}

int64_t offer_period_index(offer_period_t p, int64_t ts) {
  int64_t day = ts >= 0 ? ts / 86400 : -((-ts + 86399) / 86400);
  switch (p) {
    case OFFER_PERIOD_DAY: return day;
    case OFFER_PERIOD_WEEK: { /* 1970-01-01 was a Thursday: Monday-based weeks */
      int64_t d = day + 3;
      return d >= 0 ? d / 7 : -((-d + 6) / 7);
    }
    case OFFER_PERIOD_MONTH: { /* the civil (proleptic Gregorian) month of the day: eras
                                  * of 400 years, years starting in March (no gmtime_r) */
      int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
      int64_t doe = z - era * 146097;
      int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
      int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
      int64_t month = mp < 10 ? mp + 2 : mp - 10; /* 0 = January */
      int64_t year = yoe + era * 400 + (month < 2);
      return (year - 1970) * 12 + month;
    }
    default: return 0;
  }
}

int offer_check_id(const char *s, const char *field, perr_info_t *e) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > OFFERS_ID_MAX)
    return perr_set(e, PERR_INVALID_PARAMS, field, "must be a string of 1..128 bytes");
  return 0;
}

int offer_store_err(store_txn_t *t, int rc, perr_info_t *e) {
  const char *m = t ? store_txn_errmsg(t) : "";
  return perr_set(e, rc, NULL, "%s", m && *m ? m : perr_message(rc));
}

void offer_sha256(const char *const *parts, int n, unsigned char out[32]) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned int len = 32;
  EVP_DigestInit_ex(c, EVP_sha256(), NULL);
  for (int i = 0; i < n; i++) {
    const char *s = parts[i] ? parts[i] : "";
    EVP_DigestUpdate(c, s, strlen(s) + 1);
  }
  EVP_DigestFinal_ex(c, out, &len);
  EVP_MD_CTX_free(c);
}

/* Load a record whose value starts with tag, version 1; *found 0 when absent. */
static int load(store_txn_t *t, store_table_t tb, const offer_key_t *k, char tag, rec_rd_t *rd,
                int *found) {
  const void *v;
  size_t vn;
  *found = 0;
  if (k->bad) return PERR_INVALID_PARAMS;
  int rc = store_get(t, tb, k->b, k->n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return 0;
  if (rc) return rc;
  rec_rd_init(rd, v, vn);
  if (rec_get_u8(rd) != (unsigned char)tag || rec_get_u8(rd) != 1) return PERR_INTERNAL;
  *found = 1;
  return 0;
}

static int save(store_txn_t *t, store_table_t tb, const offer_key_t *k, rec_buf_t *b) {
  int rc = k->bad ? PERR_INVALID_PARAMS : b->oom ? PERR_INTERNAL : 0;
  if (!rc) rc = store_put(t, tb, k->b, k->n, b->p, b->n);
  rec_buf_free(b);
  return rc;
}

static void arm_key(offer_key_t *k, const char *offer, int arm) {
  offer_key_init(k, 'a');
  offer_key_str(k, offer);
  offer_key_sep(k);
  offer_key_u8(k, (unsigned)arm);
}

int offer_arm_load(store_txn_t *t, const char *offer, int arm, offer_arm_t *out) {
  offer_key_t k;
  rec_rd_t rd;
  int found;
  memset(out, 0, sizeof *out);
  arm_key(&k, offer, arm);
  int rc = load(t, STORE_T_OFFER_COUNTS, &k, 'A', &rd, &found);
  if (rc || !found) return rc;
  out->s.exposures = rec_get_sv_inline(&rd);
  out->s.conversions = rec_get_sv_inline(&rd);
  out->s.revenue = rec_get_sv_inline(&rd);
  uint64_t bits = rec_get_uv_inline(&rd);
  memcpy(&out->s.revenue_sumsq, &bits, sizeof bits);
  out->s.discount_cost = rec_get_sv_inline(&rd);
  out->clicks = rec_get_sv_inline(&rd);
  return rec_rd_done(&rd) ? 0 : PERR_INTERNAL;
}

int offer_arm_store(store_txn_t *t, const char *offer, int arm, const offer_arm_t *a) {
  offer_key_t k;
  rec_buf_t b;
  arm_key(&k, offer, arm);
  rec_buf_init(&b);
  rec_put_u8(&b, 'A');
  rec_put_u8(&b, 1);
  rec_put_sv(&b, a->s.exposures);
  rec_put_sv(&b, a->s.conversions);
  rec_put_sv(&b, a->s.revenue);
  uint64_t bits;
  memcpy(&bits, &a->s.revenue_sumsq, sizeof bits);
  rec_put_uv(&b, bits);
  rec_put_sv(&b, a->s.discount_cost);
  rec_put_sv(&b, a->clicks);
  int rc = save(t, STORE_T_OFFER_COUNTS, &k, &b);
  return rc ? rc : offer_counters_stamp(t);
}

static void seen_key(offer_key_t *k, const char *customer, const char *offer) {
  offer_key_init(k, 0);
  offer_key_str(k, customer);
  offer_key_sep(k);
  offer_key_str(k, offer);
}

enum { SEEN_EXPOSED = 1, SEEN_SLOT_SHOWN = 2, SEEN_SLOT_REDEEMED = 4 };

static void seen_fields(rec_rd_t *rd, offer_seen_t *out) {
  out->arm = (int)rec_get_uv_inline(rd);
  out->first_ts = rec_get_sv_inline(rd);
  out->last_ts = rec_get_sv_inline(rd);
  out->converted = rec_get_u8(rd);
  out->revenue = rec_get_sv_inline(rd);
}

int offer_seen_row_parse(const void *v, size_t vn, offer_seen_row_t *out) {
  rec_rd_t rd;
  memset(out, 0, sizeof *out);
  rec_rd_init(&rd, v, vn);
  if (rec_get_u8(&rd) != 'S') return PERR_INTERNAL;
  unsigned ver = rec_get_u8(&rd);
  if (ver == 1) { /* the exposure alone (before the slots) */
    out->exposed = true;
    seen_fields(&rd, &out->s);
  } else if (ver == 2) {
    unsigned flags = rec_get_u8(&rd);
    if (flags & ~7u) return PERR_INTERNAL;
    out->slots = true;
    out->exposed = flags & SEEN_EXPOSED;
    if (out->exposed) seen_fields(&rd, &out->s);
    for (int k = 0; k < 2; k++)
      if (flags & (SEEN_SLOT_SHOWN << k)) {
        out->cap[k].any = true;
        out->cap[k].period = rec_get_sv_inline(&rd);
        out->cap[k].count = rec_get_sv_inline(&rd);
      }
  } else {
    return PERR_INTERNAL;
  }
  return rec_rd_done(&rd) && out->s.arm >= 0 && out->s.arm < OFFERS_MAX_ARMS ? 0 : PERR_INTERNAL;
}

int offer_seen_row_load(store_txn_t *t, const char *customer, const char *offer,
                        offer_seen_row_t *out) {
  offer_key_t k;
  const void *v;
  size_t vn;
  memset(out, 0, sizeof *out);
  seen_key(&k, customer, offer);
  if (k.bad) return PERR_INVALID_PARAMS;
  int rc = store_get(t, STORE_T_OFFER_SEEN, k.b, k.n, &v, &vn);
  return rc ? rc : offer_seen_row_parse(v, vn, out);
}

int offer_seen_load(store_txn_t *t, const char *customer, const char *offer, offer_seen_t *out) {
  offer_seen_row_t r;
  int rc = offer_seen_row_load(t, customer, offer, &r);
  if (!rc && !r.exposed) rc = PERR_NOT_FOUND;
  if (rc) memset(out, 0, sizeof *out);
  else *out = r.s;
  return rc;
}

void offer_seen_prefetch(store_txn_t *t, const char *customer, offer_seen_set_t *out) {
  offer_key_t pre;
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  out->complete = 0;
  out->n = 0;
  size_t cn = strlen(customer); /* seen_key(customer, ""): the customer and its separator */
  if (cn > OFFERS_ID_MAX) return;
  memcpy(pre.b, customer, cn);
  pre.b[cn] = 0;
  pre.n = cn + 1;
  if (store_cursor_open(t, STORE_T_OFFER_SEEN, pre.b, pre.n, &c)) return;
  int rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    if (kn < pre.n || memcmp(k, pre.b, pre.n)) break; /* past the customer's rows */
    size_t on = kn - pre.n;
    if (out->n == OFFER_SEEN_PREFETCH || on > OFFERS_ID_MAX || on == 0 ||
        memchr((const char *)k + pre.n, 0, on) ||
        offer_seen_row_parse(v, vn, &out->rows[out->n].r)) {
      rc = -1; /* too many, or a row only a direct read should judge */
      break;
    }
    memcpy(out->rows[out->n].offer, (const char *)k + pre.n, on);
    out->rows[out->n].offer[on] = 0;
    out->rows[out->n].len = on;
    out->rows[out->n].head = offer_id_head((const char *)k + pre.n, on);
    out->n++;
  }
  store_cursor_close(c);
  out->complete = rc >= 0;
}

const offer_seen_row_t *offer_seen_row_in(const offer_seen_set_t *set, const char *offer,
                                          bool *known) {
  size_t n = strlen(offer);
  return offer_seen_row_find(set, offer, n, offer_id_head(offer, n), known);
}

const offer_seen_row_t *offer_seen_row_find(const offer_seen_set_t *set, const char *offer,
                                            size_t len, uint64_t head, bool *known) {
  *known = set && set->complete;
  if (!*known) return NULL;
  size_t lo = 0, hi = set->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int k = offer_id_cmp(set->rows[mid].head, set->rows[mid].offer, set->rows[mid].len, head,
                         offer, len);
    if (!k) return &set->rows[mid].r;
    if (k < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

int offer_seen_lookup(store_txn_t *t, const offer_seen_set_t *set, const char *customer,
                      const char *offer, offer_seen_t *out) {
  bool known;
  const offer_seen_row_t *r = offer_seen_row_in(set, offer, &known);
  if (!known) return offer_seen_load(t, customer, offer, out);
  if (r && r->exposed) return *out = r->s, 0;
  memset(out, 0, sizeof *out);
  return PERR_NOT_FOUND;
}

static int seen_row_store(store_txn_t *t, const char *customer, const char *offer,
                          const offer_seen_row_t *r) {
  offer_key_t k;
  rec_buf_t b;
  seen_key(&k, customer, offer);
  rec_buf_init(&b);
  rec_put_u8(&b, 'S');
  rec_put_u8(&b, 2);
  rec_put_u8(&b, (r->exposed ? SEEN_EXPOSED : 0) | (r->cap[0].any ? SEEN_SLOT_SHOWN : 0) |
                     (r->cap[1].any ? SEEN_SLOT_REDEEMED : 0));
  if (r->exposed) {
    rec_put_uv(&b, (uint64_t)r->s.arm);
    rec_put_sv(&b, r->s.first_ts);
    rec_put_sv(&b, r->s.last_ts);
    rec_put_u8(&b, r->s.converted ? 1 : 0);
    rec_put_sv(&b, r->s.revenue);
  }
  for (int i = 0; i < 2; i++)
    if (r->cap[i].any) {
      rec_put_sv(&b, r->cap[i].period);
      rec_put_sv(&b, r->cap[i].count);
    }
  return save(t, STORE_T_OFFER_SEEN, &k, &b);
}

/* The slots of a row that has none yet ('S' 1, or no row): from the customer's 'c' rows of
 * the offer, 'c' offer \0 customer \0 kind \0 be64(period), the greatest period of each kind. */
static int slots_from_caps(store_txn_t *t, const char *customer, const char *offer,
                           offer_seen_row_t *r) {
  offer_key_t pre;
  store_cursor_t *c;
  const void *k, *v;
  size_t kn, vn;
  offer_key_init(&pre, 'c');
  offer_key_str(&pre, offer);
  offer_key_sep(&pre);
  offer_key_str(&pre, customer);
  offer_key_sep(&pre);
  if (pre.bad) return PERR_INVALID_PARAMS;
  memset(r->cap, 0, sizeof r->cap);
  int rc = store_cursor_open(t, STORE_T_OFFER_COUNTS, pre.b, pre.n, &c);
  if (rc) return rc;
  while ((rc = store_cursor_next(c, &k, &kn, &v, &vn)) == 1) {
    const unsigned char *p = k;
    if (kn < pre.n || memcmp(p, pre.b, pre.n)) break;
    if (kn != pre.n + 10 || p[pre.n + 1] != 0 || (p[pre.n] != 's' && p[pre.n] != 'r'))
      continue; /* not a cap row of this customer (a longer id sharing the prefix cannot
                 * be: ids hold no NUL) */
    rec_rd_t rd;
    rec_rd_init(&rd, v, vn);
    if (rec_get_u8(&rd) != 'C' || rec_get_u8(&rd) != 1) {
      rc = PERR_INTERNAL;
      break;
    }
    int64_t count = rec_get_sv_inline(&rd);
    if (!rec_rd_done(&rd)) {
      rc = PERR_INTERNAL;
      break;
    }
    uint64_t u = offer_get_be(p + pre.n + 2, 8) ^ (1ull << 63);
    offer_cap_slot_t *s = &r->cap[p[pre.n] == 'r'];
    *s = (offer_cap_slot_t){true, (int64_t)u, count}; /* key order: the last is the greatest */
  }
  store_cursor_close(c);
  if (rc < 0) return rc;
  r->slots = true;
  return 0;
}

/* The row to rewrite: as stored, with its slots ('S' 1 or none: computed). */
static int seen_row_for_write(store_txn_t *t, const char *customer, const char *offer,
                              offer_seen_row_t *r) {
  int rc = offer_seen_row_load(t, customer, offer, r);
  if (rc && rc != PERR_NOT_FOUND) return rc;
  return r->slots ? 0 : slots_from_caps(t, customer, offer, r);
}

int offer_seen_store(store_txn_t *t, const char *customer, const char *offer,
                     const offer_seen_t *s) {
  offer_seen_row_t r;
  int rc = seen_row_for_write(t, customer, offer, &r);
  if (rc) return rc;
  r.exposed = true;
  r.s = *s;
  return seen_row_store(t, customer, offer, &r);
}

int offer_budget_load(store_txn_t *t, const char *offer, int64_t *redemptions, int64_t *money) {
  offer_key_t k;
  rec_rd_t rd;
  int found;
  *redemptions = *money = 0;
  offer_key_init(&k, 'b');
  offer_key_str(&k, offer);
  int rc = load(t, STORE_T_OFFER_COUNTS, &k, 'B', &rd, &found);
  if (rc || !found) return rc;
  *redemptions = rec_get_sv_inline(&rd);
  *money = rec_get_sv_inline(&rd);
  return rec_rd_done(&rd) ? 0 : PERR_INTERNAL;
}

int offer_budget_store(store_txn_t *t, const char *offer, int64_t redemptions, int64_t money) {
  offer_key_t k;
  rec_buf_t b;
  offer_key_init(&k, 'b');
  offer_key_str(&k, offer);
  rec_buf_init(&b);
  rec_put_u8(&b, 'B');
  rec_put_u8(&b, 1);
  rec_put_sv(&b, redemptions);
  rec_put_sv(&b, money);
  int rc = save(t, STORE_T_OFFER_COUNTS, &k, &b);
  return rc ? rc : offer_counters_stamp(t);
}

static void cap_key(offer_key_t *k, const offer_t *o, const char *customer, char kind, int64_t ts) {
  offer_key_init(k, 'c');
  offer_key_str(k, o->id);
  offer_key_sep(k);
  offer_key_str(k, customer);
  offer_key_sep(k);
  offer_key_u8(k, (unsigned char)kind);
  offer_key_sep(k);
  offer_key_be64(k, offer_period_index(o->cap_period, ts));
}

/* The count of the cap row whose key k holds (kind and period already in place). */
static int cap_read(store_txn_t *t, const offer_key_t *k, int64_t *count) {
  rec_rd_t rd;
  int found;
  *count = 0;
  int rc = load(t, STORE_T_OFFER_COUNTS, k, 'C', &rd, &found);
  if (rc || !found) return rc;
  *count = rec_get_sv_inline(&rd);
  return rec_rd_done(&rd) ? 0 : PERR_INTERNAL;
}

int offer_cap_load(store_txn_t *t, const offer_t *o, const char *customer, char kind, int64_t ts,
                   int64_t *count) {
  offer_key_t k;
  cap_key(&k, o, customer, kind, ts);
  return cap_read(t, &k, count);
}

/* The count of a period from a slot: 1 when the slot says (the period is the slot's, or
 * after it: no 'c' row of it exists), 0 when the 'c' row must be read. */
static int slot_count(const offer_cap_slot_t *s, int64_t period, int64_t *count) {
  if (!s->any || period > s->period) return *count = 0, 1;
  if (period == s->period) return *count = s->count, 1;
  return 0;
}

int offer_caps_load(store_txn_t *t, const offer_t *o, const char *customer, int64_t ts,
                    bool known, const offer_seen_row_t *row, int64_t *shown, int64_t *redeemed) {
  offer_key_t k;
  *shown = *redeemed = 0;
  if (!o->cap_shown && !o->cap_redeemed) return 0;
  int64_t period = offer_period_index(o->cap_period, ts);
  bool slots = known && row && row->slots;
  bool need_shown = o->cap_shown && known && row && !(slots && slot_count(&row->cap[0], period, shown));
  bool need_redeemed = o->cap_redeemed && !(slots && slot_count(&row->cap[1], period, redeemed));
  need_shown |= o->cap_shown && !known;
  if (!need_shown && !need_redeemed) return 0;
  cap_key(&k, o, customer, 's', ts); /* the 'r' key differs only in the kind byte */
  if (k.bad) return PERR_INVALID_PARAMS;
  size_t kind_at = k.n - 10; /* kind \0 be64(period) end the key */
  int rc = need_shown ? cap_read(t, &k, shown) : 0;
  if (rc || !need_redeemed) return rc;
  k.b[kind_at] = 'r';
  return cap_read(t, &k, redeemed);
}

int offer_cap_store(store_txn_t *t, const offer_t *o, const char *customer, char kind,
                    int64_t ts, int64_t count) {
  offer_key_t k;
  rec_buf_t b;
  offer_seen_row_t r;
  cap_key(&k, o, customer, kind, ts);
  rec_buf_init(&b);
  rec_put_u8(&b, 'C');
  rec_put_u8(&b, 1);
  rec_put_sv(&b, count);
  int rc = save(t, STORE_T_OFFER_COUNTS, &k, &b);
  if (rc || (rc = seen_row_for_write(t, customer, o->id, &r))) return rc; /* computed after
                                                       * the put: a new row sees its count */
  offer_cap_slot_t *s = &r.cap[kind == 'r'];
  int64_t period = offer_period_index(o->cap_period, ts);
  if (!s->any || period >= s->period) *s = (offer_cap_slot_t){true, period, count};
  return seen_row_store(t, customer, o->id, &r);
}
