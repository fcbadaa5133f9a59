/* mpdecode.c -- see mpdecode.h. The header table is protocol/mpframe's; the object shapes
 * are msgpack-c 4's (a signed integer >= 0 is a POSITIVE_INTEGER, a float 32 is FLOAT32 with
 * its value widened, an ext's type is its first byte). */
#include "mpdecode.h"

#include <stddef.h>
#include <string.h>

#include "mpframe.h"

static uint64_t be(const uint8_t *p, int n) { /* n = 1, 2, 4 or 8 */
  switch (n) {
    case 1: return p[0];
    case 2: return (uint64_t)p[0] << 8 | p[1];
    case 4: return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    default:
      return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
             (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
             (uint64_t)p[6] << 8 | p[7];
  }
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

/* Iterative: a stack of the open containers, each with its next object and how many are
 * left to fill. */
long mpdecode_object(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out) {
  struct { msgpack_object *next; uint64_t left; } open[MPFRAME_MAX_DEPTH];
  int depth = 0;
  size_t i = 0;
  msgpack_object *o = out;
  for (;;) {
    if (i >= n) return 0;
    uint8_t b = p[i];
    int extra = mpframe_header_extra(b);
    if (extra < 0) return -1;
    if ((size_t)extra >= n - i) return 0;
    mpframe_item_t it;
    mpframe_header(p + i, &it);
    const uint8_t *h = p + i;
    i += 1 + (size_t)extra;
    if (it.kind == MPFRAME_SCALAR) {
      scalar(h, o);
    } else if (it.kind == MPFRAME_BODY) {
      if (it.body > n - i) return 0;
      const char *body = (const char *)p + i;
      if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
        o->type = MSGPACK_OBJECT_STR, o->via.str.ptr = body, o->via.str.size = (uint32_t)it.body;
      } else if (b >= 0xc4 && b <= 0xc6) {
        o->type = MSGPACK_OBJECT_BIN, o->via.bin.ptr = body, o->via.bin.size = (uint32_t)it.body;
      } else { /* ext: the type byte is the last of the header */
        o->type = MSGPACK_OBJECT_EXT;
        o->via.ext.type = (int8_t)p[i - 1];
        o->via.ext.ptr = body;
        o->via.ext.size = (uint32_t)it.body;
      }
      i += (size_t)it.body;
    } else {
      int map = it.kind == MPFRAME_MAP;
      uint64_t count = map ? it.children / 2 : it.children;
      if (it.children > n - i) return 0; /* each element takes a byte at least */
      msgpack_object *items = msgpack_zone_malloc(z, (size_t)it.children * sizeof *items);
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
      if (it.children > 0) {
        if (depth >= MPFRAME_MAX_DEPTH) return -1;
        open[depth].next = items;
        open[depth].left = it.children;
        depth++;
        o = items;
        continue;
      }
    }
    /* an element is complete: the next one of the innermost open container */
    while (depth > 0 && --open[depth - 1].left == 0) depth--;
    if (depth == 0) return (long)i;
    o = ++open[depth - 1].next;
  }
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
