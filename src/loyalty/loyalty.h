/* loyalty.h -- the loyalty core (issue 8): the program (tiers, earning, expiry, redemption
 * values), the append-only points ledger with one summary record per member, tier
 * evaluation and tier history. Pure functions over a store transaction (store/store.h only;
 * no LMDB calls, no clock: every function takes `now`, the daemon's clock in seconds).
 * Invariants: every write validates before its first store_put (an error changes nothing);
 * every write is idempotent on its key (order id, refund id, redemption id, award/adjust key)
 * and a replay returns the first answer; a member's summary total always equals the sum of
 * its ledger entries (loyalty_check proves it). A store failure after validation can leave
 * part of an operation written: the caller then aborts the txn (or its savepoint), as for
 * every core write. Rules are documented in docs/LOYALTY.md. */
#ifndef PATRON_LOYALTY_H
#define PATRON_LOYALTY_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/perr.h"
#include "commerce/commerce.h"
#include "store/store.h"

#define LOY_MAX_TIERS 8
#define LOY_MAX_RATES 8       /* earn rates / redemption values (one per currency) */
#define LOY_MAX_MULTS 64      /* category and product multipliers */
#define LOY_MAX_LABELS 4
#define LOY_NAME_MAX 32       /* tier names and labels */
#define LOY_MAX_ROLLING 24    /* rolling window months */
#define LOY_MAX_EXPIRING 16   /* expiring-soon dates returned */
#define LOY_BP 10000          /* basis points: 10000 = 1.0x */

typedef enum { LOY_BASIS_POINTS = 0, LOY_BASIS_SPEND = 1, LOY_BASIS_ORDERS = 2 } loy_basis_t;
typedef enum {
  LOY_WINDOW_LIFETIME = 0,
  LOY_WINDOW_CALENDAR_YEAR = 1,
  LOY_WINDOW_ROLLING = 2 /* window_months, reviewed on the 1st of each month */
} loy_window_t;
typedef enum {
  LOY_DOWN_NEVER = 0,
  LOY_DOWN_PERIOD_END = 1, /* at each review: to the tier the ended window gives */
  LOY_DOWN_ONE_TIER = 2    /* at each review: one tier down */
} loy_downgrade_t;
typedef enum { LOY_EXPIRY_NONE = 0, LOY_EXPIRY_ENTRY = 1, LOY_EXPIRY_INACTIVITY = 2 } loy_expiry_t;

typedef struct loy_tier_s {
  char name[LOY_NAME_MAX + 1];   /* unique, non-empty */
  int64_t entry_threshold;       /* >= 0, strictly increasing along the tiers */
  int64_t retention_threshold;   /* -1 = same as entry; else 0..entry_threshold */
  int64_t earn_mult_bp;          /* tier earn multiplier, LOY_BP = 1.0x (1..100x) */
  int64_t discount_pct;          /* 0..100 */
  int free_shipping;
  int64_t entry_bonus;           /* points credited on a move up into this tier, >= 0 */
  size_t nlabels;
  char labels[LOY_MAX_LABELS][LOY_NAME_MAX + 1];
} loy_tier_t;

typedef struct loy_rate_s {
  char currency[4];  /* ISO-4217 */
  int64_t points;    /* earn: `points` per `per_minor` minor units of net spend;  */
  int64_t per_minor; /* redeem: `points` points are worth `per_minor` minor units */
} loy_rate_t;

typedef struct loy_mult_s {
  int is_category;           /* 1 = category id, 0 = product id */
  char id[CORE_ID_MAX + 1];
  int64_t mult_bp;           /* 0..100x (0 = earns nothing) */
} loy_mult_t;

