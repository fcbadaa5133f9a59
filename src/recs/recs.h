/* recs.h -- recommendations core (issue 4): item interner, co-purchase model builder,
 * immutable model snapshots (CSR top-K neighbour lists, popularity, trending), an incremental
 * delta, scoring (cart / similar / for_customer / upsell) with business filters, and
 * association rules. Pure C11: no I/O except what the caller hands in, no global state.
 *
 * Threading contract
 *   - recs_snapshot_t is immutable after it is built or loaded: any number of threads may
 *     score against it at once. Lifetime is reference counted (recs_snapshot_ref/unref);
 *     recs_holder_t publishes "the current snapshot" and swaps it atomically.
 *   - recs_delta_t is internally locked (rwlock): one writer records orders while readers
 *     score.
 *   - recs_scratch_t is per thread (one per event loop / worker); it makes scoring
 *     allocation-free after warm-up.
 *   - recs_builder_t belongs to one thread (the background rebuild thread); it may use
 *     cfg.threads worker threads internally while building.
 *
 * Item ids are dense uint32 indices into a snapshot's item table. A builder seeded with the
 * previous snapshot (recs_builder_new(cfg, prev)) keeps every old id, so ids are stable across
 * rebuilds; new items get the next ids. RECS_NO_ITEM marks an unknown item in a request.
 *
 * Similarity (built once per rebuild; c_ij = weighted count of transactions holding i and
 * j, n_i = weighted count holding i, N = weighted transactions; weights are 1 or
 * 0.5^(age/half_life) with time decay):
 *   COOC     c_ij
 *   COSINE   c_ij / (n_i^alpha * n_j^(1-alpha))   (alpha = 0.5: c_ij / sqrt(n_i n_j))
 *   LIFT     c_ij * N / (n_i n_j)
 *   JACCARD  c_ij / (n_i + n_j - c_ij)
 * then * c_ij/(c_ij+shrink) (shrinkage of low-support pairs), * n_j^-pop_damp (IDF-like
 * damping of popular neighbours), ^ power, pairs with raw count < min_support dropped, top-K
 * kept, optionally each row normalised to max 1 (row_norm). */
#ifndef PATRON_RECS_H
#define PATRON_RECS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/perr.h"

#define RECS_NO_ITEM UINT32_MAX
#define RECS_NO_CATEGORY UINT32_MAX
#define RECS_PRICE_UNKNOWN INT64_MIN

/* ---- interner: byte-string id -> dense uint32 (mutable, single-threaded) ---- */
typedef struct recs_interner_s recs_interner_t;
recs_interner_t *recs_interner_new(void);
void recs_interner_free(recs_interner_t *in);
/* The id of s (adding it if new). PERR_INVALID_PARAMS for empty ids or ids over 1 KiB. */
int recs_intern(recs_interner_t *in, const char *s, size_t n, uint32_t *id);
/* RECS_NO_ITEM when absent. */
uint32_t recs_interner_find(const recs_interner_t *in, const char *s, size_t n);
uint32_t recs_interner_count(const recs_interner_t *in);
const char *recs_interner_name(const recs_interner_t *in, uint32_t id, size_t *n);

/* ---- model configuration ---- */
typedef enum { RECS_SIM_COOC, RECS_SIM_COSINE, RECS_SIM_LIFT, RECS_SIM_JACCARD } recs_sim_t;

/* Model family of the basket graph (the customer graph is always co-occurrence):
 *   COOC         the pairwise similarity above;
 *   EASE         Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW'19):
 *                B = I - P diag(1/diag(P)), P = (G + ease_lambda I)^-1 over the item Gram
 *                matrix G (G_ij = weighted baskets holding i and j); item i's row keeps its
 *                ease_top_k positive B_ij. Dense solve (LAPACKE): n^2 doubles of memory;
 *   SPARSE_EASE  the same objective with each column of B restricted to the item's
 *                ease_neighbours most cosine-similar co-purchased items (the feature
 *                selection of fsSLIM, Ning & Karypis, ICDM 2011, with EASE's L2 penalty):
 *                one (k x k) ridge solve per item, memory O(n k);
 *   AUTO         EASE up to ease_max_items items, SPARSE_EASE above.
 * recs_config_t.model never reads AUTO back from a snapshot: it holds what was built. */
typedef enum { RECS_MODEL_COOC = 0, RECS_MODEL_EASE, RECS_MODEL_SPARSE_EASE, RECS_MODEL_AUTO } recs_model_t;

