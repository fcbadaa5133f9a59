/* methods.c -- the protocol's expansion of methods.def: names, flags, sizes, codecs, and the
 * policy columns (cache key, data, affects, thread).
 * Invariants, checked at compile time: a write declares the data it changes; a method cached
 * by id has id_params_t params (its key accessor does not compile otherwise). */
#include "methods.h"

#include <pthread.h>
#include <string.h>

#include "commerce/feedback.h"
#include "commerce/merge.h"

/* ---- affects: which ids a committed write changed ---- */

static int one_id(pstr_t id, pstr_t ids[METHOD_AFFECTS_MAX]) {
  if (!id.p) return -1;
  ids[0] = id;
  return 1;
}

/* A write that changes the one id of kind key_kind that id_expr reads from params/result. */
#define AFFECTS_ONE(name, key_kind, id_expr)                                 \
  static int name(const void *params, const void *result, cache_kind_t kind, \
                  pstr_t ids[METHOD_AFFECTS_MAX]) {                          \
    (void)params;                                                            \
    (void)result;                                                            \
    return kind == key_kind ? one_id(id_expr, ids) : -1;                     \
  }
AFFECTS_ONE(affects_product_upsert, KEY_PRODUCT, ((const product_t *)params)->id)
AFFECTS_ONE(affects_customer_upsert, KEY_CUSTOMER, ((const customer_t *)params)->id)
AFFECTS_ONE(affects_order_record, KEY_CUSTOMER, ((const order_t *)params)->customer_id)
/* The refund names only the order; the handler puts the order's customer in the result
 * (absent when the order could not be read: every customer's answer is dropped). */
AFFECTS_ONE(affects_order_refund, KEY_CUSTOMER, ((const refund_result_t *)result)->customer_id)
AFFECTS_ONE(affects_feedback_record, KEY_CUSTOMER, ((const feedback_t *)params)->customer_id)

AFFECTS_ONE(affects_loyalty_award, KEY_CUSTOMER, ((const loy_award_params_t *)params)->customer_id)
AFFECTS_ONE(affects_loyalty_adjust, KEY_CUSTOMER, ((const loy_adjust_params_t *)params)->customer_id)
AFFECTS_ONE(affects_loyalty_redeem, KEY_CUSTOMER, ((const loy_redeem_params_t *)params)->customer_id)
/* The cancel names only the redemption; the handler puts its customer in the result. */
AFFECTS_ONE(affects_loyalty_redeem_cancel, KEY_CUSTOMER, ((const loy_cancel_wire_t *)result)->customer_id)

int method_affects_all(const void *params, const void *result, cache_kind_t kind,
                       pstr_t ids[METHOD_AFFECTS_MAX]) {
  (void)params; (void)result; (void)kind; (void)ids;
  return -1;
}

int method_affects_pass(const void *params, const void *result, cache_kind_t kind,
                        pstr_t ids[METHOD_AFFECTS_MAX]) {
  (void)params; (void)kind; (void)ids;
  return ((const loy_pass_result_t *)result)->unchanged == 1 ? 0 : -1;
}

static int affects_customer_merge(const void *params, const void *result, cache_kind_t kind,
                                  pstr_t ids[METHOD_AFFECTS_MAX]) {
  const merge_t *m = params;
  (void)result;
  if (kind != KEY_CUSTOMER || !m->guest_id.p || !m->customer_id.p) return -1;
  ids[0] = m->guest_id;
  ids[1] = m->customer_id;
  return 2;
}
/* The pseudonym is new (random): no cached answer can name it; only the id's go. */
AFFECTS_ONE(affects_customer_forget, KEY_CUSTOMER, ((const forget_t *)params)->customer_id)
/* Offer and experiment writes (D_OFFERS): no cached answer reads that data, so none is
 * dropped (the served offer catalogue follows these writes itself: daemon/handlers_offers.c). */
static int affects_offers(const void *params, const void *result, cache_kind_t kind,
                          pstr_t ids[METHOD_AFFECTS_MAX]) {
  (void)params, (void)result, (void)kind, (void)ids;
  return 0;
}
#define NO_AFFECTS NULL

/* ---- cache keys, derived from the cache column and the params type ---- */

/* Only id_params_t has an id key: any other params type has no association here, which is
 * a compile error (C11 6.5.1.1). */
#define ID_KEY_OF(pt, p) \
  _Generic((const pt *)0, const id_params_t *: ((const id_params_t *)(p))->id)
#define CACHE_KEY_NOCACHE(pt, p) ((void)(p), (pstr_t){NULL, 0})
#define CACHE_KEY_BY_QUERY(pt, p) ((void)(p), (pstr_t){NULL, 0})
#define CACHE_KEY_BY_PRODUCT_ID(pt, p) ID_KEY_OF(pt, p)
#define CACHE_KEY_BY_CUSTOMER_ID(pt, p) ID_KEY_OF(pt, p)

