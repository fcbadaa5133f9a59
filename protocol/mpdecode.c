/* mpdecode.c -- see mpdecode.h. The header table is protocol/mpframe's; the object shapes
 * are msgpack-c 4's (a signed integer >= 0 is a POSITIVE_INTEGER, a float 32 is FLOAT32 with
 * its value widened, an ext's type is its first byte). */
#include "mpdecode.h"

#include <stddef.h>
#include <string.h>

#include "mpframe.h"
#include "rpc.h"

/* A big-endian unsigned of n = 1, 2, 4 or 8 bytes: one load and a byte swap on a
 * little-endian host (GCC and Clang builtins), shifts elsewhere. */
static uint64_t be(const uint8_t *p, int n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  switch (n) {
    case 1: return p[0];
    case 2: memcpy(&u16, p, 2); return __builtin_bswap16(u16);
    case 4: memcpy(&u32, p, 4); return __builtin_bswap32(u32);
    default: memcpy(&u64, p, 8); return __builtin_bswap64(u64);
  }
#else
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
#endif
}

/* A scalar (mpframe kind SCALAR) from its complete header h. */
static void scalar(const uint8_t *h, msgpack_object *o) {
  uint8_t b = h[0];
  if (b < 0x80) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = b;
  } else if (b >= 0xe0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER, o->via.i64 = (int8_t)b;
  } else if (b == 0xc0) {
    o->type = MSGPACK_OBJECT_NIL;
  } else if (b == 0xc2 || b == 0xc3) {
    o->type = MSGPACK_OBJECT_BOOLEAN, o->via.boolean = b == 0xc3;
  } else if (b == 0xca) {
    uint32_t u = (uint32_t)be(h + 1, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    o->type = MSGPACK_OBJECT_FLOAT32, o->via.f64 = f;
  } else if (b == 0xcb) {
    uint64_t u = be(h + 1, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    o->type = MSGPACK_OBJECT_FLOAT64, o->via.f64 = d;
  } else if (b >= 0xcc && b <= 0xcf) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = be(h + 1, 1 << (b - 0xcc));
  } else { /* 0xd0..0xd3 (the only scalar headers left): signed, two's complement */
    int w = 1 << ((b - 0xd0) & 3);
    uint64_t u = be(h + 1, w);
    int64_t v = w == 8 ? (int64_t)u : (int64_t)(u ^ (UINT64_C(1) << (8 * w - 1))) -
                                         (int64_t)(UINT64_C(1) << (8 * w - 1));
    if (v >= 0) o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = (uint64_t)v;
    else o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER, o->via.i64 = v;
  }
}

/* A map's items are filled as 2n objects in a row (key, value, key, ...). */
_Static_assert(sizeof(msgpack_object_kv) == 2 * sizeof(msgpack_object) &&
                   offsetof(msgpack_object_kv, val) == sizeof(msgpack_object),
               "a map's key/value pairs are two objects in a row");

/* The decoder: iterative, a stack of the open containers, each with its next object and how
 * many are left to fill. The common leads (fixint, fixstr, fixarray/fixmap) are tested first;
 * the rest go through mpframe's table. With strict, it also enforces the guard's container
 * limits itself (guard.c's on_header): a container opened with `depth` containers of the
 * object open needs depth < room (empty ones too), and at most max_count elements (pairs for
 * a map); breaking one returns -1. Without strict, only nesting past room non-empty
 * containers is refused (mpdecode_object's contract). Inline: both entry points specialise
 * it. */
static inline long decode(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *o,
                          int room, uint64_t max_count, int strict) {
  struct { msgpack_object *next; uint64_t left; } open[MPFRAME_MAX_DEPTH];
  int depth = 0;
  size_t i = 0;
  if (room > MPFRAME_MAX_DEPTH) room = MPFRAME_MAX_DEPTH;
  for (;;) {
    if (i >= n) return 0;
    uint8_t b = p[i++];
    if (b < 0x80) {
      o->type = MSGPACK_OBJECT_POSITIVE_INTEGER, o->via.u64 = b;
    } else if ((b & 0xe0) == 0xa0) { /* fixstr */
      size_t len = b & 0x1fu;
      if (len > n - i) return 0;
      o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = (const char *)p + i;
      o->via.str.size = (uint32_t)len;
      i += len;
    } else if (b < 0xa0 || (b >= 0xdc && b <= 0xdf)) { /* fixmap, fixarray, 16/32 forms */
      uint64_t count;
      int map;
      if (b < 0xa0) {
        count = b & 0x0fu;
        map = b < 0x90;
      } else {
        int w = b & 1 ? 4 : 2;
        if ((size_t)w > n - i) return 0;
        count = be(p + i, w);
        i += (size_t)w;
        map = b >= 0xde;
      }
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
      if (children > 0) {
        if (depth >= room) return -1;
        open[depth].next = items;
        open[depth].left = children;
        depth++;
        o = items;
        continue;
      }
    } else if (b >= 0xe0) { /* negative fixint */
      o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER, o->via.i64 = (int8_t)b;
    } else { /* 0xc0..0xdb */
      const mpframe_lead_t *l = &mpframe_lead_c0[b - 0xc0];
      if (l->extra < 0) return -1;
      if ((size_t)l->extra > n - i) return 0;
      if (l->kind == MPFRAME_SCALAR) {
        scalar(p + i - 1, o);
        i += (size_t)l->extra;
      } else { /* str, bin, ext */
        uint64_t len = l->len_bytes ? be(p + i, l->len_bytes) : l->fixed_body;
        i += (size_t)l->extra;
        if (len > n - i) return 0;
        const char *body = (const char *)p + i;
        if (b >= 0xd9) {
          o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = body, o->via.str.size = (uint32_t)len;
        } else if (b <= 0xc6) {
          o->type = MSGPACK_OBJECT_BIN, o->via.bin.ptr = body, o->via.bin.size = (uint32_t)len;
        } else { /* ext: the type byte is the last of the header */
          o->type = MSGPACK_OBJECT_EXT;
          o->via.ext.type = (int8_t)p[i - 1];
          o->via.ext.ptr = body;
          o->via.ext.size = (uint32_t)len;
        }
        i += (size_t)len;
      }
    }
    /* an element is complete: the next one of the innermost open container */
    while (depth > 0 && --open[depth - 1].left == 0) depth--;
    if (depth == 0) return (long)i;
    o = ++open[depth - 1].next;
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
