/* codec_loyalty.c -- decoders/encoders of the loyalty methods (loyalty.*, debug.clock); wire
 * types in loyalty_types.h, core types in loyalty/loyalty.h, semantics in PROTOCOL.md and
 * docs/LOYALTY.md. Decoders check types, bounds and enum words and name the field by path
 * ("tiers[1].name"); the core validates the rules that need the whole program or the
 * stored state. Invariant: params strings borrow from the request (zero copy); the program
 * is converted into the core's loy_program_t here, so the handler only calls the core. */
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "params.h"
#include "rpc.h"

#define POINTS_MAX 1000000000000LL  /* 10^12 points in one call */
#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */
#define QTY_MAX 1000000000LL
#define OFFSET_MAX 3153600000LL      /* 100 years of test clock */

/* ---- enum words: a string field naming one of an enum's values (index = value) ---- */

static int enum_word(const pmap_t *m, const pfield_t *f, void *out, const char *const *words,
                     perr_info_t *e) {
  pstr_t s;
  int present;
  int *dst = (int *)((char *)out + f->off);
  int rc = pmap_str(m, f->name, f->required, 1, 32, &s, &present, e);
  if (rc) return rc;
  *dst = (int)f->def;
  if (!present) return 0;
  for (int i = 0; words[i]; i++)
    if (strlen(words[i]) == s.n && !memcmp(words[i], s.p, s.n)) {
      *dst = i;
      return 0;
    }
  char buf[96], list[128] = "";
  for (int i = 0; words[i]; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
  pmap_field(m, f->name, buf, sizeof buf);
  return perr_set(e, PERR_INVALID_PARAMS, buf, "%s must be one of %s", buf, list);
}
#define ENUM_FIELD(fn, ...)                                                            \
  static const char *const fn##_words[] = {__VA_ARGS__, NULL};                         \
  static int fn(const pmap_t *m, const pfield_t *f, void *out, arena_t *a, perr_info_t *e) { \
    (void)a;                                                                           \
    return enum_word(m, f, out, fn##_words, e);                                        \
  }
ENUM_FIELD(basis_word, "points", "spend", "orders")
ENUM_FIELD(window_word, "lifetime", "calendar_year", "rolling")
ENUM_FIELD(downgrade_word, "never", "period_end", "one_tier")
ENUM_FIELD(expiry_word, "none", "entry", "inactivity")
ENUM_FIELD(award_word, "signup", "birthday", "review", "custom")
#define P_ENUM(T, k, fld, req, fn, ...) \
  {PF_NAME(k), .type = PF_CUSTOM, .required = req, .off = PF_OFF(T, fld, int), .check = fn, \
   __VA_ARGS__}

/* ---- loyalty.program.set ---- */

static const pfield_t tier_fields[] = {
    P_STR(loy_wire_tier_t, "name", name, 1, 1, LOY_NAME_MAX),
    P_INT(loy_wire_tier_t, "entry_threshold", entry_threshold, 1, 0, MONEY_MAX),
    P_INT(loy_wire_tier_t, "retention_threshold", retention_threshold, 0, -1, MONEY_MAX, .def = -1),
    P_INT(loy_wire_tier_t, "earn_mult_bp", earn_mult_bp, 0, 1, 100 * LOY_BP, .def = LOY_BP),
    P_INT(loy_wire_tier_t, "discount_pct", discount_pct, 0, 0, 100),
    P_BOOL(loy_wire_tier_t, "free_shipping", free_shipping),
    P_INT(loy_wire_tier_t, "entry_bonus", entry_bonus, 0, 0, POINTS_MAX),
    P_STRS(loy_wire_tier_t, "labels", labels, nlabels, 0, LOY_MAX_LABELS, LOY_NAME_MAX),
};
static const pspec_t tier_spec = PSPEC(tier_fields);
static const pfield_t rate_fields[] = {
    P_STR(loy_wire_rate_t, "currency", currency, 1, 3, 3),
    P_INT(loy_wire_rate_t, "points", points, 1, 1, 1000),
    P_INT(loy_wire_rate_t, "per_minor", per_minor, 1, 1, 1000000000),
};
static const pspec_t rate_spec = PSPEC(rate_fields);
static int one_target(const pmap_t *m, const pfield_t *f, void *out, arena_t *a, perr_info_t *e) {
  const loy_wire_mult_t *x = out;
  char buf[96];
  (void)f; (void)a;
  if (!x->category.p == !x->product_id.p)
    return perr_set(e, PERR_INVALID_PARAMS, pmap_field(m, "category", buf, sizeof buf),
                    "give exactly one of category or product_id");
  return 0;
}
static const pfield_t mult_fields[] = {
    P_STR(loy_wire_mult_t, "category", category, 0, 1, CORE_ID_MAX),
    P_STR(loy_wire_mult_t, "product_id", product_id, 0, 1, CORE_ID_MAX),
    P_INT(loy_wire_mult_t, "mult_bp", mult_bp, 1, 0, 100 * LOY_BP, .check = one_target),
};
static const pspec_t mult_spec = PSPEC(mult_fields);

static const pfield_t loyalty_program_set_fields[] = {
    P_BOOL(loy_program_params_t, "active", active, .def = 1),
    P_MAPS(loy_program_params_t, "tiers", tiers, ntiers, loy_wire_tier_t, 0, 0, LOY_MAX_TIERS,
           &tier_spec),
    P_ENUM(loy_program_params_t, "basis", basis, 0, basis_word),
    P_STR(loy_program_params_t, "tier_currency", tier_currency, 0, 3, 3),
    P_ENUM(loy_program_params_t, "window", window, 0, window_word),
    P_INT(loy_program_params_t, "window_months", window_months, 0, 0, LOY_MAX_ROLLING),
    P_ENUM(loy_program_params_t, "downgrade", downgrade, 0, downgrade_word),
    P_INT(loy_program_params_t, "grace_days", grace_days, 0, 0, 365),
    P_MAPS(loy_program_params_t, "earn", earn, nearn, loy_wire_rate_t, 0, 0, LOY_MAX_RATES,
           &rate_spec),
    P_MAPS(loy_program_params_t, "multipliers", mults, nmults, loy_wire_mult_t, 0, 0,
           LOY_MAX_MULTS, &mult_spec),
    P_INT(loy_program_params_t, "pending_days", pending_days, 0, 0, 365),
    P_ENUM(loy_program_params_t, "expiry", expiry, 0, expiry_word),
    P_INT(loy_program_params_t, "expiry_months", expiry_months, 0, 0, 120),
    P_MAPS(loy_program_params_t, "redeem", redeem, nredeem, loy_wire_rate_t, 0, 0, LOY_MAX_RATES,
           &rate_spec),
    P_INT(loy_program_params_t, "redeem_min_points", redeem_min_points, 0, 0, POINTS_MAX),
};
static const pspec_t loyalty_program_set_spec = PSPEC(loyalty_program_set_fields);

static void copy_name(char *dst, pstr_t s) { /* s.n <= LOY_NAME_MAX (decoder bounds) */
  memcpy(dst, s.p, s.n);
  dst[s.n] = 0;
}
static void copy_rates(loy_rate_t *dst, const loy_wire_rate_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    memcpy(dst[i].currency, src[i].currency.p, 3);
    dst[i].currency[3] = 0;
    dst[i].points = src[i].points;
    dst[i].per_minor = src[i].per_minor;
  }
}

int dec_loyalty_program_set(const msgpack_object *params, arena_t *a, void *out,
                            perr_info_t *e) {
  loy_program_params_t *w = out;
  int rc = params_decode(params, &loyalty_program_set_spec, w, a, e);
  if (rc) return rc;
  loy_program_t *p = &w->program;
  loyalty_program_default(p);
  p->active = w->active;
  p->ntiers = w->ntiers;
  for (size_t i = 0; i < w->ntiers; i++) {
    const loy_wire_tier_t *t = &w->tiers[i];
    loy_tier_t *d = &p->tiers[i];
    copy_name(d->name, t->name);
    d->entry_threshold = t->entry_threshold;
    d->retention_threshold = t->retention_threshold;
    d->earn_mult_bp = t->earn_mult_bp;
    d->discount_pct = t->discount_pct;
    d->free_shipping = t->free_shipping;
    d->entry_bonus = t->entry_bonus;
    d->nlabels = t->nlabels;
    for (size_t k = 0; k < t->nlabels; k++) copy_name(d->labels[k], t->labels[k]);
  }
  p->basis = (loy_basis_t)w->basis;
  if (w->tier_currency.p) {
    memcpy(p->tier_currency, w->tier_currency.p, 3);
    p->tier_currency[3] = 0;
  }
  p->window = (loy_window_t)w->window;
  p->window_months = (int)w->window_months;
  p->downgrade = (loy_downgrade_t)w->downgrade;
  p->grace_days = (int)w->grace_days;
  p->nearn = w->nearn;
  copy_rates(p->earn, w->earn, w->nearn);
  p->nmults = w->nmults;
  for (size_t i = 0; i < w->nmults; i++) {
    loy_mult_t *d = &p->mults[i];
    pstr_t id = w->mults[i].category.p ? w->mults[i].category : w->mults[i].product_id;
    d->is_category = w->mults[i].category.p != NULL;
    memcpy(d->id, id.p, id.n);
    d->id[id.n] = 0;
    d->mult_bp = w->mults[i].mult_bp;
  }
  p->pending_days = (int)w->pending_days;
  p->expiry = (loy_expiry_t)w->expiry;
  p->expiry_months = (int)w->expiry_months;
  p->nredeem = w->nredeem;
  copy_rates(p->redeem, w->redeem, w->nredeem);
  p->redeem_min_points = w->redeem_min_points;
  return loyalty_program_validate(p, e);
}

/* ---- the other params ---- */

static const pspec_t no_fields = {NULL, 0};
int dec_loyalty_program_get(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}
int dec_loyalty_check(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}

static const pfield_t loyalty_tier_fields[] = {
    P_STR(id_params_t, "customer_id", id, 1, 1, CORE_ID_MAX)};
static const pspec_t loyalty_tier_spec = PSPEC(loyalty_tier_fields);

static const pfield_t loyalty_points_fields[] = {
    P_STR(loy_points_params_t, "customer_id", id, 1, 1, CORE_ID_MAX),
    P_INT(loy_points_params_t, "before_seq", before_seq, 0, 0, INT64_MAX),
    P_INT(loy_points_params_t, "limit", limit, 0, 0, 200, .def = 20),
    P_INT(loy_points_params_t, "horizon_days", horizon_days, 0, 0, 3650, .def = 30),
};
static const pspec_t loyalty_points_spec = PSPEC(loyalty_points_fields);

static const pfield_t preview_line_fields[] = {
    P_STR(loy_line_wire_t, "product_id", product_id, 1, 1, CORE_ID_MAX),
    P_INT(loy_line_wire_t, "quantity", quantity, 1, 1, QTY_MAX),
    P_INT(loy_line_wire_t, "unit_price", unit_price, 1, 0, MONEY_MAX),
    P_STR(loy_line_wire_t, "category", category, 0, 1, CORE_ID_MAX),
};
static const pspec_t preview_line_spec = PSPEC(preview_line_fields);
static const pfield_t loyalty_preview_fields[] = {
    P_STR(loy_preview_params_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_STR(loy_preview_params_t, "currency", currency, 1, 3, 3),
    P_MAPS(loy_preview_params_t, "lines", lines, nlines, loy_line_wire_t, 1, 1, CORE_MAX_LINES,
           &preview_line_spec),
    P_INT(loy_preview_params_t, "discount", discount, 0, 0, MONEY_MAX),
};
static const pspec_t loyalty_preview_spec = PSPEC(loyalty_preview_fields);

static const pfield_t loyalty_award_fields[] = {
    P_STR(loy_award_params_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_INT(loy_award_params_t, "points", points, 1, 1, POINTS_MAX),
    P_ENUM(loy_award_params_t, "kind", kind, 1, award_word),
    P_STR(loy_award_params_t, "key", key, 1, 1, CORE_ID_MAX),
};
static const pspec_t loyalty_award_spec = PSPEC(loyalty_award_fields);

static const pfield_t loyalty_adjust_fields[] = {
    P_STR(loy_adjust_params_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_INT(loy_adjust_params_t, "delta", delta, 1, -POINTS_MAX, POINTS_MAX),
    P_STR(loy_adjust_params_t, "reason", reason, 1, 1, 256),
    P_STR(loy_adjust_params_t, "key", key, 1, 1, CORE_ID_MAX),
};
static const pspec_t loyalty_adjust_spec = PSPEC(loyalty_adjust_fields);

static const pfield_t loyalty_redeem_fields[] = {
    P_STR(loy_redeem_params_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_INT(loy_redeem_params_t, "points", points, 1, 1, POINTS_MAX),
    P_STR(loy_redeem_params_t, "redemption_id", redemption_id, 1, 1, CORE_ID_MAX),
    P_STR(loy_redeem_params_t, "currency", currency, 1, 3, 3),
    P_STR(loy_redeem_params_t, "cart_ref", cart_ref, 0, 0, CORE_ID_MAX),
};
static const pspec_t loyalty_redeem_spec = PSPEC(loyalty_redeem_fields);

static const pfield_t loyalty_redeem_cancel_fields[] = {
    P_STR(loy_cancel_params_t, "redemption_id", redemption_id, 1, 1, CORE_ID_MAX)};
static const pspec_t loyalty_redeem_cancel_spec = PSPEC(loyalty_redeem_cancel_fields);

static const pfield_t loyalty_members_fields[] = {
    P_STR(loy_members_params_t, "tier", tier, 0, 0, LOY_NAME_MAX),
    P_STR(loy_members_params_t, "after", after, 0, 0, CORE_ID_MAX),
    P_INT(loy_members_params_t, "limit", limit, 0, 1, 10000, .def = 100),
};
static const pspec_t loyalty_members_spec = PSPEC(loyalty_members_fields);

static const pfield_t pass_fields[] = {
    P_STR(loy_pass_params_t, "after", after, 0, 0, CORE_ID_MAX),
    P_INT(loy_pass_params_t, "limit", limit, 0, 0, 10000000),
};
static const pspec_t loyalty_expire_spec = PSPEC(pass_fields);
static const pspec_t loyalty_reevaluate_spec = PSPEC(pass_fields);

static const pfield_t debug_clock_fields[] = {
    P_INT(debug_clock_params_t, "offset_s", offset_s, 0, -OFFSET_MAX, OFFSET_MAX,
          .present = PF_PRESENT(debug_clock_params_t, has_offset)),
    P_INT(debug_clock_params_t, "advance_s", advance_s, 0, -OFFSET_MAX, OFFSET_MAX),
};
static const pspec_t debug_clock_spec = PSPEC(debug_clock_fields);

static const pfield_t loyalty_expiring_fields[] = {
    P_INT(loy_expiring_params_t, "from", from, 0, 0, INT64_MAX / 2),
    P_INT(loy_expiring_params_t, "to", to, 0, 0, INT64_MAX / 2),
    P_INT(loy_expiring_params_t, "limit", limit, 0, 1, 100000, .def = 10000),
};
static const pspec_t loyalty_expiring_spec = PSPEC(loyalty_expiring_fields);

PARAMS_DECODER(loyalty_expiring)
PARAMS_DECODER(loyalty_tier)
PARAMS_DECODER(loyalty_points)
PARAMS_DECODER(loyalty_preview)
PARAMS_DECODER(loyalty_award)
PARAMS_DECODER(loyalty_adjust)
PARAMS_DECODER(loyalty_redeem)
PARAMS_DECODER(loyalty_redeem_cancel)
PARAMS_DECODER(loyalty_members)
PARAMS_DECODER(loyalty_expire)
PARAMS_DECODER(loyalty_reevaluate)
PARAMS_DECODER(debug_clock)

/* ---- encoders ---- */

static void kv_name(msgpack_packer *pk, const char *k, const char *s) { /* "" = nil */
  if (s[0]) pk_kv_str(pk, k, s);
  else pk_kv_nil(pk, k);
}

static void put_batch(msgpack_packer *pk, const loy_batch_result_t *r) {
  PK_MAP(pk) {
    pk_kv_uint(pk, "members", r->members);
    pk_kv_uint(pk, "changed", r->changed);
    pk_kv_uint(pk, "entries", r->entries);
    pk_kv_uint(pk, "tier_changes", r->tier_changes);
    pk_kv_bool(pk, "done", r->done);
    if (r->done) pk_kv_nil(pk, "next");
    else pk_kv_strn(pk, "next", r->next, r->next_len);
  }
}

void enc_loyalty_program_set(msgpack_packer *pk, const void *result) {
  const loy_program_set_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_uint(pk, "version", r->version);
    pk_str(pk, "expired");
    put_batch(pk, &r->expired);
  }
}

static void put_rates(msgpack_packer *pk, const char *k, const loy_rate_t *r, size_t n) {
  pk_str(pk, k);
  msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++) PK_MAP(pk) {
      pk_kv_str(pk, "currency", r[i].currency);
      pk_kv_int(pk, "points", r[i].points);
      pk_kv_int(pk, "per_minor", r[i].per_minor);
    }
}

static void put_benefits(msgpack_packer *pk, const loy_tier_t *t) {
  pk_kv_int(pk, "earn_mult_bp", t->earn_mult_bp);
  pk_kv_int(pk, "discount_pct", t->discount_pct);
  pk_kv_bool(pk, "free_shipping", t->free_shipping);
  pk_str(pk, "labels");
  msgpack_pack_array(pk, t->nlabels);
  for (size_t k = 0; k < t->nlabels && k < LOY_MAX_LABELS; k++) pk_str(pk, t->labels[k]);
}

void enc_loyalty_program_get(msgpack_packer *pk, const void *result) {
  const loy_program_t *p = &((const loy_program_view_t *)result)->program;
  size_t ntiers = p->ntiers < LOY_MAX_TIERS ? p->ntiers : LOY_MAX_TIERS;
  PK_MAP(pk) {
    pk_kv_uint(pk, "version", p->version);
    pk_kv_bool(pk, "active", p->active);
    pk_str(pk, "tiers");
    msgpack_pack_array(pk, ntiers);
    for (size_t i = 0; i < ntiers; i++) PK_MAP(pk) {
        const loy_tier_t *t = &p->tiers[i];
        pk_kv_str(pk, "name", t->name);
        pk_kv_int(pk, "entry_threshold", t->entry_threshold);
        pk_kv_int(pk, "retention_threshold", t->retention_threshold);
        pk_kv_int(pk, "entry_bonus", t->entry_bonus);
        put_benefits(pk, t);
      }
    pk_kv_str(pk, "basis", basis_word_words[p->basis % 3]);
    kv_name(pk, "tier_currency", p->tier_currency);
    pk_kv_str(pk, "window", window_word_words[p->window % 3]);
    pk_kv_int(pk, "window_months", p->window_months);
    pk_kv_str(pk, "downgrade", downgrade_word_words[p->downgrade % 3]);
    pk_kv_int(pk, "grace_days", p->grace_days);
    put_rates(pk, "earn", p->earn, p->nearn < LOY_MAX_RATES ? p->nearn : LOY_MAX_RATES);
    pk_str(pk, "multipliers");
    size_t nm = p->nmults < LOY_MAX_MULTS ? p->nmults : LOY_MAX_MULTS;
    msgpack_pack_array(pk, nm);
    for (size_t i = 0; i < nm; i++) PK_MAP(pk) {
        pk_kv_str(pk, p->mults[i].is_category ? "category" : "product_id", p->mults[i].id);
        pk_kv_int(pk, "mult_bp", p->mults[i].mult_bp);
      }
    pk_kv_int(pk, "pending_days", p->pending_days);
    pk_kv_str(pk, "expiry", expiry_word_words[p->expiry % 3]);
    pk_kv_int(pk, "expiry_months", p->expiry_months);
    put_rates(pk, "redeem", p->redeem, p->nredeem < LOY_MAX_RATES ? p->nredeem : LOY_MAX_RATES);
    pk_kv_int(pk, "redeem_min_points", p->redeem_min_points);
  }
}

void enc_loyalty_tier(msgpack_packer *pk, const void *result) {
  const loy_tier_info_t *t = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "member", t->member);
    if (t->has_tier) {
      pk_kv_str(pk, "tier", t->tier.name);
      pk_str(pk, "benefits");
      PK_MAP(pk) put_benefits(pk, &t->tier);
      pk_kv_int(pk, "tier_since", t->tier_since);
    } else {
      pk_kv_nil(pk, "tier");
      pk_kv_nil(pk, "benefits");
      pk_kv_nil(pk, "tier_since");
    }
    pk_kv_int(pk, "qualifying", t->qualifying);
    pk_kv_str(pk, "unit", t->unit);
    if (t->has_next) {
      pk_kv_str(pk, "next_tier", t->next_tier);
      pk_kv_int(pk, "missing", t->missing);
    } else {
      pk_kv_nil(pk, "next_tier");
      pk_kv_nil(pk, "missing");
    }
    pk_kv_int(pk, "kept_until", t->kept_until);
    pk_kv_bool(pk, "kept_at_pace", t->kept_at_pace);
  }
}

void enc_loyalty_points(msgpack_packer *pk, const void *result) {
  const loy_points_info_t *p = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "member", p->member);
    pk_kv_int(pk, "total", p->total);
    pk_kv_int(pk, "pending", p->pending);
    pk_kv_int(pk, "balance", p->balance);
    pk_str(pk, "expiring");
    size_t ne = p->nexpiring < LOY_MAX_EXPIRING ? p->nexpiring : LOY_MAX_EXPIRING;
    msgpack_pack_array(pk, ne);
    for (size_t i = 0; i < ne; i++) PK_MAP(pk) {
        pk_kv_int(pk, "at", p->expiring[i].at);
        pk_kv_int(pk, "points", p->expiring[i].points);
      }
    pk_str(pk, "history");
    msgpack_pack_array(pk, p->nhistory);
    for (size_t i = 0; i < p->nhistory; i++) PK_MAP(pk) {
        const loy_entry_t *h = &p->history[i];
        pk_kv_uint(pk, "seq", h->seq);
        pk_kv_str(pk, "type", loyalty_entry_type_name(h->type));
        pk_kv_str(pk, "state", loyalty_entry_state_name(h->state));
        pk_kv_int(pk, "amount", h->amount);
        pk_kv_int(pk, "created_at", h->created_at);
        pk_kv_int(pk, "available_at", h->available_at);
        pk_kv_int(pk, "expires_at", h->expires_at);
        pk_kv_uint(pk, "ref_seq", h->ref_seq);
        pk_kv_strn(pk, "key", h->key.p, h->key.n);
        pk_kv_strn(pk, "source", h->source.p, h->source.n);
      }
    if (p->next_before) pk_kv_uint(pk, "next_before", p->next_before);
    else pk_kv_nil(pk, "next_before");
  }
}

