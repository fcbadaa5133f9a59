/* offers.h -- personalized offers (issue 9): the catalogue, decisions, signed tokens,
 * redemption against budgets and caps, experiment events, attribution and the uplift report.
 * Pure functions over store transactions (no sockets, no clock, no globals); docs/OFFERS.md is
 * the long form (definition fields, the ranking formula, the attribution window).
 *
 * Invariants: every write function validates everything before its first store_put, so an
 * error leaves the store unchanged; redemption and events are idempotent on their keys (a
 * replay returns the first answer and changes nothing); budgets and per-customer caps are
 * consumed inside the caller's write transaction, so they never go over under one writer;
 * a catalogue snapshot is immutable and may be read from many threads at once. */
#ifndef PATRON_OFFERS_H
#define PATRON_OFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/perr.h"
#include "experiments/experiments.h"
#include "experiments/stats.h"
#include "offers/condition.h"
#include "store/store.h"

#define OFFERS_ID_MAX 128
#define OFFERS_MAX_VARIANTS 8              /* arms = holdout + variants */
#define OFFERS_MAX_ARMS (OFFERS_MAX_VARIANTS + 1)
#define OFFERS_MAX_TARGETS 256             /* products or categories per offer */
#define OFFERS_DECIDE_MAX 16               /* offers in one decision */
#define OFFERS_DEFAULT_WINDOW_S (7 * 86400) /* attribution window after the last impression */
#define OFFERS_DEFAULT_TOKEN_TTL_S 86400
#define OFFERS_TOKEN_MAX 512

typedef enum {
  OFFER_PERCENT_OFF = 0, /* value: whole percent 1..100 of the applicable cart value */
  OFFER_AMOUNT_OFF,      /* value: minor units (capped at the applicable cart value) */
  OFFER_FREE_SHIPPING,   /* value: the shipping cost it waives, minor units */
  OFFER_FREE_ITEM,       /* value: the item's cost, minor units */
  OFFER_BONUS_POINTS,    /* value: points; cost = value * point_value minor units */
} offer_kind_t;

typedef enum { OFFER_PERIOD_LIFETIME = 0, OFFER_PERIOD_DAY, OFFER_PERIOD_WEEK, OFFER_PERIOD_MONTH }
    offer_period_t;

typedef enum { OFFER_MODE_AB = 0, OFFER_MODE_BANDIT = 1 } offer_mode_t;

typedef struct offer_variant_s {
  const char *id;  /* variant name */
  double weight;   /* planned share among the treated (ab mode) */
  int64_t value;   /* the variant's value (same unit as the offer's) */
} offer_variant_t;

/* A parsed, validated offer. Strings point into def (the canonical JSON it came from). */
typedef struct offer_s {
  json_t *def;                 /* owned: canonical definition (sorted keys) */
  struct condition_s *rule;    /* owned; NULL = everyone eligible */
  const char *id;
  offer_kind_t kind;
  int64_t value;
  int64_t point_value;         /* bonus points: minor units per point (default 1) */
  const char *currency;        /* ISO-4217, required */
  int64_t valid_from, valid_until; /* seconds; valid_until 0 = open-ended */
  int64_t priority;
  const char *exclusive_group; /* NULL = none */
  int64_t budget_money;        /* minor units; 0 = unlimited */
  int64_t budget_redemptions;  /* 0 = unlimited */
  int64_t cap_shown, cap_redeemed; /* per customer per period; 0 = unlimited */
  offer_period_t cap_period;
  int64_t min_cart;            /* minor units */
  const json_t *products, *categories; /* arrays of strings; NULL = whole cart */
  const char **targets;        /* owned array (strings in def): the products, then the
                                * categories, as C strings for the cart scan; NULL = none */
  size_t nproducts, ncategories;
  bool stackable;
  bool archived;
  int64_t window_s;            /* attribution window */
  int64_t token_ttl_s;
  /* experiment */
  double holdout;              /* share of customers in the control arm (0..0.9) */
  offer_mode_t mode;
  int reward;                  /* bandit_reward_t */
  const char *seed;            /* hashing seed (default: the offer id) */
  bool stop_when_losing;       /* default true: not decided once measured to lose money */
  char seed_holdout[OFFERS_ID_MAX + 16]; /* seed + "/holdout": the holdout split's seed */
  char seed_variant[OFFERS_ID_MAX + 16]; /* seed + "/variant": the A/B split's seed */
  size_t seed_holdout_len, seed_variant_len;
  /* The splits' GrowthBook bucket ranges (experiment_bucket_ranges of the weights, coverage
   * 1), fixed by the definition: holdout (2 ranges: holdout, treated) when holdout > 0, the
   * A/B variants when nvariants > 1. */
  experiment_range_t holdout_ranges[2];
  experiment_range_t variant_ranges[OFFERS_MAX_VARIANTS];
  /* the same splits as maps of the hash (experiment_v1map_build; n = 0: the ranges decide) */
  experiment_v1map_t holdout_map, variant_map;
  int nvariants;               /* >= 1 (an offer without variants has one: "default") */
  offer_variant_t variants[OFFERS_MAX_VARIANTS];
  int64_t updated_at;
  int rule_slot;               /* in a catalogue: offers with equal rules share a slot (their
                                * rule is evaluated once per decision); -1 elsewhere */
  int *rule_attr;              /* in a catalogue: the attribute slot (offers_catalog_t.attrs
                                * index) of each of the rule's condition_names; else NULL */
  int rule_one;                /* in a catalogue: the rule_attr index of the one attribute the
                                * rule tests, when it tests that attribute's whole value
                                * (condition_single_name), else -1 */
  unsigned rule_groups;        /* in a catalogue: the profile groups (OFFERS_GROUP_*) its
                                * rule's attributes come from (offers_attr_group) */
  size_t id_len;               /* strlen(id) */
  uint64_t id_head;            /* offer_id_head(id, id_len): the seen rows' walk */
} offer_t;

