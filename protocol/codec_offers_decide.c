/* codec_offers_decide.c -- offers.decide's params (offers_decide_params_t, offers_types.h):
 * the table decoder (the map kept as raw_params_t, read by the handler), the reader of its
 * common shape from that map (offers_decide_read: the handler's fast path) and the same
 * reader straight from the request bytes (raw_offers_decide, methods.def's raw column).
 * Invariants: both readers take exactly the same requests and give the same
 * offers_decide_req_t (test_raw_params checks it over generated requests); anything else
 * they decline, and the handler's general (JSON) path reads it and names any error. Their
 * strings are NUL-terminated copies in the arena, except the attribute map's, which borrow
 * the request like the map itself. */
#include <stddef.h>
#include <string.h>

#include "methods.h"
#include "mpraw.h"

/* ---- the strings: bumped from one arena block taken at the first string (a string that
 * does not fit gets its own arena copy) ---- */

typedef struct strs_s {
  arena_t *a;
  char *p;
  size_t left;
  bool taken;
} strs_t;

/* from[0..n): 1..max bytes without NUL, copied NUL-terminated; NULL otherwise. */
static const char *copy_str(strs_t *b, const char *from, size_t n, size_t max) {
  if (n == 0 || n > max || mp_has_nul(from, n)) return NULL;
  if (!b->taken) {
    b->taken = true;
    if ((b->p = arena_alloc(b->a, 512))) b->left = 512;
  }
  if (n >= b->left) return arena_strndup(b->a, from, n);
  char *s = b->p;
  if (n >= 8 && n <= 16) { /* a short id: two overlapping 8-byte moves, no call */
    uint64_t head, tail;
    memcpy(&head, from, 8);
    memcpy(&tail, from + n - 8, 8);
    memcpy(s, &head, 8);
    memcpy(s + n - 8, &tail, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t head, tail;
    memcpy(&head, from, 4);
    memcpy(&tail, from + n - 4, 4);
    memcpy(s, &head, 4);
    memcpy(s + n - 4, &tail, 4);
  } else {
    memcpy(s, from, n);
  }
  s[n] = 0;
  b->p += n + 1;
  b->left -= n + 1;
  return s;
}

/* ---- the reader over the msgpack map ---- */

/* Whether the key k is the literal lit. */
#define MP_IS(k, lit) ((k)->type == MSGPACK_OBJECT_STR && MPRAW_IS((k)->via.str.ptr, (k)->via.str.size, lit))

static const char *mp_str(strs_t *b, const msgpack_object *o, size_t max) {
  return o->type == MSGPACK_OBJECT_STR ? copy_str(b, o->via.str.ptr, o->via.str.size, max) : NULL;
}

/* An integer in lo..hi (nil: *out unchanged). */
static bool int_in(bool neg, uint64_t u, int64_t v, int64_t lo, int64_t hi, int64_t *out) {
  if (!neg) {
    if (u > INT64_MAX) return false;
    v = (int64_t)u;
  }
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}
static bool mp_int(const msgpack_object *o, int64_t lo, int64_t hi, int64_t *out) {
  if (o->type == MSGPACK_OBJECT_NIL) return true;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return int_in(false, o->via.u64, 0, lo, hi, out);
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return int_in(true, 0, o->via.i64, lo, hi, out);
  return false;
}

/* Whether mp_to_json would convert o without an error. */
static bool mp_jsonable(const msgpack_object *o, int depth) {
  if (depth > 64) return false;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
  case MSGPACK_OBJECT_BOOLEAN:
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
  case MSGPACK_OBJECT_STR: return true;
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return o->via.u64 <= INT64_MAX;
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size; i++)
      if (!mp_jsonable(&o->via.array.ptr[i], depth + 1)) return false;
    return true;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size; i++)
      if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
          !mp_jsonable(&o->via.map.ptr[i].val, depth + 1))
        return false;
    return true;
  default: return false;
  }
}

/* The keys of a cart line and of the request, as bits (a repeated key: declined). */
enum { LINE_PRODUCT = 1, LINE_CATEGORY = 2, LINE_QUANTITY = 4, LINE_PRICE = 8 };
enum { REQ_CUSTOMER = 1, REQ_CART = 2, REQ_ATTRIBUTES = 4, REQ_MAX_OFFERS = 8 };

#define QUANTITY_MAX 1000000
#define PRICE_MAX (INT64_C(1) << 40)
#define CART_VALUE_MAX (INT64_C(1) << 50)
#define CART_LINES_MAX 1000

