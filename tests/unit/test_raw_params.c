/* test_raw_params.c -- the raw column of methods.def (protocol/mpraw.h, mpdecode_request_raw):
 * a raw decoder against the object path over generated requests (valid ones, edges and
 * malformed ones: wrong types, extra and repeated keys, empty and over-long strings, nil
 * values, ints as floats and in every integer width, non-minimal encodings, non-UTF-8 bytes,
 * deep nesting, tight guard limits, truncations, byte flips). Whatever the raw path takes,
 * the guard accepts whole with the same length, the general path (msgpack-c + rpc_parse)
 * parses identically, and the method's table decoder accepts the same params and writes the
 * same struct; what it declines goes to the object path unchanged, so errors are the object
 * path's by construction. The common shapes must be taken (the property is not vacuous). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "guard_accepts.h"
#include "methods.h"
#include "mpdecode.h"
#include "rpc.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void) { /* xorshift64 */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}
static int chance(int in) { return next() % (uint64_t)in == 0; }

/* ---- a byte writer with a choice of encodings ---- */

typedef struct out_s { uint8_t b[1 << 16]; size_t n; } out_t;

static void put(out_t *o, const void *p, size_t n) {
  assert_true(o->n + n <= sizeof o->b);
  memcpy(o->b + o->n, p, n);
  o->n += n;
}
static void put1(out_t *o, unsigned v) { uint8_t c = (uint8_t)v; put(o, &c, 1); }
static void put_be(out_t *o, uint64_t v, unsigned w) {
  for (unsigned k = w; k-- > 0;) put1(o, (unsigned)(v >> (8 * k)));
}

/* a length header of a fix form (fix_lo, fix_max) or of width 1/2/4 (leads l8, l16, l32:
 * l8 0 = none): minimal mostly, sometimes wider */
static void put_head(out_t *o, uint64_t n, unsigned fix_lo, uint64_t fix_max, unsigned l8,
                     unsigned l16, unsigned l32) {
  int w = (int)(next() % 8);
  if (n <= fix_max && w < 5) put1(o, fix_lo | (unsigned)n);
  else if (l8 && n <= 0xff && w < 6) put1(o, l8), put_be(o, n, 1);
  else if (n <= 0xffff && w < 7) put1(o, l16), put_be(o, n, 2);
  else put1(o, l32), put_be(o, n, 4);
}
static void put_str(out_t *o, const char *s, size_t n) {
  put_head(o, n, 0xa0, 31, 0xd9, 0xda, 0xdb);
  put(o, s, n);
}
static void put_lit(out_t *o, const char *s) { put_str(o, s, strlen(s)); }
/* a method name in the forms mpdecode_request_head reads (fixstr, str8) */
static void put_name(out_t *o, const char *s) {
  size_t n = strlen(s);
  if (chance(4)) put1(o, 0xd9), put1(o, (unsigned)n);
  else put1(o, 0xa0 | (unsigned)n);
  put(o, s, n);
}
static void put_map(out_t *o, uint64_t n) { put_head(o, n, 0x80, 15, 0, 0xde, 0xdf); }
static void put_array(out_t *o, uint64_t n) { put_head(o, n, 0x90, 15, 0, 0xdc, 0xdd); }
/* an unsigned in any of the forms msgpack-c reads as a POSITIVE_INTEGER */
static void put_uint(out_t *o, uint64_t v) {
  int f = (int)(next() % 6);
  if (v < 0x80 && f < 2) put1(o, (unsigned)v);
  else if (v <= 0xff && f < 3) put1(o, 0xcc), put_be(o, v, 1);
  else if (v <= 0x7fff && f < 4) put1(o, 0xd1), put_be(o, v, 2); /* int16, non-negative */
  else if (v <= 0xffffffffu && f < 5) put1(o, 0xce), put_be(o, v, 4);
  else if (v <= INT64_MAX && f == 5) put1(o, 0xd3), put_be(o, v, 8);
  else put1(o, 0xcf), put_be(o, v, 8);
}
static void put_int(out_t *o, int64_t v) {
  if (v >= 0) put_uint(o, (uint64_t)v);
  else if (v >= -32 && chance(2)) put1(o, (unsigned)(uint8_t)(int8_t)v);
  else if (v >= -128 && chance(2)) put1(o, 0xd0), put_be(o, (uint64_t)v & 0xff, 1);
  else put1(o, 0xd3), put_be(o, (uint64_t)v, 8);
}