/* ---- catalogue (offer_def.c) ------------------------------------------------------ */

/* Parse and validate a definition (see docs/OFFERS.md); def is not stolen. Errors are
 * invalid_params with field naming the bad member ("budget.money", "rule.$and[0].age.$gt"). */
int offers_parse(const json_t *def, offer_t *out, perr_info_t *e);
void offers_clear(offer_t *o);
/* Create or replace an offer (write txn). Keeps the archived flag of a stored offer. */
int offers_set(store_txn_t *t, const json_t *def, int64_t now, perr_info_t *e);
/* Read one (any txn); PERR_NOT_FOUND with field "id" when absent. Free with offers_clear. */
int offers_get(store_txn_t *t, const char *id, offer_t *out, perr_info_t *e);
/* The definitions (JSON array of objects, each with "archived" and "updated_at") in id order,
 * from id > after (NULL: from the start), at most limit (0: all). Caller json_decref's. */
int offers_list(store_txn_t *t, const char *after, size_t limit, bool include_archived,
                json_t **out, perr_info_t *e);
/* Archive (true) or restore (false). */
int offers_archive(store_txn_t *t, const char *id, bool archived, int64_t now, perr_info_t *e);

/* What fills an attribute of offers.decide (PROTOCOL.md offers.decide): Patron's own (from
 * the customer record, loyalty, the CLV model, the cart; when Patron sets one it wins over
 * the shop's) or only the shop's. */
typedef enum {
  OFFERS_ATTR_SHOP = 0, OFFERS_ATTR_ID, OFFERS_ATTR_ORDER_COUNT, OFFERS_ATTR_FIRST_ORDER,
  OFFERS_ATTR_DAYS_SINCE_LAST_ORDER, OFFERS_ATTR_TIER, OFFERS_ATTR_POINTS, OFFERS_ATTR_SEGMENT,
  OFFERS_ATTR_P_ALIVE, OFFERS_ATTR_CHURN_RISK, OFFERS_ATTR_CHURN_BAND,
  OFFERS_ATTR_PREDICTED_CLV, OFFERS_ATTR_CART_VALUE, OFFERS_ATTR_CURRENCY,
  OFFERS_ATTR_CART_ITEMS, OFFERS_ATTR_CART_CATEGORIES, OFFERS_ATTR_CART_QUANTITY,
  OFFERS_ATTR_KINDS
} offers_attr_kind_t;
/* The ranking's attributes (offer_decide.c cart_worth), always in a catalogue's attrs. */
enum { OFFERS_RANK_MARGIN_RATE = 0, OFFERS_RANK_PREDICTED_CLV, OFFERS_RANK_P_ALIVE,
       OFFERS_RANK_CHURN_RISK, OFFERS_RANK_ATTRS };

/* An offer's checks that need only the request, packed for the decision's scan of the
 * catalogue (offer_decide.c): an offer they turn down is skipped without reading offer_t. */
