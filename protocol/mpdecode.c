/* mpdecode.c -- see mpdecode.h. The header table is protocol/mpframe's; the object shapes
 * are msgpack-c 4's (a signed integer >= 0 is a POSITIVE_INTEGER, a float 32 is FLOAT32 with
 * its value widened, an ext's type is its first byte). */
#include "mpdecode.h"

#include <stddef.h>
#include <string.h>

#include "mpframe.h"
#include "rpc.h"

/* A big-endian unsigned of n = 1, 2, 4 or 8 bytes (mpraw.h's). */
static inline uint64_t be(const uint8_t *p, int n) { return mpraw_be(p, (unsigned)n); }

/* What a lead byte is, for the decoder's one jump: the fix ranges and the 32 leads
 * 0xc0..0xdf (whose widths are mpframe's table). */
enum {
  L_POS, L_NEG, L_FIXSTR, L_FIXMAP, L_FIXARRAY, L_NIL, L_BAD, L_BOOL, L_F32, L_F64,
  L_UINT, L_INT, L_STR, L_BIN, L_EXT, L_FIXEXT, L_ARRAY, L_MAP
};
#define X8(c) c, c, c, c, c, c, c, c
#define X16(c) X8(c), X8(c)
static const uint8_t lead_class[256] = {
    X16(L_POS), X16(L_POS), X16(L_POS), X16(L_POS), X16(L_POS), X16(L_POS), X16(L_POS),
    X16(L_POS),                                               /* 00-7f */
    X16(L_FIXMAP), X16(L_FIXARRAY), X16(L_FIXSTR), X16(L_FIXSTR), /* 80-bf */
    L_NIL, L_BAD, L_BOOL, L_BOOL, L_BIN, L_BIN, L_BIN, L_EXT, /* c0-c7 */
    L_EXT, L_EXT, L_F32, L_F64, L_UINT, L_UINT, L_UINT, L_UINT, /* c8-cf */
    L_INT, L_INT, L_INT, L_INT, L_FIXEXT, L_FIXEXT, L_FIXEXT, L_FIXEXT, /* d0-d7 */
    L_FIXEXT, L_STR, L_STR, L_STR, L_ARRAY, L_ARRAY, L_MAP, L_MAP, /* d8-df */
    X16(L_NEG), X16(L_NEG),                                   /* e0-ff */
};
#undef X8
#undef X16

/* A map's items are filled as 2n objects in a row (key, value, key, ...). */
_Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object) &&
                   offsetof(msgpack_object_kv, val) == sizeof(msgpack_object),
               "a map's key/value pairs are two objects in a row");

/* The decoder: iterative; o is the object being filled and left the elements still to fill
 * in the innermost open container (its siblings follow o in the zone), the outer ones saved
 * on a stack. One jump on the lead's class per element. With strict, it also enforces the
 * guard's container limits itself (guard.c's on_header): a container opened with `depth`
 * containers of the object open needs depth < room (empty ones too), and at most max_count
 * elements (pairs for a map); breaking one returns -1. Without strict, only nesting past
 * room non-empty containers is refused (mpdecode_object's contract). Inline: both entry
 * points specialise it. */
