/* offers_internal.h -- what the offers files share (src/offers only): the key layouts of the
 * offers tables and the counter records kept in them.
 *
 * OFFERS        offer_id -> 'O' 1 uv(updated_at) u8(archived) str(json)
 * OFFER_COUNTS  'b' offer_id                              -> 'B' 1 sv(redemptions) sv(money)
 *               'c' offer_id \0 customer \0 kind \0 be64(period) -> 'C' 1 sv(count)
 *                   (kind 's' shown, 'r' redeemed; period from offer_period_index)
 *               'a' offer_id \0 u8(arm)                   -> 'A' 1 arm counters (offer_arm_t)
 *               'g' -> 'G' 1 raw16: the counters stamp (offer_counter_memo.c), rewritten
 *                   with a random value by every budget or arm counter write
 * OFFER_SEEN    customer \0 offer_id -> the customer's row for the offer (offer_seen_row_t):
 *                   'S' 2 u8(flags) [exposed: uv(arm) sv(first_ts) sv(last_ts) u8(converted)
 *                   sv(revenue)] [shown slot: sv(period) sv(count)] [redeemed slot: sv(period)
 *                   sv(count)]; flags bit 0 exposed (an impression: the seen record), bit 1
 *                   the shown slot, bit 2 the redeemed slot. A slot mirrors the customer's
 *                   'c' row of that kind with the greatest period index (rewritten with every
 *                   cap write), so a decision reads the caps from this row: no 'c' row of a
 *                   greater period exists, and no slot means no 'c' row of the kind at all.
 *                   A row may exist unexposed (a redemption without an impression).
 *                   'S' 1 uv(arm) sv(first_ts) sv(last_ts) u8(converted) sv(revenue): the
 *                   exposure alone, written before the slots (read as it is; caps then come
 *                   from the 'c' rows; the next write of the row makes it 'S' 2)
 * OFFER_IDEM    'r' key -> 'R' 1 raw32(sha256 token) redeem answer
 *               'e' key -> 'E' 1 raw32(sha256 event)    'o' order_id -> 'L' 1 u8(linked)
 *               't' raw32(sha256 token) -> the redeem idempotency key (a token is used once)
 *               'x' customer \0 key -> 'X' 1   the customer's 'e' rows, for customer.forget
 *                   (their keys may be impression ids and their values fingerprints derived
 *                   from the id: forget removes them through this index)
 * The global holdout is the pseudo-offer "\x01global/<currency>" in OFFER_COUNTS ('a' arms)
 * and OFFER_SEEN (offer_events.c).
 * Invariant: ids are C strings (no NUL inside), so \0 separates key parts. */
#ifndef PATRON_OFFERS_INTERNAL_H
#define PATRON_OFFERS_INTERNAL_H

#include <string.h>

#include "experiments/bandit.h"
#include "offers/offers.h"
#include "store/record.h"

typedef struct offer_key_s {
  unsigned char b[3 * OFFERS_ID_MAX + 64];
  size_t n;
  int bad; /* a part was too long */
} offer_key_t;

void offer_key_init(offer_key_t *k, char tag); /* tag 0: no tag byte */
void offer_key_str(offer_key_t *k, const char *s); /* appends s (no separator) */
void offer_key_sep(offer_key_t *k);
void offer_key_u8(offer_key_t *k, unsigned v);
void offer_key_be64(offer_key_t *k, int64_t v);

/* offers_attrs_t.built bits by slot: Patron's JSON value computed; the typed value set; the
 * shop's value set typed (offers_attrs_set_shop_typed). */
#define OFFERS_BUILT_JSON 1u
#define OFFERS_BUILT_TYPED 2u
#define OFFERS_BUILT_SHOP_LAZY 4u /* shop[slot]'s JSON not made yet: typed[slot] is the shop's */

/* offers_attrs_value, its value in place when the slot's typed value is set already (a rule
 * reading an attribute another rule read): no call. */
