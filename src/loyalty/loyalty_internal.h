/* loyalty_internal.h -- what the files of src/loyalty/ share: the in-memory member (the
 * decoded summary record), the effects an operation queues before writing them in one go,
 * the rules that move a member forward in time (expiry, reviews) and up (qualification),
 * earning arithmetic and the calendar. Private to src/loyalty/.
 * Invariant: m->total == sum of the member's ledger entries after every loy_flush; the
 * pure functions (advance, upgrade, earn) never touch the store, so reads reuse them. */
#ifndef PATRON_LOYALTY_INTERNAL_H
#define PATRON_LOYALTY_INTERNAL_H

#include <string.h>

#include "loyalty/loyalty.h"
#include "store/record.h"

#define LOY_PROGRAM_KEY "loyalty_program"
#define LOY_PROGRAM_SOURCE_KEY "loyalty_program_file_sha256"
#define LOY_BUCKET_KEEP 36 /* months of qualifying buckets kept behind now */
#define LOY_DAY 86400

typedef struct loy_lot_s {
  int64_t at, amount; /* pending lot: available_at; credit lot: expires_at */
  uint64_t seq;
} loy_lot_t;

typedef struct loy_bucket_s {
  int64_t month; /* year * 12 + (month - 1) */
  int64_t points, spend, orders;
} loy_bucket_t;

typedef struct loy_bonus_s {
  char tier[LOY_NAME_MAX + 1];
  int64_t at;
} loy_bonus_t;

/* growing array of T */
#define LOY_VEC(T) struct { T *p; size_t n, cap; }

typedef struct loy_member_s {
  char id[CORE_ID_MAX + 1];
  size_t idn;
  int exists;                    /* summary stored */
  uint64_t next_seq, next_hist;  /* next ledger seq / tier history number (from 1) */
  int64_t total;                 /* sum of entries */
  char tier[LOY_NAME_MAX + 1];   /* "" = none */
  char loaded_tier[LOY_NAME_MAX + 1];
  int64_t tier_since, reviewed_to;
  int64_t first_seen, last_order_at;
  int64_t credits_due;           /* ENTRY expiry: credit lots that reached their date */
  int64_t debits;                /* redeemed - cancelled + negative adjusts + late reversals */
  int64_t expired;               /* sum of expire entries (positive) */
  int64_t life_points, life_spend, life_orders;
  size_t nbonus;
  loy_bonus_t bonus[LOY_MAX_TIERS];
  LOY_VEC(loy_lot_t) pending;    /* earn lots not yet available */
  LOY_VEC(loy_lot_t) credits;    /* ENTRY expiry: lots not yet at their date */
  LOY_VEC(loy_bucket_t) buckets; /* by month, ascending */
} loy_member_t;

/* Entries and tier changes an operation queues; written by loy_flush. Strings must outlive
 * the flush (they point into the request or static text). */
typedef struct loy_fx_s {
  LOY_VEC(loy_entry_t) entries;
  LOY_VEC(loy_tier_change_t) changes;
  uint64_t cancel_seq;           /* redeem entry to mark cancelled (0 = none) */
  int oom;                       /* a push failed: loy_flush refuses to write anything */
} loy_fx_t;

void loy_member_free(loy_member_t *m);
void loy_fx_free(loy_fx_t *fx);
void loy_fx_reset(loy_fx_t *fx);
int loy_vec_push(void *vec, size_t el, const void *item); /* LOY_VEC pointer */

/* Member summary codec. decode: strings copied; 0 ok, -1 corrupt. */
void loy_member_encode(rec_buf_t *b, const loy_member_t *m);
int loy_member_decode(const void *v, size_t n, loy_member_t *m);
/* What a read of the tier and spendable balance needs from a stored summary record
 * (loyalty_summary), read without decoding the member: its vectors walked, not kept. */
typedef struct loy_brief_s {
  int64_t total;
  const char *tier;       /* into the record: the stored tier up to its first NUL */
  size_t tier_n;
  int64_t tier_since, reviewed_to, first_seen, last_order_at;
  int64_t debits, expired;
  int64_t credits_due;    /* plus the credit lots whose date is <= now, in record order */
  int64_t pending;        /* sum of the pending lots whose date is > now */
} loy_brief_t;
/* What a brief reads besides the total, the tier and the pending lots (the rest is skipped,
 * checked as it would be read, and left 0): tier_since and reviewed_to (a program that
 * reviews tiers), first_seen and last_order_at (INACTIVITY expiry), credits_due, debits,
 * expired and the credit lots (ENTRY expiry). */