void enc_loyalty_preview(msgpack_packer *pk, const void *result) {
  const loy_preview_t *p = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "active", !p->inactive);
    pk_kv_int(pk, "points", p->points);
    pk_kv_int(pk, "net_spend", p->net_spend);
    pk_kv_bool(pk, "upgrades", p->upgrades);
    kv_name(pk, "tier_after", p->tier_after);
    pk_kv_int(pk, "bonus", p->bonus);
  }
}

static void put_move(msgpack_packer *pk, const loy_tier_move_t *m) {
  if (!m->changed) {
    pk_kv_nil(pk, "tier_change");
    return;
  }
  pk_str(pk, "tier_change");
  PK_MAP(pk) {
    kv_name(pk, "from", m->from);
    kv_name(pk, "to", m->to);
    pk_kv_int(pk, "bonus", m->bonus);
  }
}

static void enc_credit(msgpack_packer *pk, const void *result) {
  const loy_credit_wire_t *w = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "created", w->r.created);
    pk_kv_int(pk, "points", w->r.points);
    pk_kv_int(pk, "balance_after", w->r.balance_after);
    put_move(pk, &w->r.move);
  }
}
void enc_loyalty_award(msgpack_packer *pk, const void *r) { enc_credit(pk, r); }
void enc_loyalty_adjust(msgpack_packer *pk, const void *r) { enc_credit(pk, r); }