static inline const condition_value_t *offer_attrs_typed(offers_attrs_t *a, size_t slot) {
  if (a->built && slot < a->c->nattrs && (a->built[slot] & OFFERS_BUILT_TYPED))
    return &a->typed[slot];
  return offers_attrs_value(a, slot);
}

/* The profile group (OFFERS_GROUP_*) Patron reads for an attribute kind (0: none, the cart's
 * or the shop's): what offers_attrs_value loads at the kind's first read. */
unsigned offers_attr_group(offers_attr_kind_t k);

/* n-byte big-endian integers (token key ids, the key ring's bytes). */
static inline void offer_put_be(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}
static inline uint64_t offer_get_be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* The period index holding ts: day number, ISO week number (weeks start Monday), months
 * since 1970-01, or 0 for lifetime. */
int64_t offer_period_index(offer_period_t p, int64_t ts);

typedef struct offer_arm_s {
  stats_arm_t s;
  int64_t clicks;
} offer_arm_t;

typedef struct offer_seen_s {
  int arm;
  int64_t first_ts, last_ts;
  int converted;
  int64_t revenue;
} offer_seen_t;

/* A cap slot of a seen row: the customer's 'c' row of one kind with the greatest period
 * index (any = 0: no 'c' row of that kind exists). */
typedef struct offer_cap_slot_s {
  bool any;
  int64_t period, count;
} offer_cap_slot_t;

/* The customer's OFFER_SEEN row for an offer: the exposure (exposed) and, when slots (an
 * 'S' 2 row), the cap slots (cap[0] shown, cap[1] redeemed). */
typedef struct offer_seen_row_s {
  bool exposed, slots;
  offer_seen_t s;
  offer_cap_slot_t cap[2];
} offer_seen_row_t;

/* Readers: PERR_NOT_FOUND leaves *out zeroed; corrupt records are PERR_INTERNAL. */
int offer_arm_load(store_txn_t *t, const char *offer, int arm, offer_arm_t *out);
int offer_arm_store(store_txn_t *t, const char *offer, int arm, const offer_arm_t *a);
/* The exposure: PERR_NOT_FOUND when the customer has no row for the offer or an unexposed
 * one. */
int offer_seen_load(store_txn_t *t, const char *customer, const char *offer, offer_seen_t *out);
/* Marks the row exposed with s, keeping its cap slots (an 'S' 1 row, or none: the slots are
 * computed from the 'c' rows first). */
int offer_seen_store(store_txn_t *t, const char *customer, const char *offer,
                     const offer_seen_t *s);
/* The whole row (PERR_NOT_FOUND: none). */
int offer_seen_row_load(store_txn_t *t, const char *customer, const char *offer,
                        offer_seen_row_t *out);
/* One stored row's value parsed (0, or PERR_INTERNAL). */
int offer_seen_row_parse(const void *v, size_t vn, offer_seen_row_t *out);
/* A customer's seen records read with one cursor (offers.decide: one range instead of one
 * read per eligible offer). complete = 0 (more than OFFER_SEEN_PREFETCH rows, or a row that
 * does not parse): offer_seen_lookup reads the store instead, so answers never differ. */
#define OFFER_SEEN_PREFETCH 32
typedef struct offer_seen_set_s {
  int complete;
  size_t n;
  struct {
    char offer[OFFERS_ID_MAX + 1];
    size_t len;    /* strlen(offer) */
    uint64_t head; /* offer_id_head(offer, len) */
    offer_seen_row_t r;
  } rows[OFFER_SEEN_PREFETCH]; /* in key (strcmp) order of the offer id */
} offer_seen_set_t;

/* An id's first 8 bytes as a big-endian number, zeros past its end: two ids' heads compare
 * as strcmp orders their first 8 bytes (unsigned bytes, the shorter first). */
static inline uint64_t offer_id_head(const char *s, size_t n) {
  unsigned char b[8] = {0};
  if (n >= 8) memcpy(b, s, 8); /* a fixed size: no call */
  else
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)s[i];
  uint64_t h = 0;
  for (size_t i = 0; i < 8; i++) h = h << 8 | b[i];
  return h;
}