typedef struct loy_program_s {
  uint32_t version;          /* set by loyalty_program_set (previous + 1) */
  int active;                /* 0 = orders earn nothing, redemptions answer program_inactive */
  size_t ntiers;
  loy_tier_t tiers[LOY_MAX_TIERS];
  loy_basis_t basis;
  char tier_currency[4];     /* basis SPEND: only net spend in this currency qualifies */
  loy_window_t window;
  int window_months;         /* ROLLING: 1..LOY_MAX_ROLLING */
  loy_downgrade_t downgrade;
  int grace_days;            /* 0..365: reviews happen this long after the period ends */
  size_t nearn;
  loy_rate_t earn[LOY_MAX_RATES];
  size_t nmults;
  loy_mult_t mults[LOY_MAX_MULTS];
  int pending_days;          /* 0..365: order points are pending (not spendable) this long */
  loy_expiry_t expiry;
  int expiry_months;         /* 1..120 when expiry != NONE */
  size_t nredeem;
  loy_rate_t redeem[LOY_MAX_RATES];
  int64_t redeem_min_points; /* >= 0 */
} loy_program_t;

/* Orders of a larger subtotal (minor units) are refused by loyalty_on_order, with or
 * without a program (the points arithmetic stays within 128 bits). */
#define LOY_MAX_NET 1000000000000000LL

/* A sensible empty program (active, no tiers, no rates, lifetime points basis). */
void loyalty_program_default(loy_program_t *p);
int loyalty_program_validate(const loy_program_t *p, perr_info_t *e);
/* Validate and store; p->version is ignored and the stored version becomes previous + 1
 * (written to *version when non-NULL). Members keep their tier until loyalty_reevaluate. */
int loyalty_program_set(store_txn_t *w, const loy_program_t *p, uint32_t *version,
                        perr_info_t *e);
/* PERR_NOT_FOUND (e set) when no program was ever set. */
int loyalty_program_get(store_txn_t *t, loy_program_t *out, perr_info_t *e);
/* The same, but PERR_NOT_FOUND without a message (e untouched): for the order path, which
 * asks once per order whether a program exists. */
int loyalty_program_find(store_txn_t *t, loy_program_t *out, perr_info_t *e);
/* The SHA-256 (64 hex digits) of the [loyalty] program_file the stored program was last set
 * from, in META "loyalty_program_file_sha256": get copies it into out (65 bytes; "" when
 * none was recorded, returns 0), set records it (normally in loyalty_program_set's txn). */
int loyalty_program_source_get(store_txn_t *t, char out[65], perr_info_t *e);
int loyalty_program_source_set(store_txn_t *w, const char *sha256_hex, perr_info_t *e);

/* ---- writes (write txn) --------------------------------------------------------------- */

typedef struct loy_line_s {
  pstr_t product_id;
  pstr_t category;     /* optional */
  int64_t quantity;    /* > 0 */
  int64_t unit_price;  /* minor units >= 0 (ignored in refunds by line) */
} loy_line_t;

typedef struct loy_order_s {
  pstr_t customer_id, order_id, currency;
  int64_t ts;          /* order time; 0 = now */
  const loy_line_t *lines;
  size_t nlines;       /* 1..CORE_MAX_LINES */
  int64_t discount;    /* order-level discount, 0..subtotal, spread over lines pro rata */
  int import;          /* historical import: no entry bonus */
} loy_order_t;

typedef struct loy_tier_move_s {
  int changed;
  char from[LOY_NAME_MAX + 1], to[LOY_NAME_MAX + 1]; /* "" = no tier */
  int64_t bonus;                                     /* entry bonus credited */
} loy_tier_move_t;

typedef struct loy_earn_result_s {
  int inactive;        /* 1: no program or inactive, nothing written */
  int created;         /* 0 = replay of the first answer */
  int64_t points;      /* earned (pending until available_at) */
  int64_t net_spend;   /* minor units the points were computed on */
  int64_t available_at;
  loy_tier_move_t move;
} loy_earn_result_t;
int loyalty_on_order(store_txn_t *w, const loy_order_t *o, int64_t now, loy_earn_result_t *r,
                     perr_info_t *e);

typedef struct loy_refund_s {
  pstr_t order_id, refund_id;
  int64_t amount;            /* when nlines == 0: refunded net amount, minor units > 0 */
  const loy_line_t *lines;   /* product_id + quantity */
  size_t nlines;
} loy_refund_t;