#if defined(__GNUC__)
#define DECODE_INLINE static inline __attribute__((always_inline))
#else
#define DECODE_INLINE static inline
#endif
DECODE_INLINE long decode(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *o,
                          int room, uint64_t max_count, int strict) {
  struct { msgpack_object *at; uint64_t left; } open[MPFRAME_MAX_DEPTH];
  int depth = 0;
  uint64_t left = 1; /* the object itself */
  size_t i = 0;
  if (room > MPFRAME_MAX_DEPTH) room = MPFRAME_MAX_DEPTH;
  for (;;) {
    if (i >= n) return 0;
    uint8_t b = p[i++];
    uint64_t count, len;
    int map, w;
    switch (lead_class[b]) {
      case L_POS: o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = b; break;
      case L_NEG: o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER, o->via.i64 = (int8_t)b; break;
      case L_FIXSTR:
        len = b & 0x1fu;
        if (len > n - i) return 0;
        o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = (const char *)p + i;
        o->via.str.size = (uint32_t)len;
        i += len;
        break;
      case L_NIL: o->type = MSGPACK_OBJECT_NIL; break;
      case L_BAD: return -1;
      case L_BOOL: o->type = MSGPACK_OBJECT_BOOLEAN, o->via.boolean = b == 0xc3; break;
      case L_F32: {
        if (n - i < 4) return 0;
        uint32_t u = (uint32_t)be(p + i, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        o->type = MSGPACK_OBJECT_FLOAT32, o->via.f64 = f;
        i += 4;
        break;
      }
      case L_F64: {
        if (n - i < 8) return 0;
        uint64_t u = be(p + i, 8);
        memcpy(&o->via.f64, &u, sizeof u);
        o->type = MSGPACK_OBJECT_FLOAT64;
        i += 8;
        break;
      }
      case L_UINT:
        w = 1 << (b - 0xcc);
        if (n - i < (size_t)w) return 0;
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = be(p + i, w);
        i += (size_t)w;
        break;
      case L_INT: { /* signed, two's complement; >= 0 is a POSITIVE_INTEGER (msgpack-c) */
        w = 1 << ((b - 0xd0) & 3);
        if (n - i < (size_t)w) return 0;
        uint64_t u = be(p + i, w);
        int64_t v = w == 8 ? (int64_t)u : (int64_t)(u ^ (UINT64_C(1) << (8 * w - 1))) -
                                             (int64_t)(UINT64_C(1) << (8 * w - 1));
        if (v >= 0) o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = (uint64_t)v;
        else o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER, o->via.i64 = v;
        i += (size_t)w;
        break;
      }
      case L_STR: case L_BIN: case L_EXT: case L_FIXEXT: { /* a header from mpframe's table */
        const mpframe_lead_t *l = &mpframe_lead_c0[b - 0xc0];
        if ((size_t)l->extra > n - i) return 0;
        len = l->len_bytes ? be(p + i, l->len_bytes) : l->fixed_body;
        i += (size_t)l->extra;
        if (len > n - i) return 0;
        const char *body = (const char *)p + i;
        if (lead_class[b] == L_STR) {
          o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = body, o->via.str.size = (uint32_t)len;
        } else if (lead_class[b] == L_BIN) {
          o->type = MSGPACK_OBJECT_BIN, o->via.bin.ptr = body, o->via.bin.size = (uint32_t)len;
        } else { /* ext: the type byte is the last of the header */
          o->type = MSGPACK_OBJECT_EXT;
          o->via.ext.type = (int8_t)p[i - 1];
          o->via.ext.ptr = body;
          o->via.ext.size = (uint32_t)len;
        }
        i += (size_t)len;
        break;
      }
      case L_FIXMAP: count = b & 0x0fu, map = 1; goto container;
      case L_FIXARRAY: count = b & 0x0fu, map = 0; goto container;
      default: /* array 16/32, map 16/32 */
        w = b & 1 ? 4 : 2;
        if ((size_t)w > n - i) return 0;
        count = be(p + i, w);
        i += (size_t)w;
        map = b >= 0xde;
      container: {
        uint64_t children = map ? 2 * count : count;
        if (strict && (depth >= room || count > max_count)) return -1;
        if (children > n - i) return 0; /* each element takes a byte at least */
        msgpack_object *items = msgpack_zone_malloc(z, (size_t)children * sizeof *items);
        if (!items) return -1;
        if (map) {
          o->type = MSGPACK_OBJECT_MAP;
          o->via.map.size = (uint32_t)count;
          o->via.map.ptr = (msgpack_object_kv *)(void *)items;
        } else {
          o->type = MSGPACK_OBJECT_ARRAY;
          o->via.array.size = (uint32_t)count;
          o->via.array.ptr = items;
        }
        if (children > 0) { /* its elements first */
          if (depth >= room) return -1;
          open[depth].at = o;
          open[depth].left = left;
          depth++;
          o = items;
          left = children;
          continue;
        }
      }
    }
    /* an element is complete: the next one, or close the containers it completes */
    while (--left == 0) {
      if (depth == 0) return (long)i;
      depth--;
      o = open[depth].at;
      left = open[depth].left;
    }
    o++;
  }
}

long mpdecode_object(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out) {
  return decode(p, n, z, out, MPFRAME_MAX_DEPTH, UINT64_MAX, 0);
}

size_t mpdecode_request_head(const uint8_t *p, size_t n, rpc_msg_t *m) {
  size_t i = 2;
  if (n < 5) return 0;
  if (p[0] == 0x94 && p[1] == RPC_REQUEST) { /* the msgid: a uint of at most 32 bits */
    uint8_t b = p[2];
    if (b < 0x80) {
      m->msgid = b, i = 3;
    } else if (b >= 0xcc && b <= 0xce) {
      size_t w = (size_t)1 << (b - 0xcc);
      if (w >= n - 3) return 0;
      m->msgid = (uint32_t)be(p + 3, (int)w);
      i = 3 + w;
    } else {
      return 0;
    }
    m->type = RPC_REQUEST;
    m->has_msgid = 1;
  } else if (p[0] == 0x93 && p[1] == RPC_NOTIFICATION) {
    m->type = RPC_NOTIFICATION;
    m->msgid = 0;
    m->has_msgid = 0;
  } else {
    return 0;
  }
  size_t len, h;
  if (i + 1 >= n) return 0;
  if (p[i] >= 0xa0 && p[i] <= 0xbf) len = p[i] & 0x1fu, h = 1;
  else if (p[i] == 0xd9) len = p[i + 1], h = 2;
  else return 0;
  if (len == 0 || len > RPC_METHOD_MAX || len >= n - i - h) return 0; /* rpc_parse's rule */
  m->method = (const char *)p + i + h;
  m->method_len = len;
  m->params = NULL;
  return i + h + len;
}

long mpdecode_request_params(const uint8_t *p, size_t n, size_t at, const guard_limits_t *lim,
                             msgpack_zone *z, msgpack_object *params, rpc_msg_t *m) {
  /* the outer array (depth 1, 3 or 4 elements) and params (depth 2, 0 or 1 element) are
   * within the limits when these hold; the map is checked as it is decoded (room counts the
   * containers it may still open: the guard's max_depth less the two around it) */
  if (lim->max_depth < 2 || lim->max_elems < (m->type == RPC_REQUEST ? 4u : 3u)) return 0;
  if (n > lim->max_message) n = lim->max_message; /* a longer message: not complete here */
  if (at >= n) return 0;
  uint8_t b = p[at];
  if (b == 0x90) return (long)(at + 1);
  if (b != 0x91 || at + 1 >= n) return 0;
  b = p[at + 1];
  if (b == 0xc0) return (long)(at + 2);
  if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)) return 0; /* not a map */
  long k = decode(p + at + 1, n - at - 1, z, params, (int)lim->max_depth - 2, lim->max_elems, 1);
  if (k <= 0) return 0;
  m->params = params;
  return (long)(at + 1) + k;
}

