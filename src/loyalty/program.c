/* program.c -- the loyalty program: defaults, validation ({code, message, field} errors),
 * the versioned binary form stored in META "loyalty_program", program_set/get.
 * Record: 'P' 1 | uv version | u8 active | u8 basis | raw3 tier_currency | u8 window |
 * uv window_months | u8 downgrade | uv grace_days | uv pending_days | u8 expiry |
 * uv expiry_months | sv redeem_min | uv ntiers { str name | sv entry | sv retention |
 * sv mult | sv discount | u8 free_shipping | sv bonus | uv nlabels { str } } |
 * uv nearn { raw3 | sv points | sv per_minor } | uv nredeem { same } |
 * uv nmults { u8 is_category | str id | sv mult }.
 * Invariant: only a program that passed loyalty_program_validate is ever stored. */
#include <stdlib.h>
#include <string.h>

#include "loyalty/loyalty_internal.h"

void loyalty_program_default(loy_program_t *p) {
  memset(p, 0, sizeof *p);
  p->active = 1;
  p->basis = LOY_BASIS_POINTS;
  p->window = LOY_WINDOW_LIFETIME;
  p->downgrade = LOY_DOWN_NEVER;
  p->expiry = LOY_EXPIRY_NONE;
}

static int bad(perr_info_t *e, const char *field, const char *msg) {
  return perr_set(e, PERR_INVALID_PARAMS, field, "%s", msg);
}

static int check_name(const char *s, const char *field, perr_info_t *e) {
  size_t n = strnlen(s, LOY_NAME_MAX + 1);
  if (n == 0) return bad(e, field, "name is required");
  if (n > LOY_NAME_MAX) return bad(e, field, "name longer than 32 bytes");
  return 0;
}

static int check_rates(const loy_rate_t *r, size_t n, const char *field, perr_info_t *e) {
  if (n > LOY_MAX_RATES) return bad(e, field, "too many currencies (max 8)");
  for (size_t i = 0; i < n; i++) {
    if (!core_currency_static(core_pstr(r[i].currency, strnlen(r[i].currency, 4))))
      return bad(e, field, "unknown currency code");
    for (size_t j = 0; j < i; j++)
      if (memcmp(r[j].currency, r[i].currency, 3) == 0) return bad(e, field, "currency twice");
    if (r[i].points < 1 || r[i].points > 1000) return bad(e, field, "points must be 1..1000");
    if (r[i].per_minor < 1 || r[i].per_minor > 1000000000)
      return bad(e, field, "per_minor must be 1..1e9");
  }
  return 0;
}

