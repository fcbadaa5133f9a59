/* codec_recs.c -- decoders/encoders of the recommendation methods (recs.cart, recs.upsell,
 * recs.similar, recs.for_customer, recs.rules); types in recs/recs_types.h, semantics in
 * PROTOCOL.md. Decoders check types and bounds and name the field by path
 * ("filters.max_price", "items[3]"); the handler checks what needs the daemon's settings
 * (limit <= recs.max_results). Invariant: params strings borrow from the request (zero copy). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "mpraw.h"
#include "params.h"
#include "rpc.h"

#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */

/* ---- field tables (params.h) ---- */

static int price_band_ok(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                         perr_info_t *e) {
  const recs_wire_filter_t *fl = out;
  (void)m; (void)f; (void)a;
  if (fl->has_min_price && fl->has_max_price && fl->min_price > fl->max_price)
    return perr_set(e, PERR_INVALID_PARAMS, "filters.max_price", "max_price is below min_price");
  return 0;
}
static int currency_known(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                          perr_info_t *e) {
  const recs_wire_filter_t *fl = out;
  (void)m; (void)f; (void)a;
  if (fl->currency.p && !core_currency_valid(fl->currency, NULL))
    return perr_set(e, PERR_INVALID_PARAMS, "filters.currency", "unknown currency code");
  return 0;
}

/* Business filters, common to every method ("filters" map). */
static const pfield_t filter_fields[] = {
    P_BOOL(recs_wire_filter_t, "in_stock_only", in_stock_only, .def = 1),
    P_STRS(recs_wire_filter_t, "exclude_products", exclude_products, n_exclude_products, 0,
           RECS_WIRE_MAX_IDS, CORE_ID_MAX),
    P_STRS(recs_wire_filter_t, "exclude_categories", exclude_categories, n_exclude_categories, 0,
           RECS_WIRE_MAX_IDS, CORE_ID_MAX),
    P_INT(recs_wire_filter_t, "min_price", min_price, 0, 0, MONEY_MAX,
          .present = PF_PRESENT(recs_wire_filter_t, has_min_price)),
    P_INT(recs_wire_filter_t, "max_price", max_price, 0, 1, MONEY_MAX,
          .present = PF_PRESENT(recs_wire_filter_t, has_max_price), .check = price_band_ok),
    P_STR(recs_wire_filter_t, "currency", currency, 0, 3, 3, .check = currency_known),
    P_U32(recs_wire_filter_t, "max_per_category", max_per_category, 0, RECS_WIRE_MAX_LIMIT),
    P_DOUBLE(recs_wire_filter_t, "boost_margin", boost_margin, 0, 100),
};
static const pspec_t filter_spec = PSPEC(filter_fields);

/* The fields of the four list methods, in the order they are checked. */
#define Q_ITEMS(req) \
  P_STRS(recs_query_t, "items", items, nitems, req, RECS_WIRE_MAX_IDS, CORE_ID_MAX)
#define Q_PRODUCT P_STR(recs_query_t, "product_id", product_id, 1, 1, CORE_ID_MAX)
#define Q_CUSTOMER(req) P_STR(recs_query_t, "customer_id", customer_id, req, 1, CORE_ID_MAX)
#define Q_LIMIT P_U32(recs_query_t, "limit", limit, 1, RECS_WIRE_MAX_LIMIT)
#define Q_AS_OF P_INT(recs_query_t, "as_of", as_of, 0, 1, 253402300799LL) /* to 9999-12-31 */
#define Q_FILTERS P_MAP(recs_query_t, "filters", filters, recs_wire_filter_t, &filter_spec)

static const pfield_t recs_cart_fields[] = {
    /* a cart needs at least one item: "items must have 1 to 1000 items" */
    P_STRS(recs_query_t, "items", items, nitems, 1, RECS_WIRE_MAX_IDS, CORE_ID_MAX, .min = 1),
    Q_CUSTOMER(0), Q_LIMIT, Q_FILTERS, Q_AS_OF};
