/* codec_commerce.c -- decoders/encoders of the catalogue, customer and order methods.
 * Decoders are field tables (params.h): types, presence and bounds, reporting the exact
 * field; the core re-checks the semantic rules (currency codes, refundable amounts) against
 * stored state. Encoders count their maps (PK_MAP). */
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "params.h"
#include "rpc.h"

#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */
#define QTY_MAX 1000000000LL
#define TS_MAX 32503680000LL         /* year 3000 */

/* ---- field tables (params.h): the allowed names and the extraction, in one list ---- */

/* The *.get methods: one required id field. */
static const pfield_t product_get_fields[] = {
    P_STR(id_params_t, "product_id", id, 1, 1, CORE_ID_MAX)};
static const pfield_t customer_get_fields[] = {
    P_STR(id_params_t, "customer_id", id, 1, 1, CORE_ID_MAX)};
static const pfield_t order_get_fields[] = {
    P_STR(id_params_t, "order_id", id, 1, 1, CORE_ID_MAX)};
static const pspec_t product_get_spec = PSPEC(product_get_fields);
static const pspec_t customer_get_spec = PSPEC(customer_get_fields);
static const pspec_t order_get_spec = PSPEC(order_get_fields);

static int price_needs_currency(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                                perr_info_t *e) {
  const product_t *p = out;
  (void)m; (void)f; (void)a;
  if (p->has_price && !p->currency.p)
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "currency is required with price");
  return 0;
}

static const pfield_t product_upsert_fields[] = {
    P_STR(product_t, "product_id", id, 1, 1, CORE_ID_MAX),
    P_STR(product_t, "name", name, 0, 0, CORE_NAME_MAX),
    P_STR(product_t, "category", category, 0, 0, CORE_ID_MAX),
    P_INT(product_t, "price", price, 0, 0, MONEY_MAX, .present = PF_PRESENT(product_t, has_price)),
    P_STR(product_t, "currency", currency, 0, 3, 3, .check = price_needs_currency),
    P_INT(product_t, "stock", stock, 0, -1, QTY_MAX, .present = PF_PRESENT(product_t, has_stock),
          .def = -1),
    P_INT(product_t, "margin", margin, 0, -MONEY_MAX, MONEY_MAX,
          .present = PF_PRESENT(product_t, has_margin)),
    P_BOOL(product_t, "active", active, .def = 1),
};
static const pspec_t product_upsert_spec = PSPEC(product_upsert_fields);

static const pfield_t customer_upsert_fields[] = {
    P_STR(customer_t, "customer_id", id, 1, 1, CORE_ID_MAX),
    P_STR(customer_t, "email", email, 0, 0, CORE_NAME_MAX),
    P_STR(customer_t, "name", name, 0, 0, CORE_NAME_MAX),
    P_INT(customer_t, "created_at", created_at, 0, 0, TS_MAX),
};
static const pspec_t customer_upsert_spec = PSPEC(customer_upsert_fields);

/* lines: [{product_id, quantity, unit_price}] of an order; [{product_id, quantity}] of a refund */
static const pfield_t order_line_fields[] = {
    P_STR(order_line_t, "product_id", product_id, 1, 1, CORE_ID_MAX),
    P_INT(order_line_t, "quantity", quantity, 1, 1, QTY_MAX),
    P_INT(order_line_t, "unit_price", unit_price, 1, 0, MONEY_MAX),
};
static const pspec_t order_line_spec = PSPEC(order_line_fields);
static const pspec_t refund_line_spec = {order_line_fields, 2}; /* without unit_price */