typedef struct offer_gate_s {
  int64_t valid_from, valid_until, min_cart; /* as offer_t's */
  char currency[4];                         /* offer_t's 3 letters and NUL */
  int32_t rule_slot;                        /* offer_t's; nrule_slots when it has none */
  bool archived;
  uint32_t cls;                             /* its class: offers_catalog_t.classes[cls] */
} offer_gate_t;
/* The checks of a gate that do not depend on the decision's rules (archived, currency,
 * window, minimum cart), shared by the gates with the same values: a decision makes them once
 * a class. A gate's class holds exactly its values. */
typedef struct offer_gate_class_s {
  int64_t valid_from, valid_until, min_cart;
  char currency[4];
  bool archived;
} offer_gate_class_t;

/* An immutable snapshot of the active (not archived) offers, conditions compiled
 * (offer_catalog.c). */
typedef struct offers_catalog_s {
  size_t n;
  offer_t *offers;
  const char **attrs;  /* sorted, unique: every attribute a rule or the ranking reads */
  size_t nattrs;
  size_t nrule_slots;  /* distinct rules (offer_t.rule_slot < nrule_slots) */
  unsigned char *attr_kind; /* by slot: offers_attr_kind_t */
  uint64_t id;         /* random at build, 0 when none was drawn (counter memos: one
                        * catalogue's positions name the same offers) */
  size_t rank_slot[OFFERS_RANK_ATTRS]; /* the ranking attributes' slots */
  offer_gate_t *gates; /* by position (NULL: the decision reads every check from offers) */
  offer_gate_class_t *classes; /* the gates' classes (with gates; nclasses <= n) */
  size_t nclasses;
  /* With gates when n <= 64 (else NULL): bit i is offer i. nclasses masks (the offers of each
   * class), then nrule_slots + 1 (the offers whose gate has that rule slot): a decision skips
   * the gated offers by bits instead of a check an offer. */
  uint64_t *gate_masks;
} offers_catalog_t;
int offers_catalog_build(store_txn_t *t, offers_catalog_t **out, perr_info_t *e);
void offers_catalog_free(offers_catalog_t *c);
/* Whether some offer's rule (or the ranking: margin_rate, predicted_clv, p_alive,
 * churn_risk) reads the attribute; one no one reads need not be computed. */
bool offers_catalog_uses(const offers_catalog_t *c, const char *name);
/* The attribute's slot (index in c->attrs), -1 when no one reads it. */
int offers_catalog_slot(const offers_catalog_t *c, const char *name);

/* ---- tokens (offer_token.c) and keys (offer_keys.c) ---------------------------- */

#define OFFERS_KEY_FILE "offers.key"
#define OFFERS_KEY_BYTES 32

typedef struct offers_keyring_s {
  uint32_t current_id;
  unsigned char current[OFFERS_KEY_BYTES];
  uint32_t previous_id;         /* 0 = none */
  unsigned char previous[OFFERS_KEY_BYTES];
  int64_t rotated_at;           /* when previous stopped being current */
  int64_t grace_s;              /* previous is accepted until rotated_at + grace_s */
} offers_keyring_t;

/* Load dir/offers.key, creating it (mode 0600, 32 bytes from RAND_bytes, atomic write) when
 * absent and create is true. grace_s: how long a rotated-out key stays valid. */
int offers_keys_open(const char *dir, bool create, int64_t grace_s, offers_keyring_t *out,
                     perr_info_t *e);
/* New current key; the old one stays accepted for grace_s. Written atomically. */
int offers_keys_rotate(const char *dir, int64_t now, offers_keyring_t *ring, perr_info_t *e);
/* The ring of a shared store (offer_keys.c; docs/SCALEOUT.md), a record every node reads.
 * Load: PERR_NOT_FOUND when none is stored. Ensure (write txn): the stored ring, storing seed
 * (NULL: a fresh key, id 1) first when there is none (*created then true), so the first node
 * to write decides the fleet's ring. Rotate (write txn): the stored ring (fallback when none is stored) rotated as
 * offers_keys_rotate does, stored. grace_s is this node's (it is not stored). */
int offers_keys_load(store_txn_t *t, int64_t grace_s, offers_keyring_t *out, perr_info_t *e);
int offers_keys_ensure(store_txn_t *w, const offers_keyring_t *seed, int64_t grace_s,
                       offers_keyring_t *out, bool *created, perr_info_t *e);