/* an id-like string of n bytes (sometimes not UTF-8, sometimes with a NUL) */
static void put_id(out_t *o, size_t n) {
  char s[400];
  for (size_t i = 0; i < n; i++) s[i] = (char)('a' + next() % 26);
  if (n && chance(10)) s[next() % n] = (char)0xff;
  if (n && chance(20)) s[next() % n] = 0;
  put_str(o, s, n);
}
/* an id of n printable bytes */
static void put_clean_id(out_t *o, size_t n) {
  char s[64];
  for (size_t i = 0; i < n; i++) s[i] = (char)('a' + next() % 26);
  put_str(o, s, n);
}
static size_t id_len(void) {
  static const size_t edges[] = {0, 1, 2, 7, 8, 16, 31, 32, 127, 128, 129, 255, 256, 300};
  return chance(4) ? edges[next() % (sizeof edges / sizeof *edges)] : 1 + next() % 24;
}

/* a value of no particular shape, nesting up to levels more containers */
static void put_any(out_t *o, int levels) {
  switch (next() % (levels > 0 ? 10 : 8)) {
    case 0: put1(o, 0xc0); break;
    case 1: put1(o, chance(2) ? 0xc2 : 0xc3); break;
    case 2: put_int(o, (int64_t)(next() % 2000) - 500); break;
    case 3: put1(o, 0xcb), put_be(o, 0x4014000000000000ull, 8); break; /* 5.0 */
    case 4: put1(o, 0xca), put_be(o, 0x40a00000u, 4); break;           /* 5.0f */
    case 5: put_id(o, id_len()); break;
    case 6: put1(o, 0xc4), put1(o, 2), put1(o, 'a'), put1(o, 'b'); break; /* bin */
    case 7: put_uint(o, next()); break;
    case 8: {
      uint64_t n = next() % 4;
      put_array(o, n);
      for (uint64_t i = 0; i < n; i++) put_any(o, levels - 1);
      break;
    }
    default: {
      uint64_t n = next() % 3;
      put_map(o, n);
      for (uint64_t i = 0; i < n; i++) put_lit(o, chance(2) ? "a" : "items"), put_any(o, levels - 1);
    }
  }
}

/* ---- recs.cart ---- */

static void put_recs_items(out_t *o) {
  uint64_t n = chance(30) ? 1001 : chance(8) ? 0 : chance(10) ? 9 + next() % 40 : 1 + next() % 8;
  put_array(o, n);
  for (uint64_t i = 0; i < n; i++) {
    if (chance(40)) put_any(o, 2);
    else put_id(o, chance(6) ? id_len() : 1 + next() % 20);
  }
}

static void put_recs_params(out_t *o, int *common) {
  static const char *const keys[] = {"items", "limit", "customer_id", "filters", "as_of", "item",
                                     "itemsx"};
  int shape = (int)(next() % 4);
  *common = 0;
  if (shape < 2) { /* items, maybe limit: the shape the raw decoder takes */
    int with_limit = chance(2), limit_first = chance(2);
    put_map(o, 1 + (uint64_t)with_limit);
    uint64_t limit = chance(5) ? next() % 1100 : 1 + next() % 50;
    if (with_limit && limit_first) put_lit(o, "limit"), put_uint(o, limit);
    put_lit(o, "items");
    size_t at = o->n;
    put_recs_items(o);
    (void)at;
    if (with_limit && !limit_first) put_lit(o, "limit"), put_uint(o, limit);
    return;
  }
  uint64_t pairs = shape == 2 ? 1 + next() % 3 : next() % 5;
  put_map(o, pairs);
  for (uint64_t i = 0; i < pairs; i++) {
    put_lit(o, keys[next() % (sizeof keys / sizeof *keys)]);
    int v = (int)(next() % 6);
    if (v == 0) put_recs_items(o);
    else if (v == 1) put_int(o, (int64_t)(next() % 1200) - 100);
    else put_any(o, 3);
  }
}