#define XX(id, wname, pt, rt, fl, cache_col, data_col, affects_col, raw_col, sum)                 \
  static pstr_t cache_key_##id(const void *p) { return CACHE_KEY_##cache_col(pt, p); }   \
  _Static_assert(!((fl) & M_WRITE) || (data_col) != D_NONE,                              \
                 "write method " #id " must declare the data it changes (methods.def)"); \
  _Static_assert(((fl) & (M_CACHED | M_CACHED_QUERY)) == 0,                              \
                 #id ": caching is the cache column, not a flag");                       \
  _Static_assert(CACHE_KIND_##cache_col == CACHE_NONE || !((fl) & (M_WRITE | M_SLOW)),   \
                 #id ": only loop-thread reads are cached");
#include "methods.def"
#undef XX

#define THREAD_OF(fl) ((fl) & M_WRITE ? RUN_ON_WRITER : (fl) & M_SLOW ? RUN_ON_WORKER : RUN_ON_LOOP)
#define CACHE_FLAGS(kind) \
  ((kind) == CACHE_QUERY ? M_CACHED_QUERY : (kind) != CACHE_NONE ? M_CACHED : 0u)

const method_desc_t method_table[METHOD__COUNT] = {
#define XX(id, wname, pt, rt, fl, cache_col, data_col, affects_col, raw_col, sum)                       \
  [METHOD_##id] = {.name = wname,                                                              \
                   .name_len = sizeof(wname) - 1,                                              \
                   .flags = (fl) | CACHE_FLAGS(CACHE_KIND_##cache_col),                        \
                   .thread = THREAD_OF(fl),                                                    \
                   .cache = CACHE_KIND_##cache_col,                                            \
                   .data = (data_col),                                                         \
                   .cache_key = CACHE_KIND_##cache_col >= KEY_PRODUCT ? cache_key_##id : NULL, \
                   .affects = affects_col,                                                     \
                   .params_size = sizeof(pt),                                                  \
                   .result_size = sizeof(rt),                                                  \
                   .decode = dec_##id,                                                         \
                   .encode = enc_##id,                                                         \
                   .decode_raw = raw_col,                                                      \
                   .summary = sum,                                                             \
                   .params_type = #pt,                                                         \
                   .result_type = #rt},
#include "methods.def"
#undef XX
};

/* method_lookup's index, built once (every request looks its method up): open addressing
 * over METHOD_SLOTS slots holding a method's index + 1 (0: empty), keyed by a hash of the
 * name's length and four of its bytes; a hit is confirmed by comparing the whole name. */
#define METHOD_SLOTS 256
_Static_assert(METHOD__COUNT < METHOD_SLOTS / 2, "method index: keep the table at most half full");
static unsigned char method_slot[METHOD_SLOTS];
static pthread_once_t method_slot_once = PTHREAD_ONCE_INIT;

static unsigned method_hash(const char *name, size_t len) { /* len >= 1 */
  const unsigned char *s = (const unsigned char *)name;
  unsigned h = (unsigned)len;
  h = h * 31u + s[0];
  h = h * 31u + s[len / 3];
  h = h * 31u + s[len / 2];
  h = h * 31u + s[len - 1];
  return (h ^ (h >> 8)) & (METHOD_SLOTS - 1);
}

static void method_slots_build(void) {
  for (int i = 0; i < METHOD__COUNT; i++) {
    unsigned k = method_hash(method_table[i].name, method_table[i].name_len);
    while (method_slot[k]) k = (k + 1) & (METHOD_SLOTS - 1);
    method_slot[k] = (unsigned char)(i + 1);
  }
}

int method_lookup(const char *name, size_t len) {
  if (len == 0) return -1;
  pthread_once(&method_slot_once, method_slots_build);
  for (unsigned k = method_hash(name, len); method_slot[k]; k = (k + 1) & (METHOD_SLOTS - 1)) {
    int i = method_slot[k] - 1;
    if (method_table[i].name_len == len && memcmp(method_table[i].name, name, len) == 0) return i;
  }
  return -1;
}

/* ---- typed views of writes ---- */

#define IS_TYPE(pt, t) _Generic((pt *)0, t *: 1, default: 0)

static const unsigned char params_is_order[METHOD__COUNT] = {
#define XX(id, wname, pt, rt, fl, cache_col, data_col, affects_col, raw_col, sum)                 \
  [METHOD_##id] = ((fl) & M_WRITE) && ((data_col) & D_ORDERS) && IS_TYPE(pt, order_t) && \
                  IS_TYPE(rt, order_result_t),
#include "methods.def"
#undef XX
};
static const unsigned char params_is_product[METHOD__COUNT] = {
#define XX(id, wname, pt, rt, fl, cache_col, data_col, affects_col, raw_col, sum) \
  [METHOD_##id] = ((fl) & M_WRITE) && ((data_col) & D_PRODUCTS) && IS_TYPE(pt, product_t),
#include "methods.def"
#undef XX
};

const order_t *method_recorded_order(int method, const void *params) {
  return method >= 0 && method < METHOD__COUNT && params_is_order[method] ? params : NULL;
}
const product_t *method_upserted_product(int method, const void *params) {
  return method >= 0 && method < METHOD__COUNT && params_is_product[method] ? params : NULL;
}