static bool mp_line(strs_t *b, const msgpack_object *o, offers_cart_item_t *it) {
  if (o->type != MSGPACK_OBJECT_MAP) return false;
  unsigned seen = 0;
  it->category = NULL;
  it->quantity = 1;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    unsigned bit;
    if (MP_IS(k, "product_id")) bit = LINE_PRODUCT, it->product = mp_str(b, v, 128);
    else if (MP_IS(k, "category"))
      bit = LINE_CATEGORY, it->category = v->type == MSGPACK_OBJECT_NIL ? NULL : mp_str(b, v, 128);
    else if (MP_IS(k, "quantity")) bit = LINE_QUANTITY;
    else if (MP_IS(k, "unit_price")) bit = LINE_PRICE;
    else return false;
    if (seen & bit) return false; /* a repeated key: the general path decides */
    seen |= bit;
    if (bit == LINE_PRODUCT && !it->product) return false;
    if (bit == LINE_CATEGORY && v->type != MSGPACK_OBJECT_NIL && !it->category) return false;
    if (bit == LINE_QUANTITY && !mp_int(v, 1, QUANTITY_MAX, &it->quantity)) return false;
    if (bit == LINE_PRICE && (v->type == MSGPACK_OBJECT_NIL || !mp_int(v, 0, PRICE_MAX, &it->price)))
      return false;
  }
  return (seen & (LINE_PRODUCT | LINE_PRICE)) == (LINE_PRODUCT | LINE_PRICE);
}

static bool mp_cart(strs_t *b, const msgpack_object *o, offers_cart_t *c) {
  memset(c, 0, sizeof *c);
  if (o->type != MSGPACK_OBJECT_MAP) return false;
  const msgpack_object *lines = NULL, *value = NULL;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    if (MP_IS(k, "currency")) {
      if (c->currency || !(c->currency = mp_str(b, v, 3))) return false;
    } else if (MP_IS(k, "lines")) {
      if (lines) return false;
      lines = v;
    } else if (MP_IS(k, "value")) {
      if (value) return false;
      value = v;
    } else {
      return false;
    }
  }
  if (!c->currency) return false;
  int64_t sum = 0;
  if (lines && lines->type != MSGPACK_OBJECT_NIL) {
    if (lines->type != MSGPACK_OBJECT_ARRAY || lines->via.array.size > CART_LINES_MAX) return false;
    size_t n = lines->via.array.size;
    offers_cart_item_t *it = arena_alloc(b->a, (n ? n : 1) * sizeof *it);
    if (!it) return false;
    for (size_t i = 0; i < n; i++) {
      if (!mp_line(b, &lines->via.array.ptr[i], &it[i])) return false;
      sum += it[i].quantity * it[i].price;
    }
    c->items = it;
    c->nitems = n;
  }
  c->value = sum;
  return !value || mp_int(value, 0, CART_VALUE_MAX, &c->value);
}

bool offers_decide_read(arena_t *a, const msgpack_object *o, offers_decide_req_t *q) {
  memset(q, 0, sizeof *q);
  if (o->type != MSGPACK_OBJECT_MAP) return false;
  strs_t strs = {.a = a};
  unsigned seen = 0;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
    unsigned bit;
    if (MP_IS(k, "customer_id")) bit = REQ_CUSTOMER;
    else if (MP_IS(k, "cart")) bit = REQ_CART;
    else if (MP_IS(k, "attributes")) bit = REQ_ATTRIBUTES;
    else if (MP_IS(k, "max_offers")) bit = REQ_MAX_OFFERS;
    else return false;
    if (seen & bit) return false;
    seen |= bit;
    if (bit == REQ_CUSTOMER && !(q->customer = mp_str(&strs, v, OFFERS_ID_MAX))) return false;
    if (bit == REQ_CART && !mp_cart(&strs, v, &q->cart)) return false;
    if (bit == REQ_ATTRIBUTES && v->type != MSGPACK_OBJECT_NIL) {
      if (v->type != MSGPACK_OBJECT_MAP || !mp_jsonable(v, 1)) return false;
      q->shop = v;
    }
    if (bit == REQ_MAX_OFFERS && !mp_int(v, 1, OFFERS_DECIDE_MAX, &q->max_offers)) return false;
  }
  return (seen & (REQ_CUSTOMER | REQ_CART)) == (REQ_CUSTOMER | REQ_CART);
}

/* ---- the same reader over the bytes (mpraw.h): containers checked against the limits at
 * their depth in the params map (the map 0, cart and attributes 1, lines 2, a line 3) ---- */

typedef struct raw_s {
  mpraw_t r;
  const mpraw_limits_t *lim;
  strs_t strs;
} raw_t;