int loyalty_program_validate(const loy_program_t *p, perr_info_t *e) {
  const int64_t max_mult = 100 * LOY_BP;
  if (p->ntiers > LOY_MAX_TIERS) return bad(e, "tiers", "too many tiers (max 8)");
  for (size_t i = 0; i < p->ntiers; i++) {
    const loy_tier_t *t = &p->tiers[i];
    int rc;
    if ((rc = check_name(t->name, "tiers.name", e))) return rc;
    for (size_t j = 0; j < i; j++)
      if (strcmp(p->tiers[j].name, t->name) == 0) return bad(e, "tiers.name", "tier name twice");
    if (t->entry_threshold < 0 || t->entry_threshold > INT64_MAX / 4)
      return bad(e, "tiers.entry_threshold", "threshold out of range");
    if (i > 0 && t->entry_threshold <= p->tiers[i - 1].entry_threshold)
      return bad(e, "tiers.entry_threshold", "thresholds must increase along the tiers");
    if (t->retention_threshold < -1 || t->retention_threshold > t->entry_threshold)
      return bad(e, "tiers.retention_threshold", "retention must be -1 or 0..entry_threshold");
    if (t->earn_mult_bp < 1 || t->earn_mult_bp > max_mult)
      return bad(e, "tiers.earn_mult_bp", "earn multiplier must be 1..1000000 bp");
    if (t->discount_pct < 0 || t->discount_pct > 100)
      return bad(e, "tiers.discount_pct", "discount must be 0..100");
    if (t->entry_bonus < 0 || t->entry_bonus > 1000000000)
      return bad(e, "tiers.entry_bonus", "entry bonus must be 0..1e9");
    if (t->nlabels > LOY_MAX_LABELS) return bad(e, "tiers.labels", "too many labels (max 4)");
    for (size_t k = 0; k < t->nlabels; k++)
      if ((rc = check_name(t->labels[k], "tiers.labels", e))) return rc;
  }
  if (p->basis > LOY_BASIS_ORDERS) return bad(e, "basis", "unknown basis");
  if (p->basis == LOY_BASIS_SPEND &&
      !core_currency_static(core_pstr(p->tier_currency, strnlen(p->tier_currency, 4))))
    return bad(e, "tier_currency", "net spend basis needs a currency code");
  if (p->window > LOY_WINDOW_ROLLING) return bad(e, "window", "unknown window");
  if (p->window == LOY_WINDOW_ROLLING &&
      (p->window_months < 1 || p->window_months > LOY_MAX_ROLLING))
    return bad(e, "window_months", "rolling window must be 1..24 months");
  if (p->downgrade > LOY_DOWN_ONE_TIER) return bad(e, "downgrade", "unknown downgrade policy");
  if (p->grace_days < 0 || p->grace_days > 365) return bad(e, "grace_days", "grace must be 0..365");
  if (p->pending_days < 0 || p->pending_days > 365)
    return bad(e, "pending_days", "pending must be 0..365 days");
  if (p->expiry > LOY_EXPIRY_INACTIVITY) return bad(e, "expiry", "unknown expiry rule");
  if (p->expiry != LOY_EXPIRY_NONE && (p->expiry_months < 1 || p->expiry_months > 120))
    return bad(e, "expiry_months", "expiry must be 1..120 months");
  int rc;
  if ((rc = check_rates(p->earn, p->nearn, "earn", e))) return rc;
  if ((rc = check_rates(p->redeem, p->nredeem, "redeem", e))) return rc;
  if (p->redeem_min_points < 0) return bad(e, "redeem_min_points", "minimum must be >= 0");
  if (p->nmults > LOY_MAX_MULTS) return bad(e, "multipliers", "too many multipliers (max 64)");
  for (size_t i = 0; i < p->nmults; i++) {
    const loy_mult_t *m = &p->mults[i];
    size_t n = strnlen(m->id, CORE_ID_MAX + 1);
    if ((rc = core_check_id(core_pstr(m->id, n), "multipliers.id", e))) return rc;
    if (m->mult_bp < 0 || m->mult_bp > max_mult)
      return bad(e, "multipliers.mult_bp", "multiplier must be 0..1000000 bp");
    for (size_t j = 0; j < i; j++)
      if (p->mults[j].is_category == m->is_category && strcmp(p->mults[j].id, m->id) == 0)
        return bad(e, "multipliers.id", "multiplier given twice");
  }
  return 0;
}

static void put_rates(rec_buf_t *b, const loy_rate_t *r, size_t n) {
  rec_put_uv(b, n);
  for (size_t i = 0; i < n; i++) {
    rec_put_raw(b, r[i].currency, 3);
    rec_put_sv(b, r[i].points);
    rec_put_sv(b, r[i].per_minor);
  }
}

static void program_encode(rec_buf_t *b, const loy_program_t *p) {
  rec_put_u8(b, 'P');
  rec_put_u8(b, 1);
  rec_put_uv(b, p->version);
  rec_put_u8(b, p->active ? 1 : 0);
  rec_put_u8(b, p->basis);
  rec_put_raw(b, p->basis == LOY_BASIS_SPEND ? p->tier_currency : "\0\0\0", 3);
  rec_put_u8(b, p->window);
  rec_put_uv(b, (uint64_t)p->window_months);
  rec_put_u8(b, p->downgrade);
  rec_put_uv(b, (uint64_t)p->grace_days);
  rec_put_uv(b, (uint64_t)p->pending_days);
  rec_put_u8(b, p->expiry);
  rec_put_uv(b, (uint64_t)p->expiry_months);
  rec_put_sv(b, p->redeem_min_points);
  rec_put_uv(b, p->ntiers);
  for (size_t i = 0; i < p->ntiers; i++) {
    const loy_tier_t *t = &p->tiers[i];
    rec_put_str(b, loy_cstr(t->name));
    rec_put_sv(b, t->entry_threshold);
    rec_put_sv(b, t->retention_threshold);
    rec_put_sv(b, t->earn_mult_bp);
    rec_put_sv(b, t->discount_pct);
    rec_put_u8(b, t->free_shipping ? 1 : 0);
    rec_put_sv(b, t->entry_bonus);
    rec_put_uv(b, t->nlabels);
    for (size_t k = 0; k < t->nlabels; k++) rec_put_str(b, loy_cstr(t->labels[k]));
  }
  put_rates(b, p->earn, p->nearn);
  put_rates(b, p->redeem, p->nredeem);
  rec_put_uv(b, p->nmults);
  for (size_t i = 0; i < p->nmults; i++) {
    rec_put_u8(b, p->mults[i].is_category ? 1 : 0);
    rec_put_str(b, loy_cstr(p->mults[i].id));
    rec_put_sv(b, p->mults[i].mult_bp);
  }
}