/* A recs.cart request whose params are the valid common shape (for the coverage check). */
static size_t put_recs_common(out_t *o, uint32_t nitems, int limit) {
  put1(o, 0x94), put1(o, 0), put1(o, 7), put_name(o, "recs.cart"), put1(o, 0x91);
  size_t at = o->n;
  put_map(o, limit ? 2 : 1);
  put_lit(o, "items");
  put_array(o, nitems);
  for (uint32_t i = 0; i < nitems; i++) put_clean_id(o, 1 + next() % 20);
  if (limit) put_lit(o, "limit"), put_uint(o, (uint64_t)limit);
  return at;
}

static void assert_pstr_same(pstr_t a, pstr_t b) {
  assert_int_equal(a.n, b.n);
  assert_true(a.n == 0 || a.p == b.p); /* both borrow the request's bytes */
}

static void assert_recs_same(const recs_query_t *a, const recs_query_t *b) {
  assert_int_equal(a->nitems, b->nitems);
  for (size_t i = 0; i < a->nitems; i++) assert_pstr_same(a->items[i], b->items[i]);
  assert_pstr_same(a->product_id, b->product_id);
  assert_pstr_same(a->customer_id, b->customer_id);
  assert_int_equal(a->limit, b->limit);
  assert_int_equal(a->as_of, b->as_of);
  const recs_wire_filter_t *f = &a->filters, *g = &b->filters;
  assert_int_equal(f->in_stock_only, g->in_stock_only);
  assert_int_equal(f->n_exclude_products, g->n_exclude_products);
  assert_int_equal(f->n_exclude_categories, g->n_exclude_categories);
  assert_int_equal(f->has_min_price, g->has_min_price);
  assert_int_equal(f->has_max_price, g->has_max_price);
  assert_int_equal(f->min_price, g->min_price);
  assert_int_equal(f->max_price, g->max_price);
  assert_pstr_same(f->currency, g->currency);
  assert_int_equal(f->max_per_category, g->max_per_category);
  assert_true(f->boost_margin == g->boost_margin);
}

/* ---- offers.decide ---- */

static int64_t pick_i64(const int64_t *v, size_t n) { return v[next() % n]; }
#define PICK(arr) pick_i64(arr, sizeof arr / sizeof *arr)

/* A perturbation of odds 1 in k, made rarer by `noise` (1: noisy requests, mostly wrong
 * somewhere; 12: mostly valid, wrong in one place if any, so the raw decoder's every
 * check meets a request otherwise taken). */
static int noise = 1;
static int bad(int k) { return chance(k * noise); }

static void put_int_or_any(out_t *o, const int64_t *edges, size_t n, int64_t lo, int64_t hi) {
  int w = (int)(next() % 10);
  if (w < 5 || (w >= 8 && !bad(1))) put_int(o, lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)));
  else if (w < 8) put_int(o, pick_i64(edges, n));
  else if (w == 8) put1(o, 0xc0);
  else put_any(o, 1);
}

static void put_offers_line(out_t *o, int edges) {
  static const int64_t qty[] = {0, 1, 2, 1000000, 1000001, -1};
  static const int64_t price[] = {0, 1, 1250, INT64_C(1) << 40, (INT64_C(1) << 40) + 1, -1};
  static const char *const keys[] = {"product_id", "unit_price", "quantity", "category"};
  int n = bad(6) ? (int)(next() % 6) : 4 - (int)(next() % 2);
  put_map(o, (uint64_t)n);
  for (int i = 0; i < n; i++) {
    int k = i < 4 && !bad(8) ? i : (int)(next() % 4);
    if (bad(30)) { put_lit(o, "unit_prices"), put_any(o, 1); continue; }
    put_lit(o, keys[k]);
    if (k == 0) bad(10) ? put_any(o, 1) : put_id(o, chance(5) ? id_len() : 1 + next() % 12);
    else if (k == 1) put_int_or_any(o, price, edges ? 6 : 3, 0, 5000);
    else if (k == 2) put_int_or_any(o, qty, edges ? 6 : 3, 1, 9);
    else if (chance(4)) put1(o, 0xc0);
    else bad(10) ? put_any(o, 1) : put_id(o, chance(5) ? id_len() : 1 + next() % 12);
  }
}