int offers_keys_rotate_stored(store_txn_t *w, int64_t now, const offers_keyring_t *fallback,
                              offers_keyring_t *out, perr_info_t *e);

typedef struct offers_token_s {
  char offer_id[OFFERS_ID_MAX + 1];
  char customer[OFFERS_ID_MAX + 1];
  int64_t value;
  char currency[4];
  int64_t expires;
  char impression_id[33];
  int arm;
} offers_token_t;

/* Why a token or a redemption was refused: the stable name starts the error message
 * ("token_expired: ...") and is returned by offers_refusal(). */
typedef enum {
  OFFERS_OK = 0,
  OFFERS_TOKEN_MALFORMED,    /* not a token at all (base64url, layout) */
  OFFERS_TOKEN_BAD_SIGNATURE,/* forged or altered */
  OFFERS_TOKEN_KEY_RETIRED,  /* signed with a key rotated out more than one period ago */
  OFFERS_TOKEN_EXPIRED,
  OFFERS_TOKEN_WRONG_CUSTOMER,
  OFFERS_OFFER_INACTIVE,     /* archived, deleted or outside its validity window */
  OFFERS_CART_MISMATCH,      /* cart currency or minimum cart value */
  OFFERS_BUDGET_EXHAUSTED,
  OFFERS_CAP_REACHED,
  OFFERS_IDEMPOTENCY_CONFLICT, /* key reused for another request */
  OFFERS_TOKEN_USED,         /* already redeemed under another idempotency key */
} offers_refusal_t;
const char *offers_refusal_name(offers_refusal_t r);

/* base64url text (no padding) into out (OFFERS_TOKEN_MAX). */
int offers_token_encode(const offers_keyring_t *ring, const offers_token_t *tk, char *out,
                        perr_info_t *e);
/* A signer: the HMAC and SHA-256 algorithms fetched once and a context keyed once per key,
 * reused for every token (fetching them was most of a token's cost). Not thread-safe: one
 * per thread. NULL wherever a signer is taken means "fetch afresh" (same output). */
typedef struct offers_signer_s offers_signer_t;
offers_signer_t *offers_signer_new(void);
void offers_signer_free(offers_signer_t *s);
int offers_token_encode_with(offers_signer_t *signer, const offers_keyring_t *ring,
                             const offers_token_t *tk, char *out, perr_info_t *e);

/* Verify for customer at now. Returns 0 or PERR_FORBIDDEN with *why set. */
int offers_token_verify(const offers_keyring_t *ring, const char *text, const char *customer,
                        int64_t now, offers_token_t *out, offers_refusal_t *why, perr_info_t *e);

/* ---- decisions (offer_decide.c) --------------------------------------------------- */

typedef struct offers_cart_item_s {
  const char *product, *category; /* category may be NULL */
  int64_t quantity, price;        /* price: minor units per unit */
} offers_cart_item_t;

typedef struct offers_cart_s {
  int64_t value;         /* minor units */
  const char *currency;
  const offers_cart_item_t *items;
  size_t nitems;
} offers_cart_t;

/* Budget and arm counters kept between decisions by one thread (offers.decide on the loop;
 * offer_counter_memo.c). Exact, not a cache with a lifetime: an entry is used only while the
 * store's counters stamp, rewritten by every budget or arm counter write in its own
 * transaction, equals the one it was read under. Not thread-safe: one memo per thread. */
typedef struct offers_counter_memo_s offers_counter_memo_t;
offers_counter_memo_t *offers_counter_memo_new(void); /* NULL: out of memory */
void offers_counter_memo_free(offers_counter_memo_t *m);

/* ---- rule attributes read lazily (offer_attrs.c) ---- */

/* What Patron knows of the customer, read by the caller a group at a time (only when a rule
 * or the ranking reads an attribute of the group). Strings stay valid until the attributes
 * are cleared. */
enum { OFFERS_GROUP_ORDERS = 1, OFFERS_GROUP_LOYALTY = 2, OFFERS_GROUP_CLV = 4 };
typedef struct offers_profile_s {
  bool customer_found;          /* ORDERS: the customer record was read */
  int64_t order_count, last_order_at;
  bool loyalty;                 /* LOYALTY: a program is stored, the member summary read */
  bool has_tier;
  const char *tier;
  int64_t points;
  bool scored;                  /* CLV: the served model scored the customer */
  const char *segment, *churn_band; /* NULL: none */
  bool has_clv, has_value;
  double p_alive, churn_risk;
  int64_t predicted_clv;
} offers_profile_t;
typedef void (*offers_profile_fn)(void *ctx, unsigned group, offers_profile_t *p);