static const pfield_t order_record_fields[] = {
    P_STR(order_t, "order_id", order_id, 1, 1, CORE_ID_MAX),
    P_STR(order_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_INT(order_t, "ts", ts, 1, 0, TS_MAX),
    P_STR(order_t, "currency", currency, 1, 3, 3),
    P_MAPS(order_t, "lines", lines, nlines, order_line_t, 1, 1, CORE_MAX_LINES, &order_line_spec),
    P_INT(order_t, "discount", discount, 0, 0, MONEY_MAX),
    P_INT(order_t, "shipping", shipping, 0, 0, MONEY_MAX),
    P_INT(order_t, "tax", tax, 0, 0, MONEY_MAX),
};
static const pspec_t order_record_spec = PSPEC(order_record_fields);

static int lines_or_amount(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                           perr_info_t *e) {
  const refund_t *r = out;
  (void)f; (void)a;
  const msgpack_object *amount = pmap_find(m, "amount");
  int has_amount = amount && amount->type != MSGPACK_OBJECT_NIL;
  if (has_amount == (r->nlines > 0))
    return perr_set(e, PERR_INVALID_PARAMS, "amount", "give exactly one of lines or amount");
  return 0;
}

static const pfield_t order_refund_fields[] = {
    P_STR(refund_t, "refund_id", refund_id, 1, 1, CORE_ID_MAX),
    P_STR(refund_t, "order_id", order_id, 1, 1, CORE_ID_MAX),
    P_INT(refund_t, "ts", ts, 0, 0, TS_MAX),
    P_MAPS(refund_t, "lines", lines, nlines, order_line_t, 0, 1, CORE_MAX_LINES, &refund_line_spec),
    P_INT(refund_t, "amount", amount, 0, 1, MONEY_MAX, .check = lines_or_amount),
};
static const pspec_t order_refund_spec = PSPEC(order_refund_fields);

PARAMS_DECODER(product_get)
PARAMS_DECODER(customer_get)
PARAMS_DECODER(order_get)
PARAMS_DECODER(product_upsert)
PARAMS_DECODER(customer_upsert)
PARAMS_DECODER(order_record)
PARAMS_DECODER(order_refund)

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

/* The profile's fields, inside an open PK_MAP (customer.get, customer.export). */
static void enc_profile_fields(msgpack_packer *pk, const customer_profile_t *p) {
  const customer_t *c = &p->customer;
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
}

void enc_customer_get(msgpack_packer *pk, const void *result) {
  const customer_view_t *v = result; /* the profile + analytics (codec_analytics.c) */
  PK_MAP(pk) {
    enc_profile_fields(pk, &v->profile);
    enc_customer_analytics(pk, &v->an); /* more fields of this map */
    enc_customer_loyalty(pk, &v->loy);
  }
}

void enc_order_record(msgpack_packer *pk, const void *result) {
  const order_result_t *r = result;
  msgpack_pack_map(pk, 3); /* counted by hand: one answer per order of a bulk import */
  pk_kv_bool(pk, "created", r->created);
  pk_kv_int(pk, "subtotal", r->subtotal);
  pk_kv_int(pk, "total", r->total);
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

/* An order's fields, inside an open PK_MAP (order.get, customer.export). */
static void enc_order_fields(msgpack_packer *pk, const order_t *o, int64_t refunded) {
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
  pk_kv_int(pk, "refunded", refunded);
}

void enc_order_get(msgpack_packer *pk, const void *result) {
  const order_view_t *v = result;
  PK_MAP(pk) enc_order_fields(pk, &v->order, v->refunded);
}

/* ---- customer.export / customer.forget (commerce/privacy.h) ---- */

static const pfield_t customer_export_fields[] = {
    P_STR(id_params_t, "customer_id", id, 1, 1, CORE_ID_MAX)};
static const pspec_t customer_export_spec = PSPEC(customer_export_fields);
PARAMS_DECODER(customer_export)

static const pfield_t customer_forget_fields[] = {
    P_STR(forget_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX)};
static const pspec_t customer_forget_spec = PSPEC(customer_forget_fields);
PARAMS_DECODER(customer_forget)

void enc_customer_export(msgpack_packer *pk, const void *result) {
  const export_result_t *r = result;
  PK_MAP(pk) {
    pk_str(pk, "profile");
    PK_MAP(pk) enc_profile_fields(pk, &r->profile);
    pk_str(pk, "orders");
    msgpack_pack_array(pk, r->norders);
    for (size_t i = 0; i < r->norders; i++)
      PK_MAP(pk) enc_order_fields(pk, &r->orders[i].order, r->orders[i].refunded);
    pk_str(pk, "feedback");
    msgpack_pack_array(pk, r->nfeedback);
    for (size_t i = 0; i < r->nfeedback; i++) {
      const feedback_t *f = &r->feedback[i];
      PK_MAP(pk) {
        kv_pstr(pk, "feedback_id", f->feedback_id);
        pk_kv_str(pk, "kind", feedback_kind_name(f->kind));
        pk_kv_int(pk, "score", f->score);
        pk_kv_int(pk, "ts", f->ts);
      }
    }
    pk_str(pk, "refunds");
    msgpack_pack_array(pk, r->nrefunds);
    for (size_t i = 0; i < r->nrefunds; i++) {
      const export_refund_t *f = &r->refunds[i];
      PK_MAP(pk) {
        kv_pstr(pk, "refund_id", f->refund_id);
        kv_pstr(pk, "order_id", f->order_id);
        pk_kv_int(pk, "ts", f->ts);
        pk_kv_int(pk, "amount", f->amount);
        pk_kv_str(pk, "currency", f->currency);
        pk_kv_int(pk, "recorded_at", f->recorded_at);
        pk_str(pk, "lines");
        msgpack_pack_array(pk, f->nlines);
        for (size_t k = 0; k < f->nlines; k++) PK_MAP(pk) {
            kv_pstr(pk, "product_id", f->lines[k].product_id);
            pk_kv_int(pk, "quantity", f->lines[k].quantity);
          }
      }
    }
    pk_str(pk, "loyalty");
    PK_MAP(pk) {
      pk_str(pk, "tier");
      enc_loyalty_tier(pk, &r->tier);
      pk_str(pk, "points"); /* history: the whole ledger, newest first */
      enc_loyalty_points(pk, &r->points);
      pk_str(pk, "tier_history");
      msgpack_pack_array(pk, r->ntier_history);
      for (size_t i = 0; i < r->ntier_history; i++) PK_MAP(pk) {
          const loy_tier_change_t *h = &r->tier_history[i];
          pk_kv_int(pk, "at", h->at);
          pk_kv_str(pk, "from", h->from);
          pk_kv_str(pk, "to", h->to);
          pk_kv_str(pk, "reason", h->reason);
        }
    }
    pk_str(pk, "offers");
    PK_MAP(pk) {
      pk_str(pk, "exposures"); /* offers shown; arm = the experiment variant (0 = holdout) */
      msgpack_pack_array(pk, r->offers.nseen);
      for (size_t i = 0; i < r->offers.nseen; i++) {
        const offers_export_seen_t *x = &r->offers.seen[i];
        PK_MAP(pk) {
          if (x->global_holdout) pk_kv_nil(pk, "offer_id");
          else pk_kv_str(pk, "offer_id", x->offer_id);
          pk_kv_bool(pk, "global_holdout", x->global_holdout);
          if (x->global_holdout) pk_kv_str(pk, "currency", x->offer_id);
          pk_kv_int(pk, "arm", x->arm);
          pk_kv_int(pk, "first_ts", x->first_ts);
          pk_kv_int(pk, "last_ts", x->last_ts);
          pk_kv_bool(pk, "converted", x->converted);
          pk_kv_int(pk, "revenue", x->revenue);
        }
      }
      pk_str(pk, "counters"); /* per cap period: impressions shown, redemptions */
      msgpack_pack_array(pk, r->offers.ncounters);
      for (size_t i = 0; i < r->offers.ncounters; i++) {
        const offers_export_counter_t *x = &r->offers.counters[i];
        PK_MAP(pk) {
          pk_kv_str(pk, "offer_id", x->offer_id);
          pk_kv_str(pk, "kind", x->kind == 'r' ? "redeemed" : "shown");
          pk_kv_int(pk, "period", x->period);
          pk_kv_int(pk, "count", x->count);
        }
      }
    }
  }
}

void enc_customer_forget(msgpack_packer *pk, const void *result) {
  const forget_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_str(pk, "pseudonym", r->pseudonym);
    pk_kv_uint(pk, "orders", r->orders);
    pk_kv_uint(pk, "feedback", r->feedback);
    pk_kv_uint(pk, "loyalty", r->loyalty);
    pk_kv_uint(pk, "offers", r->offers);
  }
}