/* strcmp's sign for two ids (no NUL inside) with their lengths and heads: the heads decide
 * unless they are equal; then ids of at most 8 bytes are ordered by length, longer ones by
 * strcmp of what follows the head. */
static inline int offer_id_cmp(uint64_t ha, const char *a, size_t na, uint64_t hb,
                               const char *b, size_t nb) {
  if (ha != hb) return ha < hb ? -1 : 1;
  if (na <= 8 || nb <= 8) return (na > nb) - (na < nb);
  return strcmp(a + 8, b + 8);
}
void offer_seen_prefetch(store_txn_t *t, const char *customer, offer_seen_set_t *out);
/* offer_seen_load, answered from set when it is complete. */
int offer_seen_lookup(store_txn_t *t, const offer_seen_set_t *set, const char *customer,
                      const char *offer, offer_seen_t *out);
/* The row of offer in a complete set (NULL: the customer has none; set incomplete or NULL:
 * *known = false, nothing can be said). */
const offer_seen_row_t *offer_seen_row_in(const offer_seen_set_t *set, const char *offer,
                                          bool *known);
/* The same with the offer id's length and head (offer_id_head) known. */
const offer_seen_row_t *offer_seen_row_find(const offer_seen_set_t *set, const char *offer,
                                            size_t len, uint64_t head, bool *known);
int offer_budget_load(store_txn_t *t, const char *offer, int64_t *redemptions, int64_t *money);
int offer_budget_store(store_txn_t *t, const char *offer, int64_t redemptions, int64_t money);
/* kind 's' (shown) or 'r' (redeemed) in the period holding ts. */
int offer_cap_load(store_txn_t *t, const offer_t *o, const char *customer, char kind, int64_t ts,
                   int64_t *count);
/* Both of the period's counts of the caps o has (a cap it lacks reads 0, unread), answered
 * from the customer's seen row where it can say: known = the caller's prefetched set was
 * complete, row = the customer's row for o in it (NULL: none). With no row the shown count
 * is 0 (an impression writes the seen row and the shown count in one transaction;
 * customer.forget moves both); an 'S' 2 row's slots give both counts for a period at or after
 * the slot's (an earlier period, an 'S' 1 row or no row for the redeemed count: the 'c' row
 * is read). */
int offer_caps_load(store_txn_t *t, const offer_t *o, const char *customer, int64_t ts,
                    bool known, const offer_seen_row_t *row, int64_t *shown, int64_t *redeemed);
/* Writes the 'c' row and the seen row's slot of that kind (the row created unexposed if the
 * customer has none). */
int offer_cap_store(store_txn_t *t, const offer_t *o, const char *customer, char kind,
                    int64_t ts, int64_t count);

/* Counter memo (offer_counter_memo.c). stamp: write a fresh stamp (in the txn of a budget
 * or arm write). begin: once per decision, the memo to use in this decision (NULL: read the
 * store for everything; m NULL, no stamp, out of memory). budget/arm: offer_budget_load and
 * offer_arm_load through the memo (m NULL: straight from the store). */
int offer_counters_stamp(store_txn_t *w);
offers_counter_memo_t *offer_memo_begin(offers_counter_memo_t *m, store_txn_t *rd,
                                        const offers_catalog_t *c);