/* Patron's attribute values kept between decisions by one thread: a value only the pool
 * holds is set in place (an equal string, or cart list, is kept as it is), so a decision
 * allocates only what changed. Values are the same as fresh ones. Not thread-safe. */
typedef struct offers_attr_pool_s offers_attr_pool_t;
offers_attr_pool_t *offers_attr_pool_new(void); /* NULL: out of memory */
void offers_attr_pool_free(offers_attr_pool_t *p);

/* The attributes of one decision, by catalogue slot, each built at its first read: Patron's
 * value when Patron sets it (PROTOCOL.md offers.decide), else the shop's. The same values
 * as the JSON object the daemon used to build whole (tests/unit/test_offers_attrs.c). */
#define OFFERS_ATTRS_INLINE 48
#define OFFERS_ATTRS_INLINE_LIST 16 /* cart lines whose lists need no allocation */
typedef struct offers_attrs_s {
  const offers_catalog_t *c;
  const char *customer;
  const offers_cart_t *cart;
  int64_t now;
  offers_profile_fn load;
  void *load_ctx;
  unsigned loaded;              /* OFFERS_GROUP_* bits read */
  offers_profile_t prof;
  json_t **shop, **own;         /* by slot (owned): the shop's value, Patron's */
  json_t **pooled;              /* by slot: the pool's values (NULL: no pool) */
  unsigned char *built;         /* by slot: own computed (1), typed set (2) */
  condition_value_t *typed;     /* by slot: the value as the rules read it */
  condition_str_t *items_list, *cats_list; /* the cart lists as the rules read them */
  size_t njson;                 /* JSON references held in shop and own (0: none to release) */
  json_t *inline_vals[2 * OFFERS_ATTRS_INLINE];
  unsigned char inline_built[OFFERS_ATTRS_INLINE];
  condition_value_t inline_typed[OFFERS_ATTRS_INLINE]; /* not cleared: built says what is set */
  condition_str_t inline_items[OFFERS_ATTRS_INLINE_LIST], inline_cats[OFFERS_ATTRS_INLINE_LIST];
} offers_attrs_t;
/* 0, or PERR_INTERNAL (out of memory). a is cleared with offers_attrs_clear either way. */
int offers_attrs_init(offers_attrs_t *a, const offers_catalog_t *c, const char *customer,
                      const offers_cart_t *cart, int64_t now, offers_profile_fn load,
                      void *load_ctx);
/* Reuse the pool's values in this decision (p NULL, or out of memory: fresh values). */
void offers_attrs_use_pool(offers_attrs_t *a, offers_attr_pool_t *p);
/* The shop's value of the attribute in slot (stolen; replaces an earlier one). */
void offers_attrs_set_shop(offers_attrs_t *a, size_t slot, json_t *v);
/* The same for a scalar of a shop-only attribute (kind OFFERS_ATTR_SHOP), typed: null,
 * boolean, integer, finite real, or a string s[n] NUL-terminated without NUL inside (the
 * caller keeps it until the clear); its JSON value (json_null, json_boolean, json_integer,
 * json_real, json_stringn_nocheck of it) is made only when it is read as JSON. false: not
 * such a slot or value (nothing set: set the JSON value instead). */
bool offers_attrs_set_shop_typed(offers_attrs_t *a, size_t slot, const condition_value_t *v);
const json_t *offers_attrs_get(offers_attrs_t *a, size_t slot);
/* The same value typed, as the compiled rules read it (condition_eval_values): equal to
 * condition_value_from_json(offers_attrs_get(a, slot)), without making Patron's JSON values. */
const condition_value_t *offers_attrs_value(offers_attrs_t *a, size_t slot); /* valid until
                                                                                the clear */
void offers_attrs_clear(offers_attrs_t *a);