static const pfield_t recs_upsell_fields[] = {Q_ITEMS(0), Q_PRODUCT, Q_CUSTOMER(0), Q_LIMIT,
                                              Q_FILTERS};
static const pfield_t recs_similar_fields[] = {Q_PRODUCT, Q_LIMIT, Q_FILTERS};
static const pfield_t recs_for_customer_fields[] = {Q_ITEMS(0), Q_CUSTOMER(1), Q_LIMIT,
                                                    Q_FILTERS, Q_AS_OF};
static const pspec_t recs_cart_spec = PSPEC(recs_cart_fields);
static const pspec_t recs_upsell_spec = PSPEC(recs_upsell_fields);
static const pspec_t recs_similar_spec = PSPEC(recs_similar_fields);
static const pspec_t recs_for_customer_spec = PSPEC(recs_for_customer_fields);

static const pfield_t recs_rules_fields[] = {
    P_DOUBLE(recs_rules_params_t, "min_support", min_support, 0.0001, 1, .def_d = 0.01),
    P_DOUBLE(recs_rules_params_t, "min_confidence", min_confidence, 0, 1, .def_d = 0.5),
    P_U32(recs_rules_params_t, "max_len", max_len, 2, 5, .def = 3),
    P_U32(recs_rules_params_t, "limit", limit, 1, RECS_WIRE_MAX_LIMIT, .def = 50),
    P_STR(recs_rules_params_t, "product_id", product_id, 0, 1, CORE_ID_MAX),
};
static const pspec_t recs_rules_spec = PSPEC(recs_rules_fields);

/* recs.cart's common call, {items: [1..1000 ids], limit?: 1..1000} with each key at most
 * once and every value valid, read in one pass; the same recs_query_t the table decoder
 * writes (absent fields: zero, filters.in_stock_only 1). Returns 1 when done, 0 for anything
 * else (other fields, nil, repeats, any invalid value: the table decoder names the error). */
static int recs_cart_fast(const msgpack_object *params, arena_t *a, recs_query_t *q) {
  if (!params || params->type != MSGPACK_OBJECT_MAP || params->via.map.size > 2) return 0;
  const msgpack_object *items = NULL, *limit = NULL;
  for (uint32_t i = 0; i < params->via.map.size; i++) {
    const msgpack_object *k = &params->via.map.ptr[i].key, *v = &params->via.map.ptr[i].val;
    if (k->type != MSGPACK_OBJECT_STR) return 0;
    if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "items", 5) == 0 && !items) items = v;
    else if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "limit", 5) == 0 && !limit) limit = v;
    else return 0;
  }
  if (!items || items->type != MSGPACK_OBJECT_ARRAY || items->via.array.size < 1 ||
      items->via.array.size > RECS_WIRE_MAX_IDS)
    return 0;
  if (limit && (limit->type != MSGPACK_OBJECT_POSITIVE_INTEGER || limit->via.u64 < 1 ||
                limit->via.u64 > RECS_WIRE_MAX_LIMIT))
    return 0;
  uint32_t n = items->via.array.size;
  const msgpack_object *it = items->via.array.ptr;
  memset(q, 0, offsetof(recs_query_t, items_small)); /* items_small: written before read */
  pstr_t *v = n <= 8 ? q->items_small : arena_alloc(a, sizeof *v * n);
  if (!v) return 0; /* the table decoder reports it */
  for (uint32_t i = 0; i < n; i++) { /* checked and copied in one pass */
    if (it[i].type != MSGPACK_OBJECT_STR || it[i].via.str.size - 1u >= CORE_ID_MAX) return 0;
    v[i] = (pstr_t){it[i].via.str.ptr, it[i].via.str.size};
  }
  q->items = v;
  q->nitems = n;
  q->limit = limit ? (uint32_t)limit->via.u64 : 0;
  q->filters.in_stock_only = 1;
  return 1;
}

/* recs_cart_fast's shape read straight from the bytes (methods.def's raw column): a map of
 * 1..2 pairs, "items" (an array of 1..1000 strings of 1..CORE_ID_MAX bytes) and "limit"
 * (an unsigned 1..1000), each at most once; the same recs_query_t. The map at depth 0 and
 * the items array at depth 1 of the params map (mpraw_limits_t). */
