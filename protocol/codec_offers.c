/* codec_offers.c -- the offers and experiments methods' codecs (issue 9): the params map
 * kept as sent (read by the handler as JSON), results packed from JSON into the job's arena;
 * plus the msgpack <-> jansson conversions they use (and a msgpack scalar typed for the rules).
 * Invariant: a conversion error names the offending path and allocates nothing that
 * outlives it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_msgpack.h"
#include "methods.h"
#include "rpc.h"

/* The path of the value being converted, built only by appending (no formatting): it is
 * read only when an error names it. */
typedef struct jpath_s {
  char b[256];
  size_t n;
} jpath_t;

static size_t jpath_key(jpath_t *p, const char *k, size_t kn) {
  size_t at = p->n;
  if (p->n && p->n < sizeof p->b - 1) p->b[p->n++] = '.';
  size_t room = sizeof p->b - 1 - p->n;
  if (kn > room) kn = room;
  memcpy(p->b + p->n, k, kn);
  p->n += kn;
  p->b[p->n] = 0;
  return at;
}

static size_t jpath_index(jpath_t *p, uint32_t i) {
  size_t at = p->n;
  char num[16];
  int k = (int)sizeof num;
  num[--k] = ']';
  do num[--k] = (char)('0' + i % 10); while ((i /= 10) && k > 1);
  num[--k] = '[';
  size_t len = sizeof num - (size_t)k;
  if (p->n + len < sizeof p->b) {
    memcpy(p->b + p->n, num + k, len);
    p->n += len;
  }
  p->b[p->n] = 0;
  return at;
}

static json_t *to_json(const msgpack_object *o, jpath_t *path, perr_info_t *e) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > INT64_MAX) break;
    return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR: return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; a && i < o->via.array.size; i++) {
      size_t at = jpath_index(path, i);
      json_t *v = to_json(&o->via.array.ptr[i], path, e);
      if (!v) { json_decref(a); return NULL; }
      path->b[path->n = at] = 0;
      json_array_append_new(a, v);
    }
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; m && i < o->via.map.size; i++) {
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      if (kv->key.type != MSGPACK_OBJECT_STR) {
        json_decref(m);
        perr_set(e, PERR_INVALID_PARAMS, path->n ? path->b : NULL, "map keys must be strings");
        return NULL;
      }
      char key[200];
      size_t kn = kv->key.via.str.size < sizeof key - 1 ? kv->key.via.str.size : sizeof key - 1;
      memcpy(key, kv->key.via.str.ptr, kn);
      key[kn] = 0;
      size_t at = jpath_key(path, key, kn);
      json_t *v = to_json(&kv->val, path, e);
      if (!v) { json_decref(m); return NULL; }
      path->b[path->n = at] = 0;
      json_object_set_new_nocheck(m, key, v);
    }
    return m;
  }
  default: break;
  }
  perr_set(e, PERR_INVALID_PARAMS, path->n ? path->b : NULL,
           "unsupported value (integers up to 2^63-1; no bin or ext)");
  return NULL;
}

json_t *mp_to_json(const msgpack_object *o, const char *path, perr_info_t *e) {
  jpath_t p;
  p.n = 0;
  p.b[0] = 0;
  if (path && *path) jpath_key(&p, path, strlen(path));
  return to_json(o, &p, e);
}

bool mp_scalar_value(arena_t *a, const msgpack_object *o, condition_value_t *v) {
  memset(v, 0, sizeof *v);
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: v->type = CONDITION_VALUE_NULL; return true;
  case MSGPACK_OBJECT_BOOLEAN: v->type = CONDITION_VALUE_BOOL, v->b = o->via.boolean; return true;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > INT64_MAX) return false;
    v->type = CONDITION_VALUE_INT, v->i = (int64_t)o->via.u64;
    return true;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    v->type = CONDITION_VALUE_INT, v->i = o->via.i64;
    return true;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: v->type = CONDITION_VALUE_REAL, v->d = o->via.f64; return true;
  case MSGPACK_OBJECT_STR: {
    size_t n = o->via.str.size;
    if (mp_has_nul(o->via.str.ptr, n)) return false;
    char *s = arena_strndup(a, o->via.str.ptr, n);
    if (!s) return false;
    v->type = CONDITION_VALUE_STR, v->s = s, v->n = n;
    return true;
  }
  default: return false;
  }
}

int json_blob_make(arena_t *a, const json_t *j, json_blob_t *out, perr_info_t *e) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  json_msgpack_pack(&pk, j);
  char *p = arena_alloc(a, sb.size ? sb.size : 1);
  if (p) memcpy(p, sb.data, sb.size);
  *out = (json_blob_t){p, p ? sb.size : 0};
  msgpack_sbuffer_destroy(&sb);
  return p ? 0 : perr_set(e, PERR_INTERNAL, NULL, "out of memory packing a result");
}

/* ---- offers.decide's answer, packed directly ---- */

/* A string: fixstr, str8, str16 or str32 header, then the bytes (msgpack_pack_str's forms). */
static char *put_str(char *p, const char *s, size_t n) {
  if (n < 32) {
    *p++ = (char)(0xa0 | n);
  } else if (n < 256) {
    *p++ = (char)0xd9;
    *p++ = (char)n;
  } else if (n < 65536) {
    *p++ = (char)0xda;
    *p++ = (char)(n >> 8);
    *p++ = (char)n;
  } else {
    *p++ = (char)0xdb;
    for (int i = 3; i >= 0; i--) *p++ = (char)(n >> (8 * i));
  }
  memcpy(p, s, n);
  return p + n;
}

