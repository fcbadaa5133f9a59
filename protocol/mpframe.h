/* mpframe.h -- msgpack framing shared by patrond (protocol/guard.c) and libpatronclient
 * (adapters/c/mpscan.c): the one table of msgpack's first bytes, the header decoder, and the
 * one nesting limit. Plain C, no msgpack-c and no core dependency, so the client library can
 * compile it in without the core.
 *
 * Owns: what a header is. Every element is a header (the first byte plus every fixed-size
 * byte after it: length fields, an ext's type byte, a number's payload) followed by a body
 * (the variable bytes of a str/bin/ext) or by child elements (arrays: n, maps: 2n).
 *
 * The depth limit: MPFRAME_MAX_DEPTH is the deepest array/map nesting either side accepts
 * (a request's limits.max_depth is at most this; a reply deeper than this is refused by the
 * client). It stays below msgpack-c 4.x's fixed unpacker stack (MSGPACK_EMBED_STACK_SIZE,
 * 32 levels), beyond which msgpack-c fails with a misleading NOMEM. */
#ifndef PATRON_MPFRAME_H
#define PATRON_MPFRAME_H

#include <stddef.h>
#include <stdint.h>

#define MPFRAME_MAX_DEPTH 24

typedef enum {
  MPFRAME_SCALAR = 0, /* nil, bool, int, float: all in the header */
  MPFRAME_BODY = 1,   /* str, bin, ext: body bytes follow the header */
  MPFRAME_ARRAY = 2,
  MPFRAME_MAP = 3,
} mpframe_kind_t;

typedef struct mpframe_item_s {
  mpframe_kind_t kind;
  uint64_t body;     /* bytes after the header (MPFRAME_BODY) */
  uint64_t children; /* elements that follow: n for an array, 2n for a map */
} mpframe_item_t;

/* The lead bytes 0xc0..0xdf (everything else is a fix type): header bytes after the lead
 * (-1: invalid), the kind, the width of the length field (0: none), and the body of a
 * fixext (a fixed size, no length field). Defined once, in mpframe.c. */
typedef struct mpframe_lead_s {
  int8_t extra;
  uint8_t kind;
  uint8_t len_bytes;
  uint8_t fixed_body;
} mpframe_lead_t;
extern const mpframe_lead_t mpframe_lead_c0[32];

/* Bytes of the header after its first byte b, or -1 for an invalid byte (0xc1). Inline: the
 * guard calls it for every element of every request. */
static inline int mpframe_header_extra(uint8_t b) {
  return b < 0xc0 || b >= 0xe0 ? 0 : mpframe_lead_c0[b - 0xc0].extra;
}

/* Decode a complete header h (1 + mpframe_header_extra(h[0]) bytes, h[0] valid). */
static inline void mpframe_header(const uint8_t *h, mpframe_item_t *it) {
  uint8_t b = h[0];
  if (b < 0x80 || b >= 0xe0) {         /* positive / negative fixint */
    *it = (mpframe_item_t){MPFRAME_SCALAR, 0, 0};
  } else if (b < 0x90) {               /* fixmap */
    *it = (mpframe_item_t){MPFRAME_MAP, 0, 2u * (b & 0x0fu)};
  } else if (b < 0xa0) {               /* fixarray */
    *it = (mpframe_item_t){MPFRAME_ARRAY, 0, b & 0x0fu};
  } else if (b < 0xc0) {               /* fixstr */
    *it = (mpframe_item_t){MPFRAME_BODY, b & 0x1fu, 0};
  } else {
    const mpframe_lead_t *l = &mpframe_lead_c0[b - 0xc0];
    uint64_t n = 0; /* the length field, when there is one */
    for (int i = 1; i <= l->len_bytes; i++) n = (n << 8) | h[i];
    mpframe_kind_t k = (mpframe_kind_t)l->kind;
    *it = (mpframe_item_t){k, k == MPFRAME_BODY ? (l->len_bytes ? n : l->fixed_body) : 0,
                           k == MPFRAME_ARRAY ? n : k == MPFRAME_MAP ? 2 * n : 0};
  }
}

/* The number of complete top-level elements in p[0..n), which must be well-formed msgpack
 * (e.g. what msgpack-c's packer wrote). Used to count the fields an encoder wrote. */
size_t mpframe_count(const uint8_t *p, size_t n);

#endif