size_t raw_recs_cart(const uint8_t *p, size_t n, const mpraw_limits_t *lim, arena_t *a,
                     void *out) {
  recs_query_t *q = out;
  mpraw_t r = {p, n, 0};
  uint32_t pairs, nitems = 0;
  bool has_items = false, has_limit = false;
  uint64_t limit = 0;
  if (!mpraw_map(&r, &pairs) || pairs < 1 || pairs > 2 || lim->room < 1 || pairs > lim->max_elems)
    return 0;
  memset(q, 0, offsetof(recs_query_t, items_small)); /* items_small: written before read */
  for (uint32_t k = 0; k < pairs; k++) {
    const char *key;
    uint32_t kn;
    if (!mpraw_str(&r, &key, &kn)) return 0;
    if (MPRAW_IS(key, kn, "items") && !has_items) {
      has_items = true;
      if (!mpraw_array(&r, &nitems) || nitems < 1 || nitems > RECS_WIRE_MAX_IDS ||
          lim->room < 2 || nitems > lim->max_elems)
        return 0;
      pstr_t *v = nitems <= 8 ? q->items_small : arena_alloc(a, sizeof *v * nitems);
      if (!v) return 0;
      size_t at = r.i; /* in a local: the common item costs a few instructions */
      for (uint32_t i = 0; i < nitems; i++) {
        const char *s;
        uint32_t sn;
        unsigned b = at < n ? p[at] : 0;
        if (b - 0xa1u <= 0x1eu && (size_t)(b & 0x1fu) < n - at) { /* a fixstr id of 1..31 */
          sn = b & 0x1fu;
          v[i] = (pstr_t){(const char *)p + at + 1, sn};
          at += 1 + sn;
          continue;
        }
        r.i = at;
        if (!mpraw_str(&r, &s, &sn) || sn - 1u >= CORE_ID_MAX) return 0;
        v[i] = (pstr_t){s, sn};
        at = r.i;
      }
      r.i = at;
      q->items = v;
      q->nitems = nitems;
    } else if (MPRAW_IS(key, kn, "limit") && !has_limit) {
      has_limit = true;
      if (!mpraw_uint(&r, &limit) || limit < 1 || limit > RECS_WIRE_MAX_LIMIT) return 0;
    } else {
      return 0;
    }
  }
  if (!has_items) return 0;
  q->limit = (uint32_t)limit;
  q->filters.in_stock_only = 1;
  return r.i;
}

int dec_recs_cart(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  if (recs_cart_fast(params, a, out)) return 0;
  return params_decode(params, &recs_cart_spec, out, a, e);
}
PARAMS_DECODER(recs_upsell)
PARAMS_DECODER(recs_similar)
PARAMS_DECODER(recs_for_customer)
PARAMS_DECODER(recs_rules)

/* ---- encoders ---- */

/* Room put_item_bytes may write into per item: map header, three keys, an id of CORE_ID_MAX
 * bytes, a float64, and the reason's key and string copied as a fixed REASON_COPY bytes. */
#define REASON_COPY 40
#define ITEM_BYTES_MAX (40 + CORE_ID_MAX + REASON_COPY)

/* The encoded `"reason": <reason>` of the last reason string seen (the items of one answer
 * mostly share it), copied as a fixed REASON_COPY bytes (no length-dependent call). */
typedef struct reason_enc_s {
  const char *reason;
  size_t n;
  unsigned char b[REASON_COPY];
} reason_enc_t;

/* {product_id, score, reason} packed by hand into b (the hot path of every recs answer; the
 * same bytes msgpack-c writes, test_method_table decodes both forms). Returns the length, or
 * 0 when the item does not fit the short form (long id or reason: packed field by field). */