typedef struct recs_config_s {
  recs_sim_t sim;
  double alpha;          /* COSINE exponent split, 0.5 = symmetric cosine */
  double shrink;         /* >= 0; 0 = none */
  double pop_damp;       /* >= 0; 0 = none */
  double power;          /* > 0; 1 = none */
  int row_norm;          /* 1: divide each neighbour row by its max score */
  uint32_t top_k;        /* neighbours kept per item, 1..65535 (0 = keep all) */
  uint32_t min_support;  /* raw co-occurrence count a pair needs, >= 1 */
  double half_life_days; /* time decay on basket timestamps; 0 = off */
  uint32_t max_basket;   /* baskets with more distinct items keep their first max (0 = all) */
  int customer_graph;    /* 1: also build the customer-level graph ("bought by the same
                            customers"), used by similar/for_customer/upsell */
  uint32_t max_history;  /* distinct items per customer in that graph (most recent kept) */
  double trend_days;     /* trending window ending at the newest basket */
  int threads;           /* build workers, >= 1 */
  recs_model_t model;    /* COOC (default), EASE, SPARSE_EASE or AUTO */
  double ease_lambda;    /* EASE L2 penalty, > 0 */
  uint32_t ease_max_items;  /* AUTO: dense EASE up to this many items (memory 8 n^2 bytes) */
  uint32_t ease_neighbours; /* SPARSE_EASE: candidate neighbours solved per item */
  uint32_t ease_top_k;   /* EASE / SPARSE_EASE: basket-graph neighbours kept per item (the
                            served row); 0 = top_k. Chosen on the validation split. */
  double ease_blend;     /* EASE rows + ease_blend x the co-occurrence rows (sim, power, top_k
                            above); 0 = EASE alone */
  double ease_pop_damp;  /* EASE targets damped by popularity: B_ij x n_j^-ease_pop_damp */
} recs_config_t;

/* Defaults of every knob: the co-occurrence family (model COOC: cosine^2, top 100, the
 * earlier default) with the EASE knobs chosen on the validation split (docs/BENCHMARKS.md). */
void recs_config_default(recs_config_t *c);
/* What patrond ships (models.recs_model = sparse_ease, the best on the validation split):
 * recs_config_default with model SPARSE_EASE. */
void recs_config_shipped(recs_config_t *c);
/* The model a build with c over n items uses (AUTO resolved; EASE above 65535 items or when
 * 8 n^2 bytes overflow is SPARSE_EASE). */
recs_model_t recs_model_resolve(const recs_config_t *c, uint32_t n);
/* "cooc", "ease", "sparse_ease", "auto"; parse returns -1 for anything else. */
const char *recs_model_name(recs_model_t m);
int recs_model_parse(const char *s, recs_model_t *out);
/* The published "plain cosine item-item" baseline: COSINE alpha 0.5, all neighbours. */
void recs_config_baseline_cosine(recs_config_t *c);

/* ---- snapshot: immutable, one contiguous blob, shareable, persistable ---- */
typedef struct recs_snapshot_s recs_snapshot_t;

typedef enum { RECS_GRAPH_BASKET = 0, RECS_GRAPH_CUSTOMER = 1 } recs_graph_t;

typedef struct recs_snapshot_stats_s {
  uint32_t items;
  uint64_t baskets, customers, edges[2], bytes;
  int64_t built_at;      /* newest basket timestamp seen */
  uint32_t trending;     /* items on the trending list */
} recs_snapshot_stats_t;

void recs_snapshot_ref(recs_snapshot_t *s);
void recs_snapshot_unref(recs_snapshot_t *s); /* frees at zero; NULL ok */
void recs_snapshot_stats(const recs_snapshot_t *s, recs_snapshot_stats_t *out);
const recs_config_t *recs_snapshot_config(const recs_snapshot_t *s);
uint32_t recs_snapshot_lookup(const recs_snapshot_t *s, const char *id, size_t n);
const char *recs_snapshot_name(const recs_snapshot_t *s, uint32_t item, size_t *n);
/* The names of every item at once: item i (< the item count) is the bytes
 * [str + off[i], str + off[i + 1]) (what recs_snapshot_name answers, without a call per item). */
const char *recs_snapshot_names(const recs_snapshot_t *s, const uint32_t **off);
/* Neighbour row of item in graph g (falls back to the basket graph if g is absent). */
size_t recs_snapshot_neighbours(const recs_snapshot_t *s, recs_graph_t g, uint32_t item,
                                const uint32_t **ids, const float **scores);