static size_t get_rates(rec_rd_t *r, loy_rate_t *out) {
  size_t n = rec_get_count(r, LOY_MAX_RATES);
  for (size_t i = 0; i < n && !r->bad; i++) {
    for (int k = 0; k < 3; k++) out[i].currency[k] = (char)rec_get_u8(r);
    out[i].currency[3] = 0;
    out[i].points = rec_get_sv(r);
    out[i].per_minor = rec_get_sv(r);
  }
  return n;
}

static int program_decode(const void *v, size_t n, loy_program_t *p) {
  rec_rd_t r;
  rec_rd_init(&r, v, n);
  memset(p, 0, sizeof *p);
  if (rec_get_u8(&r) != 'P' || rec_get_u8(&r) != 1) return -1;
  p->version = (uint32_t)rec_get_uv(&r);
  p->active = rec_get_u8(&r);
  p->basis = (loy_basis_t)rec_get_u8(&r);
  for (int k = 0; k < 3; k++) p->tier_currency[k] = (char)rec_get_u8(&r);
  p->window = (loy_window_t)rec_get_u8(&r);
  p->window_months = (int)rec_get_uv(&r);
  p->downgrade = (loy_downgrade_t)rec_get_u8(&r);
  p->grace_days = (int)rec_get_uv(&r);
  p->pending_days = (int)rec_get_uv(&r);
  p->expiry = (loy_expiry_t)rec_get_u8(&r);
  p->expiry_months = (int)rec_get_uv(&r);
  p->redeem_min_points = rec_get_sv(&r);
  p->ntiers = rec_get_count(&r, LOY_MAX_TIERS);
  for (size_t i = 0; i < p->ntiers && !r.bad; i++) {
    loy_tier_t *t = &p->tiers[i];
    loy_get_cstr(&r, t->name, LOY_NAME_MAX);
    t->entry_threshold = rec_get_sv(&r);
    t->retention_threshold = rec_get_sv(&r);
    t->earn_mult_bp = rec_get_sv(&r);
    t->discount_pct = rec_get_sv(&r);
    t->free_shipping = rec_get_u8(&r);
    t->entry_bonus = rec_get_sv(&r);
    t->nlabels = rec_get_count(&r, LOY_MAX_LABELS);
    for (size_t k = 0; k < t->nlabels && !r.bad; k++) loy_get_cstr(&r, t->labels[k], LOY_NAME_MAX);
  }
  p->nearn = get_rates(&r, p->earn);
  p->nredeem = get_rates(&r, p->redeem);
  p->nmults = rec_get_count(&r, LOY_MAX_MULTS);
  for (size_t i = 0; i < p->nmults && !r.bad; i++) {
    p->mults[i].is_category = rec_get_u8(&r);
    loy_get_cstr(&r, p->mults[i].id, CORE_ID_MAX);
    p->mults[i].mult_bp = rec_get_sv(&r);
  }
  return rec_rd_done(&r) ? 0 : -1;
}

int loy_program_load(store_txn_t *t, loy_program_t *p, perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = store_get(t, STORE_T_META, LOY_PROGRAM_KEY, strlen(LOY_PROGRAM_KEY), &v, &vn);
  if (rc == PERR_NOT_FOUND) return rc;
  if (rc) return core_store_err(t, rc, e);
  if (program_decode(v, vn, p)) return core_corrupt("loyalty program", e);
  return 0;
}

/* The memo: the bytes of the record last decoded (state NONE_STORED: the last read found no
 * record; UNSET: nothing read yet) and what they decode to; member: a scratch member whose
 * vectors keep their capacity from one read to the next (loy_program_memo_member). */
enum { MEMO_UNSET = 0, MEMO_STORED = 1, MEMO_NONE_STORED = 2 };
struct loy_program_memo_s {
  int state;
  unsigned char *raw;
  size_t rawn, rawcap;
  loy_program_t p;
  uint64_t snap;   /* the store snapshot state was last read under (0: none known) */
  loy_member_t member;
};

loy_program_memo_t *loyalty_program_memo_new(void) { return calloc(1, sizeof(loy_program_memo_t)); }

void loyalty_program_memo_free(loy_program_memo_t *pm) {
  if (!pm) return;
  free(pm->raw);
  loy_member_free(&pm->member);
  free(pm);
}

