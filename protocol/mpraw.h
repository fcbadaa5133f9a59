/* mpraw.h -- bounds-checked readers of msgpack values straight from bytes, for the raw
 * decoders of methods.def's raw column (method_decode_raw_fn): each reads one value of the
 * kind it names at r->p[r->i] and moves past it, or answers false and moves nothing (the
 * value is of another kind or does not end within r->n). A raw decoder answers 0 at the
 * first false, and the object path decodes the request instead.
 * Invariants: the readers take every encoding msgpack-c reads as that kind (a string in
 * fixstr/str8/16/32, an unsigned in a positive fixint, uint 8..64 or a non-negative int
 * 8..64, which msgpack-c makes a POSITIVE_INTEGER), so a value reads the same here and as a
 * msgpack_object; nothing past r->n is read. */
#ifndef PATRON_MPRAW_H
#define PATRON_MPRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The guard's limits as a raw decoder sees them from the params map: a container opened
 * with d containers of the map open (the map itself opens at d = 0) needs d < room; every
 * container holds at most max_elems elements (pairs for a map). (mpdecode_request_raw sets
 * room = limits.max_depth - 2: the message array and the params array are around the map.) */
typedef struct mpraw_limits_s {
  uint32_t room;
  uint32_t max_elems;
} mpraw_limits_t;

/* A raw decoder (methods.h: method_decode_raw_fn is this type). */
struct arena_s;
typedef size_t (*mpraw_decode_fn)(const uint8_t *p, size_t n, const mpraw_limits_t *lim,
                                  struct arena_s *a, void *out);

typedef struct mpraw_s {
  const uint8_t *p;
  size_t n; /* the bytes that may be read */
  size_t i; /* the next one */
} mpraw_t;

/* Inlined into each raw decoder: a call per value would cost as much as the reading. */
#if defined(__GNUC__)
#define MPRAW_INLINE static inline __attribute__((always_inline))
#else
#define MPRAW_INLINE static inline
#endif

/* A big-endian unsigned of w = 1, 2, 4 or 8 bytes at p: one load and a byte swap on a
 * little-endian host (GCC and Clang builtins), shifts elsewhere. */
MPRAW_INLINE uint64_t mpraw_be(const uint8_t *p, unsigned w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  switch (w) {
    case 1: return p[0];
    case 2: memcpy(&u16, p, 2); return __builtin_bswap16(u16);
    case 4: memcpy(&u32, p, 4); return __builtin_bswap32(u32);
    default: memcpy(&u64, p, 8); return __builtin_bswap64(u64);
  }
#else
  uint64_t v = 0;
  for (unsigned k = 0; k < w; k++) v = v << 8 | p[k];
  return v;
#endif
}

/* A header whose length is a big-endian unsigned of w bytes after the lead: *len. */
MPRAW_INLINE bool mpraw_len(mpraw_t *r, unsigned w, uint64_t *len) {
  if (r->n - r->i < 1 + (size_t)w) return false;
  *len = mpraw_be(r->p + r->i + 1, w);
  r->i += 1 + w;
  return true;
}

MPRAW_INLINE bool mpraw_str(mpraw_t *r, const char **s, uint32_t *size) {
  if (r->i >= r->n) return false;
  uint8_t b = r->p[r->i];
  size_t at = r->i;
  uint64_t len;
  if (b >= 0xa0 && b <= 0xbf) len = b & 0x1fu, r->i++;
  else if (b < 0xd9 || b > 0xdb || !mpraw_len(r, 1u << (b - 0xd9), &len)) return false;
  if (len > r->n - r->i) {
    r->i = at;
    return false;
  }
  *s = (const char *)r->p + r->i;
  *size = (uint32_t)len;
  r->i += (size_t)len;
  return true;
}