long mpdecode_request_raw(const uint8_t *p, size_t n, size_t at, const guard_limits_t *lim,
                          mpraw_decode_fn raw, struct arena_s *a, void *out, rpc_msg_t *m) {
  /* as mpdecode_request_params: the two arrays around the map within the limits */
  if (lim->max_depth < 3 || lim->max_elems < (m->type == RPC_REQUEST ? 4u : 3u)) return 0;
  if (n > lim->max_message) n = lim->max_message;
  if (at + 1 >= n || p[at] != 0x91) return 0;
  mpraw_limits_t rl = {lim->max_depth - 2, lim->max_elems};
  if (rl.room > MPFRAME_MAX_DEPTH) rl.room = MPFRAME_MAX_DEPTH;
  size_t k = raw(p + at + 1, n - at - 1, &rl, a, out);
  if (!k) return 0;
  m->params = NULL;
  return (long)(at + 1 + k);
}

int mpdecode_method(const uint8_t *p, size_t n, const char **name, size_t *len) {
  size_t i = 2;
  if (n < 4 || !((p[0] == 0x94 && p[1] == 0) || (p[0] == 0x93 && p[1] == 2))) return -1;
  if (p[0] == 0x94) { /* the msgid */
    if (p[i] < 0x80) i += 1;
    else if (p[i] >= 0xcc && p[i] <= 0xce) i += 1 + ((size_t)1 << (p[i] - 0xcc));
    else return -1;
  }
  if (i >= n) return -1;
  size_t l, h;
  if (p[i] >= 0xa0 && p[i] <= 0xbf) l = p[i] & 0x1fu, h = 1;
  else if (p[i] == 0xd9 && i + 1 < n) l = p[i + 1], h = 2;
  else return -1;
  if (l > n - i - h) return -1;
  *name = (const char *)p + i + h;
  *len = l;
  return 0;
}

int mpdecode_same(const msgpack_object *a, const msgpack_object *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return !memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64);
    case MSGPACK_OBJECT_ARRAY:
      if (a->via.array.size != b->via.array.size) return 0;
      for (uint32_t i = 0; i < a->via.array.size; i++)
        if (!mpdecode_same(&a->via.array.ptr[i], &b->via.array.ptr[i])) return 0;
      return 1;
    case MSGPACK_OBJECT_MAP:
      if (a->via.map.size != b->via.map.size) return 0;
      for (uint32_t i = 0; i < a->via.map.size; i++)
        if (!mpdecode_same(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
            !mpdecode_same(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
          return 0;
      return 1;
    default: return msgpack_object_equal(*a, *b);
  }
}