/* Baskets containing item (the popularity used for fallback and ties). */
uint32_t recs_snapshot_popularity(const recs_snapshot_t *s, uint32_t item);
/* Serialised form: versioned header + plain little-endian arrays + CRC-32. The bytes belong
 * to the snapshot (valid while it lives). */
const void *recs_snapshot_bytes(const recs_snapshot_t *s, size_t *len);
/* Validates everything (magic, version, sizes, ranges, CRC) and copies the bytes. */
int recs_snapshot_load(const void *buf, size_t len, recs_snapshot_t **out, perr_info_t *e);
int recs_snapshot_save_file(const recs_snapshot_t *s, const char *path, perr_info_t *e);
int recs_snapshot_load_file(const char *path, recs_snapshot_t **out, perr_info_t *e);

/* The current snapshot, swapped atomically. acquire returns a new reference (or NULL);
 * the caller unrefs it after the request. swap takes over the caller's reference. */
typedef struct recs_holder_s recs_holder_t;
recs_holder_t *recs_holder_new(void);
void recs_holder_free(recs_holder_t *h);
recs_snapshot_t *recs_holder_acquire(recs_holder_t *h);
void recs_holder_swap(recs_holder_t *h, recs_snapshot_t *s);

/* ---- builder ---- */
typedef struct recs_builder_s recs_builder_t;
/* prev (optional) seeds the item ids so they stay stable across rebuilds. */
recs_builder_t *recs_builder_new(const recs_config_t *cfg, const recs_snapshot_t *prev);
void recs_builder_free(recs_builder_t *b);
/* One order: its distinct products are the basket (duplicates are merged). customer may be
 * NULL/0-length (guest). ts = seconds since the epoch. */
int recs_builder_add_basket(recs_builder_t *b, const char *customer, size_t customer_len,
                            int64_t ts, const char *const *items, const size_t *item_lens,
                            size_t nitems);
/* Fast path with ids from recs_builder_intern. customer_id = RECS_NO_ITEM for guests. */
int recs_builder_intern(recs_builder_t *b, const char *s, size_t n, uint32_t *id);
int recs_builder_intern_customer(recs_builder_t *b, const char *s, size_t n, uint32_t *id);
int recs_builder_add_basket_ids(recs_builder_t *b, uint32_t customer_id, int64_t ts,
                                const uint32_t *items, size_t nitems);
/* Builds the snapshot (refcount 1). The builder stays usable (more baskets, rebuild). */
int recs_builder_build(recs_builder_t *b, recs_snapshot_t **out, perr_info_t *e);
/* Baskets as CSR (for association rules): offsets[nbaskets+1] into items. */
void recs_builder_baskets(const recs_builder_t *b, const uint64_t **offsets,
                          const uint32_t **items, size_t *nbaskets, uint32_t *nitems);

/* ---- incremental delta: pair counts of orders recorded since the snapshot was built ----
 * Merged at query time: a delta pair adds delta_weight * c'_ij / sqrt(N_i N_j) (N = snapshot
 * + delta basket counts), i.e. the first-order change of a cosine score; full rebuilds fold
 * the orders in exactly and start a fresh delta. New products get ids >= snapshot items. */
typedef struct recs_delta_s recs_delta_t;
/* max_pairs bounds memory; when full, add_basket returns PERR_TOO_LARGE (time to rebuild). */
recs_delta_t *recs_delta_new(recs_snapshot_t *base, size_t max_pairs);
void recs_delta_free(recs_delta_t *d);
int recs_delta_intern(recs_delta_t *d, const char *s, size_t n, uint32_t *id);
uint32_t recs_delta_lookup(const recs_delta_t *d, const char *s, size_t n);
int recs_delta_add_basket(recs_delta_t *d, const uint32_t *items, size_t nitems, int64_t ts);
/* Name of a snapshot or delta item (copied into buf, NUL-terminated; returns length). */
size_t recs_delta_name(const recs_delta_t *d, uint32_t item, char *buf, size_t cap);
uint64_t recs_delta_pairs(const recs_delta_t *d);

/* ---- scoring ---- */
typedef enum {
  RECS_REASON_CO_PURCHASE = 0,
  RECS_REASON_UPSELL,
  RECS_REASON_PERSONAL,
  RECS_REASON_POPULAR,
  RECS_REASON_TRENDING,
  RECS_REASON_REPURCHASE /* from the customer's own history (the repurchase term) */
} recs_reason_t;
#define RECS_REASON_COUNT 6
const char *recs_reason_name(recs_reason_t r); /* "co_purchase", ... */
/* The names of the RECS_REASON_COUNT reasons, by reason (recs_reason_name's table). */
const char *const *recs_reason_names(void);