/* A container header of the kind fix_lo (0x80 map, 0x90 array): *count. */
MPRAW_INLINE bool mpraw_container(mpraw_t *r, uint8_t fix_lo, uint8_t lead16, uint32_t *count) {
  if (r->i >= r->n) return false;
  uint8_t b = r->p[r->i];
  uint64_t c;
  if ((b & 0xf0u) == fix_lo) c = b & 0x0fu, r->i++;
  else if ((b != lead16 && b != lead16 + 1) || !mpraw_len(r, b == lead16 ? 2 : 4, &c)) return false;
  *count = (uint32_t)c;
  return true;
}
MPRAW_INLINE bool mpraw_map(mpraw_t *r, uint32_t *count) {
  return mpraw_container(r, 0x80, 0xde, count);
}
MPRAW_INLINE bool mpraw_array(mpraw_t *r, uint32_t *count) {
  return mpraw_container(r, 0x90, 0xdc, count);
}

/* An integer, as msgpack-c reads it: *neg = false with *u (a POSITIVE_INTEGER), or *neg =
 * true with *v < 0 (a NEGATIVE_INTEGER). */
MPRAW_INLINE bool mpraw_int(mpraw_t *r, bool *neg, uint64_t *u, int64_t *v) {
  if (r->i >= r->n) return false;
  uint8_t b = r->p[r->i];
  if (b < 0x80) {
    *neg = false, *u = b, r->i++;
    return true;
  }
  if (b >= 0xe0) {
    *neg = true, *v = (int8_t)b, r->i++;
    return true;
  }
  if (b < 0xcc || b > 0xd3) return false;
  unsigned w = 1u << ((b - 0xcc) & 3);
  if (r->n - r->i < 1 + (size_t)w) return false;
  uint64_t x = mpraw_be(r->p + r->i + 1, w);
  r->i += 1 + w;
  if (b <= 0xcf) {
    *neg = false, *u = x;
    return true;
  }
  uint64_t sign = UINT64_C(1) << (8 * w - 1);
  int64_t s = w == 8 ? (int64_t)x : (int64_t)(x ^ sign) - (int64_t)sign;
  if (s >= 0) *neg = false, *u = (uint64_t)s;
  else *neg = true, *v = s;
  return true;
}

/* An unsigned (a POSITIVE_INTEGER): *u. */
MPRAW_INLINE bool mpraw_uint(mpraw_t *r, uint64_t *u) {
  size_t at = r->i;
  bool neg;
  int64_t v;
  if (!mpraw_int(r, &neg, u, &v)) return false;
  if (neg) r->i = at;
  return !neg;
}

MPRAW_INLINE bool mpraw_nil(mpraw_t *r) {
  if (r->i >= r->n || r->p[r->i] != 0xc0) return false;
  r->i++;
  return true;
}

/* Whether s[0..n) is lit[0..l) (l known when compiled): word compares, the last word
 * overlapping, no byte past s[n) read and no call. */
MPRAW_INLINE bool mpraw_eq(const char *s, size_t n, const char *lit, size_t l) {
  if (n != l) return false;
  if (l >= 8) {
    uint64_t a, b, c, d;
    for (size_t i = 0; i + 8 < l; i += 8) {
      memcpy(&a, s + i, 8);
      memcpy(&b, lit + i, 8);
      if (a != b) return false;
    }
    memcpy(&c, s + l - 8, 8);
    /* cppcheck-suppress pointerOutOfBoundsCond ; lit holds l bytes (MPRAW_IS: its sizeof - 1) */
    memcpy(&d, lit + l - 8, 8);
    return c == d;
  }
  if (l >= 4) {
    uint32_t a, b, c, d;
    memcpy(&a, s, 4), memcpy(&b, lit, 4);
    /* cppcheck-suppress pointerOutOfBoundsCond ; lit holds l bytes (MPRAW_IS: its sizeof - 1) */
    memcpy(&c, s + l - 4, 4), memcpy(&d, lit + l - 4, 4);
    return a == b && c == d;
  }
  for (size_t i = 0; i < l; i++)
    if (s[i] != lit[i]) return false;
  return true;
}
/* Whether the string s of size n is the literal lit. */
#define MPRAW_IS(s, n, lit) mpraw_eq((s), (n), lit, sizeof(lit) - 1)

#endif
