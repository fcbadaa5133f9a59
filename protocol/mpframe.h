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

/* Bytes of the header after its first byte b, or -1 for an invalid byte (0xc1). */
int mpframe_header_extra(uint8_t b);
/* Decode a complete header h (1 + mpframe_header_extra(h[0]) bytes, h[0] valid). */
void mpframe_header(const uint8_t *h, mpframe_item_t *it);

/* The number of complete top-level elements in p[0..n), which must be well-formed msgpack
 * (e.g. what msgpack-c's packer wrote). Used to count the fields an encoder wrote. */
size_t mpframe_count(const uint8_t *p, size_t n);

#endif
