/* codec_commerce.c -- decoders/encoders of the catalogue, customer and order methods.
 * Decoders check types, presence and bounds and report the exact field; the core re-checks
 * the semantic rules (currency codes, refundable amounts) against stored state. */
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "params.h"
#include "rpc.h"

#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */
#define QTY_MAX 1000000000LL
#define TS_MAX 32503680000LL         /* year 3000 */

static int begin(const msgpack_object *params, const char *const *keys, pmap_t *m,
                 perr_info_t *e) {
  int rc = pmap_from(params, "", m, e);
  return rc ? rc : pmap_check_keys(m, keys, e);
}

/* The *.get methods: one required id field. */
static int dec_one_id(const msgpack_object *params, const char *key, void *out, perr_info_t *e) {
  const char *const keys[] = {key, NULL};
  id_params_t *p = out;
  pmap_t m;
  int rc = begin(params, keys, &m, e);
  return rc ? rc : pmap_str(&m, key, 1, 1, CORE_ID_MAX, &p->id, NULL, e);
}

int dec_product_get(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  (void)a;
  return dec_one_id(params, "product_id", out, e);
}
int dec_customer_get(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  (void)a;
  return dec_one_id(params, "customer_id", out, e);
}
int dec_order_get(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  (void)a;
  return dec_one_id(params, "order_id", out, e);
}

int dec_product_upsert(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"product_id", "name", "category", "price", "currency",
                                     "stock", "margin", "active", NULL};
  product_t *p = out;
  pmap_t m;
  int rc, has_currency, has_active;
  (void)a;
  if ((rc = begin(params, keys, &m, e))) return rc;
  if ((rc = pmap_str(&m, "product_id", 1, 1, CORE_ID_MAX, &p->id, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "name", 0, 0, CORE_NAME_MAX, &p->name, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "category", 0, 0, CORE_ID_MAX, &p->category, NULL, e))) return rc;
  if ((rc = pmap_int(&m, "price", 0, 0, MONEY_MAX, &p->price, &p->has_price, e))) return rc;
  if ((rc = pmap_str(&m, "currency", 0, 3, 3, &p->currency, &has_currency, e))) return rc;
  if (p->has_price && !has_currency)
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "currency is required with price");
  p->stock = -1;
  if ((rc = pmap_int(&m, "stock", 0, -1, QTY_MAX, &p->stock, &p->has_stock, e))) return rc;
  if ((rc = pmap_int(&m, "margin", 0, -MONEY_MAX, MONEY_MAX, &p->margin, &p->has_margin, e)))
    return rc;
  p->active = 1;
  if ((rc = pmap_bool(&m, "active", 0, &p->active, &has_active, e))) return rc;
  return 0;
}

int dec_customer_upsert(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"customer_id", "email", "name", "created_at", NULL};
  customer_t *c = out;
  pmap_t m;
  int rc;
  (void)a;
  if ((rc = begin(params, keys, &m, e))) return rc;
  if ((rc = pmap_str(&m, "customer_id", 1, 1, CORE_ID_MAX, &c->id, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "email", 0, 0, CORE_NAME_MAX, &c->email, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "name", 0, 0, CORE_NAME_MAX, &c->name, NULL, e))) return rc;
  return pmap_int(&m, "created_at", 0, 0, TS_MAX, &c->created_at, NULL, e);
}