int loy_program_memo_get(store_txn_t *t, loy_program_memo_t *pm, const loy_program_t **p,
                         int *stored, perr_info_t *e) {
  const void *v;
  size_t vn;
  uint64_t snap = store_txn_snapshot_id(t);
  *p = &pm->p;
  if (snap && snap == pm->snap && pm->state != MEMO_UNSET) { /* nothing committed since */
    *stored = pm->state == MEMO_STORED;
    return 0;
  }
  pm->snap = 0; /* until this read is done */
  int rc = store_get(t, STORE_T_META, LOY_PROGRAM_KEY, strlen(LOY_PROGRAM_KEY), &v, &vn);
  if (rc && rc != PERR_NOT_FOUND) return core_store_err(t, rc, e);
  *stored = rc == 0;
  if (rc == PERR_NOT_FOUND) {
    if (pm->state != MEMO_NONE_STORED) {
      loyalty_program_default(&pm->p);
      pm->p.active = 0;
      pm->state = MEMO_NONE_STORED;
    }
    pm->snap = snap;
    return 0;
  }
  if (pm->state == MEMO_STORED && vn == pm->rawn && memcmp(v, pm->raw, vn) == 0) {
    pm->snap = snap;
    return 0;
  }
  pm->state = MEMO_UNSET; /* until the new bytes are decoded and kept */
  if (vn > pm->rawcap) {
    unsigned char *grown = realloc(pm->raw, vn);
    if (!grown) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
    pm->raw = grown;
    pm->rawcap = vn;
  }
  if (program_decode(v, vn, &pm->p)) return core_corrupt("loyalty program", e);
  memcpy(pm->raw, v, vn);
  pm->rawn = vn;
  pm->state = MEMO_STORED;
  pm->snap = snap;
  return 0;
}

loy_member_t *loy_program_memo_member(loy_program_memo_t *pm) { return &pm->member; }

int loyalty_program_find(store_txn_t *t, loy_program_t *out, perr_info_t *e) {
  return loy_program_load(t, out, e);
}

int loyalty_program_get(store_txn_t *t, loy_program_t *out, perr_info_t *e) {
  int rc = loy_program_load(t, out, e);
  if (rc == PERR_NOT_FOUND) return perr_set(e, rc, NULL, "no loyalty program set");
  return rc;
}

int loyalty_program_set(store_txn_t *w, const loy_program_t *p, uint32_t *version, perr_info_t *e) {
  int rc = loyalty_program_validate(p, e);
  if (rc) return rc;
  loy_program_t *copy = malloc(sizeof *copy); /* large: not on the stack */
  if (!copy) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  uint32_t prev = 0;
  rc = loy_program_load(w, copy, e);
  if (rc == 0)
    prev = copy->version;
  else if (rc != PERR_NOT_FOUND) {
    free(copy);
    return rc;
  }
  *copy = *p;
  copy->version = prev + 1;
  rec_buf_t b;
  rec_buf_init(&b);
  program_encode(&b, copy);
  free(copy);
  if (b.oom) {
    rec_buf_free(&b);
    return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  }
  rc = store_put(w, STORE_T_META, LOY_PROGRAM_KEY, strlen(LOY_PROGRAM_KEY), b.p, b.n);
  rec_buf_free(&b);
  if (rc) return core_store_err(w, rc, e);
  if (version) *version = prev + 1;
  return 0;
}

int loyalty_program_source_get(store_txn_t *t, char out[65], perr_info_t *e) {
  const void *v;
  size_t vn;
  out[0] = 0;
  int rc = store_get(t, STORE_T_META, LOY_PROGRAM_SOURCE_KEY, strlen(LOY_PROGRAM_SOURCE_KEY), &v,
                     &vn);
  if (rc == PERR_NOT_FOUND) return 0;
  if (rc) return core_store_err(t, rc, e);
  if (vn != 64) return core_corrupt("loyalty program source hash", e);
  memcpy(out, v, 64);
  out[64] = 0;
  return 0;
}

int loyalty_program_source_set(store_txn_t *w, const char *sha256_hex, perr_info_t *e) {
  if (strlen(sha256_hex) != 64)
    return perr_set(e, PERR_INTERNAL, NULL, "a SHA-256 is 64 hex digits");
  int rc = store_put(w, STORE_T_META, LOY_PROGRAM_SOURCE_KEY, strlen(LOY_PROGRAM_SOURCE_KEY),
                     sha256_hex, 64);
  return rc ? core_store_err(w, rc, e) : 0;
}

int loy_tier_index_n(const loy_program_t *p, const char *name, size_t n) {
  if (!n || n > LOY_NAME_MAX) return -1;
  for (size_t i = 0; i < p->ntiers; i++) /* a tier's name is NUL-terminated in its array */
    if (!p->tiers[i].name[n] && !memcmp(p->tiers[i].name, name, n)) return (int)i;
  return -1;
}

int loy_tier_index(const loy_program_t *p, const char *name) {
  return loy_tier_index_n(p, name, strlen(name));
}

int64_t loy_keep_threshold(const loy_tier_t *t) {
  return t->retention_threshold >= 0 ? t->retention_threshold : t->entry_threshold;
}