MPRAW_INLINE bool raw_map(raw_t *x, uint32_t depth, uint32_t *n) {
  return mpraw_map(&x->r, n) && depth < x->lim->room && *n <= x->lim->max_elems;
}

/* A string of 1..max bytes without NUL, copied. */
MPRAW_INLINE const char *raw_str(raw_t *x, size_t max) {
  const char *s;
  uint32_t n;
  return mpraw_str(&x->r, &s, &n) ? copy_str(&x->strs, s, n, max) : NULL;
}

/* An integer in lo..hi, or nil when nil_ok (*out unchanged). */
MPRAW_INLINE bool raw_int(raw_t *x, bool nil_ok, int64_t lo, int64_t hi, int64_t *out) {
  bool neg;
  uint64_t u;
  int64_t v;
  if (x->r.i < x->r.n && x->r.p[x->r.i] < 0x80) { /* a positive fixint: the common case */
    v = x->r.p[x->r.i++];
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
  }
  if (nil_ok && mpraw_nil(&x->r)) return true;
  return mpraw_int(&x->r, &neg, &u, &v) && int_in(neg, u, v, lo, hi, out);
}

static bool raw_line(raw_t *x, offers_cart_item_t *it) {
  uint32_t n;
  if (!raw_map(x, 3, &n)) return false;
  unsigned seen = 0;
  it->category = NULL;
  it->quantity = 1;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    uint32_t kn;
    unsigned bit;
    if (!mpraw_str(&x->r, &k, &kn)) return false;
    if (MPRAW_IS(k, kn, "product_id")) bit = LINE_PRODUCT;
    else if (MPRAW_IS(k, kn, "category")) bit = LINE_CATEGORY;
    else if (MPRAW_IS(k, kn, "quantity")) bit = LINE_QUANTITY;
    else if (MPRAW_IS(k, kn, "unit_price")) bit = LINE_PRICE;
    else return false;
    if (seen & bit) return false;
    seen |= bit;
    if (bit == LINE_PRODUCT && !(it->product = raw_str(x, 128))) return false;
    if (bit == LINE_CATEGORY && !mpraw_nil(&x->r) && !(it->category = raw_str(x, 128)))
      return false;
    if (bit == LINE_QUANTITY && !raw_int(x, true, 1, QUANTITY_MAX, &it->quantity)) return false;
    if (bit == LINE_PRICE && !raw_int(x, false, 0, PRICE_MAX, &it->price)) return false;
  }
  return (seen & (LINE_PRODUCT | LINE_PRICE)) == (LINE_PRODUCT | LINE_PRICE);
}

static bool raw_cart(raw_t *x, offers_cart_t *c) {
  uint32_t n;
  memset(c, 0, sizeof *c);
  if (!raw_map(x, 1, &n)) return false;
  bool has_lines = false, has_value = false;
  int64_t sum = 0, value = -1;
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    uint32_t kn;
    if (!mpraw_str(&x->r, &k, &kn)) return false;
    if (MPRAW_IS(k, kn, "currency")) {
      if (c->currency || !(c->currency = raw_str(x, 3))) return false;
    } else if (MPRAW_IS(k, kn, "lines")) {
      uint32_t nl;
      if (has_lines) return false;
      has_lines = true;
      if (mpraw_nil(&x->r)) continue;
      if (!mpraw_array(&x->r, &nl) || 2 >= x->lim->room || nl > x->lim->max_elems ||
          nl > CART_LINES_MAX)
        return false;
      offers_cart_item_t *it = arena_alloc(x->strs.a, (nl ? nl : 1) * sizeof *it);
      if (!it) return false;
      for (uint32_t l = 0; l < nl; l++) {
        if (!raw_line(x, &it[l])) return false;
        sum += it[l].quantity * it[l].price;
      }
      c->items = it;
      c->nitems = nl;
    } else if (MPRAW_IS(k, kn, "value")) {
      if (has_value) return false;
      has_value = true;
      if (!raw_int(x, true, 0, CART_VALUE_MAX, &value)) return false;
    } else {
      return false;
    }
  }
  if (!c->currency) return false;
  c->value = value >= 0 ? value : sum;
  return true;
}

/* The attributes: a map of string keys to scalars (nil, booleans, integers up to INT64_MAX,
 * floats, strings), built as the msgpack_object msgpack-c makes of it, in the arena; any
 * other value (a container, bin, ext): declined. */
