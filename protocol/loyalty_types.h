/* loyalty_types.h -- the loyalty methods' wire param/result types (issue 8) that are not core
 * types: the program as it arrives (names and enum words as strings, arrays in the request
 * arena) and the results that add a field the cache policy needs (whose entry changed).
 * Core types (loy_program_t, loy_tier_info_t, ...) are in loyalty/loyalty.h; semantics in
 * PROTOCOL.md and docs/LOYALTY.md. Invariant: strings borrow from the request (zero copy)
 * or from the job's arena; every write result names the customer whose answers it changed. */
#ifndef PATRON_LOYALTY_TYPES_H
#define PATRON_LOYALTY_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "loyalty/loyalty.h"

/* ---- loyalty.program.set ---- */
typedef struct loy_wire_tier_s {
  pstr_t name;
  int64_t entry_threshold, retention_threshold, earn_mult_bp, discount_pct, entry_bonus;
  int free_shipping;
  pstr_t *labels;
  size_t nlabels;
} loy_wire_tier_t;
typedef struct loy_wire_rate_s {
  pstr_t currency;
  int64_t points, per_minor;
} loy_wire_rate_t;
typedef struct loy_wire_mult_s {
  pstr_t category, product_id; /* exactly one */
  int64_t mult_bp;
} loy_wire_mult_t;
typedef struct loy_program_params_s {
  int active;
  loy_wire_tier_t *tiers;
  size_t ntiers;
  int basis, window, downgrade, expiry; /* the enums, from their words */
  pstr_t tier_currency;
  int64_t window_months, grace_days, pending_days, expiry_months, redeem_min_points;
  loy_wire_rate_t *earn, *redeem;
  size_t nearn, nredeem;
  loy_wire_mult_t *mults;
  size_t nmults;
  loy_program_t program; /* the above, converted by the decoder */
} loy_program_params_t;
typedef struct loy_program_set_result_s {
  uint32_t version;
  loy_batch_result_t expired; /* the expiry pass run under the old program first */
} loy_program_set_result_t;
typedef struct loy_program_view_s {
  loy_program_t program;
} loy_program_view_t;

/* ---- reads ---- */
typedef struct loy_points_params_s {
  pstr_t id;                 /* customer_id */
  int64_t before_seq, limit, horizon_days;
} loy_points_params_t;
typedef struct loy_line_wire_s {
  pstr_t product_id, category;
  int64_t quantity, unit_price;
} loy_line_wire_t;
typedef struct loy_preview_params_s {
  pstr_t customer_id, currency;
  loy_line_wire_t *lines;
  size_t nlines;
  int64_t discount;
} loy_preview_params_t;
typedef struct loy_members_params_s {
  pstr_t tier, after;
  int64_t limit;
} loy_members_params_t;
typedef struct loy_members_result_s {
  pstr_t tier;
  pstr_t *ids;
  size_t n;
  int more;
} loy_members_result_t;
typedef struct loy_check_result_s {
  loy_check_t check;
} loy_check_result_t;

/* ---- writes ---- */
typedef struct loy_award_params_s {
  pstr_t customer_id, key;
  int64_t points;
  int kind;
} loy_award_params_t;
typedef struct loy_adjust_params_s {
  pstr_t customer_id, key, reason;
  int64_t delta;
} loy_adjust_params_t;
typedef struct loy_credit_wire_s {
  pstr_t customer_id;
  loy_credit_result_t r;
} loy_credit_wire_t;
typedef struct loy_redeem_params_s {
  pstr_t customer_id, redemption_id, cart_ref, currency;
  int64_t points;
} loy_redeem_params_t;
typedef struct loy_redeem_wire_s {
  pstr_t customer_id, redemption_id;
  loy_redeem_result_t r;
} loy_redeem_wire_t;
typedef struct loy_cancel_params_s {
  pstr_t redemption_id;
} loy_cancel_params_t;
typedef struct loy_cancel_wire_s {
  pstr_t customer_id;        /* into r.customer_id */
  loy_cancel_result_t r;
} loy_cancel_wire_t;
/* loyalty.expire / loyalty.reevaluate: one chunk of the pass */
typedef struct loy_pass_params_s {
  pstr_t after;
  int64_t limit;
} loy_pass_params_t;
typedef struct loy_pass_result_s {
  loy_batch_result_t r;
  loy_pass_moves_t moves;    /* the tier changes written (for notifications; not encoded) */
  int unchanged;             /* 1: the chunk wrote nothing (no cached answer to drop) */
} loy_pass_result_t;

/* ---- loyalty.expiring (and the loyalty.points_expiring notices) ---- */
typedef struct loy_expiring_params_s {
  int64_t from, to;          /* the window (from, to], seconds; 0 = now / now + 7 days */
  int64_t limit;
} loy_expiring_params_t;
typedef struct loy_expiring_item_s {
  pstr_t customer_id;
  int64_t points, at;        /* points expiring in the window; the first date */
} loy_expiring_item_t;
typedef struct loy_expiring_result_s {
  int64_t from, to;
  loy_expiring_item_t *items;
  size_t n;
  int truncated;             /* more members than limit */
} loy_expiring_result_t;

/* ---- debug.clock (only with patrond --test-clock) ---- */
typedef struct debug_clock_params_s {
  int64_t offset_s, advance_s;
  int has_offset;
} debug_clock_params_t;
typedef struct debug_clock_result_s {
  int64_t now, offset_s;
} debug_clock_result_t;

#endif