void enc_loyalty_redeem(msgpack_packer *pk, const void *result) {
  const loy_redeem_wire_t *w = result;
  const loy_redeem_result_t *r = &w->r;
  PK_MAP(pk) {
    pk_kv_strn(pk, "redemption_id", w->redemption_id.p, w->redemption_id.n);
    pk_kv_str(pk, "status", loyalty_redeem_status_name(r->status));
    pk_kv_bool(pk, "accepted", r->status == LOY_REDEEM_ACCEPTED);
    pk_kv_bool(pk, "created", r->created);
    pk_kv_bool(pk, "cancelled", r->cancelled);
    pk_kv_int(pk, "points", r->points);
    if (r->status == LOY_REDEEM_ACCEPTED) {
      pk_kv_int(pk, "value", r->value);
      pk_kv_strn(pk, "currency", r->currency, strnlen(r->currency, 3));
    } else {
      pk_kv_nil(pk, "value");
      pk_kv_nil(pk, "currency");
    }
    pk_kv_int(pk, "balance_after", r->balance_after);
  }
}

void enc_loyalty_redeem_cancel(msgpack_packer *pk, const void *result) {
  const loy_cancel_wire_t *w = result;
  PK_MAP(pk) {
    pk_kv_strn(pk, "customer_id", w->customer_id.p, w->customer_id.n);
    pk_kv_bool(pk, "created", w->r.created);
    pk_kv_int(pk, "points_returned", w->r.points_returned);
    pk_kv_int(pk, "balance_after", w->r.balance_after);
  }
}