typedef struct loy_refund_result_s {
  int created;
  int unknown_order;         /* order earned nothing here (before the program): no-op */
  int64_t amount;            /* net amount counted (clamped to what is left) */
  int64_t points_reversed;
  int64_t balance_after;     /* may be negative (refund after spend) */
  loy_tier_move_t move;
} loy_refund_result_t;
int loyalty_on_refund(store_txn_t *w, const loy_refund_t *rf, int64_t now,
                      loy_refund_result_t *r, perr_info_t *e);

typedef enum {
  LOY_REDEEM_ACCEPTED = 0,
  LOY_REDEEM_INSUFFICIENT_POINTS = 1,
  LOY_REDEEM_BELOW_MINIMUM = 2,
  LOY_REDEEM_PROGRAM_INACTIVE = 3
} loy_redeem_status_t;
/* "accepted", "insufficient_points", "below_minimum", "program_inactive". */
const char *loyalty_redeem_status_name(int status);

typedef struct loy_redeem_s {
  pstr_t customer_id, redemption_id, cart_ref, currency;
  int64_t points;            /* > 0 */
} loy_redeem_t;

typedef struct loy_redeem_result_s {
  int status;                /* loy_redeem_status_t; every answer is stored and replayed */
  int created;
  int cancelled;             /* replay of a cancelled redemption */
  int64_t points;
  int64_t value;             /* money value in currency (minor units), when accepted */
  char currency[4];
  int64_t balance_after;     /* spendable balance after this redemption (0 when inactive) */
} loy_redeem_result_t;
int loyalty_redeem(store_txn_t *w, const loy_redeem_t *rq, int64_t now, loy_redeem_result_t *r,
                   perr_info_t *e);

typedef struct loy_cancel_result_s {
  int created;               /* 0 = already cancelled */
  int64_t points_returned;
  int64_t balance_after;
  char customer_id[CORE_ID_MAX + 1]; /* whose redemption it was (also on a replay) */
} loy_cancel_result_t;
/* PERR_NOT_FOUND unknown id; PERR_CONFLICT when that redemption was not accepted. */
int loyalty_redeem_cancel(store_txn_t *w, pstr_t redemption_id, int64_t now,
                          loy_cancel_result_t *r, perr_info_t *e);

typedef enum {
  LOY_AWARD_SIGNUP = 0, LOY_AWARD_BIRTHDAY = 1, LOY_AWARD_REVIEW = 2, LOY_AWARD_CUSTOM = 3
} loy_award_kind_t;
const char *loyalty_award_kind_name(int kind);

typedef struct loy_credit_result_s {
  int created;
  int64_t points;
  int64_t balance_after;
  loy_tier_move_t move;
} loy_credit_result_t;
/* points > 0; counts toward a points-earned tier. */
int loyalty_award(store_txn_t *w, pstr_t customer_id, int64_t points, int kind, pstr_t key,
                  int64_t now, loy_credit_result_t *r, perr_info_t *e);
/* delta != 0 (admin); never counts toward a tier; reason required (<= 256 bytes). */
int loyalty_adjust(store_txn_t *w, pstr_t customer_id, int64_t delta, pstr_t reason, pstr_t key,
                   int64_t now, loy_credit_result_t *r, perr_info_t *e);

/* Bulk passes over members in key order, in chunks: start after `after` (empty = from the
 * first), stop after `limit` members (0 = all); next/done say where to resume. */
typedef struct loy_batch_result_s {
  uint64_t members;          /* visited */
  uint64_t changed;          /* summaries rewritten */
  uint64_t entries;          /* ledger entries written (expiry) */
  uint64_t tier_changes;
  int done;
  char next[CORE_ID_MAX + 1];
  size_t next_len;
} loy_batch_result_t;
/* Writes due expire entries, applies due tier reviews (what any write would do first). */
int loyalty_expire_run(store_txn_t *w, int64_t now, pstr_t after, size_t limit,
                       loy_batch_result_t *r, perr_info_t *e);