/* Upsell widens in steps (recs_upsell): PRICE_BAND = category items in the price band that
 * nobody co-considered, by popularity; CATEGORY_POPULAR = category best-sellers priced above
 * the product without the band's upper bound. */
typedef enum {
  RECS_FALLBACK_NONE = 0,
  RECS_FALLBACK_POPULAR,
  RECS_FALLBACK_TRENDING,
  RECS_FALLBACK_PRICE_BAND,
  RECS_FALLBACK_CATEGORY_POPULAR
} recs_fallback_t;
/* "none", "popular", "trending", "price_band", "category_popular" */
const char *recs_fallback_name(recs_fallback_t f);

typedef struct recs_item_info_s {
  int in_stock;           /* 0/1 */
  int consumable;         /* 0/1: may be recommended again to its buyer */
  uint32_t category;      /* RECS_NO_CATEGORY = unknown */
  int64_t price, margin;  /* minor units; RECS_PRICE_UNKNOWN = unknown */
} recs_item_info_t;

/* Business data about items. Either the callback (wins when set; return 0 = no data) or the
 * arrays (indexed by item id, ids >= n have no data). No data = in stock, not consumable,
 * no category, no price/margin. */
typedef struct recs_catalog_s {
  int (*info)(void *ctx, uint32_t item, recs_item_info_t *out);
  void *ctx;
  uint32_t n;
  const uint64_t *in_stock_bits;   /* bit i set = in stock; NULL = all in stock */
  const uint64_t *consumable_bits; /* NULL = none */
  const uint32_t *category;        /* NULL = none */
  const int64_t *price, *margin;   /* NULL = unknown */
} recs_catalog_t;

typedef struct recs_filter_s {
  int in_stock_only;
  const uint32_t *exclude_items;
  size_t n_exclude_items;
  const uint32_t *exclude_categories;
  size_t n_exclude_categories;
  int64_t price_min, price_max; /* band when price_max > 0; unknown prices fail a band */
  uint32_t max_per_category;    /* 0 = unlimited (unknown category is not capped) */
  double margin_boost;          /* score *= 1 + margin_boost * margin / price */
} recs_filter_t;

typedef struct recs_params_s {
  double history_weight;    /* cart: neighbours of history items, weight per item */
  double repurchase_weight; /* cart/for_customer: the item's history count / the largest */
  double cycle_weight;      /* cart/for_customer: x due(item), the customer's own repurchase
                               cycle (needs history_ts and now; formula at recs_cart below) */
  double delta_weight;      /* weight of the incremental delta (cosine-scale pair scores) */
  double upsell_max_ratio;  /* upsell: price in (p, p * ratio] */
  int fallback_trending;    /* fill with trending before popular */
} recs_params_t;
void recs_params_default(recs_params_t *p);
/* The serving knobs chosen on the validation split for a model family (COOC keeps the
 * defaults; the EASE family, whose scores have another scale, gets its own repurchase,
 * history, repurchase-cycle and delta weights: docs/BENCHMARKS.md §7a). Applied on top of
 * recs_params_default. */
void recs_params_for_model(recs_params_t *p, recs_model_t m);

typedef struct recs_request_s {
  const uint32_t *items;     /* cart items; similar/upsell: items[0] is the product */
  size_t nitems;
  const uint32_t *history;   /* customer's purchases, one entry per basket holding the item */
  size_t nhistory;
  const int64_t *history_ts; /* NULL, or the time (s) of the basket of each history entry */
  int64_t now;               /* the request's time (s); the cycle term needs it > 0 */
  const uint32_t *candidates;/* upsell: candidate items (e.g. the category); NULL = model */
  size_t ncandidates;
  const recs_filter_t *filter;   /* NULL = none */
  const recs_catalog_t *catalog; /* NULL = none */
  const recs_delta_t *delta;     /* NULL = none; must be based on this snapshot */
  const recs_params_t *params;   /* NULL = defaults */
} recs_request_t;

typedef struct recs_result_s {
  uint32_t item;
  float score;
  uint8_t reason; /* recs_reason_t */
} recs_result_t;