typedef struct offers_decide_in_s {
  const char *customer;
  const json_t *attrs;     /* profile + cart + shop attributes (offers_cart_attributes) */
  offers_attrs_t *lazy;    /* non-NULL: the attributes, read from here instead of attrs */
  const offers_cart_t *cart;
  int64_t now;
  double global_holdout;   /* share of customers who never see personalized offers */
  uint64_t seed;           /* bandit draws; impression ids too when random_ids */
  bool random_ids;         /* false: impression id = hash(customer, offer, hour of now) */
  int max_offers;          /* 0: OFFERS_DECIDE_MAX */
  const offers_keyring_t *keys; /* non-NULL: sign a token for each shown offer */
  offers_signer_t *signer; /* optional (the calling thread's): tokens and impression ids */
  offers_counter_memo_t *counters; /* optional (the calling thread's): budgets, arm counters */
} offers_decide_in_t;

typedef struct offers_decided_s {
  const char *offer_id;    /* points into the catalogue */
  int arm;                 /* 0 = holdout (not shown), 1.. = variant arm */
  const char *variant;     /* NULL for the holdout */
  bool held_out;           /* in this offer's control: log the exposure, show nothing */
  int64_t value;           /* the arm's value */
  int64_t discount;        /* minor units it would cost on this cart */
  const char *currency;
  double expected_value;   /* expected incremental value, minor units (docs/OFFERS.md) */
  double uplift;           /* the conversion uplift used in it */
  char impression_id[33];
  int64_t expires;
  char reason[128];
  char token[OFFERS_TOKEN_MAX];
} offers_decided_t;

typedef struct offers_decision_s {
  bool global_holdout;     /* the customer is in the global holdout: nothing shown */
  bool global_split;       /* the global split was applied (global_holdout > 0 and a cart):
                            * record the customer's global exposure (offers_global_exposure) */
  size_t n;
  offers_decided_t items[OFFERS_DECIDE_MAX]; /* shown first, by expected value */
} offers_decision_t;

/* Decide for one customer. Reads counters (budgets, caps, sticky arms, arm stats) from rd (any
 * txn). Not eligible, empty cart or unknown customer: n = 0, not an error. */
int offers_decide(const offers_catalog_t *c, store_txn_t *rd, const offers_decide_in_t *in,
                  offers_decision_t *out, perr_info_t *e);
/* Adds cart_value, currency, cart_items (product ids), cart_categories, cart_quantity to
 * attrs (an object). */
int offers_cart_attributes(json_t *attrs, const offers_cart_t *cart);
/* x as printf "%.*f" prints it with prec 0..6 (offer_format.c), NUL-terminated into out (at
 * least 32 bytes); returns the length, or 0 (nothing written) for NaN, infinities,
 * |x| >= 1e15 and |x| * 10^prec >= 1e19, which only printf prints. */
size_t offers_format_fixed(char *out, double x, int prec);
/* The discount an offer's arm value costs on a cart (minor units, >= 0). */
int64_t offers_discount(const offer_t *o, int64_t value, const offers_cart_t *cart);

/* ---- redemption, events, attribution, report (offer_redeem.c, offer_events.c) ------- */

typedef struct offers_redeem_in_s {
  const char *token;
  const char *customer;
  const offers_cart_t *cart;  /* value and currency (items: for product-limited offers) */
  const char *cart_ref;       /* the shop's cart/order reference (stored, optional) */
  const char *idempotency_key;
  int64_t now;
} offers_redeem_in_t;

typedef struct offers_redeem_out_s {
  bool replay;                /* the first answer for this key */
  char offer_id[OFFERS_ID_MAX + 1];
  int arm;
  int64_t discount;           /* minor units consumed from the budget */
  char currency[4];
  int64_t redemptions_left;   /* -1 unlimited */
  int64_t money_left;         /* -1 unlimited */
} offers_redeem_out_t;

int offers_redeem(store_txn_t *w, const offers_keyring_t *ring, const offers_redeem_in_t *in,
                  offers_redeem_out_t *out, offers_refusal_t *why, perr_info_t *e);

typedef enum { OFFERS_EV_IMPRESSION = 0, OFFERS_EV_CLICK, OFFERS_EV_ORDER } offers_event_type_t;

typedef struct offers_event_s {
  offers_event_type_t type;
  const char *idempotency_key;
  const char *offer_id;
  const char *customer;
  int arm;                  /* impression: the decided arm (a stored sticky arm wins) */
  int64_t ts;
  int64_t revenue;          /* order: minor units in the offer's currency */
} offers_event_t;

/* Record an event; *replay = true when the key was seen (nothing changes). */
int offers_event(store_txn_t *w, const offers_event_t *ev, bool *replay, perr_info_t *e);