static void put_offers_cart(out_t *o) {
  static const int64_t value[] = {0, 1, INT64_C(1) << 50, (INT64_C(1) << 50) + 1, -1};
  static const char *const cur[] = {"EUR", "USD", "", "EU", "EURO"};
  int n = bad(6) ? (int)(next() % 5) : 1 + (int)(next() % 3);
  put_map(o, (uint64_t)n);
  for (int i = 0; i < n; i++) {
    int k = i < 3 && !bad(6) ? i : (int)(next() % 4);
    if (k == 0) {
      put_lit(o, "currency");
      if (bad(10)) put_any(o, 1);
      else put_lit(o, cur[chance(3) ? next() % 5 : 0]);
    } else if (k == 1) {
      put_lit(o, "lines");
      if (chance(8)) { put1(o, 0xc0); continue; }
      if (bad(15)) { put_any(o, 2); continue; }
      uint64_t nl = chance(20) ? 16 + next() % 20 : next() % 5;
      put_array(o, nl);
      for (uint64_t l = 0; l < nl; l++) put_offers_line(o, nl <= 4); /* no sum overflow */
    } else if (k == 2) {
      put_lit(o, "value");
      put_int_or_any(o, value, 5, 0, 100000);
    } else {
      put_lit(o, bad(2) ? "values" : "cart"), put_any(o, 1);
    }
  }
}

static void put_offers_attributes(out_t *o) {
  if (bad(6)) { put1(o, 0xc0); return; }
  if (bad(10)) { put_any(o, 2); return; }
  uint64_t n = next() % 5;
  put_map(o, n);
  for (uint64_t i = 0; i < n; i++) {
    if (bad(20)) put_uint(o, i); /* a non-string key */
    else put_lit(o, chance(2) ? "channel" : "device");
    int v = (int)(next() % 8);
    if (v == 0) put_uint(o, UINT64_MAX - next() % 3); /* above INT64_MAX: not JSON */
    else if (v == 1) put_any(o, 2);                   /* containers: the map path's */
    else put_any(o, 0);
  }
}

static void put_offers_params(out_t *o, int *common) {
  static const int64_t max_offers[] = {0, 1, 16, 17, -1};
  static const char *const keys[] = {"customer_id", "cart", "attributes", "max_offers"};
  *common = 0;
  noise = chance(2) ? 1 : 12;
  int n = bad(6) ? (int)(next() % 6) : 2 + (int)(next() % 3);
  put_map(o, (uint64_t)n);
  for (int i = 0; i < n; i++) {
    int k = i < 4 && !bad(6) ? i : (int)(next() % 4);
    if (bad(30)) { put_lit(o, "customer"), put_id(o, 3); continue; }
    put_lit(o, keys[k]);
    if (k == 0) bad(10) ? put_any(o, 1) : put_id(o, chance(4) ? id_len() : 1 + next() % 12);
    else if (k == 1) put_offers_cart(o);
    else if (k == 2) put_offers_attributes(o);
    else put_int_or_any(o, max_offers, 5, 1, 16);
  }
}