/* The memo's layout (offer_counter_memo.c owns it; here for the inline reads below). */
#define OFFER_MEMO_STAMP_LEN 16
#define OFFER_MEMO_BUDGET_BIT (1u << OFFERS_MAX_ARMS)
typedef struct offer_memo_entry_s {
  uint64_t epoch;                  /* have/used/arms hold for memo epoch == this */
  unsigned have;                   /* bit a: arms[a] read; OFFER_MEMO_BUDGET_BIT: the budget */
  int64_t used_r, used_m;
  offer_arm_t arms[OFFERS_MAX_ARMS];
} offer_memo_entry_t;
struct offers_counter_memo_s {
  unsigned char stamp[OFFER_MEMO_STAMP_LEN];
  uint64_t epoch;                  /* bumped whenever the stamp read or the catalogue differs */
  uint64_t catalog;                /* the id of the catalogue the entries are by position of */
  int valid;                       /* stamp holds a stamp read from the store */
  uint64_t snap;                   /* the store snapshot it was read under (0: none known) */
  offer_memo_entry_t *offers;      /* by position in catalogue `catalog` */
  size_t cap;
  uint64_t sorted_of;              /* the catalogue `sorted` was found for (0: none) */
  int sorted;                      /* its offer ids strictly increase (strcmp) by position */
};
/* The reads below when the memo does not hold the value yet (or m is NULL). */
int offer_memo_budget_fill(offers_counter_memo_t *m, store_txn_t *rd, const offers_catalog_t *c,
                           const offer_t *o, int64_t *redemptions, int64_t *money);
const offer_arm_t *offer_memo_arm_fill(offers_counter_memo_t *m, store_txn_t *rd,
                                       const offers_catalog_t *c, const offer_t *o, int arm,
                                       offer_arm_t *buf, int *rc);
/* The entry of o when it holds the memo's current epoch (NULL: none yet). */
static inline const offer_memo_entry_t *offer_memo_entry(const offers_counter_memo_t *m,
                                                         const offers_catalog_t *c,
                                                         const offer_t *o) {
  const offer_memo_entry_t *x = &m->offers[o - c->offers];
  return x->epoch == m->epoch ? x : NULL;
}
static inline int offer_memo_budget(offers_counter_memo_t *m, store_txn_t *rd,
                                    const offers_catalog_t *c, const offer_t *o,
                                    int64_t *redemptions, int64_t *money) {
  const offer_memo_entry_t *x = m ? offer_memo_entry(m, c, o) : NULL;
  if (x && (x->have & OFFER_MEMO_BUDGET_BIT)) {
    *redemptions = x->used_r;
    *money = x->used_m;
    return 0;
  }
  return offer_memo_budget_fill(m, rd, c, o, redemptions, money);
}
/* offer_memo_arm without the copy: the memo's entry (valid until the memo's next begin), or
 * buf filled from the store; NULL with *rc set on an error. */
static inline const offer_arm_t *offer_memo_arm_ref(offers_counter_memo_t *m, store_txn_t *rd,
                                                    const offers_catalog_t *c, const offer_t *o,
                                                    int arm, offer_arm_t *buf, int *rc) {
  const offer_memo_entry_t *x = m && arm >= 0 && arm < OFFERS_MAX_ARMS ? offer_memo_entry(m, c, o)
                                                                       : NULL;
  if (x && (x->have & (1u << arm))) return *rc = 0, &x->arms[arm];
  return offer_memo_arm_fill(m, rd, c, o, arm, buf, rc);
}
int offer_memo_arm(offers_counter_memo_t *m, store_txn_t *rd, const offers_catalog_t *c,
                   const offer_t *o, int arm, offer_arm_t *out);

/* Whether catalogue c's offer ids strictly increase (strcmp) by position (a catalogue is
 * built in key order: they do), found once per catalogue and kept in the memo; false
 * without a memo or a catalogue id. */
bool offer_memo_sorted(offers_counter_memo_t *m, const offers_catalog_t *c);

/* offers_decide with every candidate's A/B split made in the catalogue scan, none left to
 * the selection (the path offers_decide's deferred splits replaced; the tests compare them). */
int offer_decide_eager(const offers_catalog_t *c, store_txn_t *rd, const offers_decide_in_t *in,
                       offers_decision_t *out, perr_info_t *e);

/* offers_get without compiling the rule (rule = NULL): for redeem, events, attribution. */
int offer_load(store_txn_t *t, const char *id, offer_t *out, perr_info_t *e);

/* Walk the OFFERS table from after (exclusive, NULL: the start), each live offer (and the
 * archived ones when include_archived) decoded with its rule and handed to fn, which owns it;
 * fn returns 0 to go on, 1 to stop, < 0 on error. */