#if defined(__GNUC__)
#define ENC_INLINE inline __attribute__((always_inline)) /* one copy per loop of enc_list */
#else
#define ENC_INLINE inline
#endif
static ENC_INLINE size_t put_item_bytes(unsigned char *b, const char *id, size_t idn,
                                         double score, const char *reason, reason_enc_t *re) {
  if (reason != re->reason) {
    size_t rl = strlen(reason);
    if (rl > 31) return 0;
    memcpy(re->b, "\xa6reason", 7);
    re->b[7] = (unsigned char)(0xa0 | rl);
    memcpy(re->b + 8, reason, rl);
    re->n = 8 + rl;
    re->reason = reason;
  }
  uint64_t u;
  memcpy(&u, &score, 8);
  if (idn > CORE_ID_MAX) return 0;
  size_t n = 12;
  memcpy(b, "\x83\xaaproduct_id", 12);
  if (idn < 32) {
    b[n++] = (unsigned char)(0xa0 | idn);
  } else {
    b[n++] = 0xd9;
    b[n++] = (unsigned char)idn;
  }
  if (idn >= 8 && idn <= 16) { /* two overlapping words, no call */
    uint64_t a, z;
    memcpy(&a, id, 8);
    memcpy(&z, id + idn - 8, 8);
    memcpy(b + n, &a, 8);
    memcpy(b + n + idn - 8, &z, 8);
  } else {
    memcpy(b + n, id, idn);
  }
  n += idn;
  memcpy(b + n, "\xa5score\xcb", 7);
  n += 7;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  u = __builtin_bswap64(u); /* big-endian on the wire */
  memcpy(b + n, &u, 8);
  n += 8;
#else
  for (int k = 7; k >= 0; k--) b[n++] = (unsigned char)(u >> (8 * k));
#endif
  memcpy(b + n, re->b, REASON_COPY);
  return n + re->n;
}

/* A string of fewer than 32 bytes (fixstr), as msgpack_pack_str + body write it. */
static size_t put_fixstr(unsigned char *b, const char *s, size_t n) {
  b[0] = (unsigned char)(0xa0 | n);
  memcpy(b + 1, s, n);
  return n + 1;
}

/* An unsigned integer in the smallest form, as msgpack_pack_uint64 writes it. */
static size_t put_uint(unsigned char *b, uint64_t v) {
  size_t w;
  if (v < 128) {
    b[0] = (unsigned char)v;
    return 1;
  }
  if (v < 256) { b[0] = 0xcc; w = 1; }
  else if (v < 65536) { b[0] = 0xcd; w = 2; }
  else if (v <= UINT32_MAX) { b[0] = 0xce; w = 4; }
  else { b[0] = 0xcf; w = 8; }
  for (size_t k = 0; k < w; k++) b[1 + k] = (unsigned char)(v >> (8 * (w - 1 - k)));
  return w + 1;
}

/* One answer item into buf[n..) (buf holds ENC_BUF bytes; handed to the packer first when
 * the item might not fit), or packed field by field when it does not fit the short form.
 * Returns the new n. */
#define ENC_BUF 4096
static ENC_INLINE size_t put_item(msgpack_packer *pk, unsigned char *buf, size_t n,
                                  const char *id, size_t idn, double score, const char *reason,
                                  reason_enc_t *re) {
  if (n + ITEM_BYTES_MAX > ENC_BUF) {
    pk->callback(pk->data, (const char *)buf, n);
    n = 0;
  }
  size_t l = put_item_bytes(buf + n, id, idn, score, reason, re);
  if (l) return n + l;
  if (n) pk->callback(pk->data, (const char *)buf, n);
  msgpack_pack_map(pk, 3);
  pk_kv_strn(pk, "product_id", id, idn);
  pk_kv_double(pk, "score", score);
  pk_kv_str(pk, "reason", reason);
  return 0;
}

/* The answer map, its field count known up front (no PK_MAP count-back pass over the
 * items); its header, the items and the tail are gathered in a stack buffer and handed to the
 * packer a few KB at a time. */
