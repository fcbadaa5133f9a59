/* recs_types.h -- param/result types of the recommendation methods (issue 4), owned by the
 * core: recs.cart, recs.upsell, recs.similar, recs.for_customer (loop thread) and recs.rules
 * (admin, worker). Decoders (protocol/codec_recs.c) fill the params; the daemon's handlers
 * (daemon/handlers_recs.c) fill the results from the core's snapshot. No msgpack here;
 * protocol/methods.h includes it.
 * Invariant: result strings (and a list result's raw results) borrow from the served model
 * snapshot, the recs state's buffers or the request's arena and stay valid until the answer
 * is encoded on the same thread, right after the handler. */
#ifndef PATRON_RECS_TYPES_H
#define PATRON_RECS_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "commerce/commerce.h"
#include "recs/recs.h"

#define RECS_WIRE_MAX_IDS 1000    /* cart items, exclusion lists */
#define RECS_WIRE_MAX_LIMIT 1000  /* answers per call (the daemon caps it at recs.max_results) */

/* Business filters, common to every method ("filters" map). */
typedef struct recs_wire_filter_s {
  int in_stock_only;              /* default 1 */
  pstr_t *exclude_products;
  size_t n_exclude_products;
  pstr_t *exclude_categories;
  size_t n_exclude_categories;
  int has_min_price, has_max_price;
  int64_t min_price, max_price;   /* minor units */
  pstr_t currency;                /* optional: the band's currency (p == NULL: any) */
  uint32_t max_per_category;      /* 0 = no cap */
  double boost_margin;            /* score *= 1 + boost_margin * margin / price */
} recs_wire_filter_t;

/* Params of cart / upsell / similar / for_customer (each method accepts its own subset). */
typedef struct recs_query_s {
  pstr_t *items;                  /* cart (recs.cart: required; upsell/for_customer: optional) */
  size_t nitems;
  pstr_t product_id;              /* upsell, similar */
  pstr_t customer_id;             /* optional (for_customer: required) */
  uint32_t limit;                 /* 0 = default (10) */
  int64_t as_of;                  /* cart/for_customer: the time (s) the customer's repurchase
                                     cycle is judged at; 0 = now */
  recs_wire_filter_t filters;
  pstr_t items_small[8];          /* recs.cart's fast decoder: items of short carts (no arena
                                     allocation); the struct is never copied while items point here */
} recs_query_t;

typedef struct recs_wire_item_s {
  const char *id;
  size_t id_len;
  double score;
  const char *reason;             /* co_purchase, upsell, personal, popular, trending, repurchase */
} recs_wire_item_t;

typedef struct recs_list_result_s {
  recs_wire_item_t *items;        /* n items; NULL: the raw form below */
  size_t n;
  /* The raw form (items == NULL): the scorer's n results, named by the encoder: a result's
   * item (below the name table's count) is names + name_off[item], name_off[item + 1] -
   * name_off[item] bytes; its reason (< RECS_REASON_COUNT) is reason_names[reason]. Saves
   * building a wire item per answer (the handler uses it when every item is named there). */
  const recs_result_t *results;
  const char *names;
  const uint32_t *name_off;
  const char *const *reason_names;
  const char *fallback;           /* none, popular, trending */
  uint64_t model_version;         /* 0 = no model built yet */
  uint32_t unknown_items;         /* request products the model has never seen */
  uint32_t history_orders;        /* customer orders used as history */
  int customer_known;             /* the customer has orders (when a customer_id was given) */
  int has_customer;
} recs_list_result_t;

/* recs.rules */
typedef struct recs_rules_params_s {
  double min_support, min_confidence;
  uint32_t max_len, limit;
  pstr_t product_id;              /* optional: rules whose LHS or RHS holds it */
} recs_rules_params_t;

typedef struct recs_wire_rule_s {
  pstr_t *lhs;
  size_t nlhs;
  pstr_t rhs;
  uint64_t count;
  double support, confidence, lift;
} recs_wire_rule_t;

typedef struct recs_rules_result_s {
  recs_wire_rule_t *rules;
  size_t n;
  uint64_t total;                 /* rules found (before product filter and limit) */
  uint64_t baskets, itemsets;
  double min_support, min_confidence;
  uint32_t max_len;
} recs_rules_result_t;

#endif