typedef struct recs_answer_s {
  recs_fallback_t fallback; /* fallback used to fill slots (NONE when the model filled all) */
  uint32_t unknown;         /* request items (items + history) unknown to the model */
  uint32_t from_fallback;   /* results that came from the fallback */
  int in_snapshot;          /* 1: every result's item is a snapshot item (< its item count);
                               0: not known (delta-only items may be among them) */
} recs_answer_t;

typedef struct recs_scratch_s recs_scratch_t;
recs_scratch_t *recs_scratch_new(void);
void recs_scratch_free(recs_scratch_t *sc);

/* Each returns the number of results written to out (<= nout) or a negative perr code, and
 * fills *ans. Common to all: results never include the request's items, excluded ids, or
 * anything failing the filter; ranking is score desc, then popularity, then id; slots the
 * model cannot fill come from trending (if params.fallback_trending) then popularity, with
 * score 0, reason popular/trending (upsell keeps reason upsell) and ans->fallback set.
 * Unknown items (RECS_NO_ITEM or ids the model lacks) are counted in ans->unknown.
 *   recs_cart: sum of basket-graph rows of ALL cart items (+ history_weight x rows of the
 *     distinct history items, + repurchase_weight x the item's history count divided by the
 *     largest history count, + cycle_weight x due(item) for items bought in >= 2 baskets
 *     when history_ts and now are given: cycle = (last - first) / (count - 1) (the mean
 *     interval between the customer's purchases of it; >= 1 day), r = (now - last) / cycle,
 *     due = exp(-ln(r)^2 / (2 x 0.5^2)) for r > 0 (1 when the cycle has just elapsed, 0.38 at
 *     half or twice it), else 0); co_purchase, or repurchase for history items when either
 *     term was added (for_customer likewise).
 *   recs_similar: the customer-graph row of items[0] ("bought by the same customers";
 *     basket graph when the snapshot has no customer graph); co_purchase.
 *   recs_for_customer: customer-graph rows of the distinct history items (+ basket rows of an
 *     optional cart in items); history items are excluded unless the catalog marks them
 *     consumable (then they also get the repurchase term); personal; cold start = fallback.
 *   recs_upsell: items[0]'s price and category from the catalog; candidates must share the
 *     category (when known) and cost more, at most upsell_max_ratio times (when the price is
 *     known); ranked by co-consideration (the customer-graph row of items[0]) times the
 *     filter's margin boost; with q->candidates only those are considered. When a category or
 *     price is known, empty slots are widened in steps (score 0, reason upsell, every filter
 *     still applies): band items not co-considered by popularity (fallback PRICE_BAND), then
 *     the category's items priced above the product with no upper bound by popularity
 *     (CATEGORY_POPULAR); the steps walk q->candidates, or the popularity list without them.
 *     Otherwise (unknown product) the popular fallback. */
int recs_cart(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
              recs_result_t *out, size_t nout, recs_answer_t *ans);
int recs_similar(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                 recs_result_t *out, size_t nout, recs_answer_t *ans);
int recs_for_customer(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                      recs_result_t *out, size_t nout, recs_answer_t *ans);
int recs_upsell(const recs_snapshot_t *s, recs_scratch_t *sc, const recs_request_t *q,
                recs_result_t *out, size_t nout, recs_answer_t *ans);

/* ---- association rules (apriori semantics of arules: itemset frequent when its count >=
 * ceil(minsupp * N); rules X => {y} with one RHS item; maxlen items per itemset) ---- */
#define RECS_RULE_MAXLEN 10
typedef struct recs_rule_s {
  uint32_t lhs[RECS_RULE_MAXLEN - 1];
  uint32_t nlhs;
  uint32_t rhs;
  uint32_t count;      /* baskets holding lhs and rhs */
  double support, confidence, lift;
} recs_rule_t;

typedef struct recs_rules_s {
  recs_rule_t *rules;  /* sorted by lift desc, then confidence desc, then support desc */
  size_t n;
  size_t itemsets;     /* frequent itemsets found (all sizes) */
} recs_rules_t;

int recs_rules_mine(const uint64_t *offsets, const uint32_t *items, size_t nbaskets,
                    uint32_t nitems, double minsupp, double minconf, unsigned maxlen,
                    recs_rules_t *out, perr_info_t *e);
void recs_rules_free(recs_rules_t *r);

/* CRC-32 (IEEE 802.3, zlib-compatible). Start with crc = 0. */
uint32_t recs_crc32(uint32_t crc, const void *buf, size_t n);

#endif