/* lines: [{product_id, quantity, unit_price?}] -- unit_price required when with_price. */
static int dec_lines(const pmap_t *m, int required, int with_price, arena_t *a,
                     order_line_t **out, size_t *n, perr_info_t *e) {
  static const char *const order_keys[] = {"product_id", "quantity", "unit_price", NULL};
  static const char *const refund_keys[] = {"product_id", "quantity", NULL};
  const msgpack_object_array *arr;
  int present, rc;
  *out = NULL;
  *n = 0;
  if ((rc = pmap_array(m, "lines", required, 1, CORE_MAX_LINES, &arr, &present, e)) || !present)
    return rc;
  order_line_t *lines = arena_alloc(a, sizeof *lines * arr->size);
  if (!lines) return perr_set(e, PERR_TOO_LARGE, "lines", "too many lines");
  for (uint32_t i = 0; i < arr->size; i++) {
    char path[32];
    pmap_t lm;
    snprintf(path, sizeof path, "lines[%u]", i);
    if ((rc = pmap_from(&arr->ptr[i], path, &lm, e))) return rc;
    if (!lm.map) return perr_set(e, PERR_INVALID_PARAMS, path, "%s must be a map", path);
    if ((rc = pmap_check_keys(&lm, with_price ? order_keys : refund_keys, e))) return rc;
    if ((rc = pmap_str(&lm, "product_id", 1, 1, CORE_ID_MAX, &lines[i].product_id, NULL, e)))
      return rc;
    if ((rc = pmap_int(&lm, "quantity", 1, 1, QTY_MAX, &lines[i].quantity, NULL, e))) return rc;
    if (with_price &&
        (rc = pmap_int(&lm, "unit_price", 1, 0, MONEY_MAX, &lines[i].unit_price, NULL, e)))
      return rc;
  }
  *out = lines;
  *n = arr->size;
  return 0;
}

int dec_order_record(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"order_id", "customer_id", "ts", "currency", "lines",
                                     "discount", "shipping", "tax", NULL};
  order_t *o = out;
  pmap_t m;
  int rc;
  if ((rc = begin(params, keys, &m, e))) return rc;
  if ((rc = pmap_str(&m, "order_id", 1, 1, CORE_ID_MAX, &o->order_id, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "customer_id", 1, 1, CORE_ID_MAX, &o->customer_id, NULL, e))) return rc;
  if ((rc = pmap_int(&m, "ts", 1, 0, TS_MAX, &o->ts, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "currency", 1, 3, 3, &o->currency, NULL, e))) return rc;
  if ((rc = dec_lines(&m, 1, 1, a, &o->lines, &o->nlines, e))) return rc;
  if ((rc = pmap_int(&m, "discount", 0, 0, MONEY_MAX, &o->discount, NULL, e))) return rc;
  if ((rc = pmap_int(&m, "shipping", 0, 0, MONEY_MAX, &o->shipping, NULL, e))) return rc;
  return pmap_int(&m, "tax", 0, 0, MONEY_MAX, &o->tax, NULL, e);
}

int dec_order_refund(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"refund_id", "order_id", "ts", "lines", "amount", NULL};
  refund_t *r = out;
  pmap_t m;
  int rc, has_amount;
  if ((rc = begin(params, keys, &m, e))) return rc;
  if ((rc = pmap_str(&m, "refund_id", 1, 1, CORE_ID_MAX, &r->refund_id, NULL, e))) return rc;
  if ((rc = pmap_str(&m, "order_id", 1, 1, CORE_ID_MAX, &r->order_id, NULL, e))) return rc;
  if ((rc = pmap_int(&m, "ts", 0, 0, TS_MAX, &r->ts, NULL, e))) return rc;
  if ((rc = dec_lines(&m, 0, 0, a, &r->lines, &r->nlines, e))) return rc;
  if ((rc = pmap_int(&m, "amount", 0, 1, MONEY_MAX, &r->amount, &has_amount, e))) return rc;
  if (has_amount == (r->nlines > 0))
    return perr_set(e, PERR_INVALID_PARAMS, "amount", "give exactly one of lines or amount");
  return 0;
}

/* ---- encoders ---- */

static void kv_pstr(msgpack_packer *pk, const char *k, pstr_t s) { pk_kv_strn(pk, k, s.p, s.n); }

void enc_product_get(msgpack_packer *pk, const void *result) {
  const product_t *p = result;
  PK_MAP(pk) {
    kv_pstr(pk, "product_id", p->id);
    kv_pstr(pk, "name", p->name);
    kv_pstr(pk, "category", p->category);
    if (p->has_price) {
      pk_kv_int(pk, "price", p->price);
      kv_pstr(pk, "currency", p->currency);
    }
    pk_kv_int(pk, "stock", p->stock);
    pk_kv_bool(pk, "in_stock", p->stock != 0);
    if (p->has_margin) pk_kv_int(pk, "margin", p->margin);
    pk_kv_bool(pk, "active", p->active);
    pk_kv_int(pk, "updated_at", p->updated_at);
  }
}