/* The bench's request: customer, attributes {channel}, a cart of lines. */
static void put_offers_common(out_t *o, int lines) {
  put1(o, 0x94), put1(o, 0), put1(o, 9), put_name(o, "offers.decide"), put1(o, 0x91);
  put_map(o, 3);
  put_lit(o, "customer_id"), put_clean_id(o, 1 + next() % 20);
  put_lit(o, "attributes"), put_map(o, 1), put_lit(o, "channel"), put_lit(o, "web");
  put_lit(o, "cart"), put_map(o, 2), put_lit(o, "currency"), put_lit(o, "EUR");
  put_lit(o, "lines"), put_array(o, (uint64_t)lines);
  for (int l = 0; l < lines; l++) {
    put_map(o, 4);
    put_lit(o, "product_id"), put_clean_id(o, 1 + next() % 12);
    put_lit(o, "category"), put_lit(o, "kitchen");
    put_lit(o, "quantity"), put_uint(o, 1 + next() % 5);
    put_lit(o, "unit_price"), put_uint(o, next() % 5000);
  }
}

static void assert_cstr_same(const char *a, const char *b) {
  assert_true((a == NULL) == (b == NULL));
  if (a) assert_string_equal(a, b);
}

/* the raw decoder's request against offers_decide_read over the table decoder's map */
static void same_offers(arena_t *ar, const void *raw_out, const void *obj_out) {
  const offers_decide_params_t *r = raw_out, *m = obj_out;
  offers_decide_req_t q;
  assert_true(r->fast);
  assert_false(m->fast);
  if (!offers_decide_read(ar, &m->raw.obj, &q)) fail_msg("raw took a request the map reader declines");
  const offers_decide_req_t *p = &r->req;
  assert_cstr_same(p->customer, q.customer);
  assert_int_equal(p->max_offers, q.max_offers);
  assert_cstr_same(p->cart.currency, q.cart.currency);
  assert_int_equal(p->cart.value, q.cart.value);
  assert_int_equal(p->cart.nitems, q.cart.nitems);
  for (size_t i = 0; i < p->cart.nitems; i++) {
    assert_cstr_same(p->cart.items[i].product, q.cart.items[i].product);
    assert_cstr_same(p->cart.items[i].category, q.cart.items[i].category);
    assert_int_equal(p->cart.items[i].quantity, q.cart.items[i].quantity);
    assert_int_equal(p->cart.items[i].price, q.cart.items[i].price);
  }
  assert_true((p->shop == NULL) == (q.shop == NULL));
  if (p->shop) assert_true(mpdecode_same(p->shop, q.shop));
}

/* ---- the property ---- */

/* raw_out (the raw decoder's) against obj_out (the table decoder's), a: an arena */
typedef void (*same_fn)(arena_t *a, const void *raw_out, const void *obj_out);

typedef struct tally_s { int tried, taken, common, common_taken; } tally_t;

/* One input p[0..n) (a whole message of len bytes, or 0: unknown) to method mi: if the raw
 * path takes it, the guard, the general parse and the table decoder agree. */
static void check_one(int mi, const uint8_t *p, size_t n, const guard_limits_t *lim,
                      same_fn same, int common, tally_t *t) {
  const method_desc_t *md = &method_table[mi];
  arena_t a;
  arena_init(&a, 64u << 20);
  void *raw_out = arena_alloc(&a, md->params_size), *obj_out = arena_alloc(&a, md->params_size);
  rpc_msg_t m, gm;
  perr_info_t e;
  memset(&m, 0xa5, sizeof m);
  memset(raw_out, 0x5a, md->params_size);
  long k = 0;
  size_t at = mpdecode_request_head(p, n, &m);
  /* as fused_next: the raw decoder of the method the head names */
  if (at && method_lookup(m.method, m.method_len) == mi)
    k = mpdecode_request_raw(p, n, at, lim, md->decode_raw, &a, raw_out, &m);
  t->tried++;
  if (common) t->common++;
  if (k > 0) {
    t->taken++;
    if (common) t->common_taken++;
    assert_null(m.params);
    assert_true(guard_accepts_one(p, (size_t)k, lim));
    msgpack_zone *z = msgpack_zone_new(4096);
    msgpack_object o;
    size_t glen = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)p, n, &glen, z, &o);
    assert_true(r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES);
    assert_int_equal(rpc_parse(&o, &gm, &e), 0);
    assert_int_equal(glen, (size_t)k);
    assert_int_equal(m.msgid, gm.msgid);
    assert_int_equal(m.method_len, gm.method_len);
    assert_int_equal(method_lookup(gm.method, gm.method_len), mi);
    assert_non_null(gm.params);
    /* the one-walk object path takes it too, with the same object */
    msgpack_object params;
    rpc_msg_t fm;
    size_t fat = mpdecode_request_head(p, n, &fm);
    assert_true(fat == at);
    assert_int_equal(mpdecode_request_params(p, n, fat, lim, z, &params, &fm), k);
    assert_true(mpdecode_same(fm.params, gm.params));
    int rc = md->decode(gm.params, &a, obj_out, &e);
    if (rc) fail_msg("raw took params the table decoder refuses (%s: %s)", e.field, e.message);
    same(&a, raw_out, obj_out);
    msgpack_zone_free(z);
  }
  arena_free(&a);
}