/* After a program change: as expire_run, then moves every member to the tier the new program
 * gives (reason "program_change", no entry bonus), keeping a tier it still retains. */
int loyalty_reevaluate(store_txn_t *w, int64_t now, pstr_t after, size_t limit,
                       loy_batch_result_t *r, perr_info_t *e);

/* ---- reads (any txn; nothing is written; as of `now`) ----------------------------------- */

typedef struct loy_tier_info_s {
  int member;                /* 0 = no loyalty record yet (everything else zero) */
  int has_tier;
  loy_tier_t tier;           /* benefits of the current tier */
  int64_t tier_since;
  int64_t qualifying;        /* value in the current window */
  char unit[8];              /* "points", "orders" or the tier currency code */
  int has_next;
  char next_tier[LOY_NAME_MAX + 1];
  int64_t missing;           /* unit amount still needed for next_tier */
  int64_t kept_until;        /* the next review date; 0 = kept indefinitely */
  int kept_at_pace;          /* 1 if the current window value keeps the tier at that review */
} loy_tier_info_t;
int loyalty_tier(store_txn_t *t, pstr_t customer_id, int64_t now, loy_tier_info_t *out,
                 perr_info_t *e);

typedef enum {
  LOY_E_EARN = 1, LOY_E_REVERSE = 2, LOY_E_REDEEM = 3, LOY_E_REDEEM_CANCEL = 4,
  LOY_E_AWARD = 5, LOY_E_EXPIRE = 6, LOY_E_ADJUST = 7, LOY_E_BONUS = 8
} loy_entry_type_t;
typedef enum {
  LOY_S_ACTIVE = 0, LOY_S_PENDING = 1, LOY_S_EXPIRED = 2, LOY_S_CANCELLED = 3
} loy_entry_state_t;
const char *loyalty_entry_type_name(int type);
const char *loyalty_entry_state_name(int state);

typedef struct loy_entry_s {
  uint64_t seq;              /* per member, from 1 */
  int type, state;           /* state as of now (pending until available_at) */
  int64_t amount;            /* signed points */
  int64_t created_at, available_at, expires_at; /* expires_at 0 = no per-entry expiry */
  uint64_t ref_seq;          /* reverse/redeem_cancel: the entry it undoes */
  pstr_t key, source;        /* idempotency key; order/refund/redemption id, kind or reason */
} loy_entry_t;

typedef struct loy_expiring_s {
  int64_t at, points;
} loy_expiring_t;

typedef struct loy_points_info_s {
  int member;
  int64_t total;             /* sum of all entries */
  int64_t pending;           /* not yet spendable */
  int64_t balance;           /* spendable: total - pending (negative after refund-after-spend) */
  size_t nexpiring;
  loy_expiring_t expiring[LOY_MAX_EXPIRING]; /* within the horizon, by date */
  size_t nhistory;
  loy_entry_t *history;      /* newest first, in the arena */
  uint64_t next_before;      /* pass as before_seq for the next page; 0 = no more */
} loy_points_info_t;
/* horizon_s: how far ahead expiring points are listed; before_seq 0 = newest page. */
/* The member's tier and spendable balance in one read (offers' rule attributes): program = a
 * program is stored; member = the customer has a summary. */
typedef struct loy_summary_s {
  int program, member, has_tier;
  char tier[LOY_NAME_MAX + 1];
  int64_t balance;           /* as loyalty_points' balance */
} loy_summary_t;
/* A decoded program kept between reads by one thread (offers.decide on the loop). Each read
 * through it gets the stored program record and compares its bytes with the ones it decoded
 * last, so any change (loyalty.program_set, a program file, a restore, another node) is
 * decoded again by the very next read: it saves the decoding and the 24 KB copy, never serves
 * an old program. A read under the same store snapshot as the last one
 * (store_txn_snapshot_id: nothing committed since) does not even get the record. It also
 * keeps a scratch member for loyalty_summary. Not thread-safe: one memo per thread. */