void enc_loyalty_members(msgpack_packer *pk, const void *result) {
  const loy_members_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_strn(pk, "tier", r->tier.p, r->tier.n);
    pk_str(pk, "customer_ids");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) pk_strn(pk, r->ids[i].p, r->ids[i].n);
    pk_kv_bool(pk, "more", r->more);
    if (r->more && r->n) pk_kv_strn(pk, "next_after", r->ids[r->n - 1].p, r->ids[r->n - 1].n);
    else pk_kv_nil(pk, "next_after");
  }
}

void enc_loyalty_check(msgpack_packer *pk, const void *result) {
  const loy_check_t *c = &((const loy_check_result_t *)result)->check;
  size_t nl = c->nlisted < 16 ? c->nlisted : 16;
  PK_MAP(pk) {
    pk_kv_bool(pk, "ok", c->ndiffs == 0 && c->orphans == 0);
    pk_kv_uint(pk, "members", c->members);
    pk_kv_uint(pk, "entries", c->entries);
    pk_kv_uint(pk, "differences", c->ndiffs);
    pk_kv_uint(pk, "orphans", c->orphans);
    pk_str(pk, "diffs");
    msgpack_pack_array(pk, nl);
    for (size_t i = 0; i < nl; i++) PK_MAP(pk) {
        pk_kv_strn(pk, "customer_id", c->diffs[i].customer_id.p, c->diffs[i].customer_id.n);
        pk_kv_int(pk, "summary_total", c->diffs[i].summary_total);
        pk_kv_int(pk, "ledger_total", c->diffs[i].ledger_total);
      }
  }
}