static char *put_be(char *p, unsigned char tag, uint64_t v, int bytes) {
  *p++ = (char)tag;
  for (int i = bytes - 1; i >= 0; i--) *p++ = (char)(v >> (8 * i));
  return p;
}

/* An integer in msgpack_pack_int64's form: a fixint when it fits, else the smallest
 * unsigned (non-negative) or signed (negative) width. */
static char *put_int(char *p, int64_t v) {
  if (v >= -32 && v < 128) {
    *p++ = (char)v;
    return p;
  }
  uint64_t u = (uint64_t)v;
  if (v >= 0)
    return v < 256 ? put_be(p, 0xcc, u, 1)
           : v < 65536 ? put_be(p, 0xcd, u, 2)
           : v < INT64_C(4294967296) ? put_be(p, 0xce, u, 4)
           : put_be(p, 0xcf, u, 8);
  return v >= -128 ? put_be(p, 0xd0, u, 1)
         : v >= -32768 ? put_be(p, 0xd1, u, 2)
         : v >= INT32_MIN ? put_be(p, 0xd2, u, 4)
         : put_be(p, 0xd3, u, 8);
}

static char *put_double(char *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return put_be(p, 0xcb, u, 8);
}

/* A literal of fixstr keys (and the headers between them), its length known when compiled. */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

size_t offers_decision_packed_max(const offers_decision_t *d) {
  size_t n = 64; /* the map, its two keys, the array header */
  for (size_t i = 0; i < d->n; i++) { /* 13 keys (~110 bytes), numbers, strings' headers */
    const offers_decided_t *it = &d->items[i];
    n += 256 + sizeof it->impression_id + sizeof it->reason + sizeof it->token +
         strlen(it->offer_id) + (it->variant ? strlen(it->variant) : 0) + strlen(it->currency);
  }
  return n;
}

size_t offers_decision_pack(const offers_decision_t *d, char *out) {
  char *p = out;
  PUT_LIT(p, "\x82" "\xae" "global_holdout");
  *p++ = d->global_holdout ? (char)0xc3 : (char)0xc2;
  PUT_LIT(p, "\xa6" "offers");
  if (d->n < 16) *p++ = (char)(0x90 | d->n);
  else p = put_be(p, 0xdc, d->n, 2); /* n <= OFFERS_DECIDE_MAX: array16 at most */
  for (size_t i = 0; i < d->n; i++) {
    const offers_decided_t *it = &d->items[i];
    PUT_LIT(p, "\x8d" "\xa8" "offer_id");
    p = put_str(p, it->offer_id, strlen(it->offer_id));
    PUT_LIT(p, "\xa3" "arm");
    p = put_int(p, it->arm);
    PUT_LIT(p, "\xa7" "variant");
    if (it->variant) p = put_str(p, it->variant, strlen(it->variant));
    else *p++ = (char)0xc0;
    PUT_LIT(p, "\xa8" "held_out");
    *p++ = it->held_out ? (char)0xc3 : (char)0xc2;
    PUT_LIT(p, "\xa5" "value");
    p = put_int(p, it->value);
    PUT_LIT(p, "\xa8" "discount");
    p = put_int(p, it->discount);
    PUT_LIT(p, "\xa8" "currency");
    p = put_str(p, it->currency, strlen(it->currency));
    PUT_LIT(p, "\xae" "expected_value");
    p = put_double(p, it->expected_value);
    PUT_LIT(p, "\xa6" "uplift");
    p = put_double(p, it->uplift);
    PUT_LIT(p, "\xad" "impression_id");
    p = put_str(p, it->impression_id, strlen(it->impression_id));
    PUT_LIT(p, "\xa7" "expires");
    p = put_int(p, it->expires);
    PUT_LIT(p, "\xa6" "reason");
    p = put_str(p, it->reason, strlen(it->reason));
    PUT_LIT(p, "\xa5" "token");
    p = put_str(p, it->token, strlen(it->token));
  }
  return (size_t)(p - out);
}

static int dec_raw(const msgpack_object *params, void *out, perr_info_t *e) {
  raw_params_t *r = out;
  if (params && params->type != MSGPACK_OBJECT_MAP && params->type != MSGPACK_OBJECT_NIL)
    return perr_set(e, PERR_INVALID_PARAMS, NULL, "params must be a map");
  if (params) r->obj = *params;
  else r->obj.type = MSGPACK_OBJECT_NIL;
  return 0;
}

static void enc_blob(msgpack_packer *pk, const void *result) {
  const json_blob_t *b = result;
  if (!b->p || !b->n) {
    msgpack_pack_map(pk, 0);
    return;
  }
  msgpack_sbuffer_write(pk->data, b->p, b->n);
}

#define RAW_CODEC(id)                                                                    \
  int dec_##id(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {  \
    (void)a;                                                                             \
    return dec_raw(params, out, e);                                                      \
  }                                                                                      \
  void enc_##id(msgpack_packer *pk, const void *result) { enc_blob(pk, result); }
RAW_CODEC(offers_set)
RAW_CODEC(offers_get)
RAW_CODEC(offers_list)
RAW_CODEC(offers_archive)
RAW_CODEC(experiments_assign)
void enc_offers_decide(msgpack_packer *pk, const void *result) { enc_blob(pk, result); }
RAW_CODEC(offers_redeem)
RAW_CODEC(offers_event)
RAW_CODEC(experiments_report)
RAW_CODEC(offers_expose)
RAW_CODEC(offers_reload)
RAW_CODEC(offers_rotate_key)