static void enc_list(msgpack_packer *pk, const void *result) {
  const recs_list_result_t *r = result;
  unsigned char buf[ENC_BUF];
  reason_enc_t re = {NULL, 0, {0}};
  size_t n = 0;
  buf[n++] = r->has_customer ? 0x86 : 0x85; /* fixmap */
  n += put_fixstr(buf + n, "items", 5);
  if (r->n < 16) { /* the array header in msgpack_pack_array's smallest form */
    buf[n++] = (unsigned char)(0x90 | r->n);
  } else if (r->n < 65536) {
    buf[n++] = 0xdc;
    buf[n++] = (unsigned char)(r->n >> 8);
    buf[n++] = (unsigned char)r->n;
  } else {
    buf[n++] = 0xdd;
    for (int k = 3; k >= 0; k--) buf[n++] = (unsigned char)(r->n >> (8 * k));
  }
  if (r->items) {
    for (const recs_wire_item_t *it = r->items, *e = it + r->n; it < e; it++)
      n = put_item(pk, buf, n, it->id, it->id_len, it->score, it->reason, &re);
  } else { /* the raw form (recs_types.h): named here, its tables in locals (the byte
            * stores may alias *r: GCC would reload them) */
    const char *names = r->names;
    const uint32_t *name_off = r->name_off;
    const char *const *reason_names = r->reason_names;
    for (const recs_result_t *o = r->results, *e = o + r->n; o < e; o++) {
      uint32_t a = name_off[o->item];
      n = put_item(pk, buf, n, names + a, name_off[o->item + 1] - a, o->score,
                   reason_names[o->reason], &re);
    }
  }
  const char *fb = r->fallback ? r->fallback : "none";
  size_t fl = strlen(fb);
  if (n + 128 > sizeof buf || fl > 31) { /* the tail packed field by field */
    if (n) pk->callback(pk->data, (const char *)buf, n);
    pk_kv_str(pk, "fallback", fb);
    pk_kv_uint(pk, "model_version", r->model_version);
    pk_kv_uint(pk, "unknown_items", r->unknown_items);
    pk_kv_uint(pk, "history_orders", r->history_orders);
    if (r->has_customer) pk_kv_bool(pk, "customer_known", r->customer_known);
    return;
  }
  n += put_fixstr(buf + n, "fallback", 8);
  n += put_fixstr(buf + n, fb, fl);
  n += put_fixstr(buf + n, "model_version", 13);
  n += put_uint(buf + n, r->model_version);
  n += put_fixstr(buf + n, "unknown_items", 13);
  n += put_uint(buf + n, r->unknown_items);
  n += put_fixstr(buf + n, "history_orders", 14);
  n += put_uint(buf + n, r->history_orders);
  if (r->has_customer) {
    n += put_fixstr(buf + n, "customer_known", 14);
    buf[n++] = r->customer_known ? 0xc3 : 0xc2;
  }
  pk->callback(pk->data, (const char *)buf, n);
}

void enc_recs_cart(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_upsell(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_similar(msgpack_packer *pk, const void *r) { enc_list(pk, r); }
void enc_recs_for_customer(msgpack_packer *pk, const void *r) { enc_list(pk, r); }

void enc_recs_rules(msgpack_packer *pk, const void *result) {
  const recs_rules_result_t *r = result;
  PK_MAP(pk) {
    pk_str(pk, "rules");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) {
      const recs_wire_rule_t *x = &r->rules[i];
      PK_MAP(pk) {
        pk_str(pk, "lhs");
        msgpack_pack_array(pk, x->nlhs);
        for (size_t k = 0; k < x->nlhs; k++) pk_strn(pk, x->lhs[k].p, x->lhs[k].n);
        pk_kv_strn(pk, "rhs", x->rhs.p, x->rhs.n);
        pk_kv_double(pk, "support", x->support);
        pk_kv_double(pk, "confidence", x->confidence);
        pk_kv_double(pk, "lift", x->lift);
        pk_kv_uint(pk, "count", x->count);
      }
    }
    pk_kv_uint(pk, "total", r->total);
    pk_kv_uint(pk, "baskets", r->baskets);
    pk_kv_uint(pk, "itemsets", r->itemsets);
    pk_kv_double(pk, "min_support", r->min_support);
    pk_kv_double(pk, "min_confidence", r->min_confidence);
    pk_kv_uint(pk, "max_len", r->max_len);
  }
}
