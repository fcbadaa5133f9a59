/* codec_recs.c -- decoders/encoders of the recommendation methods (recs.cart, recs.upsell,
 * recs.similar, recs.for_customer, recs.rules); types in recs_types.h, semantics in
 * PROTOCOL.md. Decoders check types and bounds and name the field by path
 * ("filters.max_price", "items[3]"); the handler checks what needs the daemon's settings
 * (limit <= recs.max_results). Invariant: params strings borrow from the request (zero copy). */
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "params.h"
#include "rpc.h"

#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */

static int dec_filters(const pmap_t *top, arena_t *a, recs_wire_filter_t *f, perr_info_t *e) {
  static const char *const keys[] = {"in_stock_only", "exclude_products", "exclude_categories",
                                     "min_price", "max_price", "currency", "max_per_category",
                                     "boost_margin", NULL};
  pmap_t m;
  int rc;
  int64_t v = 0;
  f->in_stock_only = 1;
  const msgpack_object *o = pmap_find(top, "filters");
  if ((rc = pmap_from(o, "filters", &m, e)) || (rc = pmap_check_keys(&m, keys, e))) return rc;
  if ((rc = pmap_bool(&m, "in_stock_only", 0, &f->in_stock_only, NULL, e))) return rc;
  if ((rc = pmap_str_list(&m, "exclude_products", 0, RECS_WIRE_MAX_IDS, CORE_ID_MAX, a,
                          &f->exclude_products, &f->n_exclude_products, e)))
    return rc;
  if ((rc = pmap_str_list(&m, "exclude_categories", 0, RECS_WIRE_MAX_IDS, CORE_ID_MAX, a,
                          &f->exclude_categories, &f->n_exclude_categories, e)))
    return rc;
  if ((rc = pmap_int(&m, "min_price", 0, 0, MONEY_MAX, &f->min_price, &f->has_min_price, e)))
    return rc;
  if ((rc = pmap_int(&m, "max_price", 0, 1, MONEY_MAX, &f->max_price, &f->has_max_price, e)))
    return rc;
  if (f->has_min_price && f->has_max_price && f->min_price > f->max_price)
    return perr_set(e, PERR_INVALID_PARAMS, "filters.max_price", "max_price is below min_price");
  if ((rc = pmap_str(&m, "currency", 0, 3, 3, &f->currency, NULL, e))) return rc;
  if (f->currency.p && !core_currency_valid(f->currency, NULL))
    return perr_set(e, PERR_INVALID_PARAMS, "filters.currency", "unknown currency code");
  if ((rc = pmap_int(&m, "max_per_category", 0, 0, RECS_WIRE_MAX_LIMIT, &v, NULL, e))) return rc;
  f->max_per_category = (uint32_t)v;
  return pmap_double(&m, "boost_margin", 0, 0, 100, &f->boost_margin, NULL, e);
}

/* what: which fields the method takes (bit set below). */
enum { Q_ITEMS = 1, Q_ITEMS_REQ = 2, Q_PRODUCT = 4, Q_CUSTOMER = 8, Q_CUSTOMER_REQ = 16 };

static int dec_query(const msgpack_object *params, arena_t *a, recs_query_t *q, unsigned what,
                     const char *const *keys, perr_info_t *e) {
  pmap_t m;
  int rc;
  int64_t lim = 0;
  if ((rc = pmap_from(params, "", &m, e)) || (rc = pmap_check_keys(&m, keys, e))) return rc;
  if (what & Q_ITEMS) {
    /* a cart needs at least one item: "items must have 1 to 1000 items" */
    if ((rc = pmap_str_list_min(&m, "items", (what & Q_ITEMS_REQ) != 0,
                                (what & Q_ITEMS_REQ) ? 1 : 0, RECS_WIRE_MAX_IDS, CORE_ID_MAX, a,
                                &q->items, &q->nitems, e)))
      return rc;
    if ((what & Q_ITEMS_REQ) && q->nitems == 0)
      return perr_set(e, PERR_INVALID_PARAMS, "items", "a cart needs at least one item");
  }
  if ((what & Q_PRODUCT) &&
      (rc = pmap_str(&m, "product_id", 1, 1, CORE_ID_MAX, &q->product_id, NULL, e)))
    return rc;
  if ((what & Q_CUSTOMER) && (rc = pmap_str(&m, "customer_id", (what & Q_CUSTOMER_REQ) != 0, 1,
                                            CORE_ID_MAX, &q->customer_id, NULL, e)))
    return rc;
  if ((rc = pmap_int(&m, "limit", 0, 1, RECS_WIRE_MAX_LIMIT, &lim, NULL, e))) return rc;
  q->limit = (uint32_t)lim;
  return dec_filters(&m, a, &q->filters, e);
}

int dec_recs_cart(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"items", "customer_id", "limit", "filters", NULL};
  return dec_query(params, a, out, Q_ITEMS | Q_ITEMS_REQ | Q_CUSTOMER, keys, e);
}

int dec_recs_upsell(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"product_id", "customer_id", "items", "limit", "filters",
                                     NULL};
  return dec_query(params, a, out, Q_PRODUCT | Q_CUSTOMER | Q_ITEMS, keys, e);
}

int dec_recs_similar(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"product_id", "limit", "filters", NULL};
  return dec_query(params, a, out, Q_PRODUCT, keys, e);
}