static void same_recs(arena_t *ar, const void *a, const void *b) {
  (void)ar;
  assert_recs_same(a, b);
}

/* Random limits around the request's own figures. */
static guard_limits_t random_limits(size_t len) {
  guard_limits_t lim = {1u << 20, 3 + (uint32_t)(next() % 6), 2 + (uint32_t)(next() % 30)};
  if (chance(2)) lim.max_elems = 65536, lim.max_depth = 24;
  uint64_t pick = next() % 5;
  if (pick == 1) lim.max_message = (uint32_t)len;
  else if (pick == 2) lim.max_message = (uint32_t)len - 1;
  return lim;
}

/* A generated request to method `name`: whole, then every few prefixes and some byte flips. */
static void check_generated(int mi, const char *name, void (*params)(out_t *, int *),
                            same_fn same, int rounds, tally_t *t) {
  out_t *o = malloc(sizeof *o);
  for (int round = 0; round < rounds; round++) {
    int common;
    o->n = 0;
    int notify = chance(8);
    if (notify) put1(o, 0x93), put1(o, 2);
    else put1(o, 0x94), put1(o, 0), put_uint(o, next() % 70000);
    if (chance(10)) put_lit(o, name); /* str16 sometimes: the head declines it */
    else put_name(o, name);
    int form = (int)(next() % 12);
    if (form == 0) put1(o, 0x90), common = 0;
    else if (form == 1) put1(o, 0x91), put1(o, 0xc0), common = 0;
    else if (form == 2) put1(o, 0x92), params(o, &common), put1(o, 0xc0), common = 0;
    else put_array(o, 1), params(o, &common);
    size_t len = o->n;
    guard_limits_t lim = random_limits(len);
    put(o, o->b, len); /* the next message: never read into */
    check_one(mi, o->b, o->n, &lim, same, 0, t);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 5) { /* prefixes: never taken */
      rpc_msg_t m;
      size_t at = mpdecode_request_head(o->b, cut, &m);
      arena_t a;
      arena_init(&a, 1 << 20);
      void *out = arena_alloc(&a, method_table[mi].params_size);
      assert_true(!at ||
                  mpdecode_request_raw(o->b, cut, at, &lim, method_table[mi].decode_raw, &a, out, &m) <= 0);
      arena_free(&a);
    }
    uint8_t *flip = malloc(o->n);
    for (int f = 0; f < 4; f++) {
      memcpy(flip, o->b, o->n);
      flip[next() % len] = f == 0 ? 0xc1 : (uint8_t)next();
      check_one(mi, flip, o->n, &lim, same, 0, t);
    }
    free(flip);
  }
  free(o);
}