int offer_walk(store_txn_t *t, const char *after, bool include_archived,
               int (*fn)(offer_t *o, void *ctx, perr_info_t *e), void *ctx, perr_info_t *e);

/* An id or key: a string of 1..OFFERS_ID_MAX bytes, else invalid_params naming field. */
int offer_check_id(const char *s, const char *field, perr_info_t *e);

/* A store error as a structured error. */
int offer_store_err(store_txn_t *t, int rc, perr_info_t *e);
/* A token's fields as offers_token_encode_with signs them, lengths known: the impression id
 * as its text, or (impression_raw non-NULL) as the 16 bytes its 32 lowercase hex digits
 * stand for (a version 2 token; impression is then not read). */
typedef struct offer_token_fields_s {
  pstr_t offer_id, customer, currency, impression;
  const unsigned char *impression_raw;
  int64_t value, expires;
  int arm;
} offer_token_fields_t;
/* The token of f into out (OFFERS_TOKEN_MAX): offers_token_encode_with's bytes for the
 * offers_token_t of the same fields. */
int offer_token_sign(offers_signer_t *signer, const offers_keyring_t *ring,
                     const offer_token_fields_t *f, char *out, perr_info_t *e);

/* SHA-256 of the concatenation of n NUL-terminated parts (each followed by a 0 byte). */
void offer_sha256(const char *const *parts, int n, unsigned char out[32]);
/* The same through a signer's fetched SHA-256 (s NULL: offer_sha256). */
void offer_sha256_with(offers_signer_t *s, const char *const *parts, int n,
                       unsigned char out[32]);

/* offer_sha.c: HMAC-SHA256 with a key's pads hashed once, and SHA-256, on OpenSSL's
 * low-level SHA-256 (no per-call context copies). offer_hmac_key_new: NULL when this
 * OpenSSL lacks those calls (the caller keeps EVP_MAC); offer_sha256_fast: -1 then. */
typedef struct offer_hmac_key_s offer_hmac_key_t;
offer_hmac_key_t *offer_hmac_key_new(void);
void offer_hmac_key_free(offer_hmac_key_t *k);
void offer_hmac_key_set(offer_hmac_key_t *k, const unsigned char key[OFFERS_KEY_BYTES]);
void offer_hmac_sign(const offer_hmac_key_t *k, const unsigned char *msg, size_t n,
                     unsigned char out[32]);
int offer_sha256_fast(const char *const *parts, int n, unsigned char out[32]);


/* ---- offers.decide's candidates (offer_decide.c) and their answer items (offer_item.c) ---- */

/* The decision's generator (bandit draws, random impression ids), seeded at its first
 * use: the same draws as seeding it first, and no seeding in a decision that draws nothing. */
typedef struct draws_s {
  bandit_rng_t rng;
  uint64_t seed;
  bool seeded;
} draws_t;

static inline bandit_rng_t *draws_rng(draws_t *d) {
  if (!d->seeded) bandit_rng_seed(&d->rng, d->seed), d->seeded = true;
  return &d->rng;
}

/* One candidate before selection. */
typedef struct cand_s {
  const offer_t *o;
  int arm;
  bool holdout_pending; /* arm 1 unless the holdout split says 0 (pick_arm): found when taken */
  bool split;           /* its arm is left to the selection (bound_arms): ev is the bound of
                         * its arms' EVs; arm, value, discount, uplift not set yet */
  bool rule_pending;    /* (split too) its rule and sticky arm are left to the selection */
  int64_t value, discount;
  int64_t base, money_used; /* the scan's applicable value and budget used (split only) */
  double ev, uplift;
} cand_t;

/* The answer item of candidate c (its arm, value and EV final): its fields, impression id,
 * reason and, with keys, its signed token. customer_len = strlen(in->customer). */
int offer_item_fill(const offers_decide_in_t *in, size_t customer_len, const cand_t *c,
                    draws_t *rng, offers_decided_t *d, perr_info_t *e);

#endif