int dec_recs_for_customer(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"customer_id", "items", "limit", "filters", NULL};
  return dec_query(params, a, out, Q_CUSTOMER | Q_CUSTOMER_REQ | Q_ITEMS, keys, e);
}

int dec_recs_rules(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"min_support", "min_confidence", "max_len", "limit",
                                     "product_id", NULL};
  recs_rules_params_t *p = out;
  pmap_t m;
  int rc;
  int64_t v;
  (void)a;
  if ((rc = pmap_from(params, "", &m, e)) || (rc = pmap_check_keys(&m, keys, e))) return rc;
  p->min_support = 0.01;
  p->min_confidence = 0.5;
  if ((rc = pmap_double(&m, "min_support", 0, 0.0001, 1, &p->min_support, NULL, e))) return rc;
  if ((rc = pmap_double(&m, "min_confidence", 0, 0, 1, &p->min_confidence, NULL, e))) return rc;
  v = 3;
  if ((rc = pmap_int(&m, "max_len", 0, 2, 5, &v, NULL, e))) return rc;
  p->max_len = (uint32_t)v;
  v = 50;
  if ((rc = pmap_int(&m, "limit", 0, 1, RECS_WIRE_MAX_LIMIT, &v, NULL, e))) return rc;
  p->limit = (uint32_t)v;
  return pmap_str(&m, "product_id", 0, 1, CORE_ID_MAX, &p->product_id, NULL, e);
}

/* ---- encoders ---- */

/* {product_id, score, reason} as one buffer write (the hot path of every recs answer). */
static void put_item(msgpack_packer *pk, const recs_wire_item_t *it) {
  unsigned char b[64 + CORE_ID_MAX];
  size_t rl = strlen(it->reason), n = 0;
  if (it->id_len > CORE_ID_MAX || rl > 31) {
    msgpack_pack_map(pk, 3);
    pk_kv_strn(pk, "product_id", it->id, it->id_len);
    pk_kv_double(pk, "score", it->score);
    pk_kv_str(pk, "reason", it->reason);
    return;
  }
  b[n++] = 0x83;
  b[n++] = 0xaa;
  memcpy(b + n, "product_id", 10);
  n += 10;
  if (it->id_len < 32) {
    b[n++] = (unsigned char)(0xa0 | it->id_len);
  } else {
    b[n++] = 0xd9;
    b[n++] = (unsigned char)it->id_len;
  }
  memcpy(b + n, it->id, it->id_len);
  n += it->id_len;
  b[n++] = 0xa5;
  memcpy(b + n, "score", 5);
  n += 5;
  b[n++] = 0xcb;
  uint64_t u;
  memcpy(&u, &it->score, 8);
  for (int k = 7; k >= 0; k--) b[n++] = (unsigned char)(u >> (8 * k));
  b[n++] = 0xa6;
  memcpy(b + n, "reason", 6);
  n += 6;
  b[n++] = (unsigned char)(0xa0 | rl);
  memcpy(b + n, it->reason, rl);
  n += rl;
  pk->callback(pk->data, (const char *)b, n);
}

static void enc_list(msgpack_packer *pk, const void *result) {
  const recs_list_result_t *r = result;
  msgpack_pack_map(pk, 5 + (r->has_customer ? 1 : 0));
  pk_str(pk, "items");
  msgpack_pack_array(pk, r->n);
  for (size_t i = 0; i < r->n; i++) put_item(pk, &r->items[i]);
  pk_kv_str(pk, "fallback", r->fallback ? r->fallback : "none");
  pk_kv_uint(pk, "model_version", r->model_version);
  pk_kv_uint(pk, "unknown_items", r->unknown_items);
  pk_kv_uint(pk, "history_orders", r->history_orders);
  if (r->has_customer) pk_kv_bool(pk, "customer_known", r->customer_known);
}

void enc_recs_cart(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_upsell(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_similar(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_for_customer(msgpack_packer *pk, const void *r) { enc_list(pk, r); }

void enc_recs_rules(msgpack_packer *pk, const void *result) {
  const recs_rules_result_t *r = result;
  msgpack_pack_map(pk, 7);
  pk_str(pk, "rules");
  msgpack_pack_array(pk, r->n);
  for (size_t i = 0; i < r->n; i++) {
    const recs_wire_rule_t *x = &r->rules[i];
    msgpack_pack_map(pk, 6);
    pk_str(pk, "lhs");
    msgpack_pack_array(pk, x->nlhs);
    for (size_t k = 0; k < x->nlhs; k++) pk_strn(pk, x->lhs[k].p, x->lhs[k].n);
    pk_kv_strn(pk, "rhs", x->rhs.p, x->rhs.n);
    pk_kv_double(pk, "support", x->support);
    pk_kv_double(pk, "confidence", x->confidence);
    pk_kv_double(pk, "lift", x->lift);
    pk_kv_uint(pk, "count", x->count);
  }
  pk_kv_uint(pk, "total", r->total);
  pk_kv_uint(pk, "baskets", r->baskets);
  pk_kv_uint(pk, "itemsets", r->itemsets);
  pk_kv_double(pk, "min_support", r->min_support);
  pk_kv_double(pk, "min_confidence", r->min_confidence);
  pk_kv_uint(pk, "max_len", r->max_len);
}