static void enc_pass(msgpack_packer *pk, const void *result) {
  put_batch(pk, &((const loy_pass_result_t *)result)->r);
}
void enc_loyalty_expire(msgpack_packer *pk, const void *r) { enc_pass(pk, r); }
void enc_loyalty_reevaluate(msgpack_packer *pk, const void *r) { enc_pass(pk, r); }

/* One member's expiring points: the expiring list's element and the notice's params. */
void enc_loyalty_expiring_item(msgpack_packer *pk, const loy_expiring_item_t *it) {
  PK_MAP(pk) {
    pk_kv_strn(pk, "customer_id", it->customer_id.p, it->customer_id.n);
    pk_kv_int(pk, "points", it->points);
    pk_kv_int(pk, "at", it->at);
  }
}

void enc_loyalty_expiring(msgpack_packer *pk, const void *result) {
  const loy_expiring_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_int(pk, "from", r->from);
    pk_kv_int(pk, "to", r->to);
    pk_str(pk, "members");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) enc_loyalty_expiring_item(pk, &r->items[i]);
    pk_kv_bool(pk, "truncated", r->truncated);
  }
}

void enc_debug_clock(msgpack_packer *pk, const void *result) {
  const debug_clock_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_int(pk, "now", r->now);
    pk_kv_int(pk, "offset_s", r->offset_s);
  }
}

/* The loyalty fields of customer.get (part of its map): nil without a program. */
void enc_customer_loyalty(msgpack_packer *pk, const cust_loyalty_t *l) {
  if (l->program && l->has_tier) pk_kv_str(pk, "tier", l->tier);
  else pk_kv_nil(pk, "tier");
  if (l->program) {
    pk_kv_int(pk, "points", l->points);
    pk_kv_int(pk, "points_pending", l->pending);
  } else {
    pk_kv_nil(pk, "points");
    pk_kv_nil(pk, "points_pending");
  }
}