static void enc_upsert(msgpack_packer *pk, const char *idkey, const upsert_result_t *r) {
  PK_MAP(pk) {
    kv_pstr(pk, idkey, r->id);
    pk_kv_int(pk, "updated_at", r->updated_at);
  }
}
void enc_product_upsert(msgpack_packer *pk, const void *r) { enc_upsert(pk, "product_id", r); }
void enc_customer_upsert(msgpack_packer *pk, const void *r) { enc_upsert(pk, "customer_id", r); }

void enc_customer_get(msgpack_packer *pk, const void *result) {
  const customer_view_t *v = result; /* the profile + analytics (codec_analytics.c) */
  const customer_profile_t *p = &v->profile;
  const customer_t *c = &p->customer;
  PK_MAP(pk) {
    kv_pstr(pk, "customer_id", c->id);
    pk_kv_bool(pk, "known", p->known);
    kv_pstr(pk, "email", c->email);
    kv_pstr(pk, "name", c->name);
    pk_kv_int(pk, "created_at", c->created_at);
    pk_kv_int(pk, "first_order_at", p->first_order_at);
    pk_kv_int(pk, "last_order_at", p->last_order_at);
    pk_kv_int(pk, "order_count", p->order_count);
    pk_kv_int(pk, "refund_count", p->refund_count);
    pk_str(pk, "totals");
    msgpack_pack_array(pk, p->ntotals);
    for (size_t i = 0; i < p->ntotals; i++) {
      const currency_totals_t *t = &p->totals[i];
      PK_MAP(pk) {
        pk_kv_str(pk, "currency", t->currency);
        pk_kv_int(pk, "orders", t->orders);
        pk_kv_int(pk, "gross", t->gross);
        pk_kv_int(pk, "refunded", t->refunded);
        pk_kv_int(pk, "net", t->net);
        pk_kv_int(pk, "aov", t->aov);
      }
    }
    pk_str(pk, "last_products");
    msgpack_pack_array(pk, p->nlast);
    for (size_t i = 0; i < p->nlast; i++) pk_strn(pk, p->last_products[i].p, p->last_products[i].n);
    pk_kv_int(pk, "updated_at", c->updated_at);
    enc_customer_analytics(pk, &v->an); /* more fields of this map */
  }
}

void enc_order_record(msgpack_packer *pk, const void *result) {
  const order_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "created", r->created);
    pk_kv_int(pk, "subtotal", r->subtotal);
    pk_kv_int(pk, "total", r->total);
  }
}

void enc_order_refund(msgpack_packer *pk, const void *result) {
  const refund_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "created", r->created);
    pk_kv_int(pk, "amount", r->amount);
    pk_kv_int(pk, "refunded", r->refunded);
    pk_kv_int(pk, "refundable", r->refundable);
    kv_pstr(pk, "currency", r->currency);
  }
}

void enc_order_get(msgpack_packer *pk, const void *result) {
  const order_view_t *v = result;
  const order_t *o = &v->order;
  PK_MAP(pk) {
    kv_pstr(pk, "order_id", o->order_id);
    kv_pstr(pk, "customer_id", o->customer_id);
    pk_kv_int(pk, "ts", o->ts);
    kv_pstr(pk, "currency", o->currency);
    pk_str(pk, "lines");
    msgpack_pack_array(pk, o->nlines);
    for (size_t i = 0; i < o->nlines; i++) {
      PK_MAP(pk) {
        kv_pstr(pk, "product_id", o->lines[i].product_id);
        pk_kv_int(pk, "quantity", o->lines[i].quantity);
        pk_kv_int(pk, "unit_price", o->lines[i].unit_price);
      }
    }
    pk_kv_int(pk, "discount", o->discount);
    pk_kv_int(pk, "shipping", o->shipping);
    pk_kv_int(pk, "tax", o->tax);
    pk_kv_int(pk, "refunded", v->refunded);
  }
}