static void test_recs_cart_raw_matches_object_path(void **state) {
  (void)state;
  int mi = method_lookup("recs.cart", 9);
  assert_true(mi >= 0);
  assert_non_null(method_table[mi].decode_raw);
  tally_t t = {0};
  check_generated(mi, "recs.cart", put_recs_params, same_recs, 6000, &t);
  /* the common shape within ample limits: always taken */
  out_t *o = malloc(sizeof *o);
  const guard_limits_t ample = {1u << 20, 8, 65536};
  static const uint32_t counts[] = {1, 2, 5, 8, 9, 15, 16, 100, 1000};
  for (int i = 0; i < 200; i++) {
    o->n = 0;
    put_recs_common(o, counts[i % 9], i % 3 ? (int)(1 + next() % 1000) : 0);
    check_one(mi, o->b, o->n, &ample, same_recs, 1, &t);
  }
  /* edges: a 128-byte id is taken, 129 is not; depth 3 (no room for items) is not */
  o->n = 0;
  put1(o, 0x94), put1(o, 0), put1(o, 1), put_name(o, "recs.cart"), put1(o, 0x91), put1(o, 0x81);
  put_lit(o, "items"), put1(o, 0x91);
  size_t before = o->n;
  char id[129];
  memset(id, 'x', sizeof id);
  put_str(o, id, 128);
  int taken = t.taken;
  check_one(mi, o->b, o->n, &ample, same_recs, 0, &t);
  assert_int_equal(t.taken, taken + 1);
  const guard_limits_t shallow = {1u << 20, 3, 65536};
  check_one(mi, o->b, o->n, &shallow, same_recs, 0, &t);
  assert_int_equal(t.taken, taken + 1);
  o->n = before;
  put_str(o, id, 129);
  check_one(mi, o->b, o->n, &ample, same_recs, 0, &t);
  assert_int_equal(t.taken, taken + 1);
  free(o);
  print_message("recs.cart: %d inputs, %d taken raw; common %d/%d\n", t.tried, t.taken,
                t.common_taken, t.common);
  assert_int_equal(t.common_taken, t.common);
  assert_true(t.taken > 800);
}

/* Beside check_one: the map reader accepted the params of a whole message the raw decoder
 * declined within ample limits: only for attribute values the raw decoder leaves to the
 * map (containers) -- counted, for the coverage figure. */
static void test_offers_decide_raw_matches_object_path(void **state) {
  (void)state;
  int mi = method_lookup("offers.decide", 13);
  assert_true(mi >= 0);
  assert_non_null(method_table[mi].decode_raw);
  tally_t t = {0};
  check_generated(mi, "offers.decide", put_offers_params, same_offers, 6000, &t);
  out_t *o = malloc(sizeof *o);
  const guard_limits_t ample = {1u << 20, 8, 65536};
  for (int i = 0; i < 200; i++) {
    o->n = 0;
    put_offers_common(o, i % 6);
    check_one(mi, o->b, o->n, &ample, same_offers, 1, &t);
  }
  /* the depth limit: lines' maps are at depth 6 of the message */
  o->n = 0;
  put_offers_common(o, 1);
  int taken = t.taken;
  const guard_limits_t six = {1u << 20, 6, 65536}, five = {1u << 20, 5, 65536};
  check_one(mi, o->b, o->n, &six, same_offers, 0, &t);
  assert_int_equal(t.taken, taken + 1);
  check_one(mi, o->b, o->n, &five, same_offers, 0, &t);
  assert_int_equal(t.taken, taken + 1);
  free(o);
  print_message("offers.decide: %d inputs, %d taken raw; common %d/%d\n", t.tried, t.taken,
                t.common_taken, t.common);
  assert_int_equal(t.common_taken, t.common);
  assert_true(t.taken > 300);
}

/* Every raw decoder belongs to a loop-thread method (fused_next is the only caller). */
static void test_raw_column_only_on_loop_methods(void **state) {
  (void)state;
  int n = 0;
  for (int i = 0; i < METHOD__COUNT; i++) {
    if (!method_table[i].decode_raw) continue;
    n++;
    assert_int_equal(method_table[i].thread, RUN_ON_LOOP);
    assert_false(method_table[i].flags & M_ADMIN);
  }
  assert_true(n >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recs_cart_raw_matches_object_path),
      cmocka_unit_test(test_offers_decide_raw_matches_object_path),
      cmocka_unit_test(test_raw_column_only_on_loop_methods),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