enum { LOY_BRIEF_REVIEW = 1, LOY_BRIEF_INACTIVITY = 2, LOY_BRIEF_ENTRY = 4 };
/* 0, or -1 when loy_member_decode would refuse the record (the same checks, every byte). */
int loy_member_brief_decode(const void *v, size_t n, int64_t now, unsigned need, loy_brief_t *b);
/* Load (or start) the member; m->exists says which. */
int loy_member_load(store_txn_t *t, pstr_t id, int64_t now, loy_member_t *m, perr_info_t *e);
/* Write queued entries, tier changes, the index row and the summary. */
int loy_flush(store_txn_t *w, loy_member_t *m, const loy_fx_t *fx, perr_info_t *e);

/* Program: the stored one (PERR_NOT_FOUND without e set when none). */
int loy_program_load(store_txn_t *t, loy_program_t *p, perr_info_t *e);
/* The program through a memo (loyalty.h): *p is the memo's, valid until its next use;
 * *stored 0 when none is stored (then *p is an inactive default, as loyalty reads see it). */
int loy_program_memo_get(store_txn_t *t, loy_program_memo_t *pm, const loy_program_t **p,
                         int *stored, perr_info_t *e);
/* The memo's scratch member (loy_member_load fills every field; its vectors keep their
 * capacity, so a read through the memo allocates nothing once warm). */
loy_member_t *loy_program_memo_member(loy_program_memo_t *pm);
int loy_tier_index(const loy_program_t *p, const char *name); /* -1 none/unknown */
/* The same for the n bytes at name (not NUL-terminated). */
int loy_tier_index_n(const loy_program_t *p, const char *name, size_t n);
int64_t loy_keep_threshold(const loy_tier_t *t);

/* Time. */
int64_t loy_month_of(int64_t ts);
int64_t loy_month_start(int64_t month); /* ts of the 1st, 00:00 UTC */
int64_t loy_add_months(int64_t ts, int months);
int64_t loy_year_of(int64_t ts);

/* Rules (pure, on the in-memory member; fx may be NULL for reads). */
int64_t loy_pending(const loy_member_t *m, int64_t now);
int64_t loy_window_value(const loy_program_t *p, const loy_member_t *m, int64_t now);
/* Value of the window reviewed at period end P (the window that ended at P). */
int64_t loy_review_value(const loy_program_t *p, const loy_member_t *m, int64_t period_end);
/* First review period end strictly after ts (0 when the program never reviews). */
int64_t loy_next_period_end(const loy_program_t *p, int64_t ts);
/* Expiry and due reviews up to now. */
void loy_advance(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx);
/* Move up to the tier the window gives if higher; entry bonus when allow_bonus. */
void loy_upgrade(const loy_program_t *p, loy_member_t *m, int64_t now, int allow_bonus,
                 loy_fx_t *fx, loy_tier_move_t *mv);
/* Lifetime window: a refund under the keep threshold moves the member down. */
void loy_refund_downgrade(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx,
                          loy_tier_move_t *mv);
/* Program change: move to the tier the new program gives (keeping one still retained). */
void loy_reevaluate_member(const loy_program_t *p, loy_member_t *m, int64_t now, loy_fx_t *fx);
/* Set the tier (records the change in fx). */
void loy_set_tier(loy_member_t *m, const char *to, int64_t at, const char *reason, loy_fx_t *fx);
/* Queue an entry and apply it to m (total, lots, debits). */
void loy_add_entry(const loy_program_t *p, loy_member_t *m, loy_fx_t *fx, int type,
                   int64_t amount, int64_t now, int64_t available_at, uint64_t ref_seq,
                   pstr_t key, pstr_t source);
/* Add qualifying value at ts (month bucket and lifetime). */
void loy_qualify(loy_member_t *m, int64_t ts, int64_t points, int64_t spend, int64_t orders);

/* Earning: validates the order/cart; per-line net in line_net (nlines) when non-NULL. */
int loy_earn_compute(const loy_program_t *p, const loy_order_t *o, int tier_idx,
                     int64_t *net, int64_t *points, int64_t *line_net, perr_info_t *e);

/* A C string as a pstr_t (for rec_put_str). */
static inline pstr_t loy_cstr(const char *s) { return core_pstr(s, strlen(s)); }
/* Read a string of at most max bytes into out (NUL-terminated); longer marks r bad. */
void loy_get_cstr(rec_rd_t *r, char *out, size_t max);

/* Entry record (strings point into v). 0 ok, -1 corrupt. */
int loy_entry_decode(const void *v, size_t n, loy_entry_t *x);

/* Keys. */
size_t loy_ledger_key(char *buf, pstr_t customer, uint64_t seq); /* buf >= CORE_ID_MAX + 9 */
int loy_keys_get(store_txn_t *t, char kind, pstr_t id, const void **v, size_t *vn,
                 perr_info_t *e); /* PERR_NOT_FOUND (e not set) when absent */
int loy_keys_put(store_txn_t *w, char kind, pstr_t id, const rec_buf_t *b, perr_info_t *e);

#endif