/* Link an order to every offer the customer was exposed to (any arm, holdout included) with
 * first exposure <= ts <= last exposure + the offer's window, in the offer's currency: each
 * arm gains the conversion (once per customer) and the revenue. Idempotent on order_id:
 * *linked = offers credited (0 on replay, *replay = true). A customer exposed to no offer
 * gets no idempotency mark (nothing was credited; the daemon calls this once per new order),
 * so only calls that credited or found exposures answer *replay = true later. */
int offers_attribute_order(store_txn_t *w, const char *order_id, const char *customer,
                           int64_t ts, int64_t total, const char *currency, int *linked,
                           bool *replay, perr_info_t *e);

typedef struct offers_report_s {
  int narms;                  /* holdout + variants */
  const char *arm_names[OFFERS_MAX_ARMS]; /* point into the offer (caller keeps it) */
  stats_arm_t arms[OFFERS_MAX_ARMS];
  int64_t clicks[OFFERS_MAX_ARMS];
  bool has_compare[OFFERS_MAX_ARMS];      /* arm i vs holdout computed (i >= 1) */
  stats_comparison_t compare[OFFERS_MAX_ARMS];
  bool has_srm;
  double srm_chi2, srm_p;
  bool srm_flag;              /* p < STATS_SRM_THRESHOLD */
  int64_t redemptions, money_spent;
} offers_report_t;

/* Report for an offer (o as read by offers_get: arm names point into it). */
int offers_report(store_txn_t *t, const offer_t *o, offers_report_t *out, perr_info_t *e);

/* The global holdout (docs/OFFERS.md section 6): record that a customer passed through
 * offers.decide, in the global holdout (held_out) or not, with a cart in currency. The first
 * call fixes the customer's arm (0 global holdout, 1 engine) and counts one exposure; later
 * calls extend the attribution window. Orders are then credited by offers_attribute_order
 * like an offer's (same window rule, orders in that currency only). */
int offers_global_exposure(store_txn_t *w, const char *customer, bool held_out,
                           const char *currency, int64_t ts, perr_info_t *e);
/* Engine (arm 1) against the global holdout (arm 0) for one currency; SRM against
 * [global_holdout, 1 - global_holdout] when global_holdout > 0. */
int offers_global_report(store_txn_t *t, const char *currency, double global_holdout,
                         offers_report_t *out, perr_info_t *e);

/* customer.forget (offer_forget.c): move the rows keyed by customer `from` (sticky arms and
 * exposure windows, shown/redeemed cap counters) to `to`, and delete its event records
 * (impressions, clicks, orders: their keys and fingerprints derive from the id), in the
 * caller's write txn; *rows = rows moved + events deleted. Aggregates (arm counters,
 * budgets) are untouched. */
int offers_customer_rekey(store_txn_t *w, const char *from, const char *to, uint64_t *rows,
                          perr_info_t *e);
/* customer.forget of an id with no customer record: the same rows deleted instead of moved
 * (the seen rows, the cap counters, the event records and their index rows); *rows = rows
 * deleted (0: the offers tables hold nothing naming the id). */
int offers_customer_erase(store_txn_t *w, const char *customer, uint64_t *rows, perr_info_t *e);

/* ---- customer.export: the offers rows of one customer (offer_export.c) ---- */
typedef struct offers_export_seen_s {
  const char *offer_id;    /* the offer, or the currency of the global holdout */
  int global_holdout;      /* 1: the global holdout experiment (arm 0 = held out) */
  int arm;                 /* the experiment arm the customer was assigned (0 = holdout) */
  int64_t first_ts, last_ts; /* first and last impression */
  int converted;
  int64_t revenue;         /* attributed to the offer, minor units */
} offers_export_seen_t;
typedef struct offers_export_counter_s {
  const char *offer_id;
  char kind;               /* 's' impressions shown, 'r' redemptions, in one cap period */
  int64_t period;          /* day, Monday-based week or month index (offer's cap period) */
  int64_t count;
} offers_export_counter_t;
typedef struct offers_export_s {
  offers_export_seen_t *seen;
  size_t nseen;
  offers_export_counter_t *counters;
  size_t ncounters;
} offers_export_t;
/* Everything the offers tables hold under the customer id; strings and arrays in a.
 * Cost: the customer's exposures plus every cap row of every offer. */
int offers_customer_export(store_txn_t *t, const char *customer, arena_t *a,
                           offers_export_t *out, perr_info_t *e);

#endif