static bool raw_attributes(raw_t *x, const msgpack_object **out) {
  uint32_t n;
  if (mpraw_nil(&x->r)) return true;
  if (!raw_map(x, 1, &n)) return false;
  msgpack_object *m = arena_alloc(x->strs.a, sizeof *m + n * sizeof(msgpack_object_kv));
  if (!m) return false;
  msgpack_object_kv *kv = (msgpack_object_kv *)(void *)(m + 1);
  m->type = MSGPACK_OBJECT_MAP;
  m->via.map.size = n;
  m->via.map.ptr = kv;
  for (uint32_t i = 0; i < n; i++) {
    msgpack_object *v = &kv[i].val;
    const uint8_t *p = x->r.p;
    kv[i].key.type = MSGPACK_OBJECT_STR;
    if (!mpraw_str(&x->r, &kv[i].key.via.str.ptr, &kv[i].key.via.str.size)) return false;
    if (x->r.i >= x->r.n) return false;
    uint8_t b = p[x->r.i];
    bool neg;
    if (b == 0xc0) {
      v->type = MSGPACK_OBJECT_NIL, x->r.i++;
    } else if (b == 0xc2 || b == 0xc3) {
      v->type = MSGPACK_OBJECT_BOOLEAN, v->via.boolean = b == 0xc3, x->r.i++;
    } else if (b == 0xca || b == 0xcb) {
      size_t w = b == 0xca ? 4 : 8;
      if (x->r.n - x->r.i < 1 + w) return false;
      uint64_t bits = mpraw_be(p + x->r.i + 1, (unsigned)w);
      if (w == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        v->type = MSGPACK_OBJECT_FLOAT32, v->via.f64 = f;
      } else {
        v->type = MSGPACK_OBJECT_FLOAT64;
        memcpy(&v->via.f64, &bits, sizeof bits);
      }
      x->r.i += 1 + w;
    } else if (mpraw_int(&x->r, &neg, &v->via.u64, &v->via.i64)) {
      if (!neg && v->via.u64 > INT64_MAX) return false; /* not jsonable */
      v->type = neg ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
    } else if (mpraw_str(&x->r, &v->via.str.ptr, &v->via.str.size)) {
      v->type = MSGPACK_OBJECT_STR;
    } else {
      return false;
    }
  }
  *out = m;
  return true;
}

size_t raw_offers_decide(const uint8_t *p, size_t n, const mpraw_limits_t *lim, arena_t *a,
                         void *out) {
  offers_decide_params_t *dp = out;
  offers_decide_req_t *q = &dp->req;
  raw_t x = {.r = {p, n, 0}, .lim = lim, .strs = {.a = a}};
  uint32_t pairs;
  memset(dp, 0, sizeof *dp);
  dp->raw.obj.type = MSGPACK_OBJECT_NIL; /* no map: the request is in req */
  if (!raw_map(&x, 0, &pairs)) return 0;
  unsigned seen = 0;
  for (uint32_t i = 0; i < pairs; i++) {
    const char *k;
    uint32_t kn;
    unsigned bit;
    if (!mpraw_str(&x.r, &k, &kn)) return 0;
    if (MPRAW_IS(k, kn, "customer_id")) bit = REQ_CUSTOMER;
    else if (MPRAW_IS(k, kn, "cart")) bit = REQ_CART;
    else if (MPRAW_IS(k, kn, "attributes")) bit = REQ_ATTRIBUTES;
    else if (MPRAW_IS(k, kn, "max_offers")) bit = REQ_MAX_OFFERS;
    else return 0;
    if (seen & bit) return 0;
    seen |= bit;
    if (bit == REQ_CUSTOMER && !(q->customer = raw_str(&x, OFFERS_ID_MAX))) return 0;
    if (bit == REQ_CART && !raw_cart(&x, &q->cart)) return 0;
    if (bit == REQ_ATTRIBUTES && !raw_attributes(&x, &q->shop)) return 0;
    if (bit == REQ_MAX_OFFERS && !raw_int(&x, true, 1, OFFERS_DECIDE_MAX, &q->max_offers)) return 0;
  }
  if ((seen & (REQ_CUSTOMER | REQ_CART)) != (REQ_CUSTOMER | REQ_CART)) return 0;
  dp->fast = true;
  return x.r.i;
}

int dec_offers_decide(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  offers_decide_params_t *dp = out;
  (void)a;
  dp->fast = false;
  if (params && params->type != MSGPACK_OBJECT_MAP && params->type != MSGPACK_OBJECT_NIL)
    return perr_set(e, PERR_INVALID_PARAMS, NULL, "params must be a map");
  if (params) dp->raw.obj = *params;
  else dp->raw.obj.type = MSGPACK_OBJECT_NIL;
  return 0;
}