typedef struct loy_program_memo_s loy_program_memo_t;
loy_program_memo_t *loyalty_program_memo_new(void); /* NULL: out of memory */
void loyalty_program_memo_free(loy_program_memo_t *pm);
/* memo NULL: the program is loaded and decoded for this call, and the member decoded whole
 * and moved to now. Through a memo the stored member record is only walked for its tier and
 * balance (the member decoded only when a tier review is due): the same answers
 * (test_loyalty_summary, test_loyalty_prop compare the two). */
int loyalty_summary(store_txn_t *t, loy_program_memo_t *memo, pstr_t customer_id, int64_t now,
                    loy_summary_t *out, perr_info_t *e);
int loyalty_points(store_txn_t *t, pstr_t customer_id, int64_t now, int64_t horizon_s,
                   uint64_t before_seq, size_t limit, arena_t *a, loy_points_info_t *out,
                   perr_info_t *e);

typedef struct loy_preview_s {
  int inactive;
  int64_t points;            /* the cart would earn this (at the current tier multiplier) */
  int64_t net_spend;
  int upgrades;              /* 1 when completing the order moves the tier up */
  char tier_after[LOY_NAME_MAX + 1];
  int64_t bonus;             /* entry bonus that move would pay */
} loy_preview_t;
/* cart->order_id is not needed; cart->ts 0 = now. */
int loyalty_preview(store_txn_t *t, const loy_order_t *cart, int64_t now, loy_preview_t *out,
                    perr_info_t *e);

typedef struct loy_tier_change_s {
  int64_t at;
  char from[LOY_NAME_MAX + 1], to[LOY_NAME_MAX + 1];
  char reason[24];           /* qualified, review, refund, program_change */
} loy_tier_change_t;
/* Oldest first, at most max; *n the number written, *total all of them. */
int loyalty_tier_history(store_txn_t *t, pstr_t customer_id, loy_tier_change_t *out, size_t max,
                         size_t *n, size_t *total, perr_info_t *e);

/* The tier changes a pass wrote, for callers that announce them (the daemon's
 * notifications): the first `max` into items (caller's buffer), n of them; more = 1 when
 * there were others. */
typedef struct loy_pass_move_s {
  char customer_id[CORE_ID_MAX + 1];
  loy_tier_change_t change;
} loy_pass_move_t;
typedef struct loy_pass_moves_s {
  loy_pass_move_t *items;
  size_t max, n;
  int more;
} loy_pass_moves_t;
/* loyalty_expire_run (reevaluate 0) or loyalty_reevaluate (1), also listing the tier changes
 * written into *moves (may be NULL). */
int loyalty_pass(store_txn_t *w, int64_t now, int reevaluate, pstr_t after, size_t limit,
                 loy_pass_moves_t *moves, loy_batch_result_t *r, perr_info_t *e);

/* Members whose stored tier is `tier` ("" = no tier), after `after`, at most limit; ids in
 * the arena; *more = 1 when another page exists. */
int loyalty_members(store_txn_t *t, pstr_t tier, pstr_t after, size_t limit, arena_t *a,
                    pstr_t **ids, size_t *n, int *more, perr_info_t *e);

typedef struct loy_check_diff_s {
  pstr_t customer_id;
  int64_t summary_total, ledger_total;
} loy_check_diff_t;
typedef struct loy_check_s {
  uint64_t members, entries;
  uint64_t ndiffs;           /* members whose summary differs from their entries */
  uint64_t orphans;          /* ledger entries of customers without a summary */
  size_t nlisted;
  loy_check_diff_t diffs[16];/* the first ones, ids in the arena */
} loy_check_t;
int loyalty_check(store_txn_t *t, arena_t *a, loy_check_t *out, perr_info_t *e);

/* customer.forget (commerce/privacy.h): move the member's rows (summary, ledger, tier history,
 * tier index) from customer id `from` to `to` in the write txn w, and rewrite the idempotency
 * answers naming `from` (a scan of LOY_KEYS); *moved counts the rows. Not a member: 0. */
int loy_customer_rekey(store_txn_t *w, pstr_t from, pstr_t to, uint64_t *moved, perr_info_t *e);

#endif
